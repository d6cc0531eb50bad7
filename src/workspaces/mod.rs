//! Workspaces: each user's own sandboxed container made from a template, with their files in a
//! named volume at /workspace that outlives stops, culling and restarts (deleting the workspace
//! deletes both). [`Workspaces`] decides who may see a workspace (its owner; an admin; a
//! teacher, read-only, of the students in their courses), keeps the quotas, brings a stopped
//! workspace back when it is used, and stops the idle ones. [`files`] is the files API.

pub mod files;
pub mod jobs;
pub mod run;

use std::sync::Arc;
use std::time::Duration;

use bollard::models::ContainerInspectResponse;
use dashmap::DashMap;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::{ContainerLimits, WorkspaceSettings};
use crate::containers::{Containers, Reserving};
use crate::db::{self, Db};
use crate::docker::images::ImageRef;
use crate::docker::policy::{self, WorkspaceSpec};
use crate::error::{ApiError, ErrorCode};
use crate::hosts::{Host, Hosts};
use crate::names::DisplayName;
use crate::registries::Registries;
use crate::templates::{self, Template};
use crate::users::User;

/// A workspace as the API shows it.
#[derive(Debug, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct WorkspaceView {
    pub id: String,
    pub name: String,
    pub owner: String,
    /// The template's id.
    pub template: String,
    /// The container's state (`running`, `exited`, ...), or `unavailable` when its host does not
    /// answer.
    pub state: String,
    pub host: String,
    pub created_at: String,
    pub last_active_at: String,
}

/// What a caller wants to do with a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// See it and read its files: its owner, an admin, or a teacher of its owner.
    Read,
    /// Anything else: its owner or an admin.
    Write,
}

/// A workspace the caller may use, with the host it lives on.
pub struct Opened {
    pub row: db::workspaces::WorkspaceRow,
    pub host: Host,
}

impl Opened {
    pub fn container(&self) -> &str {
        &self.row.container_id
    }
}

/// The workspaces service.
pub struct Workspaces {
    db: Db,
    hosts: Arc<Hosts>,
    settings: WorkspaceSettings,
    limits: ContainerLimits,
    /// Live streams per workspace: a workspace with one is never idle.
    streams: DashMap<String, usize>,
}

/// Counts a stream on a workspace while it lives; when it ends, the workspace's last activity
/// is now.
pub struct StreamHold {
    workspaces: Arc<Workspaces>,
    id: String,
}

impl Drop for StreamHold {
    fn drop(&mut self) {
        self.workspaces.streams.remove_if_mut(&self.id, |_, count| {
            *count -= 1;
            *count == 0
        });
        let workspaces = self.workspaces.clone();
        let id = std::mem::take(&mut self.id);
        tokio::spawn(async move { workspaces.touch(&id).await });
    }
}

impl Workspaces {
    pub fn new(
        db: Db,
        hosts: Arc<Hosts>,
        settings: WorkspaceSettings,
        limits: ContainerLimits,
    ) -> Workspaces {
        Workspaces {
            db,
            hosts,
            settings,
            limits,
            streams: DashMap::new(),
        }
    }

    pub fn settings(&self) -> &WorkspaceSettings {
        &self.settings
    }

    /// Makes a workspace from a template: its volume, its container (its image pulled first
    /// when missing), the starter files. Refused with `quota_exceeded` beyond the user's quotas.
    pub async fn create(
        &self,
        user: &User,
        template: &str,
        name: Option<String>,
        host: Option<&str>,
        registries: &Registries,
        containers: &Containers,
    ) -> Result<WorkspaceView, ApiError> {
        let template = templates::find(&self.db, template).await?;
        let name = name.unwrap_or_else(|| template.spec.name.clone());
        DisplayName::parse(&name)?;
        let resources = template.spec.resources(&self.limits)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        containers
            .reserve(user, &id, Reserving::Workspace, resources.memory_mb)
            .await?;
        let made = self
            .make(user, &id, name, &template, host, registries)
            .await;
        if made.is_err() {
            containers.release(&id).await;
        }
        made
    }

