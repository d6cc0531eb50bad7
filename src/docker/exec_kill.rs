//! Killing what an exec started. Docker has no exec-kill API, and a user is root in their own
//! container, so nothing that runs inside it (its `/bin/sh`, `grep`, `kill`) can be trusted to
//! do the killing. Where the engine's processes are visible to berth (a local engine, berth in
//! the host's PID namespace) berth finds them itself in `/proc` and signals them from outside.
//! Only where they are not (an engine on another machine) does a short exec inside the
//! container do it, bounded in time.

use std::collections::HashSet;
use std::path::PathBuf;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Environment variable set on every exec berth starts; its value names the stream, and the
/// processes carrying it (the exec'd process and everything it forks) are killed with the stream.
pub const EXEC_MARKER: &str = "BERTH_EXEC";

/// Rounds of looking for new children before the freeze is taken as complete (a stopped process
/// cannot fork, so each round can only add processes forked before it was stopped).
const MAX_ROUNDS: usize = 50;

/// What an exec's processes look like from the host.
pub struct ExecProcesses<'a> {
    /// The container's id, which its processes' cgroup names.
    pub container_id: &'a str,
    /// The container's first process, as the engine reports it (host PID namespace).
    pub container_pid: i32,
    /// The exec's own process, when the engine still knows it.
    pub exec_pid: Option<i32>,
    /// The value of [`EXEC_MARKER`] in the environment of everything the exec started; None:
    /// any value.
    pub marker: Option<&'a str>,
}

/// Stops, then kills, the exec's process, everything descended from it and everything else in
/// the container carrying its marker or still in the exec's session. None when the container's processes are not visible from
/// here (the caller then falls back to the in-container killer); otherwise how many were killed.
pub fn kill_from_host(target: &ExecProcesses) -> Option<usize> {
    if target.container_pid <= 0 {
        return None;
    }
    // The PID the engine gave must be the container's as berth sees it: a berth in another PID
    // namespace would see an unrelated process under that number.
    let cgroup = std::fs::read_to_string(format!("/proc/{}/cgroup", target.container_pid)).ok()?;
    if !cgroup.contains(target.container_id) {
        return None;
    }
    let namespace = pid_namespace(target.container_pid)?;

    let mut ours: HashSet<i32> = target.exec_pid.into_iter().filter(|p| *p > 0).collect();
    let mut stopped: HashSet<i32> = HashSet::new();
    for _ in 0..MAX_ROUNDS {
        let mut found = false;
        for process in procfs::process::all_processes().ok()?.flatten() {
            let pid = process.pid;
            if stopped.contains(&pid) || pid == target.container_pid {
                continue;
            }
            if pid_namespace(pid).as_ref() != Some(&namespace) {
                continue;
            }
            let Ok(stat) = process.stat() else { continue };
            let marked = process.environ().is_ok_and(|env| {
                env.get(std::ffi::OsStr::new(EXEC_MARKER))
                    .is_some_and(|v| target.marker.is_none_or(|m| v == m))
            });
            // The exec's process leads a session (the engine starts it so), and what it starts
            // stays in that session even when it drops the marker (`env -i`) and is reparented
            // away from it; only setsid() leaves it.
            let in_session = target.exec_pid.is_some_and(|p| p > 0 && stat.session == p);
            if marked || in_session || ours.contains(&pid) || ours.contains(&stat.ppid) {
                // Stopped first, so that it forks nothing more while the rest are found.
                let _ = kill(Pid::from_raw(pid), Signal::SIGSTOP);
                ours.insert(pid);
                stopped.insert(pid);
                found = true;
            }
        }
        if !found {
            break;
        }
    }
    for pid in &stopped {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
    }
    Some(stopped.len())
}

fn pid_namespace(pid: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

/// The in-container fallback: a shell loop over `/proc` that signals the marked processes
/// (carrying `marker`, or any marker).
pub fn in_container_script(marker: Option<&str>) -> String {
    let matching = match marker {
        Some(marker) => format!("grep -qxF '{EXEC_MARKER}={marker}'"),
        None => format!("grep -q '^{EXEC_MARKER}='"),
    };
    format!(
        "for d in /proc/[0-9]*; do tr '\\000' '\\n' < $d/environ 2>/dev/null | {matching} && kill -9 ${{d#/proc/}} 2>/dev/null; done; exit 0"
    )
}
