use std::time::{Duration, Instant};

use berth::users::Role;
use serde_json::{json, Value};

use crate::helpers::{
    docker_cli, eventually, processes_matching, spawn_app, spawn_app_with, Frame, TestApp,
    ENGINE2_SOCKET, ENGINE2_TLS, ENGINE2_TLS_DIR, IMAGE,
};
use crate::proxy::EngineProxy;

/// Adds a host as an admin; the response body.
async fn add_host(app: &TestApp, admin: &str, host: Value) -> Value {
    let added = app.post("/api/v1/hosts", Some(admin), host).await;
    assert_eq!(added.status(), 201, "{}", added.text().await.unwrap());
    added.json().await.unwrap()
}

/// Creates a container as `token`, removed when the test ends from whichever test engine it
/// was placed on; the response body.
async fn create(app: &TestApp, token: &str, spec: Value) -> Value {
    let created = app.post("/api/v1/containers", Some(token), spec).await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let body: Value = created.json().await.unwrap();
    let engine = (body["host"] != "local").then_some(ENGINE2_SOCKET);
    app.track_on(engine, body["id"].as_str().unwrap());
    body
}

fn on_engine2(args: &[&str]) -> std::process::Output {
    docker_cli(Some(ENGINE2_SOCKET))
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn hosts_are_added_only_when_they_answer_and_can_come_back_under_their_name() {
    let app = spawn_app().await;
    let admin = app.new_user_with_role(Role::Admin).await;
    let a = Some(admin.token.as_str());

    let listed: Value = app.get("/api/v1/hosts", a).await.json().await.unwrap();
    assert_eq!(listed[0]["name"], "local", "{listed}");
    assert_eq!(listed[0]["healthy"], true, "{listed}");
    assert!(
        listed[0]["api_version"].as_str().unwrap().starts_with("1."),
        "{listed}"
    );

    // A second path to an engine that answers.
    let good = json!({"name": "lab-2", "url": "unix:///var/run/docker.sock"});
    let added = app.post("/api/v1/hosts", a, good.clone()).await;
    let status = added.status();
    let host: Value = added.json().await.unwrap();
    assert_eq!(status, 201, "{host}");
    assert_eq!(host["healthy"], true, "{host}");
    assert_eq!(
        app.post("/api/v1/hosts", a, good.clone()).await.status(),
        409
    );
    let ping = app
        .post(
            &format!("/api/v1/hosts/{}/ping", host["id"].as_str().unwrap()),
            a,
            json!({}),
        )
        .await;
    assert_eq!(ping.status(), 200);

    // Engines that do not answer are refused, with the reason.
    for url in ["tcp://127.0.0.1:1", "unix:///tmp/berth-no-such-engine.sock"] {
        let refused = app
            .post("/api/v1/hosts", a, json!({"name": "dead", "url": url}))
            .await;
        assert_eq!(refused.status(), 400, "{url}");
        let body: Value = refused.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("does not answer"),
            "{body}"
        );
    }
    for bad in [
        json!({"name": "local", "url": "unix:///var/run/docker.sock"}),
        json!({"name": "x", "url": "http://127.0.0.1:2375"}),
        json!({"name": "x", "url": "tcp://nohost"}),
        json!({"name": "Bad Name", "url": "unix:///var/run/docker.sock"}),
        json!({"name": "x", "url": "unix:///var/run/docker.sock", "tls_verify": false}),
    ] {
        assert_eq!(
            app.post("/api/v1/hosts", a, bad.clone()).await.status(),
            400,
            "{bad}"
        );
    }

    // Removed, then added again under the same name.
    let path = format!("/api/v1/hosts/{}", host["id"].as_str().unwrap());
    assert_eq!(app.delete(&path, a).await.status(), 204);
    assert_eq!(app.delete(&path, a).await.status(), 404);
    assert_eq!(app.post("/api/v1/hosts", a, good).await.status(), 201);
    let listed: Value = app.get("/api/v1/hosts", a).await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(app.delete("/api/v1/hosts/local", a).await.status(), 400);

    // Only admins manage hosts; students do not see them.
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let t = Some(teacher.token.as_str());
    assert_eq!(app.get("/api/v1/hosts", t).await.status(), 200);
    let tried = app
        .post(
            "/api/v1/hosts",
            t,
            json!({"name": "t", "url": "unix:///var/run/docker.sock"}),
        )
        .await;
    assert_eq!(tried.status(), 403);
    let student = app.new_user().await;
    assert_eq!(
        app.get("/api/v1/hosts", Some(&student.token))
            .await
            .status(),
        403
    );
}

