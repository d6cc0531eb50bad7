//! Users' containers on every host: creating them under the safety policy (placed on a host,
//! their image pulled first when missing, recorded with their host), finding one a user may use,
//! listing, starting, stopping and removing. The REST handlers (`routes::containers`) and the session's
//! streams both go through [`Containers`]; it alone decides whose container is whose.

mod reconcile;

use std::collections::HashSet;
use std::sync::Arc;

use bollard::models::{ContainerInspectResponse, ContainerSummary};
use futures_util::StreamExt;
use serde::Serialize;

use crate::config::{ContainerLimits, Quotas};
use crate::db::{self, Db};
use crate::docker::images::ImageRef;
use crate::docker::policy::{self, ContainerSpec, Resources};
use crate::docker::{self, LABEL_OWNER};
use crate::error::{ApiError, ErrorCode};
use crate::hosts::{Host, Hosts, ASK_TIMEOUT};
use crate::registries::Registries;
use crate::users::User;

/// A container as the API shows it.
#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct ContainerView {
    pub id: String,
    pub name: String,
    pub image: String,
    pub state: String,
    pub owner: Option<String>,
    /// The Docker host it lives on.
    pub host: String,
    pub limits: LimitsView,
}

/// The limits a container was made with (absent for containers made before berth recorded them).
#[derive(Serialize, Default, ts_rs::TS, utoipa::ToSchema)]
pub struct LimitsView {
    pub memory_mb: Option<u64>,
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
}

impl LimitsView {
    fn from_labels(labels: Option<&std::collections::HashMap<String, String>>) -> Self {
        let read = |key: &str| labels.and_then(|l| l.get(key));
        LimitsView {
            memory_mb: read(docker::LABEL_MEMORY_MB).and_then(|v| v.parse().ok()),
            cpus: read(docker::LABEL_CPUS).and_then(|v| v.parse().ok()),
            pids_limit: read(docker::LABEL_PIDS_LIMIT).and_then(|v| v.parse().ok()),
        }
    }
}

impl ContainerView {
    fn inspected(c: ContainerInspectResponse, host: &Host) -> Self {
        let config = c.config.unwrap_or_default();
        ContainerView {
            id: c.id.unwrap_or_default(),
            name: c
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            image: config.image.unwrap_or_default(),
            state: c
                .state
                .and_then(|s| s.status)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            limits: LimitsView::from_labels(config.labels.as_ref()),
            owner: config.labels.and_then(|mut l| l.remove(LABEL_OWNER)),
            host: host.name.clone(),
        }
    }

    fn listed(c: ContainerSummary, host: &Host) -> Self {
        ContainerView {
            id: c.id.unwrap_or_default(),
            name: c
                .names
                .and_then(|n| n.into_iter().next())
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            image: c.image.unwrap_or_default(),
            state: c.state.map(|s| s.to_string()).unwrap_or_default(),
            limits: LimitsView::from_labels(c.labels.as_ref()),
            owner: c.labels.and_then(|mut l| l.remove(LABEL_OWNER)),
            host: host.name.clone(),
        }
    }
}

/// Seconds a container has between SIGTERM and SIGKILL when a user stops or restarts it.
const STOP_GRACE_S: i32 = 5;

/// What `start`, `stop` and `restart` do.
#[derive(Clone, Copy)]
pub enum Action {
    Start,
    Stop,
    Restart,
}

/// What a user's containers on the hosts hold, as `reserve` counts it.
struct HeldOnHosts {
    /// The reservations their containers carry.
    live: HashSet<String>,
    /// Memory of containers that carry no reservation.
    untracked_mb: u64,
    /// False when a host did not answer: then none is given back as stale (its container
    /// may be on that host).
    every_host_answered: bool,
}

/// What a reservation is for: a workspace also counts against the number of workspaces.
#[derive(Clone, Copy)]
pub enum Reserving {
    Container,
    Workspace,
}

