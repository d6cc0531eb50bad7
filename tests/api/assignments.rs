//! Assignments: a course's teacher hands out work with starter files and a check; its students
//! see it (without the check) and open the folder they do it in, in one workspace per template.

use berth::users::Role;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp, TestUser};
use crate::workspaces::{get_file, put_file, template};

/// A course of `teacher` with `students` enrolled; its id.
pub async fn course(app: &TestApp, teacher: &TestUser, students: &[&TestUser]) -> String {
    let made = app
        .post(
            "/api/v1/courses",
            Some(&teacher.token),
            json!({"name": "Intro to Shell"}),
        )
        .await;
    assert_eq!(made.status(), 201);
    let made: Value = made.json().await.unwrap();
    for student in students {
        let joined = app
            .post(
                "/api/v1/courses/join",
                Some(&student.token),
                json!({"join_code": made["join_code"]}),
            )
            .await;
        assert_eq!(joined.status(), 200);
    }
    made["id"].as_str().unwrap().to_string()
}

pub fn assignment(template: &Value, title: &str) -> Value {
    json!({
        "title": title,
        "template": template["id"],
        "instructions": "Print **hello**.",
        "due_at": "2030-01-31T18:00:00Z",
        "files": {"main.sh": "echo starter\n", "lib/util.sh": "# helpers\n"},
        "check": {"command": ["sh", "test.sh"], "files": {"test.sh": "sh main.sh | grep hello\n"},
                  "show_students": true},
    })
}

pub async fn status_and_body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_teacher_hands_out_an_assignment_that_only_the_course_sees() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let other_teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    let outsider = app.new_user().await;
    let shell = template(&app, &teacher, json!({})).await;
    let id = course(&app, &teacher, &[&student]).await;
    let path = format!("/api/v1/courses/{id}/assignments");

    // Another teacher, a student, a climbing path, an unknown template, a check without a
    // command, a bad due time: refused, and nothing is made.
    let refusals = [
        (&other_teacher, assignment(&shell, "Hello"), 403),
        (&student, assignment(&shell, "Hello"), 403),
        (
            &teacher,
            json!({"title": "x", "template": shell["id"], "files": {"../x": ""}}),
            400,
        ),
        (
            &teacher,
            json!({"title": "x", "template": "no-such-template"}),
            404,
        ),
        (
            &teacher,
            json!({"title": "x", "template": shell["id"], "check": {"command": []}}),
            400,
        ),
        (
            &teacher,
            json!({"title": "x", "template": shell["id"], "due_at": "friday"}),
            400,
        ),
        (&teacher, json!({"title": "", "template": shell["id"]}), 400),
        (
            &teacher,
            json!({"title": "x", "template": shell["id"], "privileged": true}),
            400,
        ),
    ];
    for (user, body, code) in refusals {
        let (status, answer) =
            status_and_body(app.post(&path, Some(&user.token), body.clone()).await).await;
        assert_eq!(status, code, "{body}: {answer}");
    }
    let listed: Value = app
        .get(&path, Some(&teacher.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]), "a refusal made something");

    let (status, made) = status_and_body(
        app.post(&path, Some(&teacher.token), assignment(&shell, "Hello"))
            .await,
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["course_id"], id.as_str());
    assert_eq!(made["template"], shell["id"]);
    assert_eq!(made["due_at"], "2030-01-31T18:00:00.000Z");
    assert_eq!(made["accept_late"], true);
    assert_eq!(
        made["check"]["files"]["test.sh"],
        "sh main.sh | grep hello\n"
    );
    let folder = made["folder"].as_str().unwrap();
    assert!(folder.starts_with("intro-to-shell/hello-"), "{folder}");
    let one = format!("/api/v1/assignments/{}", made["id"].as_str().unwrap());

    // Its students see it, without the check and its hidden files; nobody else does.
    for listing in [
        app.get(&path, Some(&student.token)).await,
        app.get(&one, Some(&student.token)).await,
    ] {
        let (status, seen) = status_and_body(listing).await;
        assert_eq!(status, 200);
        let text = seen.to_string();
        assert!(
            text.contains("Print **hello**") && !text.contains("grep hello"),
            "{text}"
        );
    }
    for user in [&outsider, &other_teacher] {
        assert_eq!(app.get(&path, Some(&user.token)).await.status(), 403);
        assert_eq!(app.get(&one, Some(&user.token)).await.status(), 403);
    }

    // Its teacher changes it (a null due time removes it); a student may not.
    let change = json!({"title": "Hello, world", "due_at": null, "accept_late": false});
    assert_eq!(
        app.patch(&one, Some(&student.token), change.clone())
            .await
            .status(),
        403
    );
    let (status, changed) =
        status_and_body(app.patch(&one, Some(&teacher.token), change).await).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["title"], "Hello, world");
    assert_eq!(changed["due_at"], Value::Null);
    assert_eq!(changed["accept_late"], false);
    assert_eq!(
        changed["folder"], folder,
        "the folder stays where students' work is"
    );
    let (status, _) = status_and_body(
        app.patch(&one, Some(&teacher.token), json!({"template": "x"}))
            .await,
    )
    .await;
    assert_eq!(status, 400, "the template cannot change");

    assert_eq!(app.delete(&one, Some(&student.token)).await.status(), 403);
    assert_eq!(app.delete(&one, Some(&teacher.token)).await.status(), 204);
    assert_eq!(app.get(&one, Some(&teacher.token)).await.status(), 404);
}

