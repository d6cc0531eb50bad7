//! Background jobs: a workspace's `exec` or `run` with `detach: true` goes on after every
//! session ends, keeps its workspace from being culled, is attached again with its output, is
//! killed by `DELETE`, and is held to the template's `job_max_s` and `quotas.jobs_per_user`.

use std::time::Duration;

use berth::users::Role;
use serde_json::{json, Value};

use crate::helpers::{eventually, processes_matching, spawn_app_with, TestApp, TestUser, Ws};
use crate::workspaces::{template, workspace};

fn counted(lines: usize) -> String {
    (0..lines).map(|i| format!("n{i}\n")).collect()
}

/// Counts to `lines`, a line every 0.1 s.
fn counting(lines: usize) -> String {
    format!("i=0; while [ $i -lt {lines} ]; do echo n$i; i=$((i+1)); sleep 0.1; done")
}

fn container_of(workspace: &str) -> String {
    format!("berth-ws-{workspace}")
}

fn running(container: &str) -> bool {
    let out = std::process::Command::new("docker")
        .args(["inspect", "-f", "{{.State.Running}}", container])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "true"
}

/// Starts a detached exec of `script` in `workspace`; its job id.
pub async fn start_job(ws: &mut Ws, stream: u8, workspace: &str, script: &str) -> String {
    ws.send(
        json!({"type": "exec", "stream": stream, "workspace": workspace,
                   "cmd": ["sh", "-c", script], "detach": true}),
    )
    .await;
    let job = ws.expect("job", stream).await;
    ws.expect("started", stream).await;
    job["job"].as_str().unwrap().to_string()
}

async fn jobs(app: &TestApp, user: &TestUser, workspace: &str) -> (u16, Value) {
    let response = app
        .get(
            &format!("/api/v1/workspaces/{workspace}/jobs"),
            Some(&user.token),
        )
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_detached_job_outlives_its_session_is_attached_again_and_keeps_its_workspace() {
    let app = spawn_app_with(|s| s.workspaces.cull_interval_s = 1).await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    let made = template(&app, &teacher, json!({"idle_timeout_s": 1})).await;
    let id = workspace(&app, &student, &made).await;
    let container = container_of(&id);
    // 10 s of output at least: still running after the 3 s below on a loaded machine.
    const LINES: usize = 100;

    let mut first = app.ws(&student.token).await;
    let job = start_job(&mut first, 1, &id, &counting(LINES)).await;
    first.read_until(1, "n3\n").await;
    // Even a session ended on purpose leaves the job running.
    first.send(json!({"type": "bye"})).await;
    first.close().await;

    // Past the idle timeout and a few culls, the workspace and the job still run.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        running(&container),
        "the workspace was culled under its job"
    );
    assert!(
        !processes_matching(&container, "while").is_empty(),
        "the job stopped with its session"
    );
    let (status, listed) = jobs(&app, &student, &id).await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], job.as_str());
    assert_eq!(listed[0]["state"], "running");
    assert_eq!(listed[0]["attachable"], true);
    assert_eq!(listed[0]["command"], json!(["sh", "-c", counting(LINES)]));

    // Another session attaches it, under a stream id of its own: the whole output from the
    // first line, then the live rest, exactly once.
    let mut second = app.ws(&student.token).await;
    second
        .send(json!({"type": "attach", "stream": 7, "job": job}))
        .await;
    let attached = second.expect("attached", 7).await;
    assert_eq!(attached["job"], job.as_str());
    let stdout = attached["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["channel"] == 1)
        .cloned()
        .unwrap();
    assert_eq!((&stdout["from"], &stdout["lost"]), (&json!(0), &json!(0)));
    let out = second.collect(7).await;
    assert_eq!(out.code, Some(0), "{:?}", out.errors);
    assert_eq!(String::from_utf8_lossy(&out.stdout), counted(LINES));

    let (_, listed) = jobs(&app, &student, &id).await;
    assert_eq!(listed[0]["state"], "exited", "{listed}");
    assert_eq!(listed[0]["code"], 0);
    assert!(listed[0]["ended_at"].is_string());
    // Once the job is over, nothing holds the workspace: it is culled.
    second.close().await;
    let culled = eventually(Duration::from_secs(10), || !running(&container)).await;
    assert!(
        culled.is_some(),
        "the workspace was never culled after its job"
    );

    // An ended job's output can still be attached: all of it, then its exit.
    let mut third = app.ws(&student.token).await;
    third
        .send(json!({"type": "attach", "stream": 2, "job": job}))
        .await;
    third.expect("attached", 2).await;
    let again = third.collect(2).await;
    assert_eq!(again.code, Some(0));
    assert_eq!(String::from_utf8_lossy(&again.stdout), counted(LINES));
}