impl Reserving {
    fn as_str(self) -> &'static str {
        match self {
            Reserving::Container => "container",
            Reserving::Workspace => "workspace",
        }
    }
}

/// The containers service.
pub struct Containers {
    db: Db,
    hosts: Arc<Hosts>,
    limits: ContainerLimits,
    quotas: Quotas,
}

impl Containers {
    pub fn new(db: Db, hosts: Arc<Hosts>, limits: ContainerLimits, quotas: Quotas) -> Containers {
        Containers {
            db,
            hosts,
            limits,
            quotas,
        }
    }

    /// Takes `memory_mb` (and for a workspace, one workspace) of the user's quota as
    /// reservation `id`, or refuses with `quota_exceeded`. The check and the taking are one
    /// database statement, so parallel creations cannot all pass one check. Reservations whose
    /// container or workspace went away behind berth's back are given back first; memory of
    /// containers made before reservations existed still counts.
    pub async fn reserve(
        &self,
        user: &User,
        id: &str,
        kind: Reserving,
        memory_mb: u64,
    ) -> Result<(), ApiError> {
        let quota = self.quotas.for_user(user.is_staff());
        let held = self.held_on_hosts(user).await?;
        if held.every_host_answered {
            self.release_stale(user, &held.live).await?;
        }
        let reservation = db::reservations::Reservation {
            id,
            owner_id: &user.id,
            kind: kind.as_str(),
            memory_mb: memory_mb as i64,
        };
        let taken = db::reservations::take(
            &self.db,
            &reservation,
            held.untracked_mb as i64,
            quota.memory_mb as i64,
            i64::from(quota.workspaces),
            crate::clock::now_s(),
        )
        .await?;
        if taken {
            return Ok(());
        }
        let (workspaces, reserved) = db::reservations::held_by(&self.db, &user.id).await?;
        let reserved = reserved as u64 + held.untracked_mb;
        let message =
            if matches!(kind, Reserving::Workspace) && workspaces >= i64::from(quota.workspaces) {
                format!("you have {workspaces} workspaces, the most you may have")
            } else {
                format!(
                    "your containers and workspaces reserve {reserved} MiB of memory; \
                     {memory_mb} MiB more would pass your quota of {} MiB",
                    quota.memory_mb
                )
            };
        Err(ApiError::new(ErrorCode::QuotaExceeded, message))
    }

    /// What `user`'s containers on the hosts hold: the reservations they carry, and the memory
    /// of those that carry none (made before reservations were).
    async fn held_on_hosts(&self, user: &User) -> Result<HeldOnHosts, ApiError> {
        let mut held = HeldOnHosts {
            live: HashSet::new(),
            untracked_mb: 0,
            every_host_answered: true,
        };
        for host in self.hosts.all() {
            if !host.engine.is_healthy() {
                held.every_host_answered = false;
                continue;
            }
            for container in host.engine.list_managed(Some(&user.id)).await? {
                let labels = container.labels.unwrap_or_default();
                let reservation = labels
                    .get(docker::LABEL_RESERVATION)
                    .or_else(|| labels.get(docker::policy::LABEL_WORKSPACE));
                match reservation {
                    Some(id) => {
                        held.live.insert(id.clone());
                    }
                    None => {
                        held.untracked_mb += labels
                            .get(docker::LABEL_MEMORY_MB)
                            .and_then(|m| m.parse::<u64>().ok())
                            .unwrap_or(0)
                    }
                }
            }
        }
        Ok(held)
    }

    /// Gives back `user`'s reservations older than any creation still under way whose
    /// container is gone (removed behind berth's back) and that no workspace holds.
    async fn release_stale(&self, user: &User, live: &HashSet<String>) -> Result<(), ApiError> {
        let settled = crate::clock::now_s() - 600;
        for stale in db::reservations::older_than(&self.db, &user.id, settled).await? {
            let workspace = db::workspaces::find(&self.db, &stale).await?.is_some();
            if !live.contains(&stale) && !workspace {
                db::reservations::release(&self.db, &stale).await?;
            }
        }
        Ok(())
    }

