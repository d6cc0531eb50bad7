//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document made from the handlers. It is checked
//! four ways: PyPI's openapi-spec-validator accepts it (and refuses one broken as the document
//! could be); every route the source registers is in it, and no route is registered another
//! way; the running server answers every operation as the document says it does without a
//! token; and real answers of a teacher's and a student's day match the documented schemas.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp, IMAGE};

/// Where `scripts/setup.sh --test-images` puts the validator.
const VALIDATOR: &str = "/var/lib/berth-test-venv/bin/openapi-spec-validator";
const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

async fn document(app: &TestApp) -> Value {
    let response = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(response.status(), 200, "the document needs no token");
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    response.json().await.unwrap()
}

/// Every operation: (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                all.push((method.to_string(), path.clone(), op.clone()));
            }
        }
    }
    all
}

fn validate(file: &Path) -> (bool, String) {
    let out = Command::new(VALIDATOR)
        .arg(file)
        .output()
        .expect("openapi-spec-validator runs (scripts/setup.sh --test-images installs it)");
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), said)
}

#[tokio::test]
async fn the_document_is_openapi_3_1_that_a_validator_accepts() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let ops = operations(&doc);
    assert!(ops.len() > 80, "only {} operations", ops.len());
    let dir = tempfile::tempdir().unwrap();

    // The validator is real: it refuses the document once two operations share an id, which
    // is what the handlers' own names would give (`list`, `get`) had berth not named them.
    let mut broken = doc.clone();
    broken["paths"]["/api/v1/containers"]["get"]["operationId"] = json!("same");
    broken["paths"]["/api/v1/workspaces"]["get"]["operationId"] = json!("same");
    let broken_file = dir.path().join("broken.json");
    std::fs::write(&broken_file, broken.to_string()).unwrap();
    let (ok, said) = validate(&broken_file);
    assert!(!ok, "a duplicate operation id was accepted: {said}");
    assert!(said.contains("not unique"), "{said}");

    let file = dir.path().join("openapi.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let (ok, said) = validate(&file);
    assert!(ok, "openapi-spec-validator refused the document: {said}");

    // What a reader needs on every operation: a tag, a unique id, and its errors.
    let mut ids = BTreeSet::new();
    for (method, path, op) in &ops {
        assert!(op["tags"][0].is_string(), "{method} {path} has no tag");
        assert!(ids.insert(op["operationId"].as_str().unwrap().to_string()));
        assert!(
            op["responses"].get("500").is_some(),
            "{method} {path} lacks its 500"
        );
    }
    // The error answers say which codes come with their status.
    let conflict = &doc["components"]["responses"]["Conflict"]["description"];
    for code in ["`conflict`", "`quota_exceeded`", "`image_in_use`"] {
        assert!(conflict.as_str().unwrap().contains(code), "{conflict}");
    }
}

/// The source's own text: every file under src/.
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.display().to_string(), text));
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new("src"), &mut out);
    out
}

/// The routes the source registers with an actix route attribute: (method, path, file), and
/// whether `#[utoipa::path]` describes each.
fn route_attributes() -> Vec<(String, String, String, bool)> {
    let mut found = Vec::new();
    for (file, text) in sources() {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let line = line.trim();
            let Some(rest) = line.strip_prefix("#[") else {
                continue;
            };
            let Some((method, rest)) = rest.split_once("(\"") else {
                continue;
            };
            if !METHODS.contains(&method) && method != "route" {
                continue;
            }
            let path = rest.split('"').next().unwrap().to_string();
            // Its description is the attribute just above it.
            let described = lines[..i]
                .iter()
                .rev()
                .take_while(|l| !l.trim().is_empty() && !l.trim().starts_with("fn "))
                .any(|l| l.trim().starts_with("#[utoipa::path("));
            found.push((method.to_string(), path, file.clone(), described));
        }
    }
    found
}

