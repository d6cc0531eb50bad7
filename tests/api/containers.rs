use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, IMAGE};

fn docker_inspect(id: &str) -> Value {
    let out = std::process::Command::new("docker")
        .args(["inspect", id])
        .output()
        .unwrap();
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    all[0].clone()
}

#[tokio::test]
async fn containers_are_created_sandboxed_with_limits() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let spec = json!({"image": IMAGE, "cmd": ["sleep", "3600"], "memory_mb": 128, "cpus": 0.5, "pids_limit": 64, "env": {"GREETING": "hi"}});
    let id = app.running_container_with(&user, spec).await;

    let info = docker_inspect(&id);
    let host = &info["HostConfig"];
    assert_eq!(host["Memory"], 128 * 1024 * 1024);
    assert_eq!(host["NanoCpus"], 500_000_000);
    assert_eq!(host["PidsLimit"], 64);
    assert_eq!(host["Privileged"], false);
    assert_eq!(host["CapDrop"], json!(["ALL"]));
    assert!(host["SecurityOpt"]
        .to_string()
        .contains("no-new-privileges"));
    assert!(host["Binds"].is_null());
    assert_eq!(host["NetworkMode"], "bridge");
    assert_eq!(info["Config"]["Labels"]["berth.owner"], user.id);
    assert!(info["Config"]["Env"].to_string().contains("GREETING=hi"));

    let listed: Value = app
        .get("/api/v1/containers", Some(&user.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["state"], "running");
    assert_eq!(
        listed[0]["limits"],
        json!({"memory_mb": 128, "cpus": 0.5, "pids_limit": 64}),
        "the list shows the limits the container was made with"
    );
}

#[tokio::test]
async fn raw_docker_options_and_limits_beyond_the_maximum_are_refused() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    for (spec, needle) in [
        (json!({"image": IMAGE, "privileged": true}), "unknown field"),
        (
            json!({"image": IMAGE, "binds": ["/:/host"]}),
            "unknown field",
        ),
        (
            json!({"image": IMAGE, "network_mode": "host"}),
            "unknown field",
        ),
        (json!({"image": IMAGE, "memory_mb": 1_000_000}), "memory_mb"),
        (json!({"image": IMAGE, "cpus": 64}), "cpus"),
        (
            json!({"image": IMAGE, "pids_limit": 1_000_000}),
            "pids_limit",
        ),
        (json!({"image": IMAGE, "name": "../etc"}), "name"),
        (json!({"image": 42}), "invalid type"),
        (json!({"cmd": ["sh"]}), "missing field"),
    ] {
        let response = app
            .post("/api/v1/containers", Some(&user.token), spec.clone())
            .await;
        assert_eq!(response.status(), 400, "{spec}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "bad_request");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{spec}: {message}");
    }
    let missing = app
        .post(
            "/api/v1/containers",
            Some(&user.token),
            json!({"image": "berth-test/no-such-image:1"}),
        )
        .await;
    assert_eq!(missing.status(), 404);
    let unauthenticated = app
        .post("/api/v1/containers", None, json!({"image": IMAGE}))
        .await;
    assert_eq!(unauthenticated.status(), 401);
}

#[tokio::test]
async fn lifecycle_by_id_or_name() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let name = format!("life-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let created = app
        .post(
            "/api/v1/containers",
            Some(&user.token),
            json!({"image": IMAGE, "cmd": ["sleep", "3600"], "name": name}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.unwrap();
    app.track(body["id"].as_str().unwrap());
    assert_eq!(body["name"], name);
    assert_eq!(body["state"], "created");

    let t = Some(user.token.as_str());
    let started: Value = app
        .post(&format!("/api/v1/containers/{name}/start"), t, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(started["state"], "running");
    let stopped: Value = app
        .post(&format!("/api/v1/containers/{name}/stop"), t, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stopped["state"], "exited");
    let restarted: Value = app
        .post(&format!("/api/v1/containers/{name}/restart"), t, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(restarted["state"], "running");
    assert_eq!(
        app.delete(&format!("/api/v1/containers/{name}"), t)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.get(&format!("/api/v1/containers/{name}"), t)
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn another_users_container_is_invisible_on_rest_and_websocket() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let container = app.running_container(&alice, &["sleep", "3600"]).await;
    let b = Some(bob.token.as_str());

    let listed: Value = app.get("/api/v1/containers", b).await.json().await.unwrap();
    assert!(listed.as_array().unwrap().is_empty());
    for path in ["", "/start", "/stop", "/restart"] {
        let url = format!("/api/v1/containers/{container}{path}");
        let response = if path.is_empty() {
            app.get(&url, b).await
        } else {
            app.post(&url, b, json!({})).await
        };
        assert_eq!(response.status(), 404, "{url}");
    }
    assert_eq!(
        app.delete(&format!("/api/v1/containers/{container}"), b)
            .await
            .status(),
        404
    );

    let mut ws = app.ws(&bob.token).await;
    ws.send(json!({"type": "exec", "stream": 1, "container": container, "cmd": ["id"]}))
        .await;
    let refused = ws.expect("error", 1).await;
    assert_eq!(refused["code"], "not_found");
    ws.send(json!({"type": "logs", "stream": 2, "container": container}))
        .await;
    assert_eq!(ws.expect("error", 2).await["code"], "not_found");
    ws.send(json!({"type": "stats", "stream": 3, "container": container}))
        .await;
    assert_eq!(ws.expect("error", 3).await["code"], "not_found");

    // Alice's container kept running, untouched.
    let mine: Value = app
        .get(
            &format!("/api/v1/containers/{container}"),
            Some(&alice.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["state"], "running");
}

#[tokio::test]
async fn an_unreachable_engine_is_reported_as_unavailable() {
    let app =
        spawn_app_with(|s| s.docker_host = Some("unix:///tmp/berth-no-such-docker.sock".into()))
            .await;
    let user = app.new_user().await;
    let response = app.get("/api/v1/containers", Some(&user.token)).await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(
        !body["error"]["message"].as_str().unwrap().contains("/tmp/"),
        "no internal detail"
    );
    assert_eq!(app.get("/readyz", None).await.status(), 503);

    let mut ws = app.ws(&user.token).await;
    ws.send(json!({"type": "exec", "stream": 1, "container": "x", "cmd": ["id"]}))
        .await;
    assert_eq!(ws.expect("error", 1).await["code"], "unavailable");
    ws.send(json!({"type": "ping", "t": 1})).await;
    assert_eq!(ws.next_json().await["type"], "pong");
}
