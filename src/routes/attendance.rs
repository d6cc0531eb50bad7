//! `/courses/{id}/attendance` and `/attendance/*`: open, see, close, check in, rosters.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::attendance::{AttendanceView, RosterEntry};
use crate::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::state::AppState;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NewAttendance {
    duration_s: Option<i64>,
    period_s: Option<i64>,
}

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
async fn open_now(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session = crate::attendance::open_in_course(&state.db, &user.user, &id).await?;
    Ok(HttpResponse::Ok().json(crate::attendance::view(&session)))
}

/// `GET /courses/{id}/attendance/history`: every session of the course, for its teacher.
async fn history(
    user: AuthUser,
    state: web::Data<AppState>,
    course: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(crate::attendance::history(&state.db, &user.user, &course).await?))
}

async fn get(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session = crate::attendance::visible(&state.db, &user.user, &id).await?;
    Ok(HttpResponse::Ok().json(crate::attendance::view(&session)))
}

async fn close(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session = crate::attendance::close(&state.db, &state.attendance, &user.user, &id).await?;
    Ok(HttpResponse::Ok().json(crate::attendance::view(&session)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckInBody {
    code: String,
}

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

#[derive(Deserialize)]
struct RosterQuery {
    format: Option<String>,
}

#[derive(Serialize, ts_rs::TS)]
pub struct Roster {
    attendance: AttendanceView,
    present: usize,
    enrolled: usize,
    students: Vec<RosterEntry>,
}

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

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/courses/{id}/attendance", web::post().to(open))
        .route("/courses/{id}/attendance", web::get().to(open_now))
        .route("/courses/{id}/attendance/history", web::get().to(history))
        .route("/attendance/{id}", web::get().to(get))
        .route("/attendance/{id}/close", web::post().to(close))
        .route("/attendance/{id}/checkin", web::post().to(check_in))
        .route("/attendance/{id}/roster", web::get().to(roster));
}
