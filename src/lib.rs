//! berth: live, safe browser sessions on Docker containers.
//!
//! Layers, top to bottom (arrows point down; `tests/layers.rs` checks that no files or
//! top-level modules form a circle, that services never name the routes layer or the state, and
//! that `db` and `docker` use nothing above them):
//! - `startup` wires everything around one `state::AppState`; `cli` is the command-line
//!   client, which talks to a server over HTTP and the WebSocket only;
//! - the routes layer: `routes` (every REST handler, the health checks and the embedded UI) and
//!   `session` (the WebSocket: upgrade, dispatch, streams);
//! - `state`, the bundle of services the routes layer shares;
//! - services: `accounts`, `users`, `auth`, `sso`, `audit`, `usage`, `live_sessions`, `hosts`, `containers`,
//!   `images`, `registries`, `builds`, `courses`, `assignments`, `attendance`, `templates`,
//!   `workspaces`, `secrets`;
//! - `db` (all SQL) and `docker` (all engine calls, with no notion of users or roles);
//! - leaves: `config`, `error`, `clock`, `upload`, `fuzzy`, `names`, `workspace_path`, `telemetry`, `metrics`.

pub mod accounts;
pub mod assignments;
pub mod attendance;
pub mod audit;
pub mod auth;
pub mod builds;
pub mod cli;
pub mod clock;
pub mod config;
pub mod containers;
pub mod courses;
pub mod db;
pub mod docker;
pub mod error;
pub mod events;
pub mod fuzzy;
pub mod hosts;
pub mod images;
pub mod live_sessions;
pub mod metrics;
pub mod names;
pub mod registries;
pub mod replicas;
pub mod routes;
pub mod secrets;
pub mod session;
pub mod sso;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod templates;
pub mod upload;
pub mod usage;
pub mod users;
pub mod workspace_path;
pub mod workspaces;
