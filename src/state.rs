//! The one bundle every handler and session shares, registered once as `app_data`.

use std::sync::Arc;

use crate::attendance::Attendance;
use crate::auth::AuthState;
use crate::builds::BuildContexts;
use crate::config::Settings;
use crate::containers::Containers;
use crate::db::Db;
use crate::hosts::Hosts;
use crate::live_sessions::Sessions;
use crate::registries::Registries;
use crate::secrets::SecretBox;
use crate::workspaces::Workspaces;

pub struct AppState {
    pub db: Db,
    pub auth: AuthState,
    /// Docker hosts; shared with their background health watch.
    pub hosts: Arc<Hosts>,
    pub containers: Containers,
    /// Shared with the idle culling task and the streams that hold a workspace active.
    pub workspaces: Arc<Workspaces>,
    pub registries: Registries,
    pub sessions: Arc<Sessions>,
    /// Check-in state shared by REST and the sessions watching attendance.
    pub attendance: Attendance,
    pub contexts: BuildContexts,
    /// Seals stored passwords and TLS keys.
    pub secrets: Arc<SecretBox>,
    pub settings: Settings,
}
