//! Checks of submissions, each in a sandbox of its own, and the work berth collects at the due
//! time.

use std::time::{Duration, Instant};

use berth::users::Role;
use serde_json::{json, Value};

use crate::assignments::{course, status_and_body, tar_files};
use crate::helpers::{docker_cli, spawn_app, spawn_app_with, ServerProcess, TestApp, TestUser};
use crate::workspaces::{put_file, template};

/// Makes an assignment; its URL (`/api/v1/assignments/<id>`) and folder.
async fn hand_out(
    app: &TestApp,
    teacher: &TestUser,
    course: &str,
    body: Value,
) -> (String, String) {
    let (status, made) = status_and_body(
        app.post(
            &format!("/api/v1/courses/{course}/assignments"),
            Some(&teacher.token),
            body,
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{made}");
    (
        format!("/api/v1/assignments/{}", made["id"].as_str().unwrap()),
        made["folder"].as_str().unwrap().to_string(),
    )
}

/// Opens an assignment as `student`; their workspace (removed when the test ends).
async fn open(app: &TestApp, student: &TestUser, one: &str) -> String {
    let (status, found) = status_and_body(
        app.post(&format!("{one}/workspace"), Some(&student.token), json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{found}");
    let workspace = found["workspace"].as_str().unwrap().to_string();
    app.track(&format!("berth-ws-{workspace}"));
    app.track_volume(&format!("berth-ws-{workspace}"));
    workspace
}

async fn submit(app: &TestApp, student: &TestUser, one: &str) -> Value {
    let (status, handed) = status_and_body(
        app.post(&format!("{one}/submit"), Some(&student.token), json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 201, "{handed}");
    handed
}

/// The teacher's entry for `student` once its check ended (within a minute).
async fn checked(app: &TestApp, teacher: &TestUser, one: &str, student: &TestUser) -> Value {
    let start = Instant::now();
    loop {
        let states: Value = app
            .get(&format!("{one}/submissions"), Some(&teacher.token))
            .await
            .json()
            .await
            .unwrap();
        let entry = states
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["username"] == student.username.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{states}"));
        let state = entry["check"]["state"].as_str().unwrap_or("none");
        if state == "done" || state == "failed" {
            return entry;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the check did not end: {entry}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn sandbox_is_gone(submission: &Value) -> bool {
    let name = format!("berth-check-{}", submission["id"].as_str().unwrap());
    let listed = docker_cli(None)
        .args(["ps", "-aq", "--filter", &format!("name={name}")])
        .output()
        .unwrap();
    listed.stdout.is_empty()
}

#[tokio::test]
async fn a_check_runs_each_submission_in_a_fresh_sandbox_with_its_hidden_files() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    let shell = template(&app, &teacher, json!({"network": "bridge"})).await;
    let id = course(&app, &teacher, &[&student]).await;
    let test =
        "out=$(sh main.sh)\n[ \"$out\" = 42 ] && echo right || { echo \"wrong: $out\"; exit 3; }\n";
    let (one, folder) = hand_out(
        &app,
        &teacher,
        &id,
        json!({
            "title": "The answer",
            "template": shell["id"],
            "files": {"main.sh": "echo 41\n"},
            "check": {
                "command": ["sh", "-c", "ls /sys/class/net; id -u; touch made-by-check; sh test.sh"],
                "files": {"test.sh": test},
                "show_students": true,
            },
        }),
    )
    .await;
    let workspace = open(&app, &student, &one).await;
    // The student's own test.sh, which passes anything, does not stand in for the hidden one.
    let own = format!("{folder}/test.sh");
    assert_eq!(
        put_file(&app, &student, &workspace, &own, b"echo right\n".to_vec()).await,
        204
    );

    let handed = submit(&app, &student, &one).await;
    assert_eq!(handed["check"]["state"], "queued", "{handed}");
    let entry = checked(&app, &teacher, &one, &student).await;
    let check = &entry["check"];
    assert_eq!(check["state"], "done", "{entry}");
    assert_eq!(check["passed"], false, "{entry}");
    assert_eq!(check["code"], 3);
    let output = check["output"].as_str().unwrap();
    // No network but loopback, though the template's workspaces have one; the workspace's
    // user, in a folder it may write to.
    assert_eq!(output, "lo\n1000\nwrong: 41\n", "{entry}");
    assert!(sandbox_is_gone(&handed), "the sandbox outlived its check");

    // Right this time; the student sees the result too (the check says show_students).
    let main = format!("{folder}/main.sh");
    assert_eq!(
        put_file(&app, &student, &workspace, &main, b"echo 42\n".to_vec()).await,
        204
    );
    let handed = submit(&app, &student, &one).await;
    let entry = checked(&app, &teacher, &one, &student).await;
    assert_eq!(entry["check"]["passed"], true, "{entry}");
    assert_eq!(entry["check"]["output"], "lo\n1000\nright\n");
    assert!(entry["check"]["duration_ms"].as_i64().unwrap() < 10_000);
    let mine: Value = app
        .get(&format!("{one}/submission"), Some(&student.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["id"], handed["id"]);
    assert_eq!(mine["check"]["passed"], true, "{mine}");
    assert!(sandbox_is_gone(&handed));

    // The check ran on a copy: nothing it made reached the workspace.
    let (status, _) = crate::workspaces::get_file(
        &app,
        &student,
        &workspace,
        &format!("{folder}/made-by-check"),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_check_that_hangs_or_floods_is_killed_at_its_limits_and_says_so() {
    let app = spawn_app_with(|s| {
        s.checks.time_limit_s = 2;
        s.checks.output_kb = 4;
    })
    .await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    let shell = template(&app, &teacher, json!({})).await;
    let id = course(&app, &teacher, &[&student]).await;
    let hang = ["sh", "-c", "echo started; sleep 60"];
    let flood = ["sh", "-c", "yes flood"];
    let mut ends = Vec::new();
    for (title, command) in [("Hang", hang), ("Flood", flood)] {
        let (one, _) = hand_out(
            &app,
            &teacher,
            &id,
            json!({"title": title, "template": shell["id"], "files": {"main.sh": "echo\n"},
                   "check": {"command": command}}),
        )
        .await;
        open(&app, &student, &one).await;
        let handed = submit(&app, &student, &one).await;
        // Without show_students the student sees nothing of the check.
        assert!(handed.get("check").is_none(), "{handed}");
        let entry = checked(&app, &teacher, &one, &student).await;
        let mine: Value = app
            .get(&format!("{one}/submission"), Some(&student.token))
            .await
            .json()
            .await
            .unwrap();
        assert!(mine.get("check").is_none(), "{mine}");
        assert!(sandbox_is_gone(&handed), "a killed check left its sandbox");
        ends.push(entry["check"].clone());
    }
    let (hung, flooded) = (&ends[0], &ends[1]);
    assert_eq!(hung["killed"], "timeout", "{hung}");
    assert_eq!(hung["passed"], false);
    let took = hung["duration_ms"].as_i64().unwrap();
    assert!((2_000..8_000).contains(&took), "{hung}");
    let said = hung["output"].as_str().unwrap();
    assert!(
        said.starts_with("started\n") && said.contains("time limit of 2 s"),
        "{said}"
    );
    assert_eq!(flooded["killed"], "output", "{flooded}");
    assert_eq!(flooded["passed"], false);
    let said = flooded["output"].as_str().unwrap();
    let (kept, note) = said.split_at(4096);
    assert!(kept.starts_with("flood\nflood\n"), "{said}");
    assert!(note.contains("output limit"), "{note}");
}

#[tokio::test]
async fn work_not_handed_in_by_the_due_time_is_collected_then() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let (ada, bob, cyd) = (
        app.new_user().await,
        app.new_user().await,
        app.new_user().await,
    );
    let shell = template(&app, &teacher, json!({})).await;
    let id = course(&app, &teacher, &[&ada, &bob, &cyd]).await;
    let due = berth::clock::now_s() + 6;
    let (one, folder) = hand_out(
        &app,
        &teacher,
        &id,
        json!({"title": "Due soon", "template": shell["id"], "files": {"main.sh": "echo\n"},
               "due_at": berth::clock::rfc3339(due * 1000)}),
    )
    .await;
    // Ada starts and writes, but does not hand in; Bob hands in on time; Cyd never starts.
    let workspace = open(&app, &ada, &one).await;
    let main = format!("{folder}/main.sh");
    assert_eq!(
        put_file(&app, &ada, &workspace, &main, b"echo ada\n".to_vec()).await,
        204
    );
    open(&app, &bob, &one).await;
    assert_eq!(submit(&app, &bob, &one).await["collected"], false);

    let state_of = |states: &Value, who: &TestUser| -> Value {
        states
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["username"] == who.username.as_str())
            .cloned()
            .unwrap()
    };
    let start = Instant::now();
    let states = loop {
        let states: Value = app
            .get(&format!("{one}/submissions"), Some(&teacher.token))
            .await
            .json()
            .await
            .unwrap();
        if state_of(&states, &ada)["state"] == "submitted" {
            break states;
        }
        assert_eq!(
            state_of(&states, &ada)["state"],
            "started",
            "collected before the due time: {states}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "not collected: {states}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        berth::clock::now_s() >= due,
        "collected before the due time: {states}"
    );
    let ada_entry = state_of(&states, &ada);
    assert_eq!(ada_entry["collected"], true, "{ada_entry}");
    assert_eq!(ada_entry["late"], false);
    assert_eq!(state_of(&states, &bob)["collected"], false);
    assert_eq!(state_of(&states, &cyd)["state"], "missing");

    let archive = app
        .get(
            &format!(
                "{one}/submissions/{}/archive",
                ada_entry["user_id"].as_str().unwrap()
            ),
            Some(&teacher.token),
        )
        .await;
    assert_eq!(archive.status(), 200);
    assert_eq!(
        tar_files(&archive.bytes().await.unwrap()),
        [("main.sh".to_string(), "echo ada\n".to_string())]
    );
    // Ada may still hand in, late (after the due second): the latest is hers.
    while berth::clock::now_s() <= due {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let late = submit(&app, &ada, &one).await;
    assert_eq!(
        (&late["late"], &late["collected"]),
        (&json!(true), &json!(false))
    );

    // What the leader records at the due time is conditional on its term, and on the student
    // having handed nothing in: a stale leader, or one racing a student's own hand-in, makes
    // no submission.
    let db = berth::db::connect(app.database.url()).await.unwrap();
    let term = berth::db::replicas::leadership(&db)
        .await
        .unwrap()
        .unwrap()
        .term;
    let collected = |user: &TestUser| berth::db::assignments::SubmissionRow {
        id: uuid::Uuid::now_v7().simple().to_string(),
        assignment_id: one.rsplit('/').next().unwrap().to_string(),
        user_id: user.id.clone(),
        submitted_at: berth::clock::now_s(),
        late: false,
        files: 0,
        bytes: 0,
        archive: "none.tar".into(),
        collected: true,
    };
    let db = &db;
    let insert = |row: berth::db::assignments::SubmissionRow, term: i64| async move {
        berth::db::assignments::insert_submission(db, &row, None, Some(term))
            .await
            .unwrap()
    };
    assert!(
        !insert(collected(&cyd), term - 1).await,
        "a stale leader records nothing"
    );
    assert!(
        insert(collected(&cyd), term).await,
        "the leader in its term does"
    );
    assert!(!insert(collected(&cyd), term).await, "not twice");
    assert!(
        !insert(collected(&bob), term).await,
        "nor for one who handed in"
    );
}

#[tokio::test]
async fn a_check_berth_did_not_finish_runs_when_it_starts_again() {
    let mut server = ServerProcess::start(&[]).await;
    let teacher = server.account_with_role("teacher", "teacher").await;
    let student = server.account("student").await;
    let template: Value = server
        .post(
            "/templates",
            &teacher,
            json!({"name": "sh", "image": crate::helpers::IMAGE, "memory_mb": 128}),
        )
        .await
        .json()
        .await
        .unwrap();
    let made: Value = server
        .post("/courses", &teacher, json!({"name": "Shell"}))
        .await
        .json()
        .await
        .unwrap();
    let joined = server
        .post(
            "/courses/join",
            &student,
            json!({"join_code": made["join_code"]}),
        )
        .await;
    assert_eq!(joined.status(), 200);
    let assignment: Value = server
        .post(
            &format!("/courses/{}/assignments", made["id"].as_str().unwrap()),
            &teacher,
            json!({"title": "Slow", "template": template["id"],
                   "check": {"command": ["sh", "-c", "sleep 3; echo finished"]}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let one = format!("/assignments/{}", assignment["id"].as_str().unwrap());
    let found: Value = server
        .post(&format!("{one}/workspace"), &student, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let workspace = format!("berth-ws-{}", found["workspace"].as_str().unwrap());
    let handed: Value = server
        .post(&format!("{one}/submit"), &student, json!({}))
        .await
        .json()
        .await
        .unwrap();
    // Killed while the check sleeps in its sandbox.
    let sandbox = format!("berth-check-{}", handed["id"].as_str().unwrap());
    let running = crate::helpers::eventually(Duration::from_secs(20), || {
        let listed = docker_cli(None)
            .args(["ps", "-q", "--filter", &format!("name={sandbox}")])
            .output()
            .unwrap();
        !listed.stdout.is_empty()
    })
    .await;
    assert!(running.is_some(), "the check never started");
    server.crash_and_restart(&[]).await;

    let start = Instant::now();
    let entry = loop {
        let states = server.get(&format!("{one}/submissions"), &teacher).await;
        let entry = states[0].clone();
        if entry["check"]["state"] == "done" {
            break entry;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the check did not run again: {entry}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(entry["check"]["passed"], true, "{entry}");
    assert_eq!(entry["check"]["output"], "finished\n");
    assert!(
        sandbox_is_gone(&handed),
        "the killed berth's sandbox stayed"
    );
    let _ = docker_cli(None).args(["rm", "-f", &workspace]).output();
    let _ = docker_cli(None)
        .args(["volume", "rm", "-f", &workspace])
        .output();
}