#[tokio::test]
async fn attaching_elsewhere_moves_the_job_and_input_follows_it() {
    let app = spawn_app_with(|_| {}).await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    let made = template(&app, &teacher, json!({})).await;
    let id = workspace(&app, &student, &made).await;

    let mut laptop = app.ws(&student.token).await;
    let job = start_job(
        &mut laptop,
        1,
        &id,
        "while read line; do echo got:$line; done",
    )
    .await;
    laptop.stdin(1, b"one\n").await;
    laptop.read_until(1, "got:one").await;

    // The same user opens it on another machine while the first session is still open.
    let mut desktop = app.ws(&student.token).await;
    desktop
        .send(json!({"type": "attach", "stream": 3, "job": job}))
        .await;
    desktop.expect("attached", 3).await;
    desktop.read_until(3, "got:one").await;
    let told = laptop.expect("detached", 1).await;
    assert_eq!(told["job"], job.as_str());
    // The first session steers it no more; the second one does.
    laptop.stdin(1, b"two\n").await;
    let refused = laptop.expect("error", 1).await;
    assert_eq!(refused["code"], "not_found", "{refused}");
    desktop.stdin(3, b"three\n").await;
    desktop.read_until(3, "got:three").await;
    // Letting it go (not cancelling it) leaves it running, to attach again.
    desktop.send(json!({"type": "detach", "stream": 3})).await;
    desktop.expect("detached", 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !processes_matching(&container_of(&id), "while read").is_empty(),
        "detach stopped the job"
    );
    desktop
        .send(json!({"type": "attach", "stream": 4, "job": job}))
        .await;
    desktop.expect("attached", 4).await;
    desktop.send(json!({"type": "eof", "stream": 4})).await;
    let out = desktop.collect(4).await;
    assert_eq!(out.code, Some(0), "{:?}", out.errors);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("two"),
        "input from the session that lost the job reached it"
    );
}

#[tokio::test]
async fn a_job_is_killed_by_delete_by_its_time_limit_and_held_to_the_quota() {
    let app = spawn_app_with(|s| s.quotas.jobs_per_user = 1).await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    let made = template(&app, &teacher, json!({"job_max_s": 2})).await;
    let id = workspace(&app, &student, &made).await;
    let container = container_of(&id);

    let mut ws = app.ws(&student.token).await;
    let job = start_job(&mut ws, 1, &id, "echo up; sleep 300").await;
    ws.read_until(1, "up").await;
    // A second job is beyond the quota, and says so.
    ws.send(json!({"type": "exec", "stream": 2, "workspace": id,
                   "cmd": ["sleep", "300"], "detach": true}))
        .await;
    let refused = ws.expect("error", 2).await;
    assert_eq!(refused["code"], "too_many", "{refused}");
    assert!(refused["message"]
        .as_str()
        .unwrap()
        .contains("jobs_per_user"));

    // DELETE kills it: answered once its processes are gone.
    let response = app
        .delete(
            &format!("/api/v1/workspaces/{id}/jobs/{job}"),
            Some(&student.token),
        )
        .await;
    assert_eq!(response.status(), 200);
    let killed: Value = response.json().await.unwrap();
    assert_eq!(
        (&killed["state"], &killed["killed"]),
        (&json!("killed"), &json!("cancelled"))
    );
    assert!(processes_matching(&container, "sleep 300").is_empty());
    let out = ws.collect(1).await;
    assert_eq!(out.code, Some(137), "{:?}", out.errors);

    // Its place is free again; the next job is stopped at the template's job_max_s.
    let began = std::time::Instant::now();
    let timed = start_job(&mut ws, 3, &id, "sleep 300").await;
    let out = ws.collect(3).await;
    let took = began.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(8),
        "stopped after {took:?}"
    );
    assert_eq!(out.code, Some(137), "{:?}", out.errors);
    let (_, listed) = jobs(&app, &student, &id).await;
    let timed_out = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == timed.as_str())
        .cloned()
        .unwrap();
    assert_eq!(timed_out["killed"], "timeout", "{timed_out}");

    // DELETE of an ended job forgets it.
    let response = app
        .delete(
            &format!("/api/v1/workspaces/{id}/jobs/{job}"),
            Some(&student.token),
        )
        .await;
    assert_eq!(response.status(), 204);
    let (_, listed) = jobs(&app, &student, &id).await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["id"] != job.as_str()),
        "{listed}"
    );
}

#[tokio::test]
async fn another_users_job_cannot_be_listed_attached_or_killed() {
    let app = spawn_app_with(|_| {}).await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let (ada, eve) = (app.new_user().await, app.new_user().await);
    let made = template(&app, &teacher, json!({})).await;
    let id = workspace(&app, &ada, &made).await;
    let container = container_of(&id);
    let mut ws = app.ws(&ada.token).await;
    let job = start_job(&mut ws, 1, &id, "echo up; sleep 300").await;
    ws.read_until(1, "up").await;
    // The job is real and listed for its owner.
    assert_eq!(jobs(&app, &ada, &id).await.0, 200);

    assert_eq!(jobs(&app, &eve, &id).await.0, 404);
    let response = app
        .delete(
            &format!("/api/v1/workspaces/{id}/jobs/{job}"),
            Some(&eve.token),
        )
        .await;
    assert_eq!(response.status(), 404);
    let mut thief = app.ws(&eve.token).await;
    thief
        .send(json!({"type": "attach", "stream": 1, "job": job}))
        .await;
    let refused = thief.expect("error", 1).await;
    assert_eq!(refused["code"], "not_found", "{refused}");
    assert!(
        !processes_matching(&container, "sleep 300").is_empty(),
        "a refused attach or delete stopped the job"
    );
    // Detach is for workspaces: a container's exec cannot ask for it.
    let own = app.running_container(&eve, &["sleep", "60"]).await;
    thief
        .send(json!({"type": "exec", "stream": 2, "container": own,
                     "cmd": ["true"], "detach": true}))
        .await;
    let refused = thief.expect("error", 2).await;
    assert_eq!(refused["code"], "bad_request", "{refused}");
}
