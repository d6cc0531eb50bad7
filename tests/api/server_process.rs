//! Tests that run the real `berth` binary in its own process: its memory, its shutdown, its log.

use std::time::Duration;

use serde_json::json;

use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{
    close_kib, eventually, processes_matching, settled, Frame, RemoveOnDrop, ServerProcess, Ws,
};

#[tokio::test]
async fn a_slow_reader_with_yes_running_keeps_server_memory_flat() {
    let server = ServerProcess::start(&[("BERTH_SESSION__HEARTBEAT_TIMEOUT_MS", "120000")]).await;
    let token = server.account("slowreader").await;
    let container = server.container(&token, &["sleep", "3600"]).await;
    let _cleanup = RemoveOnDrop(container.clone());
    let mut ws = server.ws(&token).await;
    ws.exec(
        1,
        &container,
        &["yes", "a line that yes repeats forever"],
        false,
    )
    .await;
    ws.read_until(1, "forever\n").await;

    // Now read nothing: the server must stop reading from Docker rather than buffer. Once its
    // queues are full its memory settles; then it must stay there.
    let settled = settled(Duration::from_secs(10), || server.rss_kib(), close_kib).await;
    let mut peak = settled;
    for _ in 0..8 {
        // A fixed pause: memory is watched over eight seconds of the client not reading.
        tokio::time::sleep(Duration::from_secs(1)).await;
        peak = peak.max(server.rss_kib());
    }
    assert!(
        peak < settled + 8 * 1024,
        "server memory grew from {settled} KiB to {peak} KiB while the client was not reading"
    );

    // The stream is still alive and delivers once the client reads again.
    let mut received = 0usize;
    while received < 4 << 20 {
        match ws.next().await {
            Frame::Bytes(1, 1, bytes) => received += bytes.len(),
            Frame::Bytes(..) | Frame::Json(_) => {}
            Frame::Closed(r) => panic!("closed: {r:?}"),
        }
    }
    ws.send(json!({"type": "cancel", "stream": 1})).await;
    ws.expect("exit", 1).await;
}

#[tokio::test]
async fn server_shutdown_kills_what_sessions_started() {
    let server = ServerProcess::start(&[]).await;
    let token = server.account("shutdown").await;
    let container = server.container(&token, &["sleep", "3600"]).await;
    let _cleanup = RemoveOnDrop(container.clone());
    let mut ws = server.ws(&token).await;
    ws.exec(1, &container, &["sleep", "4646"], true).await;
    assert!(eventually(Duration::from_secs(3), || !processes_matching(
        &container,
        "sleep 4646"
    )
    .is_empty())
    .await
    .is_some());

    let pid = server.child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    match ws.next_within(Duration::from_secs(5)).await {
        Some(Frame::Closed(reason)) => assert_eq!(reason.as_deref(), Some("server shutting down")),
        _ => panic!("the session was not closed at shutdown"),
    }
    // The close frame goes out at once; the kill follows within the session's cleanup.
    let gone = eventually(Duration::from_secs(2), || {
        processes_matching(&container, "sleep 4646").is_empty()
    })
    .await;
    assert!(gone.is_some(), "a process outlived the server");
}

#[tokio::test]
async fn passwords_tokens_and_tickets_never_reach_the_log() {
    let mut server = ServerProcess::start_logging(&[("RUST_LOG", "debug")]).await;
    let token = server.account("logcheck").await;
    let http = reqwest::Client::new();
    let base = format!("http://{}/api/v1", server.address);
    let ticket: serde_json::Value = http
        .post(format!("{base}/ws/ticket"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ticket = ticket["ticket"].as_str().unwrap().to_string();
    let url = format!("ws://{}/api/v1/ws?ticket={ticket}", server.address);
    let ws = Ws::open(url.into_client_request().unwrap()).await.unwrap();
    ws.close().await;
    let wrong = json!({"username": "logcheck", "password": "not-the-password-xyz"});
    http.post(format!("{base}/auth/login"))
        .json(&wrong)
        .send()
        .await
        .unwrap();
    http.post(format!("{base}/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();

    let log = server.stop_and_read_log();
    assert!(log.contains("session opened"), "the log was captured");
    for secret in [
        token.as_str(),
        &ticket,
        "password123",
        "not-the-password-xyz",
    ] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
    // Generated into the data dir beside SQLite; given in the settings with PostgreSQL.
    let jwt_secret = match server.database.is_postgres() {
        false => std::fs::read_to_string(server.data_dir().join("jwt_secret")).unwrap(),
        true => crate::helpers::TEST_JWT_SECRET.to_string(),
    };
    assert!(!log.contains(jwt_secret.trim()));
}
