//! Templates, workspaces, their files and `run`, against the real engine with the test image.

use std::time::{Duration, Instant};

use berth::users::Role;
use serde_json::{json, Value};

use crate::helpers::{eventually, spawn_app, spawn_app_with, Frame, TestApp, TestUser, IMAGE};

/// A template of the test image that runs `.sh` files with its shell.
pub async fn template(app: &TestApp, teacher: &TestUser, extra: Value) -> Value {
    let mut body = json!({
        "name": format!("sh-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        "image": IMAGE,
        "memory_mb": 128,
        "pids": 64,
        "run": {".sh": ["sh", "{file}"]},
        "files": {"hello.sh": "echo hello from the template\n"},
    });
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    let response = app
        .post("/api/v1/templates", Some(&teacher.token), body)
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

/// A workspace of `template` for `user`, removed (container and volume) when the test ends.
pub async fn workspace(app: &TestApp, user: &TestUser, template: &Value) -> String {
    let response = app
        .post(
            "/api/v1/workspaces",
            Some(&user.token),
            json!({"template": template["id"]}),
        )
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_string();
    app.track(&format!("berth-ws-{id}"));
    app.track_volume(&format!("berth-ws-{id}"));
    id
}

pub fn files_url(app: &TestApp, id: &str, what: &str, path: &str) -> String {
    let path: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
    app.url(&format!("/api/v1/workspaces/{id}/files{what}?path={path}"))
}

pub async fn put_file(app: &TestApp, user: &TestUser, id: &str, path: &str, bytes: Vec<u8>) -> u16 {
    app.http
        .put(files_url(app, id, "/content", path))
        .bearer_auth(&user.token)
        .body(bytes)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

pub async fn get_file(app: &TestApp, user: &TestUser, id: &str, path: &str) -> (u16, Vec<u8>) {
    let response = app
        .http
        .get(files_url(app, id, "/content", path))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

pub async fn list_dir(app: &TestApp, user: &TestUser, id: &str, path: &str) -> Value {
    let response = app
        .http
        .get(files_url(app, id, "", path))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

pub fn names(listing: &Value) -> Vec<String> {
    listing
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

/// Runs `path` of the workspace on a fresh stream and collects it.
async fn run(
    ws: &mut crate::helpers::Ws,
    stream: u8,
    id: &str,
    path: &str,
    limits: Value,
) -> crate::helpers::ExecOutput {
    let mut message = json!({"type": "run", "stream": stream, "workspace": id, "path": path});
    for (key, value) in limits.as_object().unwrap() {
        message[key] = value.clone();
    }
    ws.send(message).await;
    ws.collect(stream).await
}

#[tokio::test]
async fn templates_are_managed_by_staff_and_listed_for_everyone() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    let made = template(&app, &teacher, json!({})).await;
    assert_eq!(made["network"], "none", "no network unless asked");

    let listed: Value = app
        .get("/api/v1/templates", Some(&student.token))
        .await
        .json()
        .await
        .unwrap();
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == made["id"]));
    let body = json!({"name": "mine", "image": IMAGE});
    let refused = app
        .post("/api/v1/templates", Some(&student.token), body)
        .await;
    assert_eq!(refused.status(), 403);
    for bad in [
        json!({"name": "big", "image": IMAGE, "memory_mb": 1 << 20}),
        json!({"name": "net", "image": IMAGE, "network": "host"}),
        json!({"name": "raw", "image": IMAGE, "privileged": true}),
        json!({"name": "esc", "image": IMAGE, "files": {"../x": ""}}),
    ] {
        let response = app
            .post("/api/v1/templates", Some(&teacher.token), bad.clone())
            .await;
        assert_eq!(response.status(), 400, "{bad}");
    }
    let path = format!("/api/v1/templates/{}", made["id"].as_str().unwrap());
    let changed = app
        .http
        .patch(app.url(&path))
        .bearer_auth(&teacher.token)
        .json(&json!({"description": "shell scripts"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(changed["description"], "shell scripts");
    assert_eq!(changed["run"], made["run"], "the rest is kept");

    // In use: refused unless forced, and then the workspace and its files stay.
    let id = workspace(&app, &student, &made).await;
    let refused = app.delete(&path, Some(&teacher.token)).await;
    assert_eq!(refused.status(), 409);
    let forced = app
        .delete(&format!("{path}?force=true"), Some(&teacher.token))
        .await;
    assert_eq!(forced.status(), 204);
    let (status, bytes) = get_file(&app, &student, &id, "hello.sh").await;
    assert_eq!(status, 200);
    assert_eq!(bytes, b"echo hello from the template\n");
}

#[tokio::test]
async fn a_workspace_is_its_owners_alone_and_a_teacher_may_only_read_it() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    let stranger = app.new_user().await;
    let made = template(&app, &teacher, json!({})).await;
    let id = workspace(&app, &student, &made).await;

    let mine: Value = app
        .get("/api/v1/workspaces", Some(&student.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["template"], made["id"]);
    let theirs: Value = app
        .get("/api/v1/workspaces", Some(&stranger.token))
        .await
        .json()
        .await
        .unwrap();
    assert!(theirs.as_array().unwrap().is_empty());

    // Another student: as if it did not exist, over REST and on the session.
    let path = format!("/api/v1/workspaces/{id}");
    assert_eq!(app.get(&path, Some(&stranger.token)).await.status(), 404);
    assert_eq!(get_file(&app, &stranger, &id, "hello.sh").await.0, 404);
    assert_eq!(
        put_file(&app, &stranger, &id, "x", b"x".to_vec()).await,
        404
    );
    assert_eq!(app.delete(&path, Some(&stranger.token)).await.status(), 404);
    let mut ws = app.ws(&stranger.token).await;
    ws.send(json!({"type": "exec", "stream": 1, "workspace": id, "cmd": ["id"]}))
        .await;
    assert_eq!(ws.expect("error", 1).await["code"], "not_found");
    let out = run(&mut ws, 2, &id, "hello.sh", json!({})).await;
    assert_eq!(out.errors[0]["code"], "not_found");
    // Nor is a workspace's container reachable as a plain container.
    let containers: Value = app
        .get("/api/v1/containers", Some(&student.token))
        .await
        .json()
        .await
        .unwrap();
    assert!(containers.as_array().unwrap().is_empty(), "{containers}");

    // The teacher of a course the student attends reads, and cannot write.
    let course: Value = app
        .post(
            "/api/v1/courses",
            Some(&teacher.token),
            json!({"name": "Shell 101"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(get_file(&app, &teacher, &id, "hello.sh").await.0, 404);
    app.post(
        "/api/v1/courses/join",
        Some(&student.token),
        json!({"join_code": course["join_code"]}),
    )
    .await;
    let (status, bytes) = get_file(&app, &teacher, &id, "hello.sh").await;
    assert_eq!(status, 200);
    assert_eq!(bytes, b"echo hello from the template\n");
    // The course page lists its students' workspaces (not the stranger's) to its teacher alone.
    let second = workspace(&app, &stranger, &made).await;
    let of_course = format!(
        "/api/v1/courses/{}/workspaces",
        course["id"].as_str().unwrap()
    );
    let listed: Value = app
        .get(&of_course, Some(&teacher.token))
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str()], "{listed}");
    assert_eq!(listed[0]["owner"], student.id.as_str());
    assert_eq!(
        app.get(&of_course, Some(&student.token)).await.status(),
        403
    );
    assert_eq!(
        names(&list_dir(&app, &teacher, &id, "").await),
        ["hello.sh"]
    );
    assert_eq!(
        put_file(&app, &teacher, &id, "hello.sh", b"x".to_vec()).await,
        403
    );
    assert_eq!(app.delete(&path, Some(&teacher.token)).await.status(), 403);
    let mut ws = app.ws(&teacher.token).await;
    ws.send(json!({"type": "exec", "stream": 1, "workspace": id, "cmd": ["id"]}))
        .await;
    assert_eq!(ws.expect("error", 1).await["code"], "forbidden");

    // Deleting it removes its container and its volume; so does deleting the account.
    assert_eq!(
        app.delete("/api/v1/me", Some(&stranger.token))
            .await
            .status(),
        204
    );
    let volume = std::process::Command::new("docker")
        .args(["volume", "inspect", &format!("berth-ws-{second}")])
        .output()
        .unwrap();
    assert!(
        !volume.status.success(),
        "a deleted account's volume was left behind"
    );
    assert_eq!(app.delete(&path, Some(&student.token)).await.status(), 204);
    let volume = std::process::Command::new("docker")
        .args(["volume", "inspect", &format!("berth-ws-{id}")])
        .output()
        .unwrap();
    assert!(!volume.status.success(), "the volume was left behind");
    let container = std::process::Command::new("docker")
        .args(["inspect", &format!("berth-ws-{id}")])
        .output()
        .unwrap();
    assert!(!container.status.success(), "the container was left behind");
}

#[tokio::test]
async fn files_round_trip_byte_exact_and_never_leave_the_workspace() {
    let app = spawn_app_with(|s| s.workspaces.max_file_mb = 1).await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    let made = template(&app, &teacher, json!({})).await;
    let id = workspace(&app, &student, &made).await;

    // Every byte value, into a directory made on the way; read back unchanged.
    let all: Vec<u8> = (0..=255u8).collect();
    assert_eq!(
        put_file(&app, &student, &id, "data/sub/bytes.bin", all.clone()).await,
        204
    );
    assert_eq!(
        get_file(&app, &student, &id, "data/sub/bytes.bin").await,
        (200, all.clone())
    );
    let listed = list_dir(&app, &student, &id, "data/sub").await;
    assert_eq!(listed[0]["name"], "bytes.bin");
    assert_eq!(listed[0]["kind"], "file");
    assert_eq!(listed[0]["size"], 256);
    assert_eq!(
        names(&list_dir(&app, &student, &id, "").await),
        ["data", "hello.sh"]
    );

    // Too big: refused, and the old contents are kept.
    assert_eq!(
        put_file(&app, &student, &id, "data/sub/bytes.bin", vec![7; 2 << 20]).await,
        413
    );
    assert_eq!(
        get_file(&app, &student, &id, "data/sub/bytes.bin").await,
        (200, all.clone())
    );

    // Move, make a directory, delete a directory with what is in it.
    let moved = app
        .post(
            &format!("/api/v1/workspaces/{id}/files/move"),
            Some(&student.token),
            json!({"from": "data/sub/bytes.bin", "to": "kept/bytes.bin"}),
        )
        .await;
    assert_eq!(moved.status(), 204, "{}", moved.text().await.unwrap());
    assert_eq!(
        get_file(&app, &student, &id, "kept/bytes.bin").await,
        (200, all.clone())
    );
    let made_dir = app
        .http
        .post(files_url(&app, &id, "/dir", "empty/inner"))
        .bearer_auth(&student.token)
        .send()
        .await
        .unwrap();
    assert_eq!(made_dir.status(), 201);
    assert_eq!(
        list_dir(&app, &student, &id, "empty").await[0]["kind"],
        "dir"
    );
    let deleted = app
        .http
        .delete(files_url(&app, &id, "", "data"))
        .bearer_auth(&student.token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        names(&list_dir(&app, &student, &id, "").await),
        ["empty", "hello.sh", "kept"]
    );

    // Nothing outside /workspace: no '..', no absolute path, no NUL, no symlink followed.
    let mut ws = app.ws(&student.token).await;
    ws.send(json!({"type": "exec", "stream": 1, "workspace": id,
                   "cmd": ["sh", "-c", "ln -s /etc/passwd link && ln -s /etc etc && echo ok"]}))
        .await;
    let linked = ws.collect(1).await;
    assert_eq!(
        String::from_utf8_lossy(&linked.stdout),
        "ok\n",
        "{linked:?}"
    );
    for path in [
        "../etc/passwd",
        "/etc/passwd",
        "kept/../../etc/passwd",
        "a\0b",
        "link",
        "etc/passwd",
    ] {
        let (status, bytes) = get_file(&app, &student, &id, path).await;
        assert_eq!(status, 400, "{path:?}: {}", String::from_utf8_lossy(&bytes));
        assert!(!String::from_utf8_lossy(&bytes).contains("root:x:0"));
    }
    assert_eq!(
        put_file(&app, &student, &id, "etc/evil", b"x".to_vec()).await,
        400
    );
    let listed = list_dir(&app, &student, &id, "").await;
    let link = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "link")
        .unwrap();
    assert_eq!(link["kind"], "symlink");

    // A whole directory out as a tar, and a tar in.
    let tar = app
        .http
        .get(files_url(&app, &id, "/archive", "kept"))
        .bearer_auth(&student.token)
        .send()
        .await
        .unwrap();
    assert_eq!(tar.status(), 200);
    let tar = tar.bytes().await.unwrap();
    let mut archive = tar::Archive::new(&tar[..]);
    let mut found = false;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().ends_with("bytes.bin") {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
            assert_eq!(bytes, all);
            found = true;
        }
    }
    assert!(found, "the tar holds the file");
    let mut project = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(14);
    header.set_mode(0o4755); // a set-uid bit, which must not survive
    header.set_cksum();
    project
        .append_data(&mut header, "src/main.sh", &b"echo unpacked\n"[..])
        .unwrap();
    let project = project.into_inner().unwrap();
    let unpacked = app
        .http
        .put(files_url(&app, &id, "/archive", "project"))
        .bearer_auth(&student.token)
        .body(project)
        .send()
        .await
        .unwrap();
    assert_eq!(unpacked.status(), 204, "{}", unpacked.text().await.unwrap());
    assert_eq!(
        get_file(&app, &student, &id, "project/src/main.sh").await,
        (200, b"echo unpacked\n".to_vec())
    );
    ws.send(json!({"type": "exec", "stream": 2, "workspace": id,
                   "cmd": ["sh", "-c", "stat -c '%u %a' project/src/main.sh"]}))
        .await;
    let owned = ws.collect(2).await;
    assert_eq!(String::from_utf8_lossy(&owned.stdout), "1000 755\n");
    // A tar whose entries climb out is refused as a whole.
    let mut evil = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(1);
    header.set_mode(0o644);
    header.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../escape");
    header.set_cksum();
    evil.append(&header, &b"x"[..]).unwrap();
    let refused = app
        .http
        .put(files_url(&app, &id, "/archive", "project"))
        .bearer_auth(&student.token)
        .body(evil.into_inner().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
}

#[tokio::test]
async fn run_streams_live_output_takes_input_and_is_killed_at_its_limits() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    let made = template(&app, &teacher, json!({"memory_mb": 64})).await;
    let id = workspace(&app, &student, &made).await;
    for (path, script) in [
        ("slow.sh", "echo first; sleep 2; echo second; exit 3\n"),
        ("ask.sh", "read name; echo \"got $name\"\n"),
        ("loop.sh", "while :; do :; done\n"),
        ("flood.sh", "yes\n"),
        ("hog.sh", "head -c 300000000 /dev/zero | tail\n"),
        ("suicide.sh", "kill -9 $$\n"),
        ("bomb.sh", "f() { f | f & }; f\n"),
        ("net.sh", "ls /sys/class/net\n"),
        ("prog.py", "print(1)\n"),
    ] {
        assert_eq!(
            put_file(&app, &student, &id, path, script.as_bytes().to_vec()).await,
            204
        );
    }
    let mut ws = app.ws(&student.token).await;

    // Output arrives as it is printed, then the exit with its code and duration.
    ws.send(json!({"type": "run", "stream": 1, "workspace": id, "path": "slow.sh"}))
        .await;
    ws.expect("started", 1).await;
    ws.read_until(1, "first").await;
    let first_at = Instant::now();
    let out = ws.collect(1).await;
    assert!(
        first_at.elapsed() >= Duration::from_millis(1500),
        "output came only at the end"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "second\n");
    let exit = out.exit.unwrap();
    assert_eq!(exit["code"], 3);
    assert!(exit["killed"].is_null());
    assert!(exit["duration_ms"].as_u64().unwrap() >= 2000);

    // Input on channel 0.
    ws.send(json!({"type": "run", "stream": 2, "workspace": id, "path": "ask.sh"}))
        .await;
    ws.expect("started", 2).await;
    ws.stdin(2, b"ada\n").await;
    let out = ws.collect(2).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got ada\n");

    // An endless loop dies at its time limit; a flood at its output limit, to the byte.
    let started = Instant::now();
    let out = run(&mut ws, 3, &id, "loop.sh", json!({"time_limit_s": 2})).await;
    assert_eq!(out.exit.as_ref().unwrap()["killed"], "timeout", "{out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let out = run(&mut ws, 4, &id, "flood.sh", json!({"output_limit_kb": 64})).await;
    assert_eq!(out.exit.as_ref().unwrap()["killed"], "output");
    assert_eq!(out.stdout.len(), 64 * 1024);
    // A memory hog is killed by the workspace's own limit, and said to be.
    let out = run(&mut ws, 5, &id, "hog.sh", json!({"time_limit_s": 30})).await;
    assert_eq!(out.exit.as_ref().unwrap()["killed"], "memory", "{out:?}");
    // A SIGKILL from the program itself is not the OOM killer's: the cgroup counted none.
    let out = run(&mut ws, 9, &id, "suicide.sh", json!({})).await;
    let exit = out.exit.as_ref().unwrap();
    assert_eq!(
        (exit["code"].as_i64(), &exit["killed"]),
        (Some(137), &Value::Null),
        "{out:?}"
    );
    // A fork bomb is held by the pids limit; the session still answers.
    let out = run(&mut ws, 6, &id, "bomb.sh", json!({"time_limit_s": 3})).await;
    assert!(out.exit.is_some(), "{out:?}");
    ws.send(json!({"type": "ping", "t": 42})).await;
    loop {
        match ws.next().await {
            Frame::Json(v) if v["type"] == "pong" => break assert_eq!(v["t"], 42),
            Frame::Closed(r) => panic!("closed: {r:?}"),
            _ => {}
        }
    }
    // No network but loopback.
    let out = run(&mut ws, 7, &id, "net.sh", json!({})).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "lo\n");
    // A kind of file the template cannot run.
    let out = run(&mut ws, 8, &id, "prog.py", json!({})).await;
    assert_eq!(out.errors[0]["code"], "bad_request");
    assert!(out.errors[0]["message"].as_str().unwrap().contains(".sh"));
}

#[tokio::test]
async fn an_idle_workspace_is_stopped_keeps_its_files_and_runs_again() {
    let app = spawn_app_with(|s| s.workspaces.cull_interval_s = 1).await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    let made = template(&app, &teacher, json!({"idle_timeout_s": 2})).await;
    let id = workspace(&app, &student, &made).await;
    assert_eq!(
        put_file(&app, &student, &id, "note.sh", b"cat note.txt\n".to_vec()).await,
        204
    );
    assert_eq!(
        put_file(&app, &student, &id, "note.txt", b"kept\n".to_vec()).await,
        204
    );
    let mut ws = app.ws(&student.token).await;
    let out = run(&mut ws, 1, &id, "note.sh", json!({})).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "kept\n");

    let state = |id: &str| {
        let out = std::process::Command::new("docker")
            .args([
                "inspect",
                "-f",
                "{{.State.Running}}",
                &format!("berth-ws-{id}"),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(state(&id), "true");
    let culled = eventually(Duration::from_secs(10), || state(&id) == "false").await;
    assert!(culled.is_some(), "the idle workspace was not stopped");
    let listed: Value = app
        .get(&format!("/api/v1/workspaces/{id}"), Some(&student.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["state"], "exited");
    // Its files are readable while it is stopped, and the next run brings it back.
    assert_eq!(
        get_file(&app, &student, &id, "note.txt").await,
        (200, b"kept\n".to_vec())
    );
    let out = run(&mut ws, 2, &id, "note.sh", json!({})).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "kept\n");
    assert_eq!(state(&id), "true");

    // A terminal open on it keeps it from being culled.
    ws.send(json!({"type": "exec", "stream": 3, "workspace": id, "cmd": ["sleep", "30"]}))
        .await;
    ws.expect("started", 3).await;
    // Another workspace of the same template, idle, is culled meanwhile: culling ran.
    let classmate = app.new_user().await;
    let idle = workspace(&app, &classmate, &made).await;
    assert_eq!(state(&idle), "true", "a new workspace runs");
    let culled = eventually(Duration::from_secs(10), || state(&idle) == "false").await;
    assert!(
        culled.is_some(),
        "the other, idle workspace was not stopped"
    );
    assert_eq!(state(&id), "true", "culled while a stream was open on it");
    // The stream itself is still alive: cancelling it ends it.
    ws.send(json!({"type": "cancel", "stream": 3})).await;
    assert_eq!(ws.collect(3).await.code, Some(137));
}

#[tokio::test]
async fn quotas_refuse_what_is_beyond_them_and_say_which() {
    let app = spawn_app_with(|s| {
        s.quotas.workspaces_per_user = 1;
        s.quotas.memory_mb_per_user = 200;
    })
    .await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    let made = template(&app, &teacher, json!({"memory_mb": 128})).await;
    workspace(&app, &student, &made).await;
    let second = app
        .post(
            "/api/v1/workspaces",
            Some(&student.token),
            json!({"template": made["id"]}),
        )
        .await;
    assert_eq!(second.status(), 409);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"]["code"], "quota_exceeded");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("workspaces"));
    // Plain containers count against the same memory.
    let container = app
        .post(
            "/api/v1/containers",
            Some(&student.token),
            json!({"image": IMAGE, "cmd": ["sleep", "60"], "memory_mb": 128}),
        )
        .await;
    assert_eq!(container.status(), 409);
    let body: Value = container.json().await.unwrap();
    assert_eq!(body["error"]["code"], "quota_exceeded");
    assert!(body["error"]["message"].as_str().unwrap().contains("MiB"));
}

#[tokio::test]
async fn a_template_is_derived_with_its_build_log_live_and_gpus_are_refused_plainly() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    let base = template(&app, &teacher, json!({})).await;
    let name = format!(
        "derived-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );

    let mut ws = app.ws(&student.token).await;
    ws.send(
        json!({"type": "derive", "stream": 1, "template": base["id"], "name": name,
                   "lines": ["RUN echo derived"]}),
    )
    .await;
    assert_eq!(ws.expect("error", 1).await["code"], "forbidden");

    let mut ws = app.ws(&teacher.token).await;
    ws.send(
        json!({"type": "derive", "stream": 1, "template": base["id"], "name": name,
                   "lines": ["RUN echo derived-marker && echo derived > /derived.txt"]}),
    )
    .await;
    ws.expect("started", 1).await;
    let mut saw_log = false;
    let end = loop {
        let message = ws.next_json().await;
        assert_ne!(message["type"], "error", "{message}");
        if message["type"] == "progress"
            && message["log"].as_str().unwrap().contains("derived-marker")
        {
            saw_log = true;
        }
        if message["type"] == "end" {
            break message;
        }
    };
    assert!(saw_log, "the build log was streamed");
    let derived: Value = app
        .get(
            &format!("/api/v1/templates/{}", end["template"].as_str().unwrap()),
            Some(&student.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(derived["name"], name);
    assert_eq!(derived["run"], base["run"]);
    let image = derived["image"].as_str().unwrap().to_string();
    let id = workspace(&app, &student, &derived).await;
    assert_eq!(
        put_file(
            &app,
            &student,
            &id,
            "show.sh",
            b"cat /derived.txt\n".to_vec()
        )
        .await,
        204
    );
    let mut ws = app.ws(&student.token).await;
    let out = run(&mut ws, 1, &id, "show.sh", json!({})).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "derived\n");
    app.delete(&format!("/api/v1/workspaces/{id}"), Some(&student.token))
        .await;
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &image])
        .output();

    // This engine has no GPU runtime: a GPU template's workspace is refused, and leaves nothing.
    let gpu = template(&app, &teacher, json!({"gpus": 1})).await;
    let started = Instant::now();
    let refused = app
        .post(
            "/api/v1/workspaces",
            Some(&student.token),
            json!({"template": gpu["id"]}),
        )
        .await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("GPU"),
        "{body}"
    );
    let listed: Value = app
        .get("/api/v1/workspaces", Some(&student.token))
        .await
        .json()
        .await
        .unwrap();
    assert!(listed.as_array().unwrap().is_empty());
    let left = std::process::Command::new("docker")
        .args([
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("label=berth.owner={}", student.id),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&left.stdout).trim(),
        "",
        "a volume was left behind"
    );
}

#[tokio::test]
async fn a_workspace_whose_container_was_removed_gets_a_new_one_with_its_files() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    let made = template(&app, &teacher, json!({})).await;
    let id = workspace(&app, &student, &made).await;
    let mine = b"echo my own version\n".to_vec();
    assert_eq!(
        put_file(&app, &student, &id, "hello.sh", mine.clone()).await,
        204
    );
    assert_eq!(
        put_file(&app, &student, &id, "notes.txt", b"kept\n".to_vec()).await,
        204
    );
    // An admin's `docker rm` (or an engine's cleanup) takes the container, not the volume.
    let removed = std::process::Command::new("docker")
        .args(["rm", "-f", &format!("berth-ws-{id}")])
        .output()
        .unwrap();
    assert!(removed.status.success());
    assert_eq!(state_of(&app, &student, &id).await, "missing");

    // The next use makes it again, on the same volume: the student's files are there, the
    // starter file is not written over, and it runs.
    assert_eq!(
        get_file(&app, &student, &id, "notes.txt").await,
        (200, b"kept\n".to_vec())
    );
    assert_eq!(get_file(&app, &student, &id, "hello.sh").await, (200, mine));
    assert_eq!(state_of(&app, &student, &id).await, "running");
    let mut ws = app.ws(&student.token).await;
    let out = run(&mut ws, 1, &id, "hello.sh", json!({})).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "my own version\n");
    let owner = std::process::Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{index .Config.Labels \"berth.owner\"}}",
            &format!("berth-ws-{id}"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&owner.stdout).trim(),
        student.id,
        "still the student's"
    );
}

/// A workspace's `state` as its owner sees it.
async fn state_of(app: &TestApp, user: &TestUser, id: &str) -> Value {
    let got = app
        .get(&format!("/api/v1/workspaces/{id}"), Some(&user.token))
        .await;
    got.json::<Value>().await.unwrap()["state"].clone()
}
