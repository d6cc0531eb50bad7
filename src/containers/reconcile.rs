//! The leader's reconciling of berth's rows with the containers its hosts hold, for what a
//! process killed between two steps, a container removed behind berth's back or a database
//! restored from a backup leaves:
//! - a row whose container its host no longer holds is forgotten;
//! - a user's container without a row, its owner still there, is recorded again (so that it
//!   is found by its id on a host other than `local`);
//! - any other container of this installation without a row (a workspace's whose workspace is
//!   gone, a check's sandbox whose check ended, a container whose owner is gone) is removed,
//!   once [`ReconcileSettings::orphan_grace_s`] has passed since its creation. A workspace's
//!   container whose workspace is still there is kept, whichever container its row names (a
//!   database restored from before the container was made again). Volumes are never removed
//!   here, not even a container's anonymous ones: they may hold a student's files.
//!
//! Only containers stamped with this installation's name are ever removed or recorded: another
//! berth may share an engine. `local` is reconciled only while every replica alive says its
//! `local` is the same engine as the leader's: replicas on machines of their own, each with its
//! own engine, would each see the others' `local` rows as gone. Every row it changes is
//! conditional on the leader's term, and the term is checked again right before a container is
//! removed. A container that cannot be handled now is left for the next pass, not the host.

use std::collections::HashSet;
use std::time::Duration;

use bollard::models::ContainerSummary;
use tokio_util::sync::CancellationToken;

use super::Containers;
use crate::config::ReconcileSettings;
use crate::db;
use crate::docker::{self, policy};
use crate::error::ApiError;
use crate::hosts::{Host, ASK_TIMEOUT, LOCAL};

/// What one pass changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub forgotten: usize,
    pub recorded: usize,
    pub removed: usize,
}

