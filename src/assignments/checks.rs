//! Checks: the teacher's command, run on every submission in a sandbox of its own. The sandbox
//! is a fresh container of the template's image with the template's limits, no network and no
//! volume; it holds a copy of the snapshot and the check's hidden files (written last, and
//! owned by root, so a student's file cannot stand in for them), runs as the workspace's user
//! in /workspace, and is removed when the command ends or is killed at `checks.time_limit_s`
//! or `checks.output_kb`.
//!
//! A check is recorded as queued with its submission, so that checks a stopped berth did not
//! finish run when it starts again. At most `checks.concurrency` run at once; the rest wait.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::{CheckSettings, ContainerLimits};
use crate::db::{self, checks::CheckRow, Db};
use crate::docker::policy::{sandbox_body, SandboxSpec};
use crate::docker::sandbox::{Cut, Finished, SandboxLimits};
use crate::error::ApiError;
use crate::hosts::Hosts;
use crate::templates;
use crate::workspaces::files::{header_owned_by as header, UID};
use crate::workspaces::run::{why_killed, Killed, Stopped};

/// What is to run on each submission: `command`, beside the submission and the hidden `files`,
/// which students never see.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub command: Vec<String>,
    #[serde(default)]
    #[ts(as = "Option<BTreeMap<String, String>>", optional)]
    pub files: BTreeMap<String, String>,
    /// Whether students see the check's result (always its pass or fail to the teacher).
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub show_students: bool,
}

/// The assignment's check, if it has one.
pub fn check_of(row: &db::assignments::AssignmentRow) -> Result<Option<Check>, ApiError> {
    row.checking
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| ApiError::internal(&e))
}

/// A check's result, as its teacher (and, when it says `show_students`, its student) sees it.
#[derive(Debug, Clone, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct CheckResult {
    /// `queued` and `running` until it ends; `done` when it ran (however it ended), `failed`
    /// when berth could not run it (`error` says why).
    #[ts(type = "\"queued\" | \"running\" | \"done\" | \"failed\"")]
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub code: Option<i64>,
    /// Its command exited with 0 (and was not killed).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub passed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub duration_ms: Option<i64>,
    /// The limit berth killed it at.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "\"timeout\" | \"output\" | \"memory\"")]
    pub killed: Option<String>,
    /// stdout and stderr as they came, at most `checks.output_kb`.
    pub output: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub finished_at: Option<String>,
}

pub fn result_of(row: CheckRow) -> CheckResult {
    CheckResult {
        state: row.state,
        code: row.code,
        passed: row.passed,
        duration_ms: row.duration_ms,
        killed: row.killed,
        output: row.output,
        error: row.error,
        finished_at: row.finished_at.map(|at| crate::clock::rfc3339(at * 1000)),
    }
}

/// Runs the checks of submissions, a few at a time.
pub struct Checks {
    db: Db,
    hosts: Arc<Hosts>,
    limits: ContainerLimits,
    settings: CheckSettings,
    data_dir: PathBuf,
    slots: Semaphore,
    /// Server shutdown: running checks stop, and the leader runs them again.
    stop: CancellationToken,
    /// This replica's id, recorded with the checks it runs.
    replica: String,
}

/// How often the leader looks for checks left unfinished.
const ADOPT_EVERY: Duration = Duration::from_secs(1);

impl Checks {
    pub fn new(
        db: Db,
        hosts: Arc<Hosts>,
        limits: ContainerLimits,
        settings: CheckSettings,
        data_dir: PathBuf,
        stop: CancellationToken,
        replica: String,
    ) -> Checks {
        Checks {
            slots: Semaphore::new(settings.concurrency.max(1)),
            db,
            hosts,
            limits,
            settings,
            data_dir,
            stop,
            replica,
        }
    }

    /// Runs the check of a submission recorded as queued, when a slot is free; its result as
    /// it stands now.
    pub fn run_soon(self: &Arc<Self>, submission_id: &str) -> CheckResult {
        self.spawn(submission_id.to_string());
        result_of(CheckRow {
            submission_id: submission_id.to_string(),
            state: "queued".into(),
            ..Default::default()
        })
    }

