use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{eventually, spawn_app, Frame};

const COUNTER: &[&str] = &[
    "sh",
    "-c",
    "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done",
];

#[tokio::test]
async fn logs_tail_returns_the_last_lines_and_ends() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let container = app.running_container(&user, COUNTER).await;
    let logged = eventually(Duration::from_secs(5), || {
        docker_logs(&container).lines().count() >= 6
    })
    .await;
    assert!(logged.is_some(), "the counter printed nothing");
    let mut ws = app.ws(&user.token).await;

    ws.send(
        json!({"type": "logs", "stream": 4, "container": container, "follow": false, "tail": 2}),
    )
    .await;
    ws.expect("started", 4).await;
    let mut text = Vec::new();
    loop {
        match ws.next().await {
            Frame::Bytes(4, 1, bytes) => text.extend(bytes),
            Frame::Json(v) if v["type"] == "end" && v["stream"] == 4 => break,
            other => panic!("unexpected frame: {:?}", matches!(other, Frame::Closed(_))),
        }
    }
    let text = String::from_utf8(text).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text:?}");
    let n: Vec<u32> = lines
        .iter()
        .map(|l| l.trim_start_matches("line ").parse().unwrap())
        .collect();
    assert_eq!(n[1], n[0] + 1);
    assert!(n[0] >= 3, "the last lines, not the first: {text:?}");
}

#[tokio::test]
async fn logs_follow_streams_new_lines_live() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let container = app.running_container(&user, COUNTER).await;
    let mut ws = app.ws(&user.token).await;

    ws.send(json!({"type": "logs", "stream": 6, "container": container, "follow": true, "tail": 1, "timestamps": true})).await;
    ws.expect("started", 6).await;
    // New lines arrive one by one as they are written, not in a batch at the end.
    let mut arrivals = Vec::new();
    let start = Instant::now();
    while arrivals.len() < 5 {
        if let Frame::Bytes(6, 1, bytes) = ws.next().await {
            let line = String::from_utf8(bytes).unwrap();
            assert!(line.starts_with("20"), "timestamped: {line:?}");
            arrivals.push(start.elapsed());
        }
    }
    let spread = arrivals[4] - arrivals[1];
    assert!(
        spread >= Duration::from_millis(400),
        "lines arrived in a batch: {arrivals:?}"
    );

    ws.send(json!({"type": "cancel", "stream": 6})).await;
    ws.expect("end", 6).await;
    assert!(app.sessions.live_streams() == 0);
}

#[tokio::test]
async fn stats_report_usage_about_every_second() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let spec = json!({"image": crate::helpers::IMAGE, "cmd": ["sleep", "3600"], "memory_mb": 96});
    let container = app.running_container_with(&user, spec).await;
    let mut ws = app.ws(&user.token).await;

    ws.send(json!({"type": "stats", "stream": 8, "container": container}))
        .await;
    ws.expect("started", 8).await;
    let first = ws.expect("stats", 8).await;
    let second = ws.expect("stats", 8).await;
    for s in [&first, &second] {
        assert_eq!(s["memory_limit"], 96 * 1024 * 1024);
        assert!(s["memory_bytes"].as_u64().unwrap() > 0);
        assert!(s["pids"].as_u64().unwrap() >= 1);
        assert!(s["cpu_percent"].as_f64().unwrap() >= 0.0);
        assert!(s["net_rx_bytes"].is_u64() && s["net_tx_bytes"].is_u64());
    }

    // Stopping the container ends the stream.
    let stop = app
        .post(
            &format!("/api/v1/containers/{container}/stop"),
            Some(&user.token),
            json!({}),
        )
        .await;
    assert_eq!(stop.status(), 200);
    ws.expect("end", 8).await;
}

#[tokio::test]
async fn a_tty_containers_logs_arrive_byte_exact() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    // Output that starts with bytes that look like a frame header. (Docker's log driver keeps a
    // line until its newline, so logs, unlike an exec, cannot show a prompt before it.)
    let spec = json!({"image": crate::helpers::IMAGE, "tty": true,
        "cmd": ["sh", "-c", "printf '\\001\\002prompt>\\n'; sleep 3600"]});
    let container = app.running_container_with(&user, spec).await;
    let printed = eventually(Duration::from_secs(5), || {
        docker_logs(&container).contains("prompt>")
    })
    .await;
    assert!(printed.is_some(), "the prompt was never printed");
    let mut ws = app.ws(&user.token).await;

    ws.send(json!({"type": "logs", "stream": 2, "container": container, "follow": true}))
        .await;
    ws.expect("started", 2).await;
    let mut seen = Vec::new();
    while !seen.ends_with(b"\r\n") {
        match ws.next().await {
            Frame::Bytes(2, 1, bytes) => seen.extend(bytes),
            Frame::Bytes(..) | Frame::Json(_) => {}
            Frame::Closed(r) => panic!("closed: {r:?}"),
        }
    }
    assert_eq!(seen, b"\x01\x02prompt>\r\n");
    ws.send(json!({"type": "cancel", "stream": 2})).await;
    ws.expect("end", 2).await;
}

/// What the engine has logged for a container so far, as `docker logs` shows it.
fn docker_logs(container: &str) -> String {
    let out = std::process::Command::new("docker")
        .args(["logs", container])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}
