//! Integration tests against the real server, a real Docker engine and a real SQLite file.
//! They need the engine and the test image that `scripts/setup.sh --test-images` provides.

mod accounts;
mod assignments;
mod attendance;
mod audit;
mod browser;
mod builds;
mod checks;
mod cli;
mod containers;
mod deploy;
mod exec;
mod faults;
mod helpers;
mod hosts;
mod images;
mod jobs;
mod logs_stats;
mod metrics;
mod nginx;
mod openapi;
mod postgres;
mod protocol;
mod proxy;
mod registries;
mod replicas;
mod resume;
mod security;
mod server_process;
mod share;
mod sign_in;
mod sign_in_servers;
mod usage;
mod workspaces;
