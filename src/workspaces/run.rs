//! A `run` of a workspace's file: the command its template gives that kind of file, as the
//! workspace's user, within time and output limits; and, once it ended, why berth killed it.

use std::time::Duration;

use serde::Serialize;

use super::files::UID;
use crate::config::WorkspaceSettings;
use crate::error::ApiError;
use crate::templates::Template;
use crate::workspace_path::{WorkspacePath, ROOT};

/// The exit status of a process killed by SIGKILL.
pub const SIGKILLED: i64 = 137;

/// What a run may use before berth stops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    pub time: Duration,
    pub output_bytes: u64,
}

/// The limits asked for (the settings' defaults when not), refused beyond their maxima.
/// Checked before anything else, so a refused run starts nothing.
pub fn limits(
    time_limit_s: Option<u64>,
    output_limit_kb: Option<u64>,
    settings: &WorkspaceSettings,
) -> Result<RunLimits, ApiError> {
    let time_limit_s = within(
        "time_limit_s",
        time_limit_s.unwrap_or(settings.default_time_limit_s),
        settings.max_time_limit_s,
    )?;
    let output_limit_kb = within(
        "output_limit_kb",
        output_limit_kb.unwrap_or(settings.default_output_limit_kb),
        settings.max_output_limit_kb,
    )?;
    Ok(RunLimits {
        time: Duration::from_secs(time_limit_s),
        output_bytes: output_limit_kb * 1024,
    })
}

/// What to start.
pub struct RunPlan {
    pub cmd: Vec<String>,
    pub env: Vec<(String, String)>,
    pub workdir: String,
    /// `uid:gid`.
    pub user: String,
}

/// Plans a run of `path` with `args`: the template's command for its kind of file, as the
/// workspace's user in /workspace.
pub fn plan(
    template: &Template,
    path: &WorkspacePath,
    args: Vec<String>,
) -> Result<RunPlan, ApiError> {
    let mut cmd = template.command_for(&path.relative())?;
    cmd.extend(args);
    Ok(RunPlan {
        cmd,
        env: vec![("HOME".into(), ROOT.into())],
        workdir: ROOT.to_string(),
        user: format!("{UID}:{UID}"),
    })
}

fn within(name: &str, value: u64, max: u64) -> Result<u64, ApiError> {
    if (1..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::bad_request(format!(
            "{name} must be between 1 and {max}"
        )))
    }
}

/// Why berth killed a run (the `killed` of its `exit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Killed {
    Timeout,
    Output,
    Cancelled,
    /// The kernel's OOM killer, at the workspace's memory limit.
    Memory,
}

/// What stopped a run's stream before the process ended by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    TimeLimit,
    OutputLimit,
    Cancelled,
}

/// Why berth killed a run that ended with `code` after `stopped`. A SIGKILL berth did not send
/// is the OOM killer's when the container's memory cgroup counted one (`oom_killed`); where
/// the cgroup cannot be read, the caller passes true (the sandbox has a memory limit).
pub fn why_killed(stopped: Option<Stopped>, code: Option<i64>, oom_killed: bool) -> Option<Killed> {
    match stopped {
        Some(Stopped::TimeLimit) => Some(Killed::Timeout),
        Some(Stopped::OutputLimit) => Some(Killed::Output),
        Some(Stopped::Cancelled) => Some(Killed::Cancelled),
        None if code == Some(SIGKILLED) && oom_killed => Some(Killed::Memory),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_killed_for_what_stopped_it_or_for_memory() {
        assert_eq!(
            why_killed(Some(Stopped::TimeLimit), Some(SIGKILLED), true),
            Some(Killed::Timeout)
        );
        assert_eq!(
            why_killed(Some(Stopped::OutputLimit), None, false),
            Some(Killed::Output)
        );
        assert_eq!(
            why_killed(Some(Stopped::Cancelled), Some(0), false),
            Some(Killed::Cancelled)
        );
        assert_eq!(
            why_killed(None, Some(SIGKILLED), true),
            Some(Killed::Memory)
        );
        // A SIGKILL the cgroup did not count as an OOM kill is someone else's.
        assert_eq!(why_killed(None, Some(SIGKILLED), false), None);
        assert_eq!(why_killed(None, Some(1), true), None);
    }

    #[test]
    fn limits_default_and_stop_at_their_maxima() {
        let settings = WorkspaceSettings::default();
        let default = limits(None, None, &settings).unwrap();
        assert_eq!(default.time, Duration::from_secs(10));
        assert_eq!(default.output_bytes, 1024 * 1024);
        let err = limits(Some(0), None, &settings).unwrap_err();
        assert!(
            err.message
                .contains("time_limit_s must be between 1 and 300"),
            "{}",
            err.message
        );
        assert!(limits(None, Some(64 * 1024 + 1), &settings).is_err());
    }
}