#[tokio::test]
async fn every_route_the_source_registers_is_in_the_document() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();

    let routes = route_attributes();
    assert!(routes.len() > 80, "found only {} routes", routes.len());
    for (method, path, file, described) in &routes {
        assert!(
            described,
            "{method} {path} in {file} has no #[utoipa::path]"
        );
        // `{ref:.+}` is actix's; the document names the parameter only.
        let path = path.replace(":.+}", "}");
        let in_document = documented
            .iter()
            .any(|(m, p)| m == method && (p == &path || p.ends_with(&format!("/v1{path}"))));
        assert!(
            in_document,
            "{method} {path} ({file}) is not in the document"
        );
    }
    assert_eq!(
        routes.len(),
        documented.len(),
        "the source registers {} routes and the document lists {} operations",
        routes.len(),
        documented.len()
    );

    // A route made any other way would be served and not documented. Only the open metrics
    // listener is one: a server of its own, on `metrics.listen`.
    let raw = [
        ".route(",
        "web::resource(",
        "web::get()",
        "web::post()",
        "web::put()",
        "web::patch()",
        "web::delete()",
        "web::method(",
    ];
    for (file, text) in sources() {
        for needle in raw {
            let uses = text.matches(needle).count();
            let allowed = match (file.as_str(), needle) {
                ("src/startup.rs", ".route(") | ("src/startup.rs", "web::get()") => 1,
                _ => 0,
            };
            assert_eq!(uses, allowed, "{file} registers a route with `{needle}`");
        }
    }

    // A query the handler reads is a parameter the document lists: utoipa lists it only when
    // `params(...)` names its type.
    for (file, text) in sources() {
        for (at, _) in text.match_indices("#[utoipa::path(") {
            let handler = &text[at..];
            let signature = &handler[handler.find("async fn").unwrap()..];
            let signature = &signature[..signature.find("->").unwrap()];
            let attribute = &handler[..handler.find("async fn").unwrap()];
            for query in signature.split("web::Query<").skip(1) {
                let name = query.split('>').next().unwrap();
                assert!(
                    attribute.contains("params(") && attribute.contains(name),
                    "{file}: a handler reads web::Query<{name}> that its params(...) omits"
                );
            }
        }
    }
}

/// The path with each `{parameter}` filled in.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        out.push_str("nothing-here");
        rest = &rest[rest[open..].find('}').unwrap() + open + 1..];
    }
    out + rest
}

fn needs_token(doc: &Value, op: &Value) -> bool {
    let security = op.get("security").unwrap_or(&doc["security"]);
    security
        .as_array()
        .is_some_and(|all| all.iter().any(|s| !s.as_object().unwrap().is_empty()))
}

#[tokio::test]
async fn the_server_answers_every_operation_as_the_document_says_without_a_token() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut checked = 0;
    for (method, path, op) in operations(&doc) {
        let url = app.url(&concrete(&path));
        let request = app
            .http
            .request(
                Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                &url,
            )
            .header("content-type", "application/json")
            .body("{}");
        let response = request.send().await.unwrap();
        let status = response.status().as_u16().to_string();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = response.bytes().await.unwrap();
        let said = String::from_utf8_lossy(&body);
        assert!(
            !said.contains("no such endpoint"),
            "{method} {path}: the router has no such route"
        );
        if needs_token(&doc, &op) {
            assert_eq!(
                status, "401",
                "{method} {path} answered without a token: {said}"
            );
            let error: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(error["error"]["code"], "unauthorized");
        } else {
            assert_ne!(status, "401", "{method} {path} is documented open: {said}");
        }
        let documented = &op["responses"][&status];
        assert!(
            !documented.is_null(),
            "{method} {path} answered {status}, which the document does not list: {said}"
        );
        let documented = match documented.get("$ref") {
            Some(at) => {
                let name = at.as_str().unwrap().rsplit('/').next().unwrap();
                doc["components"]["responses"][name].clone()
            }
            None => documented.clone(),
        };
        if let Some(types) = documented["content"].as_object() {
            assert!(
                types.keys().any(|t| content_type.starts_with(t.as_str())),
                "{method} {path} answered {status} as {content_type}, documented as {:?}",
                types.keys().collect::<Vec<_>>()
            );
        }
        checked += 1;
    }
    assert_eq!(checked, operations(&doc).len());
}

