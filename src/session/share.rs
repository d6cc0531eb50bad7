//! Terminals shared with a course: a teacher's TTY exec that the course's students and teacher
//! watch read-only. A share is a name for the stream's output (see `resume::StreamOut`); its
//! watchers get the current screen, then the live output, and one that falls behind skips to
//! the current screen: the sharer never waits for a watcher.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio_util::sync::CancellationToken;

use super::resume::StreamOut;
use crate::error::ApiError;
use crate::replicas::Replicas;

/// How often ended shares are looked for, to forget their records.
const TIDY_EVERY: Duration = Duration::from_secs(1);

/// The live shares of this replica, by id, and its live streams in workspaces (which their
/// teachers may watch), by source id. Each is recorded with the replica (see
/// `replicas::held`), so that any replica lists them and relays a watch of them here.
pub struct Shares {
    replicas: Arc<Replicas>,
    live: DashMap<String, Share>,
    sources: DashMap<String, Source>,
}

struct Source {
    workspace: String,
    out: Arc<StreamOut>,
}

/// Forgets a workspace stream when it ends.
pub(crate) struct SourceGuard {
    shares: Arc<Shares>,
    id: String,
}

impl Drop for SourceGuard {
    fn drop(&mut self) {
        self.shares.sources.remove(&self.id);
        let (shares, id) = (self.shares.clone(), std::mem::take(&mut self.id));
        tokio::spawn(async move { shares.replicas.source_ended(&id).await });
    }
}

struct Share {
    course_id: String,
    out: Arc<StreamOut>,
}

impl Shares {
    pub fn new(replicas: Arc<Replicas>) -> Shares {
        Shares {
            replicas,
            live: DashMap::new(),
            sources: DashMap::new(),
        }
    }

    /// Records a live stream in a workspace, until the guard goes. Not recorded (a database
    /// that did not answer), it is still watched through this replica.
    pub(crate) async fn add_source(
        self: &Arc<Self>,
        workspace: &str,
        kind: &'static str,
        out: Arc<StreamOut>,
    ) -> SourceGuard {
        let id = uuid::Uuid::new_v4().simple().to_string();
        out.in_workspace(workspace);
        let tty = out.has_tty();
        self.sources.insert(
            id.clone(),
            Source {
                workspace: workspace.to_string(),
                out,
            },
        );
        let guard = SourceGuard {
            shares: self.clone(),
            id,
        };
        if let Err(e) = self
            .replicas
            .source_added(&guard.id, workspace, kind, tty)
            .await
        {
            tracing::warn!(error = %e.message, "could not record a workspace stream");
        }
        guard
    }

    /// A live stream of `workspace`.
    pub(crate) fn source(&self, workspace: &str, id: &str) -> Option<Arc<StreamOut>> {
        self.sources
            .get(id)
            .filter(|source| source.workspace == workspace)
            .map(|source| source.out.clone())
    }

    /// Shares `out` with a course: the share's id, recorded for every replica to list.
    pub(crate) async fn add(
        &self,
        course_id: &str,
        by: &str,
        out: Arc<StreamOut>,
    ) -> Result<String, ApiError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.replicas.share_added(&id, course_id, by).await?;
        self.live.insert(
            id.clone(),
            Share {
                course_id: course_id.to_string(),
                out,
            },
        );
        Ok(id)
    }

    /// The course and the stream of a live share.
    pub(crate) fn find(&self, id: &str) -> Option<(String, Arc<StreamOut>)> {
        self.live
            .get(id)
            .filter(|share| share.out.is_shared())
            .map(|share| (share.course_id.clone(), share.out.clone()))
    }

    /// Forgets the shares of a stream (unshared).
    pub(crate) async fn remove_stream(&self, out: &Arc<StreamOut>) {
        let mut gone = Vec::new();
        self.live.retain(|id, share| {
            let keep = !Arc::ptr_eq(&share.out, out);
            if !keep {
                gone.push(id.clone());
            }
            keep
        });
        for id in gone {
            self.replicas.share_ended(&id).await;
        }
    }

    /// Every [`TIDY_EVERY`] until `stop`, forgets the shares whose stream ended (their records
    /// with them).
    pub async fn keep_tidy(self: Arc<Self>, stop: CancellationToken) {
        let mut ticks = tokio::time::interval(TIDY_EVERY);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            for id in self.forget_ended() {
                self.replicas.share_ended(&id).await;
            }
        }
    }

    /// Shares whose stream ended (or stopped sharing) go: their ids.
    fn forget_ended(&self) -> Vec<String> {
        let mut gone = Vec::new();
        self.live.retain(|id, share| {
            let keep = share.out.is_shared();
            if !keep {
                gone.push(id.clone());
            }
            keep
        });
        gone
    }
}