    /// Kills what the sessions of an earlier run of berth left running in its containers and
    /// workspaces (it was killed, and could not): at start, no session of this run exists yet.
    pub async fn kill_orphaned_execs(&self) {
        let mut targets: Vec<(String, String)> = Vec::new();
        for host in self.hosts.all() {
            match db::containers::on_host(&self.db, &host.name, None).await {
                Ok(rows) => targets.extend(rows.into_iter().map(|r| (host.name.clone(), r.id))),
                Err(e) => tracing::warn!(error = %e, "could not list containers to sweep"),
            }
        }
        match db::workspaces::list(&self.db, None).await {
            Ok(rows) => targets.extend(rows.into_iter().map(|w| (w.host, w.container_id))),
            Err(e) => tracing::warn!(error = %e, "could not list workspaces to sweep"),
        }
        for (host, container) in targets {
            let Some(host) = self.hosts.named(&host) else {
                continue;
            };
            let running = matches!(
                host.engine.inspect_container(&container).await,
                Ok(Some(info)) if info.state.as_ref().and_then(|s| s.running) == Some(true)
            );
            if running {
                if let Err(e) = host.engine.kill_orphaned_execs(&container).await {
                    tracing::info!(%container, error = %e.message, "could not sweep a container");
                }
            }
        }
    }

    /// Gives a reservation back (its container or workspace is gone, or was never made).
    pub async fn release(&self, id: &str) {
        if let Err(e) = db::reservations::release(&self.db, id).await {
            tracing::warn!(reservation = %id, error = %e, "could not give a reservation back");
        }
    }

    /// Creates a container on the host asked for (`auto`: the one with the most unreserved
    /// memory), its image pulled there first when missing (`true` when it was), and records it
    /// with its host.
    pub async fn create(
        &self,
        user: &User,
        spec: &ContainerSpec,
        registries: &Registries,
    ) -> Result<(ContainerView, bool), ApiError> {
        let image = ImageRef::parse(&spec.image)?;
        if let Some(name) = &spec.name {
            crate::names::check_container_name(name)?;
            if self.name_taken(name).await? {
                return Err(ApiError::conflict(format!(
                    "a container named {name} exists"
                )));
            }
        }
        let host = self.hosts.choose(spec.host.as_deref()).await?;
        let engine = &host.engine;
        // Limits and quota are checked before anything is pulled.
        let resources = Resources::parse(
            spec.memory_mb,
            spec.cpus,
            spec.pids_limit,
            "pids_limit",
            &self.limits,
        )?;
        let body = policy::container_body(&user.id, spec, &resources, &host.name);
        registries.check_may_use(user, engine, &image).await?;
        let reservation = uuid::Uuid::new_v4().to_string();
        self.reserve(
            user,
            &reservation,
            Reserving::Container,
            resources.memory_mb,
        )
        .await?;
        let made = async {
            let pulled = pull_if_missing(user, &host, registries, &image).await?;
            let mut body = body;
            if let Some(labels) = body.labels.as_mut() {
                labels.insert(docker::LABEL_RESERVATION.to_string(), reservation.clone());
            }
            let id = engine.create_container(body, spec.name.clone()).await?;
            Ok::<_, ApiError>((pulled, id))
        }
        .await;
        let (pulled, id) = match made {
            Ok(made) => made,
            Err(err) => {
                self.release(&reservation).await;
                return Err(err);
            }
        };
        match self.record(user, &host, &id, &spec.image).await {
            Ok(view) => {
                tracing::info!(container = %id, image = %spec.image, host = %host.name, pulled, "container created");
                Ok((view, pulled))
            }
            Err(err) => {
                // Unrecorded, it could not be found again: take back the container just made.
                let _ = engine.remove_container(&id).await;
                self.release(&reservation).await;
                Err(err)
            }
        }
    }

