use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{Frame, Ws, IMAGE};

/// The real binary in its own process, so its memory can be read.
struct Server {
    child: Child,
    address: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn start() -> Server {
        let data = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let address = format!("127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["serve", "--listen", &address, "--data-dir"])
            .arg(data.path())
            .env("BERTH_SESSION__HEARTBEAT_TIMEOUT_MS", "120000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let server = Server {
            child,
            address,
            _data: data,
        };
        for _ in 0..100 {
            if reqwest::get(format!("http://{}/healthz", server.address))
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("server did not start");
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap()
    }
}

#[tokio::test]
async fn a_slow_reader_with_yes_running_keeps_server_memory_flat() {
    let server = Server::start().await;
    let http = reqwest::Client::new();
    let base = format!("http://{}/api/v1", server.address);
    let creds = json!({"username": "slowreader", "password": "password123"});
    http.post(format!("{base}/auth/register"))
        .json(&creds)
        .send()
        .await
        .unwrap();
    let login: Value = http
        .post(format!("{base}/auth/login"))
        .json(&creds)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap();
    let created: Value = http
        .post(format!("{base}/containers"))
        .bearer_auth(token)
        .json(&json!({"image": IMAGE, "cmd": ["sleep", "3600"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let container = created["id"].as_str().unwrap().to_string();
    let _cleanup = scopeguard(container.clone());
    http.post(format!("{base}/containers/{container}/start"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();

    let mut request = format!("ws://{}/api/v1/ws", server.address)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let mut ws = Ws::open(request).await.unwrap();
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

/// Removes the container when the test ends, however it ends.
fn scopeguard(container: String) -> impl Drop {
    struct Remove(String);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
        }
    }
    Remove(container)
}