/// Checks real answers against the document's schemas for them.
struct Schemas {
    doc: Value,
}

impl Schemas {
    /// The JSON of `response`, after checking that it is the `status` that `method path`
    /// documents and that its body matches the schema documented there.
    async fn answer(
        &self,
        response: reqwest::Response,
        method: &str,
        path: &str,
        status: u16,
    ) -> Value {
        assert_eq!(response.status(), status, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        self.check(method, path, status, &body);
        body
    }

    /// `answer`, as `method path` gave it with `status`, matches the schema documented there.
    fn check(&self, method: &str, path: &str, status: u16, answer: &Value) {
        let op = &self.doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not in the document");
        let mut response = op["responses"][status.to_string()].clone();
        if let Some(at) = response.get("$ref") {
            let name = at.as_str().unwrap().rsplit('/').next().unwrap().to_string();
            response = self.doc["components"]["responses"][name].clone();
        }
        let schema = &response["content"]["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "{method} {path} documents no JSON body for {status}"
        );
        // The schema, with the document's components beside it for its `$ref`s.
        let mut root = schema.clone();
        root["components"] = self.doc["components"].clone();
        let validator = jsonschema::validator_for(&root).expect("the schema compiles");
        let errors: Vec<String> = validator
            .iter_errors(answer)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status} does not match its schema: {errors:?}\n{answer:#}"
        );
    }
}

