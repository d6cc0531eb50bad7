//! `/courses`: teachers create courses and manage their students; students join with a code.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::session::share::Shares;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCourse {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Join {
    join_code: String,
}

async fn create(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<NewCourse>,
) -> Result<HttpResponse, ApiError> {
    let entry = user
        .audit("course.create")
        .detail("name", body.name.clone());
    let result = crate::courses::create(&state.db, &user.user, &body.name).await;
    let entry = entry.made(&result, |c| c.id.clone());
    let course = state.audit.record_outcome(entry, result).await?;
    Ok(HttpResponse::Created().json(course))
}

async fn list(user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(crate::courses::list(&state.db, &user.user).await?))
}

async fn join(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<Join>,
) -> Result<HttpResponse, ApiError> {
    let result = crate::courses::join(&state.db, &user.user, &body.join_code).await;
    let entry = user.audit("course.join").made(&result, |c| c.id.clone());
    Ok(HttpResponse::Ok().json(state.audit.record_outcome(entry, result).await?))
}

async fn students(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(crate::courses::students(&state.db, &user.user, &id).await?))
}

async fn remove_student(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (course_id, student_id) = path.into_inner();
    let result =
        crate::courses::remove_student(&state.db, &user.user, &course_id, &student_id).await;
    let entry = user
        .audit("course.remove_student")
        .target(course_id.as_str())
        .detail("student", student_id.as_str());
    state.audit.record_outcome(entry, result).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /courses/{id}/shares`: the terminals shared with a course now, for its teacher and
/// students.
async fn shares(
    user: AuthUser,
    state: web::Data<AppState>,
    shares: web::Data<Shares>,
    course: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let course = crate::courses::member(&state.db, &user.user, &course).await?;
    Ok(HttpResponse::Ok().json(shares.of_course(&course.id)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/courses", web::post().to(create))
        .route("/courses", web::get().to(list))
        .route("/courses/join", web::post().to(join))
        .route("/courses/{id}/students", web::get().to(students))
        .route("/courses/{id}/shares", web::get().to(shares))
        .route(
            "/courses/{id}/students/{user_id}",
            web::delete().to(remove_student),
        );
}
