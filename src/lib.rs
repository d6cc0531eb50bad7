//! berth: live, safe browser sessions on Docker containers.

pub mod accounts;
pub mod attendance;
pub mod auth;
pub mod builds;
pub mod config;
pub mod containers;
pub mod db;
pub mod docker;
pub mod error;
pub mod hosts;
pub mod images;
pub mod registries;
pub mod secrets;
pub mod session;
pub mod startup;
pub mod telemetry;
pub mod upload;
