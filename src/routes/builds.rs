//! `POST /builds/contexts`: teachers and admins upload what a `build` on the session builds.

use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::builds::CONTEXT_TTL;
use crate::error::answers::{BadRequest, Forbidden, TooLarge};
use crate::error::ApiError;
use crate::routes::extract::Staff;
use crate::state::AppState;

#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Uploaded {
    context: String,
    size: u64,
    expires_in: u64,
}

/// A tar body (`application/x-tar`), or a Dockerfile (`text/plain`), kept for a `build` on the
/// session to name.
#[utoipa::path(
    tag = "images",
    request_body(content(
        (Vec<u8> = "application/x-tar"),
        (String = "text/plain"),
    )),
    responses(
        (status = 201, description = "The stored context, which a `build` names", body = Uploaded),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 413, response = TooLarge),
    ),
)]
#[post("/builds/contexts")]
async fn upload(
    req: HttpRequest,
    caller: Staff,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let is_dockerfile = content_type.starts_with("text/plain");
    if !is_dockerfile && !content_type.starts_with("application/x-tar") {
        return Err(ApiError::bad_request(
            "send a tar (application/x-tar) or a Dockerfile (text/plain)",
        ));
    }
    // A pasted Dockerfile is read whole before a build; a context may be large.
    let limit = if is_dockerfile {
        crate::builds::dockerfile::MAX_DOCKERFILE_BYTES as u64
    } else {
        state.settings.limits.max_upload_mb << 20
    };
    let (context, size) = state
        .contexts
        .store(&caller.user, payload, limit, is_dockerfile)
        .await?;
    Ok(HttpResponse::Created().json(Uploaded {
        context,
        size,
        expires_in: CONTEXT_TTL.as_secs(),
    }))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(upload);
}
