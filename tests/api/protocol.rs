use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

/// After each bad frame the session still answers a ping.
async fn still_works(ws: &mut crate::helpers::Ws) {
    ws.send(json!({"type": "ping", "t": 42})).await;
    let pong = ws.next_json().await;
    assert_eq!(pong, json!({"type": "pong", "t": 42}));
}

#[tokio::test]
async fn bad_frames_get_errors_and_the_session_goes_on() {
    let app = spawn_app_with(|s| s.session.max_frame_bytes = 64 * 1024).await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;
    let mut ws = app.ws(&user.token).await;
    assert_eq!(ws.hello["type"], "hello");
    assert!(ws.hello["session"].as_str().unwrap().len() > 8);

    let cases: Vec<(&str, &str, &str)> = vec![
        ("{not json", "bad_request", "invalid JSON"),
        (r#"[1,2,3]"#, "bad_request", "type"),
        (
            r#"{"type":"launch_missiles","stream":1}"#,
            "bad_request",
            "unknown variant",
        ),
        (
            r#"{"type":"exec","stream":1}"#,
            "bad_request",
            "missing field",
        ),
        (
            r#"{"type":"exec","stream":"one","container":"x","cmd":["id"]}"#,
            "bad_request",
            "invalid type",
        ),
        (
            r#"{"type":"exec","stream":0,"container":"x","cmd":["id"]}"#,
            "bad_request",
            "zero",
        ),
        (
            r#"{"type":"exec","stream":300,"container":"x","cmd":["id"]}"#,
            "bad_request",
            "",
        ),
        (
            r#"{"type":"exec","stream":1,"container":"x","cmd":[]}"#,
            "bad_request",
            "cmd",
        ),
        (
            r#"{"type":"resize","stream":77,"cols":80,"rows":24}"#,
            "not_found",
            "no such stream",
        ),
        (
            r#"{"type":"cancel","stream":77}"#,
            "not_found",
            "no such stream",
        ),
        (
            r#"{"type":"exec","stream":1,"container":"no-such-container","cmd":["id"]}"#,
            "not_found",
            "no such container",
        ),
    ];
    for (frame, code, needle) in cases {
        ws.send_text(frame).await;
        let error = ws.next_json().await;
        assert_eq!(error["type"], "error", "{frame}");
        assert_eq!(error["code"], code, "{frame}: {error}");
        assert!(
            error["message"].as_str().unwrap().contains(needle),
            "{frame}: {error}"
        );
        still_works(&mut ws).await;
    }

    // Binary frames: unknown stream, too short, wrong channel.
    ws.send_binary(vec![77, 0, b'x']).await;
    let error = ws.next_json().await;
    assert_eq!(
        (error["code"].as_str(), error["stream"].as_u64()),
        (Some("not_found"), Some(77))
    );
    ws.send_binary(vec![1]).await;
    assert_eq!(ws.next_json().await["code"], "bad_request");
    still_works(&mut ws).await;

    // A frame over the limit.
    let big = format!(r#"{{"type":"ping","t":"{}"}}"#, "a".repeat(70 * 1024));
    ws.send_text(&big).await;
    let error = ws.next_json().await;
    assert_eq!(error["code"], "bad_request");
    assert!(error["message"].as_str().unwrap().contains("larger than"));
    ws.send_binary(vec![1u8; 70 * 1024]).await;
    assert_eq!(ws.next_json().await["code"], "bad_request");
    still_works(&mut ws).await;

    // A stream id in use.
    ws.exec(1, &container, &["sleep", "30"], false).await;
    ws.send(json!({"type": "logs", "stream": 1, "container": container}))
        .await;
    let error = ws.expect("error", 1).await;
    assert_eq!(error["code"], "conflict");
    // stdin to a stream that takes none, resize of a stream without a TTY.
    ws.send(json!({"type": "resize", "stream": 1, "cols": 10, "rows": 10}))
        .await;
    assert_eq!(ws.expect("error", 1).await["code"], "bad_request");
    ws.send(json!({"type": "resize", "stream": 1, "cols": 0, "rows": 10}))
        .await;
    assert_eq!(ws.expect("error", 1).await["code"], "bad_request");
    // The exec that was running is unharmed by all of the above.
    ws.send(json!({"type": "cancel", "stream": 1})).await;
    ws.expect("exit", 1).await;
    still_works(&mut ws).await;
}

#[tokio::test]
async fn exec_into_a_stopped_container_is_a_conflict() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;
    app.post(
        &format!("/api/v1/containers/{container}/stop"),
        Some(&user.token),
        json!({}),
    )
    .await;
    let mut ws = app.ws(&user.token).await;
    ws.send(json!({"type": "exec", "stream": 2, "container": container, "cmd": ["id"]}))
        .await;
    let error = ws.expect("error", 2).await;
    assert_eq!(error["code"], "conflict");
    assert!(error["message"].as_str().unwrap().contains("not running"));
}
