//! The UI in a real browser: Debian's Chromium, driven by playwright-core from static/, against
//! the real server and engine. Screenshots go to target/browser/ (a failure keeps one).

use serde_json::Value;

use crate::helpers::{RemoveOnDrop, ServerProcess};

#[tokio::test]
async fn a_person_signs_in_and_uses_a_terminal_in_chromium() {
    let server = ServerProcess::start(&[]).await;
    let token = server.account("browser").await;
    let id = server.container(&token, &["sleep", "3600"]).await;
    let _cleanup = RemoveOnDrop(id.clone());
    let container: Value = reqwest::Client::new()
        .get(format!("http://{}/api/v1/containers/{id}", server.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let shots = format!("{root}/target/browser/terminal");
    let out = tokio::process::Command::new("node")
        .arg("tests/terminal.mjs")
        .current_dir(format!("{root}/static"))
        .env("BERTH_URL", format!("http://{}/", server.address))
        .env("BERTH_USER", "browser")
        .env("BERTH_PASSWORD", "password123")
        .env("BERTH_CONTAINER", container["name"].as_str().unwrap())
        .env("SHOTS", &shots)
        .output()
        .await
        .expect("node runs (scripts/setup.sh --test-images installs the UI's packages)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("browser: terminal"), "{said}");
}
