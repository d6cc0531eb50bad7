//! `/courses/{id}/assignments` and `/assignments/{id}`: a course's teacher hands out work; its
//! students see it and open the workspace folder they do it in.

use actix_web::{web, HttpResponse};

use crate::assignments::submissions;
use crate::assignments::{self, AssignmentPatch, NewAssignment};
use crate::error::ApiError;
use crate::routes::download::tar_download;
use crate::routes::extract::AuthUser;
use crate::state::AppState;

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

async fn of_course(
    user: AuthUser,
    state: web::Data<AppState>,
    course: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(assignments::of_course(&state.db, &user.user, &course).await?))
}

async fn get(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(assignments::get(&state.db, &user.user, &id).await?))
}

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
async fn workspace(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let found = assignments::open_workspace(&state.db, state.reach(), &user.user, &id).await?;
    Ok(HttpResponse::Ok().json(found))
}

/// `POST /assignments/{id}/submit`: a snapshot of the caller's folder of it, now.
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
async fn mine(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(submissions::mine(&state.db, &user.user, &id).await?))
}

async fn states(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(submissions::states(&state.db, &user.user, &id).await?))
}

/// `GET /assignments/{id}/submissions/{user_id}/archive`: a student's latest snapshot.
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

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/courses/{id}/assignments", web::post().to(create))
        .route("/courses/{id}/assignments", web::get().to(of_course))
        .route("/assignments/{id}", web::get().to(get))
        .route("/assignments/{id}", web::patch().to(update))
        .route("/assignments/{id}", web::delete().to(delete))
        .route("/assignments/{id}/workspace", web::post().to(workspace))
        .route("/assignments/{id}/submit", web::post().to(submit))
        .route("/assignments/{id}/submission", web::get().to(mine))
        .route("/assignments/{id}/submissions", web::get().to(states))
        .route(
            "/assignments/{id}/submissions/archive",
            web::get().to(archive_all),
        )
        .route(
            "/assignments/{id}/submissions/{user_id}/archive",
            web::get().to(archive_of),
        );
}
