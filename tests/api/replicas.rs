//! Several berth replicas on one PostgreSQL database: what one replica does, the others see.
//! These run on PostgreSQL in both suites (a shared database is what they are about).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::accounts::{open_with_ticket, ticket};
use crate::attendance::{check_in, course_with_students, open_attendance, watch};
use crate::browser::{container_name, through_a_crash};
use crate::helpers::{
    eventually, processes_matching, spawn_replicas, Frame, RemoveOnDrop, ServerProcess, Ws, IMAGE,
    TEST_POSTGRES,
};
use crate::resume::{stdout_until, token_of};

#[tokio::test]
async fn a_ticket_raced_by_two_replicas_is_redeemed_once() {
    let replicas = spawn_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let user = a.new_user().await;
    for _ in 0..10 {
        let ticket = ticket(a, &user.token).await;
        let (on_a, on_b) = tokio::join!(open_with_ticket(a, &ticket), open_with_ticket(b, &ticket));
        let opened = [&on_a, &on_b].iter().filter(|r| r.is_ok()).count();
        assert_eq!(opened, 1, "a: {:?}, b: {:?}", on_a.err(), on_b.err());
        let refused = on_a.err().or(on_b.err()).unwrap();
        assert!(refused.contains("401"), "{refused}");
    }
}

#[tokio::test]
async fn failed_sign_ins_spread_over_replicas_are_throttled_as_one() {
    let replicas =
        crate::helpers::spawn_replicas_with(2, |_, s| s.login.max_failures_per_ip = 6).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    a.register("erin", "password1").await;
    // Before the failures, erin signs in on either: the refusal below is the throttle's.
    for replica in [a, b] {
        assert_eq!(replica.login("erin", "password1").await.status(), 200);
    }
    // Three failures on each: under the limit on each replica alone, at it together.
    for i in 0..6 {
        let replica = [a, b][i % 2];
        let response = replica
            .login(&format!("nobody{i}"), "whatever-password")
            .await;
        assert_eq!(response.status(), 401);
    }
    for replica in [a, b] {
        assert_eq!(replica.login("erin", "password1").await.status(), 429);
    }
}

#[tokio::test]
async fn a_logout_on_one_replica_closes_a_session_on_another_within_a_second() {
    let replicas = spawn_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let user = a.new_user().await;
    let mut on_b = b.ws(&user.token).await;
    let other = a.new_user().await;
    let mut others_on_b = b.ws(&other.token).await;

    let logout = a.post(
        "/api/v1/auth/logout",
        Some(&user.token),
        serde_json::json!({}),
    );
    let sent = Instant::now();
    assert_eq!(logout.await.status(), 204);
    match on_b.next_within(Duration::from_secs(1)).await {
        Some(Frame::Closed(reason)) => assert_eq!(reason.as_deref(), Some("token revoked")),
        other => panic!("the session on the other replica is still open: {other:?}"),
    }
    let took = sent.elapsed();
    assert!(took < Duration::from_secs(1), "{took:?}");
    // The token is refused by both, and nobody else's session was touched.
    assert_eq!(b.get("/api/v1/me", Some(&user.token)).await.status(), 401);
    others_on_b
        .send(serde_json::json!({"type": "ping", "t": 1}))
        .await;
    assert_eq!(others_on_b.next_json().await["type"], "pong");
}

