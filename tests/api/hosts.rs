use berth::accounts::Role;
use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn hosts_are_added_only_when_they_answer_and_can_come_back_under_their_name() {
    let app = spawn_app().await;
    let admin = app.new_user_with_role(Role::Admin).await;
    let a = Some(admin.token.as_str());

    let listed: Value = app.get("/api/v1/hosts", a).await.json().await.unwrap();
    assert_eq!(listed[0]["name"], "local");
    assert_eq!(listed[0]["healthy"], true);
    assert!(listed[0]["api_version"].as_str().unwrap().starts_with("1."));

    // A second path to an engine that answers.
    let good = json!({"name": "lab-2", "url": "unix:///var/run/docker.sock"});
    let added = app.post("/api/v1/hosts", a, good.clone()).await;
    assert_eq!(added.status(), 201);
    let host: Value = added.json().await.unwrap();
    assert_eq!(host["healthy"], true);
    assert_eq!(
        app.post("/api/v1/hosts", a, good.clone()).await.status(),
        409
    );
    let ping = app
        .post(
            &format!("/api/v1/hosts/{}/ping", host["id"].as_str().unwrap()),
            a,
            json!({}),
        )
        .await;
    assert_eq!(ping.status(), 200);

    // Engines that do not answer are refused, with the reason.
    for url in ["tcp://127.0.0.1:1", "unix:///tmp/berth-no-such-engine.sock"] {
        let refused = app
            .post("/api/v1/hosts", a, json!({"name": "dead", "url": url}))
            .await;
        assert_eq!(refused.status(), 400, "{url}");
        let body: Value = refused.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("does not answer"),
            "{body}"
        );
    }
    for bad in [
        json!({"name": "local", "url": "unix:///var/run/docker.sock"}),
        json!({"name": "x", "url": "http://127.0.0.1:2375"}),
        json!({"name": "x", "url": "tcp://nohost"}),
        json!({"name": "Bad Name", "url": "unix:///var/run/docker.sock"}),
        json!({"name": "x", "url": "unix:///var/run/docker.sock", "tls_verify": false}),
    ] {
        assert_eq!(
            app.post("/api/v1/hosts", a, bad.clone()).await.status(),
            400,
            "{bad}"
        );
    }

    // Removed, then added again under the same name.
    let path = format!("/api/v1/hosts/{}", host["id"].as_str().unwrap());
    assert_eq!(app.delete(&path, a).await.status(), 204);
    assert_eq!(app.delete(&path, a).await.status(), 404);
    assert_eq!(app.post("/api/v1/hosts", a, good).await.status(), 201);
    let listed: Value = app.get("/api/v1/hosts", a).await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(app.delete("/api/v1/hosts/local", a).await.status(), 400);

    // Only admins manage hosts; students do not see them.
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let t = Some(teacher.token.as_str());
    assert_eq!(app.get("/api/v1/hosts", t).await.status(), 200);
    let tried = app
        .post(
            "/api/v1/hosts",
            t,
            json!({"name": "t", "url": "unix:///var/run/docker.sock"}),
        )
        .await;
    assert_eq!(tried.status(), 403);
    let student = app.new_user().await;
    assert_eq!(
        app.get("/api/v1/hosts", Some(&student.token))
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn a_host_that_stops_answering_shows_as_unhealthy_without_hanging() {
    let app = spawn_app().await;
    let admin = app.new_user_with_role(Role::Admin).await;
    let a = Some(admin.token.as_str());
    // A socket that answers while added, then goes away.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    let proxy = std::process::Command::new("python3")
        .arg("-c")
        .arg(PROXY)
        .arg(&socket)
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
        }
    }
    let mut proxy = Kill(proxy);
    for _ in 0..50 {
        if socket.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let url = format!("unix://{}", socket.display());
    let added = app
        .post("/api/v1/hosts", a, json!({"name": "flaky", "url": url}))
        .await;
    assert_eq!(added.status(), 201, "{}", added.text().await.unwrap());
    let _ = proxy.0.kill();
    let _ = proxy.0.wait();
    let _ = std::fs::remove_file(&socket);

    let started = std::time::Instant::now();
    let listed: Value = app.get("/api/v1/hosts", a).await.json().await.unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "listing hung"
    );
    let flaky = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "flaky")
        .unwrap();
    assert_eq!(flaky["healthy"], false);
    assert_eq!(listed[0]["healthy"], true, "the other hosts are unaffected");

    // It comes back: used again without a restart.
    let _proxy = Kill(
        std::process::Command::new("python3")
            .arg("-c")
            .arg(PROXY)
            .arg(&socket)
            .spawn()
            .unwrap(),
    );
    for _ in 0..50 {
        if socket.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let listed: Value = app.get("/api/v1/hosts", a).await.json().await.unwrap();
    let flaky = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "flaky")
        .unwrap();
    assert_eq!(flaky["healthy"], true, "{flaky}");
}

/// A tiny unix-socket proxy to the local engine, so a test can make an engine go away.
const PROXY: &str = r#"
import os, socket, sys, threading
path = sys.argv[1]
server = socket.socket(socket.AF_UNIX)
server.bind(path)
server.listen(16)
def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass
while True:
    client, _ = server.accept()
    upstream = socket.socket(socket.AF_UNIX)
    upstream.connect("/var/run/docker.sock")
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
"#;