    /// The replica that runs the checks queued here.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// The leader's work in `term`, until `stop`: runs again the checks a replica that died or
    /// stopped (or an earlier run of this berth) left queued or running.
    pub async fn adopt_unfinished(self: Arc<Self>, term: i64, stop: CancellationToken) {
        let mut ticks = tokio::time::interval(ADOPT_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            match db::checks::adopt_unfinished(&self.db, &self.replica, term).await {
                Ok(ids) => {
                    if !ids.is_empty() {
                        tracing::info!(checks = ids.len(), "running the checks left unfinished");
                    }
                    for id in ids {
                        self.spawn(id);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not read the unfinished checks"),
            }
        }
    }

    fn spawn(self: &Arc<Self>, submission_id: String) {
        let checks = self.clone();
        tokio::spawn(async move {
            let Ok(_slot) = checks.slots.acquire().await else {
                return;
            };
            if !checks.stop.is_cancelled() {
                checks.run(&submission_id).await;
            }
        });
    }

    async fn run(&self, submission_id: &str) {
        if let Err(e) = db::checks::mark_running(&self.db, submission_id).await {
            tracing::warn!(submission = %submission_id, error = %e, "could not start a check");
            return;
        }
        let finished = self.attempt(submission_id).await;
        let row = match finished {
            // Stopped by shutdown: it stays `running`, to run again at the next start.
            Ok(finished) if finished.cut == Some(Cut::Cancelled) => return,
            Ok(finished) => ran(submission_id, finished, self.settings.time_limit_s),
            Err(err) => CheckRow {
                submission_id: submission_id.to_string(),
                state: "failed".into(),
                error: Some(err.message),
                finished_at: Some(crate::clock::now_s()),
                ..Default::default()
            },
        };
        tracing::info!(submission = %submission_id, state = %row.state, passed = ?row.passed, killed = ?row.killed, "check ended");
        if let Err(e) = db::checks::finish(&self.db, &row).await {
            tracing::warn!(submission = %submission_id, error = %e, "could not store a check");
        }
    }

    /// Runs one submission's check in its sandbox, on the host of the student's workspace
    /// (which has the template's image).
    async fn attempt(&self, submission_id: &str) -> Result<Finished, ApiError> {
        let submission = db::assignments::find_submission(&self.db, submission_id)
            .await?
            .ok_or_else(|| ApiError::not_found("the submission is gone"))?;
        let assignment = db::assignments::find(&self.db, &submission.assignment_id)
            .await?
            .ok_or_else(|| ApiError::not_found("the assignment is gone"))?;
        let check = check_of(&assignment)?
            .ok_or_else(|| ApiError::not_found("the assignment has no check now"))?;
        let template = templates::find(&self.db, &assignment.template_id).await?;
        let workspace =
            db::assignments::workspace_for(&self.db, &submission.user_id, &template.id).await?;
        let host = match workspace {
            Some(id) => db::workspaces::find(&self.db, &id).await?.map(|w| w.host),
            None => None,
        };
        let host = self.hosts.choose(host.as_deref()).await?;
        let snapshot = self.data_dir.join(&submission.archive);
        let hidden = check.files.clone();
        let files = tokio::task::spawn_blocking(move || sandbox_files(&snapshot, &hidden))
            .await
            .map_err(|e| ApiError::internal(&e))?
            .map_err(|e| ApiError::internal(&e))?;
        let user = format!("{UID}:{UID}");
        let spec = SandboxSpec {
            submission_id,
            image: &template.spec.image,
            cmd: check.command.clone(),
            resources: template.spec.resources(&self.limits)?,
            user: &user,
        };
        let limits = SandboxLimits {
            time: Duration::from_secs(self.settings.time_limit_s.max(1)),
            output_bytes: (self.settings.output_kb.max(1) * 1024) as usize,
        };
        host.engine
            .run_sandbox(
                &format!("berth-check-{submission_id}"),
                sandbox_body(&spec, &host.name),
                files,
                &limits,
                &self.stop,
            )
            .await
    }
}

/// The stored result of a check that ran.
fn ran(submission_id: &str, finished: Finished, time_limit_s: u64) -> CheckRow {
    let stopped = finished.cut.map(|cut| match cut {
        Cut::TimeLimit => Stopped::TimeLimit,
        Cut::OutputLimit => Stopped::OutputLimit,
        Cut::Cancelled => Stopped::Cancelled,
    });
    let killed = why_killed(stopped, finished.code, finished.oom_killed);
    let mut output = String::from_utf8_lossy(&finished.output).into_owned();
    if let Some(killed) = killed {
        // Said in the output too, where a student reading it looks.
        output.push_str(&match killed {
            Killed::Timeout => {
                format!("\n[berth: stopped at the time limit of {time_limit_s} s]\n")
            }
            Killed::Output => "\n[berth: stopped at the output limit]\n".to_string(),
            Killed::Memory => "\n[berth: killed at the memory limit]\n".to_string(),
            Killed::Cancelled => "\n[berth: cancelled]\n".to_string(),
        });
    }
    let killed = killed.map(|k| match k {
        Killed::Timeout => "timeout",
        Killed::Output => "output",
        Killed::Memory => "memory",
        Killed::Cancelled => "cancelled",
    });
    CheckRow {
        submission_id: submission_id.to_string(),
        state: "done".into(),
        code: finished.code,
        passed: Some(finished.code == Some(0) && killed.is_none()),
        duration_ms: Some(finished.took.as_millis() as i64),
        killed: killed.map(str::to_string),
        output,
        error: None,
        finished_at: Some(crate::clock::now_s()),
    }
}

/// The sandbox's files, as a tar to unpack at `/`: /workspace (the user's), the snapshot's
/// entries in it, then the hidden files (root's, read-only to the user). A snapshot entry at a
/// hidden file's path, or at one of its folders, is left out.
fn sandbox_files(snapshot: &Path, hidden: &BTreeMap<String, String>) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut root = header(tar::EntryType::Directory, 0, 0o755, UID);
    builder.append_data(&mut root, "workspace/", std::io::empty())?;
    let taken = |path: &str| {
        hidden.keys().any(|h| {
            let h = h.trim_start_matches("./");
            h == path || h.starts_with(&format!("{path}/"))
        })
    };
    super::tars::append_under(&mut builder, snapshot, "workspace", taken)?;
    for (path, text) in hidden {
        let path = path.trim_start_matches("./");
        let mut at = String::from("workspace");
        let parts: Vec<&str> = path.split('/').collect();
        for dir in &parts[..parts.len() - 1] {
            at = format!("{at}/{dir}");
            let mut h = header(tar::EntryType::Directory, 0, 0o755, 0);
            builder.append_data(&mut h, format!("{at}/"), std::io::empty())?;
        }
        let mut h = header(tar::EntryType::Regular, text.len() as u64, 0o644, 0);
        builder.append_data(&mut h, format!("workspace/{path}"), text.as_bytes())?;
    }
    builder.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(dir: &Path, entries: &[(&str, &str)]) -> PathBuf {
        let path = dir.join("snap.tar");
        let mut builder = tar::Builder::new(std::fs::File::create(&path).unwrap());
        let mut d = header(tar::EntryType::Directory, 0, 0o755, UID);
        builder.append_data(&mut d, "./", std::io::empty()).unwrap();
        for (name, text) in entries {
            let mut h = header(tar::EntryType::Regular, text.len() as u64, 0o644, UID);
            builder.append_data(&mut h, name, text.as_bytes()).unwrap();
        }
        builder.finish().unwrap();
        path
    }

    fn entries(tar: Vec<u8>) -> Vec<(String, u64, String)> {
        let mut archive = tar::Archive::new(std::io::Cursor::new(tar));
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
            let uid = entry.header().uid().unwrap();
            seen.push((entry.path().unwrap().display().to_string(), uid, text));
        }
        seen
    }

    #[test]
    fn hidden_files_come_last_as_roots_and_a_students_file_cannot_stand_in_for_one() {
        let dir = tempfile::tempdir().unwrap();
        let snap = snapshot(
            dir.path(),
            &[
                ("./main.py", "print(1)\n"),
                ("./tests/test_main.py", "assert True  # the student's own\n"),
            ],
        );
        let hidden = BTreeMap::from([(
            "tests/test_main.py".to_string(),
            "import main\n".to_string(),
        )]);
        let seen = entries(sandbox_files(&snap, &hidden).unwrap());
        let uid = UID;
        assert_eq!(
            seen,
            [
                ("workspace/".into(), uid, String::new()),
                ("workspace/".into(), uid, String::new()),
                ("workspace/main.py".into(), uid, "print(1)\n".into()),
                ("workspace/tests/".into(), 0, String::new()),
                (
                    "workspace/tests/test_main.py".into(),
                    0,
                    "import main\n".into()
                ),
            ]
        );
    }
}
