//! `/metrics` in Prometheus' text format: for an admin's token on the main address, or open on
//! `metrics.listen` (an address only the monitoring reaches). And the middleware that counts
//! every HTTP request by its route pattern and status.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{get, web, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::answers;
use crate::error::ApiError;
use crate::metrics::metrics;
use crate::routes::extract::Admin;
use crate::state::AppState;

const TEXT_FORMAT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The figures, with those that are a state read now.
pub async fn scrape(state: web::Data<AppState>) -> HttpResponse {
    let started = Instant::now();
    let reachable = crate::db::ping(&state.db).await;
    if reachable {
        metrics()
            .db_latency
            .observe(started.elapsed().as_secs_f64());
    }
    match crate::usage::workspaces_by_state(&state.db, &state.hosts).await {
        Ok(counts) => {
            let counts: Vec<(&str, i64)> = counts.iter().map(|(s, n)| (s.as_str(), *n)).collect();
            metrics().set_workspaces(&counts);
        }
        Err(e) => tracing::warn!(error = %e.message, "could not count workspaces for metrics"),
    }
    HttpResponse::Ok()
        .content_type(TEXT_FORMAT)
        .body(metrics().render())
}

/// The same figures for an admin's token on the main address.
#[utoipa::path(
    tag = "metrics",
    responses(
        (status = 200, description = "Prometheus' text format (OpenMetrics)", content_type = "application/openmetrics-text"),
        (status = 403, response = answers::Forbidden),
    ),
)]
#[get("/metrics")]
async fn for_admin(_caller: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(scrape(state).await)
}

/// Counts a request under its route's pattern (`/api/v1/containers/{id}`, never the id itself),
/// so that the routes, not the URLs, are the labels.
pub async fn count_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req.match_pattern().unwrap_or_else(|| {
        let api = req.path().starts_with("/api/");
        if api { "unmatched" } else { "ui" }.to_string()
    });
    let response = next.call(req).await?;
    let status = response.status().as_u16();
    metrics().http_request(&method, &route, status, started.elapsed());
    Ok(response)
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(for_admin);
}