#[tokio::test]
async fn real_answers_match_the_documented_schemas() {
    let app = spawn_app().await;
    let schemas = Schemas {
        doc: document(&app).await,
    };
    let v1 = |p: &str| format!("/api/v1{p}");
    let teacher = app.new_user_with_role(berth::users::Role::Teacher).await;
    let student = app.new_user().await;
    let t = Some(teacher.token.as_str());
    let s = Some(student.token.as_str());

    // The checker is real: a `User` missing its `role` does not pass.
    let me: Value = app.get(&v1("/me"), s).await.json().await.unwrap();
    schemas.check("get", "/api/v1/me", 200, &me);
    let mut without_role = me.clone();
    without_role.as_object_mut().unwrap().remove("role");
    let refused = std::panic::catch_unwind(|| {
        schemas.check("get", "/api/v1/me", 200, &without_role);
    });
    assert!(
        refused.is_err(),
        "a User without its role matched the schema"
    );

    let login = app.login(&student.username, &student.password).await;
    schemas
        .answer(login, "post", "/api/v1/auth/login", 200)
        .await;
    let ticket = app.post(&v1("/ws/ticket"), s, json!({})).await;
    schemas
        .answer(ticket, "post", "/api/v1/ws/ticket", 200)
        .await;
    let providers = app.get(&v1("/auth/providers"), None).await;
    schemas
        .answer(providers, "get", "/api/v1/auth/providers", 200)
        .await;

    // A teacher's course, a template and an assignment; the student joins.
    let course = app
        .post(&v1("/courses"), t, json!({"name": "Rust 101"}))
        .await;
    let course = schemas.answer(course, "post", "/api/v1/courses", 201).await;
    let joined = app
        .post(
            &v1("/courses/join"),
            s,
            json!({"join_code": course["join_code"]}),
        )
        .await;
    schemas
        .answer(joined, "post", "/api/v1/courses/join", 200)
        .await;
    let listed = app.get(&v1("/courses"), s).await;
    schemas.answer(listed, "get", "/api/v1/courses", 200).await;
    let course_id = course["id"].as_str().unwrap();
    let students = app
        .get(&v1(&format!("/courses/{course_id}/students")), t)
        .await;
    schemas
        .answer(students, "get", "/api/v1/courses/{id}/students", 200)
        .await;

    let template = app
        .post(
            &v1("/templates"),
            t,
            json!({"name": "py-openapi", "image": IMAGE, "memory_mb": 64,
                   "files": {"main.py": "print(1)\n"}}),
        )
        .await;
    schemas
        .answer(template, "post", "/api/v1/templates", 201)
        .await;
    let templates = app.get(&v1("/templates"), s).await;
    schemas
        .answer(templates, "get", "/api/v1/templates", 200)
        .await;

    let assignment = app
        .post(
            &v1(&format!("/courses/{course_id}/assignments")),
            t,
            json!({"title": "Hello", "template": "py-openapi", "instructions": "Print 1.",
                   "check": {"command": ["true"]}}),
        )
        .await;
    schemas
        .answer(assignment, "post", "/api/v1/courses/{id}/assignments", 201)
        .await;
    let theirs = app
        .get(&v1(&format!("/courses/{course_id}/assignments")), s)
        .await;
    schemas
        .answer(theirs, "get", "/api/v1/courses/{id}/assignments", 200)
        .await;

    let attendance = app
        .post(
            &v1(&format!("/courses/{course_id}/attendance")),
            t,
            json!({}),
        )
        .await;
    let attendance = schemas
        .answer(attendance, "post", "/api/v1/courses/{id}/attendance", 201)
        .await;
    let roster = app
        .get(
            &v1(&format!(
                "/attendance/{}/roster",
                attendance["id"].as_str().unwrap()
            )),
            t,
        )
        .await;
    schemas
        .answer(roster, "get", "/api/v1/attendance/{id}/roster", 200)
        .await;

    // A container and a workspace, on the real engine.
    let created = app
        .post(
            &v1("/containers"),
            s,
            json!({"image": IMAGE, "cmd": ["sleep", "60"], "memory_mb": 32}),
        )
        .await;
    let created = schemas
        .answer(created, "post", "/api/v1/containers", 201)
        .await;
    app.track(created["id"].as_str().unwrap());
    let containers = app.get(&v1("/containers"), s).await;
    schemas
        .answer(containers, "get", "/api/v1/containers", 200)
        .await;
    let images = app.get(&v1("/images"), s).await;
    schemas.answer(images, "get", "/api/v1/images", 200).await;
    let image = app.get(&v1(&format!("/images/{IMAGE}")), s).await;
    schemas
        .answer(image, "get", "/api/v1/images/{ref}", 200)
        .await;

    let workspace = app
        .post(&v1("/workspaces"), s, json!({"template": "py-openapi"}))
        .await;
    let workspace = schemas
        .answer(workspace, "post", "/api/v1/workspaces", 201)
        .await;
    let workspace_id = workspace["id"].as_str().unwrap();
    app.track(&format!("berth-ws-{workspace_id}"));
    app.track_volume(&format!("berth-ws-{workspace_id}"));
    let files = app
        .get(&v1(&format!("/workspaces/{workspace_id}/files?path=")), s)
        .await;
    schemas
        .answer(files, "get", "/api/v1/workspaces/{id}/files", 200)
        .await;
    let jobs = app
        .get(&v1(&format!("/workspaces/{workspace_id}/jobs")), s)
        .await;
    schemas
        .answer(jobs, "get", "/api/v1/workspaces/{id}/jobs", 200)
        .await;

    // Errors have the documented shape too.
    let missing = app.get(&v1("/containers/no-such-one"), s).await;
    assert_eq!(missing.status(), 404);
    schemas
        .answer(missing, "get", "/api/v1/containers/{id}", 404)
        .await;
    let refused = app.get(&v1("/hosts"), s).await;
    assert_eq!(refused.status(), 403);
    schemas.answer(refused, "get", "/api/v1/hosts", 403).await;

    // An admin's views.
    let admin = app.new_user_with_role(berth::users::Role::Admin).await;
    let a = Some(admin.token.as_str());
    let usage = app.get(&v1("/admin/usage"), a).await;
    schemas
        .answer(usage, "get", "/api/v1/admin/usage", 200)
        .await;
    let audit = app.get(&v1("/audit"), a).await;
    schemas.answer(audit, "get", "/api/v1/audit", 200).await;
    let hosts = app.get(&v1("/hosts"), a).await;
    schemas.answer(hosts, "get", "/api/v1/hosts", 200).await;
}
