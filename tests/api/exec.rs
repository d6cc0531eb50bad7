use std::time::Duration;

use serde_json::json;

use crate::helpers::{eventually, processes_matching, spawn_app, spawn_app_with, Frame};

#[tokio::test]
async fn tty_exec_echoes_resizes_and_interrupts() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;
    let mut ws = app.ws(&user.token).await;

    ws.exec(1, &container, &["/bin/sh"], true).await;
    ws.stdin(1, b"echo hi\r").await;
    ws.read_until(1, "\r\nhi\r\n").await;

    ws.stdin(1, b"stty size\r").await;
    ws.read_until(1, "24 80").await;
    ws.send(json!({"type": "resize", "stream": 1, "cols": 100, "rows": 30}))
        .await;
    // The resize reaches the engine a moment later; the shell waits for it.
    ws.stdin(
        1,
        b"while [ \"$(stty size)\" = '24 80' ]; do sleep 0.05; done; stty size\r",
    )
    .await;
    ws.read_until(1, "30 100").await;

    // Ctrl-C stops the foreground command, not the shell.
    ws.stdin(1, b"sleep 4141\r").await;
    let found = eventually(Duration::from_secs(3), || {
        !processes_matching(&container, "sleep 4141").is_empty()
    })
    .await;
    assert!(found.is_some(), "sleep started");
    ws.stdin(1, b"\x03").await;
    ws.stdin(1, b"echo after-$((40+2))\r").await;
    ws.read_until(1, "after-42").await;
    assert!(processes_matching(&container, "sleep 4141").is_empty());

    ws.stdin(1, b"exit 7\r").await;
    let out = ws.collect(1).await;
    assert_eq!(out.code, Some(7));
}

#[tokio::test]
async fn non_tty_exec_keeps_stdout_and_stderr_apart_and_reports_the_exit_code() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;
    let mut ws = app.ws(&user.token).await;

    ws.exec(
        5,
        &container,
        &["sh", "-c", "echo out; echo err >&2; echo $GREETING; exit 3"],
        false,
    )
    .await;
    let out = ws.collect(5).await;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    assert_eq!(out.code, Some(3));

    // All output arrives before `exit`, however much there is.
    ws.exec(
        6,
        &container,
        &[
            "sh",
            "-c",
            "yes | head -c 3000000; yes e | head -c 500000 >&2",
        ],
        false,
    )
    .await;
    let out = ws.collect(6).await;
    assert_eq!((out.stdout.len(), out.stderr.len()), (3_000_000, 500_000));

    ws.send(json!({"type": "exec", "stream": 5, "container": container, "cmd": ["sh", "-c", "echo $GREETING in $(pwd)"], "env": {"GREETING": "hello"}, "workdir": "/tmp"}))
        .await;
    ws.expect("started", 5).await;
    let out = ws.collect(5).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello in /tmp\n");
    assert_eq!(out.code, Some(0));
}

#[tokio::test]
async fn every_byte_value_and_utf8_text_survive_unchanged() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;
    let mut ws = app.ws(&user.token).await;

    // Container to client: printf writes all 256 byte values.
    let script: String = (0..=255u32).map(|b| format!("\\{b:03o}")).collect();
    ws.exec(2, &container, &["printf", &script], false).await;
    let out = ws.collect(2).await;
    assert_eq!(out.stdout, (0..=255u8).collect::<Vec<_>>());

    // Client to container and back: cat echoes stdin, split at awkward places.
    let mut input: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    input.extend_from_slice("héllo wörld — 日本語 🎉\n".as_bytes());
    ws.exec(3, &container, &["cat"], false).await;
    for chunk in input.chunks(4093) {
        ws.stdin(3, chunk).await;
    }
    ws.send(json!({"type": "eof", "stream": 3})).await;
    let out = ws.collect(3).await;
    assert_eq!(out.code, Some(0), "cat ends when its stdin closes");
    assert_eq!(out.stdout.len(), input.len());
    assert!(out.stdout == input, "bytes changed on the way");

    // A multi-byte character split across output chunks arrives whole.
    ws.exec(
        4,
        &container,
        &[
            "sh",
            "-c",
            "printf '\\346\\227'; sleep 0.2; printf '\\245\\n'",
        ],
        false,
    )
    .await;
    let out = ws.collect(4).await;
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "日\n");
}

