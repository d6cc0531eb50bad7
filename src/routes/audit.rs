//! `GET /audit`: the audit log, for admins, as JSON or CSV.

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::audit::Filter;
use crate::error::answers::Forbidden;
use crate::error::ApiError;
use crate::routes::extract::Admin;
use crate::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct Query {
    /// RFC 3339, or seconds since the epoch.
    since: Option<String>,
    /// A username.
    user: Option<String>,
    /// An action (`image.pull`), or an area (`image`).
    action: Option<String>,
    limit: Option<i64>,
    /// `csv` (or `Accept: text/csv`) for a spreadsheet.
    format: Option<String>,
}

fn since_ms(since: Option<&str>) -> Result<i64, ApiError> {
    let Some(since) = since.filter(|s| !s.is_empty()) else {
        return Ok(0);
    };
    if let Ok(seconds) = since.parse::<i64>() {
        return Ok(seconds.saturating_mul(1000));
    }
    chrono::DateTime::parse_from_rfc3339(since)
        .map(|at| at.timestamp_millis())
        .map_err(|_| ApiError::bad_request("since is an RFC 3339 time or seconds since the epoch"))
}

/// The audit log, newest first, for admins (`format=csv` or `Accept: text/csv` for a
/// spreadsheet).
#[utoipa::path(
    tag = "admin",
    params(Query),
    responses(
        (status = 200, description = "The entries", content(
            (Vec<crate::audit::AuditView> = "application/json"),
            (String = "text/csv"),
        )),
        (status = 403, response = Forbidden),
    ),
)]
#[get("/audit")]
async fn list(
    _caller: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<Query>,
) -> Result<HttpResponse, ApiError> {
    let filter = Filter {
        since_ms: since_ms(query.since.as_deref())?,
        username: query.user.as_deref().filter(|u| !u.is_empty()),
        action: query.action.as_deref().filter(|a| !a.is_empty()),
        limit: query.limit,
    };
    let entries = state.audit.list(filter).await?;
    let accepts_csv = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.starts_with("text/csv"));
    match query.format.as_deref() {
        Some("csv") => {}
        None if accepts_csv => {}
        None | Some("json") => return Ok(HttpResponse::Ok().json(entries)),
        Some(_) => return Err(ApiError::bad_request("format is json or csv")),
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"berth-audit.csv\"",
        ))
        .body(crate::audit::to_csv(&entries)?))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list);
}
