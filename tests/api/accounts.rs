use std::time::Duration;

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{spawn_app, spawn_app_with, Frame, Ws};

#[tokio::test]
async fn register_login_and_me() {
    let app = spawn_app().await;
    let response = app.register("alice", "password1").await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["username"], "alice");
    assert_eq!(created["role"], "student");

    let response = app.login("alice", "password1").await;
    assert_eq!(response.status(), 200);
    let login: Value = response.json().await.unwrap();
    assert_eq!(login["token_type"], "Bearer");
    assert!(login["expires_in"].as_u64().unwrap() > 0);
    let token = login["access_token"].as_str().unwrap();

    let me: Value = app
        .get("/api/v1/me", Some(token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], created["id"]);
    assert_eq!(me["username"], "alice");
    assert!(me.get("password_hash").is_none());
}

#[tokio::test]
async fn register_refuses_bad_input_with_clear_errors() {
    let app = spawn_app().await;
    let short = app.register("bob", "short").await;
    assert_eq!(short.status(), 400);
    let body: Value = short.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at least 8"));

    assert_eq!(app.register("bob", "password1").await.status(), 201);
    let taken = app.register("bob", "password2").await;
    assert_eq!(taken.status(), 409);
    assert_eq!(
        taken.json::<Value>().await.unwrap()["error"]["code"],
        "conflict"
    );

    let wrong_type = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": 5, "password": "password1"}),
        )
        .await;
    assert_eq!(wrong_type.status(), 400);
    assert_eq!(
        wrong_type.json::<Value>().await.unwrap()["error"]["code"],
        "bad_request"
    );

    let bad_name = app.register("no spaces allowed", "password1").await;
    assert_eq!(bad_name.status(), 400);
}

#[tokio::test]
async fn wrong_password_is_401_and_repeated_failures_are_429() {
    let app = spawn_app().await;
    app.register("carol", "password1").await;
    let wrong = app.login("carol", "wrong-password").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"]["code"],
        "unauthorized"
    );
    for _ in 0..4 {
        assert_eq!(app.login("carol", "wrong-password").await.status(), 401);
    }
    // Five failures: even the right password is refused for a while.
    let throttled = app.login("carol", "password1").await;
    assert_eq!(throttled.status(), 429);
    assert_eq!(
        throttled.json::<Value>().await.unwrap()["error"]["code"],
        "too_many"
    );
    // Another account from the same address still works until the per-address limit.
    app.register("dave", "password1").await;
    assert_eq!(app.login("dave", "password1").await.status(), 200);
}

#[tokio::test]
async fn logout_revokes_the_token_and_closes_its_sessions() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let mut ws = app.ws(&user.token).await;

    let response = app
        .post("/api/v1/auth/logout", Some(&user.token), json!({}))
        .await;
    assert_eq!(response.status(), 204);

    assert_eq!(app.get("/api/v1/me", Some(&user.token)).await.status(), 401);
    match ws.next_within(Duration::from_secs(3)).await {
        Some(Frame::Closed(reason)) => assert_eq!(reason.as_deref(), Some("token revoked")),
        _ => panic!("the open session of a revoked token must be closed"),
    }
    // And the token cannot open a new one.
    let mut request = format!("ws://{}/api/v1/ws", app.address)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", user.token).parse().unwrap(),
    );
    assert!(Ws::open(request).await.is_err());
    // A fresh login works.
    assert_eq!(
        app.login(&user.username, &user.password).await.status(),
        200
    );
}

pub(crate) async fn ticket(app: &crate::helpers::TestApp, token: &str) -> String {
    let response = app.post("/api/v1/ws/ticket", Some(token), json!({})).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    body["ticket"].as_str().unwrap().to_string()
}

