//! The audit log: what people did, as an admin reads it (JSON and CSV), without a secret in it,
//! and kept only as long as `audit.retention_days`.

use berth::users::Role;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp, TestUser, IMAGE};
use crate::registries::{add_registry, REGISTRY_PASSWORD};

async fn audit(app: &TestApp, admin: &TestUser, query: &str) -> Vec<Value> {
    let response = app
        .get(&format!("/api/v1/audit{query}"), Some(&admin.token))
        .await;
    assert_eq!(response.status(), 200);
    response.json::<Vec<Value>>().await.unwrap()
}

fn actions(entries: &[Value]) -> Vec<(String, String)> {
    entries
        .iter()
        .rev() // oldest first, as they happened
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_audit_log_says_who_did_what_and_holds_no_secret() {
    let app = spawn_app_with(|s| s.auth.registration = berth::config::Registration::Open).await;
    let admin = app.new_user_with_role(Role::Admin).await;
    let student = app.new_user().await;

    // A wrong password, then the right one.
    let refused = app.login(&student.username, "not-the-password").await;
    assert_eq!(refused.status(), 401);
    assert_eq!(
        app.login(&student.username, &student.password)
            .await
            .status(),
        200
    );
    // A container, a command in it, and its removal.
    let id = app.running_container(&student, &["sleep", "600"]).await;
    let mut ws = app.ws(&student.token).await;
    ws.exec(1, &id, &["echo", "audited-command"], false).await;
    assert_eq!(ws.collect(1).await.code, Some(0));
    ws.close().await;
    let removed = app
        .delete(&format!("/api/v1/containers/{id}"), Some(&student.token))
        .await;
    assert_eq!(removed.status(), 204);
    // A registry, with a password that must stay out of the log.
    assert_eq!(
        add_registry(&app, &admin, "audited", REGISTRY_PASSWORD, false)
            .await
            .status(),
        201
    );

    let theirs = audit(&app, &admin, &format!("?user={}", student.username)).await;
    assert_eq!(
        actions(&theirs),
        [
            ("account.register", "ok"),
            ("auth.login", "ok"),
            ("auth.login", "refused"),
            ("auth.login", "ok"),
            ("container.create", "ok"),
            ("exec.start", "ok"),
            ("container.remove", "ok"),
        ]
        .map(|(a, o)| (a.to_string(), o.to_string())),
        "{theirs:#?}"
    );
    let by_action = |action: &str| theirs.iter().find(|e| e["action"] == action).unwrap();
    assert_eq!(by_action("account.register")["target"], json!(student.id));
    assert_eq!(by_action("container.create")["target"], json!(id));
    assert_eq!(by_action("container.create")["detail"]["image"], IMAGE);
    let exec = by_action("exec.start");
    assert_eq!(exec["target"], json!(id));
    assert_eq!(
        exec["detail"]["command"],
        json!(["echo", "audited-command"])
    );
    assert_eq!(exec["user_id"], json!(student.id));
    for entry in [exec, by_action("container.create")] {
        assert_eq!(entry["client"], "127.0.0.1", "{entry}");
    }
    let login = theirs.iter().find(|e| e["outcome"] == "refused").unwrap();
    assert_eq!(login["reason"], "wrong username or password");
    assert_eq!(login["client"], "127.0.0.1");

    let registry = &audit(&app, &admin, "?action=registry").await[0];
    assert_eq!(registry["action"], "registry.add");
    assert_eq!(registry["detail"]["username"], "berth-test");

    // No password anywhere: not the student's, not the registry's, in JSON or CSV.
    let everything = audit(&app, &admin, "").await;
    let csv = app
        .http
        .get(app.url("/api/v1/audit"))
        .bearer_auth(&admin.token)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("at,username,action,target,outcome,reason,client,detail"));
    assert!(csv.contains("audited-command"), "{csv}");
    let json_text = serde_json::to_string(&everything).unwrap();
    for secret in [
        student.password.as_str(),
        REGISTRY_PASSWORD,
        "not-the-password",
    ] {
        assert!(!json_text.contains(secret), "{secret} in the audit log");
        assert!(!csv.contains(secret), "{secret} in the CSV");
    }

    // Filters: an area, an action, a time.
    let containers = audit(&app, &admin, "?action=container").await;
    assert_eq!(containers.len(), 2);
    assert!(audit(&app, &admin, "?action=container.remove").await.len() == 1);
    assert!(
        audit(&app, &admin, "?action=contain").await.is_empty(),
        "areas are whole words"
    );
    assert!(audit(&app, &admin, "?since=2999-01-01T00:00:00Z")
        .await
        .is_empty());
    let bad = app
        .get("/api/v1/audit?since=yesterday", Some(&admin.token))
        .await;
    assert_eq!(bad.status(), 400);

    // Only admins read it.
    let teacher = app.new_user_with_role(Role::Teacher).await;
    for who in [&student, &teacher] {
        let refused = app.get("/api/v1/audit", Some(&who.token)).await;
        assert_eq!(refused.status(), 403);
    }
}

#[tokio::test]
async fn entries_older_than_the_retention_are_removed() {
    let first = spawn_app_with(|_| {}).await;
    let admin = first.new_user_with_role(Role::Admin).await;
    // An entry from 400 days ago, written as berth writes them, beside today's sign-in.
    let db = berth::db::connect(first.database.url()).await.unwrap();
    let old = berth::db::audit::AuditRow {
        id: uuid::Uuid::now_v7().to_string(),
        at_ms: berth::clock::now_ms() - 400 * 86_400_000,
        user_id: Some(admin.id.clone()),
        username: Some(admin.username.clone()),
        action: "course.create".into(),
        target: Some("an-old-course".into()),
        outcome: "ok".into(),
        client: None,
        detail: "{}".into(),
    };
    berth::db::audit::insert(&db, &old).await.unwrap();
    db.close().await;
    let both = audit(&first, &admin, "").await;
    assert!(
        both.iter().any(|e| e["target"] == "an-old-course"),
        "{both:#?}"
    );

    // A berth with a year's retention on the same data (database and signing key) removes it
    // as it starts.
    let shared = first.data_dir.path().to_path_buf();
    let database = first.database.url().to_string();
    let second = spawn_app_with(move |s| {
        s.audit.retention_days = 365;
        s.data_dir = shared;
        s.database_url = Some(database);
    })
    .await;
    let mut left = Vec::new();
    for _ in 0..50 {
        left = audit(&second, &admin, "").await;
        if !left.iter().any(|e| e["target"] == "an-old-course") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        !left.iter().any(|e| e["target"] == "an-old-course"),
        "{left:#?}"
    );
    assert!(
        left.iter().any(|e| e["action"] == "auth.login"),
        "today's stay"
    );
}
