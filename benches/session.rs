//! Session benchmarks, side by side with Docker used directly, in one run. Writes
//! docs/benchmarks.md. Run with `scripts/bench.sh` (it prepares the engine and the test image).
//!
//! Sizes can be lowered for a quick look: BENCH_CAT_MIB, BENCH_ECHO_SAMPLES, BENCH_SESSIONS,
//! BENCH_CLOSE_SAMPLES, BENCH_STUDENTS, BENCH_LOAD_MIB, BENCH_RUNS, BENCH_FILES, BENCH_CLASS,
//! BENCH_WATCHERS, BENCH_WATCH_SAMPLES, BENCH_FLOOD_MB. BENCH_ONLY=ui (or =class, =watch) runs only the browser
//! (or the class hands in, the class watching one terminal) section and prints it;
//! BENCH_ONLY=sessions (or =replicas) runs the idle sessions (or the two sections on three
//! replicas) and writes them into docs/benchmarks.md in place of the last run's.

#[path = "session/classroom.rs"]
mod classroom;
#[allow(dead_code)]
#[path = "../tests/api/helpers.rs"]
mod helpers;
#[path = "session/replicas.rs"]
mod replicas;
#[path = "session/watchers.rs"]
mod watchers;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bollard::exec::CreateExecOptions;
use futures_util::StreamExt;
use helpers::{Frame, RemoveOnDrop, ServerProcess, ENGINE2_TLS, ENGINE2_TLS_DIR};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() {
    let cat_mib = env_or("BENCH_CAT_MIB", 256);
    let echo_samples = env_or("BENCH_ECHO_SAMPLES", 2000);
    let sessions = env_or("BENCH_SESSIONS", 10_000);
    let close_samples = env_or("BENCH_CLOSE_SAMPLES", 20);
    let students = env_or("BENCH_STUDENTS", 500);
    let load_mib = env_or("BENCH_LOAD_MIB", 500);
    let runs = env_or("BENCH_RUNS", 200);
    let files = env_or("BENCH_FILES", 1000);
    let class = env_or("BENCH_CLASS", 30);
    let watching = env_or("BENCH_WATCHERS", 500);
    let watch_samples = env_or("BENCH_WATCH_SAMPLES", 200);
    if std::env::var("BENCH_ONLY").as_deref() == Ok("class") {
        println!("{}", classroom::class_submissions(class).await);
        return;
    }
    let replica_students = env_or("BENCH_REPLICA_STUDENTS", 2000);
    let failover_terminals = env_or("BENCH_FAILOVER_TERMINALS", 50);
    // BENCH_ONLY=replicas: the two sections on three replicas, written into docs/benchmarks.md
    // in place of the last run's (they need PostgreSQL, and take a few minutes of their own).
    if std::env::var("BENCH_ONLY").as_deref() == Ok("replicas") {
        let docker = bollard::Docker::connect_with_defaults().unwrap();
        let sections = [
            replicas::check_ins(replica_students, Duration::from_secs(60)).await,
            replicas::failover(failover_terminals, &docker).await,
        ];
        for section in &sections {
            println!("{section}");
        }
        replace_sections(&sections, "replicas");
        return;
    }
    // BENCH_ONLY=sessions: the idle-sessions section alone, written in place of the last run's.
    if std::env::var("BENCH_ONLY").as_deref() == Ok("sessions") {
        let server =
            ServerProcess::start(&[("BERTH_SESSION__MAX_SESSIONS_PER_USER", "100000")]).await;
        let token = server.account("bench").await;
        let on_sqlite = idle_sessions(&server, &token, sessions).await;
        drop(server);
        let on_postgres = idle_sessions_on_postgres(sessions).await;
        let section = idle_sessions_section(
            sessions,
            &[("SQLite", on_sqlite), ("PostgreSQL", on_postgres)],
        );
        println!("{section}");
        replace_sections(&[section], "sessions");
        return;
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("watch") {
        println!(
            "{}",
            watchers::shared_terminal(watching, watch_samples).await
        );
        return;
    }

    // One account holds the idle sessions below, past the per-user cap of a real site.
    let server = ServerProcess::start(&[("BERTH_SESSION__MAX_SESSIONS_PER_USER", "100000")]).await;
    let token = server.account("bench").await;
    let container = server.container(&token, &["sleep", "3600"]).await;
    let _cleanup = RemoveOnDrop(container.clone());
    let docker = bollard::Docker::connect_with_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .unwrap();

    // BENCH_ONLY=ui: the browser section alone, printed, for a quick look while working on it.
    if std::env::var("BENCH_ONLY").as_deref() == Ok("ui") {
        println!("{}", ui_in_chromium(&server, &token).await);
        return;
    }
    let mut report = Vec::new();
    report.push(throughput(&server, &token, &container, cat_mib, &[]).await);
    report.push(tls_throughput(&server, &token, cat_mib).await);
    report.push(echo(&server, &token, &container, &docker, echo_samples).await);
    report.push(close_to_gone(&server, &token, &container, &docker, close_samples).await);
    report.push(workspaces(&server, &docker, runs, files).await);
    report.push(ui_bundle());
    report.push(ui_in_chromium(&server, &token).await);
    let on_sqlite = idle_sessions(&server, &token, sessions).await;
    drop(server);
    let on_postgres = idle_sessions_on_postgres(sessions).await;
    report.push(idle_sessions_section(
        sessions,
        &[("SQLite", on_sqlite), ("PostgreSQL", on_postgres)],
    ));
    report.push(attendance_rush(students).await);
    report.push(image_load(load_mib).await);
    report.push(classroom::class_submissions(class).await);
    report.push(watchers::shared_terminal(watching, watch_samples).await);
    report.push(replicas::check_ins(replica_students, Duration::from_secs(60)).await);
    report.push(replicas::failover(failover_terminals, &docker).await);
    let defaults = cat_mib == 256
        && echo_samples == 2000
        && sessions == 10_000
        && close_samples == 20
        && students == 500
        && load_mib == 500
        && runs == 200
        && files == 1000
        && class == 30
        && watching == 500
        && watch_samples == 200
        && replica_students == 2000
        && failover_terminals == 50;
    write_report(&report, defaults);
}

/// `cat` through a container on the test set-up's second engine, reached over TLS with client
/// certificates: berth's TLS path against the docker CLI's.
async fn tls_throughput(server: &ServerProcess, token: &str, mib: usize) -> String {
    let admin = server.account_with_role("bench-admin", "admin").await;
    let pem = |file: &str| format!("{ENGINE2_TLS_DIR}/{file}");
    let read = |file: &str| std::fs::read_to_string(pem(file)).unwrap();
    let host = json!({"name": "tls-bench", "url": ENGINE2_TLS,
                      "tls": {"ca": read("ca.pem"), "cert": read("cert.pem"), "key": read("key.pem")}});
    assert_eq!(server.post("/hosts", &admin, host).await.status(), 201);
    let spec = json!({"image": helpers::IMAGE, "cmd": ["sleep", "3600"], "host": "tls-bench"});
    let container = server.container_with(token, spec).await;
    let cli = [
        "-H".to_string(),
        ENGINE2_TLS.to_string(),
        "--tlsverify".to_string(),
        format!("--tlscacert={}", pem("ca.pem")),
        format!("--tlscert={}", pem("cert.pem")),
        format!("--tlskey={}", pem("key.pem")),
    ];
    let measured = throughput(server, token, &container, mib, &cli).await;
    let _ = Command::new("docker")
        .args(&cli)
        .args(["rm", "-f", &container])
        .output();
    measured.replacen(
        "## Exec throughput\n\n",
        "## Exec throughput on a TLS host\n\nThe same, on a second engine reached over TCP with TLS client certificates (berth's own TLS connections against the docker CLI's).\n\n",
        1,
    )
}

/// `cat` of a file through berth to a WebSocket client, against `docker exec` directly (the
/// CLI given `cli` before its command, to reach the container's engine).
async fn throughput(
    server: &ServerProcess,
    token: &str,
    container: &str,
    mib: usize,
    cli: &[String],
) -> String {
    let mut ws = server.ws(token).await;
    let make = format!("head -c {} /dev/urandom > /tmp/blob", mib << 20);
    ws.exec(1, container, &["sh", "-c", &make], false).await;
    assert_eq!(ws.collect(1).await.code, Some(0));
    let bytes = (mib << 20) as u64;

    let mut berth = Vec::new();
    let mut direct = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        ws.exec(2, container, &["cat", "/tmp/blob"], false).await;
        let mut received = 0u64;
        loop {
            match ws.next().await {
                Frame::Bytes(2, 1, b) => received += b.len() as u64,
                Frame::Json(v) if v["type"] == "exit" => break,
                Frame::Closed(r) => panic!("closed: {r:?}"),
                _ => {}
            }
        }
        assert_eq!(received, bytes);
        berth.push(start.elapsed().as_secs_f64());

        let start = Instant::now();
        let mut child = Command::new("docker")
            .args(cli)
            .args(["exec", container, "cat", "/tmp/blob"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let mut received = 0u64;
        loop {
            let n = out.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            received += n as u64;
        }
        child.wait().unwrap();
        assert_eq!(received, bytes);
        direct.push(start.elapsed().as_secs_f64());
    }
    let (b, d) = (median(&mut berth), median(&mut direct));
    let mibps = |s: f64| mib as f64 / s;
    format!(
        "## Exec throughput\n\n`cat` of {mib} MiB of random bytes from a container, read to the end by the client (median of 3 runs).\n\n\
         | path | time | throughput |\n|---|---|---|\n\
         | berth (WebSocket client, binary frames) | {b:.2} s | {:.0} MiB/s |\n\
         | `docker exec` directly (CLI, stdout pipe) | {d:.2} s | {:.0} MiB/s |\n\n\
         **Ratio berth / direct: {:.2}** (target ≥ 0.9)\n",
        mibps(b),
        mibps(d),
        d / b
    )
}

/// Keystroke round trip through a TTY exec: one byte to `cat` in raw mode and back.
async fn echo(
    server: &ServerProcess,
    token: &str,
    container: &str,
    docker: &bollard::Docker,
    samples: usize,
) -> String {
    let cmd = ["sh", "-c", "stty raw -echo; exec cat"];
    let mut ws = server.ws(token).await;
    ws.exec(3, container, &cmd, true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut berth = Vec::new();
    for i in 0..samples + 50 {
        let start = Instant::now();
        ws.stdin(3, b"k").await;
        loop {
            if let Frame::Bytes(3, 1, b) = ws.next().await {
                if b.contains(&b'k') {
                    break;
                }
            }
        }
        if i >= 50 {
            berth.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    }
    ws.send(json!({"type": "cancel", "stream": 3})).await;

    // The same through Docker's own attach (the exec's hijacked connection), no berth between.
    let exec = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                tty: Some(true),
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let version = docker.client_version();
    let endpoint = berth::docker::endpoint::Endpoint::resolve(None, None).unwrap();
    let (mut output, mut input) = berth::docker::tty::start(
        &endpoint,
        &format!("{}.{}", version.major_version, version.minor_version),
        &exec.id,
        64 * 1024,
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut direct = Vec::new();
    for i in 0..samples + 50 {
        let start = Instant::now();
        input.write_all(b"k").await.unwrap();
        input.flush().await.unwrap();
        loop {
            let chunk = output.next().await.unwrap().unwrap();
            if chunk.into_bytes().contains(&b'k') {
                break;
            }
        }
        if i >= 50 {
            direct.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    }
    input.write_all(b"\x04").await.ok();
    drop(input);

    berth.sort_by(|a, b| a.partial_cmp(b).unwrap());
    direct.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!(
        "## Keystroke echo round trip\n\nOne byte typed into `cat` running in a raw-mode TTY exec, until it comes back ({samples} samples after 50 warm-up).\n\n\
         | path | p50 | p99 |\n|---|---|---|\n\
         | berth (WebSocket → berth → Docker) | {:.3} ms | {:.3} ms |\n\
         | Docker attach directly (hijacked exec connection) | {:.3} ms | {:.3} ms |\n\n\
         **p99 difference: {:.3} ms** (target: within 2 ms)\n",
        percentile(&berth, 0.5),
        percentile(&berth, 0.99),
        percentile(&direct, 0.5),
        percentile(&direct, 0.99),
        percentile(&berth, 0.99) - percentile(&direct, 0.99)
    )
}

/// Time from the client closing its socket to the exec'd process being gone from the container.
async fn close_to_gone(
    server: &ServerProcess,
    token: &str,
    container: &str,
    docker: &bollard::Docker,
    samples: usize,
) -> String {
    let running = |needle: String| async move {
        let top = docker
            .top_processes(container, None::<bollard::query_parameters::TopOptions>)
            .await
            .unwrap();
        top.processes
            .unwrap_or_default()
            .iter()
            .any(|p| p.iter().any(|col| col.contains(&needle)))
    };
    let mut times = Vec::new();
    for i in 0..samples {
        let needle = format!("sleep 77{i:03}");
        let mut ws = server.ws(token).await;
        ws.exec(1, container, &["sleep", &needle[6..]], false).await;
        while !running(needle.clone()).await {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let start = Instant::now();
        ws.close().await;
        while running(needle.clone()).await {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!(
        "## Client close to process gone\n\nA client closes its WebSocket while `sleep` runs in an exec; time until `docker top` no longer lists it ({samples} samples, polled every 5 ms).\n\n\
         | p50 | max |\n|---|---|\n| {:.0} ms | {:.0} ms |\n\n(target ≤ 1 s)\n",
        percentile(&times, 0.5),
        times[times.len() - 1]
    )
}

/// The UI's bundle as the server embeds it: bytes, and bytes gzipped (as the server sends it to
/// a browser that accepts gzip), and which files the sign-in page loads (the rest are chunks a
/// page loads when first opened).
fn ui_bundle() -> String {
    let dist = concat!(env!("CARGO_MANIFEST_DIR"), "/static/dist");
    let app = std::fs::read_to_string(format!("{dist}/app.js")).unwrap_or_default();
    let mut files = vec![
        "index.html".to_string(),
        "app.css".to_string(),
        "app.js".to_string(),
    ];
    let mut chunks: Vec<String> = std::fs::read_dir(format!("{dist}/chunks"))
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| format!("chunks/{}", e.file_name().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default();
    chunks.sort();
    files.extend(chunks);
    let (mut rows, mut first_raw, mut first_gzip, mut all_gzip) = (String::new(), 0, 0, 0);
    for file in &files {
        let path = format!("{dist}/{file}");
        let raw = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let gzip = Command::new("sh")
            .args(["-c", &format!("gzip -c {path} | wc -c")])
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0);
        // The sign-in page loads the page, app.css, app.js and what app.js imports statically.
        let at_sign_in = !file.starts_with("chunks/") || app.contains(&format!("from\"./{file}\""));
        if at_sign_in {
            first_raw += raw;
            first_gzip += gzip;
        }
        all_gzip += gzip;
        rows.push_str(&format!(
            "| `{file}` | {} | {:.1} KiB | {:.1} KiB |\n",
            if at_sign_in { "sign-in" } else { "when opened" },
            raw as f64 / 1024.0,
            gzip as f64 / 1024.0
        ));
    }
    format!(
        "## Browser UI bundle\n\nThe files berth embeds from `static/dist` (esbuild, minified, split: xterm.js, CodeMirror with its Python and C grammars, and uPlot are chunks that the terminal, IDE and stats pages load when first opened). The server gzips them for browsers that accept it.\n\n\
         | file | loaded | size | gzip |\n|---|---|---|---|\n{rows}\n\
         **The sign-in page loads {:.1} KiB ({:.1} KiB gzipped)**; everything together is {:.1} KiB gzipped.\n",
        first_raw as f64 / 1024.0,
        first_gzip as f64 / 1024.0,
        all_gzip as f64 / 1024.0,
    )
}

/// The UI in Debian's Chromium (static/bench/ui.mjs): time to interactive, echo under a `yes`
/// flood with the server's memory sampled meanwhile, and a million log lines, beside the docker
/// CLI reading the same log.
async fn ui_in_chromium(server: &ServerProcess, token: &str) -> String {
    const LINES: &str = "1000000";
    let terminal = server.container(token, &["sleep", "3600"]).await;
    let _terminal = RemoveOnDrop(terminal.clone());
    let logs = server
        .container(token, &["sh", "-c", &format!("seq 1 {LINES}; sleep 3600")])
        .await;
    let _logs = RemoveOnDrop(logs.clone());
    let docker_logs = |args: &[&str]| {
        let started = Instant::now();
        let out = Command::new("docker")
            .arg("logs")
            .args(args)
            .arg(&logs)
            .stderr(Stdio::null())
            .output()
            .unwrap();
        (started.elapsed().as_secs_f64(), out.stdout)
    };
    while String::from_utf8_lossy(&docker_logs(&["--tail", "1"]).1).trim() != LINES {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let direct_all = docker_logs(&[]).0;
    let direct_tail = docker_logs(&["--tail", "10000"]).0;
    let name = |id: String| async move {
        let view = server.get(&format!("/containers/{id}"), token).await;
        view["name"].as_str().unwrap().to_string()
    };
    let (terminal_name, logs_name) = (name(terminal).await, name(logs).await);
    let root = env!("CARGO_MANIFEST_DIR");
    let mut node = tokio::process::Command::new("node")
        .arg("bench/ui.mjs")
        .current_dir(format!("{root}/static"))
        .envs([
            ("BERTH_URL", format!("http://{}/", server.address)),
            ("BERTH_USER", "bench".to_string()),
            ("BERTH_PASSWORD", helpers::PASSWORD.to_string()),
            ("BERTH_TERMINAL", terminal_name),
            ("BERTH_LOGS", logs_name),
            ("LINES", LINES.to_string()),
            ("SHOTS", format!("{root}/target/browser/bench")),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs (scripts/setup.sh installs the UI's packages)");
    let mut stdout = node.stdout.take().unwrap();
    let said = tokio::spawn(async move {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out).await;
        out
    });
    // The server's memory, sampled until the script ends: (Unix ms, KiB).
    let mut rss = Vec::new();
    let status = loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        rss.push((now, server.rss_kib()));
        tokio::select! {
            status = node.wait() => break status.unwrap(),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    };
    let out = said.await.unwrap();
    let Some(r) = out
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|_| status.success())
    else {
        return format!("## Browser UI in Chromium\n\nThe script failed ({status}): {out}\n");
    };
    let (start, end) = (
        r["flood_start"].as_u64().unwrap(),
        r["flood_end"].as_u64().unwrap(),
    );
    let before = rss
        .iter()
        .filter(|(t, _)| *t < start)
        .map(|(_, kib)| *kib)
        .next_back()
        .unwrap_or(0);
    let during: Vec<u64> = rss
        .iter()
        .filter(|(t, _)| (start..=end).contains(t))
        .map(|(_, kib)| *kib)
        .collect();
    let peak = during.iter().copied().max().unwrap_or(0);
    let last = during.last().copied().unwrap_or(0);
    let ms = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    format!(
        "## Browser UI in Chromium\n\n\
         Debian's Chromium (headless) driven by playwright-core (`static/bench/ui.mjs`), against the release server on this machine.\n\n\
         | what | p50 | max |\n|---|---|---|\n\
         | sign-in page: navigation to the form in the page (first visit, {rounds} rounds) | {:.0} ms | {:.0} ms |\n\
         | terminal: click on its link to the shell's prompt on screen ({rounds} rounds) | {:.0} ms | {:.0} ms |\n\n\
         ### Terminal flood\n\n\
         `Z` typed about 15 times a second into the browser's terminal, from the key event to its echo arriving in the page; at an idle prompt, then while `yes` floods the terminal for {flood} s (flow control on: the terminal asks for a 64 KiB window and xterm's write callbacks acknowledge what it has drawn).\n\n\
         | | samples | p50 | p99 |\n|---|---|---|---|\n\
         | idle prompt | {} | {:.1} ms | {:.1} ms |\n\
         | during the `yes` flood | {} | {:.1} ms | {:.1} ms |\n\n\
         Ctrl-C under the flood: `yes` for 1.5 s, then Ctrl-C, from the key event to the shell's prompt drawn on the screen ({} rounds). What the interrupted `yes` printed and the engine still held comes after the key: p50 {:.0} KiB, at most {:.0} KiB, all of it drawn before the prompt. For 200 ms after a Ctrl-C berth lifts the window, so that it comes at engine speed rather than a window per round trip.\n\n\
         | | p50 | p99 |\n|---|---|---|\n\
         | Ctrl-C to the prompt's bytes in the page | {:.1} ms | {:.1} ms |\n\
         | Ctrl-C to the prompt on the screen | {:.1} ms | {:.1} ms |\n\n\
         During the flood the terminal showed {:.1} MiB/s of `yes`; the tab's longest task was {:.0} ms ({} tasks over 50 ms). The server's resident memory (the same process served the sections above): {:.1} MiB before, {:.1} MiB at most during, {:.1} MiB at the end ({} samples, every 200 ms).\n\n\
         ### Logs of {LINES} lines\n\n\
         | path | time |\n|---|---|\n\
         | berth in Chromium: click to the first line painted | {:.0} ms |\n\
         | berth in Chromium: click to the last line on screen (opens on the last 10,000) | {:.0} ms |\n\
         | `docker logs --tail 10000` directly (CLI, to /dev/null) | {:.0} ms |\n\
         | berth in Chromium: \"All\" chosen to all {LINES} lines held (virtualized) | {:.1} s |\n\
         | `docker logs` of all lines directly (CLI, to /dev/null) | {:.1} s |\n",
        ms(&r["sign_in_ms"]["p50"]),
        ms(&r["sign_in_ms"]["max"]),
        ms(&r["terminal_ms"]["p50"]),
        ms(&r["terminal_ms"]["max"]),
        r["echo_idle_ms"]["n"],
        ms(&r["echo_idle_ms"]["p50"]),
        ms(&r["echo_idle_ms"]["p99"]),
        r["echo_flood_ms"]["n"],
        ms(&r["echo_flood_ms"]["p50"]),
        ms(&r["echo_flood_ms"]["p99"]),
        r["interrupt_ms"]["n"],
        ms(&r["interrupt_after_kib"]["p50"]),
        ms(&r["interrupt_after_kib"]["max"]),
        ms(&r["interrupt_arrived_ms"]["p50"]),
        ms(&r["interrupt_arrived_ms"]["p99"]),
        ms(&r["interrupt_ms"]["p50"]),
        ms(&r["interrupt_ms"]["p99"]),
        ms(&r["flood_mib_s"]),
        ms(&r["long_tasks"]["max_ms"]),
        r["long_tasks"]["count"],
        before as f64 / 1024.0,
        peak as f64 / 1024.0,
        last as f64 / 1024.0,
        during.len(),
        ms(&r["logs_first_paint_ms"]),
        ms(&r["logs_end_ms"]),
        direct_tail * 1000.0,
        ms(&r["logs_all_ms"]) / 1000.0,
        direct_all,
        rounds = 10,
        flood = 10,
    )
}

/// Milliseconds from sending a `run` to its first byte of output, and to its `exit`.
async fn timed_run(ws: &mut helpers::Ws, stream: u8, workspace: &str) -> (f64, f64) {
    let start = Instant::now();
    ws.send(json!({"type": "run", "stream": stream, "workspace": workspace, "path": "one.sh"}))
        .await;
    let mut first = None;
    loop {
        match ws.next().await {
            Frame::Bytes(s, _, _) if s == stream && first.is_none() => {
                first = Some(start.elapsed().as_secs_f64() * 1000.0)
            }
            Frame::Json(v) if v["stream"] == stream && v["type"] == "exit" => {
                assert_eq!(v["code"], 0, "{v}");
                let first = first.expect("the run printed");
                return (first, start.elapsed().as_secs_f64() * 1000.0);
            }
            Frame::Json(v) if v["stream"] == stream && v["type"] == "error" => panic!("{v}"),
            Frame::Closed(r) => panic!("closed: {r:?}"),
            _ => {}
        }
    }
}

/// The same command through the engine's API directly: create and start the exec, read its
/// output to the end, read its exit code.
async fn docker_exec(docker: &bollard::Docker, container: &str) -> f64 {
    let start = Instant::now();
    let exec = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(vec!["sh", "one.sh"]),
                user: Some("1000:1000"),
                working_dir: Some("/workspace"),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    if let bollard::exec::StartExecResults::Attached { mut output, .. } =
        docker.start_exec(&exec.id, None).await.unwrap()
    {
        while output.next().await.is_some() {}
    }
    assert_eq!(
        docker.inspect_exec(&exec.id).await.unwrap().exit_code,
        Some(0)
    );
    start.elapsed().as_secs_f64() * 1000.0
}

/// Workspaces: `run` against the engine's exec directly, cold starts, and the files API.
async fn workspaces(
    server: &ServerProcess,
    docker: &bollard::Docker,
    runs: usize,
    files: usize,
) -> String {
    let teacher = server.account_with_role("bench-teacher", "teacher").await;
    let template = json!({"name": "bench-sh", "image": helpers::IMAGE, "memory_mb": 256,
                          "run": {".sh": ["sh", "{file}"]}, "files": {"one.sh": "echo one\n"}});
    let response = server.post("/templates", &teacher, template).await;
    assert_eq!(response.status(), 201);
    let template: serde_json::Value = response.json().await.unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://{}/api/v1", server.address);

    // Cold start: a new workspace until the first output of its first run, five times.
    let mut cold = Vec::new();
    for i in 0..5 {
        let student = server.account(&format!("bench-cold-{i}")).await;
        let mut ws = server.ws(&student).await;
        let start = Instant::now();
        let made = server
            .post("/workspaces", &student, json!({"template": template["id"]}))
            .await;
        assert_eq!(made.status(), 201);
        let id = made.json::<serde_json::Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let created_ms = start.elapsed().as_secs_f64() * 1000.0;
        let (first, _) = timed_run(&mut ws, 1, &id).await;
        cold.push(created_ms + first);
        let _ = http
            .delete(format!("{base}/workspaces/{id}"))
            .bearer_auth(&student)
            .send()
            .await;
    }

    let student = server.account("bench-ws").await;
    let made = server
        .post("/workspaces", &student, json!({"template": template["id"]}))
        .await;
    let id = made.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let container = format!("berth-ws-{id}");
    let mut ws = server.ws(&student).await;
    let mut berth_ms = Vec::new();
    let mut direct_ms = Vec::new();
    for i in 0..runs + 10 {
        let (_, total) = timed_run(&mut ws, (i % 200 + 1) as u8, &id).await;
        let direct = docker_exec(docker, &container).await;
        if i >= 10 {
            berth_ms.push(total);
            direct_ms.push(direct);
        }
    }
    berth_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    direct_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());

    // Stopped (as culling leaves it) until the first output of the next run, five times.
    let mut culled = Vec::new();
    for i in 0..5 {
        let stopped = http
            .post(format!("{base}/workspaces/{id}/stop"))
            .bearer_auth(&student)
            .send()
            .await
            .unwrap();
        assert_eq!(stopped.status(), 200);
        let (first, _) = timed_run(&mut ws, 201 + i as u8, &id).await;
        culled.push(first);
    }

    // Files: write then read back small files through the API.
    let mut writes = Vec::new();
    let mut reads = Vec::new();
    for i in 0..files {
        let url = format!("{base}/workspaces/{id}/files/content?path=bench/f{i}.txt");
        let body = format!("file {i}\n");
        let start = Instant::now();
        let put = http
            .put(&url)
            .bearer_auth(&student)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 204);
        writes.push(start.elapsed().as_secs_f64() * 1000.0);
        let start = Instant::now();
        let got = http.get(&url).bearer_auth(&student).send().await.unwrap();
        assert_eq!(got.text().await.unwrap(), body);
        reads.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let _ = http
        .delete(format!("{base}/workspaces/{id}"))
        .bearer_auth(&student)
        .send()
        .await;
    let berth_p50 = percentile(&berth_ms, 0.5);
    let direct_p50 = percentile(&direct_ms, 0.5);
    format!(
        "## Workspace `run`\n\n`run` of a file that prints one line, until its `exit` ({runs} runs after 10 warm-up, interleaved), against the same command (`sh one.sh` as uid 1000 in /workspace) through the engine's exec API directly, output read to the end and the exit code read.\n\n\
         | path | p50 | p99 |\n|---|---|---|\n\
         | berth (`run` on the WebSocket, template command, limits, exit with duration) | {:.1} ms | {:.1} ms |\n\
         | engine exec API directly (create, start, read, inspect) | {:.1} ms | {:.1} ms |\n\n\
         **Ratio p50 berth / direct: {:.2}** (target ≤ 1.2)\n\n\
         ## Workspace cold starts\n\n\
         | from | to | median | max | target |\n|---|---|---|---|---|\n\
         | `POST /workspaces` (new volume and container, starter files, start) | first output of a `run` | {:.0} ms | {:.0} ms | ≤ 2 s |\n\
         | a stopped (culled) workspace | first output of a `run` (which starts it) | {:.0} ms | {:.0} ms | ≤ 1 s |\n\n\
         ## Workspace files\n\n{files} small files written (`PUT …/files/content`) then read back (`GET`), one after the other.\n\n\
         | | p50 per file | p99 per file |\n|---|---|---|\n\
         | write | {:.1} ms | {:.1} ms |\n| read | {:.1} ms | {:.1} ms |\n",
        berth_p50,
        percentile(&berth_ms, 0.99),
        direct_p50,
        percentile(&direct_ms, 0.99),
        berth_p50 / direct_p50,
        median(&mut cold.clone()),
        cold.iter().cloned().fold(0.0, f64::max),
        median(&mut culled.clone()),
        culled.iter().cloned().fold(0.0, f64::max),
        median(&mut writes.clone()),
        percentile_of(&mut writes, 0.99),
        median(&mut reads.clone()),
        percentile_of(&mut reads, 0.99),
    )
}

fn percentile_of(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    percentile(v, p)
}

/// The idle-sessions section: one row per database, each from [`idle_sessions`].
fn idle_sessions_section(count: usize, rows: &[(&str, IdleSessions)]) -> String {
    let mut section = format!(
        "## Memory per idle session\n\n{count} authenticated WebSocket sessions of one account (`session.max_sessions_per_user` raised for the run) held open with heartbeats running; growth of the server's resident memory. Sessions are opened {} at a time, each recorded in `live_sessions` as it opens (what makes the per-user limit hold across replicas); a session's open time is from its TCP connect to its `hello` frame.\n\n\
         | database | still open after a heartbeat round | before | after | per session | open p50 | open p99 |\n|---|---|---|---|---|---|---|\n",
        berth::auth::MAX_TICKETS_PER_USER
    );
    for (database, r) in rows {
        section.push_str(&format!(
            "| {database} | {} | {:.1} MiB | {:.1} MiB | **{:.1} KiB** | {:.1} ms | {:.1} ms |\n",
            r.alive,
            r.before_kib as f64 / 1024.0,
            r.after_kib as f64 / 1024.0,
            r.per_session_kib,
            r.open_p50_ms,
            r.open_p99_ms
        ));
    }
    section.push_str("\n(target ≤ 32 KiB per session)\n");
    section
}

struct IdleSessions {
    alive: usize,
    before_kib: u64,
    after_kib: u64,
    per_session_kib: f64,
    open_p50_ms: f64,
    open_p99_ms: f64,
}

/// Server memory per idle authenticated session, heartbeats running, and how long each took
/// to open.
async fn idle_sessions(server: &ServerProcess, token: &str, count: usize) -> IdleSessions {
    // One session first, so what every server pays once is in the baseline.
    let warm = server.ws(token).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = server.rss_kib();
    let mut readers = Vec::with_capacity(count);
    let mut open_ms = Vec::with_capacity(count);
    let mut opened = 0;
    while opened < count {
        // As many at once as one user may hold unused tickets.
        let batch = (count - opened).min(berth::auth::MAX_TICKETS_PER_USER);
        let opening: Vec<_> = (0..batch)
            .map(|_| async {
                let started = Instant::now();
                let ws = server.ws(token).await;
                (ws, started.elapsed().as_secs_f64() * 1000.0)
            })
            .collect();
        for (ws, ms) in futures_util::future::join_all(opening).await {
            open_ms.push(ms);
            let mut socket = ws.into_silent();
            // Keep reading, so pings are answered as a browser would.
            readers.push(tokio::spawn(async move {
                while socket.next().await.is_some() {}
            }));
        }
        opened += batch;
    }
    // Let a heartbeat round pass over all of them.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let after = server.rss_kib();
    let alive = readers.iter().filter(|r| !r.is_finished()).count();
    for r in readers {
        r.abort();
    }
    drop(warm);
    IdleSessions {
        alive,
        before_kib: before,
        after_kib: after,
        per_session_kib: (after.saturating_sub(before)) as f64 / count as f64,
        open_p50_ms: percentile_of(&mut open_ms, 0.5),
        open_p99_ms: percentile_of(&mut open_ms, 0.99),
    }
}

/// [`idle_sessions`] on a server of its own on PostgreSQL (a replica alone on its database).
async fn idle_sessions_on_postgres(count: usize) -> IdleSessions {
    let server = ServerProcess::replicas(1, &[("BERTH_SESSION__MAX_SESSIONS_PER_USER", "100000")])
        .await
        .pop()
        .unwrap();
    let token = server.account("bench").await;
    idle_sessions(&server, &token, count).await
}

/// A class checking in at once: every student on their own WebSocket sends `attendance.checkin`
/// within one second while the teacher's screen watches.
async fn attendance_rush(students: usize) -> String {
    let server = ServerProcess::start(&[]).await;
    let teacher = server.account_with_role("teacher", "teacher").await;
    let http = reqwest::Client::new();
    let base = format!("http://{}/api/v1", server.address);
    let course: serde_json::Value = http
        .post(format!("{base}/courses"))
        .bearer_auth(&teacher)
        .json(&json!({"name": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let course_id = course["id"].as_str().unwrap();

    // Enrol the class.
    let mut tokens = Vec::with_capacity(students);
    for chunk in (0..students).collect::<Vec<_>>().chunks(25) {
        let joining = chunk.iter().map(|i| {
            let (server, http, base, join_code) =
                (&server, &http, &base, course["join_code"].clone());
            async move {
                let token = server.account(&format!("student{i}")).await;
                http.post(format!("{base}/courses/join"))
                    .bearer_auth(&token)
                    .json(&json!({"join_code": join_code}))
                    .send()
                    .await
                    .unwrap();
                token
            }
        });
        tokens.extend(futures_util::future::join_all(joining).await);
    }
    // Then each student opens their session (only now: an idle client that is not read from
    // would not answer the server's pings while the class enrols).
    let sockets = futures_util::future::join_all(tokens.iter().map(|t| server.ws(t))).await;
    // The class is seated before the code goes up: connection set-up is not what is measured.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let attendance: serde_json::Value = http
        .post(format!("{base}/courses/{course_id}/attendance"))
        .bearer_auth(&teacher)
        .json(&json!({"period_s": 60, "duration_s": 600}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let attendance = attendance["id"].as_str().unwrap().to_string();
    let mut screen = server.ws(&teacher).await;
    screen
        .send(json!({"type": "attendance.watch", "stream": 1, "attendance": attendance}))
        .await;
    let code = screen.expect("attendance.code", 1).await["code"]
        .as_str()
        .unwrap()
        .to_string();

    // The screen notes when each student shows up.
    let watcher = tokio::spawn(async move {
        let mut seen = std::collections::HashMap::new();
        while seen.len() < students {
            let message = screen.expect("attendance.checkin", 1).await;
            seen.insert(
                message["username"].as_str().unwrap().to_string(),
                Instant::now(),
            );
        }
        seen
    });
    let start = Instant::now();
    let rush = sockets.into_iter().enumerate().map(|(i, mut ws)| {
        let (attendance, code) = (attendance.clone(), code.clone());
        async move {
            // Spread evenly over one second.
            tokio::time::sleep_until(
                (start + Duration::from_micros((i * 1_000_000 / students) as u64)).into(),
            )
            .await;
            let sent = Instant::now();
            ws.send(json!({"type": "attendance.checkin", "attendance": attendance, "code": code}))
                .await;
            let answer = ws.next_json().await;
            (
                format!("student{i}"),
                sent,
                sent.elapsed(),
                answer["type"] == "attendance.checked_in",
            )
        }
    });
    let results = futures_util::future::join_all(rush).await;
    let elapsed = start.elapsed();
    let seen = tokio::time::timeout(Duration::from_secs(10), watcher)
        .await
        .unwrap()
        .unwrap();

    let accepted = results.iter().filter(|r| r.3).count();
    let mut latency: Vec<f64> = results.iter().map(|r| r.2.as_secs_f64() * 1000.0).collect();
    let mut to_screen: Vec<f64> = results
        .iter()
        .filter_map(|(name, sent, _, _)| {
            seen.get(name)
                .map(|at| (*at - *sent).as_secs_f64() * 1000.0)
        })
        .collect();
    latency.sort_by(|a, b| a.partial_cmp(b).unwrap());
    to_screen.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!(
        "## Attendance rush\n\n{students} students, each on their own WebSocket session, send `attendance.checkin` spread over one second while the teacher's screen watches (embedded SQLite).\n\n\
         | accepted | check-ins/s | check-in p50 | check-in p99 | on the teacher's screen p99 |\n|---|---|---|---|---|\n\
         | {accepted}/{students} ({} shown) | {:.0} | {:.1} ms | {:.1} ms | {:.1} ms |\n\n\
         (targets: all accepted, check-in p99 < 50 ms, teacher's screen p99 < 100 ms)\n",
        seen.len(),
        students as f64 / elapsed.as_secs_f64(),
        percentile(&latency, 0.5),
        percentile(&latency, 0.99),
        percentile(&to_screen, 0.99),
    )
}

/// Loading a `docker save` tar through berth (`POST /images/load`, streamed) against
/// `docker load` directly, and the server's memory meanwhile.
async fn image_load(mib: usize) -> String {
    let docker = |args: &[&str]| {
        let out = Command::new("docker").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let image = "berth-bench/big:1";
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("Dockerfile"),
        format!(
            "FROM {}\nRUN head -c {} /dev/urandom > /blob\n",
            helpers::IMAGE,
            mib << 20
        ),
    )
    .unwrap();
    docker(&["build", "-q", "-t", image, work.path().to_str().unwrap()]);
    let tar = work.path().join("big.tar");
    docker(&["save", "-o", tar.to_str().unwrap(), image]);
    let size = std::fs::metadata(&tar).unwrap().len();

    let server = ServerProcess::start(&[]).await;
    let token = server.account_with_role("loader", "teacher").await;
    let http = reqwest::Client::new();
    let base = format!("http://{}/api/v1", server.address);

    let mut berth = Vec::new();
    let mut direct = Vec::new();
    let baseline = server.rss_kib();
    let mut peak = baseline;
    for _ in 0..3 {
        docker(&["rmi", image]);
        let start = Instant::now();
        docker(&["load", "-q", "-i", tar.to_str().unwrap()]);
        direct.push(start.elapsed().as_secs_f64());

        docker(&["rmi", image]);
        let file = tokio::fs::File::open(&tar).await.unwrap();
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
            file,
            64 * 1024,
        ));
        let start = Instant::now();
        let upload = http
            .post(format!("{base}/images/load"))
            .bearer_auth(&token)
            .header("content-type", "application/x-tar")
            .body(body)
            .send();
        tokio::pin!(upload);
        let response = loop {
            tokio::select! {
                response = &mut upload => break response.unwrap(),
                _ = tokio::time::sleep(Duration::from_millis(100)) => peak = peak.max(server.rss_kib()),
            }
        };
        assert_eq!(response.status(), 200);
        berth.push(start.elapsed().as_secs_f64());
    }
    docker(&["rmi", image]);
    let (b, d) = (median(&mut berth), median(&mut direct));
    let mib_total = size as f64 / (1 << 20) as f64;
    format!(
        "## Image load\n\nA `docker save` tar of {mib_total:.0} MiB loaded through berth (`POST /images/load`, streamed to the engine) and with `docker load -i` directly (median of 3 runs each).\n\n\
         | path | time | throughput |\n|---|---|---|\n\
         | berth | {b:.2} s | {:.0} MiB/s |\n\
         | `docker load` directly | {d:.2} s | {:.0} MiB/s |\n\n\
         **Ratio berth / direct: {:.2}.** Server resident memory: {:.1} MiB before the loads, {:.1} MiB at the peak during them (sampled every 100 ms), while {mib_total:.0} MiB passed through each time.\n",
        mib_total / b,
        mib_total / d,
        d / b,
        baseline as f64 / 1024.0,
        peak as f64 / 1024.0,
    )
}

/// Puts `sections` into docs/benchmarks.md in place of the ones under the same headings (or
/// before the soak's), each saying when it was measured.
fn replace_sections(sections: &[String], only: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/benchmarks.md");
    let mut text = std::fs::read_to_string(path).unwrap_or_default();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%MZ"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    for section in sections {
        let (heading, body) = section.split_once('\n').unwrap();
        let dated = format!(
            "{heading}\n\n_Measured {date} on its own (`BENCH_ONLY={only} scripts/bench.sh`)._\n{body}\n"
        );
        let (start, end) = match text.find(&format!("\n{heading}\n")) {
            Some(at) => {
                let start = at + 1;
                let after = start + heading.len();
                let end = text[after..]
                    .find("\n## ")
                    .map_or(text.len(), |e| after + e + 1);
                (start, end)
            }
            None => {
                let at = text.find("\n## Soak").map_or(text.len(), |at| at + 1);
                (at, at)
            }
        };
        text.replace_range(start..end, &dated);
    }
    std::fs::write(path, text).unwrap();
}

fn write_report(sections: &[String], defaults: bool) {
    let sh = |cmd: &str| {
        Command::new("sh")
            .args(["-c", cmd])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let machine = format!(
        "{} cores, {}, Docker engine {} (API {}), berth release build",
        sh("nproc"),
        sh("awk '/MemTotal/ {printf \"%.0f GiB RAM\", $2/1048576}' /proc/meminfo"),
        sh("docker version --format '{{.Server.Version}}'"),
        sh("docker version --format '{{.Server.APIVersion}}'"),
    );
    let mut text = String::from("# Benchmarks\n\n");
    text.push_str(
        "Measured by `scripts/bench.sh` (`cargo bench --bench session`), which writes this file. ",
    );
    text.push_str("Each figure is taken side by side with Docker used directly, in the same run, on the same machine. On this shared 2-core machine, tail latencies move by a few milliseconds from run to run: compare the two paths within one run.\n\n");
    text.push_str(&format!(
        "- Run: {}\n- Machine: {machine}\n",
        sh("date -u +%Y-%m-%dT%H:%MZ")
    ));
    if !defaults {
        text.push_str("- **Reduced sizes** (BENCH_* variables set): not the reference run.\n");
    }
    text.push('\n');
    for section in sections {
        text.push_str(section);
        text.push('\n');
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/benchmarks.md");
    // The suites' times come from scripts/test.sh, and the soak's section is scripts/soak.sh's
    // to write: both are kept as they are.
    let old = std::fs::read_to_string(path).unwrap_or_default();
    for heading in ["\n## The test suites", "\n## Soak"] {
        if let Some(at) = old.find(heading) {
            let rest = &old[at + 1..];
            let end = rest[heading.len()..]
                .find("\n## ")
                .map_or(rest.len(), |e| e + heading.len() + 1);
            text.push('\n');
            text.push_str(rest[..end].trim_end());
            text.push('\n');
        }
    }
    std::fs::write(path, &text).unwrap();
    println!("{text}");
}
