use std::time::Duration;

use serde_json::json;

use crate::helpers::{Frame, RemoveOnDrop, ServerProcess};

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

    // Now read nothing: the server must stop reading from Docker rather than buffer.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = server.rss_kib();
    let mut peak = settled;
    for _ in 0..8 {
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