/// The current code, as the teacher's screen shows it.
async fn code_on(screen: &mut crate::helpers::Ws) -> String {
    screen.expect("attendance.code", 1).await["code"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn check_ins_on_other_replicas_reach_the_teachers_screen_even_across_a_lost_listener() {
    let replicas = spawn_replicas(3).await;
    let (teacher, course, students) = course_with_students(&replicas[0], 24).await;
    let attendance = open_attendance(&replicas[0], &teacher, &course, 60).await;
    let mut screen = replicas[0].ws(&teacher.token).await;
    watch(&mut screen, 1, &attendance).await;
    let code = code_on(&mut screen).await;

    // Half the class checks in on the two other replicas at once.
    let (first_half, second_half) = students.split_at(12);
    let rush = first_half.iter().enumerate().map(|(i, student)| {
        let replica = &replicas[1 + i % 2];
        let (attendance, code) = (&attendance, &code);
        async move {
            let response = check_in(replica, student, attendance, code).await;
            assert_eq!(response.status(), 200);
            (student.username.clone(), Instant::now())
        }
    });
    let answered = futures_util::future::join_all(rush).await;
    let mut lags = Vec::new();
    let mut seen = std::collections::HashSet::new();
    while seen.len() < answered.len() {
        let message = tokio::time::timeout(
            Duration::from_secs(3),
            screen.expect("attendance.checkin", 1),
        )
        .await
        .unwrap_or_else(|_| {
            panic!(
                "only {} of {} check-ins reached the screen",
                seen.len(),
                answered.len()
            )
        });
        let name = message["username"].as_str().unwrap().to_string();
        let (_, at) = answered
            .iter()
            .find(|(n, _)| *n == name)
            .expect("one of the rush");
        lags.push(at.elapsed());
        assert!(seen.insert(name), "a check-in shown twice");
    }
    lags.sort();
    let slowest = *lags.last().unwrap();
    assert!(slowest < Duration::from_secs(1), "{lags:?}");

    // The screen's replica loses its listening connection; check-ins taken meanwhile still
    // reach it (its catch-up reads them).
    let database = replicas[0]
        .database
        .url()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let terminated = std::process::Command::new("psql")
        .arg(format!("{TEST_POSTGRES}/postgres"))
        .args(["-qtA", "-c"])
        .arg(format!(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{database}' AND application_name = 'berth-listener') AS t"
        ))
        .output()
        .unwrap();
    let count = String::from_utf8_lossy(&terminated.stdout)
        .trim()
        .to_string();
    assert_eq!(
        count, "3",
        "each replica listens on a connection of its own"
    );
    for student in second_half {
        let replica = &replicas[1];
        assert_eq!(
            check_in(replica, student, &attendance, &code)
                .await
                .status(),
            200
        );
    }
    for _ in second_half {
        let message = tokio::time::timeout(
            Duration::from_secs(3),
            screen.expect("attendance.checkin", 1),
        )
        .await
        .expect("a check-in taken while the listener was away was lost");
        let name = message["username"].as_str().unwrap().to_string();
        assert!(seen.insert(name), "a check-in shown twice");
    }
    let last: Value = replicas[2]
        .get(
            &format!("/api/v1/attendance/{attendance}/roster"),
            Some(&teacher.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(last["present"], 24, "{last}");
}

/// `GET /admin/replicas` as `admin` on `replica`.
async fn replicas_seen_by(replica: &ServerProcess, admin: &str) -> Value {
    replica.get("/admin/replicas", admin).await
}

#[tokio::test]
async fn a_replica_stopped_on_purpose_leaves_at_once_and_its_sessions_stop_counting() {
    let mut replicas =
        ServerProcess::replicas(2, &[("BERTH_SESSION__MAX_SESSIONS_PER_USER", "1")]).await;
    let admin = replicas[1]
        .account_with_role("leaving-admin", "admin")
        .await;
    let token = replicas[1].account("leaving").await;
    let ws = Ws::connect(&replicas[0].address, &token).await;
    assert!(
        Ws::try_connect(&replicas[1].address, &token)
            .await
            .is_none(),
        "the session on the first replica takes the student's one"
    );
    assert_eq!(
        replicas_seen_by(&replicas[1], &admin).await["replicas"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let pid = replicas[0].child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    replicas[0].child.wait().unwrap();
    let stopped = Instant::now();
    drop(ws);
    // Well before its heartbeat would be old (5 s): it said it was leaving.
    let seen = replicas_seen_by(&replicas[1], &admin).await;
    assert_eq!(seen["replicas"].as_array().unwrap().len(), 1, "{seen}");
    assert!(
        Ws::try_connect(&replicas[1].address, &token)
            .await
            .is_some(),
        "the stopped replica's session still counts"
    );
    assert!(
        stopped.elapsed() < Duration::from_secs(2),
        "{:?}",
        stopped.elapsed()
    );
}

/// The id of the replica that leads, and the term, as `replica` sees them.
async fn leader_seen_by(replica: &ServerProcess, admin: &str) -> Option<(String, i64)> {
    let seen = replicas_seen_by(replica, admin).await;
    let leader = seen["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["leader"] == true && r["alive"] == true)?;
    Some((leader["id"].as_str()?.to_string(), seen["term"].as_i64()?))
}

fn is_running(container: &str) -> bool {
    let out = std::process::Command::new("docker")
        .args(["inspect", "-f", "{{.State.Running}}", container])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "true"
}

/// A workspace's container and volume (both named so), removed when dropped.
struct WorkspaceOnDrop(String);

impl Drop for WorkspaceOnDrop {
    fn drop(&mut self) {
        let docker = |args: &[&str]| std::process::Command::new("docker").args(args).output();
        let _ = docker(&["rm", "-f", &self.0]);
        let _ = docker(&["volume", "rm", "-f", &self.0]);
    }
}

/// A workspace of `template` for `token` on `replica`: its container's name, and what removes
/// it when the test ends.
async fn workspace_on(
    replica: &ServerProcess,
    token: &str,
    template: &Value,
    name: &str,
) -> (String, WorkspaceOnDrop) {
    let made = replica
        .post(
            "/workspaces",
            token,
            serde_json::json!({"template": template["id"], "name": name}),
        )
        .await;
    assert_eq!(made.status(), 201, "{}", made.text().await.unwrap());
    let id = made.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let container = format!("berth-ws-{id}");
    (container.clone(), WorkspaceOnDrop(container))
}

#[tokio::test]
async fn killing_the_leader_moves_the_culling_to_another_replica() {
    let mut replicas =
        ServerProcess::replicas(2, &[("BERTH_WORKSPACES__CULL_INTERVAL_S", "1")]).await;
    let admin = replicas[0].account_with_role("leader-admin", "admin").await;
    let teacher = replicas[0]
        .account_with_role("leader-teacher", "teacher")
        .await;
    let student = replicas[0].account("leader-student").await;
    let mut ids = Vec::new();
    for replica in &replicas {
        let seen = replicas_seen_by(replica, &admin).await;
        ids.push(seen["this"].as_str().unwrap().to_string());
    }
    // One leader, the same for both, and both alive.
    let (leader, term) = leader_seen_by(&replicas[1], &admin)
        .await
        .expect("a replica leads");
    assert_eq!(
        leader_seen_by(&replicas[0], &admin).await,
        Some((leader.clone(), term))
    );
    let seen = replicas_seen_by(&replicas[0], &admin).await;
    assert_eq!(seen["replicas"].as_array().unwrap().len(), 2, "{seen}");
    let template: Value = replicas[0]
        .post(
            "/templates",
            &teacher,
            serde_json::json!({
                "name": "cull-on-the-leader",
                "image": IMAGE,
                "memory_mb": 64,
                "pids": 32,
                "run": {".sh": ["sh", "{file}"]},
                "idle_timeout_s": 2,
            }),
        )
        .await
        .json()
        .await
        .unwrap();

    // The leader culls: a workspace left idle stops.
    let (first, _removed) = workspace_on(&replicas[0], &student, &template, "first").await;
    let culled = eventually(Duration::from_secs(10), || !is_running(&first)).await;
    assert!(culled.is_some(), "the leader did not cull");

    // The leader dies as a crash would.
    let at = ids.iter().position(|id| *id == leader).unwrap();
    let mut dead = replicas.remove(at);
    dead.child.kill().unwrap();
    dead.child.wait().unwrap();
    let killed = Instant::now();
    let survivor = &replicas[0];
    let took_over = loop {
        if let Some((now_leading, new_term)) = leader_seen_by(survivor, &admin).await {
            if now_leading == ids[1 - at] {
                assert!(new_term > term, "{new_term} after {term}");
                break killed.elapsed();
            }
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "no replica took over within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The new leader culls what goes idle now.
    let (second, _removed) = workspace_on(survivor, &student, &template, "second").await;
    assert!(is_running(&second), "a new workspace runs");
    let culled = eventually(Duration::from_secs(10), || !is_running(&second)).await;
    assert!(
        culled.is_some(),
        "the new leader did not cull (took over in {took_over:?})"
    );
    // The dead one is forgotten.
    let forgotten = loop {
        let seen = replicas_seen_by(survivor, &admin).await;
        if seen["replicas"].as_array().unwrap().len() == 1 {
            break true;
        }
        if killed.elapsed() > Duration::from_secs(15) {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(forgotten, "the dead replica is still listed");
    drop(dead);
}

#[tokio::test]
async fn killing_a_replica_leaves_no_process_of_its_sessions_behind() {
    let mut replicas = ServerProcess::replicas(2, &[]).await;
    let admin = replicas[0].account_with_role("sweep-admin", "admin").await;
    let user = replicas[0].account("sweep-user").await;
    let container = replicas[0].container(&user, &["sleep", "3600"]).await;
    let _removed = RemoveOnDrop(container.clone());

    // A shell with a child on each replica, in the same container.
    let mut on_dying = replicas[0].ws(&user).await;
    on_dying.exec(1, &container, &["/bin/sh"], true).await;
    on_dying.stdin(1, b"sleep 4747 & sleep 4748\r").await;
    let mut on_survivor = replicas[1].ws(&user).await;
    on_survivor
        .exec(1, &container, &["sh", "-c", "sleep 4849"], false)
        .await;
    let started = eventually(Duration::from_secs(5), || {
        processes_matching(&container, "sleep 474").len() == 2
            && processes_matching(&container, "sleep 4849").len() == 1
    })
    .await;
    assert!(started.is_some(), "the processes did not start");
    let seen = replicas_seen_by(&replicas[1], &admin).await;
    let execs: Vec<i64> = seen["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["execs"].as_i64().unwrap())
        .collect();
    assert_eq!(execs, [1, 1], "{seen}");

    let mut dead = replicas.remove(0);
    dead.child.kill().unwrap();
    dead.child.wait().unwrap();
    let killed = Instant::now();
    let gone = eventually(Duration::from_secs(10), || {
        processes_matching(&container, "sleep 474").is_empty()
    })
    .await;
    assert!(
        gone.is_some(),
        "the dead replica's processes still run 10 s after: {:?}",
        processes_matching(&container, "sleep")
    );
    eprintln!(
        "a dead replica's processes were killed {:?} after",
        killed.elapsed()
    );
    // What the living replica runs goes on.
    assert_eq!(processes_matching(&container, "sleep 4849").len(), 1);
    on_survivor
        .send(serde_json::json!({"type": "ping", "t": 1}))
        .await;
    assert_eq!(on_survivor.next_json().await["type"], "pong");
    drop(on_dying);
    drop(dead);
}

#[tokio::test]
async fn a_browser_whose_replica_dies_gets_its_terminal_back_on_another_behind_nginx() {
    let mut replicas = ServerProcess::replicas(3, &[]).await;
    let addresses: Vec<&str> = replicas.iter().map(|r| r.address.as_str()).collect();
    let nginx = crate::nginx::Nginx::start(&addresses).await;
    let admin = replicas[0]
        .account_with_role("failover-admin", "admin")
        .await;
    let token = replicas[0].account("failover").await;
    let id = replicas[1].container(&token, &["sleep", "3600"]).await;
    let _cleanup = RemoveOnDrop(id.clone());
    let name = container_name(&replicas[2], &token, &id).await;
    let url = format!("https://127.0.0.1:{}/", nginx.https_port);
    let mut killed = None;
    let said = through_a_crash(&url, "failover", &name, "failover", async || {
        // The replica nginx sent the page's session to dies: the one with a live session.
        for (i, replica) in replicas.iter_mut().enumerate() {
            if sessions_on(replica, &admin).await > 0 {
                replica.child.kill().unwrap();
                replica.child.wait().unwrap();
                killed = Some(i);
                return;
            }
        }
    })
    .await;
    assert!(killed.is_some(), "no replica held the page's session");
    // (The script checked that the page came back with a new shell, which only a live replica
    // could give it, and that the dead one's `sleep` was killed.)
    assert!(said.contains("browser: back"), "{said}");
}

/// The live sessions on `replica`, from its own metrics.
async fn sessions_on(replica: &ServerProcess, admin: &str) -> u64 {
    let text = reqwest::Client::new()
        .get(format!("http://{}/metrics", replica.address))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("berth_sessions "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no berth_sessions in {text}"))
}

#[tokio::test]
async fn a_terminal_on_one_replica_is_watched_from_another_and_the_student_sees_who_watches() {
    use crate::share::message;
    use berth::users::Role;
    let replicas = spawn_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let teacher = a.new_user_with_role(Role::Teacher).await;
    let (student, outsider) = (a.new_user().await, a.new_user().await);
    let course = crate::assignments::course(a, &teacher, &[&student]).await;

    // The teacher shares a terminal on replica A.
    let container = a.running_container(&teacher, &["sleep", "3600"]).await;
    let mut sharer = a.ws(&teacher.token).await;
    sharer
        .send(
            json!({"type": "exec", "stream": 1, "container": container, "cmd": ["sh"],
                     "tty": true, "cols": 80, "rows": 24, "resume": true}),
        )
        .await;
    message(&mut sharer, "started", 1).await;
    sharer.stdin(1, b"echo before-$((6*7))\n").await;
    sharer.read_until(1, "before-42").await;
    sharer
        .send(json!({"type": "share", "stream": 1, "course": course}))
        .await;
    let share = message(&mut sharer, "shared", 1).await["share"]
        .as_str()
        .unwrap()
        .to_string();

    // Replica B lists it, and its students watch it there.
    let path = format!("/api/v1/courses/{course}/shares");
    let listed: Value = b
        .get(&path, Some(&student.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["share"], share.as_str(), "{listed}");
    let mut stranger = b.ws(&outsider.token).await;
    stranger
        .send(json!({"type": "watch", "stream": 5, "share": share}))
        .await;
    assert_eq!(
        message(&mut stranger, "error", 5).await["code"],
        "forbidden"
    );
    let mut watcher = b.ws(&student.token).await;
    watcher
        .send(json!({"type": "watch", "stream": 5, "share": share}))
        .await;
    message(&mut watcher, "started", 5).await;
    let size = message(&mut watcher, "resized", 5).await;
    assert_eq!((&size["cols"], &size["rows"]), (&json!(80), &json!(24)));
    watcher.read_until(5, "before-42").await;
    sharer.stdin(1, b"echo live-$((2+3))\n").await;
    watcher.read_until(5, "live-5").await;
    // Read-only there too; the shell is untouched.
    watcher.stdin(5, b"exit\n").await;
    assert_eq!(message(&mut watcher, "error", 5).await["code"], "forbidden");
    sharer.stdin(1, b"echo alive-$((1+1))\n").await;
    watcher.read_until(5, "alive-2").await;
    // The shell ends on A: the watch on B ends, and B no longer lists the share.
    sharer.stdin(1, b"exit\n").await;
    message(&mut watcher, "end", 5).await;
    let path = format!("/api/v1/courses/{course}/shares");
    let ended = Instant::now();
    loop {
        let listed: Value = b
            .get(&path, Some(&student.token))
            .await
            .json()
            .await
            .unwrap();
        if listed.as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            ended.elapsed() < Duration::from_secs(3),
            "still listed: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A student's terminal in a workspace on A, watched by the teacher on B.
    let made = crate::workspaces::template(a, &teacher, json!({})).await;
    let workspace = crate::workspaces::workspace(a, &student, &made).await;
    let mut own = a.ws(&student.token).await;
    own.send(
        json!({"type": "exec", "stream": 1, "workspace": workspace, "cmd": ["sh"],
                    "tty": true, "cols": 80, "rows": 24}),
    )
    .await;
    message(&mut own, "started", 1).await;
    let path = format!("/api/v1/workspaces/{workspace}/streams");
    let listed: Value = b
        .get(&path, Some(&teacher.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["tty"], json!(true), "{listed}");
    let source = listed[0]["id"].as_str().unwrap().to_string();
    let watch = json!({"type": "watch", "stream": 4, "workspace": workspace, "source": source});
    stranger.send(watch.clone()).await;
    assert_eq!(
        message(&mut stranger, "error", 4).await["code"],
        "not_found"
    );
    let mut looking = b.ws(&teacher.token).await;
    looking.send(watch).await;
    message(&mut looking, "started", 4).await;
    let told = message(&mut own, "watchers", 1).await;
    assert_eq!(told["by"], json!([teacher.username]));
    own.stdin(1, b"echo mine-$((3+4))\n").await;
    looking.read_until(4, "mine-7").await;
    looking.send(json!({"type": "cancel", "stream": 4})).await;
    let told = message(&mut own, "watchers", 1).await;
    assert_eq!(told["by"], json!([]));
}

#[tokio::test]
async fn a_terminal_left_on_one_replica_is_reattached_through_another_and_then_a_third() {
    let replicas = spawn_replicas(3).await;
    let (a, b, c) = (&replicas[0], &replicas[1], &replicas[2]);
    let admin = a.new_user_with_role(berth::users::Role::Admin).await;
    let user = a.new_user().await;
    let stranger = a.new_user().await;
    let container = a.running_container(&user, &["sleep", "3600"]).await;
    let lines = 60;
    let script = format!(
        "i=0; while [ $i -lt {lines} ]; do echo line$i; i=$((i+1)); sleep 0.05; done; \
         read x; echo got-$x; exit 3"
    );
    let mut first = a.ws(&user.token).await;
    let token = token_of(&first);
    first
        .send(json!({"type": "exec", "stream": 1, "container": container,
                     "cmd": ["sh", "-c", script], "resume": true}))
        .await;
    first.expect("started", 1).await;
    let mut seen = stdout_until(&mut first, 1, "line5\n").await;
    first.abandon();

    // Another user's reattach through B is refused, and leaves the streams parked.
    let mut theirs = b.ws(&stranger.token).await;
    theirs
        .send(json!({"type": "reattach", "token": token}))
        .await;
    let refused = theirs.next_json().await;
    assert_eq!(
        (&refused["type"], &refused["code"]),
        (&json!("error"), &json!("not_found"))
    );

    // Through B: exactly the missing bytes, then the live output. The exec stays A's.
    let mut second = b.ws(&user.token).await;
    let token2 = token_of(&second);
    second
        .send(json!({"type": "reattach", "token": token,
                     "received": [{"stream": 1, "channel": 1, "bytes": seen.len()}]}))
        .await;
    let reattached = second.next_json().await;
    assert_eq!(reattached["type"], "reattached", "{reattached}");
    let stdout = reattached["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"] == 1 && s["channel"] == 1)
        .cloned()
        .unwrap();
    assert_eq!(
        (&stdout["from"], &stdout["lost"]),
        (&json!(seen.len()), &json!(0))
    );
    seen.extend(stdout_until(&mut second, 1, "line20\n").await);
    let view: Value = b
        .get("/api/v1/admin/replicas", Some(&admin.token))
        .await
        .json()
        .await
        .unwrap();
    let execs_of = |id: &Value| {
        view["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == *id)
            .unwrap()["execs"]
            .clone()
    };
    let a_id = a
        .get("/api/v1/admin/replicas", Some(&admin.token))
        .await
        .json::<Value>()
        .await
        .unwrap()["this"]
        .clone();
    assert_eq!(execs_of(&a_id), json!(1), "{view}");
    assert_eq!(execs_of(&view["this"]), json!(0), "{view}");

    // Lost again, and taken back through C with B's token.
    second.abandon();
    let mut third = c.ws(&user.token).await;
    third
        .send(json!({"type": "reattach", "token": token2,
                     "received": [{"stream": 1, "channel": 1, "bytes": seen.len()}]}))
        .await;
    let reattached = third.next_json().await;
    assert_eq!(reattached["type"], "reattached", "{reattached}");
    seen.extend(stdout_until(&mut third, 1, &format!("line{}\n", lines - 1)).await);
    let mut whole: String = (0..lines).map(|i| format!("line{i}\n")).collect();
    assert_eq!(
        String::from_utf8_lossy(&seen),
        whole,
        "no duplicate and no gap"
    );

    // Input goes through to the process, and its exit code comes back.
    third.stdin(1, b"hi\n").await;
    let rest = third.collect(1).await;
    whole.push_str("got-hi\n");
    seen.extend(&rest.stdout);
    assert_eq!(String::from_utf8_lossy(&seen), whole);
    assert_eq!(rest.code, Some(3), "{:?}", rest.errors);
    // Its id is free on C again, for a stream of C's own.
    third.exec(1, &container, &["true"], false).await;
    assert_eq!(third.collect(1).await.code, Some(0));
}

#[tokio::test]
async fn a_browsers_ticket_does_not_open_a_relay_session() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let replicas = spawn_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let user = a.new_user().await;
    // A ticket from the REST API opens a session, the way a browser does.
    let works = ticket(a, &user.token).await;
    assert!(open_with_ticket(b, &works).await.is_ok());
    // In the header a replica's relay uses, it does not: the session it would open parks under
    // a resume token the caller names, which only a replica may.
    let sent = ticket(a, &user.token).await;
    let mut request = format!("ws://{}/api/v1/ws", b.address)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("berth-relay-ticket", sent.parse().unwrap());
    let refused = crate::helpers::Ws::open(request)
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(refused.to_string().contains("401"), "{refused}");
}

#[tokio::test]
async fn a_bye_through_a_relay_stops_the_streams_it_carried() {
    let replicas = spawn_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let user = a.new_user().await;
    let container = a.running_container(&user, &["sleep", "3600"]).await;
    let mut first = a.ws(&user.token).await;
    let token = token_of(&first);
    first
        .send(json!({"type": "exec", "stream": 1, "container": container,
                     "cmd": ["sleep", "4747"], "resume": true}))
        .await;
    first.expect("started", 1).await;
    first.abandon();

    // Taken over through B, then lost there: it is parked on A again, under B's token.
    let mut second = b.ws(&user.token).await;
    let token2 = token_of(&second);
    second
        .send(json!({"type": "reattach", "token": token}))
        .await;
    assert_eq!(second.next_json().await["type"], "reattached");
    second.abandon();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!processes_matching(&container, "sleep 4747").is_empty());
    let mut third = b.ws(&user.token).await;
    third
        .send(json!({"type": "reattach", "token": token2}))
        .await;
    assert_eq!(third.next_json().await["type"], "reattached");

    // The client ends its session on purpose: the process on A goes with it.
    third.send(json!({"type": "bye"})).await;
    let gone = eventually(Duration::from_secs(10), || {
        processes_matching(&container, "sleep 4747").is_empty()
    })
    .await;
    assert!(gone.is_some(), "the relayed exec outlived the bye");
}

#[tokio::test]
async fn a_host_added_or_removed_on_one_replica_is_known_to_the_others() {
    let replicas = spawn_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let admin = a.new_user_with_role(berth::users::Role::Admin).await;
    let token = Some(admin.token.as_str());
    let named = |listed: &Value| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == "lab-r")
            .cloned()
    };
    // What B lists, once `until` holds of it (or after 5 s, whatever it is).
    let listed_on_b = |until: fn(&Option<Value>) -> bool| async move {
        let started = std::time::Instant::now();
        loop {
            let listed: Value = b.get("/api/v1/hosts", token).await.json().await.unwrap();
            let host = named(&listed);
            if until(&host) || started.elapsed() > Duration::from_secs(5) {
                return (host, started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };

    let added = a
        .post(
            "/api/v1/hosts",
            token,
            json!({"name": "lab-r", "url": "unix:///var/run/docker.sock"}),
        )
        .await;
    assert_eq!(added.status(), 201);
    let added: Value = added.json().await.unwrap();
    let (on_b, took) = listed_on_b(|h| h.as_ref().is_some_and(|h| h["healthy"] == true)).await;
    let on_b = on_b.expect("B lists the host");
    assert_eq!(on_b["healthy"], true, "B can reach it: {on_b}");
    assert_eq!(on_b["id"], added["id"]);
    assert!(took < Duration::from_secs(2), "B knew it after {took:?}");
    let ping = b
        .post(
            &format!("/api/v1/hosts/{}/ping", added["id"].as_str().unwrap()),
            token,
            json!({}),
        )
        .await;
    assert_eq!(ping.status(), 200, "B pings it");

    let path = format!("/api/v1/hosts/{}", added["id"].as_str().unwrap());
    assert_eq!(a.delete(&path, token).await.status(), 204);
    let (on_b, took) = listed_on_b(|h| h.is_none()).await;
    assert!(on_b.is_none(), "B still lists {on_b:?}");
    assert!(took < Duration::from_secs(2), "B forgot it after {took:?}");
}

#[tokio::test]
async fn a_replica_mends_its_session_rows_a_leaked_one_locks_no_one_out_and_a_forgotten_one_counts_again(
) {
    let replicas =
        crate::helpers::spawn_replicas_with(1, |_, s| s.session.max_sessions_per_user = 1).await;
    let a = &replicas[0];
    let admin = a.new_user_with_role(berth::users::Role::Admin).await;
    let student = a.new_user().await;
    let at_a = a.address.to_string();
    let listed: Value = a
        .get("/api/v1/admin/replicas", Some(&admin.token))
        .await
        .json()
        .await
        .unwrap();
    let replica = listed["this"].as_str().unwrap().to_string();
    let db = berth::db::connect(a.database.url()).await.unwrap();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };

    // A row left behind by a session that is over (its DELETE failed): the limit of one is
    // taken by it, which is the lockout to mend.
    let taken =
        berth::db::held::admit_session(&db, "leaked", &student.id, &replica, 1, now() - 60_000, 0)
            .await
            .unwrap();
    assert!(taken);
    assert!(
        Ws::try_connect(&at_a, &student.token).await.is_none(),
        "the leaked row counts against the student"
    );
    let within = Duration::from_secs(15);
    let mut ws = admitted_within(
        &at_a,
        &student.token,
        within,
        "the leaked row still locks the student out",
    )
    .await;

    // The live session's row forgotten (as the leader does for a replica it thought dead): the
    // session counts again, against the limit and in the usage view.
    let rows = berth::db::held::sessions_of_replica(&db, &replica)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    berth::db::held::session_closed(&db, &rows[0].0)
        .await
        .unwrap();
    assert_eq!(usage_of(a, &admin.token, &student.id).await["sessions"], 0);
    let start = Instant::now();
    while usage_of(a, &admin.token, &student.id).await["sessions"] != json!(1) {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the live session is not counted again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        Ws::try_connect(&at_a, &student.token).await.is_none(),
        "and its limit holds again"
    );
    ws.send(json!({"type": "ping", "t": 1})).await;
    assert_eq!(
        ws.next_json().await["type"],
        "pong",
        "the session itself was never touched"
    );
    db.close().await;
}

/// A user's row of the usage view, as `replica` answers it.
async fn usage_of(replica: &crate::helpers::TestApp, admin: &str, user: &str) -> Value {
    let usage: Value = replica
        .get("/api/v1/admin/usage", Some(admin))
        .await
        .json()
        .await
        .unwrap();
    let users = usage["users"].as_array().unwrap();
    users.iter().find(|u| u["user_id"] == user).unwrap().clone()
}

#[tokio::test]
async fn a_users_session_limit_holds_across_replicas_and_usage_counts_them_all() {
    let replicas =
        crate::helpers::spawn_replicas_with(2, |_, s| s.session.max_sessions_per_user = 3).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let admin = a.new_user_with_role(berth::users::Role::Admin).await;
    let student = a.new_user().await;
    let other = a.new_user().await;
    let (at_a, at_b) = (a.address.to_string(), b.address.to_string());
    let mut open = vec![
        Ws::connect(&at_a, &student.token).await,
        Ws::connect(&at_a, &student.token).await,
    ];
    // Below the limit, a session on the other replica is taken: the refusal below is the limit's.
    open.push(Ws::connect(&at_b, &student.token).await);
    assert!(
        Ws::try_connect(&at_b, &student.token).await.is_none(),
        "a fourth session, on B, is refused: two are on A"
    );
    assert!(
        Ws::try_connect(&at_a, &student.token).await.is_none(),
        "and on A"
    );
    assert!(
        Ws::try_connect(&at_b, &other.token).await.is_some(),
        "someone else is not affected"
    );
    for replica in [a, b] {
        let usage = usage_of(replica, &admin.token, &student.id).await;
        assert_eq!(
            (&usage["sessions"], &usage["streams"]),
            (&json!(3), &json!(0))
        );
    }
    // A stream run on B is counted by both (B writes its sessions' counts once a second).
    let container = a.running_container(&student, &["sleep", "300"]).await;
    open[2]
        .send(json!({"type": "exec", "stream": 1, "container": container,
                     "cmd": ["sleep", "300"]}))
        .await;
    open[2].expect("started", 1).await;
    let start = Instant::now();
    for replica in [a, b] {
        while usage_of(replica, &admin.token, &student.id).await["streams"] != json!(1) {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the stream on B is not counted"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // A session closed on A makes room on B.
    open.remove(0).close().await;
    let within = Duration::from_secs(5);
    admitted_within(
        &at_b,
        &student.token,
        within,
        "a closed session made no room",
    )
    .await;
}

/// A session opened at `address` once one is admitted, tried again until `within` has passed
/// (then the test fails with `refused`).
async fn admitted_within(address: &str, token: &str, within: Duration, refused: &str) -> Ws {
    let start = Instant::now();
    loop {
        if let Some(ws) = Ws::try_connect(address, token).await {
            return ws;
        }
        assert!(start.elapsed() < within, "{refused}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A student with a workspace on `a`, and another student.
async fn student_and_stranger_on(
    a: &crate::helpers::TestApp,
) -> (crate::helpers::TestUser, crate::helpers::TestUser, String) {
    let teacher = a.new_user_with_role(berth::users::Role::Teacher).await;
    let student = a.new_user().await;
    let stranger = a.new_user().await;
    let made = crate::workspaces::template(a, &teacher, json!({})).await;
    let id = crate::workspaces::workspace(a, &student, &made).await;
    (student, stranger, id)
}

#[tokio::test]
async fn a_job_run_by_one_replica_is_killed_through_another() {
    let replicas = spawn_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let (student, stranger, id) = student_and_stranger_on(a).await;
    let container = format!("berth-ws-{id}");
    let mut ws = a.ws(&student.token).await;
    let job = crate::jobs::start_job(&mut ws, 1, &id, "echo up; sleep 271").await;
    ws.read_until(1, "up").await;
    assert_eq!(
        processes_matching(&container, "sleep 271").len(),
        1,
        "the job runs on A"
    );

    let path = format!("/api/v1/workspaces/{id}/jobs/{job}");
    let refused = b.delete(&path, Some(&stranger.token)).await;
    assert_eq!(
        refused.status(),
        404,
        "another user's job is not theirs to stop"
    );
    assert_eq!(processes_matching(&container, "sleep 271").len(), 1);

    let killed = b.delete(&path, Some(&student.token)).await;
    assert_eq!(killed.status(), 200, "killed through B");
    let killed: Value = killed.json().await.unwrap();
    assert_eq!(
        (&killed["state"], &killed["killed"]),
        (&json!("killed"), &json!("cancelled")),
        "{killed}"
    );
    assert!(
        processes_matching(&container, "sleep 271").is_empty(),
        "its processes are gone"
    );
    let out = ws.collect(1).await;
    assert_eq!(
        out.code,
        Some(137),
        "the session on A sees it end: {:?}",
        out.errors
    );
}

#[tokio::test]
async fn a_job_run_by_one_replica_is_attached_through_another() {
    let replicas = spawn_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let (student, stranger, id) = student_and_stranger_on(a).await;
    let container = format!("berth-ws-{id}");
    let mut laptop = a.ws(&student.token).await;
    let script = "while read line; do echo got:$line; done";
    let job = crate::jobs::start_job(&mut laptop, 1, &id, script).await;
    laptop.stdin(1, b"one\n").await;
    laptop.read_until(1, "got:one").await;
    laptop.abandon();

    // B lists it as attachable: A keeps its output.
    let listed: Value = b
        .get(
            &format!("/api/v1/workspaces/{id}/jobs"),
            Some(&student.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["id"], job.as_str());
    assert_eq!(listed[0]["attachable"], true, "{listed}");
    // Through B, a stranger is refused (A checks, as for any attach)...
    let mut theirs = b.ws(&stranger.token).await;
    theirs
        .send(json!({"type": "attach", "stream": 3, "job": job}))
        .await;
    let refused = theirs.expect("error", 3).await;
    assert_eq!(refused["code"], "not_found", "{refused}");
    // ...and the student gets the job's output so far, then steers it.
    let mut desktop = b.ws(&student.token).await;
    desktop
        .send(json!({"type": "attach", "stream": 3, "job": job}))
        .await;
    desktop.expect("attached", 3).await;
    desktop.read_until(3, "got:one").await;
    desktop.stdin(3, b"three\n").await;
    desktop.read_until(3, "got:three").await;
    // Let go through B, it runs on there, to attach again.
    desktop.send(json!({"type": "detach", "stream": 3})).await;
    desktop.expect("detached", 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !processes_matching(&container, "while read").is_empty(),
        "detach stopped the job"
    );
    desktop
        .send(json!({"type": "attach", "stream": 4, "job": job}))
        .await;
    desktop.expect("attached", 4).await;
    desktop.send(json!({"type": "eof", "stream": 4})).await;
    let out = desktop.collect(4).await;
    assert_eq!(out.code, Some(0), "{:?}", out.errors);
}