pub(crate) async fn open_with_ticket(
    app: &crate::helpers::TestApp,
    ticket: &str,
) -> Result<Ws, String> {
    let url = format!("ws://{}/api/v1/ws?ticket={ticket}", app.address);
    Ws::open(url.into_client_request().unwrap())
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn ticket_opens_one_session_only_and_expires() {
    let app = spawn_app_with(|s| s.ticket_ttl_s = 1).await;
    let user = app.new_user().await;

    let first = ticket(&app, &user.token).await;
    let ws = open_with_ticket(&app, &first)
        .await
        .expect("ticket opens a session");
    assert_eq!(ws.hello["type"], "hello");
    assert_eq!(ws.hello["protocol"], 1);
    let reused = open_with_ticket(&app, &first).await;
    assert!(reused.unwrap_err().contains("401"), "a ticket works once");

    let second = ticket(&app, &user.token).await;
    // A fixed pause: the ticket's one-second lifetime has to pass.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let expired = open_with_ticket(&app, &second).await;
    assert!(
        expired.unwrap_err().contains("401"),
        "an expired ticket is refused"
    );

    // Tokens never travel in URLs: a token where a ticket belongs is refused.
    let in_url = open_with_ticket(&app, &user.token).await;
    assert!(in_url.unwrap_err().contains("401"));
}

#[tokio::test]
async fn websocket_refuses_foreign_origins_and_missing_credentials() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let url = format!("ws://{}/api/v1/ws", app.address);

    let anonymous = Ws::open(url.clone().into_client_request().unwrap()).await;
    assert!(anonymous.unwrap_err().to_string().contains("401"));

    let mut foreign = url.clone().into_client_request().unwrap();
    foreign.headers_mut().insert(
        "authorization",
        format!("Bearer {}", user.token).parse().unwrap(),
    );
    foreign
        .headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    assert!(Ws::open(foreign)
        .await
        .unwrap_err()
        .to_string()
        .contains("403"));

    let mut own = url.into_client_request().unwrap();
    own.headers_mut().insert(
        "authorization",
        format!("Bearer {}", user.token).parse().unwrap(),
    );
    own.headers_mut()
        .insert("origin", format!("http://{}", app.address).parse().unwrap());
    assert!(
        Ws::open(own).await.is_ok(),
        "the server's own origin is allowed"
    );
}

#[tokio::test]
async fn deleting_the_account_removes_its_containers() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;

    assert_eq!(
        app.delete("/api/v1/me", Some(&user.token)).await.status(),
        204
    );
    let gone = std::process::Command::new("docker")
        .args(["inspect", &container])
        .output()
        .unwrap();
    assert!(!gone.status.success(), "the container was removed");
    assert_eq!(
        app.login(&user.username, &user.password).await.status(),
        401
    );
    assert_eq!(app.get("/api/v1/me", Some(&user.token)).await.status(), 401);
}

#[tokio::test]
async fn user_create_command_works_while_the_server_runs() {
    let app = spawn_app().await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args([
            "user",
            "create",
            "--username",
            "teacher1",
            "--password",
            "-",
            "--role",
            "teacher",
            "--data-dir",
        ])
        .arg(app.data_dir.path())
        .env("BERTH_DATABASE_URL", app.database.url())
        .envs(app.database_keys())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from stdin 123\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let created: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(created["role"], "teacher");

    let login: Value = app
        .login("teacher1", "from stdin 123")
        .await
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().expect("logged in");
    let me: Value = app
        .get("/api/v1/me", Some(token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "teacher");
}

#[cfg(unix)]
#[tokio::test]
async fn generated_secrets_are_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    // Keys are generated only beside a SQLite file (a shared database needs them given).
    let app = spawn_app_with(|s| {
        s.database_url = None;
        s.jwt_secret = None;
        s.secret_key = None;
    })
    .await;
    for name in ["jwt_secret", "secret_key"] {
        let mode = std::fs::metadata(app.data_dir.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz", None).await.status(), 200);
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert!(body["docker"]["api_version"]
        .as_str()
        .unwrap()
        .starts_with("1."));
}

#[tokio::test]
async fn many_failures_from_one_address_are_throttled_across_usernames() {
    let app = spawn_app_with(|s| s.login.max_failures_per_ip = 6).await;
    app.register("erin", "password1").await;
    for i in 0..6 {
        let response = app.login(&format!("nobody{i}"), "whatever-password").await;
        assert_eq!(response.status(), 401);
    }
    // A username never tried before, with the right password, from the same address.
    assert_eq!(app.login("erin", "password1").await.status(), 429);
}

#[tokio::test]
async fn unknown_api_paths_answer_in_json_and_every_other_path_is_the_ui() {
    let app = spawn_app().await;
    for path in ["/api/v1/nope", "/api/v2/anything", "/api/nope"] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    // The UI's page for its own routes, its files by name, and nothing for a file it lacks.
    for path in ["/", "/containers"] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), 200, "{path}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains("<script type=\"module\" src=\"/app.js\">"),
            "{path}"
        );
    }
    let script = app.get("/app.js", None).await;
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    assert_eq!(app.get("/no-such-file.js", None).await.status(), 404);

    // A browser that takes gzip gets the bundle compressed; the API is left alone.
    let plain = script.bytes().await.unwrap().len();
    let gzipped = |path: &str| {
        reqwest::Client::new()
            .get(app.url(path))
            .header("Accept-Encoding", "gzip")
            .send()
    };
    let compressed = gzipped("/app.js").await.unwrap();
    assert_eq!(compressed.headers()["content-encoding"], "gzip");
    let sent = compressed.bytes().await.unwrap().len();
    assert!(sent * 2 < plain, "app.js went as {sent} bytes of {plain}");
    let api = gzipped("/api/v1/nope").await.unwrap();
    assert!(api.headers().get("content-encoding").is_none());
}