#[tokio::test]
async fn a_student_does_a_templates_assignments_in_one_workspace_a_folder_each() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let student = app.new_user().await;
    let outsider = app.new_user().await;
    let shell = template(&app, &teacher, json!({})).await;
    let other = template(&app, &teacher, json!({})).await;
    let id = course(&app, &teacher, &[&student]).await;
    let path = format!("/api/v1/courses/{id}/assignments");
    let mut opened = Vec::new();
    for (template, title) in [(&shell, "First"), (&shell, "Second"), (&other, "Third")] {
        let made: Value = app
            .post(&path, Some(&teacher.token), assignment(template, title))
            .await
            .json()
            .await
            .unwrap();
        let url = format!(
            "/api/v1/assignments/{}/workspace",
            made["id"].as_str().unwrap()
        );
        assert_eq!(
            app.post(&url, Some(&outsider.token), json!({}))
                .await
                .status(),
            403
        );
        assert_eq!(
            app.post(&url, Some(&teacher.token), json!({}))
                .await
                .status(),
            403
        );
        let (status, found) =
            status_and_body(app.post(&url, Some(&student.token), json!({})).await).await;
        assert_eq!(status, 200, "{found}");
        let workspace = found["workspace"].as_str().unwrap().to_string();
        app.track(&format!("berth-ws-{workspace}"));
        app.track_volume(&format!("berth-ws-{workspace}"));
        assert_eq!(found["path"], made["folder"]);
        opened.push((url, workspace, found["path"].as_str().unwrap().to_string()));
    }
    // The first two share a workspace (one template), each in its folder; the third has its own.
    assert_eq!(opened[0].1, opened[1].1);
    assert_ne!(opened[0].2, opened[1].2);
    assert_ne!(opened[0].1, opened[2].1);
    let workspaces: Value = app
        .get("/api/v1/workspaces", Some(&student.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(workspaces.as_array().unwrap().len(), 2, "{workspaces}");

    // The starter files are there; the hidden check files are not.
    let (url, workspace, folder) = &opened[0];
    let main = format!("{folder}/main.sh");
    assert_eq!(
        get_file(&app, &student, workspace, &main).await,
        (200, b"echo starter\n".to_vec())
    );
    let util = format!("{folder}/lib/util.sh");
    assert_eq!(get_file(&app, &student, workspace, &util).await.0, 200);
    assert_eq!(
        get_file(&app, &student, workspace, &format!("{folder}/test.sh"))
            .await
            .0,
        404
    );

    // What the student writes stays: opening it again copies nothing over it.
    assert_eq!(
        put_file(&app, &student, workspace, &main, b"echo hello\n".to_vec()).await,
        204
    );
    let (status, again) =
        status_and_body(app.post(url, Some(&student.token), json!({})).await).await;
    assert_eq!(status, 200);
    assert_eq!(again["workspace"], workspace.as_str());
    assert_eq!(
        get_file(&app, &student, workspace, &main).await,
        (200, b"echo hello\n".to_vec())
    );

    // Deleted behind berth's back, the workspace is made again on the next open.
    let deleted = app
        .delete(
            &format!("/api/v1/workspaces/{workspace}"),
            Some(&student.token),
        )
        .await;
    assert_eq!(deleted.status(), 204);
    let (status, anew) =
        status_and_body(app.post(url, Some(&student.token), json!({})).await).await;
    assert_eq!(status, 200, "{anew}");
    let anew_id = anew["workspace"].as_str().unwrap();
    app.track(&format!("berth-ws-{anew_id}"));
    app.track_volume(&format!("berth-ws-{anew_id}"));
    assert_ne!(anew_id, workspace.as_str());
    assert_eq!(
        get_file(&app, &student, anew_id, &main).await,
        (200, b"echo starter\n".to_vec())
    );
}

/// The regular files of a tar, by path, with their text.
pub fn tar_files(bytes: &[u8]) -> Vec<(String, String)> {
    let mut archive = tar::Archive::new(bytes);
    let mut files = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_file() {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
            let path = entry.path().unwrap().display().to_string();
            files.push((path.trim_start_matches("./").to_string(), text));
        }
    }
    files.sort();
    files
}

