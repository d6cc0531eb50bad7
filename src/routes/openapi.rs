//! The OpenAPI 3.1 document at `GET /api/v1/openapi.json`, made from the handlers themselves:
//! each handler carries its `#[utoipa::path]` on the same function as its actix route
//! attribute, and [`super::configure`] registers them through utoipa-actix-web, so a route is in
//! the document because it is registered (tests/api/openapi.rs checks that no other kind of
//! registration exists). This module adds what is said once for all: the bearer token, the error
//! shape, and the errors that every operation of a kind can answer.

use actix_web::{get, web, HttpResponse};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, Ref, RefOr};
use utoipa::OpenApi as _;

use crate::error::answers::{self, ErrorBody};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "berth",
        description = "Live, safe sessions on Docker containers for schools and labs. Every \
            request but sign-in, health and this document carries `Authorization: Bearer \
            <token>` (from `POST /api/v1/auth/login`). The WebSocket protocol spoken on \
            `/api/v1/ws` is written down in docs/protocol.md."
    ),
    components(schemas(ErrorBody)),
    security(("bearer" = [])),
    tags(
        (name = "accounts", description = "Registering, signing in and out, one's own account"),
        (name = "sign-in", description = "The institution's sign-in: OpenID Connect and how this server signs people in"),
        (name = "courses", description = "Courses, their students and the terminals shared with them"),
        (name = "assignments", description = "Work handed out to a course, and its submissions"),
        (name = "attendance", description = "Rotating check-in codes and rosters"),
        (name = "workspaces", description = "Each person's sandboxed workspace, its files and background jobs"),
        (name = "containers", description = "Containers under the safety policy"),
        (name = "images", description = "Images on each host, with the transfers an offline site needs"),
        (name = "registries", description = "Private registries and search"),
        (name = "hosts", description = "Docker hosts and their health"),
        (name = "templates", description = "What workspaces are made from"),
        (name = "session", description = "The WebSocket every live stream runs on"),
        (name = "admin", description = "Usage, the audit log, ending someone's sessions, the replicas"),
        (name = "metrics", description = "Prometheus' figures"),
        (name = "health", description = "Liveness and readiness"),
        (name = "docs", description = "This document"),
    ),
)]
struct Base;

/// The document's frame, before the handlers' operations are added.
pub fn base() -> OpenApi {
    Base::openapi()
}

/// The finished document: the token scheme, the shared error answers, and on every operation
/// the errors its kind can answer, which the handlers need not repeat: `internal` on each,
/// `unauthorized` where a token is needed, `bad_request` where a parameter or a body is read.
fn finish(mut api: OpenApi) -> OpenApi {
    let components = api.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        "bearer".into(),
        RefOr::T(SecurityScheme::Http(
            HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build(),
        )),
    );
    // Only the WebSocket upgrade takes it: a browser cannot set a header there.
    components.security_schemes.insert(
        "ticket".into(),
        RefOr::T(SecurityScheme::ApiKey(ApiKey::Query(
            ApiKeyValue::with_description(
                "ticket",
                "A single-use ticket from `POST /api/v1/ws/ticket`",
            ),
        ))),
    );
    for (name, response) in answers::components() {
        components.responses.insert(name.into(), response);
    }
    let secured_by_default = api.security.as_ref().is_some_and(|s| !s.is_empty());
    for item in api.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            add_common_errors(operation, secured_by_default);
            name_uniquely(operation);
            trim_summary(operation);
        }
    }
    api
}

fn add_common_errors(operation: &mut Operation, secured_by_default: bool) {
    let needs_token = match &operation.security {
        // `security(())`: an empty requirement, open to anyone.
        Some(requirements) => !requirements.iter().all(is_empty_requirement),
        None => secured_by_default,
    };
    let reads_input = operation.request_body.is_some()
        || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let responses = &mut operation.responses.responses;
    let mut add = |status: &str, name: &str| {
        responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    };
    if reads_input {
        add("400", "BadRequest");
    }
    if needs_token {
        add("401", "Unauthorized");
    }
    add("500", "Internal");
}

/// Handlers of different areas share names (`list`, `get`): an operation's id is its tag's
/// and its handler's, `containers_list`.
fn name_uniquely(operation: &mut Operation) {
    let tag = operation
        .tags
        .as_ref()
        .and_then(|tags| tags.first())
        .map(|tag| tag.replace('-', "_"));
    if let (Some(tag), Some(id)) = (tag, operation.operation_id.as_mut()) {
        *id = format!("{tag}_{id}");
    }
}

/// A handler's comment may begin by naming its route (`` `GET /workspaces/{id}/jobs`: its
/// jobs``), which the reader shows beside it anyway.
fn trim_summary(operation: &mut Operation) {
    let Some(summary) = operation.summary.as_mut() else {
        return;
    };
    // A comment's lines are wrapped for the source, not for the reader.
    *summary = summary.replace('\n', " ");
    if let Some(rest) = summary.strip_prefix('`').and_then(|s| s.split_once("`: ")) {
        let mut chars = rest.1.chars();
        *summary = match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        };
    }
}

fn is_empty_requirement(requirement: &utoipa::openapi::security::SecurityRequirement) -> bool {
    serde_json::to_value(requirement).is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty()))
}

/// The document as served, made once per worker at its start from what it registered.
pub struct Document(String);

impl Document {
    pub fn of(api: OpenApi) -> Document {
        // Only our own types are in it: they always serialize.
        let mut json = serde_json::to_value(finish(api)).unwrap_or_default();
        loosen_flattened(&mut json);
        Document(serde_json::to_string_pretty(&json).unwrap_or_default())
    }
}

/// A request type refuses unknown fields (`additionalProperties: false`), but flattened into
/// an answer (`Template` is a `TemplateSpec` with an `id`) it is one part of a larger object:
/// there its schema is inlined without that refusal, which would reject the other parts.
fn loosen_flattened(document: &mut serde_json::Value) {
    let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(|s| s.as_object_mut())
    else {
        return;
    };
    let strict: std::collections::BTreeMap<String, serde_json::Value> = schemas
        .iter()
        .filter(|(_, s)| s["additionalProperties"] == serde_json::Value::Bool(false))
        .map(|(name, s)| {
            let mut loose = s.clone();
            loose
                .as_object_mut()
                .map(|o| o.remove("additionalProperties"));
            (format!("#/components/schemas/{name}"), loose)
        })
        .collect();
    for schema in schemas.values_mut() {
        let Some(parts) = schema.get_mut("allOf").and_then(|a| a.as_array_mut()) else {
            continue;
        };
        for part in parts {
            let named = part.get("$ref").and_then(|r| r.as_str());
            if let Some(loose) = named.and_then(|r| strict.get(r)) {
                *part = loose.clone();
            }
        }
    }
}

/// `GET /api/v1/openapi.json`: this document.
#[utoipa::path(
    tag = "docs",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")),
)]
#[get("/openapi.json")]
pub async fn openapi_json(document: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.0.clone())
}
