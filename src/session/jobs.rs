//! Background jobs' live side: the output of each job this process runs (see
//! `workspaces::jobs` for their records). A job's output goes through a [`StreamOut`] like any
//! stream's, kept as a resumable stream's is; when its session ends it runs on held by nobody,
//! and `attach` gives it to a session again. An ended job's output is kept for the last
//! [`ENDED_KEPT`] ended jobs of each user, to attach after the fact.

use std::sync::Arc;

use dashmap::DashMap;
use tokio_util::sync::CancellationToken;

use super::resume::StreamOut;

/// How many ended jobs of a user keep their output.
const ENDED_KEPT: usize = 8;

/// The jobs of this process, by id.
#[derive(Default)]
pub struct Jobs {
    live: DashMap<String, Job>,
}

struct Job {
    user_id: String,
    workspace: String,
    out: Arc<StreamOut>,
    cancel: CancellationToken,
    /// When it ended (an order among a user's ended jobs); None while it runs.
    ended: Option<std::time::Instant>,
}

/// A job's output and workspace, to attach it.
pub(crate) struct Attachable {
    pub workspace: String,
    pub out: Arc<StreamOut>,
}

impl Jobs {
    pub(crate) fn add(
        &self,
        id: &str,
        user_id: &str,
        workspace: &str,
        out: Arc<StreamOut>,
        cancel: CancellationToken,
    ) {
        self.live.insert(
            id.to_string(),
            Job {
                user_id: user_id.to_string(),
                workspace: workspace.to_string(),
                out,
                cancel,
                ended: None,
            },
        );
    }

    /// Job `id` ended: its output stays, among its user's last [`ENDED_KEPT`] ended jobs'.
    pub(crate) fn ended(&self, id: &str) {
        let Some(user_id) = self.live.get_mut(id).map(|mut job| {
            job.ended = Some(std::time::Instant::now());
            job.user_id.clone()
        }) else {
            return;
        };
        let mut ended: Vec<(std::time::Instant, String)> = self
            .live
            .iter()
            .filter(|job| job.user_id == user_id)
            .filter_map(|job| job.ended.map(|at| (at, job.key().clone())))
            .collect();
        ended.sort();
        let surplus = ended.len().saturating_sub(ENDED_KEPT);
        for (_, id) in ended.into_iter().take(surplus) {
            self.live.remove(&id);
        }
    }

    /// Job `id`'s output, if this process keeps it.
    pub(crate) fn attachable(&self, id: &str) -> Option<Attachable> {
        self.live.get(id).map(|job| Attachable {
            workspace: job.workspace.clone(),
            out: job.out.clone(),
        })
    }

    /// The id of the job whose output `out` is.
    pub(crate) fn id_of(&self, out: &Arc<StreamOut>) -> Option<String> {
        self.live
            .iter()
            .find(|job| Arc::ptr_eq(&job.out, out))
            .map(|job| job.key().clone())
    }

    pub fn keeps(&self, id: &str) -> bool {
        self.live.contains_key(id)
    }

    /// Stops job `id` if it runs here; false when it does not.
    pub fn kill(&self, id: &str) -> bool {
        match self.live.get(id) {
            Some(job) if job.ended.is_none() => {
                job.cancel.cancel();
                true
            }
            _ => false,
        }
    }

    /// Whether job `id` is still running here.
    pub fn running(&self, id: &str) -> bool {
        self.live.get(id).is_some_and(|job| job.ended.is_none())
    }

    /// Drops an ended job's output.
    pub fn forget(&self, id: &str) {
        self.live.remove_if(id, |_, job| job.ended.is_some());
    }

    /// Stops every job of `user_id` and drops their output (their account went).
    pub fn end_user(&self, user_id: &str) {
        self.live.retain(|_, job| {
            if job.user_id != user_id {
                return true;
            }
            job.cancel.cancel();
            false
        });
    }
}
