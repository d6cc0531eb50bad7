//! `/healthz` (the process answers) and `/readyz` (its database and Docker engine do).

use actix_web::{get, web, HttpResponse};
use serde_json::json;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::db;
use crate::state::AppState;

#[utoipa::path(
    tag = "health",
    security(()),
    responses((status = 200, description = "The process answers: `{\"status\": \"ok\"}`", body = Object)),
)]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when the database answers and the Docker engine does.
#[utoipa::path(
    tag = "health",
    security(()),
    responses(
        (status = 200, description = "The database and the local Docker engine answer", body = Object),
        (status = 503, description = "One of them does not; the body says which", body = Object),
    ),
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = db::ping(&state.db).await;
    let docker = state.hosts.local().engine.api_version().await;
    let ready = database && docker.is_ok();
    let body = json!({
        "status": if ready { "ready" } else { "unready" },
        "database": if database { "ok" } else { "unreachable" },
        "docker": match &docker {
            Ok(version) => json!({"status": "ok", "api_version": version}),
            Err(e) => json!({"status": "unreachable", "message": e.message}),
        },
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(healthz).service(readyz);
}
