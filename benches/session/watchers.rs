//! A class watching one shared terminal: 500 sessions watch a teacher's TTY. Measured: the lag
//! from the sharer's copy of a byte to each watcher's, and the sharer's own keystroke echo with
//! no watcher and with the 500, in the same run; then a flood through a shared terminal with no
//! watcher and with one that never reads, and the server's memory meanwhile.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{Frame, RemoveOnDrop, ServerProcess, Ws};
use crate::percentile;

/// Sessions per student account (a class of `count / SESSIONS_EACH` students).
const SESSIONS_EACH: usize = 20;
/// What each sample types: a token no other sample prints.
fn token(i: usize) -> Vec<u8> {
    format!("<{i:06}>").into_bytes()
}

/// The sample numbers of the tokens in `seen` (a carry of the last bytes is kept for a token
/// cut between frames).
fn tokens_in(carry: &mut Vec<u8>, bytes: &[u8]) -> Vec<usize> {
    carry.extend_from_slice(bytes);
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(start) = carry[at..].iter().position(|&b| b == b'<') {
        let start = at + start;
        if carry.len() < start + 8 {
            break;
        }
        if carry[start + 7] == b'>' {
            if let Ok(n) = std::str::from_utf8(&carry[start + 1..start + 7])
                .unwrap_or("")
                .parse()
            {
                found.push(n);
            }
        }
        at = start + 1;
    }
    let keep = carry.len().saturating_sub(7);
    carry.drain(..keep);
    found
}

/// Types `samples` tokens, one at a time, each once its echo came back; the echo times (ms)
/// and when each came back.
async fn type_tokens(sharer: &mut Ws, from: usize, samples: usize) -> (Vec<f64>, Vec<Instant>) {
    let (mut echo, mut seen) = (Vec::new(), Vec::new());
    let mut carry = Vec::new();
    for i in from..from + samples {
        let start = Instant::now();
        sharer.stdin(1, &token(i)).await;
        'echo: loop {
            if let Frame::Bytes(1, 1, bytes) = sharer.next().await {
                if tokens_in(&mut carry, &bytes).contains(&i) {
                    break 'echo;
                }
            }
        }
        echo.push(start.elapsed().as_secs_f64() * 1000.0);
        seen.push(Instant::now());
        // About the pace of someone typing fast.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (echo, seen)
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v
}

