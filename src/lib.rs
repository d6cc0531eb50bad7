//! berth: live, safe browser sessions on Docker containers.
//!
//! Layers, top to bottom (a module only uses the ones below it):
//! - routes: `accounts`, each area's `routes`, `ui` (the embedded browser UI) and `session` (the WebSocket: upgrade, dispatch,
//!   streams), wired in `startup` around one `state::AppState`;
//! - services: `users`, `auth`, `hosts`, `containers`, `images`, `registries`, `builds`,
//!   `courses`, `attendance`, `templates`, `workspaces`;
//! - `db` (all SQL) and `docker` (all engine calls, with no notion of users or roles);
//! - leaves: `config`, `error`, `clock`, `secrets`, `upload`, `telemetry`.

pub mod accounts;
pub mod attendance;
pub mod auth;
pub mod builds;
pub mod clock;
pub mod config;
pub mod containers;
pub mod courses;
pub mod db;
pub mod docker;
pub mod error;
pub mod hosts;
pub mod images;
pub mod registries;
pub mod secrets;
pub mod session;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod templates;
pub mod ui;
pub mod upload;
pub mod users;
pub mod workspaces;
