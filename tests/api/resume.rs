//! Resumable streams: an exec with `resume: true` outlives a dropped session for the grace
//! period, and a new session of the same user takes it over with `reattach`, getting exactly
//! the bytes it missed.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{eventually, processes_matching, spawn_app, spawn_app_with, Frame, Ws};

/// The whole output of the counting command.
fn counted(lines: usize) -> String {
    (0..lines).map(|i| format!("line{i}\n")).collect()
}

fn counting(lines: usize) -> String {
    format!("i=0; while [ $i -lt {lines} ]; do echo line$i; i=$((i+1)); sleep 0.05; done")
}

pub(crate) fn token_of(ws: &Ws) -> String {
    ws.hello["resume_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no resume token in {}", ws.hello))
        .to_string()
}

async fn start_resumable(ws: &mut Ws, stream: u8, container: &str, script: &str) {
    ws.send(
        json!({"type": "exec", "stream": stream, "container": container,
                   "cmd": ["sh", "-c", script], "resume": true}),
    )
    .await;
    ws.expect("started", stream).await;
}

/// Stdout of `stream` until `needle` appears in it.
pub(crate) async fn stdout_until(ws: &mut Ws, stream: u8, needle: &str) -> Vec<u8> {
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains(needle) {
        match ws.next().await {
            Frame::Bytes(s, 1, bytes) if s == stream => seen.extend(bytes),
            Frame::Closed(r) => panic!("closed: {r:?}"),
            _ => {}
        }
    }
    seen
}

#[tokio::test]
async fn a_dropped_session_reattaches_to_its_exec_and_misses_not_a_byte() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;
    let mut first = app.ws(&user.token).await;
    let token = token_of(&first);
    start_resumable(&mut first, 1, &container, &counting(40)).await;
    let before = stdout_until(&mut first, 1, "line5\n").await;
    first.abandon();

    // The process runs on without a session.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !processes_matching(&container, "while").is_empty(),
        "the exec stopped with its session"
    );

    let mut second = app.ws(&user.token).await;
    assert_ne!(token_of(&second), token, "each session has its own token");
    second
        .send(json!({"type": "reattach", "token": token,
                     "received": [{"stream": 1, "channel": 1, "bytes": before.len()}]}))
        .await;
    let reattached = second.next_json().await;
    assert_eq!(reattached["type"], "reattached", "{reattached}");
    let streams = reattached["streams"].as_array().unwrap();
    let stdout = streams
        .iter()
        .find(|s| s["stream"] == 1 && s["channel"] == 1)
        .unwrap();
    assert_eq!(stdout["from"], before.len() as u64);
    assert_eq!(stdout["lost"], 0);
    let rest = second.collect(1).await;
    assert_eq!(rest.code, Some(0), "{:?}", rest.errors);
    let mut whole = before.clone();
    whole.extend(&rest.stdout);
    assert_eq!(
        String::from_utf8_lossy(&whole),
        counted(40),
        "no duplicate and no gap"
    );

    // The token was good once.
    second
        .send(json!({"type": "reattach", "token": token}))
        .await;
    let again = second.next_json().await;
    assert_eq!(
        (&again["type"], &again["code"]),
        (&json!("error"), &json!("not_found")),
        "{again}"
    );
}

#[tokio::test]
async fn another_users_token_is_refused_and_the_streams_stay_for_their_owner() {
    let app = spawn_app().await;
    let (ada, eve) = (app.new_user().await, app.new_user().await);
    let container = app.running_container(&ada, &["sleep", "3600"]).await;
    let mut first = app.ws(&ada.token).await;
    let token = token_of(&first);
    start_resumable(&mut first, 3, &container, "echo ready; sleep 300").await;
    stdout_until(&mut first, 3, "ready").await;
    first.abandon();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut thief = app.ws(&eve.token).await;
    thief
        .send(json!({"type": "reattach", "token": token}))
        .await;
    let refused = thief.next_json().await;
    assert_eq!(refused["code"], "not_found", "{refused}");
    let mut junk = app.ws(&ada.token).await;
    junk.send(json!({"type": "reattach", "token": "not-a-token"}))
        .await;
    assert_eq!(junk.next_json().await["code"], "not_found");

    // Claiming more than was sent is refused, and changes nothing.
    let mut confused = app.ws(&ada.token).await;
    confused
        .send(json!({"type": "reattach", "token": token,
                     "received": [{"stream": 3, "channel": 1, "bytes": 1_000_000}]}))
        .await;
    assert_eq!(confused.next_json().await["code"], "bad_request");

    // Ada's own new session takes it over, and cancels it.
    let mut second = app.ws(&ada.token).await;
    second
        .send(json!({"type": "reattach", "token": token,
                     "received": [{"stream": 3, "channel": 1, "bytes": 6}]}))
        .await;
    assert_eq!(second.next_json().await["type"], "reattached");
    second.send(json!({"type": "cancel", "stream": 3})).await;
    let gone = eventually(Duration::from_secs(5), || {
        processes_matching(&container, "sleep 300").is_empty()
    })
    .await;
    assert!(gone.is_some(), "the cancelled stream's process stayed");
}