#[tokio::test]
async fn closing_the_client_kills_the_exec_process() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;

    let mut ws = app.ws(&user.token).await;
    ws.exec(
        1,
        &container,
        &["sh", "-c", "sleep 4242 & sleep 4243"],
        false,
    )
    .await;
    assert!(eventually(Duration::from_secs(3), || processes_matching(
        &container,
        "sleep 424"
    )
    .len()
        == 2)
    .await
    .is_some());
    ws.abandon(); // the tab is gone: no close frame
    let gone = eventually(Duration::from_secs(2), || {
        processes_matching(&container, "sleep 424").is_empty()
    })
    .await;
    assert!(
        gone.is_some(),
        "exec'd processes still running 2 s after the client left"
    );

    let mut ws = app.ws(&user.token).await;
    ws.exec(1, &container, &["sleep", "4244"], true).await;
    let running = eventually(Duration::from_secs(3), || {
        !processes_matching(&container, "sleep 4244").is_empty()
    })
    .await;
    assert!(running.is_some(), "the sleep never ran");
    ws.close().await; // a polite close works the same
    let gone = eventually(Duration::from_secs(2), || {
        processes_matching(&container, "sleep 4244").is_empty()
    })
    .await;
    assert!(gone.is_some());
    assert!(
        eventually(Duration::from_secs(2), || app.sessions.is_empty()
            && app.sessions.live_streams() == 0)
        .await
        .is_some()
    );
}

/// The cleanup must not depend on the container's own files: a user is root in their container
/// and can replace `/bin/sh` (which an in-container killer would run) with something that does
/// nothing, or hangs.
#[tokio::test]
async fn processes_die_with_the_session_even_when_the_container_sabotages_its_shell() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;
    for (stream, sabotage) in [(1, "exit 0"), (2, "exec sleep 4747")] {
        let mut ws = app.ws(&user.token).await;
        let script = format!(
            "rm /bin/sh && printf '#!/bin/busybox ash\\n{sabotage}\\n' > /bin/sh && chmod 755 /bin/sh \
             && (sleep 464{stream} &) && echo ready && sleep 465{stream}"
        );
        ws.exec(
            stream,
            &container,
            &["/bin/busybox", "ash", "-c", &script],
            false,
        )
        .await;
        ws.read_until(stream, "ready").await;
        assert!(
            eventually(Duration::from_secs(3), || processes_matching(
                &container,
                &format!("sleep 464{stream}")
            )
            .len()
                == 1)
            .await
            .is_some(),
            "the background sleep did not start"
        );
        ws.abandon();
        let gone = eventually(Duration::from_secs(8), || {
            processes_matching(&container, &format!("sleep 464{stream}")).is_empty()
                && processes_matching(&container, &format!("sleep 465{stream}")).is_empty()
        })
        .await;
        assert!(
            gone.is_some(),
            "with /bin/sh replaced by `{sabotage}`, the exec's processes outlived the session: {:?}",
            processes_matching(&container, "sleep 46")
        );
    }
}

