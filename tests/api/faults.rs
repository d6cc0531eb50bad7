//! Faults with real parts: a Docker engine of the test's own, killed with SIGKILL and started
//! again while sessions stream through berth.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{
    close_kib, eventually, processes_matching, settled, spawn_app_with, Frame, RemoveOnDrop,
    ServerProcess, IMAGE, TEST_POSTGRES,
};

/// A `dockerd` of the test's own: its own socket, data and state, in a network namespace of
/// its own (`unshare --net`; a daemon without a bridge deletes the host's `docker0` otherwise),
/// so it touches nothing of the machine's engine. The test image is loaded into it.
struct ScratchEngine {
    dir: tempfile::TempDir,
    daemon: Option<Child>,
}

impl ScratchEngine {
    fn start() -> ScratchEngine {
        let mut engine = ScratchEngine {
            dir: tempfile::tempdir().unwrap(),
            daemon: None,
        };
        engine.run();
        let mut save = Command::new("docker")
            .args(["save", IMAGE])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let loaded = Command::new("docker")
            .args(["-H", &engine.url(), "load", "-q"])
            .stdin(save.stdout.take().unwrap())
            .output()
            .unwrap();
        assert!(save.wait().unwrap().success());
        assert!(loaded.status.success(), "{loaded:?}");
        engine
    }

    fn url(&self) -> String {
        format!("unix://{}/docker.sock", self.dir.path().display())
    }