#[tokio::test]
async fn past_its_grace_or_after_bye_a_resumable_exec_is_stopped() {
    let app = spawn_app_with(|s| s.session.resume_grace_s = 2).await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;

    // Dropped: it runs through the grace, then it is killed and the token is spent.
    let mut dropped = app.ws(&user.token).await;
    let token = token_of(&dropped);
    start_resumable(&mut dropped, 1, &container, "sleep 301").await;
    dropped.abandon();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        processes_matching(&container, "sleep 301").len(),
        1,
        "it ran on"
    );
    let killed = eventually(Duration::from_secs(8), || {
        processes_matching(&container, "sleep 301").is_empty()
    })
    .await;
    assert!(killed.is_some(), "it outlived its grace");
    let mut late = app.ws(&user.token).await;
    late.send(json!({"type": "reattach", "token": token})).await;
    assert_eq!(late.next_json().await["code"], "not_found");

    // `bye` ends the session on purpose: its resumable stream stops at once.
    let mut leaving = app.ws(&user.token).await;
    start_resumable(&mut leaving, 1, &container, "sleep 302").await;
    leaving.send(json!({"type": "bye"})).await;
    let stopped = eventually(Duration::from_secs(5), || {
        processes_matching(&container, "sleep 302").is_empty()
    })
    .await;
    assert!(stopped.is_some(), "bye left the process running");
}

#[tokio::test]
async fn a_reattach_past_the_replay_buffer_says_how_much_is_lost() {
    let app = spawn_app_with(|s| s.session.replay_kib = 1).await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;
    let mut first = app.ws(&user.token).await;
    let token = token_of(&first);
    // 5000 bytes at once, then quiet.
    start_resumable(
        &mut first,
        2,
        &container,
        "head -c 5000 /dev/zero | tr '\\0' x; echo; echo done; sleep 300",
    )
    .await;
    first.abandon();
    tokio::time::sleep(Duration::from_millis(800)).await;

    let mut second = app.ws(&user.token).await;
    second
        .send(json!({"type": "reattach", "token": token, "received": []}))
        .await;
    let reattached = second.next_json().await;
    let stdout: &Value = reattached["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["channel"] == 1)
        .unwrap();
    let total = 5000 + 1 + 5;
    assert_eq!(stdout["from"], total - 1024, "{reattached}");
    assert_eq!(stdout["lost"], total - 1024);
    let kept = stdout_until(&mut second, 2, "done\n").await;
    assert_eq!(kept.len(), 1024);
    assert!(kept.ends_with(b"x\ndone\n"));
    second.send(json!({"type": "cancel", "stream": 2})).await;
    second.expect("exit", 2).await;
}

#[tokio::test]
async fn signing_out_stops_the_streams_a_lost_session_left_running() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;
    let mut dropped = app.ws(&user.token).await;
    start_resumable(&mut dropped, 1, &container, "sleep 303").await;
    dropped.abandon();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        processes_matching(&container, "sleep 303").len(),
        1,
        "it ran on"
    );
    let out = app
        .post("/api/v1/auth/logout", Some(&user.token), json!({}))
        .await;
    assert_eq!(out.status(), 204);
    let stopped = eventually(Duration::from_secs(5), || {
        processes_matching(&container, "sleep 303").is_empty()
    })
    .await;
    assert!(
        stopped.is_some(),
        "signing out left the parked stream running"
    );
}

#[tokio::test]
async fn a_terminal_whose_missing_output_is_gone_gets_its_screen_redrawn() {
    let app = spawn_app_with(|s| s.session.replay_kib = 1).await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;
    let mut first = app.ws(&user.token).await;
    let token = token_of(&first);
    // A screen that a 1 KiB buffer cannot hold the making of: a first line, 300 more, then a
    // mark placed by cursor movement.
    let script = "printf '\\033[2J\\033[HTOP\\n'; i=0; while [ $i -lt 300 ]; do echo filler-$i; \
                  i=$((i+1)); done; printf '\\033[5;10HFINAL-MARK'; sleep 300";
    first
        .send(json!({"type": "exec", "stream": 1, "container": container,
                     "cmd": ["sh", "-c", script], "tty": true, "cols": 80, "rows": 24,
                     "resume": true}))
        .await;
    first.expect("started", 1).await;
    first.abandon();
    tokio::time::sleep(Duration::from_millis(800)).await;

    let mut second = app.ws(&user.token).await;
    second
        .send(json!({"type": "reattach", "token": token, "received": []}))
        .await;
    let reattached = second.next_json().await;
    let stdout = reattached["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["channel"] == 1)
        .cloned()
        .unwrap();
    assert_eq!(stdout["screen"], true, "{reattached}");
    assert_eq!(
        stdout["from"], stdout["lost"],
        "all of it is behind the redraw"
    );
    let drawn = stdout_until(&mut second, 1, "FINAL-MARK").await;
    assert!(
        drawn.len() < 8 * 1024,
        "a screen, not the output: {} bytes",
        drawn.len()
    );
    let size = |n| std::num::NonZeroU16::new(n).unwrap();
    let mut terminal = vt100::Parser::new(size(24), size(80), 0);
    terminal.process(&drawn);
    let screen = terminal.screen();
    assert_eq!(screen.contents_between(4, 9, 4, 19), "FINAL-MARK");
    assert!(
        screen.contents().contains("filler-299"),
        "{}",
        screen.contents()
    );
    assert!(
        !screen.contents().contains("TOP"),
        "scrolled off as on a terminal"
    );
    second.send(json!({"type": "cancel", "stream": 1})).await;
    second.expect("exit", 1).await;
}