    /// Makes workspace `id` (its quota already reserved): the container and volume, the
    /// starter files, and the record.
    async fn make(
        &self,
        user: &User,
        id: &str,
        name: String,
        template: &Template,
        host: Option<&str>,
        registries: &Registries,
    ) -> Result<WorkspaceView, ApiError> {
        let host = self.hosts.choose(host).await?;
        let id = id.to_string();
        let volume = format!("berth-ws-{id}");
        let body = self.body_of(&user.id, &id, &volume, template, &host.name)?;
        let image = ImageRef::parse(&template.spec.image)?;
        // The image is the template's: it is pulled and judged as its creator's (a teacher may
        // offer an image of their private registry this way), as the user's once they are gone.
        let creator = match &template.created_by {
            Some(id) => crate::users::find_by_id(&self.db, id).await?,
            None => None,
        };
        let vouching = creator.as_ref().unwrap_or(user);
        registries
            .check_may_use(vouching, &host.engine, &image)
            .await?;
        crate::containers::pull_if_missing(vouching, &host, registries, &image).await?;
        let engine = &host.engine;
        engine.create_volume(&volume, &user.id).await?;
        let made = async {
            let container = engine
                .create_container(body, Some(format!("berth-ws-{id}")))
                .await?;
            files::seed(engine, &container, &template.spec.files).await?;
            // Started now: its first run is quick, and an engine that cannot give it what the
            // template asks (GPUs) says so here rather than at the first run.
            engine.start_container(&container).await?;
            Ok::<_, ApiError>(container)
        }
        .await;
        let container = match made {
            Ok(container) => container,
            Err(err) => {
                // Take back exactly what this call made: its container and its new volume.
                let _ = engine.remove_container(&format!("berth-ws-{id}")).await;
                let _ = engine.remove_volume(&volume).await;
                return Err(err);
            }
        };
        let now = crate::clock::now_s();
        let row = db::workspaces::WorkspaceRow {
            id: id.clone(),
            name: name.clone(),
            owner_id: user.id.clone(),
            template_id: template.id.clone(),
            host: host.name.clone(),
            container_id: container.clone(),
            volume: volume.clone(),
            created_at: now,
            last_active_at: now,
        };
        if let Err(e) = db::workspaces::insert(&self.db, &row).await {
            let _ = engine.remove_container(&container).await;
            let _ = engine.remove_volume(&volume).await;
            return Err(db::conflict_on_unique(format!(
                "you have a workspace named {name}"
            ))(e));
        }
        tracing::info!(workspace = %id, template = %template.spec.name, host = %host.name, "workspace created");
        Ok(self.view_of(&row).await)
    }

    /// The engine request for workspace `id`'s container, on `volume`, from `template`.
    fn body_of(
        &self,
        owner_id: &str,
        id: &str,
        volume: &str,
        template: &Template,
        host_name: &str,
    ) -> Result<bollard::models::ContainerCreateBody, ApiError> {
        let spec = WorkspaceSpec {
            workspace_id: id,
            image: &template.spec.image,
            resources: template.spec.resources(&self.limits)?,
            gpus: template.spec.gpus,
            network_none: template.spec.network == templates::Network::None,
            volume,
        };
        Ok(policy::workspace_body(owner_id, &spec, host_name))
    }

    /// Makes again the container of a workspace whose container went (removed behind berth's
    /// back, or by an engine's cleanup), from its template, on its volume: the files are kept,
    /// and the starter files are not written again.
    async fn remake_container(&self, opened: &mut Opened) -> Result<(), ApiError> {
        let row = &opened.row;
        let template = templates::find(&self.db, &row.template_id).await?;
        let body = self.body_of(
            &row.owner_id,
            &row.id,
            &row.volume,
            &template,
            &opened.host.name,
        )?;
        let name = format!("berth-ws-{}", row.id);
        let engine = &opened.host.engine;
        let container = match engine.create_container(body, Some(name.clone())).await {
            Ok(container) => container,
            // Made again meanwhile, by another request.
            Err(err) if err.code == ErrorCode::Conflict => engine
                .inspect_container(&name)
                .await?
                .and_then(|info| info.id)
                .ok_or(err)?,
            Err(err) => return Err(err),
        };
        db::workspaces::set_container(&self.db, &row.id, &container).await?;
        tracing::warn!(workspace = %row.id, container = %container, "workspace's container was gone: made again on its volume");
        opened.row.container_id = container;
        Ok(())
    }

