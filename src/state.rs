//! The one bundle every handler and session shares, registered once as `app_data`.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::assignments::checks::Checks;
use crate::assignments::submissions::Snapshots;
use crate::assignments::Reach;
use crate::attendance::Attendance;
use crate::audit::Audit;
use crate::auth::AuthState;
use crate::builds::BuildContexts;
use crate::config::Settings;
use crate::containers::Containers;
use crate::db::Db;
use crate::events::Events;
use crate::hosts::Hosts;
use crate::live_sessions::Sessions;
use crate::registries::Registries;
use crate::secrets::SecretBox;
use crate::sso::Sso;
use crate::workspaces::Workspaces;

pub struct AppState {
    pub db: Db,
    pub auth: AuthState,
    /// Who may make an account; the LDAP directory and OpenID Connect provider, if any.
    pub sso: Sso,
    /// Who did what; shared with the task that keeps it within its retention.
    pub audit: Arc<Audit>,
    /// Docker hosts; shared with their background health watch.
    pub hosts: Arc<Hosts>,
    pub containers: Containers,
    /// Shared with the idle culling task and the streams that hold a workspace active.
    pub workspaces: Arc<Workspaces>,
    pub registries: Registries,
    pub sessions: Arc<Sessions>,
    /// What the replicas on this database tell each other (see [`crate::events`]).
    pub events: Arc<Events>,
    /// This replica among those on the database, and the execs it runs.
    pub replicas: Arc<crate::replicas::Replicas>,
    /// Check-in state shared by REST and the sessions watching attendance.
    pub attendance: Attendance,
    pub contexts: BuildContexts,
    /// Seals stored passwords and TLS keys.
    pub secrets: Arc<SecretBox>,
    /// Runs the checks of submissions.
    pub checks: Arc<Checks>,
    pub settings: Settings,
    /// Stops the background work (health pings, culling, checks, collecting due work) when
    /// the application goes.
    pub background: CancellationToken,
}

impl AppState {
    /// What an assignment's work reaches.
    pub fn reach(&self) -> Reach<'_> {
        Reach {
            workspaces: &self.workspaces,
            registries: &self.registries,
            containers: &self.containers,
            checks: &self.checks,
        }
    }

    /// Where submissions' snapshots are kept.
    pub fn snapshots(&self) -> Snapshots<'_> {
        Snapshots {
            data_dir: &self.settings.data_dir,
            max_bytes: self.settings.workspaces.max_submission_mb << 20,
        }
    }
}
