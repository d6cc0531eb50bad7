//! Background jobs: a workspace's `exec` or `run` with `detach: true` goes on after every
//! session ends, up to its template's `job_max_s`, and each user runs at most
//! `quotas.jobs_per_user` at once. This module keeps their records; the session layer runs
//! them and keeps their output (see `session::jobs`).

use serde::Serialize;

use crate::db::{self, jobs::JobRow, Db};
use crate::error::{ApiError, ErrorCode};
use crate::users::User;

/// The longest a job runs when its template does not say: a day.
pub const DEFAULT_JOB_MAX_S: u64 = 86_400;

/// A job as `GET /workspaces/{id}/jobs` lists it.
#[derive(Debug, Clone, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct JobView {
    /// What `attach` and `DELETE /workspaces/{id}/jobs/{job}` name.
    pub id: String,
    pub workspace: String,
    /// `exec` or `run`.
    pub kind: String,
    /// What it runs (for a run, the template's command for the file).
    pub command: Vec<String>,
    pub tty: bool,
    /// `running`, `exited`, `killed` (see `killed`), `failed` (see `error`) or `lost` (berth
    /// stopped while it ran, and killed what was left at its next start).
    pub state: String,
    pub code: Option<i64>,
    /// What killed it: `cancelled` (cancel or DELETE), `timeout` (the template's `job_max_s`)
    /// or `memory`.
    pub killed: Option<String>,
    pub error: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    /// Whether its output is still kept, to `attach`.
    pub attachable: bool,
}

impl From<JobRow> for JobView {
    fn from(row: JobRow) -> JobView {
        JobView {
            id: row.id,
            workspace: row.workspace_id,
            kind: row.kind,
            command: serde_json::from_str(&row.command).unwrap_or_default(),
            tty: row.tty,
            state: row.state,
            code: row.code,
            killed: row.killed,
            error: row.error,
            started_at: crate::clock::rfc3339(row.started_at * 1000),
            ended_at: row.ended_at.map(|s| crate::clock::rfc3339(s * 1000)),
            attachable: false,
        }
    }
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    Exited(Option<i64>),
    Killed {
        code: Option<i64>,
        why: &'static str,
    },
    Failed(String),
}

/// Records a new running job of `user` in `workspace`, run by `replica`, within their quota;
/// its id.
#[allow(clippy::too_many_arguments)]
pub async fn begin(
    db: &Db,
    replica: &str,
    user: &User,
    workspace: &str,
    kind: &str,
    command: &[String],
    tty: bool,
    at_most: u32,
) -> Result<String, ApiError> {
    let row = JobRow {
        id: uuid::Uuid::new_v4().simple().to_string(),
        workspace_id: workspace.to_string(),
        user_id: user.id.clone(),
        kind: kind.to_string(),
        command: serde_json::to_string(command).unwrap_or_else(|_| "[]".into()),
        tty,
        state: "running".into(),
        code: None,
        killed: None,
        error: None,
        started_at: crate::clock::now_s(),
        ended_at: None,
    };
    if !db::jobs::insert_within(db, &row, replica, at_most).await? {
        return Err(ApiError::new(
            ErrorCode::TooMany,
            format!("at most {at_most} background jobs at once (quotas.jobs_per_user)"),
        ));
    }
    tracing::info!(job = %row.id, workspace, kind, "background job started");
    Ok(row.id)
}

/// Records how job `id` ended.
pub async fn end(db: &Db, id: &str, end: &JobEnd) {
    let (state, code, killed, error) = match end {
        JobEnd::Exited(code) => ("exited", *code, None, None),
        JobEnd::Killed { code, why } => ("killed", *code, Some(why.to_string()), None),
        JobEnd::Failed(error) => ("failed", None, None, Some(error.clone())),
    };
    let row = JobRow {
        id: id.to_string(),
        state: state.into(),
        code,
        killed,
        error,
        ended_at: Some(crate::clock::now_s()),
        workspace_id: String::new(),
        user_id: String::new(),
        kind: String::new(),
        command: String::new(),
        tty: false,
        started_at: 0,
    };
    match db::jobs::finish(db, &row).await {
        Ok(()) => tracing::info!(job = %id, state, ?code, "background job ended"),
        Err(e) => tracing::warn!(job = %id, error = %e, "could not record the end of a job"),
    }
}

/// A workspace's jobs, newest first (the caller has checked that `user` may read it).
pub async fn list(db: &Db, workspace: &str) -> Result<Vec<JobView>, ApiError> {
    Ok(db::jobs::of_workspace(db, workspace)
        .await?
        .into_iter()
        .map(JobView::from)
        .collect())
}

/// Job `id` of `workspace`; not found when it is another workspace's.
pub async fn find(db: &Db, workspace: &str, id: &str) -> Result<JobView, ApiError> {
    db::jobs::find(db, id)
        .await?
        .filter(|row| row.workspace_id == workspace)
        .map(JobView::from)
        .ok_or_else(|| ApiError::not_found(format!("no such job: {id}")))
}

/// Forgets an ended job of `workspace`.
pub async fn forget(db: &Db, workspace: &str, id: &str) -> Result<(), ApiError> {
    find(db, workspace, id).await?;
    if db::jobs::delete_ended(db, id).await? {
        Ok(())
    } else {
        Err(ApiError::conflict(format!("job {id} is still running")))
    }
}

/// Jobs that were running on a replica that died (or on this berth before it was killed) are
/// recorded as lost, by the leader in `term`; how many.
pub async fn mark_lost(db: &Db, term: i64) -> Result<u64, ApiError> {
    Ok(db::jobs::mark_lost(db, crate::clock::now_s(), term).await?)
}