    async fn view_of(&self, row: &db::workspaces::WorkspaceRow) -> WorkspaceView {
        let state = match self.hosts.get(Some(&row.host)) {
            Ok(host) => match host.engine.inspect_container(&row.container_id).await {
                Ok(Some(info)) => info
                    .state
                    .and_then(|s| s.status)
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
                Ok(None) => "missing".to_string(),
                Err(_) => "unavailable".to_string(),
            },
            Err(_) => "unavailable".to_string(),
        };
        WorkspaceView {
            id: row.id.clone(),
            name: row.name.clone(),
            owner: row.owner_id.clone(),
            template: row.template_id.clone(),
            state,
            host: row.host.clone(),
            created_at: crate::clock::rfc3339(row.created_at * 1000),
            last_active_at: crate::clock::rfc3339(row.last_active_at * 1000),
        }
    }

    /// The user's workspaces (an admin's: everyone's).
    pub async fn list(&self, user: &User) -> Result<Vec<WorkspaceView>, ApiError> {
        let owner = (!user.is_admin()).then_some(user.id.as_str());
        let rows = db::workspaces::list(&self.db, owner).await?;
        Ok(futures_util::future::join_all(rows.iter().map(|row| self.view_of(row))).await)
    }

    /// The workspaces of a course's students, for its teacher (who may read them).
    pub async fn of_course(
        &self,
        user: &User,
        course_id: &str,
    ) -> Result<Vec<WorkspaceView>, ApiError> {
        let course = crate::courses::taught(&self.db, user, course_id).await?;
        let mut rows = Vec::new();
        for (student_id, _, _) in db::courses::students(&self.db, &course.id).await? {
            rows.extend(db::workspaces::list(&self.db, Some(&student_id)).await?);
        }
        Ok(futures_util::future::join_all(rows.iter().map(|row| self.view_of(row))).await)
    }

    /// A workspace the user may use as `access` asks. Another's workspace is reported as
    /// missing, unless the user teaches its owner, who may read it (and is told so when they
    /// try more).
    pub async fn open(&self, user: &User, id: &str, access: Access) -> Result<Opened, ApiError> {
        let missing = || ApiError::not_found(format!("no such workspace: {id}"));
        let row = db::workspaces::find(&self.db, id)
            .await?
            .ok_or_else(missing)?;
        if row.owner_id != user.id && !user.is_admin() {
            let teaches = user.is_staff()
                && db::courses::teaches_student(&self.db, &user.id, &row.owner_id).await?;
            if !teaches {
                return Err(missing());
            }
            if access == Access::Write {
                return Err(ApiError::forbidden(
                    "a teacher may read a student's workspace, not change it",
                ));
            }
        }
        let host = self
            .hosts
            .get(Some(&row.host))
            .map_err(|err| match err.code {
                ErrorCode::NotFound => ApiError::not_found(format!(
                    "workspace {id} is on host {}, which was removed",
                    row.host
                )),
                _ => err,
            })?;
        Ok(Opened { row, host })
    }

    pub async fn view(&self, user: &User, id: &str) -> Result<WorkspaceView, ApiError> {
        let opened = self.open(user, id, Access::Read).await?;
        Ok(self.view_of(&opened.row).await)
    }

    /// The workspace's template (even a template deleted since).
    pub async fn template(&self, opened: &Opened) -> Result<Template, ApiError> {
        templates::find(&self.db, &opened.row.template_id).await
    }

    /// Deletes a workspace: its container, then its volume, then the record.
    pub async fn delete(&self, user: &User, id: &str) -> Result<(), ApiError> {
        let opened = self.open(user, id, Access::Write).await?;
        let engine = &opened.host.engine;
        engine.remove_container(opened.container()).await?;
        engine.remove_volume(&opened.row.volume).await?;
        db::workspaces::delete(&self.db, &opened.row.id).await?;
        db::reservations::release(&self.db, &opened.row.id).await?;
        tracing::info!(workspace = %opened.row.id, "workspace deleted");
        Ok(())
    }

    /// Deletes every workspace of a user, volumes included (their account is going away). A
    /// host that holds one and does not answer stops this with `unavailable`.
    pub async fn remove_all_of(&self, owner: &str) -> Result<(), ApiError> {
        for row in db::workspaces::list(&self.db, Some(owner)).await? {
            let host = self.hosts.get(Some(&row.host))?;
            host.engine.remove_container(&row.container_id).await?;
            host.engine.remove_volume(&row.volume).await?;
            db::workspaces::delete(&self.db, &row.id).await?;
            db::reservations::release(&self.db, &row.id).await?;
        }
        Ok(())
    }

