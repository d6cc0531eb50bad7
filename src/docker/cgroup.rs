//! cgroups of the engine's host, seen from berth where berth runs beside the engine: a
//! container's OOM kills, and the process-limited cgroups that builds run beneath.

use std::path::{Path, PathBuf};

/// The OOM kills so far in the container whose first process is `pid` (host PID namespace), when
/// that process's cgroup names `container_id`; None when it cannot be read from here.
pub fn oom_kills(container_id: &str, pid: i32) -> Option<u64> {
    if pid <= 0 || container_id.is_empty() {
        return None;
    }
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    // Under another PID namespace the number would be some other process.
    if !cgroups.contains(container_id) {
        return None;
    }
    oom_kill_count(&std::fs::read_to_string(counter_file(&cgroups)?).ok()?)
}

/// Where the counter is: the memory controller's `memory.oom_control` under cgroup v1, else
/// `memory.events` of the unified (v2) hierarchy.
fn counter_file(cgroups: &str) -> Option<String> {
    for line in cgroups.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        if controllers.split(',').any(|c| c == "memory") {
            return Some(format!("/sys/fs/cgroup/memory{path}/memory.oom_control"));
        }
    }
    let path = cgroups.lines().find_map(|line| line.strip_prefix("0::"))?;
    Some(format!("/sys/fs/cgroup{path}/memory.events"))
}

fn oom_kill_count(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("oom_kill "))?
        .trim()
        .parse()
        .ok()
}

/// Where berth puts the cgroups of builds, beneath the root of each hierarchy.
const BUILDS: &str = "berth-builds";
const ROOT: &str = "/sys/fs/cgroup";

/// The cgroup a build's step containers are made beneath (the engine's `cgroupparent`), with a
/// limit on the processes of all of them together. The engine's build API takes memory and CPU
/// limits but no process limit; a parent's `pids.max` holds for everything beneath it.
pub struct BuildCgroup {
    /// `/berth-builds/<id>`, as the engine takes it.
    parent: String,
    /// The directories to remove once the build's containers are gone (the engine creates the
    /// ones of the other v1 controllers).
    dirs: Vec<PathBuf>,
}

impl BuildCgroup {
    /// Makes the cgroup for build `id` with at most `pids_max` processes, in the hierarchy the
    /// engine uses (`version` as its info gives it: "1" or "2"); the reason when it cannot.
    pub fn create(id: &str, version: &str, pids_max: u64) -> Result<BuildCgroup, String> {
        let parent = format!("/{BUILDS}/{id}");
        let root = Path::new(ROOT);
        let pids = match version {
            "1" => root.join("pids"),
            "2" => root.to_path_buf(),
            other => return Err(format!("the engine reports cgroup version {other:?}")),
        };
        let builds = pids.join(BUILDS);
        let unwritable = |e: std::io::Error| format!("cannot write {}: {e}", builds.display());
        std::fs::create_dir_all(&builds).map_err(unwritable)?;
        if version == "2" {
            // Children get a pids.max only where their parent hands the controller down.
            std::fs::write(builds.join("cgroup.subtree_control"), "+pids").map_err(unwritable)?;
        }
        let dir = builds.join(id);
        std::fs::create_dir(&dir).map_err(unwritable)?;
        let made = BuildCgroup {
            dirs: match version {
                "1" => v1_hierarchies(root).map(|h| h.join(&parent[1..])).collect(),
                _ => vec![dir.clone()],
            },
            parent,
        };
        std::fs::write(dir.join("pids.max"), pids_max.to_string()).map_err(unwritable)?;
        Ok(made)
    }

    pub fn parent(&self) -> &str {
        &self.parent
    }
}

impl Drop for BuildCgroup {
    /// Removes the directories once they are empty: the engine removes a cancelled build's
    /// containers shortly after the request ends, so this retries for a while. (Only a crash
    /// leaves empty ones behind; berth does not sweep them, as one could belong to another
    /// berth's build whose first step has not started.)
    fn drop(&mut self) {
        let mut dirs = std::mem::take(&mut self.dirs);
        let mut remove_empty = move || {
            dirs.retain(|dir| match std::fs::remove_dir(dir) {
                Err(e) => e.kind() != std::io::ErrorKind::NotFound,
                Ok(()) => false,
            });
            dirs.is_empty()
        };
        // A finished build's containers are already gone.
        if remove_empty() {
            return;
        }
        // A thread of its own, so that the retries outlast the runtime that dropped this.
        std::thread::spawn(move || {
            for _ in 0..120 {
                std::thread::sleep(std::time::Duration::from_secs(1));
                if remove_empty() {
                    return;
                }
            }
            tracing::warn!("a build's cgroup is still in use after 2 minutes");
        });
    }
}

/// The mounted v1 hierarchies (`/sys/fs/cgroup/memory`, `…/pids`, …).
fn v1_hierarchies(root: &Path) -> impl Iterator<Item = PathBuf> {
    std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.join("cgroup.procs").exists() && path != Path::new(ROOT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counter_is_found_under_either_cgroup_version() {
        let v1 = "9:name=systemd:/docker/abc\n4:memory:/docker/abc\n0::/docker/abc\n";
        assert_eq!(
            counter_file(v1).as_deref(),
            Some("/sys/fs/cgroup/memory/docker/abc/memory.oom_control")
        );
        let v2 = "0::/system.slice/docker-abc.scope\n";
        assert_eq!(
            counter_file(v2).as_deref(),
            Some("/sys/fs/cgroup/system.slice/docker-abc.scope/memory.events")
        );
        let oom_control = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(oom_kill_count(oom_control), Some(3));
        let events = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(oom_kill_count(events), Some(2));
        assert_eq!(oom_kill_count("oom_group_kill 1\n"), None);
    }
}
