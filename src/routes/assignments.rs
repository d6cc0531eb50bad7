//! `/courses/{id}/assignments` and `/assignments/{id}`: a course's teacher hands out work; its
//! students see it and open the workspace folder they do it in.

use actix_web::{web, HttpResponse};

use crate::assignments::{self, AssignmentPatch, NewAssignment, Reach};
use crate::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::state::AppState;

async fn create(
    user: AuthUser,
    state: web::Data<AppState>,
    course: web::Path<String>,
    body: web::Json<NewAssignment>,
) -> Result<HttpResponse, ApiError> {
    let made = assignments::create(&state.db, &user.user, &course, body.into_inner()).await?;
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
    let changed = assignments::update(&state.db, &user.user, &id, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(changed))
}

async fn delete(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    assignments::delete(&state.db, &user.user, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /assignments/{id}/workspace`: where the caller, a student of the course, does it.
async fn workspace(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let reach = Reach {
        workspaces: &state.workspaces,
        registries: &state.registries,
        containers: &state.containers,
    };
    let found = assignments::open_workspace(&state.db, reach, &user.user, &id).await?;
    Ok(HttpResponse::Ok().json(found))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/courses/{id}/assignments", web::post().to(create))
        .route("/courses/{id}/assignments", web::get().to(of_course))
        .route("/assignments/{id}", web::get().to(get))
        .route("/assignments/{id}", web::patch().to(update))
        .route("/assignments/{id}", web::delete().to(delete))
        .route("/assignments/{id}/workspace", web::post().to(workspace));
}