#[tokio::test]
async fn a_silent_client_is_dropped_and_its_processes_killed() {
    let app = spawn_app_with(|s| {
        s.session.heartbeat_interval_ms = 200;
        s.session.heartbeat_timeout_ms = 1000;
    })
    .await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;

    let mut ws = app.ws(&user.token).await;
    assert_eq!(ws.hello["heartbeat_ms"], 200);
    ws.exec(1, &container, &["sleep", "4343"], false).await;
    let running = eventually(Duration::from_secs(3), || {
        !processes_matching(&container, "sleep 4343").is_empty()
    })
    .await;
    assert!(running.is_some(), "the sleep never ran");
    let _silent = ws.into_silent(); // open, but never reads (so never answers a ping)
    let gone = eventually(Duration::from_secs(4), || {
        processes_matching(&container, "sleep 4343").is_empty()
    })
    .await;
    assert!(
        gone.is_some(),
        "a client silent past the timeout keeps its processes"
    );
    assert!(
        eventually(Duration::from_secs(2), || app.sessions.is_empty())
            .await
            .is_some()
    );

    // A client that answers pings stays connected well past the timeout.
    let mut ws = app.ws(&user.token).await;
    for _ in 0..15 {
        ws.send(json!({"type": "ping", "t": "x"})).await;
        assert_eq!(ws.next_json().await["type"], "pong");
        // A fixed pause: what is tested is that time passes (15 × 150 ms, past the timeout).
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(app.sessions.len(), 1);
}

#[tokio::test]
async fn cancel_kills_the_process_and_frees_the_stream_id() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;
    let mut ws = app.ws(&user.token).await;

    ws.exec(9, &container, &["sh", "-c", "sleep 4545"], false)
        .await;
    assert!(eventually(Duration::from_secs(3), || !processes_matching(
        &container,
        "sleep 4545"
    )
    .is_empty())
    .await
    .is_some());
    ws.send(json!({"type": "cancel", "stream": 9})).await;
    let exit = ws.expect("exit", 9).await;
    assert_eq!(exit["code"], 137, "killed by SIGKILL");
    assert!(processes_matching(&container, "sleep 4545").is_empty());

    // The id can be used again right away.
    ws.exec(9, &container, &["true"], false).await;
    assert_eq!(ws.collect(9).await.code, Some(0));
}

