use berth::users::Role;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestApp, TestUser, IMAGE};

fn unique(prefix: &str) -> String {
    format!(
        "berth-test/{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// A tar of a tiny root filesystem, made with the system's tar.
pub fn rootfs_tar(marker: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("marker"), marker).unwrap();
    let out = std::process::Command::new("tar")
        .args(["-C"])
        .arg(dir.path())
        .args(["-c", "."])
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

pub async fn import(app: &TestApp, teacher: &TestUser, repo: &str, marker: &str) -> String {
    let path = format!("/api/v1/images/import?repo={repo}&tag=1");
    let response = app
        .post_bytes(&path, &teacher.token, rootfs_tar(marker))
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["tag"], format!("{repo}:1"));
    let id = body["id"].as_str().unwrap().to_string();
    app.track_image(&id);
    id
}

fn docker_rmi(reference: &str) {
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", reference])
        .output();
}

#[tokio::test]
async fn fuzzy_search_finds_busybox_from_a_typo() {
    let app = spawn_app().await;
    let student = app.new_user().await;
    for q in ["busybx", "bsuybox", "busybox"] {
        let images: Value = app
            .get(&format!("/api/v1/images?q={q}"), Some(&student.token))
            .await
            .json()
            .await
            .unwrap();
        let first = &images[0];
        assert!(
            first["tags"].as_array().unwrap().contains(&json!(IMAGE)),
            "{q}: {images}"
        );
        assert!(first["size"].as_i64().unwrap() > 1_000_000, "size in bytes");
    }
    let none: Value = app
        .get("/api/v1/images?q=zzqqxxjj", Some(&student.token))
        .await
        .json()
        .await
        .unwrap();
    assert!(none.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_tag_is_never_moved_off_another_image_without_force() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let repo = unique("imported");
    let imported = import(&app, &teacher, &repo, "first").await;

    // The import is a real image: the file is in it.
    let out = std::process::Command::new("docker")
        .args(["run", "--rm", "-v"])
        .arg("/bin/busybox:/cat:ro") // the static busybox the set-up installed, as `cat`
        .args([&format!("{repo}:1"), "/cat", "/marker"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "first");

    let target = format!("/api/v1/images/{IMAGE}/tag");
    let refused = app
        .post(
            &target,
            Some(&teacher.token),
            json!({"repo": repo, "tag": "1"}),
        )
        .await;
    assert_eq!(refused.status(), 409);
    let body: Value = refused.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("force"));
    let still: Value = app
        .get(&format!("/api/v1/images/{repo}:1"), Some(&teacher.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["id"], imported, "the old image kept its tag");

    let forced = app
        .post(
            &target,
            Some(&teacher.token),
            json!({"repo": repo, "tag": "1", "force": true}),
        )
        .await;
    assert_eq!(forced.status(), 200);
    let moved: Value = app
        .get(&format!("/api/v1/images/{repo}:1"), Some(&teacher.token))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(moved["id"], imported);

    // Importing onto an existing tag is refused too.
    let again = app
        .post_bytes(
            &format!("/api/v1/images/import?repo={repo}&tag=1"),
            &teacher.token,
            rootfs_tar("x"),
        )
        .await;
    assert_eq!(again.status(), 409);
    docker_rmi(&format!("{repo}:1"));
    docker_rmi(&imported);
}

#[tokio::test]
async fn an_exported_image_loads_again() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let repo = unique("roundtrip");
    let tagged = app
        .post(
            &format!("/api/v1/images/{IMAGE}/tag"),
            Some(&teacher.token),
            json!({"repo": repo, "tag": "1"}),
        )
        .await;
    assert_eq!(tagged.status(), 200);

    let export = app
        .get(
            &format!("/api/v1/images/{repo}:1/export"),
            Some(&teacher.token),
        )
        .await;
    assert_eq!(export.status(), 200);
    assert_eq!(export.headers()["content-type"], "application/x-tar");
    let tar = export.bytes().await.unwrap().to_vec();
    assert!(tar.len() > 1_000_000);

    let removed = app
        .delete(&format!("/api/v1/images/{repo}:1"), Some(&teacher.token))
        .await;
    assert_eq!(removed.status(), 200);
    assert_eq!(
        app.get(&format!("/api/v1/images/{repo}:1"), Some(&teacher.token))
            .await
            .status(),
        404
    );

    let loaded = app
        .post_bytes("/api/v1/images/load", &teacher.token, tar)
        .await;
    assert_eq!(loaded.status(), 200);
    let body: Value = loaded.json().await.unwrap();
    assert!(
        body["loaded"]
            .as_array()
            .unwrap()
            .contains(&json!(format!("{repo}:1"))),
        "{body}"
    );
    assert_eq!(
        app.get(&format!("/api/v1/images/{repo}:1"), Some(&teacher.token))
            .await
            .status(),
        200
    );
    docker_rmi(&format!("{repo}:1"));

    let garbage = app
        .post_bytes(
            "/api/v1/images/load",
            &teacher.token,
            b"not a tar at all".to_vec(),
        )
        .await;
    assert_eq!(garbage.status(), 400);
}

#[tokio::test]
async fn uploads_over_the_limit_are_refused_and_load_nothing() {
    let app = spawn_app_with(|s| s.limits.max_upload_mb = 1).await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let repo = unique("toolarge");
    let mut big = rootfs_tar("x");
    big.resize(3 << 20, 0);
    let response = app
        .post_bytes(
            &format!("/api/v1/images/import?repo={repo}&tag=1"),
            &teacher.token,
            big.clone(),
        )
        .await;
    assert_eq!(response.status(), 413);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "too_large"
    );
    assert_eq!(
        app.get(&format!("/api/v1/images/{repo}:1"), Some(&teacher.token))
            .await
            .status(),
        404
    );
    let response = app
        .post_bytes("/api/v1/images/load", &teacher.token, big)
        .await;
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn students_may_look_but_not_change_and_used_images_are_kept() {
    let app = spawn_app().await;
    let student = app.new_user().await;
    let s = Some(student.token.as_str());
    assert_eq!(app.get("/api/v1/images", s).await.status(), 200);
    assert_eq!(
        app.get(&format!("/api/v1/images/{IMAGE}"), s)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/images/{IMAGE}/tag"),
            s,
            json!({"repo": "x"})
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        app.delete(&format!("/api/v1/images/{IMAGE}"), s)
            .await
            .status(),
        403
    );
    assert_eq!(
        app.post("/api/v1/images/prune", s, json!({}))
            .await
            .status(),
        403
    );
    assert_eq!(
        app.post_bytes("/api/v1/images/load", &student.token, vec![0; 10])
            .await
            .status(),
        403
    );
    assert_eq!(app.get("/api/v1/images/bad%20ref!", s).await.status(), 400);
    assert_eq!(
        app.get("/api/v1/images/berth-test/nope:1", s)
            .await
            .status(),
        404
    );

    // An image a container uses cannot be removed.
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let repo = unique("inuse");
    let imported = import(&app, &teacher, &repo, "in use").await;
    let created = app
        .post(
            "/api/v1/containers",
            Some(&teacher.token),
            json!({"image": format!("{repo}:1"), "cmd": ["/marker"]}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let container: Value = created.json().await.unwrap();
    app.track(container["id"].as_str().unwrap());
    let refused = app
        .delete(&format!("/api/v1/images/{imported}"), Some(&teacher.token))
        .await;
    assert_eq!(refused.status(), 409);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"]["code"],
        "image_in_use"
    );

    let pruned = app
        .post("/api/v1/images/prune", Some(&teacher.token), json!({}))
        .await;
    assert_eq!(pruned.status(), 200);
    assert!(pruned.json::<Value>().await.unwrap()["space_reclaimed"].is_i64());
    app.delete(
        &format!("/api/v1/containers/{}", container["id"].as_str().unwrap()),
        Some(&teacher.token),
    )
    .await;
    docker_rmi(&imported);
}
