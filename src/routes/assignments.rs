//! `/courses/{id}/assignments` and `/assignments/{id}`: a course's teacher hands out work; its
//! students see it and open the workspace folder they do it in.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::assignments::submissions;
use crate::assignments::{self, AssignmentPatch, NewAssignment};
use crate::error::answers::{Conflict, Forbidden, NotFound, TooLarge, Unavailable};
use crate::error::ApiError;
use crate::routes::download::tar_download;
use crate::routes::extract::AuthUser;
use crate::state::AppState;

/// Hands out an assignment to a course, for its teacher.
#[utoipa::path(
    tag = "assignments",
    responses(
        (status = 201, description = "The assignment", body = assignments::AssignmentView),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
    ),
)]
#[post("/courses/{id}/assignments")]
async fn create(
    user: AuthUser,
    state: web::Data<AppState>,
    course: web::Path<String>,
    body: web::Json<NewAssignment>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let entry = user
        .audit("assignment.create")
        .detail("course", course.as_str())
        .detail("title", body.title.clone());
    let result = assignments::create(&state.db, &user.user, &course, body).await;
    let entry = entry.made(&result, |a| a.id.clone());
    let made = state.audit.record_outcome(entry, result).await?;
    Ok(HttpResponse::Created().json(made))
}

/// A course's assignments, for its teacher and students (students see where they stand).
#[utoipa::path(
    tag = "assignments",
    responses(
        (status = 200, description = "The course's assignments", body = Vec<assignments::AssignmentView>),
        (status = 404, response = NotFound),
    ),
)]
#[get("/courses/{id}/assignments")]
async fn of_course(
    user: AuthUser,
    state: web::Data<AppState>,
    course: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(assignments::of_course(&state.db, &user.user, &course).await?))
}

/// An assignment, for its course's teacher and students (students see no check).
#[utoipa::path(
    tag = "assignments",
    responses(
        (status = 200, description = "The assignment", body = assignments::AssignmentView),
        (status = 404, response = NotFound),
    ),
)]
#[get("/assignments/{id}")]
async fn get(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(assignments::get(&state.db, &user.user, &id).await?))
}

/// Changes an assignment, for its course's teacher.
#[utoipa::path(
    tag = "assignments",
    responses(
        (status = 200, description = "The assignment as it is now", body = assignments::AssignmentView),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
    ),
)]
#[patch("/assignments/{id}")]
async fn update(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<AssignmentPatch>,
) -> Result<HttpResponse, ApiError> {
    let result = assignments::update(&state.db, &user.user, &id, body.into_inner()).await;
    let entry = user.audit("assignment.update").target(id.as_str());
    let changed = state.audit.record_outcome(entry, result).await?;
    Ok(HttpResponse::Ok().json(changed))
}

/// Deletes an assignment with its submissions, for its course's teacher.
#[utoipa::path(
    tag = "assignments",
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
#[delete("/assignments/{id}")]
async fn delete(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let result = assignments::delete(&state.db, &state.snapshots(), &user.user, &id).await;
    let entry = user.audit("assignment.delete").target(id.as_str());
    state.audit.record_outcome(entry, result).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /assignments/{id}/workspace`: where the caller, a student of the course, does it.
#[utoipa::path(
    tag = "assignments",
    responses(
        (status = 200, description = "The workspace and the folder to open", body = assignments::WorkspaceOfAssignment),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    ),
)]
#[post("/assignments/{id}/workspace")]
async fn workspace(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let found = assignments::open_workspace(&state.db, state.reach(), &user.user, &id).await?;
    Ok(HttpResponse::Ok().json(found))
}

/// `POST /assignments/{id}/submit`: a snapshot of the caller's folder of it, now.
#[utoipa::path(
    tag = "assignments",
    responses(
        (status = 201, description = "The submission", body = submissions::Submitted),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 503, response = Unavailable),
    ),
)]
#[post("/assignments/{id}/submit")]
async fn submit(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let snapshots = state.snapshots();
    let done = submissions::submit(&state.db, state.reach(), &snapshots, &user.user, &id).await?;
    Ok(HttpResponse::Created().json(done))
}

/// `GET /assignments/{id}/submission`: the caller's latest submission.
#[utoipa::path(
    tag = "assignments",
    responses(
        (status = 200, description = "The caller's latest submission", body = submissions::Submitted),
        (status = 404, response = NotFound),
    ),
)]
#[get("/assignments/{id}/submission")]
async fn mine(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(submissions::mine(&state.db, &user.user, &id).await?))
}

/// `GET /assignments/{id}/submissions`: every student's state, for the course's teacher.
#[utoipa::path(
    tag = "assignments",
    responses(
        (status = 200, description = "Each student's state", body = Vec<submissions::SubmissionState>),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
#[get("/assignments/{id}/submissions")]
async fn states(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(submissions::states(&state.db, &user.user, &id).await?))
}

/// `GET /assignments/{id}/submissions/{user_id}/archive`: a student's latest snapshot.
#[utoipa::path(
    tag = "assignments",
    responses(
        (status = 200, description = "The snapshot as a tar", content_type = "application/x-tar"),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
#[get("/assignments/{id}/submissions/{user_id}/archive")]
async fn archive_of(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, student) = path.into_inner();
    let snapshots = state.snapshots();
    let file = submissions::archive_of(&state.db, &snapshots, &user.user, &id, &student).await?;
    let file = tokio::fs::File::open(file)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(tar_download(
        &format!("{id}-{student}"),
        tokio_util::io::ReaderStream::new(file),
    ))
}

/// `GET /assignments/{id}/submissions/archive`: every student's, a folder each.
#[utoipa::path(
    tag = "assignments",
    responses(
        (status = 200, description = "Every latest snapshot as one tar", content_type = "application/x-tar"),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
#[get("/assignments/{id}/submissions/archive")]
async fn archive_all(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let snapshots = state.snapshots();
    let file = submissions::archive_all(&state.db, &snapshots, &user.user, &id).await?;
    let file = tokio::fs::File::from_std(file);
    Ok(tar_download(&id, tokio_util::io::ReaderStream::new(file)))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create)
        .service(of_course)
        .service(get)
        .service(update)
        .service(delete)
        .service(workspace)
        .service(submit)
        .service(mine)
        .service(states)
        .service(archive_all)
        .service(archive_of);
}