pub async fn shared_terminal(count: usize, samples: usize) -> String {
    let server = ServerProcess::start(&[("BERTH_SESSION__MAX_SESSIONS_PER_USER", "100000")]).await;
    let teacher = server.account_with_role("watch-teacher", "teacher").await;
    let course: Value = server
        .post("/courses", &teacher, json!({"name": "Watched"}))
        .await
        .json()
        .await
        .unwrap();
    let mut students = Vec::new();
    for i in 0..count.div_ceil(SESSIONS_EACH) {
        let token = server.account(&format!("watcher{i}")).await;
        let joined = server
            .post(
                "/courses/join",
                &token,
                json!({"join_code": course["join_code"]}),
            )
            .await;
        assert_eq!(joined.status(), 200);
        students.push(token);
    }
    let container = server.container(&teacher, &["sleep", "3600"]).await;
    let _cleanup = RemoveOnDrop(container.clone());

    // The sharer: `cat` in a raw TTY, as the echo benchmark, shared with the course.
    let mut sharer = server.ws(&teacher).await;
    sharer
        .send(json!({"type": "exec", "stream": 1, "container": container,
                     "cmd": ["sh", "-c", "stty raw -echo; exec cat"],
                     "tty": true, "cols": 80, "rows": 24}))
        .await;
    sharer.expect("started", 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let share = share_with(&mut sharer, 1, &course).await;
    type_tokens(&mut sharer, 0, 50).await; // warm-up
    let (alone, _) = type_tokens(&mut sharer, 50, samples).await;

    // The class watches: each watcher records when each token reached it.
    let rss_before = server.rss_kib();
    let arrivals: Arc<Mutex<Vec<(usize, Instant)>>> = Arc::default();
    let mut watchers = Vec::new();
    for i in 0..count {
        let mut ws = server.ws(&students[i / SESSIONS_EACH]).await;
        ws.send(json!({"type": "watch", "stream": 1, "share": share}))
            .await;
        ws.expect("started", 1).await;
        let arrivals = arrivals.clone();
        watchers.push(tokio::spawn(async move {
            let mut carry = Vec::new();
            loop {
                match ws.next().await {
                    Frame::Bytes(1, 1, bytes) => {
                        let now = Instant::now();
                        let found = tokens_in(&mut carry, &bytes);
                        arrivals
                            .lock()
                            .unwrap()
                            .extend(found.into_iter().map(|n| (n, now)));
                    }
                    Frame::Closed(_) => return,
                    _ => {}
                }
            }
        }));
    }
    let first = 50 + samples;
    type_tokens(&mut sharer, first, 50).await; // warm-up with the class watching
    let (watched, seen) = type_tokens(&mut sharer, first + 50, samples).await;
    let rss_watched = server.rss_kib();
    // The last tokens reach every watcher well within this (the lag below says how soon).
    tokio::time::sleep(Duration::from_millis(500)).await;
    for watcher in &watchers {
        watcher.abort();
    }
    let arrivals = std::mem::take(&mut *arrivals.lock().unwrap());
    let base = first + 50;
    let lags = sorted(
        arrivals
            .iter()
            .filter(|(n, _)| (base..base + samples).contains(n))
            .map(|(n, at)| {
                let sharer_saw = seen[n - base];
                match at.checked_duration_since(sharer_saw) {
                    Some(later) => later.as_secs_f64() * 1000.0,
                    None => -(sharer_saw.duration_since(*at).as_secs_f64() * 1000.0),
                }
            })
            .collect(),
    );
    let expected = count * samples;
    let (alone, watched) = (sorted(alone), sorted(watched));
    sharer.send(json!({"type": "cancel", "stream": 1})).await;
    sharer.expect("exit", 1).await;

    let flood =
        flood_with_a_stalled_watcher(&server, &teacher, &students[0], &container, &course).await;
    format!(
        "## A class watching one terminal\n\n\
         {count} sessions ({} students, {SESSIONS_EACH} sessions each) watch a teacher's shared TTY (`cat` in raw mode); the teacher types a token every 5 ms after its echo came back ({samples} samples after 50 warm-up). Lag: from the sharer's client receiving the token to each watcher's client receiving it, all clients in one process on this machine ({} of {expected} arrivals).\n\n\
         | | p50 | p99 | max |\n|---|---|---|---|\n\
         | lag, sharer → each of {count} watchers | {:.2} ms | {:.2} ms | {:.2} ms |\n\
         | the sharer's echo, no watcher | {:.3} ms | {:.3} ms | {:.3} ms |\n\
         | the sharer's echo, {count} watchers | {:.3} ms | {:.3} ms | {:.3} ms |\n\n\
         **Echo p99 with {count} watchers minus without: {:.3} ms** (target: within 1 ms); lag p99 target under 50 ms. The server's resident memory: {:.1} MiB before the watchers, {:.1} MiB with {count} watching.\n\n\
         {flood}",
        students.len(),
        lags.len(),
        percentile(&lags, 0.5),
        percentile(&lags, 0.99),
        lags.last().copied().unwrap_or(f64::NAN),
        percentile(&alone, 0.5),
        percentile(&alone, 0.99),
        alone.last().unwrap(),
        percentile(&watched, 0.5),
        percentile(&watched, 0.99),
        watched.last().unwrap(),
        percentile(&watched, 0.99) - percentile(&alone, 0.99),
        rss_before as f64 / 1024.0,
        rss_watched as f64 / 1024.0,
    )
}

/// 100 MB through a shared TTY, with no watcher, then with one watcher whose client never reads
/// again; the sharer's time for each, and the server's memory during the second.
async fn flood_with_a_stalled_watcher(
    server: &ServerProcess,
    teacher: &str,
    student: &str,
    container: &str,
    course: &Value,
) -> String {
    let bytes: u64 = crate::env_or("BENCH_FLOOD_MB", 10) as u64 * 1_000_000;
    // Through the engine's TTY with the docker CLI, no berth between (before berth's session
    // opens: a session that is not read for 15 s is closed as silent).
    let started = Instant::now();
    let direct = std::process::Command::new("docker")
        .args(["exec", "-t", container, "sh", "-c"])
        .arg(format!("yes | head -c {bytes}"))
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(direct.success());
    let direct = started.elapsed().as_secs_f64();
    let mut sharer = server.ws(teacher).await;
    sharer
        .send(
            json!({"type": "exec", "stream": 2, "container": container, "cmd": ["sh"],
                     "tty": true, "cols": 80, "rows": 24}),
        )
        .await;
    sharer.expect("started", 2).await;
    let flood =
        |n: usize| format!("yes | head -c {bytes}; echo flooded-$((40+{n}))\n").into_bytes();
    sharer.stdin(2, &flood(0)).await;
    let unshared = flooded(&mut sharer, 0).await;
    let share = share_with(&mut sharer, 2, course).await;
    sharer.stdin(2, &flood(1)).await;
    let alone = flooded(&mut sharer, 1).await;

    let mut stalled = server.ws(student).await;
    stalled
        .send(json!({"type": "watch", "stream": 1, "share": share}))
        .await;
    stalled.expect("started", 1).await;
    let _silent = stalled.into_silent();
    let before = server.rss_kib();
    let peak = Arc::new(Mutex::new(before));
    let sampling = {
        let peak = peak.clone();
        let pid = server.child.id();
        tokio::spawn(async move {
            loop {
                if let Some(kib) = crate::helpers::rss_kib_of(pid) {
                    let mut peak = peak.lock().unwrap();
                    *peak = (*peak).max(kib);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    sharer.stdin(2, &flood(2)).await;
    let with_stalled = flooded(&mut sharer, 2).await;
    sampling.abort();
    let after = server.rss_kib();
    let peak = *peak.lock().unwrap();
    sharer.send(json!({"type": "cancel", "stream": 2})).await;
    format!(
        "Then {} MB of `yes` through a TTY, read by its client to the end:\n\n\
         | | time | throughput |\n|---|---|---|\n\
         | `docker exec -t` directly (CLI, stdout to /dev/null) | {direct:.2} s | {:.1} MB/s |\n\
         | berth, not shared | {unshared:.2} s | {:.1} MB/s |\n\
         | berth, shared, no watcher (its screen followed by the VT parser) | {alone:.2} s | {:.1} MB/s |\n\
         | berth, shared, one watcher whose client never reads | {with_stalled:.2} s | {:.1} MB/s |\n\n\
         The engine's TTY path is what bounds a terminal flood here (`yes` through the pty, the shim and dockerd): berth's own TTY relay keeps up with it, and following the screen costs a little on top.\n\n\
         The server's resident memory during the second: {:.1} MiB before, {:.1} MiB at most, {:.1} MiB after (sampled every 50 ms): a stalled watcher holds at most its own small queue.\n",
        bytes / 1_000_000,
        bytes as f64 / 1e6 / direct,
        bytes as f64 / 1e6 / unshared,
        bytes as f64 / 1e6 / alone,
        bytes as f64 / 1e6 / with_stalled,
        before as f64 / 1024.0,
        peak as f64 / 1024.0,
        after as f64 / 1024.0,
    )
}

/// Shares the sharer's `stream` with `course`; the share's id.
async fn share_with(sharer: &mut Ws, stream: u8, course: &Value) -> String {
    sharer
        .send(json!({"type": "share", "stream": stream, "course": course["id"]}))
        .await;
    sharer.expect("shared", stream).await["share"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Seconds until flood `n` is over on the sharer's screen.
async fn flooded(sharer: &mut Ws, n: usize) -> f64 {
    let start = Instant::now();
    let needle = format!("flooded-{}", 40 + n).into_bytes();
    let mut tail = Vec::new();
    loop {
        if let Frame::Bytes(2, 1, bytes) = sharer.next().await {
            tail.extend_from_slice(&bytes);
            if tail.windows(needle.len()).any(|w| w == needle) {
                return start.elapsed().as_secs_f64();
            }
            let keep = tail.len().saturating_sub(needle.len());
            tail.drain(..keep);
        }
    }
}
