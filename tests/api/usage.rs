//! `GET /admin/usage` and ending a user's sessions: what an admin sees of each user now, checked
//! against what the user really holds and runs.

use std::time::Duration;

use berth::users::Role;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Frame};

#[tokio::test]
async fn an_admin_sees_what_each_user_holds_and_uses_and_ends_their_sessions() {
    let app = spawn_app().await;
    let admin = app.new_user_with_role(Role::Admin).await;
    let student = app.new_user().await;
    let idle = app.new_user().await;
    // A running container that keeps a CPU busy, a stopped one, and a session with a shell.
    let busy = app
        .running_container_with(
            &student,
            json!({"image": crate::helpers::IMAGE, "cmd": ["sh", "-c", "while :; do :; done"], "memory_mb": 64}),
        )
        .await;
    let stopped = app
        .running_container_with(
            &student,
            json!({"image": crate::helpers::IMAGE, "cmd": ["sleep", "600"], "memory_mb": 32}),
        )
        .await;
    let stop = app
        .post(
            &format!("/api/v1/containers/{stopped}/stop"),
            Some(&student.token),
            json!({}),
        )
        .await;
    assert_eq!(stop.status(), 200);
    let mut ws = app.ws(&student.token).await;
    ws.send(json!({"type": "exec", "stream": 1, "container": busy, "cmd": ["sleep", "777"], "tty": false}))
        .await;
    ws.expect("started", 1).await;

    let response = app.get("/api/v1/admin/usage", Some(&admin.token)).await;
    assert_eq!(response.status(), 200);
    let usage: Value = response.json().await.unwrap();
    assert_eq!(usage["every_host_answered"], true);
    let of = |who: &str| {
        usage["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == who)
            .cloned()
            .unwrap()
    };
    let theirs = of(&student.username);
    assert_eq!(theirs["sessions"], 1, "{theirs}");
    assert_eq!(theirs["streams"], 1, "{theirs}");
    assert_eq!(theirs["containers_running"], 1, "{theirs}");
    assert_eq!(theirs["containers_stopped"], 1, "{theirs}");
    assert_eq!(theirs["memory_mb"], 96, "{theirs}");
    let cpu = theirs["cpu_percent"].as_f64().unwrap();
    assert!(cpu > 20.0, "a busy loop uses a CPU: {cpu}");
    let nothing = of(&idle.username);
    assert_eq!(
        (
            nothing["sessions"].as_u64(),
            nothing["containers_running"].as_u64(),
            nothing["cpu_percent"].as_f64()
        ),
        (Some(0), Some(0), Some(0.0))
    );

    // Only admins see it or end sessions.
    assert_eq!(
        app.get("/api/v1/admin/usage", Some(&student.token))
            .await
            .status(),
        403
    );
    let sessions_of = format!("/api/v1/admin/users/{}/sessions", student.id);
    assert_eq!(
        app.delete(&sessions_of, Some(&idle.token)).await.status(),
        403
    );

    assert_eq!(
        crate::helpers::processes_matching(&busy, "sleep 777").len(),
        1
    );
    let ended = app.delete(&sessions_of, Some(&admin.token)).await;
    assert_eq!(ended.status(), 200);
    assert_eq!(ended.json::<Value>().await.unwrap(), json!({"sessions": 1}));
    let closed = loop {
        match ws.next_within(Duration::from_secs(5)).await {
            Some(Frame::Closed(reason)) => break reason,
            Some(_) => continue,
            None => panic!("the session stayed open"),
        }
    };
    assert_eq!(closed.as_deref(), Some("ended by an admin"));
    // What the session ran is gone too; the user may sign in again.
    let gone = crate::helpers::eventually(Duration::from_secs(5), || {
        crate::helpers::processes_matching(&busy, "sleep 777").is_empty()
    })
    .await;
    assert!(
        gone.is_some(),
        "{:?}",
        crate::helpers::processes_matching(&busy, "sleep 777")
    );
    assert_eq!(
        app.login(&student.username, &student.password)
            .await
            .status(),
        200
    );
    let missing = app
        .delete(
            "/api/v1/admin/users/no-such-user/sessions",
            Some(&admin.token),
        )
        .await;
    assert_eq!(missing.status(), 404);
}
