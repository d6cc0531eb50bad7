//! Terminals shared with a course: a teacher's TTY exec that the course's students and teacher
//! watch read-only. A share is a name for the stream's output (see `resume::StreamOut`); its
//! watchers get the current screen, then the live output, and one that falls behind skips to
//! the current screen: the sharer never waits for a watcher.

use std::sync::Arc;

use dashmap::DashMap;
use serde::Serialize;

use super::resume::StreamOut;

/// The live shares of this server, by id, and the live streams in workspaces (which their
/// teachers may watch), by source id.
#[derive(Default)]
pub struct Shares {
    live: DashMap<String, Share>,
    sources: DashMap<String, Source>,
}

struct Source {
    workspace: String,
    kind: &'static str,
    started_at: String,
    out: Arc<StreamOut>,
}

/// A live stream in a workspace, as `GET /workspaces/{id}/streams` lists it.
#[derive(Debug, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct SourceView {
    /// What `watch` names as its `source`.
    pub id: String,
    /// `exec` or `run`.
    pub kind: String,
    pub started_at: String,
    /// A TTY exec (a terminal) or not.
    pub tty: bool,
}

/// Forgets a workspace stream when it ends.
pub(crate) struct SourceGuard {
    shares: Arc<Shares>,
    id: String,
}

impl Drop for SourceGuard {
    fn drop(&mut self) {
        self.shares.sources.remove(&self.id);
    }
}

struct Share {
    course_id: String,
    by: String,
    started_at: String,
    out: Arc<StreamOut>,
}

/// A live share, as `GET /courses/{id}/shares` lists it.
#[derive(Debug, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct ShareView {
    pub share: String,
    pub course_id: String,
    /// Who shares it (a username).
    pub by: String,
    pub started_at: String,
}

impl Shares {
    /// Records a live stream in a workspace, until the guard goes.
    pub(crate) fn add_source(
        self: &Arc<Self>,
        workspace: &str,
        kind: &'static str,
        out: Arc<StreamOut>,
    ) -> SourceGuard {
        let id = uuid::Uuid::new_v4().simple().to_string();
        out.in_workspace(workspace);
        self.sources.insert(
            id.clone(),
            Source {
                workspace: workspace.to_string(),
                kind,
                started_at: crate::clock::rfc3339(crate::clock::now_ms()),
                out,
            },
        );
        SourceGuard {
            shares: self.clone(),
            id,
        }
    }

    /// A live stream of `workspace`.
    pub(crate) fn source(&self, workspace: &str, id: &str) -> Option<Arc<StreamOut>> {
        self.sources
            .get(id)
            .filter(|source| source.workspace == workspace)
            .map(|source| source.out.clone())
    }

    /// The live streams of a workspace, oldest first.
    pub fn of_workspace(&self, workspace: &str) -> Vec<SourceView> {
        let mut views: Vec<SourceView> = self
            .sources
            .iter()
            .filter(|source| source.workspace == workspace)
            .map(|source| SourceView {
                id: source.key().clone(),
                kind: source.kind.to_string(),
                started_at: source.started_at.clone(),
                tty: source.out.has_tty(),
            })
            .collect();
        views.sort_by(|a, b| a.started_at.cmp(&b.started_at));
        views
    }

    pub(crate) fn add(&self, course_id: &str, by: &str, out: Arc<StreamOut>) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.live.insert(
            id.clone(),
            Share {
                course_id: course_id.to_string(),
                by: by.to_string(),
                started_at: crate::clock::rfc3339(crate::clock::now_ms()),
                out,
            },
        );
        id
    }

    /// The course and the stream of a live share.
    pub(crate) fn find(&self, id: &str) -> Option<(String, Arc<StreamOut>)> {
        self.forget_ended();
        self.live
            .get(id)
            .map(|share| (share.course_id.clone(), share.out.clone()))
    }

    /// Forgets the shares of a stream (unshared).
    pub(crate) fn remove_stream(&self, out: &Arc<StreamOut>) {
        self.live.retain(|_, share| !Arc::ptr_eq(&share.out, out));
    }

    /// The live shares of a course.
    pub fn of_course(&self, course_id: &str) -> Vec<ShareView> {
        self.forget_ended();
        let mut views: Vec<ShareView> = self
            .live
            .iter()
            .filter(|share| share.course_id == course_id)
            .map(|share| ShareView {
                share: share.key().clone(),
                course_id: share.course_id.clone(),
                by: share.by.clone(),
                started_at: share.started_at.clone(),
            })
            .collect();
        views.sort_by(|a, b| a.started_at.cmp(&b.started_at));
        views
    }

    /// Shares whose stream ended (or stopped sharing) go.
    fn forget_ended(&self) {
        self.live.retain(|_, share| share.out.is_shared());
    }
}
