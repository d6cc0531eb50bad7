//! Terminals shared with a course: its teacher's TTY exec, watched read-only by the class.

use std::time::{Duration, Instant};

use berth::users::Role;
use serde_json::{json, Value};

use crate::assignments::course;
use crate::helpers::{spawn_app, Frame, Ws};

/// The next JSON message of `kind` about `stream`, skipping everything else.
pub(crate) async fn message(ws: &mut Ws, kind: &str, stream: u8) -> Value {
    loop {
        let v = ws.next_json().await;
        if v["type"] == kind && v["stream"] == stream {
            return v;
        }
    }
}

#[tokio::test]
async fn a_teacher_shares_a_terminal_that_the_class_watches_read_only() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let (student, outsider) = (app.new_user().await, app.new_user().await);
    let id = course(&app, &teacher, &[&student]).await;
    let container = app.running_container(&teacher, &["sleep", "3600"]).await;
    let mut sharer = app.ws(&teacher.token).await;
    // Resumable, as the UI's terminals are: its screen is followed from the start.
    sharer
        .send(
            json!({"type": "exec", "stream": 1, "container": container, "cmd": ["sh"],
                     "tty": true, "cols": 80, "rows": 24, "resume": true}),
        )
        .await;
    message(&mut sharer, "started", 1).await;
    sharer.stdin(1, b"echo before-$((6*7))\n").await;
    sharer.read_until(1, "before-42").await;

    // A student cannot share with a course they do not teach.
    let mut own = app.ws(&student.token).await;
    let theirs = app.running_container(&student, &["sleep", "3600"]).await;
    own.exec(1, &theirs, &["sh"], true).await;
    own.send(json!({"type": "share", "stream": 1, "course": id}))
        .await;
    assert_eq!(message(&mut own, "error", 1).await["code"], "forbidden");

    sharer
        .send(json!({"type": "share", "stream": 1, "course": id}))
        .await;
    let shared = message(&mut sharer, "shared", 1).await;
    let share = shared["share"].as_str().unwrap().to_string();
    let listed: Value = app
        .get(
            &format!("/api/v1/courses/{id}/shares"),
            Some(&student.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["share"], share.as_str(), "{listed}");
    assert_eq!(listed[0]["by"], teacher.username.as_str());
    let path = format!("/api/v1/courses/{id}/shares");
    assert_eq!(app.get(&path, Some(&outsider.token)).await.status(), 403);

    // Someone outside the course may not watch; a student sees the screen, then the output.
    let mut stranger = app.ws(&outsider.token).await;
    stranger
        .send(json!({"type": "watch", "stream": 5, "share": share}))
        .await;
    assert_eq!(
        message(&mut stranger, "error", 5).await["code"],
        "forbidden"
    );
    let mut watcher = app.ws(&student.token).await;
    watcher
        .send(json!({"type": "watch", "stream": 5, "share": share}))
        .await;
    message(&mut watcher, "started", 5).await;
    let size = message(&mut watcher, "resized", 5).await;
    assert_eq!((&size["cols"], &size["rows"]), (&json!(80), &json!(24)));
    watcher.read_until(5, "before-42").await;
    sharer.stdin(1, b"echo live-$((2+3))\n").await;
    watcher.read_until(5, "live-5").await;

    // The watcher's input is refused; the shell is untouched.
    watcher.stdin(5, b"exit\n").await;
    assert_eq!(message(&mut watcher, "error", 5).await["code"], "forbidden");
    sharer.stdin(1, b"echo alive-$((1+1))\n").await;
    sharer.read_until(1, "alive-2").await;

    // The sharer's resize reaches the watcher.
    sharer
        .send(json!({"type": "resize", "stream": 1, "cols": 100, "rows": 30}))
        .await;
    let resized = message(&mut watcher, "resized", 5).await;
    assert_eq!(resized["cols"], 100);

    // Unshared: the watch ends, and the share is gone from the list.
    sharer.send(json!({"type": "unshare", "stream": 1})).await;
    message(&mut watcher, "end", 5).await;
    let listed: Value = app
        .get(&path, Some(&teacher.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn a_stalled_watcher_never_slows_the_sharer_and_one_who_leaves_stops_watching() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let (slow, keen) = (app.new_user().await, app.new_user().await);
    let id = course(&app, &teacher, &[&slow, &keen]).await;
    let container = app.running_container(&teacher, &["sleep", "3600"]).await;
    let mut sharer = app.ws(&teacher.token).await;
    sharer.exec(1, &container, &["sh"], true).await;
    sharer
        .send(json!({"type": "share", "stream": 1, "course": id}))
        .await;
    let share = message(&mut sharer, "shared", 1).await["share"]
        .as_str()
        .unwrap()
        .to_string();
    let mut stalled = app.ws(&slow.token).await;
    stalled
        .send(json!({"type": "watch", "stream": 1, "share": share}))
        .await;
    message(&mut stalled, "started", 1).await;
    let _stalled = stalled.into_silent(); // never read again
    let mut watcher = app.ws(&keen.token).await;
    watcher
        .send(json!({"type": "watch", "stream": 2, "share": share}))
        .await;
    message(&mut watcher, "started", 2).await;

    // 8 MB through the shared terminal: the sharer gets it all, quickly.
    let start = Instant::now();
    sharer
        .stdin(
            1,
            b"head -c 8000000 /dev/zero | tr '\\0' y; echo; echo flood-$((4*4))\n",
        )
        .await;
    let mut seen = 0usize;
    let mut tail = Vec::new();
    while !String::from_utf8_lossy(&tail).contains("flood-16") {
        match sharer.next().await {
            Frame::Bytes(1, _, bytes) => {
                seen += bytes.len();
                tail.extend(bytes);
                let keep = tail.len().saturating_sub(64);
                tail.drain(..keep);
            }
            Frame::Closed(r) => panic!("closed: {r:?}"),
            _ => {}
        }
    }
    let took = start.elapsed();
    assert!(seen > 8_000_000, "the sharer got {seen} bytes");
    assert!(
        took < Duration::from_secs(20),
        "the sharer waited: {took:?}"
    );
    // The keen watcher is at the end too (skipping ahead if it fell behind).
    watcher.read_until(2, "flood-16").await;

    // Removed from the course, the keen student stops watching.
    let path = format!("/api/v1/courses/{id}/students/{}", keen.id);
    assert_eq!(app.delete(&path, Some(&teacher.token)).await.status(), 204);
    message(&mut watcher, "end", 2).await;
    println!("8 MB through a shared terminal with a stalled watcher: {took:?}");
}

#[tokio::test]
async fn a_teacher_watches_a_students_terminal_and_the_student_sees_who_watches() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let (student, stranger) = (app.new_user().await, app.new_user().await);
    course(&app, &teacher, &[&student]).await;
    let made = crate::workspaces::template(&app, &teacher, json!({})).await;
    let workspace = crate::workspaces::workspace(&app, &student, &made).await;
    let mut own = app.ws(&student.token).await;
    own.send(
        json!({"type": "exec", "stream": 1, "workspace": workspace, "cmd": ["sh"],
                    "tty": true, "cols": 80, "rows": 24}),
    )
    .await;
    message(&mut own, "started", 1).await;

    // Its streams are listed to its teacher, not to another student.
    let path = format!("/api/v1/workspaces/{workspace}/streams");
    assert_eq!(app.get(&path, Some(&stranger.token)).await.status(), 404);
    let listed: Value = app
        .get(&path, Some(&teacher.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&listed[0]["kind"], &listed[0]["tty"]),
        (&json!("exec"), &json!(true)),
        "{listed}"
    );
    let source = listed[0]["id"].as_str().unwrap().to_string();
    let mut peeker = app.ws(&stranger.token).await;
    peeker
        .send(json!({"type": "watch", "stream": 4, "workspace": workspace, "source": source}))
        .await;
    assert_eq!(message(&mut peeker, "error", 4).await["code"], "not_found");

    // The teacher watches; the student is told, and what they type shows up for the teacher.
    let mut watcher = app.ws(&teacher.token).await;
    watcher
        .send(json!({"type": "watch", "stream": 4, "workspace": workspace, "source": source}))
        .await;
    message(&mut watcher, "started", 4).await;
    let told = message(&mut own, "watchers", 1).await;
    assert_eq!(told["workspace"], workspace.as_str());
    assert_eq!(told["by"], json!([teacher.username]));
    own.stdin(1, b"echo mine-$((3+4))\n").await;
    watcher.read_until(4, "mine-7").await;
    watcher.stdin(4, b"exit\n").await;
    assert_eq!(message(&mut watcher, "error", 4).await["code"], "forbidden");

    // The teacher stops: the student is told nobody watches.
    watcher.send(json!({"type": "cancel", "stream": 4})).await;
    let told = message(&mut own, "watchers", 1).await;
    assert_eq!(told["by"], json!([]));
    own.stdin(1, b"echo still-$((1+1))\n").await;
    own.read_until(1, "still-2").await;
}

#[tokio::test]
async fn sharing_or_watching_what_cannot_be_is_refused_with_a_reason() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let id = course(&app, &teacher, &[]).await;
    let container = app.running_container(&teacher, &["sleep", "3600"]).await;
    let mut ws = app.ws(&teacher.token).await;
    // A TTY shares (the refusals below are not about the course); a pipe does not.
    ws.exec(1, &container, &["sh"], true).await;
    ws.send(json!({"type": "share", "stream": 1, "course": id}))
        .await;
    message(&mut ws, "shared", 1).await;
    ws.exec(2, &container, &["cat"], false).await;
    ws.send(json!({"type": "share", "stream": 2, "course": id}))
        .await;
    assert_eq!(message(&mut ws, "error", 2).await["code"], "bad_request");
    ws.send(json!({"type": "share", "stream": 9, "course": id}))
        .await;
    assert_eq!(message(&mut ws, "error", 9).await["code"], "not_found");
    for bad in [
        json!({"type": "watch", "stream": 3}),
        json!({"type": "watch", "stream": 3, "share": "x", "workspace": "y", "source": "z"}),
        json!({"type": "watch", "stream": 3, "workspace": "y"}),
    ] {
        ws.send(bad.clone()).await;
        assert_eq!(
            message(&mut ws, "error", 3).await["code"],
            "bad_request",
            "{bad}"
        );
    }
    ws.send(json!({"type": "watch", "stream": 3, "share": "no-such-share"}))
        .await;
    assert_eq!(message(&mut ws, "error", 3).await["code"], "not_found");
}