#[tokio::test]
async fn a_cancel_right_after_started_still_kills_the_process() {
    // `started` comes when the engine answers the exec's start, which can be before its process
    // exists: a kill made at once must still get it.
    let app = spawn_app().await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;
    let mut ws = app.ws(&user.token).await;
    for _ in 0..10 {
        ws.exec(4, &container, &["sleep", "4646"], false).await;
        ws.send(json!({"type": "cancel", "stream": 4})).await;
        let exit = ws.expect("exit", 4).await;
        assert_eq!(exit["code"], 137, "{exit}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let left = processes_matching(&container, "sleep 4646");
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn pause_stops_output_and_resume_continues_it() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;
    let mut ws = app.ws(&user.token).await;

    ws.exec(
        1,
        &container,
        &["sh", "-c", "while true; do echo tick; sleep 0.05; done"],
        false,
    )
    .await;
    ws.read_until(1, "tick").await;
    ws.send(json!({"type": "pause", "stream": 1})).await;
    // What was already on its way may still arrive; then nothing.
    while let Some(Frame::Bytes(..)) = ws.next_within(Duration::from_millis(300)).await {}
    let quiet = ws.next_within(Duration::from_secs(1)).await;
    assert!(quiet.is_none(), "output kept coming while paused");
    ws.send(json!({"type": "resume", "stream": 1})).await;
    ws.read_until(1, "tick\ntick\n").await;
}

#[tokio::test]
async fn a_windowed_exec_sends_no_further_ahead_than_the_client_acknowledged() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;
    let mut ws = app.ws(&user.token).await;
    const WINDOW: usize = 16 * 1024;

    // `yes` would fill any buffer: with a window, what arrives stops near the window.
    ws.send(
        json!({"type": "exec", "stream": 1, "container": container, "cmd": ["yes"],
                   "window": WINDOW}),
    )
    .await;
    ws.expect("started", 1).await;
    let mut received = 0;
    while let Some(frame) = ws.next_within(Duration::from_millis(500)).await {
        match frame {
            Frame::Bytes(1, 1, bytes) => received += bytes.len(),
            other => panic!("unexpected {other:?}"),
        }
    }
    // One chunk read from the engine goes whole even when it passes the window.
    assert!(
        (WINDOW..=WINDOW + 64 * 1024).contains(&received),
        "{received} bytes arrived with a {WINDOW}-byte window and no ack"
    );

    // Acknowledging lets as much again through, and no more.
    ws.send(json!({"type": "ack", "stream": 1, "bytes": received}))
        .await;
    let mut more = 0;
    while let Some(frame) = ws.next_within(Duration::from_millis(500)).await {
        if let Frame::Bytes(1, 1, bytes) = frame {
            more += bytes.len();
        }
    }
    assert!(
        (WINDOW / 2..=WINDOW + 64 * 1024).contains(&more),
        "{more} bytes arrived after acknowledging {received}"
    );

    // Bad uses are refused in words: a window too small, an ack for an unwindowed stream.
    ws.send(
        json!({"type": "exec", "stream": 2, "container": container, "cmd": ["true"],
                   "window": 10}),
    )
    .await;
    let refused = ws.expect("error", 2).await;
    assert!(refused["message"]
        .as_str()
        .unwrap()
        .contains("window must be at least"));
    ws.exec(3, &container, &["sleep", "5"], false).await;
    ws.send(json!({"type": "ack", "stream": 3, "bytes": 100}))
        .await;
    let refused = ws.expect("error", 3).await;
    assert!(refused["message"].as_str().unwrap().contains("no window"));
    ws.send(json!({"type": "cancel", "stream": 1})).await;
    ws.expect("exit", 1).await;
}

#[tokio::test]
async fn a_ctrl_c_in_a_flooded_terminal_brings_the_prompt_past_the_window_losing_nothing() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;
    let mut ws = app.ws(&user.token).await;
    const WINDOW: usize = 16 * 1024;
    ws.send(
        json!({"type": "exec", "stream": 1, "container": container, "cmd": ["sh"],
                   "tty": true, "cols": 200, "rows": 50, "window": WINDOW}),
    )
    .await;
    ws.expect("started", 1).await;
    // `noflsh`: the terminal does not throw away its queued output at the Ctrl-C, so every
    // number printed must arrive.
    ws.stdin(
        1,
        b"stty noflsh; i=0; while :; do echo n$i; i=$((i+1)); done\n",
    )
    .await;
    let mut seen = Vec::new();
    // The window fills, and nothing is acknowledged: the output stops near the window.
    while let Some(frame) = ws.next_within(Duration::from_millis(500)).await {
        if let Frame::Bytes(1, 1, bytes) = frame {
            seen.extend(bytes);
        }
    }
    assert!(
        seen.len() < WINDOW + 64 * 1024,
        "{} bytes before any ack",
        seen.len()
    );
    let held = seen.len();
    ws.stdin(1, b"\x03").await;
    // Without an ack, what the engine held comes through, then the prompt.
    let prompt = tokio::time::timeout(Duration::from_secs(5), async {
        // (The shell follows its prompt with a cursor position query.)
        let prompted = |seen: &[u8]| {
            let text = String::from_utf8_lossy(seen);
            text.rfind("^C").is_some_and(|at| text[at..].contains("# "))
        };
        while !prompted(&seen) {
            if let Frame::Bytes(1, 1, bytes) = ws.next().await {
                seen.extend(bytes);
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&seen).to_string();
    assert!(
        prompt.is_ok(),
        "no prompt after the Ctrl-C; {} bytes after it, ending {:?}",
        seen.len() - held,
        &text[text.len().saturating_sub(200)..]
    );
    // Every number from the first to the last, once each, in order.
    let numbers: Vec<u64> = text
        .split("\r\n")
        .filter_map(|line| line.strip_prefix('n')?.parse().ok())
        .collect();
    assert!(numbers.len() > 1000, "only {} numbers", numbers.len());
    let expected: Vec<u64> = (0..numbers.len() as u64).collect();
    assert!(numbers == expected, "numbers missing or repeated");
    ws.send(json!({"type": "cancel", "stream": 1})).await;
}

#[tokio::test]
async fn tty_output_starting_with_low_bytes_arrives_unchanged() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let container = app.running_container(&user, &["sleep", "3600"]).await;
    let mut ws = app.ws(&user.token).await;

    // Docker's TTY stream has no frame headers: a chunk that starts with 0x00-0x02 must not be
    // taken for one (as `cat` of a binary file in a terminal would produce).
    for (stream, first) in [(1u8, 0u8), (2, 1), (3, 2)] {
        let script =
            format!("sleep 0.3; printf '\\{first:03o}\\001\\002\\000\\000\\000\\377\\377hello'");
        ws.exec(stream, &container, &["sh", "-c", &script], true)
            .await;
        let out = ws.collect(stream).await;
        let mut expected = vec![first, 1, 2, 0, 0, 0, 0xff, 0xff];
        expected.extend_from_slice(b"hello");
        assert_eq!(out.stdout, expected);
        assert_eq!(out.code, Some(0));
    }
}
