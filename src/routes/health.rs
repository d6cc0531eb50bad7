//! `/healthz` (the process answers) and `/readyz` (its database and Docker engine do).

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::db;
use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when the database answers and the Docker engine does.
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