#[tokio::test]
async fn handed_in_work_is_a_snapshot_its_teacher_reads_and_downloads() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let (ada, bob, cyd) = (
        app.new_user().await,
        app.new_user().await,
        app.new_user().await,
    );
    let shell = template(&app, &teacher, json!({})).await;
    let id = course(&app, &teacher, &[&ada, &bob, &cyd]).await;
    let path = format!("/api/v1/courses/{id}/assignments");
    // Checks have tests of their own (checks.rs).
    let mut hello = assignment(&shell, "Hello");
    hello.as_object_mut().unwrap().remove("check");
    let made: Value = app
        .post(&path, Some(&teacher.token), hello)
        .await
        .json()
        .await
        .unwrap();
    let one = format!("/api/v1/assignments/{}", made["id"].as_str().unwrap());
    let folder = made["folder"].as_str().unwrap();

    // Bob hands in before opening it: refused. Ada and Cyd open it.
    let submit = format!("{one}/submit");
    assert_eq!(
        app.post(&submit, Some(&bob.token), json!({}))
            .await
            .status(),
        409
    );
    let mut workspace = String::new();
    for student in [&ada, &cyd] {
        let (status, found) = status_and_body(
            app.post(&format!("{one}/workspace"), Some(&student.token), json!({}))
                .await,
        )
        .await;
        assert_eq!(status, 200, "{found}");
        let id = found["workspace"].as_str().unwrap().to_string();
        app.track(&format!("berth-ws-{id}"));
        app.track_volume(&format!("berth-ws-{id}"));
        if student.token == ada.token {
            workspace = id;
        }
    }
    let main = format!("{folder}/main.sh");
    assert_eq!(
        put_file(&app, &ada, &workspace, &main, b"echo hello\n".to_vec()).await,
        204
    );
    let (status, handed) =
        status_and_body(app.post(&submit, Some(&ada.token), json!({})).await).await;
    assert_eq!(status, 201, "{handed}");
    assert_eq!(handed["late"], false);
    assert_eq!(handed["files"], 2);
    assert_eq!(
        handed["bytes"],
        ("echo hello\n".len() + "# helpers\n".len()) as u64
    );
    // Editing afterwards does not change what was handed in.
    assert_eq!(
        put_file(&app, &ada, &workspace, &main, b"echo changed\n".to_vec()).await,
        204
    );

    // The teacher sees every student's state; a student sees none.
    assert_eq!(
        app.get(&format!("{one}/submissions"), Some(&ada.token))
            .await
            .status(),
        403
    );
    let states: Value = app
        .get(&format!("{one}/submissions"), Some(&teacher.token))
        .await
        .json()
        .await
        .unwrap();
    let state_of = |who: &TestUser| {
        let found = states
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["username"] == who.username.as_str());
        found.unwrap_or_else(|| panic!("{states}"))["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(state_of(&ada), "submitted");
    assert_eq!(state_of(&bob), "missing");
    assert_eq!(state_of(&cyd), "started");

    // Ada's snapshot, byte for byte as it was; all of them in one tar, a folder each.
    let ada_id = states
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["username"] == ada.username.as_str())
        .unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let archive = app
        .get(
            &format!("{one}/submissions/{ada_id}/archive"),
            Some(&teacher.token),
        )
        .await;
    assert_eq!(archive.status(), 200);
    let files = tar_files(&archive.bytes().await.unwrap());
    assert_eq!(
        files,
        [
            ("lib/util.sh".to_string(), "# helpers\n".to_string()),
            ("main.sh".to_string(), "echo hello\n".to_string())
        ]
    );
    assert_eq!(
        app.get(
            &format!("{one}/submissions/{ada_id}/archive"),
            Some(&cyd.token)
        )
        .await
        .status(),
        403
    );
    let all = app
        .get(&format!("{one}/submissions/archive"), Some(&teacher.token))
        .await;
    assert_eq!(all.status(), 200);
    let files = tar_files(&all.bytes().await.unwrap());
    assert!(
        files.contains(&(
            format!("{}/main.sh", ada.username),
            "echo hello\n".to_string()
        )),
        "{files:?}"
    );
    assert_eq!(files.len(), 2, "only Ada handed in: {files:?}");

    // Past its due time: late, or refused when the assignment takes no late work.
    for (accept_late, expected) in [(false, 409), (true, 201)] {
        let mut overdue = assignment(&shell, "Overdue");
        overdue.as_object_mut().unwrap().remove("check");
        overdue["due_at"] = json!("2020-01-01T00:00:00Z");
        overdue["accept_late"] = json!(accept_late);
        let late: Value = app
            .post(&path, Some(&teacher.token), overdue)
            .await
            .json()
            .await
            .unwrap();
        let late_one = format!("/api/v1/assignments/{}", late["id"].as_str().unwrap());
        assert_eq!(
            app.post(
                &format!("{late_one}/workspace"),
                Some(&ada.token),
                json!({})
            )
            .await
            .status(),
            200
        );
        let (status, handed) = status_and_body(
            app.post(&format!("{late_one}/submit"), Some(&ada.token), json!({}))
                .await,
        )
        .await;
        assert_eq!(status, expected, "{handed}");
        if expected == 201 {
            assert_eq!(handed["late"], true);
        }
    }

    // Deleted with its assignment: the snapshots go too.
    let snapshots = app
        .data_dir
        .path()
        .join("submissions")
        .join(made["id"].as_str().unwrap());
    assert!(
        snapshots.exists(),
        "no snapshot was kept at {}",
        snapshots.display()
    );
    assert_eq!(app.delete(&one, Some(&teacher.token)).await.status(), 204);
    assert!(
        !snapshots.exists(),
        "the snapshots outlived their assignment"
    );
}