    pub async fn start(&self, user: &User, id: &str) -> Result<WorkspaceView, ApiError> {
        let opened = self.running(user, id, Access::Write).await?.0;
        Ok(self.view_of(&opened.row).await)
    }

    pub async fn stop(&self, user: &User, id: &str) -> Result<WorkspaceView, ApiError> {
        let opened = self.open(user, id, Access::Write).await?;
        opened
            .host
            .engine
            .stop_container(opened.container(), 2)
            .await?;
        Ok(self.view_of(&opened.row).await)
    }

    /// Opens a workspace and makes sure it runs (a stopped or culled one is started): what
    /// `exec`, `run` and the files calls that need a process use. Counts as activity.
    pub async fn running(
        &self,
        user: &User,
        id: &str,
        access: Access,
    ) -> Result<(Opened, ContainerInspectResponse), ApiError> {
        let mut opened = self.open(user, id, access).await?;
        // Used from now on, before it is started: a cull that has not yet checked it leaves it
        // alone (see `cull_once`).
        self.touch(&opened.row.id).await;
        if opened
            .host
            .engine
            .inspect_container(opened.container())
            .await?
            .is_none()
        {
            self.remake_container(&mut opened).await?;
        }
        let engine = &opened.host.engine;
        let inspect = || async {
            engine
                .inspect_container(opened.container())
                .await?
                .ok_or_else(|| ApiError::not_found(format!("workspace {id} lost its container")))
        };
        let mut info = inspect().await?;
        if !info.state.as_ref().and_then(|s| s.running).unwrap_or(false) {
            engine.start_container(opened.container()).await?;
            info = inspect().await?;
            tracing::info!(workspace = %opened.row.id, "workspace started");
        }
        Ok((opened, info))
    }

    /// Marks a workspace as used now.
    pub async fn touch(&self, id: &str) {
        if let Err(e) = db::workspaces::touch(&self.db, id, crate::clock::now_s()).await {
            tracing::warn!(workspace = %id, error = %e, "could not record activity");
        }
    }

    /// Holds the workspace as active while a stream runs on it.
    pub fn hold(self: &Arc<Self>, id: &str) -> StreamHold {
        *self.streams.entry(id.to_string()).or_insert(0) += 1;
        StreamHold {
            workspaces: self.clone(),
            id: id.to_string(),
        }
    }

    /// Stops every running workspace that has had no stream and no files call for its idle
    /// timeout (the template's, else the settings'); its files stay. One task for all of them,
    /// on the leader in `term`, every `cull_interval_s`, until `stop`.
    pub async fn cull_idle(self: Arc<Self>, term: i64, stop: CancellationToken) {
        let every = Duration::from_secs(self.settings.cull_interval_s.max(1));
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            if let Err(err) = self.cull_once(term).await {
                tracing::warn!(error = %err.message, "culling idle workspaces failed");
            }
        }
    }

    async fn cull_once(&self, term: i64) -> Result<(), ApiError> {
        let now = crate::clock::now_s();
        for row in db::workspaces::list(&self.db, None).await? {
            if self.streams.contains_key(&row.id) {
                continue;
            }
            let template = templates::find(&self.db, &row.template_id).await?;
            let timeout = template
                .spec
                .idle_timeout_s
                .unwrap_or(self.settings.idle_timeout_s) as i64;
            let idle_before = now - timeout;
            if row.last_active_at >= idle_before {
                continue;
            }
            let Ok(host) = self.hosts.get(Some(&row.host)) else {
                continue;
            };
            let running = matches!(
                host.engine.inspect_container(&row.container_id).await,
                Ok(Some(info)) if info.state.as_ref().and_then(|s| s.running).unwrap_or(false)
            );
            // Still idle, with no exec on any replica, and this replica still leading: checked
            // last, right before the stop, since a file read or a run marks the workspace used
            // before it starts it (a stop racing that start finds it not running yet).
            if running && db::workspaces::claim_idle(&self.db, &row.id, idle_before, term).await? {
                host.engine.stop_container(&row.container_id, 2).await?;
                crate::metrics::metrics().culls.inc();
                tracing::info!(workspace = %row.id, idle_s = now - row.last_active_at, "idle workspace stopped");
            }
        }
        Ok(())
    }
}