    /// Starts the daemon (again) and waits until it answers.
    fn run(&mut self) {
        let dir = self.dir.path();
        // The killed daemon's containerd died with it, but its pid may still be taken (by the
        // unreaped process), which would make the new daemon wait on it.
        let _ = std::fs::remove_file(dir.join("exec/containerd/containerd.pid"));
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let daemon = Command::new("unshare")
            .args(["--net", "dockerd", "--data-root"])
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .args(["-H", &self.url(), "--bridge", "none", "--iptables=false"])
            .args([
                "--ip6tables=false",
                "--containerd-namespace",
                "berth-scratch",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("dockerd starts");
        self.daemon = Some(daemon);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            let version = Command::new("docker")
                .args([
                    "-H",
                    &self.url(),
                    "version",
                    "--format",
                    "{{.Server.Version}}",
                ])
                .output()
                .unwrap();
            if version.status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let log = std::fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default();
        panic!("the scratch dockerd did not come up: {log}");
    }

    /// Kills the daemon with SIGKILL, as a crash would.
    fn kill(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
    }
}

impl Drop for ScratchEngine {
    fn drop(&mut self) {
        if self.daemon.is_some() {
            let _ = Command::new("docker")
                .args(["-H", &self.url(), "rm", "-f"])
                .args(self.containers())
                .output();
        }
        self.kill();
        // What the killed daemons left: their containers' shims.
        let _ = Command::new("pkill")
            .args(["-9", "-f"])
            .arg(self.dir.path())
            .status();
    }
}

impl ScratchEngine {
    fn containers(&self) -> Vec<String> {
        let out = Command::new("docker")
            .args(["-H", &self.url(), "ps", "-aq"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }
}

#[tokio::test]
async fn streams_end_unavailable_when_the_engine_dies_and_work_resumes_when_it_is_back() {
    let mut engine = ScratchEngine::start();
    let url = engine.url();
    let app = spawn_app_with(|s| s.docker_host = Some(url)).await;
    let student = app.new_user().await;
    // Made and started through berth, on the scratch engine (which removes it when it goes).
    let ticking =
        json!({"image": IMAGE, "cmd": ["sh", "-c", "while true; do echo tick; sleep 1; done"]});
    let container = app.running_container_with(&student, ticking).await;
    let mut ws = app.ws(&student.token).await;
    ws.exec(1, &container, &["sh", "-c", "echo ready; sleep 600"], false)
        .await;
    ws.read_until(1, "ready").await;
    ws.send(json!({"type": "logs", "stream": 2, "container": container, "follow": true}))
        .await;
    ws.read_until(2, "tick").await;
    assert_eq!(app.get("/readyz", None).await.status(), 200);

    engine.kill();
    let killed = Instant::now();
    let mut ended = std::collections::HashMap::new();
    while ended.len() < 2 {
        match ws.next_within(Duration::from_secs(20)).await {
            Some(Frame::Json(message)) if message["stream"] == 1 || message["stream"] == 2 => {
                if ["exit", "end", "error"].contains(&message["type"].as_str().unwrap()) {
                    ended.insert(message["stream"].as_u64().unwrap(), message);
                }
            }
            Some(Frame::Closed(reason)) => panic!("the session closed: {reason:?}"),
            Some(_) => {}
            None => panic!("the streams did not end: {ended:?}"),
        }
    }
    for (stream, message) in &ended {
        assert_eq!(message["type"], "error", "stream {stream}: {message}");
        assert_eq!(message["code"], "unavailable", "stream {stream}: {message}");
    }
    assert!(
        killed.elapsed() < Duration::from_secs(10),
        "{:?}",
        killed.elapsed()
    );
    // The session stays open, and /readyz says what is wrong.
    ws.send(json!({"type": "ping", "t": 1})).await;
    assert_eq!(ws.next_json().await["type"], "pong");
    let readyz = app.get("/readyz", None).await;
    assert_eq!(readyz.status(), 503);
    let body: serde_json::Value = readyz.json().await.unwrap();
    assert_eq!(body["docker"]["status"], "unreachable", "{body}");

    // Back: new work goes through on the same berth, without a restart.
    engine.run();
    let mut ready = false;
    for _ in 0..100 {
        if app.get("/readyz", None).await.status() == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ready, "/readyz never recovered");
    let again = app
        .running_container_with(&student, json!({"image": IMAGE, "cmd": ["sleep", "600"]}))
        .await;
    ws.exec(3, &again, &["echo", "after the restart"], false)
        .await;
    let out = ws.collect(3).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "after the restart\n");
    assert_eq!(out.code, Some(0));
}

#[tokio::test]
async fn berth_killed_with_sigkill_finds_everything_again() {
    let mut server = ServerProcess::start(&[]).await;
    let teacher = server.account_with_role("crashteacher", "teacher").await;
    let student = server.account("crashstudent").await;
    let container = server.container(&student, &["sleep", "3600"]).await;
    let _cleanup = RemoveOnDrop(container.clone());
    let template = server
        .post(
            "/templates",
            &teacher,
            json!({"name": "crash-sh", "image": IMAGE, "run": {".sh": ["sh", "{file}"]}}),
        )
        .await;
    assert_eq!(template.status(), 201);
    let template: serde_json::Value = template.json().await.unwrap();
    let workspace = server
        .post("/workspaces", &student, json!({"template": template["id"]}))
        .await;
    assert_eq!(workspace.status(), 201);
    let workspace: serde_json::Value = workspace.json().await.unwrap();
    let workspace = workspace["id"].as_str().unwrap().to_string();
    let _workspace_cleanup = RemoveOnDrop(format!("berth-ws-{workspace}"));
    let mut ws = server.ws(&student).await;
    ws.send(json!({"type": "exec", "stream": 1, "workspace": workspace,
                   "cmd": ["sh", "-c", "echo kept > /workspace/kept.txt"]}))
        .await;
    assert_eq!(ws.collect(1).await.code, Some(0));
    // A shell the crash cuts off, which the crashed berth cannot kill.
    ws.exec(
        2,
        &container,
        &["sh", "-c", "echo ready; sleep 5151"],
        false,
    )
    .await;
    ws.read_until(2, "ready").await;
    let running = eventually(Duration::from_secs(3), || {
        !processes_matching(&container, "sleep 5151").is_empty()
    })
    .await;
    assert!(running.is_some(), "the sleep never ran");
    let before = (
        server.get("/containers", &student).await,
        server.get("/workspaces", &student).await,
        server.get("/templates", &student).await,
    );

    server.crash_and_restart(&[]).await;
    // What the crashed berth's sessions started is killed once it is back.
    let swept = eventually(Duration::from_secs(10), || {
        processes_matching(&container, "sleep 5151").is_empty()
    })
    .await;
    assert!(swept.is_some(), "the cut-off exec outlived the crash");

    // The same token works; everything recorded is there, the same.
    let after = (
        server.get("/containers", &student).await,
        server.get("/workspaces", &student).await,
        server.get("/templates", &student).await,
    );
    let ids = |list: &serde_json::Value| -> Vec<String> {
        let mut ids: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&before.0), ids(&after.0));
    assert!(ids(&after.0).contains(&container));
    assert_eq!(ids(&before.1), ids(&after.1));
    assert_eq!(ids(&before.2), ids(&after.2));
    // And works: a new session reads the file written before the crash.
    let mut ws = server.ws(&student).await;
    ws.send(json!({"type": "exec", "stream": 1, "workspace": workspace,
                   "cmd": ["cat", "/workspace/kept.txt"]}))
        .await;
    assert_eq!(
        String::from_utf8_lossy(&ws.collect(1).await.stdout),
        "kept\n"
    );
}

/// One frame a fuzzing client sends: JSON that is nearly right, wrong or hostile, or a binary
/// frame with any header.
fn fuzz_frame(rng: &mut rand::rngs::StdRng) -> tokio_tungstenite::tungstenite::Message {
    use rand::Rng;
    use tokio_tungstenite::tungstenite::Message;
    const TYPES: &[&str] = &[
        "exec",
        "run",
        "resize",
        "eof",
        "cancel",
        "pause",
        "resume",
        "ack",
        "logs",
        "stats",
        "ping",
        "attendance.watch",
        "attendance.checkin",
        "nope",
        "",
    ];
    let value = |rng: &mut rand::rngs::StdRng| -> serde_json::Value {
        match rng.gen_range(0..10) {
            0 => json!(rng.gen::<u64>()),
            1 => json!(-rng.gen::<i64>().abs()),
            2 => json!(1e308),
            3 => json!("x".repeat(rng.gen_range(0..2000))),
            4 => json!([1, "a", null, {"b": []}]),
            5 => json!({"nested": {"deeper": [true]}}),
            6 => serde_json::Value::Null,
            7 => json!(rng.gen_range(0..300)),
            8 => json!(["sh", "-c", "echo x"]),
            _ => json!(rng.gen::<bool>()),
        }
    };
    match rng.gen_range(0..8) {
        // A message of a real type with fields of any type.
        0..=2 => {
            let mut message = serde_json::Map::new();
            message.insert("type".into(), json!(TYPES[rng.gen_range(0..TYPES.len())]));
            for field in [
                "stream",
                "container",
                "cmd",
                "cols",
                "rows",
                "bytes",
                "tail",
                "t",
            ] {
                if rng.gen_bool(0.5) {
                    message.insert(field.into(), value(rng));
                }
            }
            Message::text(serde_json::Value::Object(message).to_string())
        }
        // Nesting far deeper than any parser should follow.
        3 => {
            let depth = rng.gen_range(100..20_000);
            Message::text(format!("{}{}", "[".repeat(depth), "]".repeat(depth)))
        }
        // Huge numbers and odd literals where ids go.
        4 => Message::text(format!(
            r#"{{"type":"resize","stream":{},"cols":1e999,"rows":-0}}"#,
            ["18446744073709551616", "-1", "1.5", "\"1\"", "[]"][rng.gen_range(0..5)]
        )),
        // A valid message with bytes flipped.
        5 => {
            let mut text = json!({"type": "ping", "t": rng.gen::<u32>()})
                .to_string()
                .into_bytes();
            for _ in 0..rng.gen_range(1..4) {
                let at = rng.gen_range(0..text.len());
                text[at] = rng.gen_range(0x20..0x7f);
            }
            Message::text(String::from_utf8(text).unwrap())
        }
        // Binary frames with any header, any length.
        _ => {
            let len = rng.gen_range(0..64);
            Message::binary((0..len).map(|_| rng.gen::<u8>()).collect::<Vec<u8>>())
        }
    }
}

#[tokio::test]
async fn a_hundred_thousand_hostile_frames_break_nothing() {
    use futures_util::{SinkExt, StreamExt};
    use rand::SeedableRng;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    const SESSIONS: usize = 8;
    const FRAMES: usize = 100_000;
    let mut server = ServerProcess::start_logging(&[]).await;
    let token = server.account("fuzzer").await;
    let connect = || async {
        let mut request = format!("ws://{}/api/v1/ws", server.address)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        tokio_tungstenite::connect_async(request).await.unwrap().0
    };
    // Warm up, then measure where memory stands.
    for _ in 0..SESSIONS {
        let mut socket = connect().await;
        let _ = socket.close(None).await;
    }
    let before = settled(Duration::from_secs(5), || server.rss_kib(), close_kib).await;

    let mut sessions = Vec::new();
    for n in 0..SESSIONS {
        let socket = connect().await;
        sessions.push(tokio::spawn(async move {
            let (mut sink, mut stream) = socket.split();
            // Everything the server says is read, as a client must.
            let reader = tokio::spawn(async move {
                let mut frames = 0usize;
                while let Some(Ok(_)) = stream.next().await {
                    frames += 1;
                }
                frames
            });
            let mut rng = rand::rngs::StdRng::seed_from_u64(n as u64);
            for _ in 0..FRAMES / SESSIONS {
                sink.send(fuzz_frame(&mut rng))
                    .await
                    .expect("the session stays open");
            }
            // A valid request is still answered.
            sink.send(tokio_tungstenite::tungstenite::Message::text(
                json!({"type": "ping", "t": "after"}).to_string(),
            ))
            .await
            .unwrap();
            (sink, reader)
        }));
    }
    let mut open = Vec::new();
    for session in sessions {
        open.push(session.await.unwrap());
    }
    // Each session is still alive and answers.
    let mut ws = server.ws(&token).await;
    ws.send(json!({"type": "ping", "t": 1})).await;
    assert_eq!(ws.next_json().await, json!({"type": "pong", "t": 1}));
    for (mut sink, reader) in open {
        let _ = sink.close().await;
        let frames = reader.await.unwrap();
        assert!(frames > 100, "the server answered only {frames} frames");
    }
    ws.close().await;
    let mut after = server.rss_kib();
    for _ in 0..20 {
        if after < before + 16 * 1024 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        after = server.rss_kib();
    }
    assert!(
        after < before + 16 * 1024,
        "memory went from {before} KiB to {after} KiB"
    );
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server exited"
    );
    let log = server.stop_and_read_log();
    assert!(!log.contains("panicked"), "{log}");
    eprintln!("fuzz: {FRAMES} frames; memory {before} KiB before, {after} KiB after");
}

/// Open file descriptors of a process.
/// A process's open descriptors: those of its database connections (SQLite's files, sockets to
/// the test PostgreSQL), which its pool opens as it needs them up to its size, and the others.
struct Fds {
    database: usize,
    other: usize,
}

fn open_fds(pid: u32) -> Fds {
    let to_postgres = sockets_to_postgres(pid);
    let mut fds = Fds {
        database: 0,
        other: 0,
    };
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return fds;
    };
    for fd in dir.flatten() {
        let target = std::fs::read_link(fd.path()).unwrap_or_default();
        let target = target.to_string_lossy();
        let sqlite = target.contains("/berth.db");
        let inode = target
            .strip_prefix("socket:[")
            .and_then(|s| s.strip_suffix(']'));
        if sqlite || inode.is_some_and(|i| to_postgres.iter().any(|p| p == i)) {
            fds.database += 1;
        } else {
            fds.other += 1;
        }
    }
    fds
}

