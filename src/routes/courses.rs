//! `/courses`: teachers create courses and manage their students; students join with a code.

use actix_web::{delete, get, post, web, HttpResponse};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::answers::{Forbidden, NotFound};
use crate::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewCourse {
    name: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Join {
    join_code: String,
}

/// Makes a course, for teachers and admins; its teacher is the caller.
#[utoipa::path(
    tag = "courses",
    responses(
        (status = 201, description = "The course, with its join code", body = crate::courses::CourseView),
        (status = 403, response = Forbidden),
    ),
)]
#[post("/courses")]
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

/// The courses the caller teaches or attends.
#[utoipa::path(
    tag = "courses",
    responses((status = 200, description = "The caller's courses", body = Vec<crate::courses::CourseView>)),
)]
#[get("/courses")]
async fn list(user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(crate::courses::list(&state.db, &user.user).await?))
}

/// A student joins a course with its code.
#[utoipa::path(
    tag = "courses",
    responses(
        (status = 200, description = "The course joined", body = crate::courses::CourseView),
        (status = 404, response = NotFound),
    ),
)]
#[post("/courses/join")]
async fn join(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<Join>,
) -> Result<HttpResponse, ApiError> {
    let result = crate::courses::join(&state.db, &user.user, &body.join_code).await;
    let entry = user.audit("course.join").made(&result, |c| c.id.clone());
    Ok(HttpResponse::Ok().json(state.audit.record_outcome(entry, result).await?))
}

/// The course's students, for its teacher.
#[utoipa::path(
    tag = "courses",
    responses(
        (status = 200, description = "The course's students, for its teacher", body = Vec<crate::courses::Student>),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
#[get("/courses/{id}/students")]
async fn students(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(crate::courses::students(&state.db, &user.user, &id).await?))
}

/// Removes a student from the course, for its teacher.
#[utoipa::path(
    tag = "courses",
    responses(
        (status = 204, description = "The student is no longer in the course"),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
#[delete("/courses/{id}/students/{user_id}")]
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
#[utoipa::path(
    tag = "courses",
    responses(
        (status = 200, description = "The terminals shared with the course now", body = Vec<crate::replicas::held::ShareView>),
        (status = 404, response = NotFound),
    ),
)]
#[get("/courses/{id}/shares")]
async fn shares(
    user: AuthUser,
    state: web::Data<AppState>,
    course: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let course = crate::courses::member(&state.db, &user.user, &course).await?;
    Ok(HttpResponse::Ok().json(state.replicas.shares_of_course(&course.id).await?))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(join)
        .service(students)
        .service(shares)
        .service(remove_student);
}
