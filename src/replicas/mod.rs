//! The berth processes on one database. Each makes an id at start and records a heartbeat every
//! second; each records the execs it starts (`live_execs`) until it has killed what they left.
//! A replica whose heartbeat is [`DEAD_AFTER`] old is dead: the leader (see [`leader`]) forgets
//! it, kills the processes of its execs and records its background jobs as lost. Alone on a
//! SQLite file, berth is the only replica, and every other row is an earlier run of itself.

pub mod held;
pub mod leader;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::db::{self, replicas::LiveExec, Db};
use crate::error::ApiError;
use crate::hosts::Hosts;

/// How often a replica says it is alive.
pub const BEAT: Duration = Duration::from_secs(1);

/// A replica silent this long is dead: long enough for a busy machine's pause, short enough
/// that what it ran is killed within 10 s of its death (this, then a sweep).
pub const DEAD_AFTER: Duration = Duration::from_secs(5);

/// How often the leader looks for dead replicas.
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// This replica, and the others seen through the database.
pub struct Replicas {
    db: Db,
    id: String,
    /// Where the other replicas reach this one (`http://host:port`), to relay to it.
    address: String,
    started_ms: i64,
    hosts: Arc<Hosts>,
    /// The ID of the engine this replica reaches as `local`, once it answered.
    local_engine: std::sync::OnceLock<String>,
}

/// One replica, as `GET /admin/replicas` lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReplicaView {
    pub id: String,
    pub started_at: String,
    pub heartbeat_at: String,
    /// Its heartbeat is recent.
    pub alive: bool,
    /// It holds the leader's term.
    pub leader: bool,
    /// Execs it has running.
    pub execs: i64,
    /// The ID of the engine it reaches as `local` (`docker info`); every replica's must be the
    /// same for `local` to be reconciled. None until that engine answered.
    pub local_engine: Option<String>,
}

/// Every replica on the database, and which one answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReplicasView {
    /// The replica that answered this request.
    pub this: String,
    /// The leader's term (raised by each new leader); None before the first.
    pub term: Option<i64>,
    pub replicas: Vec<ReplicaView>,
}

