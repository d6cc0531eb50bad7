use std::time::{Duration, Instant};

use berth::users::Role;
use serde_json::{json, Value};

use crate::helpers::{eventually, spawn_app, spawn_app_with, TestApp, TestUser, IMAGE};

pub async fn upload_dockerfile(
    app: &TestApp,
    user: &TestUser,
    dockerfile: &str,
) -> reqwest::Response {
    app.http
        .post(app.url("/api/v1/builds/contexts"))
        .bearer_auth(&user.token)
        .header("content-type", "text/plain")
        .body(dockerfile.to_string())
        .send()
        .await
        .unwrap()
}

pub async fn context(app: &TestApp, user: &TestUser, dockerfile: &str) -> String {
    let response = upload_dockerfile(app, user, dockerfile).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["context"].as_str().unwrap().to_string()
}

pub fn unique_tag() -> String {
    format!(
        "berth-test/built-{}:1",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// Containers (any state) whose command mentions `needle`: a build's intermediate containers.
fn containers_running(needle: &str) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_build_streams_its_log_while_it_runs_and_tags_the_image() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let dockerfile = format!(
        "FROM {IMAGE}\nRUN echo first-marker && sleep 2\nRUN echo second-marker > /built\n"
    );
    let context = context(&app, &teacher, &dockerfile).await;
    let tag = unique_tag();

    let mut ws = app.ws(&teacher.token).await;
    ws.send(json!({"type": "build", "stream": 1, "context": context, "tag": tag}))
        .await;
    ws.expect("started", 1).await;
    let mut first_seen = None;
    let end = loop {
        let message = ws.next_json().await;
        assert_ne!(message["type"], "error", "{message}");
        if message["type"] == "progress" {
            assert_eq!(message["stream"], 1);
            // The RUN's own output, not the step's title line.
            if message["log"].as_str().unwrap().trim() == "first-marker" && first_seen.is_none() {
                first_seen = Some(Instant::now());
            }
        }
        if message["type"] == "end" {
            break message;
        }
    };
    let early = first_seen.expect("the RUN's output was streamed").elapsed();
    assert!(
        early >= Duration::from_millis(1500),
        "log lines arrived only at the end ({early:?} before)"
    );
    let image_id = end["image_id"].as_str().expect("an image id");
    let image: Value = app
        .get(&format!("/api/v1/images/{tag}"), Some(&teacher.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(image["id"], image_id);

    // The same context again, onto a tag that names another image: refused, the tag stays.
    let busybox: Value = app
        .get(&format!("/api/v1/images/{IMAGE}"), Some(&teacher.token))
        .await
        .json()
        .await
        .unwrap();
    ws.send(json!({"type": "build", "stream": 2, "context": context, "tag": IMAGE}))
        .await;
    let refused = ws.expect("error", 2).await;
    assert_eq!(refused["code"], "conflict");
    let after: Value = app
        .get(&format!("/api/v1/images/{IMAGE}"), Some(&teacher.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["id"], busybox["id"]);
    // The refused build's result is the cached image `tag` names: its cleanup must leave it be.
    let kept = app
        .get(&format!("/api/v1/images/{tag}"), Some(&teacher.token))
        .await;
    assert_eq!(kept.status(), 200, "the refused build removed {tag}");
    let kept: Value = kept.json().await.unwrap();
    assert_eq!(kept["id"], image_id);
    // A refused build whose result is new leaves no untagged image behind.
    let fresh = self::context(
        &app,
        &teacher,
        &format!("FROM {IMAGE}\nRUN echo {} > /fresh\n", uuid::Uuid::new_v4()),
    )
    .await;
    ws.send(json!({"type": "build", "stream": 3, "context": fresh, "tag": IMAGE}))
        .await;
    assert_eq!(ws.expect("error", 3).await["code"], "conflict");
    let label = format!("label=berth.built_by={}", teacher.id);
    let dangling = std::process::Command::new("docker")
        .args([
            "images",
            "-q",
            "--filter",
            "dangling=true",
            "--filter",
            &label,
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&dangling.stdout).trim(), "");
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &tag])
        .output();
}

#[tokio::test]
async fn a_cancelled_or_abandoned_build_leaves_no_containers() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    for (i, abandon) in [(1, false), (2, true)] {
        let needle = format!("sleep 3133{i}");
        let context = context(
            &app,
            &teacher,
            &format!("FROM {IMAGE}\nRUN echo go && {needle}\n"),
        )
        .await;
        let mut ws = app.ws(&teacher.token).await;
        ws.send(json!({"type": "build", "stream": 1, "context": context, "tag": unique_tag()}))
            .await;
        loop {
            let message = ws.next_json().await;
            assert_ne!(message["type"], "error", "{message}");
            // The RUN's own output (the step's title line also says "go").
            if message["type"] == "progress" && message["log"].as_str().unwrap().trim() == "go" {
                break;
            }
        }
        assert!(
            !containers_running(&needle).is_empty(),
            "the build runs in a container"
        );
        if abandon {
            ws.abandon();
        } else {
            ws.send(json!({"type": "cancel", "stream": 1})).await;
            let end = ws.expect("end", 1).await;
            assert!(end["image_id"].is_null());
        }
        let gone = eventually(Duration::from_secs(15), || {
            containers_running(&needle).is_empty()
        })
        .await;
        assert!(
            gone.is_some(),
            "build containers left behind: {:?}",
            containers_running(&needle)
        );
    }
}

#[tokio::test]
async fn build_errors_are_clear() {
    let app = spawn_app_with(|s| s.limits.max_upload_mb = 1).await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;

    assert_eq!(
        upload_dockerfile(&app, &student, "FROM x\n").await.status(),
        403
    );
    assert_eq!(
        upload_dockerfile(&app, &teacher, "  \n").await.status(),
        400
    );
    let wrong_type = app
        .http
        .post(app.url("/api/v1/builds/contexts"))
        .bearer_auth(&teacher.token)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 400);
    let big = app
        .post_bytes("/api/v1/builds/contexts", &teacher.token, vec![0; 2 << 20])
        .await;
    assert_eq!(big.status(), 413);
    // Refused uploads leave nothing behind.
    let kept = std::fs::read_dir(app.data_dir.path().join("contexts"))
        .unwrap()
        .count();
    assert_eq!(kept, 0, "refused build contexts were kept on disk");

    let mut ws = app.ws(&teacher.token).await;
    ws.send(json!({"type": "build", "stream": 3, "context": "nope", "tag": unique_tag()}))
        .await;
    assert_eq!(ws.expect("error", 3).await["code"], "not_found");
    ws.send(json!({"type": "build", "stream": 3, "context": "nope"}))
        .await;
    let missing_tag = ws.expect("error", 3).await;
    assert!(missing_tag["message"].as_str().unwrap().contains("tag"));

    // A failing step: the log so far, then an error saying what failed.
    let context = context(
        &app,
        &teacher,
        &format!("FROM {IMAGE}\nRUN echo about-to-fail && exit 3\n"),
    )
    .await;
    ws.send(json!({"type": "build", "stream": 4, "context": context, "tag": unique_tag()}))
        .await;
    let error = ws.expect("error", 4).await;
    assert_eq!(error["code"], "bad_request");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("non-zero code: 3"),
        "{error}"
    );

    // Another user's context is not theirs to build; students cannot build at all.
    let other_teacher = app.new_user_with_role(Role::Teacher).await;
    let mut theirs = app.ws(&other_teacher.token).await;
    theirs
        .send(json!({"type": "build", "stream": 1, "context": context, "tag": unique_tag()}))
        .await;
    assert_eq!(theirs.expect("error", 1).await["code"], "not_found");
    let mut ws = app.ws(&student.token).await;
    ws.send(json!({"type": "build", "stream": 1, "context": context, "tag": unique_tag()}))
        .await;
    assert_eq!(ws.expect("error", 1).await["code"], "forbidden");
}
