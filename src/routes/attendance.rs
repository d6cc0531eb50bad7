//! `/courses/{id}/attendance` and `/attendance/*`: open, see, close, check in, rosters.

use actix_web::{get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::attendance::{AttendanceView, RosterEntry};
use crate::error::answers::{Conflict, Forbidden, NotFound, TooMany};
use crate::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::state::AppState;

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewAttendance {
    duration_s: Option<i64>,
    period_s: Option<i64>,
}

/// Opens attendance in a course, for its teacher. Every field is optional, and so is the body.
#[utoipa::path(
    tag = "attendance",
    request_body(content = NewAttendance, description = "How long it stays open, and how often the code changes (seconds)", content_type = "application/json"),
    responses(
        (status = 201, description = "The open attendance session", body = AttendanceView),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
#[post("/courses/{id}/attendance")]
async fn open(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // Every field is optional, so an empty body means the defaults.
    let body: NewAttendance = if body.iter().all(u8::is_ascii_whitespace) {
        NewAttendance::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(e.to_string()))?
    };
    let session =
        crate::attendance::open(&state.db, &user.user, &id, body.duration_s, body.period_s).await?;
    Ok(HttpResponse::Created().json(crate::attendance::view(&session)))
}

/// `GET /courses/{id}/attendance`: the course's open attendance session.
#[utoipa::path(
    tag = "attendance",
    responses(
        (status = 200, description = "The course's open attendance session", body = AttendanceView),
        (status = 404, response = NotFound),
    ),
)]
#[get("/courses/{id}/attendance")]
async fn open_now(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session = crate::attendance::open_in_course(&state.db, &user.user, &id).await?;
    Ok(HttpResponse::Ok().json(crate::attendance::view(&session)))
}

/// `GET /courses/{id}/attendance/history`: every session of the course, for its teacher.
#[utoipa::path(
    tag = "attendance",
    responses(
        (status = 200, description = "Every attendance session of the course", body = Vec<crate::attendance::SessionRecord>),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
#[get("/courses/{id}/attendance/history")]
async fn history(
    user: AuthUser,
    state: web::Data<AppState>,
    course: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(crate::attendance::history(&state.db, &user.user, &course).await?))
}

/// An attendance session, with its code for the teacher.
#[utoipa::path(
    tag = "attendance",
    responses(
        (status = 200, description = "The attendance session", body = AttendanceView),
        (status = 404, response = NotFound),
    ),
)]
#[get("/attendance/{id}")]
async fn get(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session = crate::attendance::visible(&state.db, &user.user, &id).await?;
    Ok(HttpResponse::Ok().json(crate::attendance::view(&session)))
}

/// Closes attendance before its time, for the course's teacher.
#[utoipa::path(
    tag = "attendance",
    responses(
        (status = 200, description = "The closed attendance session", body = AttendanceView),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
#[post("/attendance/{id}/close")]
async fn close(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session = crate::attendance::close(&state.db, &state.attendance, &user.user, &id).await?;
    Ok(HttpResponse::Ok().json(crate::attendance::view(&session)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CheckInBody {
    code: String,
}

/// A student checks in with the code on the teacher's screen.
#[utoipa::path(
    tag = "attendance",
    responses(
        (status = 200, description = "Checked in", body = crate::attendance::CheckedIn),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 429, response = TooMany),
    ),
)]
#[post("/attendance/{id}/checkin")]
async fn check_in(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<CheckInBody>,
) -> Result<HttpResponse, ApiError> {
    let checked =
        crate::attendance::check_in(&state.db, &state.attendance, &user.user, &id, &body.code)
            .await?;
    Ok(HttpResponse::Ok().json(checked))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct RosterQuery {
    format: Option<String>,
}

#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Roster {
    attendance: AttendanceView,
    present: usize,
    enrolled: usize,
    students: Vec<RosterEntry>,
}

/// Who was there and who was not, for the course's teacher.
#[utoipa::path(
    tag = "attendance",
    params(RosterQuery),
    responses(
        (status = 200, description = "The roster (`format=csv`: `username,present,checked_in_at`)", content(
            (Roster = "application/json"),
            (String = "text/csv"),
        )),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
#[get("/attendance/{id}/roster")]
async fn roster(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<RosterQuery>,
) -> Result<HttpResponse, ApiError> {
    let (session, students) = crate::attendance::roster(&state.db, &user.user, &id).await?;
    match query.format.as_deref() {
        None | Some("json") => Ok(HttpResponse::Ok().json(Roster {
            attendance: crate::attendance::view(&session),
            present: students.iter().filter(|s| s.present).count(),
            enrolled: students.len(),
            students,
        })),
        Some("csv") => {
            // Usernames are letters, digits, '.', '_' and '-': nothing to quote.
            let mut csv = String::from("username,present,checked_in_at\r\n");
            for student in students {
                csv.push_str(&format!(
                    "{},{},{}\r\n",
                    student.username,
                    if student.present { "yes" } else { "no" },
                    student.checked_in_at.unwrap_or_default()
                ));
            }
            Ok(HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .insert_header((
                    "Content-Disposition",
                    format!("attachment; filename=\"attendance-{}.csv\"", session.id),
                ))
                .body(csv))
        }
        Some(_) => Err(ApiError::bad_request("format must be json or csv")),
    }
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(open)
        .service(open_now)
        .service(history)
        .service(get)
        .service(close)
        .service(check_in)
        .service(roster);
}