impl Replicas {
    /// Makes this replica's id and records it alive. `alone`: no other berth shares the
    /// database, so every other replica recorded is dead (an earlier run, killed).
    pub async fn join(
        db: Db,
        hosts: Arc<Hosts>,
        address: String,
        alone: bool,
    ) -> Result<Replicas, ApiError> {
        let replicas = Replicas {
            db,
            id: uuid::Uuid::new_v4().simple().to_string(),
            address,
            started_ms: crate::clock::now_ms(),
            hosts,
            local_engine: std::sync::OnceLock::new(),
        };
        replicas.beat().await?;
        if alone {
            db::replicas::forget_others(&replicas.db, &replicas.id).await?;
        }
        tracing::info!(replica = %replicas.id, "replica started");
        Ok(replicas)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    async fn beat(&self) -> Result<(), ApiError> {
        let beat = db::replicas::Beat {
            id: &self.id,
            address: &self.address,
            started_ms: self.started_ms,
            now_ms: crate::clock::now_ms(),
            local_engine: self.local_engine.get().map(String::as_str),
        };
        Ok(db::replicas::beat(&self.db, &beat).await?)
    }

    /// Records this replica alive every [`BEAT`] until `stop`; then it leaves (what its
    /// sessions ran was killed by them as they closed).
    pub async fn heartbeat(self: Arc<Self>, stop: CancellationToken) {
        let mut ticks = tokio::time::interval(BEAT);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = ticks.tick() => {}
            }
            if self.local_engine.get().is_none() {
                self.learn_local_engine().await;
            }
            if let Err(e) = self.beat().await {
                tracing::warn!(error = %e.message, "could not record this replica's heartbeat");
            }
        }
        if let Err(e) = db::replicas::leave(&self.db, &self.id).await {
            tracing::warn!(error = %e, "could not record this replica leaving");
        }
    }

    /// Asks which engine this replica reaches as `local`, for its heartbeat to record (see
    /// `containers::reconcile`); the engine may not answer yet, and is asked again next beat.
    async fn learn_local_engine(&self) {
        let engine = &self.hosts.local().engine;
        if let Ok(Ok(Some(id))) = tokio::time::timeout(BEAT, engine.engine_id()).await {
            let _ = self.local_engine.set(id);
        }
    }

    /// Records an exec of this replica's that the engine is about to start, on `host`'s
    /// container: the record goes when the returned guard is dropped, which must be after
    /// what the exec left is killed.
    pub async fn exec_started(
        &self,
        host: &str,
        container: &str,
        exec_id: &str,
        marker: &str,
    ) -> Result<ExecRecord, ApiError> {
        let exec = LiveExec {
            marker: marker.to_string(),
            replica_id: self.id.clone(),
            host: host.to_string(),
            container_id: container.to_string(),
            exec_id: exec_id.to_string(),
        };
        db::replicas::exec_started(&self.db, &exec, crate::clock::now_ms()).await?;
        Ok(ExecRecord {
            db: self.db.clone(),
            marker: exec.marker,
        })
    }

    /// The leader's work in `term`: every [`SWEEP_EVERY`], what dead replicas ran is killed.
    pub async fn sweep_dead(self: Arc<Self>, term: i64, stop: CancellationToken) {
        let mut ticks = tokio::time::interval(SWEEP_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            if let Err(e) = self.sweep_once(term).await {
                tracing::warn!(error = %e.message, "sweeping dead replicas failed");
            }
        }
    }

    async fn sweep_once(&self, term: i64) -> Result<(), ApiError> {
        let before = crate::clock::now_ms() - DEAD_AFTER.as_millis() as i64;
        for dead in db::replicas::forget_dead(&self.db, before, &self.id, term).await? {
            tracing::warn!(replica = %dead, "a replica stopped beating; killing what it ran");
        }
        let orphans = db::replicas::orphaned_execs(&self.db).await?;
        let kills = orphans.iter().map(|exec| self.kill_orphan(exec, term));
        futures_util::future::join_all(kills).await;
        db::held::forget_orphans(&self.db, Some(term)).await?;
        let lost = crate::workspaces::jobs::mark_lost(&self.db, term).await?;
        if lost > 0 {
            tracing::warn!(lost, "background jobs of a replica that died are lost");
        }
        Ok(())
    }

    /// Kills what an exec of a dead replica left, then forgets it. A host this replica does not
    /// know, or that does not answer, keeps the record for the next sweep.
    async fn kill_orphan(&self, exec: &LiveExec, term: i64) {
        let Some(host) = self.hosts.named(&exec.host) else {
            return;
        };
        let killed = match host.engine.inspect_container(&exec.container_id).await {
            Ok(None) => Ok(()), // the container went, and its processes with it
            Ok(Some(_)) => {
                host.engine
                    .kill_exec_processes(&exec.container_id, &exec.exec_id, &exec.marker)
                    .await
            }
            Err(e) => Err(e),
        };
        match killed {
            Ok(()) => {
                tracing::info!(replica = %exec.replica_id, exec = %exec.exec_id, "a dead replica's exec killed");
                if let Err(e) =
                    db::replicas::forget_orphaned_exec(&self.db, &exec.marker, term).await
                {
                    tracing::warn!(error = %e, "could not forget a killed exec");
                }
            }
            Err(e) => {
                tracing::info!(exec = %exec.exec_id, error = %e.message, "could not kill a dead replica's exec yet")
            }
        }
    }

    /// Every replica recorded, for an admin.
    pub async fn view(&self) -> Result<ReplicasView, ApiError> {
        let leadership = db::replicas::leadership(&self.db).await?;
        let execs = db::replicas::exec_counts(&self.db).await?;
        let now = crate::clock::now_ms();
        let replicas = db::replicas::all(&self.db)
            .await?
            .into_iter()
            .map(|row| ReplicaView {
                started_at: crate::clock::rfc3339(row.started_ms),
                heartbeat_at: crate::clock::rfc3339(row.heartbeat_ms),
                alive: now - row.heartbeat_ms < DEAD_AFTER.as_millis() as i64,
                leader: leadership.as_ref().is_some_and(|l| l.replica_id == row.id),
                execs: execs
                    .iter()
                    .find(|(id, _)| *id == row.id)
                    .map_or(0, |(_, n)| *n),
                local_engine: row.local_engine,
                id: row.id,
            })
            .collect();
        Ok(ReplicasView {
            this: self.id.clone(),
            term: leadership.map(|l| l.term),
            replicas,
        })
    }
}

/// A recorded exec: dropping it forgets the record.
pub struct ExecRecord {
    db: Db,
    marker: String,
}

impl Drop for ExecRecord {
    fn drop(&mut self) {
        let db = self.db.clone();
        let marker = std::mem::take(&mut self.marker);
        forget_soon("an ended exec", async move {
            db::replicas::exec_ended(&db, &marker).await
        });
    }
}

/// Runs `forget` (the DELETE of a record whose guard was dropped) on its own: a drop cannot
/// wait. Outside a runtime (the process is ending) the row stays; a dead replica's rows are the
/// leader's to forget.
fn forget_soon(
    what: &'static str,
    forget: impl std::future::Future<Output = Result<(), sqlx::Error>> + Send + 'static,
) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            if let Err(e) = forget.await {
                tracing::warn!(error = %e, "could not forget {what}");
            }
        });
    }
}