/// The inodes of `pid`'s TCP sockets to the test PostgreSQL's port.
fn sockets_to_postgres(pid: u32) -> Vec<String> {
    let port = TEST_POSTGRES
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(0);
    let remote = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9 && fields[2].ends_with(&remote) {
                inodes.push(fields[9].to_string());
            }
        }
    }
    inodes
}

/// Threads of a process, but its SQLite connections' (one each, opened as its pool needs).
fn threads(pid: u32) -> usize {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|task| {
            let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            !name.starts_with("sqlx-sqlite")
        })
        .count()
}

/// Connect, exec, disconnect, many times (`BERTH_CYCLES`, 300 by default; `scripts/soak.sh`
/// runs 10,000): nothing is left running, and berth's descriptors, threads and memory come
/// back to where they were.
#[tokio::test]
async fn connect_exec_disconnect_cycles_leave_nothing_behind() {
    let cycles: usize = std::env::var("BERTH_CYCLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let server = ServerProcess::start(&[]).await;
    let token = server.account("cycler").await;
    let container = server.container(&token, &["sleep", "36000"]).await;
    let _cleanup = RemoveOnDrop(container.clone());
    let pid = server.child.id();
    let cycle = |n: usize| {
        let (server, token, container) = (&server, &token, &container);
        async move {
            let mut ws = server.ws(token).await;
            let cmd = format!("echo ready; sleep 7{n:06}");
            ws.exec(1, container, &["sh", "-c", &cmd], false).await;
            ws.read_until(1, "ready").await;
            if n == 0 {
                let running = eventually(Duration::from_secs(3), || {
                    !processes_matching(container, "sleep 7000000").is_empty()
                })
                .await;
                assert!(running.is_some(), "the first cycle's sleep never ran");
            }
            // Every other client leaves without a word, as a closed tab does.
            if n.is_multiple_of(2) {
                ws.close_and_wait().await;
            } else {
                ws.abandon();
            }
        }
    };
    for n in 0..20 {
        cycle(n).await;
    }
    // The database's descriptors are bounded by the pool (checked below), not by the cycles.
    let measure = || (open_fds(pid).other, threads(pid), server.rss_kib());
    let steady = |a: &(usize, usize, u64), b: &(usize, usize, u64)| {
        a.0 == b.0 && a.1 == b.1 && close_kib(&a.2, &b.2)
    };
    let (fds, tasks, memory) = settled(Duration::from_secs(5), measure, steady).await;
    let start = Instant::now();
    for n in 20..cycles + 20 {
        cycle(n).await;
    }
    let took = start.elapsed();
    let left = eventually(Duration::from_secs(10), || {
        processes_matching(&container, "sleep 7").is_empty()
    })
    .await;
    assert!(
        left.is_some(),
        "left running: {:?}",
        processes_matching(&container, "sleep 7")
    );
    let (fds_after, tasks_after, memory_after) =
        settled(Duration::from_secs(5), measure, steady).await;
    eprintln!(
        "cycles: {cycles} in {took:?} ({:?} each); fds {fds} -> {fds_after}, threads {tasks} -> \
         {tasks_after}, memory {memory} -> {memory_after} KiB",
        took / cycles as u32
    );
    assert!(fds_after <= fds + 4, "descriptors {fds} -> {fds_after}");
    // At most the pool's connections (SQLite: 8, each its file, WAL and shared memory; or
    // PostgreSQL: 16, and the listener's and the leader's own).
    let database = open_fds(pid).database;
    eprintln!("database descriptors: {database}");
    assert!(
        database <= 24,
        "{database} descriptors of database connections"
    );
    assert!(tasks_after <= tasks + 2, "threads {tasks} -> {tasks_after}");
    assert!(
        memory_after < memory + 16 * 1024,
        "memory {memory} -> {memory_after} KiB"
    );
}
