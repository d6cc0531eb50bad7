use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use berth::users::Role;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, ServerProcess, TestApp, TestUser};
use crate::proxy::SlowProxy;

/// The registry `scripts/setup.sh --test-images` starts.
pub const REGISTRY: &str = "127.0.0.1:5555";
pub const REGISTRY_USER: &str = "berth-test";
pub const REGISTRY_PASSWORD: &str = "berth-registry-pass";

pub async fn add_registry(
    app: &TestApp,
    user: &TestUser,
    name: &str,
    password: &str,
    shared: bool,
) -> reqwest::Response {
    let body = json!({"name": name, "server": REGISTRY, "username": REGISTRY_USER, "password": password, "shared": shared});
    app.post("/api/v1/registries", Some(&user.token), body)
        .await
}

/// The test registry is on loopback, which registries of non-admins may only reach where the
/// settings allow it, and which the engine is sent to for them only as an allowed host.
async fn app_reaching_the_test_registry() -> TestApp {
    spawn_app_with(|s| {
        s.registries.allowed_networks = vec!["127.0.0.1/32".into()];
        s.registries.allowed_hosts = vec![REGISTRY.into()];
    })
    .await
}

pub fn unique_repo() -> String {
    format!(
        "berth-test/pushed-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

pub fn docker_rmi(reference: &str) {
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", reference])
        .output();
}

/// Messages of a pull or push stream until its end; panics on an error.
pub async fn transfer(ws: &mut crate::helpers::Ws, stream: u8) -> Vec<Value> {
    let mut progress = Vec::new();
    loop {
        let message = ws.next_json().await;
        if message["stream"] != stream {
            continue;
        }
        match message["type"].as_str().unwrap() {
            "progress" => progress.push(message),
            "end" => return progress,
            "started" => {}
            _ => panic!("transfer failed: {message}"),
        }
    }
}

#[tokio::test]
async fn a_registry_is_added_only_with_the_right_password_and_never_shows_it() {
    let app = app_reaching_the_test_registry().await;
    let user = app.new_user().await;
    let wrong = add_registry(&app, &user, "team", "not-the-password", false).await;
    assert_eq!(wrong.status(), 400);
    let body: Value = wrong.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("refused"));

    let added = add_registry(&app, &user, "team", REGISTRY_PASSWORD, false).await;
    assert_eq!(added.status(), 201);
    let text = added.text().await.unwrap();
    assert!(!text.contains(REGISTRY_PASSWORD));
    let registry: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(registry["server"], REGISTRY);
    assert_eq!(registry["shared"], false);

    let listed = app
        .get("/api/v1/registries", Some(&user.token))
        .await
        .text()
        .await
        .unwrap();
    assert!(listed.contains("team") && !listed.contains(REGISTRY_PASSWORD));
    assert_eq!(
        add_registry(&app, &user, "team", REGISTRY_PASSWORD, false)
            .await
            .status(),
        409
    );

    // Removed and added again under the same name.
    let path = format!("/api/v1/registries/{}", registry["id"].as_str().unwrap());
    assert_eq!(app.delete(&path, Some(&user.token)).await.status(), 204);
    assert_eq!(
        add_registry(&app, &user, "team", REGISTRY_PASSWORD, false)
            .await
            .status(),
        201
    );

    // Others see neither it nor, if students, may share one.
    let other = app.new_user().await;
    let theirs: Value = app
        .get("/api/v1/registries", Some(&other.token))
        .await
        .json()
        .await
        .unwrap();
    assert!(theirs.as_array().unwrap().is_empty());
    assert_eq!(app.delete(&path, Some(&other.token)).await.status(), 404);
    assert_eq!(
        add_registry(&app, &other, "shared", REGISTRY_PASSWORD, true)
            .await
            .status(),
        403
    );
    let unreachable = app
        .post(
            "/api/v1/registries",
            Some(&other.token),
            json!({"name": "x", "server": "127.0.0.1:1", "username": "a", "password": "b"}),
        )
        .await;
    assert_eq!(unreachable.status(), 503);

    // The database holds the password encrypted only (its contents are real: the registry's
    // name is there).
    let bytes = app.database.contents();
    let holds = |text: &str| bytes.windows(text.len()).any(|w| w == text.as_bytes());
    assert!(holds("team"));
    assert!(!holds(REGISTRY_PASSWORD));
}

#[tokio::test]
async fn push_then_pull_through_berth_with_progress_and_auto_pull_on_create() {
    let app = app_reaching_the_test_registry().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    assert_eq!(
        add_registry(&app, &teacher, "classroom", REGISTRY_PASSWORD, true)
            .await
            .status(),
        201
    );
    // An image of its own content, so the pull below really downloads a layer.
    let repo = unique_repo();
    crate::images::import(&app, &teacher, &repo, &uuid::Uuid::new_v4().to_string()).await;

    let mut ws = app.ws(&teacher.token).await;
    ws.send(
        json!({"type": "push", "stream": 1, "image": format!("{repo}:1"), "registry": "classroom"}),
    )
    .await;
    let pushed = transfer(&mut ws, 1).await;
    assert!(!pushed.is_empty());
    assert!(
        pushed
            .iter()
            .any(|p| p["status"].as_str().unwrap_or("").contains("digest")),
        "{pushed:?}"
    );
    let remote = format!("{REGISTRY}/{repo}:1");

    // Search across registries finds it (a typo in the query is forgiven); a source that
    // cannot answer (Docker Hub, offline here) is reported, not fatal.
    let typo = repo.replace("pushed-", "pushd-");
    let search = app
        .get(
            &format!("/api/v1/registries/search?q={typo}"),
            Some(&teacher.token),
        )
        .await;
    assert_eq!(search.status(), 200);
    let search: Value = search.json().await.unwrap();
    let hit = search["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == format!("{REGISTRY}/{repo}"))
        .unwrap_or_else(|| panic!("not found: {search}"));
    assert_eq!(hit["source"], "classroom");
    assert_eq!(hit["tags"], json!(["1"]));
    let sources = search["sources"].as_array().unwrap();
    assert!(sources.iter().any(|s| s["source"] == "docker.io"));
    assert!(sources
        .iter()
        .any(|s| s["source"] == "classroom" && s["ok"] == true));
    docker_rmi(&remote);
    docker_rmi(&format!("{repo}:1"));

    // A student pulls with the shared registry's stored credentials.
    let student = app.new_user().await;
    let mut ws = app.ws(&student.token).await;
    ws.send(json!({"type": "pull", "stream": 2, "image": remote}))
        .await;
    let pulled = transfer(&mut ws, 2).await;
    assert!(
        pulled
            .iter()
            .any(|p| p["id"].as_str().is_some_and(|id| id.len() == 12)),
        "layer ids: {pulled:?}"
    );
    assert!(
        pulled
            .iter()
            .any(|p| p["status"].as_str().unwrap_or("").contains("Pull complete")),
        "{pulled:?}"
    );
    assert_eq!(
        app.get(&format!("/api/v1/images/{remote}"), Some(&student.token))
            .await
            .status(),
        200
    );

    // Missing image: creating a container pulls it first and says so.
    docker_rmi(&remote);
    let created = app
        .post(
            "/api/v1/containers",
            Some(&student.token),
            json!({"image": remote, "cmd": ["true"]}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.unwrap();
    app.track(body["id"].as_str().unwrap());
    assert_eq!(body["pulled"], true);

    // A pull of something the registry does not have is an error on the stream.
    ws.send(
        json!({"type": "pull", "stream": 3, "image": format!("{REGISTRY}/berth-test/absent:1")}),
    )
    .await;
    let error = ws.expect("error", 3).await;
    assert_eq!(error["code"], "not_found");
    // Students do not push.
    ws.send(json!({"type": "push", "stream": 4, "image": remote, "registry": "classroom"}))
        .await;
    assert_eq!(ws.expect("error", 4).await["code"], "forbidden");
    docker_rmi(&remote);
}

#[tokio::test]
async fn registry_credentials_never_reach_a_response_or_the_log() {
    let mut server = ServerProcess::start_logging(&[
        ("RUST_LOG", "debug"),
        ("BERTH_REGISTRIES__ALLOWED_NETWORKS", "[\"127.0.0.1/32\"]"),
    ])
    .await;
    let token = server.account("creds").await;
    let http = reqwest::Client::new();
    let base = format!("http://{}/api/v1", server.address);
    let added = http
        .post(format!("{base}/registries"))
        .bearer_auth(&token)
        .json(&json!({"name": "mine", "server": REGISTRY, "username": REGISTRY_USER, "password": REGISTRY_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    assert!(!added.text().await.unwrap().contains(REGISTRY_PASSWORD));
    let mut ws = server.ws(&token).await;
    ws.send(
        json!({"type": "pull", "stream": 1, "image": format!("{REGISTRY}/berth-test/absent:1")}),
    )
    .await;
    let error = ws.expect("error", 1).await;
    assert!(!error.to_string().contains(REGISTRY_PASSWORD));
    let log = server.stop_and_read_log();
    assert!(log.contains("registry added"), "the log was captured");
    assert!(
        !log.contains(REGISTRY_PASSWORD),
        "the registry password reached the log"
    );
}

/// Waits for a stream's first progress message whose status starts with `status`.
async fn progress_with(ws: &mut crate::helpers::Ws, stream: u8, status: &str) -> Value {
    loop {
        let message = ws.next_json().await;
        if message["stream"] != stream {
            continue;
        }
        match message["type"].as_str().unwrap() {
            "progress" if message["status"].as_str().unwrap_or("").starts_with(status) => {
                return message
            }
            "progress" | "started" => {}
            _ => panic!("transfer ended before {status}: {message}"),
        }
    }
}

/// Cancelling a transfer mid-way ends it on the engine: no more bytes reach the registry.
async fn assert_transfer_stops(proxy: &SlowProxy, layer_bytes: u64) {
    let settled =
        crate::helpers::settled(Duration::from_secs(10), || proxy.passed(), |a, b| a == b).await;
    // A fixed pause: nothing may pass for two more seconds.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(proxy.passed(), settled, "bytes still flowing after cancel");
    assert!(
        settled < layer_bytes,
        "the transfer finished ({settled} of {layer_bytes} bytes) before it was cancelled"
    );
}

#[tokio::test]
async fn cancelling_a_pull_or_a_push_stops_the_transfer() {
    let app = app_reaching_the_test_registry().await;
    // An admin: the engine is sent to the proxy's port, which no setting lists.
    let teacher = app.new_user_with_role(Role::Admin).await;
    let proxy = SlowProxy::start(REGISTRY);
    let body = json!({"name": "slow", "server": proxy.address, "username": REGISTRY_USER,
                      "password": REGISTRY_PASSWORD, "shared": true});
    let added = app
        .post("/api/v1/registries", Some(&teacher.token), body)
        .await;
    assert_eq!(added.status(), 201, "{}", added.text().await.unwrap());
    // An image with one 16 MiB layer that does not compress: 8+ s through the proxy.
    let layer_bytes = 16 << 20;
    let noise: String = {
        use base64::Engine;
        let bytes: Vec<u8> = (0..layer_bytes * 3 / 4).map(|_| rand::random()).collect();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    let repo = unique_repo();
    crate::images::import(&app, &teacher, &repo, &noise).await;
    let mut ws = app.ws(&teacher.token).await;

    // Push, cancelled once the layer is on its way.
    ws.send(json!({"type": "push", "stream": 1, "image": format!("{repo}:1"), "registry": "slow"}))
        .await;
    progress_with(&mut ws, 1, "Pushing").await;
    ws.send(json!({"type": "cancel", "stream": 1})).await;
    ws.expect("end", 1).await;
    assert_transfer_stops(&proxy, layer_bytes as u64).await;
    let manifest = reqwest::Client::new()
        .get(format!("http://{REGISTRY}/v2/{repo}/manifests/1"))
        .basic_auth(REGISTRY_USER, Some(REGISTRY_PASSWORD))
        .header(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(manifest.status(), 404, "the cancelled push left a tag");

    // Pushed for real (straight to the registry), then a pull through the proxy, cancelled.
    let fast = format!("{REGISTRY}/{repo}:1");
    let slow = format!("{}/{repo}:1", proxy.address);
    let pushed = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "docker tag {repo}:1 {fast} && echo {REGISTRY_PASSWORD} | docker login -u {REGISTRY_USER} --password-stdin {REGISTRY} >/dev/null 2>&1 && docker push {fast} >/dev/null"
        ))
        .status()
        .unwrap();
    assert!(pushed.success());
    // (The push above tagged the image under the proxy's address too.)
    for reference in [&fast, &slow, &format!("{repo}:1")] {
        docker_rmi(reference);
    }
    let before = proxy.passed();
    ws.send(json!({"type": "pull", "stream": 2, "image": slow, "registry": "slow"}))
        .await;
    progress_with(&mut ws, 2, "Downloading").await;
    ws.send(json!({"type": "cancel", "stream": 2})).await;
    ws.expect("end", 2).await;
    assert_transfer_stops(&proxy, before + layer_bytes as u64).await;
    let image = std::process::Command::new("docker")
        .args(["image", "inspect", &slow])
        .output()
        .unwrap();
    assert!(!image.status.success(), "the cancelled pull left the image");
}

/// A plain HTTP service on `address` that answers every request with `response` and counts the
/// requests it got: an internal service a student should not be able to reach through berth.
async fn http_service(address: &str, response: String) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let response = response.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (address, hits)
}

const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";

async fn add_as(app: &TestApp, user: &TestUser, server: &str) -> (u16, Value) {
    let body = json!({"name": format!("r{}", rand::random::<u32>()), "server": server,
                      "username": "u", "password": "p"});
    let response = app
        .post("/api/v1/registries", Some(&user.token), body)
        .await;
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_student_cannot_make_berth_probe_internal_addresses() {
    let app = spawn_app().await;
    let student = app.new_user().await;
    let (internal, hits) = http_service("127.0.0.1:0", OK.to_string()).await;
    for server in [
        internal.as_str(),
        "localhost:5555",
        "169.254.169.254",
        "10.0.0.1:5000",
        "[::1]:5555",
        "0.0.0.0:5555",
    ] {
        let started = std::time::Instant::now();
        let (status, body) = add_as(&app, &student, server).await;
        assert_eq!(status, 403, "{server}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("only admins"),
            "{body}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{server} was tried"
        );
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "berth connected to the internal service"
    );
    // Nor through a pull, which the engine would make on the student's behalf.
    let mut ws = app.ws(&student.token).await;
    ws.send(json!({"type": "pull", "stream": 1, "image": format!("{internal}/x/y:1")}))
        .await;
    assert_eq!(ws.expect("error", 1).await["code"], "forbidden");
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    // An admin's registry may be on loopback.
    let admin = app.new_user_with_role(Role::Admin).await;
    let added = add_registry(&app, &admin, "local", REGISTRY_PASSWORD, false).await;
    assert_eq!(added.status(), 201, "{}", added.text().await.unwrap());
}

#[tokio::test]
async fn only_a_registry_counts_and_an_open_port_looks_like_a_closed_one() {
    // The admin allows one loopback address; a redirect from it elsewhere is not followed.
    let app = spawn_app_with(|s| s.registries.allowed_networks = vec!["127.0.0.2".into()]).await;
    let student = app.new_user().await;
    let (inside, inside_hits) = http_service("127.0.0.1:0", OK.to_string()).await;
    let redirect =
        format!("HTTP/1.1 302 Found\r\nLocation: http://{inside}/v2/\r\nContent-Length: 0\r\n\r\n");
    let (redirector, _) = http_service("127.0.0.2:0", redirect).await;
    let (web_page, page_hits) = http_service("127.0.0.2:0", OK.to_string()).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };

    let (status, open) = add_as(&app, &student, &web_page).await;
    assert_eq!(
        page_hits.load(Ordering::SeqCst),
        1,
        "the allowed address was asked"
    );
    let (closed_status, refused) = add_as(&app, &student, &closed).await;
    assert_eq!(status, closed_status);
    let message = |body: &Value, host: &str| {
        body["error"]["message"]
            .as_str()
            .unwrap()
            .replace(host, "HOST")
    };
    assert_eq!(
        message(&open, &web_page),
        message(&refused, &closed),
        "{open} vs {refused}"
    );
    assert!(message(&open, &web_page).contains("does not answer as a Docker registry"));

    let (status, body) = add_as(&app, &student, &redirector).await;
    assert_eq!(status, closed_status, "{body}");
    assert_eq!(
        inside_hits.load(Ordering::SeqCst),
        0,
        "the redirect was followed"
    );
}

#[tokio::test]
async fn a_students_push_is_refused_for_what_it_is() {
    let app = app_reaching_the_test_registry().await;
    let student = app.new_user().await;
    let added: Value = add_registry(&app, &student, "mine", REGISTRY_PASSWORD, false)
        .await
        .json()
        .await
        .unwrap();
    let mut ws = app.ws(&student.token).await;
    ws.send(
        json!({"type": "push", "stream": 1, "image": crate::helpers::IMAGE,
                   "registry": added["id"]}),
    )
    .await;
    let refused = ws.expect("error", 1).await;
    assert_eq!(refused["code"], "forbidden");
    assert_eq!(
        refused["message"], "only teachers and admins push images",
        "{refused}"
    );
    // A pull names its registry by the id that adding it gave, or by its name.
    for registry in [added["id"].clone(), added["name"].clone()] {
        ws.send(json!({"type": "pull", "stream": 2,
                       "image": format!("{REGISTRY}/berth-test/absent:1"), "registry": registry}))
            .await;
        let error = ws.expect("error", 2).await;
        // The registry was found and asked: the image is what is missing.
        let message = error["message"].as_str().unwrap();
        assert!(!message.contains("no such registry"), "{error}");
        assert!(message.contains("manifest unknown"), "{error}");
    }
}
