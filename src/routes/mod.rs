//! The HTTP layer: every REST handler, the embedded UI and the health checks, one file per
//! area. A handler finds its caller and target, calls a service and answers (the upload and
//! download handlers also pump the body between the request and the engine); the WebSocket
//! session (`crate::session`) is the other half of this layer.

pub mod accounts;
pub mod admin;
pub mod assignments;
pub mod attendance;
pub mod audit;
pub mod builds;
pub mod containers;
pub mod courses;
pub mod download;
pub mod extract;
mod health;
pub mod hosts;
pub mod images;
pub mod metrics;
pub mod openapi;
pub mod registries;
pub mod sso;
pub mod templates;
pub mod ui;
pub mod workspaces;

use actix_web::{web, HttpResponse};
use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;

/// Every route: the REST API and the WebSocket under `/api/v1`, health checks beside it. Each
/// is registered with `service` (a handler with both a route attribute and `#[utoipa::path]`),
/// which is what puts it in the OpenAPI document.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.configure(health::configure)
        .configure(metrics::configure)
        .service(
            scope("/api")
                .service(
                    scope("/v1")
                        .service(openapi::openapi_json)
                        .configure(accounts::configure)
                        .configure(admin::configure)
                        .configure(sso::configure)
                        .configure(containers::configure)
                        .configure(courses::configure)
                        .configure(assignments::configure)
                        .configure(attendance::configure)
                        .configure(audit::configure)
                        .configure(images::configure)
                        .configure(builds::configure)
                        .configure(registries::configure)
                        .configure(hosts::configure)
                        .configure(templates::configure)
                        .configure(workspaces::configure)
                        .service(crate::session::upgrade::ws_handler)
                        .default_service(web::to(api_not_found)),
                )
                .default_service(web::to(api_not_found)),
        );
}

/// Unknown `/api/*` paths answer in the API's error shape.
async fn api_not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("no such endpoint"))
}
