//! A container's memory cgroup, read from the host: how many times the kernel's OOM killer has
//! killed a process in it. Readable only where berth sees the engine's processes (a local
//! engine, berth in the host's PID namespace).

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