#[tokio::test]
async fn snapshots_go_with_the_account_of_their_student_or_their_teacher() {
    let app = spawn_app().await;
    let teacher = app.new_user_with_role(Role::Teacher).await;
    let (ada, bob) = (app.new_user().await, app.new_user().await);
    let shell = template(&app, &teacher, json!({})).await;
    let id = course(&app, &teacher, &[&ada, &bob]).await;
    let mut plain = assignment(&shell, "Plain");
    plain.as_object_mut().unwrap().remove("check");
    let made: Value = app
        .post(
            &format!("/api/v1/courses/{id}/assignments"),
            Some(&teacher.token),
            plain,
        )
        .await
        .json()
        .await
        .unwrap();
    let one = format!("/api/v1/assignments/{}", made["id"].as_str().unwrap());
    for student in [&ada, &bob] {
        let (status, found) = status_and_body(
            app.post(&format!("{one}/workspace"), Some(&student.token), json!({}))
                .await,
        )
        .await;
        assert_eq!(status, 200, "{found}");
        let workspace = found["workspace"].as_str().unwrap();
        app.track(&format!("berth-ws-{workspace}"));
        app.track_volume(&format!("berth-ws-{workspace}"));
        let handed = app
            .post(&format!("{one}/submit"), Some(&student.token), json!({}))
            .await;
        assert_eq!(handed.status(), 201);
    }
    let dir = app
        .data_dir
        .path()
        .join("submissions")
        .join(made["id"].as_str().unwrap());
    let files = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    assert_eq!(files().len(), 2, "{:?}", files());

    // Ada's account goes: her snapshot with it, Bob's stays.
    assert_eq!(
        app.delete("/api/v1/me", Some(&ada.token)).await.status(),
        204
    );
    let left = files();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with(&bob.id), "{left:?}");
    // The teacher's account goes: the course, its assignments and every snapshot.
    assert_eq!(
        app.delete("/api/v1/me", Some(&teacher.token))
            .await
            .status(),
        204
    );
    assert!(!dir.exists(), "{:?}", files());
}
