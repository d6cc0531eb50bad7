//! `/hosts`: admins add and remove Docker hosts; teachers and admins see them and their health.

use actix_web::{delete, get, post, web, HttpResponse};
use serde::Serialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::answers::{Conflict, Forbidden, NotFound, Unavailable};
use crate::error::ApiError;
use crate::events::Event;
use crate::hosts::{Host, NewHost};
use crate::routes::extract::{Admin, Staff};
use crate::state::AppState;

#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct HostStatus {
    id: String,
    name: String,
    url: Option<String>,
    tls: bool,
    healthy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    api_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    error: Option<String>,
}

fn status(host: &Host, answer: Result<String, ApiError>) -> HostStatus {
    let (api_version, error) = match answer {
        Ok(version) => (Some(version), None),
        Err(err) => (None, Some(err.message)),
    };
    HostStatus {
        id: host.id.clone(),
        name: host.name.clone(),
        url: host.url.clone(),
        tls: host.tls,
        healthy: error.is_none(),
        api_version,
        error,
    }
}

/// `GET /hosts`: every host with whether it answers now (pinged concurrently, bounded).
/// Stored hosts that could not be loaded are listed too, so that an admin can remove them.
#[utoipa::path(
    tag = "hosts",
    responses(
        (status = 200, description = "Every host and whether it answers", body = Vec<HostStatus>),
        (status = 403, response = Forbidden),
    ),
)]
#[get("/hosts")]
async fn list(_caller: Staff, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let all = state.hosts.all();
    let answers = futures_util::future::join_all(all.iter().map(|h| h.engine.api_version())).await;
    let mut listed: Vec<HostStatus> = all
        .iter()
        .zip(answers)
        .map(|(host, answer)| status(host, answer))
        .collect();
    for lost in state.hosts.unloadable().await? {
        listed.push(HostStatus {
            id: lost.id,
            name: lost.name,
            url: Some(lost.url),
            tls: true,
            healthy: false,
            api_version: None,
            error: Some(
                "its TLS material cannot be opened (was the secret key changed?); \
                 remove it and add it again"
                    .into(),
            ),
        });
    }
    Ok(HttpResponse::Ok().json(listed))
}

/// `POST /hosts`: added only once it answers; the refusal says why.
#[utoipa::path(
    tag = "hosts",
    responses(
        (status = 201, description = "The host, answering", body = HostStatus),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    ),
)]
#[post("/hosts")]
async fn add(
    caller: Admin,
    state: web::Data<AppState>,
    body: web::Json<NewHost>,
) -> Result<HttpResponse, ApiError> {
    // Where it is, never its TLS key.
    let entry = caller
        .audit("host.add")
        .detail("name", body.name.clone())
        .detail("url", body.url.clone())
        .detail("tls", body.tls.is_some());
    let result = state.hosts.add(&body, &state.secrets).await;
    let entry = entry.made(&result, |(h, _)| h.id.clone());
    let (host, version) = state.audit.record_outcome(entry, result).await?;
    hosts_changed(&state).await;
    Ok(HttpResponse::Created().json(status(&host, Ok(version))))
}

/// Removes a host.
#[utoipa::path(
    tag = "hosts",
    responses(
        (status = 204, description = "Removed"),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
#[delete("/hosts/{id}")]
async fn remove(
    caller: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let result = state.hosts.remove(&id).await;
    let entry = caller.audit("host.remove").target(id.as_str());
    state.audit.record_outcome(entry, result).await?;
    hosts_changed(&state).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Tells the other replicas, which read the hosts again. The change is made and stored: a
/// replica that misses this finds it at its next start (the log says so).
async fn hosts_changed(state: &AppState) {
    let told = state.events.publish(Event::HostsChanged {}).await;
    if let Err(e) = told {
        tracing::warn!(error = %e.message, "could not tell the other replicas of a host change");
    }
}

/// `POST /hosts/{id}/ping`: 200 with the API version, or 503 with the reason.
#[utoipa::path(
    tag = "hosts",
    responses(
        (status = 200, description = "The host answers", body = HostStatus),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
#[post("/hosts/{id}/ping")]
async fn ping(
    _caller: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let host = state
        .hosts
        .by_id(&id)
        .ok_or_else(|| ApiError::not_found(format!("no such host: {id}")))?;
    let version = host.engine.api_version().await?;
    Ok(HttpResponse::Ok().json(status(&host, Ok(version))))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list).service(add).service(remove).service(ping);
}
