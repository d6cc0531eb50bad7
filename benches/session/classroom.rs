//! A class handing in: 30 students, each with their workspace open on an assignment with a
//! check, submit within one second. Measured: every snapshot taken, the time until the last
//! check result, and the teacher's download of all of them; side by side with the same work
//! done with Docker directly (a `tar` exec in each workspace, and each check as `docker create`,
//! `cp`, `start -a`, `rm`, as many at a time as berth runs).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{self, ServerProcess};
use crate::percentile;

const TEST: &str = "out=$(sh main.sh); [ \"$out\" = 42 ] || { echo \"got $out\"; exit 1; }\n";

pub async fn class_submissions(students: usize) -> String {
    let server = ServerProcess::start(&[]).await;
    let http = reqwest::Client::new();
    let base = format!("http://{}/api/v1", server.address);
    let teacher = server.account_with_role("class-teacher", "teacher").await;
    let template: Value = server
        .post(
            "/templates",
            &teacher,
            json!({"name": "class-sh", "image": helpers::IMAGE, "memory_mb": 64}),
        )
        .await
        .json()
        .await
        .unwrap();
    let course: Value = server
        .post("/courses", &teacher, json!({"name": "Class"}))
        .await
        .json()
        .await
        .unwrap();
    let course_id = course["id"].as_str().unwrap();
    let mut assignments = Vec::new();
    for (title, check) in [
        ("Plain", Value::Null),
        (
            "Answer",
            json!({"command": ["sh", "test.sh"], "files": {"test.sh": TEST}}),
        ),
    ] {
        let mut body = json!({"title": title, "template": template["id"],
                              "files": {"main.sh": "echo 41\n"}});
        if !check.is_null() {
            body["check"] = check;
        }
        let made: Value = server
            .post(&format!("/courses/{course_id}/assignments"), &teacher, body)
            .await
            .json()
            .await
            .unwrap();
        assignments.push((
            format!("{base}/assignments/{}", made["id"].as_str().unwrap()),
            made["folder"].as_str().unwrap().to_string(),
        ));
    }
    let (plain, one, folder) = (&assignments[0].0, &assignments[1].0, &assignments[1].1);

    // The class joins, opens both assignments (one workspace, a folder each) and writes the
    // answer: not measured.
    let mut class = Vec::new();
    for i in 0..students {
        let token = server.account(&format!("student{i}")).await;
        let joined = server
            .post(
                "/courses/join",
                &token,
                json!({"join_code": course["join_code"]}),
            )
            .await;
        assert_eq!(joined.status(), 200);
        let mut workspace = String::new();
        for (url, folder) in &assignments {
            let found: Value = http
                .post(format!("{url}/workspace"))
                .bearer_auth(&token)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            workspace = found["workspace"].as_str().unwrap().to_string();
            let written = http
                .put(format!(
                    "{base}/workspaces/{workspace}/files/content?path={folder}/main.sh"
                ))
                .bearer_auth(&token)
                .body("echo 42\n")
                .send()
                .await
                .unwrap();
            assert_eq!(written.status(), 204);
        }
        class.push((token, workspace));
    }

    // Everyone submits, spread over one second: first the assignment without a check, then
    // the one with a check (whose checks run while submissions still come in).
    let (_, plain_ms) = submit_all(&http, &class, plain).await;
    let start = Instant::now();
    let (taken, submit_ms) = submit_all(&http, &class, one).await;

    // Until the last check result is on the teacher's page.
    let (passed, last_check) = loop {
        let states: Value = http
            .get(format!("{one}/submissions"))
            .bearer_auth(&teacher)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let states = states.as_array().unwrap();
        let ended = states
            .iter()
            .filter(|s| matches!(s["check"]["state"].as_str(), Some("done" | "failed")))
            .count();
        if ended == students {
            let passed = states
                .iter()
                .filter(|s| s["check"]["passed"] == true)
                .count();
            break (passed, start.elapsed());
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "checks did not end"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let download = Instant::now();
    let all = http
        .get(format!("{one}/submissions/archive"))
        .bearer_auth(&teacher)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let download_ms = download.elapsed().as_secs_f64() * 1000.0;

    let direct = direct(&class, folder, students).await;
    for (token, workspace) in &class {
        let _ = http
            .delete(format!("{base}/workspaces/{workspace}"))
            .bearer_auth(token)
            .send()
            .await;
    }
    format!(
        "## A class hands in\n\n{students} students, each with their workspace open on an assignment with a check (`sh test.sh`, a hidden file, on the test image), submit spread over one second; berth takes each snapshot, queues its check and runs the checks {} at a time (`checks.concurrency`), each in a fresh sandbox. The same class first hands in an assignment without a check, for the snapshot alone. Against the same work with Docker directly: {students} `docker exec … tar` spread over one second, then each check as `docker create`, `docker cp`, `docker start -a`, `docker rm`, the same number at a time.\n\n\
         | | berth | Docker directly |\n|---|---|---|\n\
         | snapshots taken | {taken}/{students} | {}/{students} |\n\
         | snapshot p50 / p99, no check running | {:.0} ms / {:.0} ms | {:.0} ms / {:.0} ms |\n\
         | snapshot p50 / p99, while the checks run | {:.0} ms / {:.0} ms | – |\n\
         | checks passed | {passed}/{students} | {}/{students} |\n\
         | first submission to the last check result | {:.1} s | {:.1} s |\n\
         | the teacher's download of all {students} | {:.0} ms ({} KiB) | – |\n",
        berth::config::CheckSettings::default().concurrency,
        direct.snapshots,
        percentile(&plain_ms, 0.5),
        percentile(&plain_ms, 0.99),
        percentile(&direct.snapshot_ms, 0.5),
        percentile(&direct.snapshot_ms, 0.99),
        percentile(&submit_ms, 0.5),
        percentile(&submit_ms, 0.99),
        direct.passed,
        last_check.as_secs_f64(),
        direct.total.as_secs_f64(),
        download_ms,
        all.len() / 1024,
    )
}

/// Every student of `class` submits `assignment`, spread over one second: how many were taken,
/// and each submission's time (sorted).
async fn submit_all(
    http: &reqwest::Client,
    class: &[(String, String)],
    assignment: &str,
) -> (usize, Vec<f64>) {
    let students = class.len();
    let start = Instant::now();
    let submitting = class.iter().enumerate().map(|(i, (token, _))| async move {
        tokio::time::sleep_until(
            (start + Duration::from_micros((i * 1_000_000 / students) as u64)).into(),
        )
        .await;
        let sent = Instant::now();
        let answer = http
            .post(format!("{assignment}/submit"))
            .bearer_auth(token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        (
            answer.status().as_u16(),
            sent.elapsed().as_secs_f64() * 1000.0,
        )
    });
    let submitted = futures_util::future::join_all(submitting).await;
    let taken = submitted
        .iter()
        .filter(|(status, _)| *status == 201)
        .count();
    let mut ms: Vec<f64> = submitted.iter().map(|(_, ms)| *ms).collect();
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (taken, ms)
}

struct Direct {
    snapshots: usize,
    snapshot_ms: Vec<f64>,
    passed: usize,
    total: Duration,
}

/// The same snapshots and checks with the docker CLI.
async fn direct(class: &[(String, String)], folder: &str, students: usize) -> Direct {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("test.sh"), TEST).unwrap();
    let start = Instant::now();
    let snapshots = class.iter().enumerate().map(|(i, (_, workspace))| {
        let tar = dir.path().join(format!("{i}.tar"));
        async move {
            tokio::time::sleep_until(
                (start + Duration::from_micros((i * 1_000_000 / students) as u64)).into(),
            )
            .await;
            let sent = Instant::now();
            let out = tokio::process::Command::new("docker")
                .args(["exec", "-u", "1000", &format!("berth-ws-{workspace}")])
                .args([
                    "tar",
                    "-c",
                    "-f",
                    "-",
                    "-C",
                    &format!("/workspace/{folder}"),
                    ".",
                ])
                .output()
                .await
                .unwrap();
            std::fs::write(&tar, &out.stdout).unwrap();
            (
                out.status.success(),
                sent.elapsed().as_secs_f64() * 1000.0,
                tar,
            )
        }
    });
    let taken = futures_util::future::join_all(snapshots).await;
    let mut snapshot_ms: Vec<f64> = taken.iter().map(|t| t.1).collect();
    snapshot_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(
        berth::config::CheckSettings::default().concurrency,
    ));
    let checks = taken.iter().enumerate().map(|(i, (_, _, tar))| {
        let (slots, test) = (slots.clone(), dir.path().join("test.sh"));
        async move {
            let _slot = slots.acquire().await.unwrap();
            let name = format!("bench-direct-check-{i}");
            let docker = |args: Vec<String>| async move {
                tokio::process::Command::new("docker")
                    .args(&args)
                    .output()
                    .await
                    .unwrap()
            };
            let made = docker(
                [
                    "create",
                    "--name",
                    &name,
                    "--network",
                    "none",
                    "-u",
                    "1000",
                    "-w",
                    "/workspace",
                    "-m",
                    "64m",
                    helpers::IMAGE,
                    "sh",
                    "test.sh",
                ]
                .map(String::from)
                .to_vec(),
            )
            .await;
            assert!(made.status.success());
            // The snapshot's files, then the hidden test, as berth lays them.
            let unpacked = tempfile::tempdir().unwrap();
            let _ = std::process::Command::new("tar")
                .arg("-xf")
                .arg(tar)
                .arg("-C")
                .arg(unpacked.path())
                .status();
            std::fs::copy(&test, unpacked.path().join("test.sh")).unwrap();
            let from = format!("{}/.", unpacked.path().display());
            docker(vec!["cp".into(), from, format!("{name}:/workspace")]).await;
            let ran = docker(vec!["start".into(), "-a".into(), name.clone()]).await;
            let code = docker(
                ["inspect", "-f", "{{.State.ExitCode}}", &name]
                    .map(String::from)
                    .to_vec(),
            )
            .await;
            docker(vec!["rm".into(), "-f".into(), name]).await;
            ran.status.success() && String::from_utf8_lossy(&code.stdout).trim() == "0"
        }
    });
    let passed = futures_util::future::join_all(checks)
        .await
        .into_iter()
        .filter(|p| *p)
        .count();
    Direct {
        snapshots: taken.iter().filter(|t| t.0).count(),
        snapshot_ms,
        passed,
        total: start.elapsed(),
    }
}
