//! The UI in a real browser: Debian's Chromium, driven by playwright-core from static/tests,
//! against the real server and engine. Screenshots go to target/browser/ (a failure keeps one).

use serde_json::{json, Value};

use crate::helpers::{RemoveOnDrop, ServerProcess, IMAGE, PASSWORD};
use crate::sign_in_servers::{free_ports, idp_account, oidc_settings, IdentityProvider};

/// Runs a browser test of static/tests against `server` with `env` (besides where the server is,
/// the accounts' password and where screenshots go); panics with what it said when it fails.
async fn browser_test(script: &str, server: &ServerProcess, env: &[(&str, &str)]) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let shots = format!("{root}/target/browser/{}", script.trim_end_matches(".mjs"));
    let out = tokio::process::Command::new("node")
        .arg(format!("tests/{script}"))
        .current_dir(format!("{root}/static"))
        .envs(env.iter().copied())
        .env("BERTH_URL", format!("http://{}/", server.address))
        .env("BERTH_PASSWORD", PASSWORD)
        .env("SHOTS", &shots)
        .output()
        .await
        .expect("node runs (scripts/setup.sh --test-images installs the UI's packages)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    // Shown with --nocapture: the timings the scripts measured.
    println!("{said}");
    said
}

/// Checks that `token`'s user has exactly one workspace (the one the browser made), and
/// deletes it with its container and volume.
async fn remove_the_one_workspace_of(server: &ServerProcess, token: &str) {
    let workspaces = server.get("/workspaces", token).await;
    let workspaces = workspaces.as_array().unwrap();
    assert_eq!(workspaces.len(), 1, "{workspaces:?}");
    let base = format!("http://{}/api/v1", server.address);
    let deleted = reqwest::Client::new()
        .delete(format!(
            "{base}/workspaces/{}",
            workspaces[0]["id"].as_str().unwrap()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
}

/// The name the UI shows for a container.
pub async fn container_name(server: &ServerProcess, token: &str, id: &str) -> String {
    let container = server.get(&format!("/containers/{id}"), token).await;
    container["name"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_person_signs_in_and_uses_a_terminal_in_chromium() {
    let server = ServerProcess::start(&[]).await;
    let token = server.account("browser").await;
    let id = server.container(&token, &["sleep", "3600"]).await;
    let _cleanup = RemoveOnDrop(id.clone());
    let name = container_name(&server, &token, &id).await;
    let said = browser_test(
        "terminal.mjs",
        &server,
        &[("BERTH_USER", "browser"), ("BERTH_CONTAINER", &name)],
    )
    .await;
    assert!(said.contains("browser: terminal"), "{said}");
}

#[tokio::test]
async fn a_student_writes_and_runs_a_file_in_the_ide() {
    let server = ServerProcess::start(&[]).await;
    let teacher = server.account_with_role("ide-teacher", "teacher").await;
    let template = json!({"name": "Shell", "image": IMAGE, "memory_mb": 128,
                          "run": {".sh": ["sh", "{file}"]}});
    assert_eq!(
        server.post("/templates", &teacher, template).await.status(),
        201
    );
    let student = server.account("ide-student").await;
    let said = browser_test(
        "ide.mjs",
        &server,
        &[("BERTH_USER", "ide-student"), ("BERTH_TEMPLATE", "Shell")],
    )
    .await;
    assert!(said.contains("browser: ide ran"), "{said}");
    // What the browser made is removed with the test: the workspace, its container and volume.
    remove_the_one_workspace_of(&server, &student).await;
}

#[tokio::test]
async fn a_teacher_makes_changes_and_deletes_a_template_in_chromium_and_a_student_uses_it() {
    let server = ServerProcess::start(&[]).await;
    let teacher = server.account_with_role("tpl-teacher", "teacher").await;
    let student = server.account("tpl-student").await;
    let said = browser_test(
        "templates.mjs",
        &server,
        &[
            ("TEACHER", "tpl-teacher"),
            ("STUDENT", "tpl-student"),
            ("IMAGE", IMAGE),
        ],
    )
    .await;
    assert!(
        said.contains("browser: templates made, changed, used and deleted"),
        "{said}"
    );
    // The template is gone from the list; the student's workspace (and its files) stayed.
    let templates = server.get("/templates", &teacher).await;
    assert!(!templates.to_string().contains("Shell lab"), "{templates}");
    remove_the_one_workspace_of(&server, &student).await;
}

#[tokio::test]
async fn a_teacher_hands_out_an_assignment_a_student_submits_it_and_the_check_passes_in_chromium() {
    let server = ServerProcess::start(&[]).await;
    let teacher = server.account_with_role("class-teacher", "teacher").await;
    let student = server.account("class-student").await;
    let said = browser_test(
        "classroom.mjs",
        &server,
        &[
            ("TEACHER", "class-teacher"),
            ("STUDENT", "class-student"),
            ("IMAGE", IMAGE),
        ],
    )
    .await;
    assert!(
        said.contains("browser: an assignment handed out, done, checked, collected and read"),
        "{said}"
    );
    // The server agrees: one submission, its check passed.
    let courses = server.get("/courses", &teacher).await;
    let course = courses[0]["id"].as_str().unwrap();
    let assignments = server
        .get(&format!("/courses/{course}/assignments"), &teacher)
        .await;
    let id = assignments[0]["id"].as_str().unwrap();
    let states = server
        .get(&format!("/assignments/{id}/submissions"), &teacher)
        .await;
    assert_eq!(states[0]["check"]["passed"], true, "{states}");
    remove_the_one_workspace_of(&server, &student).await;
}

#[tokio::test]
async fn a_student_watches_the_terminal_a_teacher_shares_with_the_course_in_chromium() {
    let server = ServerProcess::start(&[]).await;
    let teacher = server.account_with_role("share-teacher", "teacher").await;
    let student = server.account("share-student").await;
    let course: serde_json::Value = server
        .post("/courses", &teacher, serde_json::json!({"name": "Linux"}))
        .await
        .json()
        .await
        .unwrap();
    let joined = server
        .post(
            "/courses/join",
            &student,
            serde_json::json!({"join_code": course["join_code"]}),
        )
        .await;
    assert_eq!(joined.status(), 200);
    let id = server.container(&teacher, &["sleep", "3600"]).await;
    let _cleanup = RemoveOnDrop(id.clone());
    let name = container_name(&server, &teacher, &id).await;
    let said = browser_test(
        "share.mjs",
        &server,
        &[
            ("TEACHER", "share-teacher"),
            ("STUDENT", "share-student"),
            ("COURSE", "Linux"),
            ("BERTH_CONTAINER", &name),
        ],
    )
    .await;
    assert!(
        said.contains("browser: a shared terminal watched live and read-only"),
        "{said}"
    );
}

#[tokio::test]
async fn a_teacher_makes_a_course_a_student_joins_it_and_is_removed_in_chromium() {
    let server = ServerProcess::start(&[]).await;
    let teacher = server.account_with_role("course-teacher", "teacher").await;
    let student = server.account("course-student").await;
    let said = browser_test(
        "courses.mjs",
        &server,
        &[("TEACHER", "course-teacher"), ("STUDENT", "course-student")],
    )
    .await;
    assert!(
        said.contains("browser: a course made, joined, its student seen and removed"),
        "{said}"
    );
    // What the pages said is what the server holds: the course, and no student in it.
    let taught = server.get("/courses", &teacher).await;
    let taught = taught.as_array().unwrap();
    assert_eq!(taught.len(), 1, "{taught:?}");
    assert_eq!(taught[0]["name"], "Biology");
    let id = taught[0]["id"].as_str().unwrap();
    let enrolled = server
        .get(&format!("/courses/{id}/students"), &teacher)
        .await;
    assert_eq!(enrolled.as_array().unwrap().len(), 0, "{enrolled}");
    assert_eq!(
        server
            .get("/courses", &student)
            .await
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn a_teachers_projector_shows_a_students_check_in_within_a_second() {
    let server = ServerProcess::start(&[]).await;
    let teacher = server.account_with_role("att-teacher", "teacher").await;
    let student = server.account("att-student").await;
    let course: Value = server
        .post("/courses", &teacher, json!({"name": "Physics"}))
        .await
        .json()
        .await
        .unwrap();
    let joined = server
        .post(
            "/courses/join",
            &student,
            json!({"join_code": course["join_code"]}),
        )
        .await;
    assert_eq!(joined.status(), 200);
    let said = browser_test(
        "attendance.mjs",
        &server,
        &[
            ("TEACHER", "att-teacher"),
            ("STUDENT", "att-student"),
            ("COURSE", "Physics"),
        ],
    )
    .await;
    assert!(
        said.contains("browser: attendance roster updated"),
        "{said}"
    );
}

#[tokio::test]
async fn a_million_log_lines_open_at_their_end_within_two_seconds_and_load_earlier_on_scroll() {
    let server = ServerProcess::start(&[]).await;
    let token = server.account("logs").await;
    let id = server
        .container(&token, &["sh", "-c", "seq 1 1000000; sleep 3600"])
        .await;
    let _cleanup = RemoveOnDrop(id.clone());
    let printed = crate::helpers::eventually(std::time::Duration::from_secs(120), || {
        let out = std::process::Command::new("docker")
            .args(["logs", "--tail", "1", &id])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim() == "1000000"
    })
    .await;
    assert!(printed.is_some(), "the container did not print its lines");
    let name = container_name(&server, &token, &id).await;
    let said = browser_test(
        "logs.mjs",
        &server,
        &[
            ("BERTH_USER", "logs"),
            ("BERTH_CONTAINER", &name),
            ("LINES", "1000000"),
        ],
    )
    .await;
    assert!(said.contains("browser: logs of 1000000 lines"), "{said}");
}

/// Removes every container of a user when dropped, however the test ended.
struct RemoveContainersOf(String);

impl Drop for RemoveContainersOf {
    fn drop(&mut self) {
        let label = format!("label=berth.owner={}", self.0);
        let listed = std::process::Command::new("docker")
            .args(["ps", "-aq", "--filter", &label])
            .output()
            .unwrap();
        for id in String::from_utf8_lossy(&listed.stdout).split_whitespace() {
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f", id])
                .output();
        }
    }
}

#[tokio::test]
async fn a_person_creates_a_container_with_limits_watches_its_stats_and_removes_it() {
    let server = ServerProcess::start(&[]).await;
    let token = server.account("stats").await;
    let me = server.get("/me", &token).await;
    let _cleanup = RemoveContainersOf(me["id"].as_str().unwrap().to_string());
    let said = browser_test(
        "containers.mjs",
        &server,
        &[("BERTH_USER", "stats"), ("BERTH_IMAGE", IMAGE)],
    )
    .await;
    assert!(said.contains("browser: container with limits"), "{said}");
    let left = server.get("/containers", &token).await;
    assert_eq!(left, json!([]), "the container removed in the page is gone");
}

#[tokio::test]
async fn the_page_reconnects_after_a_drop_and_takes_its_shell_back() {
    let server = ServerProcess::start(&[]).await;
    let token = server.account("reconnect").await;
    let id = server.container(&token, &["sleep", "3600"]).await;
    let _cleanup = RemoveOnDrop(id.clone());
    let name = container_name(&server, &token, &id).await;
    let said = browser_test(
        "reconnect.mjs",
        &server,
        &[("BERTH_USER", "reconnect"), ("BERTH_CONTAINER", &name)],
    )
    .await;
    assert!(said.contains("browser: reconnected"), "{said}");
}

/// Removes images by reference when dropped, however the test ended.
struct RemoveImagesOnDrop(Vec<String>);

impl Drop for RemoveImagesOnDrop {
    fn drop(&mut self) {
        for reference in &self.0 {
            let _ = std::process::Command::new("docker")
                .args(["rmi", "-f", reference])
                .output();
        }
    }
}

#[tokio::test]
async fn an_admin_pulls_with_a_bar_per_layer_builds_and_adds_a_registry_in_chromium() {
    use crate::registries::{REGISTRY, REGISTRY_PASSWORD, REGISTRY_USER};
    let unique = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let pulled = format!("{REGISTRY}/berth-test/ui-pull-{unique}:1");
    let built = format!("berth-test/ui-built-{unique}:1");
    let tagged = format!("berth-test/ui-tagged-{unique}:2");
    let _cleanup = RemoveImagesOnDrop(vec![pulled.clone(), built.clone(), tagged.clone()]);
    // An image of two layers in the registry, and not on the engine: the pull has two to show.
    let pushed = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "printf 'FROM {IMAGE}\\nRUN head -c 3000000 /dev/urandom > /blob\\n' | docker build -q -t {pulled} - >/dev/null \
             && echo {REGISTRY_PASSWORD} | docker login -u {REGISTRY_USER} --password-stdin {REGISTRY} >/dev/null 2>&1 \
             && docker push {pulled} >/dev/null && docker rmi {pulled} >/dev/null"
        ))
        .status()
        .unwrap();
    assert!(pushed.success(), "the image to pull could not be pushed");

    let server = ServerProcess::start(&[]).await;
    let admin = server.account_with_role("img-admin", "admin").await;
    // The container the page makes to show an image in use; removed before the images.
    let me = server.get("/me", &admin).await;
    let _containers = RemoveContainersOf(me["id"].as_str().unwrap().to_string());
    let said = browser_test(
        "images.mjs",
        &server,
        &[
            ("BERTH_USER", "img-admin"),
            ("BERTH_PULL", &pulled),
            ("BERTH_BASE", IMAGE),
            ("BERTH_BUILD_TAG", &built),
            ("BERTH_TAGGED", &tagged),
            ("REGISTRY", REGISTRY),
            ("REGISTRY_USER", REGISTRY_USER),
            ("REGISTRY_PASSWORD", REGISTRY_PASSWORD),
            ("TLS_HOST", crate::helpers::ENGINE2_TLS),
            ("TLS_DIR", crate::helpers::ENGINE2_TLS_DIR),
        ],
    )
    .await;
    assert!(said.contains("browser: images pulled"), "{said}");
    let on_engine = |reference: &str| {
        std::process::Command::new("docker")
            .args(["image", "inspect", reference])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(on_engine(&pulled), "the pulled image is not on the engine");
    assert!(
        !on_engine(&built) && !on_engine(&tagged),
        "the image removed in the page is still there"
    );
}

#[tokio::test]
async fn the_page_comes_back_after_berth_is_killed_and_restarted() {
    let mut server = ServerProcess::start(&[]).await;
    let token = server.account("crashview").await;
    let id = server.container(&token, &["sleep", "3600"]).await;
    let _cleanup = RemoveOnDrop(id.clone());
    let name = container_name(&server, &token, &id).await;
    let url = format!("http://{}/", server.address);
    let said = through_a_crash(&url, "crashview", &name, "crash", async || {
        server.crash_and_restart(&[]).await;
    })
    .await;
    assert!(said.contains("browser: back"), "{said}");
}

/// Runs static/tests/crash.mjs as `user` on the terminal of `container` at `url`, calling
/// `crash` when the page is ready for it; what the script said.
pub async fn through_a_crash(
    url: &str,
    user: &str,
    container: &str,
    shots: &str,
    mut crash: impl AsyncFnMut(),
) -> String {
    use tokio::io::AsyncBufReadExt;
    let root = env!("CARGO_MANIFEST_DIR");
    let mut node = tokio::process::Command::new("node")
        .arg("tests/crash.mjs")
        .current_dir(format!("{root}/static"))
        .env("BERTH_USER", user)
        .env("BERTH_CONTAINER", container)
        .env("BERTH_URL", url)
        .env("BERTH_PASSWORD", PASSWORD)
        .env("SHOTS", format!("{root}/target/browser/{shots}"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = tokio::io::BufReader::new(node.stdout.take().unwrap()).lines();
    let mut said = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        said.push_str(&line);
        said.push('\n');
        if line.contains("browser: crash now") {
            crash().await;
        }
    }
    let out = node.wait_with_output().await.unwrap();
    said.push_str(&String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{said}");
    println!("{said}");
    said
}

#[tokio::test]
async fn a_teacher_signs_in_with_the_school_identity_provider_in_chromium() {
    let [berth_port, idp_port] = free_ports();
    let oidc = oidc_settings(idp_port, berth_port);
    let server = ServerProcess::start_at(
        berth_port,
        &[
            ("BERTH_AUTH__REGISTRATION", "sso_only"),
            ("BERTH_AUTH__OIDC__ISSUER", &oidc.issuer),
            ("BERTH_AUTH__OIDC__CLIENT_ID", &oidc.client_id),
            ("BERTH_AUTH__OIDC__CLIENT_SECRET", &oidc.client_secret),
            ("BERTH_AUTH__OIDC__REDIRECT_URL", &oidc.redirect_url),
            ("BERTH_AUTH__OIDC__SCOPES", r#"["profile", "groups"]"#),
            ("BERTH_AUTH__OIDC__TEACHER_VALUES", r#"["teachers"]"#),
            ("BERTH_AUTH__OIDC__LABEL", &oidc.label),
        ],
    )
    .await;
    let accounts = json!({"ada": idp_account("ada-idp-password", &["teachers"])});
    let _provider = IdentityProvider::start(idp_port, &oidc.redirect_url, accounts).await;
    let said = browser_test(
        "signin.mjs",
        &server,
        &[("IDP_USER", "ada"), ("IDP_PASSWORD", "ada-idp-password")],
    )
    .await;
    assert!(
        said.contains("signed in with the identity provider"),
        "{said}"
    );
}

#[tokio::test]
async fn a_teacher_tries_the_api_in_its_reader_in_chromium() {
    let server = ServerProcess::start(&[]).await;
    server.account_with_role("scripter", "teacher").await;
    let said = browser_test("docs.mjs", &server, &[("BERTH_USER", "scripter")]).await;
    assert!(said.contains("tried GET /api/v1/me as scripter"), "{said}");
}

#[tokio::test]
async fn an_admin_reads_and_downloads_the_audit_log_in_chromium() {
    let server = ServerProcess::start(&[]).await;
    server.account_with_role("auditor", "admin").await;
    let student = server.account("pupil").await;
    let id = server.container(&student, &["sleep", "3600"]).await;
    let _cleanup = RemoveOnDrop(id.clone());
    let said = browser_test(
        "audit.mjs",
        &server,
        &[
            ("BERTH_USER", "auditor"),
            ("STUDENT", "pupil"),
            ("CONTAINER_ID", &id),
        ],
    )
    .await;
    assert!(said.contains("audit log filtered to pupil"), "{said}");
}

#[tokio::test]
async fn an_admin_watches_usage_and_ends_a_students_sessions_in_chromium() {
    let server = ServerProcess::start(&[]).await;
    server.account_with_role("watcher", "admin").await;
    let student = server.account("busy-pupil").await;
    let id = server.container(&student, &["sleep", "3600"]).await;
    let _cleanup = RemoveOnDrop(id.clone());
    let mut ws = server.ws(&student).await;
    ws.send(json!({"type": "exec", "stream": 1, "container": id, "cmd": ["sleep", "600"], "tty": false}))
        .await;
    ws.expect("started", 1).await;
    let said = browser_test(
        "usage.mjs",
        &server,
        &[("BERTH_USER", "watcher"), ("STUDENT", "busy-pupil")],
    )
    .await;
    assert!(said.contains("sessions ended"), "{said}");
    let closed = loop {
        match ws.next_within(std::time::Duration::from_secs(5)).await {
            Some(crate::helpers::Frame::Closed(reason)) => break reason,
            Some(_) => continue,
            None => panic!("the student's session stayed open"),
        }
    };
    assert_eq!(closed.as_deref(), Some("ended by an admin"));
}