impl Containers {
    /// Reconciles every `settings.every_s`, as the leader in `term`, until `stop`.
    /// A replica whose heartbeat is `dead_after` old is not asked about its `local`.
    pub async fn reconcile(
        &self,
        term: i64,
        settings: &ReconcileSettings,
        dead_after: Duration,
        stop: CancellationToken,
    ) {
        let mut ticks = tokio::time::interval(Duration::from_secs(settings.every_s.max(1)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let grace = Duration::from_secs(settings.orphan_grace_s);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            for host in self.hosts.all() {
                if host.name == LOCAL && !self.local_is_shared(&host, dead_after).await {
                    continue;
                }
                match self.reconcile_host(&host, term, grace).await {
                    Ok(done) if done != Reconciled::default() => {
                        tracing::info!(host = %host.name, ?done, "containers reconciled with rows")
                    }
                    Ok(_) => {}
                    Err(err) => tracing::warn!(
                        host = %host.name, error = %err.message,
                        "could not reconcile the host's containers with berth's rows"
                    ),
                }
            }
        }
    }

    /// Whether every replica alive reaches the same engine as `local` as this one does.
    async fn local_is_shared(&self, local: &Host, dead_after: Duration) -> bool {
        let alive_since = crate::clock::now_ms() - dead_after.as_millis() as i64;
        let asked = tokio::time::timeout(ASK_TIMEOUT, local.engine.engine_id()).await;
        let (Ok(Ok(Some(mine))), Ok(theirs)) = (
            asked,
            db::replicas::local_engines(&self.db, alive_since).await,
        ) else {
            return false;
        };
        let shared = theirs.iter().all(|e| e.as_deref() == Some(mine.as_str()));
        if !shared {
            tracing::info!("`local` is not reconciled: not every replica's `local` is this engine");
        }
        shared
    }

    /// One pass over one host; a host that does not answer is left for the next.
    async fn reconcile_host(
        &self,
        host: &Host,
        term: i64,
        grace: Duration,
    ) -> Result<Reconciled, ApiError> {
        if !host.engine.is_healthy() {
            return Ok(Reconciled::default());
        }
        // Rows read before the listing: a row written after it may name a container the
        // listing missed. The rows read after it know every container made before it.
        let rows_before = db::containers::on_host(&self.db, &host.name, None).await?;
        let listed = tokio::time::timeout(ASK_TIMEOUT, host.engine.list_managed(None))
            .await
            .map_err(|_| ApiError::new(crate::error::ErrorCode::Unavailable, "no answer"))??;
        let recorded = db::containers::recorded(&self.db).await?;
        let held: HashSet<&str> = listed.iter().filter_map(|c| c.id.as_deref()).collect();
        let mut done = Reconciled::default();
        for row in rows_before.iter().filter(|r| !held.contains(r.id.as_str())) {
            if db::containers::forget_gone(&self.db, &row.id, term).await? {
                tracing::info!(container = %row.id, host = %host.name, "forgot a container its host no longer holds");
                done.forgotten += 1;
            }
        }
        let settled_before =
            crate::clock::now_s() - i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
        for container in &listed {
            let labels = container.labels.as_ref();
            let Some(id) = container.id.as_deref() else {
                continue;
            };
            if !host.engine.made(labels) || recorded.containers.contains(id) {
                continue;
            }
            let label = |key: &str| labels.and_then(|l| l.get(key));
            if label(policy::LABEL_CHECK).is_some_and(|s| recorded.checks.contains(s))
                || label(policy::LABEL_WORKSPACE).is_some_and(|w| recorded.workspaces.contains(w))
            {
                continue;
            }
            if container.created.unwrap_or(i64::MAX) > settled_before {
                continue;
            }
            match self.unrecorded(host, container, term).await {
                Ok(Fate::Recorded) => done.recorded += 1,
                Ok(Fate::Removed) => done.removed += 1,
                Ok(Fate::Kept | Fate::Orphan) => {}
                Err(err) => tracing::warn!(
                    container = %id, host = %host.name, error = %err.message,
                    "could not reconcile a container; it is looked at again next time"
                ),
            }
        }
        Ok(done)
    }

    /// A settled container of this installation that no row names: recorded again, or removed
    /// while the term is still the leader's.
    async fn unrecorded(
        &self,
        host: &Host,
        container: &ContainerSummary,
        term: i64,
    ) -> Result<Fate, ApiError> {
        match self.record_again(host, container, term).await? {
            Fate::Orphan => {}
            fate => return Ok(fate),
        }
        if !db::replicas::holds_term(&self.db, term).await? {
            return Ok(Fate::Kept);
        }
        let id = container.id.as_deref().unwrap_or_default();
        host.engine.remove_container_keeping_volumes(id).await?;
        tracing::info!(container = %id, host = %host.name, "removed a container of berth's that no row names");
        Ok(Fate::Removed)
    }

    /// Records `container` again when it is a user's own (not a workspace's or a check's) and
    /// its owner is still there; `Orphan` when it is not.
    async fn record_again(
        &self,
        host: &Host,
        container: &ContainerSummary,
        term: i64,
    ) -> Result<Fate, ApiError> {
        let labels = container.labels.as_ref();
        let label = |key: &str| labels.and_then(|l| l.get(key));
        if label(policy::LABEL_WORKSPACE).is_some() || label(policy::LABEL_CHECK).is_some() {
            return Ok(Fate::Orphan);
        }
        let Some(owner) = label(docker::LABEL_OWNER) else {
            return Ok(Fate::Orphan);
        };
        if db::users::find_by_id(&self.db, owner).await?.is_none() {
            return Ok(Fate::Orphan);
        }
        let row = db::containers::ContainerRow {
            id: container.id.clone().unwrap_or_default(),
            name: (container.names.as_ref())
                .and_then(|n| n.first())
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default(),
            host: host.name.clone(),
            image: container.image.clone().unwrap_or_default(),
            owner_id: owner.clone(),
        };
        let created_at = container.created.unwrap_or_else(crate::clock::now_s);
        if !db::containers::adopt(&self.db, &row, created_at, term).await? {
            // Its name or id recorded meanwhile, or the term over: looked at again next time.
            return Ok(Fate::Kept);
        }
        tracing::info!(container = %row.id, host = %host.name, owner = %owner, "recorded again a container whose row was missing");
        Ok(Fate::Recorded)
    }
}

/// What becomes of a container of this installation that no row names.
enum Fate {
    Recorded,
    /// Left as it is for now (its row written meanwhile, or the term over).
    Kept,
    /// Nothing of berth's is its: to be removed.
    Orphan,
    Removed,
}