/// The entry of a host list, or of a container list, that names host `name`.
fn find_host<'a>(listed: &'a Value, name: &str) -> &'a Value {
    listed
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name || h["host"] == name)
        .unwrap_or_else(|| panic!("no {name} in {listed}"))
}

#[tokio::test]
async fn a_host_that_stops_answering_shows_as_unhealthy_without_hanging() {
    let app = spawn_app().await;
    let admin = app.new_user_with_role(Role::Admin).await;
    let a = Some(admin.token.as_str());
    // A socket that answers while added, then goes away.
    let mut proxy = EngineProxy::start();
    add_host(
        &app,
        &admin.token,
        json!({"name": "flaky", "url": proxy.url()}),
    )
    .await;
    proxy.stop();

    let started = Instant::now();
    let listed: Value = app.get("/api/v1/hosts", a).await.json().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(8), "listing hung");
    assert_eq!(find_host(&listed, "flaky")["healthy"], false);
    assert_eq!(listed[0]["healthy"], true, "the other hosts are unaffected");

    // It comes back: used again without a restart.
    proxy.restart();
    let listed: Value = app.get("/api/v1/hosts", a).await.json().await.unwrap();
    assert_eq!(find_host(&listed, "flaky")["healthy"], true);
}

#[tokio::test]
async fn work_for_a_host_that_hangs_is_refused_at_once_until_it_answers_again() {
    let app = spawn_app().await;
    let admin = app.new_user_with_role(Role::Admin).await;
    let proxy = EngineProxy::start();
    add_host(
        &app,
        &admin.token,
        json!({"name": "flaky", "url": proxy.url()}),
    )
    .await;
    let user = app.new_user().await;
    let u = Some(user.token.as_str());
    // Through the proxy the container lands on the local engine, recorded as on `flaky`.
    let created = app
        .post(
            "/api/v1/containers",
            u,
            json!({"image": IMAGE, "cmd": ["sleep", "600"], "host": "flaky"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.track(&id);
    let path = format!("/api/v1/containers/{id}");
    assert_eq!(
        app.post(&format!("{path}/start"), u, json!({}))
            .await
            .status(),
        200
    );

    // Live streams on it: a terminal printing, logs and stats followed.
    let mut ws = app.ws(&user.token).await;
    ws.exec(
        5,
        &id,
        &["sh", "-c", "while true; do echo tick; sleep 0.2; done"],
        false,
    )
    .await;
    ws.read_until(5, "tick").await;
    assert!(!processes_matching(&id, "echo tick").is_empty());
    ws.send(json!({"type": "logs", "stream": 6, "container": id, "follow": true}))
        .await;
    ws.expect("started", 6).await;
    ws.send(json!({"type": "stats", "stream": 7, "container": id}))
        .await;
    ws.expect("started", 7).await;
    // A paused terminal notices too.
    ws.exec(
        8,
        &id,
        &[
            "sh",
            "-c",
            "i=0; while true; do echo tock; i=$((i+1)); echo $i > /tmp/tocks; sleep 0.2; done",
        ],
        false,
    )
    .await;
    ws.send(json!({"type": "pause", "stream": 8})).await;
    // Its output goes on while it is paused (so the stream waits to be resumed).
    let tocks = |at_least: u32| {
        let out = std::process::Command::new("docker")
            .args(["exec", &id, "cat", "/tmp/tocks"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<u32>()
            .is_ok_and(|n| n >= at_least)
    };
    assert!(eventually(Duration::from_secs(5), || tocks(4))
        .await
        .is_some());

    // The host accepts connections but answers nothing. Without anyone asking, the health
    // pings notice: the streams on it end with `unavailable`, and from then on its work is
    // refused at once.
    proxy.hang(true);
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let get = |path: String| {
        let request = quick.get(app.url(&path)).bearer_auth(&user.token);
        async move { request.send().await.ok().map(|r| r.status().as_u16()) }
    };
    let mut refused = None;
    let hung_at = Instant::now();
    while hung_at.elapsed() < Duration::from_secs(20) && refused.is_none() {
        if get(path.clone()).await == Some(503) {
            refused = Some(hung_at.elapsed());
        }
    }
    let refused = refused.expect("the hanging host was never marked unhealthy");
    assert!(refused < Duration::from_secs(13), "took {refused:?}");
    let mut ended = std::collections::BTreeMap::new();
    let all_ended = tokio::time::timeout(Duration::from_secs(5), async {
        while ended.len() < 4 {
            let message = ws.next_json().await;
            if message["type"] != "stats" {
                assert_eq!(message["type"], "error", "{message}");
                ended.insert(message["stream"].as_u64().unwrap(), message["code"].clone());
            }
        }
    })
    .await;
    assert!(all_ended.is_ok(), "streams still open: {ended:?}");
    assert!(
        ended.keys().eq(&[5, 6, 7, 8]) && ended.values().all(|code| code == "unavailable"),
        "{ended:?}"
    );

    let asked = Instant::now();
    ws.send(json!({"type": "exec", "stream": 1, "container": id, "cmd": ["echo", "hi"]}))
        .await;
    let error = ws.expect("error", 1).await;
    assert_eq!(error["code"], "unavailable", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("flaky"),
        "{error}"
    );
    assert!(asked.elapsed() < Duration::from_secs(1));
    let listed: Value = quick
        .get(app.url("/api/v1/containers"))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // (The local engine lists it too, being the engine behind the proxy.)
    let recorded = find_host(&listed, "flaky");
    assert_eq!(recorded["id"], id.as_str());
    assert_eq!(recorded["state"], "unavailable");
    let placed = app
        .post(
            "/api/v1/containers",
            u,
            json!({"image": IMAGE, "host": "flaky"}),
        )
        .await;
    assert_eq!(placed.status(), 503);

    // It answers again: used again without a restart.
    proxy.hang(false);
    let mut answered = false;
    let back_at = Instant::now();
    while back_at.elapsed() < Duration::from_secs(20) && !answered {
        answered = get(path.clone()).await == Some(200);
    }
    assert!(answered, "the host was not used again");
    ws.exec(2, &id, &["echo", "back"], false).await;
    assert_eq!(ws.collect(2).await.stdout, b"back\n");
    // What the interrupted terminal started is killed now that the host answers.
    let gone = eventually(Duration::from_secs(10), || {
        processes_matching(&id, "echo tick").is_empty()
            && processes_matching(&id, "echo tock").is_empty()
    })
    .await;
    assert!(gone.is_some(), "the loops outlived their streams");
}

#[tokio::test]
async fn containers_images_and_streams_follow_the_host_they_were_placed_on() {
    let app = spawn_app().await;
    let admin = app.new_user_with_role(Role::Admin).await;
    add_host(
        &app,
        &admin.token,
        json!({"name": "lab-2", "url": ENGINE2_SOCKET}),
    )
    .await;
    let student = app.new_user().await;
    let s = Some(student.token.as_str());
    let name = format!("placed-{}", &student.id[..8]);

    let created = create(
        &app,
        &student.token,
        json!({"image": IMAGE, "cmd": ["sh", "-c", "echo from-lab-2; sleep 600"],
               "host": "lab-2", "name": name}),
    )
    .await;
    assert_eq!(created["host"], "lab-2");
    let id = created["id"].as_str().unwrap().to_string();
    // It exists on the second engine, labelled with its host, and not on the local one.
    let label = on_engine2(&[
        "inspect",
        "--format",
        "{{index .Config.Labels \"berth.host\"}}",
        &id,
    ]);
    assert_eq!(String::from_utf8_lossy(&label.stdout).trim(), "lab-2");
    let local = docker_cli(None).args(["inspect", &id]).output().unwrap();
    assert!(!local.status.success(), "not on the local engine");

    // REST actions reach it by id and by name.
    let started = app
        .post(&format!("/api/v1/containers/{name}/start"), s, json!({}))
        .await;
    assert_eq!(started.status(), 200);
    let shown: Value = app
        .get(&format!("/api/v1/containers/{id}"), s)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["state"], "running");
    assert_eq!(shown["host"], "lab-2");
    let listed: Value = app.get("/api/v1/containers", s).await.json().await.unwrap();
    let mine: Vec<&Value> = listed.as_array().unwrap().iter().collect();
    assert_eq!(mine.len(), 1, "{listed}");
    assert_eq!(mine[0]["host"], "lab-2");

    // Exec and logs on the session run against that engine.
    let mut ws = app.ws(&student.token).await;
    ws.exec(
        1,
        &id,
        &["sh", "-c", "echo placed > /tmp/where; echo done"],
        false,
    )
    .await;
    let out = ws.collect(1).await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "done\n",
        "{:?}",
        out.errors
    );
    let written = on_engine2(&["exec", &id, "cat", "/tmp/where"]);
    assert_eq!(String::from_utf8_lossy(&written.stdout), "placed\n");
    ws.send(json!({"type": "logs", "stream": 2, "container": id, "follow": false}))
        .await;
    ws.expect("started", 2).await;
    let mut logs = Vec::new();
    loop {
        match ws.next().await {
            Frame::Bytes(2, 1, bytes) => logs.extend(bytes),
            Frame::Json(v) if v["type"] == "end" && v["stream"] == 2 => break,
            Frame::Json(v) => panic!("unexpected: {v}"),
            _ => panic!("unexpected frame"),
        }
    }
    assert_eq!(String::from_utf8_lossy(&logs), "from-lab-2\n");

    // Names are unique across hosts; unknown hosts are named in the refusal.
    let twin = app
        .post(
            "/api/v1/containers",
            s,
            json!({"image": IMAGE, "name": name}),
        )
        .await;
    assert_eq!(twin.status(), 409);
    let nowhere = app
        .post(
            "/api/v1/containers",
            s,
            json!({"image": IMAGE, "host": "nowhere"}),
        )
        .await;
    assert_eq!(nowhere.status(), 404);

    // Images are listed per host.
    let images: Value = app
        .get("/api/v1/images?host=lab-2&q=busybox", s)
        .await
        .json()
        .await
        .unwrap();
    assert!(images.as_array().unwrap().iter().any(|i| i["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == IMAGE)));
    assert_eq!(
        app.get("/api/v1/images?host=nowhere", s).await.status(),
        404
    );

    // Removing it removes it from that engine.
    assert_eq!(
        app.delete(&format!("/api/v1/containers/{id}"), s)
            .await
            .status(),
        204
    );
    assert!(!on_engine2(&["inspect", &id]).status.success());
    assert_eq!(
        app.get(&format!("/api/v1/containers/{id}"), s)
            .await
            .status(),
        404
    );

    // A name is free again once its container is gone, even when it went behind berth's back.
    let again = create(&app, &student.token, json!({"image": IMAGE, "name": name})).await;
    let removed = docker_cli(None)
        .args(["rm", "-f", again["id"].as_str().unwrap()])
        .output()
        .unwrap();
    assert!(removed.status.success());
    create(&app, &student.token, json!({"image": IMAGE, "name": name})).await;
}

#[tokio::test]
async fn auto_places_a_container_on_the_host_with_the_most_unreserved_memory() {
    // Limits far above this machine's memory, so the test's reservations outweigh whatever
    // other tests run on the local engine meanwhile.
    let app = spawn_app_with(|s| {
        s.limits.max_memory_mb = 4_000_000;
        s.quotas.memory_mb_per_user = 10_000_000;
    })
    .await;
    let admin = app.new_user_with_role(Role::Admin).await;
    add_host(
        &app,
        &admin.token,
        json!({"name": "lab-2", "url": ENGINE2_SOCKET}),
    )
    .await;
    let user = app.new_user().await;
    let sleeper = |host: &str, memory_mb: u64| json!({"image": IMAGE, "cmd": ["sleep", "600"], "host": host, "memory_mb": memory_mb});

    // A large reservation on local sends the next container to lab-2 ...
    app.running_container_with(&user, sleeper("local", 1_000_000))
        .await;
    let placed = create(&app, &user.token, sleeper("auto", 64)).await;
    assert_eq!(placed["host"], "lab-2");

    // ... and a larger one on lab-2 sends it back to local. Stopped containers reserve nothing.
    let big_remote = create(&app, &user.token, sleeper("lab-2", 3_000_000)).await;
    let big_remote = big_remote["id"].as_str().unwrap().to_string();
    let placed = create(&app, &user.token, sleeper("auto", 64)).await;
    assert_eq!(
        placed["host"], "lab-2",
        "a created, stopped container reserves nothing"
    );
    let started = app
        .post(
            &format!("/api/v1/containers/{big_remote}/start"),
            Some(&user.token),
            json!({}),
        )
        .await;
    assert_eq!(started.status(), 200);
    let placed = create(&app, &user.token, sleeper("auto", 64)).await;
    assert_eq!(placed["host"], "local");
}

#[tokio::test]
async fn a_tls_host_needs_its_certificates_keeps_them_sealed_and_serves_terminals() {
    let app = spawn_app().await;
    let dir = app.data_dir.path().to_path_buf();
    let admin = app.new_user_with_role(Role::Admin).await;
    let a = Some(admin.token.as_str());
    let pem = |file: &str| std::fs::read_to_string(format!("{ENGINE2_TLS_DIR}/{file}")).unwrap();
    let key = pem("key.pem");
    let tls = json!({"ca": pem("ca.pem"), "cert": pem("cert.pem"), "key": key});

    // Without TLS, trusting another CA, or with material that is not PEM: refused, with why.
    for (host, says) in [
        (
            json!({"name": "secure", "url": ENGINE2_TLS}),
            "does not answer",
        ),
        (
            json!({"name": "secure", "url": ENGINE2_TLS,
                   "tls": {"ca": pem("cert.pem"), "cert": pem("cert.pem"), "key": key}}),
            "does not answer",
        ),
        (
            json!({"name": "secure", "url": ENGINE2_TLS,
                   "tls": {"ca": "not a certificate", "cert": pem("cert.pem"), "key": key}}),
            "tls: ca",
        ),
        (
            json!({"name": "secure", "url": ENGINE2_SOCKET, "tls": tls}),
            "tls: TLS is for tcp hosts",
        ),
    ] {
        let refused = app.post("/api/v1/hosts", a, host).await;
        assert_eq!(refused.status(), 400);
        let body: Value = refused.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }

    let added = app
        .post(
            "/api/v1/hosts",
            a,
            json!({"name": "secure", "url": ENGINE2_TLS, "tls": tls}),
        )
        .await;
    assert_eq!(added.status(), 201);
    let added = added.text().await.unwrap();
    let host: Value = serde_json::from_str(&added).unwrap();
    assert_eq!(host["tls"], true);
    assert_eq!(host["healthy"], true);
    let listed = app.get("/api/v1/hosts", a).await.text().await.unwrap();
    // A line from the middle of the key: no response and no stored file holds it in clear.
    let key_line = key.lines().nth(3).unwrap();
    for text in [&added, &listed] {
        assert!(
            !text.contains("PRIVATE KEY") && !text.contains(key_line),
            "{text}"
        );
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(key_line), "{} holds the key", path.display());
        }
    }

    // A terminal on a container there: requests and the raw TTY stream both go over TLS.
    let user = app.new_user().await;
    let created = create(
        &app,
        &user.token,
        json!({"image": IMAGE, "cmd": ["sleep", "600"], "host": "secure"}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let started = app
        .post(
            &format!("/api/v1/containers/{id}/start"),
            Some(&user.token),
            json!({}),
        )
        .await;
    assert_eq!(started.status(), 200);
    let mut ws = app.ws(&user.token).await;
    ws.exec(1, id, &["sh", "-c", "printf 'over-%s' tls"], true)
        .await;
    ws.read_until(1, "over-tls").await;

    // After a restart the host is opened again from its sealed material.
    let database = app.database.url().to_string();
    let again = spawn_app_with(|s| {
        s.data_dir = dir;
        s.database_url = Some(database.clone());
    })
    .await;
    let admin_token = again
        .login(&admin.username, &admin.password)
        .await
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let listed: Value = again
        .get("/api/v1/hosts", Some(&admin_token))
        .await
        .json()
        .await
        .unwrap();
    let secure = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "secure")
        .unwrap();
    assert_eq!(secure["healthy"], true, "{secure}");

    // With another secret key the material cannot be opened: the host is listed as such, and
    // can be removed.
    let other_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let rekeyed = spawn_app_with(|s| {
        s.data_dir = app.data_dir.path().to_path_buf();
        s.database_url = Some(database);
        s.secret_key = Some(other_key.into());
    })
    .await;
    let listed: Value = rekeyed
        .get("/api/v1/hosts", Some(&admin_token))
        .await
        .json()
        .await
        .unwrap();
    let secure = find_host(&listed, "secure");
    assert_eq!(secure["healthy"], false);
    assert!(secure["error"]
        .as_str()
        .unwrap()
        .contains("cannot be opened"));
    let path = format!("/api/v1/hosts/{}", secure["id"].as_str().unwrap());
    assert_eq!(
        rekeyed.delete(&path, Some(&admin_token)).await.status(),
        204
    );
}

/// The label of container `id` on the second engine.
fn label_on_engine2(id: &str, key: &str) -> String {
    let format = format!("{{{{index .Config.Labels \"{key}\"}}}}");
    let out = on_engine2(&["inspect", "--format", &format, id]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test]
async fn the_leader_reconciles_berths_rows_with_the_containers_its_hosts_hold() {
    let app = spawn_app_with(|s| {
        s.reconcile.every_s = 1;
        s.reconcile.orphan_grace_s = 5;
    })
    .await;
    let admin = app.new_user_with_role(Role::Admin).await;
    add_host(
        &app,
        &admin.token,
        json!({"name": "lab-2", "url": ENGINE2_SOCKET}),
    )
    .await;
    let student = app.new_user().await;
    let s = Some(student.token.as_str());
    let spec = json!({"image": IMAGE, "cmd": ["sleep", "600"], "host": "lab-2"});
    let kept = create(&app, &student.token, spec.clone()).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let lost = create(&app, &student.token, spec.clone()).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let removed = create(&app, &student.token, spec.clone()).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let leaver = app.new_user().await;
    let left = create(&app, &leaver.token, spec.clone()).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let installation = label_on_engine2(&kept, "berth.installation");
    assert_eq!(
        installation.len(),
        32,
        "every container berth makes carries its installation"
    );

    // What a process killed between two steps, `docker rm` behind berth's back and a database
    // restored from before a change leave: a container without its row (berth stopped
    // before recording it), a row without its container, a container whose owner is gone.
    let db = berth::db::connect(app.database.url()).await.unwrap();
    berth::db::containers::delete(&db, &lost).await.unwrap();
    assert!(on_engine2(&["rm", "-f", &removed]).status.success());
    berth::db::users::delete(&db, &leaver.id).await.unwrap();
    // Another berth's container on the same engine, with this one's labels but its own name.
    let foreign = on_engine2(&[
        "run",
        "-d",
        "--label",
        "berth.managed=1",
        "--label",
        &format!("berth.owner={}", leaver.id),
        "--label",
        "berth.installation=another-berth",
        IMAGE,
        "sleep",
        "600",
    ]);
    assert!(
        foreign.status.success(),
        "{}",
        String::from_utf8_lossy(&foreign.stderr)
    );
    let foreign = String::from_utf8_lossy(&foreign.stdout).trim().to_string();
    app.track_on(Some(ENGINE2_SOCKET), &foreign);
    // Unrecorded, the container on lab-2 cannot be found by its owner (it is looked for on
    // `local`), though it runs: the thing reconciling puts right is real.
    let lost_path = format!("/api/v1/containers/{lost}");
    assert_eq!(app.get(&lost_path, s).await.status(), 404);
    assert_eq!(label_on_engine2(&lost, "berth.owner"), student.id);

    let start = Instant::now();
    loop {
        let recorded = berth::db::containers::on_host(&db, "lab-2", None)
            .await
            .unwrap();
        let ids: Vec<String> = recorded.into_iter().map(|r| r.id).collect();
        let left_gone = !on_engine2(&["inspect", &left]).status.success();
        if ids.contains(&lost) && !ids.contains(&removed) && left_gone {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "within 20 s, the lost row is back ({}), the removed one forgotten ({}), the \
             leaver's container removed ({left_gone})",
            ids.contains(&lost),
            !ids.contains(&removed)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let found = app.get(&lost_path, s).await;
    assert_eq!(found.status(), 200, "found again by its owner on lab-2");
    let found: Value = found.json().await.unwrap();
    assert_eq!(found["host"], "lab-2");
    assert_eq!(found["id"], lost.as_str());
    let kept_found = app.get(&format!("/api/v1/containers/{kept}"), s).await;
    assert_eq!(
        kept_found.status(),
        200,
        "a recorded container is left as it is"
    );
    let kept_found: Value = kept_found.json().await.unwrap();
    assert_eq!(found["state"], kept_found["state"]);
    assert_eq!(
        label_on_engine2(&foreign, "berth.installation"),
        "another-berth",
        "another berth's container is left alone"
    );
}

#[tokio::test]
async fn local_is_reconciled_only_while_every_replica_reaches_the_same_engine_and_a_workspaces_container_is_kept(
) {
    let app = spawn_app_with(|s| {
        s.reconcile.every_s = 1;
        s.reconcile.orphan_grace_s = 2;
    })
    .await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    let db = berth::db::connect(app.database.url()).await.unwrap();
    let exists = |id: &str| {
        docker_cli(None)
            .args(["inspect", id])
            .output()
            .unwrap()
            .status
            .success()
    };
    // A workspace whose row names another container (a database restored from before its
    // container was made again): its container is the workspace's, and stays.
    let made = crate::workspaces::template(&app, &teacher, json!({})).await;
    let workspace = crate::workspaces::workspace(&app, &student, &made).await;
    let container = format!("berth-ws-{workspace}");
    assert!(exists(&container));
    berth::db::workspaces::set_container(&db, &workspace, "restored-from-before")
        .await
        .unwrap();

    let first = orphan_on_local(&app, &db).await;
    let removed = eventually(Duration::from_secs(15), || !exists(&first)).await;
    assert!(removed.is_some(), "an orphan on local is removed");
    assert!(exists(&container), "the workspace's container is kept");

    // Another replica alive whose `local` is another engine: `local` is left alone.
    let stranger = berth::db::replicas::Beat {
        id: "a-replica-elsewhere",
        address: "http://127.0.0.1:9",
        started_ms: now_ms(),
        now_ms: now_ms(),
        local_engine: Some("another-engine"),
    };
    berth::db::replicas::beat(&db, &stranger).await.unwrap();
    let second = orphan_on_local(&app, &db).await;
    let until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < until {
        let beat = berth::db::replicas::Beat {
            now_ms: now_ms(),
            ..stranger
        };
        berth::db::replicas::beat(&db, &beat).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        exists(&second),
        "past its grace, the orphan stays while a replica's `local` is another engine"
    );
    berth::db::replicas::leave(&db, "a-replica-elsewhere")
        .await
        .unwrap();
    let removed = eventually(Duration::from_secs(15), || !exists(&second)).await;
    assert!(
        removed.is_some(),
        "and is removed once that replica is gone"
    );
    assert!(
        exists(&container),
        "the workspace's container is still kept"
    );
    db.close().await;
}

/// A container on `local` whose owner is gone.
async fn orphan_on_local(app: &TestApp, db: &berth::db::Db) -> String {
    let leaver = app.new_user().await;
    let spec = json!({"image": IMAGE, "cmd": ["sleep", "600"]});
    let made = create(app, &leaver.token, spec).await;
    berth::db::users::delete(db, &leaver.id).await.unwrap();
    made["id"].as_str().unwrap().to_string()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
