//! Three replicas on one PostgreSQL database: a class checking in across them within a minute
//! while the teacher's screen is on one of them, and the terminals of a replica that dies coming
//! back on the others (against a new exec straight from the engine, the floor of any failover).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{processes_matching, RemoveOnDrop, ServerProcess, Ws};
use crate::percentile;

/// How many replicas the figures are taken on.
const REPLICAS: usize = 3;

/// Replicas that hold as many sessions per account as the benchmark opens.
async fn replicas() -> Vec<ServerProcess> {
    ServerProcess::replicas(
        REPLICAS,
        &[("BERTH_SESSION__MAX_SESSIONS_PER_USER", "100000")],
    )
    .await
}

/// `students` enrolled in a course of the teacher's, each with an account made on a replica in
/// turn, and checking in over `over` on a session on a replica in turn, with the code the
/// teacher's screen (on the first replica) shows at that moment.
pub async fn check_ins(students: usize, over: Duration) -> String {
    let replicas = replicas().await;
    let teacher = replicas[0].account_with_role("teacher", "teacher").await;
    let course: Value = replicas[0]
        .post("/courses", &teacher, json!({"name": "replicas"}))
        .await
        .json()
        .await
        .unwrap();
    let join_code = course["join_code"].clone();
    let mut tokens = Vec::with_capacity(students);
    for chunk in (0..students).collect::<Vec<_>>().chunks(25) {
        let joining = chunk.iter().map(|&i| {
            let replica = &replicas[i % REPLICAS];
            let join_code = join_code.clone();
            async move {
                let token = replica.account(&format!("student{i}")).await;
                let joined = replica
                    .post("/courses/join", &token, json!({"join_code": join_code}))
                    .await;
                assert_eq!(joined.status(), 200);
                token
            }
        });
        tokens.extend(futures_util::future::join_all(joining).await);
    }
    let mut sockets = Vec::with_capacity(students);
    for (chunk_at, chunk) in tokens.chunks(100).enumerate() {
        let opening = chunk.iter().enumerate().map(|(j, token)| {
            let i = chunk_at * 100 + j;
            replicas[i % REPLICAS].ws(token)
        });
        sockets.extend(futures_util::future::join_all(opening).await);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let attendance: Value = replicas[0]
        .post(
            &format!("/courses/{}/attendance", course["id"].as_str().unwrap()),
            &teacher,
            json!({"period_s": 10, "duration_s": 600}),
        )
        .await
        .json()
        .await
        .unwrap();
    let attendance = attendance["id"].as_str().unwrap().to_string();
    let mut screen = replicas[0].ws(&teacher).await;
    screen
        .send(json!({"type": "attendance.watch", "stream": 1, "attendance": attendance}))
        .await;
    let first = screen.expect("attendance.code", 1).await["code"]
        .as_str()
        .unwrap()
        .to_string();
    // The code on the screen, as the students read it; and when each check-in showed up there.
    let (shown, code) = tokio::sync::watch::channel(first);
    let watcher = tokio::spawn(async move {
        let mut seen = HashMap::new();
        while seen.len() < students {
            match screen.next_within(Duration::from_secs(30)).await {
                Some(crate::helpers::Frame::Json(m)) if m["type"] == "attendance.code" => {
                    let _ = shown.send(m["code"].as_str().unwrap().to_string());
                }
                Some(crate::helpers::Frame::Json(m)) if m["type"] == "attendance.checkin" => {
                    seen.insert(m["username"].as_str().unwrap().to_string(), Instant::now());
                }
                Some(_) => {}
                None => break,
            }
        }
        seen
    });
    let start = Instant::now();
    let spread = over.as_micros() as usize;
    let rush = sockets.into_iter().enumerate().map(|(i, mut ws)| {
        let (attendance, code) = (attendance.clone(), code.clone());
        async move {
            let at = start + Duration::from_micros((i * spread / students) as u64);
            // Reading while it waits, so that the session answers the server's pings.
            while let Some(left) = at.checked_duration_since(Instant::now()) {
                if let Some(crate::helpers::Frame::Closed(why)) = ws.next_within(left).await {
                    panic!("a student's session closed while waiting: {why:?}");
                }
            }
            let typed = code.borrow().clone();
            let sent = Instant::now();
            ws.send(json!({"type": "attendance.checkin", "attendance": attendance, "code": typed}))
                .await;
            let answer = ws.next_json().await;
            let accepted = answer["type"] == "attendance.checked_in";
            (
                format!("student{i}"),
                i % REPLICAS,
                sent,
                sent.elapsed(),
                accepted,
            )
        }
    });
    let results = futures_util::future::join_all(rush).await;
    let elapsed = start.elapsed();
    let seen = tokio::time::timeout(Duration::from_secs(30), watcher)
        .await
        .unwrap()
        .unwrap();

    let accepted = results.iter().filter(|r| r.4).count();
    let mut latency: Vec<f64> = results.iter().map(|r| ms(r.3)).collect();
    let lag = |same: bool| {
        let mut lags: Vec<f64> = results
            .iter()
            .filter(|r| (r.1 == 0) == same)
            .filter_map(|(name, _, sent, _, _)| seen.get(name).map(|at| ms(*at - *sent)))
            .collect();
        lags.sort_by(|a, b| a.partial_cmp(b).unwrap());
        lags
    };
    let (here, across) = (lag(true), lag(false));
    latency.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!(
        "## Attendance across replicas\n\n{students} students check in over {} s, each on a WebSocket session on one of {REPLICAS} replicas in turn (one PostgreSQL database), with the code the teacher's screen shows (it turns every 10 s). The screen is on the first replica: a third of the class checks in on it, the rest on the others.\n\n\
         | accepted | shown on the screen | check-ins/s | check-in p50 | check-in p99 | screen, same replica p99 | screen, across replicas p50 | across replicas p99 |\n|---|---|---|---|---|---|---|---|\n\
         | {accepted}/{students} | {} | {:.0} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |\n\n\
         (targets: all accepted, across replicas p99 < 250 ms)\n",
        over.as_secs(),
        seen.len(),
        students as f64 / elapsed.as_secs_f64(),
        percentile(&latency, 0.5),
        percentile(&latency, 0.99),
        percentile(&here, 0.99),
        percentile(&across, 0.5),
        percentile(&across, 0.99),
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A shell of the bench's container on `replica`, answering.
async fn shell(address: &str, token: &str, container: &str) -> Option<Ws> {
    let mut ws = Ws::try_connect(address, token).await?;
    ws.send(json!({"type": "exec", "stream": 1, "container": container,
                   "cmd": ["/bin/sh"], "tty": true, "cols": 80, "rows": 24}))
        .await;
    ws.stdin(1, b"echo back-$((40+2))\r").await;
    ws.read_until(1, "back-42").await;
    Some(ws)
}

/// `terminals` shells on the first replica, which is killed (SIGKILL): each client, when its
/// socket closes, connects to another replica (as a load balancer sends it) and opens its shell
/// again. Measured from the kill: each shell back at a prompt, and the dead replica's shells
/// gone from the container. Beside it, a shell opened with the engine directly.
pub async fn failover(terminals: usize, docker: &bollard::Docker) -> String {
    let mut replicas = replicas().await;
    let token = replicas[0].account("failover").await;
    let container = replicas[0].container(&token, &["sleep", "3600"]).await;
    let _cleanup = RemoveOnDrop(container.clone());
    let mut shells = Vec::with_capacity(terminals);
    for _ in 0..terminals {
        shells.push(
            shell(&replicas[0].address, &token, &container)
                .await
                .expect("a shell"),
        );
    }
    // Each shell has a child of its own to leave behind.
    for ws in &mut shells {
        ws.stdin(1, b"sleep 5151 &\r").await;
    }
    let left = || processes_matching(&container, "sleep 5151").len();
    while left() < terminals {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let others: Vec<String> = replicas[1..].iter().map(|r| r.address.clone()).collect();
    let mut dying = replicas.remove(0);
    dying.child.kill().unwrap();
    let killed = Instant::now();
    let back = shells.into_iter().enumerate().map(|(i, mut ws)| {
        let (others, token, container) = (&others, &token, &container);
        async move {
            while !matches!(
                ws.next_within(Duration::from_secs(30)).await,
                Some(crate::helpers::Frame::Closed(_)) | None
            ) {}
            let mut attempt = i;
            loop {
                let address = &others[attempt % others.len()];
                if let Some(_ws) = shell(address, token, container).await {
                    return killed.elapsed();
                }
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let back = futures_util::future::join_all(back);
    let swept = async {
        while left() > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        killed.elapsed()
    };
    let (back, swept) = tokio::join!(back, swept);
    dying.child.wait().unwrap();
    let mut back: Vec<f64> = back.into_iter().map(ms).collect();
    back.sort_by(|a, b| a.partial_cmp(b).unwrap());

    let mut direct = Vec::new();
    for _ in 0..10 {
        direct.push(ms(direct_shell(docker, &container).await));
    }
    direct.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!(
        "## Failover\n\n{terminals} terminals on one of {REPLICAS} replicas, each with a `sleep` of its own in the background; the replica is killed with SIGKILL. Each client reconnects to another replica when its socket closes and opens its shell again (the browser's page does the same through the load balancer, after 0.5 s; `a_browser_whose_replica_dies_gets_its_terminal_back_on_another_behind_nginx` runs it). From the kill:\n\n\
         | back at a prompt p50 | p99 | last | the dead replica's processes killed | a new shell from the engine directly (median) |\n|---|---|---|---|---|\n\
         | {:.0} ms | {:.0} ms | {:.0} ms | {:.1} s | {:.1} ms |\n\n\
         (targets: back at a prompt within 5 s; processes killed within 10 s. A killed process's sessions close at once, since its sockets close; a replica that hangs instead is found dead after {} s of silence)\n",
        percentile(&back, 0.5),
        percentile(&back, 0.99),
        back.last().unwrap(),
        swept.as_secs_f64(),
        percentile(&direct, 0.5),
        berth::replicas::DEAD_AFTER.as_secs(),
    )
}

/// Time to a shell's answer with the engine's exec API directly.
async fn direct_shell(docker: &bollard::Docker, container: &str) -> Duration {
    use bollard::exec::{CreateExecOptions, StartExecResults};
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let began = Instant::now();
    let exec = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(vec!["/bin/sh"]),
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                tty: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = docker.start_exec(&exec.id, None).await.unwrap()
    else {
        panic!("not attached");
    };
    input.write_all(b"echo back-$((40+2))\r").await.unwrap();
    let mut seen = Vec::new();
    while let Some(Ok(chunk)) = output.next().await {
        seen.extend_from_slice(&chunk.into_bytes());
        if String::from_utf8_lossy(&seen).contains("back-42") {
            break;
        }
    }
    let took = began.elapsed();
    input.write_all(b"exit\r").await.unwrap();
    took
}