    /// Records container `id`, just made on `host` for `user`, as the API shows it.
    async fn record(
        &self,
        user: &User,
        host: &Host,
        id: &str,
        image: &str,
    ) -> Result<ContainerView, ApiError> {
        let info = host
            .engine
            .inspect_container(id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("container {id} vanished")))?;
        let name = info.name.as_deref().unwrap_or_default();
        let row = db::containers::ContainerRow {
            id: id.to_string(),
            name: name.trim_start_matches('/').to_string(),
            host: host.name.clone(),
            image: image.to_string(),
            owner_id: user.id.clone(),
        };
        db::containers::insert(&self.db, &row, crate::clock::now_s())
            .await
            .map_err(db::conflict_on_unique(format!(
                "a container named {} exists",
                row.name
            )))?;
        Ok(ContainerView::inspected(info, host))
    }

    /// Whether a container name is taken on any host (names are unique across hosts). The
    /// record of a container removed behind berth's back does not keep its name.
    async fn name_taken(&self, name: &str) -> Result<bool, ApiError> {
        let Some((id, host)) = db::containers::by_name(&self.db, name).await? else {
            return Ok(false);
        };
        let Some(host) = self.hosts.named(&host) else {
            return Ok(true);
        };
        if host.engine.inspect_container(&id).await?.is_none() {
            db::containers::delete(&self.db, &id).await?;
            return Ok(false);
        }
        Ok(true)
    }

    /// A container the user may use (their own, or any of berth's for an admin) and its host.
    /// Someone else's container is reported as missing, so its id leaks nothing. Containers
    /// berth did not record (made before hosts existed) are looked for on `local`.
    pub async fn find_owned(
        &self,
        user: &User,
        id_or_name: &str,
    ) -> Result<(ContainerInspectResponse, Host), ApiError> {
        let host = match db::containers::host_of(&self.db, id_or_name).await? {
            Some(name) => self.hosts.get(Some(&name)).map_err(|err| match err.code {
                ErrorCode::NotFound => ApiError::not_found(format!(
                    "container {id_or_name} is on host {name}, which was removed"
                )),
                _ => err,
            })?,
            None => self.hosts.get(None)?,
        };
        let not_found = || ApiError::not_found(format!("no such container: {id_or_name}"));
        let info = host
            .engine
            .inspect_container(id_or_name)
            .await?
            .ok_or_else(not_found)?;
        let mine = docker::owner_of(&info) == Some(user.id.as_str());
        // A workspace's container is reached through its workspace only.
        let workspace = docker::label(&info, policy::LABEL_WORKSPACE).is_some();
        if !workspace && (mine || (docker::is_managed(&info) && user.is_admin())) {
            Ok((info, host))
        } else {
            Err(not_found())
        }
    }

    /// The user's containers (all of berth's for an admin) on every host. A host that does not
    /// answer lists what berth recorded there, with state `unavailable`; when no host answers,
    /// the answer is `unavailable`.
    pub async fn list(&self, user: &User) -> Result<Vec<ContainerView>, ApiError> {
        let owner = (!user.is_admin()).then_some(user.id.as_str());
        let all = self.hosts.all();
        let listings = futures_util::future::join_all(all.iter().map(|host| async move {
            if !host.engine.is_healthy() {
                return None;
            }
            let listed = tokio::time::timeout(ASK_TIMEOUT, host.engine.list_managed(owner)).await;
            listed.ok().and_then(Result::ok)
        }))
        .await;
        if listings.iter().all(Option::is_none) {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                "no Docker host is answering",
            ));
        }
        let mut containers = Vec::new();
        for (host, listed) in all.iter().zip(listings) {
            match listed {
                Some(listed) => containers.extend(
                    listed
                        .into_iter()
                        .filter(|c| {
                            !c.labels
                                .as_ref()
                                .is_some_and(|l| l.contains_key(policy::LABEL_WORKSPACE))
                        })
                        .map(|c| ContainerView::listed(c, host)),
                ),
                None => containers.extend(
                    db::containers::on_host(&self.db, &host.name, owner)
                        .await?
                        .into_iter()
                        .map(|c| ContainerView {
                            id: c.id,
                            name: c.name,
                            image: c.image,
                            state: "unavailable".to_string(),
                            owner: Some(c.owner_id),
                            host: host.name.clone(),
                            limits: LimitsView::default(),
                        }),
                ),
            }
        }
        Ok(containers)
    }

    pub async fn view(&self, user: &User, id: &str) -> Result<ContainerView, ApiError> {
        let (info, host) = self.find_owned(user, id).await?;
        Ok(ContainerView::inspected(info, &host))
    }

    /// Starts, stops or restarts a container; one already in that state is left as it is.
    pub async fn act(
        &self,
        user: &User,
        id: &str,
        action: Action,
    ) -> Result<ContainerView, ApiError> {
        let (info, host) = self.find_owned(user, id).await?;
        let id = info.id.unwrap_or_default();
        let engine = &host.engine;
        match action {
            Action::Start => engine.start_container(&id).await?,
            Action::Stop => engine.stop_container(&id, STOP_GRACE_S).await?,
            Action::Restart => engine.restart_container(&id, STOP_GRACE_S).await?,
        }
        self.view(user, &id).await
    }

    /// Removes a container the user may use, and berth's record of it.
    pub async fn remove(&self, user: &User, id: &str) -> Result<(), ApiError> {
        let (info, host) = self.find_owned(user, id).await?;
        let held = docker::label(&info, docker::LABEL_RESERVATION).map(str::to_string);
        let id = info.id.unwrap_or_default();
        host.engine.remove_container(&id).await?;
        db::containers::delete(&self.db, &id).await?;
        if let Some(held) = held {
            self.release(&held).await;
        }
        Ok(())
    }

    /// Removes every container of a user on every host (their account is going away). A host
    /// that holds some of them and does not answer stops this with `unavailable`.
    pub async fn remove_all_of(&self, owner: &str) -> Result<(), ApiError> {
        for host in self.hosts.all() {
            if !host.engine.is_healthy() {
                let recorded = db::containers::on_host(&self.db, &host.name, Some(owner)).await?;
                if recorded.is_empty() {
                    continue;
                }
                return Err(ApiError::new(
                    ErrorCode::Unavailable,
                    format!("host {} holds containers and is not answering", host.name),
                ));
            }
            host.engine.remove_owned_by(owner).await?;
        }
        Ok(())
    }
}

/// Pulls `image` onto `host` when it is not there (`true` when it was pulled), with the stored
/// credentials of its registry: containers and workspaces are made from images pulled this way.
pub async fn pull_if_missing(
    user: &User,
    host: &Host,
    registries: &Registries,
    image: &ImageRef,
) -> Result<bool, ApiError> {
    if host.engine.has_image(image).await? {
        return Ok(false);
    }
    let docker = host.engine.client().await?;
    let credentials = registries.pull_credentials(user, image, None).await?;
    let source = credentials.as_ref().and_then(|c| c.serveraddress.clone());
    let mut progress = std::pin::pin!(docker::images::pull(&docker, image, credentials)?);
    let cannot = |why: &str| {
        ApiError::not_found(format!(
            "no such image here, and pulling {image} failed: {why}"
        ))
    };
    while let Some(item) = progress.next().await {
        match item {
            Ok(info) => {
                if let Some(error) = info.error {
                    return Err(cannot(&error));
                }
            }
            Err(e) => return Err(cannot(&docker::images::transfer_error(e).message)),
        }
    }
    if let Some(source) = source {
        registries.record_pull(&host.engine, image, &source).await;
    }
    Ok(true)
}
