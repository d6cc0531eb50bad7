//! `/workspaces`: create, list, see, start, stop and delete workspaces, and their files.

use actix_web::{delete, get, post, put, web, HttpResponse};
use bytes::BytesMut;
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::answers::{Conflict, Forbidden, NotFound, TooLarge, Unavailable};
use crate::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::state::AppState;
use crate::upload;
use crate::workspace_path::WorkspacePath;
use crate::workspaces::files;
use crate::workspaces::Access;
use crate::workspaces::WorkspaceView;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewWorkspace {
    template: String,
    name: Option<String>,
    host: Option<String>,
}

/// Makes the caller a workspace from a template, within their quota.
#[utoipa::path(
    tag = "workspaces",
    responses(
        (status = 201, description = "The workspace", body = WorkspaceView),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    ),
)]
#[post("/workspaces")]
async fn create(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<NewWorkspace>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let entry = user
        .audit("workspace.create")
        .detail("template", body.template.clone());
    let result = state
        .workspaces
        .create(
            &user.user,
            &body.template,
            body.name,
            body.host.as_deref(),
            &state.registries,
            &state.containers,
        )
        .await;
    let entry = entry.made(&result, |w| w.id.clone());
    let workspace = state.audit.record_outcome(entry, result).await?;
    Ok(HttpResponse::Created().json(workspace))
}

/// The caller's workspaces.
#[utoipa::path(
    tag = "workspaces",
    responses(
        (status = 200, description = "The caller's workspaces", body = Vec<WorkspaceView>),
        (status = 503, response = Unavailable),
    ),
)]
#[get("/workspaces")]
async fn list(user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.workspaces.list(&user.user).await?))
}

/// `GET /courses/{id}/workspaces`: the workspaces of a course's students, for its teacher.
#[utoipa::path(
    tag = "workspaces",
    responses(
        (status = 200, description = "The students' workspaces", body = Vec<WorkspaceView>),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
#[get("/courses/{id}/workspaces")]
async fn of_course(
    user: AuthUser,
    state: web::Data<AppState>,
    course: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.workspaces.of_course(&user.user, &course).await?))
}

/// `GET /workspaces/{id}/streams`: its live exec and run streams, for those who may read it
/// (its owner, their teacher), to `watch`.
#[utoipa::path(
    tag = "workspaces",
    responses(
        (status = 200, description = "Its live streams", body = Vec<crate::replicas::held::SourceView>),
        (status = 404, response = NotFound),
    ),
)]
#[get("/workspaces/{id}/streams")]
async fn streams(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let opened = state.workspaces.open(&user.user, &id, Access::Read).await?;
    Ok(HttpResponse::Ok().json(state.replicas.sources_of_workspace(&opened.row.id).await?))
}

/// `GET /workspaces/{id}/jobs`: its background jobs, newest first, for those who may read it.
#[utoipa::path(
    tag = "workspaces",
    responses(
        (status = 200, description = "Its background jobs", body = Vec<crate::workspaces::jobs::JobView>),
        (status = 404, response = NotFound),
    ),
)]
#[get("/workspaces/{id}/jobs")]
async fn jobs(
    user: AuthUser,
    state: web::Data<AppState>,
    live: web::Data<crate::session::jobs::Jobs>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let opened = state.workspaces.open(&user.user, &id, Access::Read).await?;
    let mut listed = crate::workspaces::jobs::list(&state.db, &opened.row.id).await?;
    for job in &mut listed {
        // A running job's output is kept by the replica running it, attached through a relay.
        job.attachable = live.keeps(&job.id)
            || (job.state == "running"
                && matches!(
                    state.replicas.job_place(&job.id).await?,
                    crate::replicas::held::Place::Replica(_)
                ));
    }
    Ok(HttpResponse::Ok().json(listed))
}

/// How long `DELETE` of a running job waits for it to be gone.
const KILL_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// `DELETE /workspaces/{id}/jobs/{job}`: kills a running job, here or on the replica that runs
/// it (answered with it, `killed`, once its processes are gone and its end recorded; its output
/// stays to attach), or forgets an ended one.
#[utoipa::path(
    tag = "workspaces",
    responses(
        (status = 200, description = "The job, killed", body = crate::workspaces::jobs::JobView),
        (status = 204, description = "An ended job, forgotten"),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    ),
)]
#[delete("/workspaces/{id}/jobs/{job}")]
async fn delete_job(
    user: AuthUser,
    state: web::Data<AppState>,
    live: web::Data<crate::session::jobs::Jobs>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, job) = path.into_inner();
    let opened = state
        .workspaces
        .open(&user.user, &id, Access::Write)
        .await?;
    let workspace = &opened.row.id;
    let found = crate::workspaces::jobs::find(&state.db, workspace, &job).await?;
    if found.state != "running" {
        crate::workspaces::jobs::forget(&state.db, workspace, &job).await?;
        live.forget(&job);
        return Ok(HttpResponse::NoContent().finish());
    }
    if !live.kill(&job) {
        // Run by another replica: told through the events, it kills the job and records its
        // end (or, dead, the leader records the job lost).
        state
            .events
            .publish(crate::events::Event::JobCancelled { job: job.clone() })
            .await?;
    }
    let ended = tokio::time::timeout(KILL_WAIT, async {
        loop {
            if !live.running(&job) {
                let row = crate::workspaces::jobs::find(&state.db, workspace, &job).await?;
                if row.state != "running" {
                    return Ok::<_, ApiError>(row);
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    let Ok(ended) = ended else {
        return Err(ApiError::new(
            crate::error::ErrorCode::Unavailable,
            format!("job {job} is still being stopped"),
        ));
    };
    let mut ended = ended?;
    ended.attachable = live.keeps(&job);
    Ok(HttpResponse::Ok().json(ended))
}

/// A workspace, for its owner and their teacher.
#[utoipa::path(
    tag = "workspaces",
    responses(
        (status = 200, description = "The workspace", body = WorkspaceView),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
#[get("/workspaces/{id}")]
async fn get(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.workspaces.view(&user.user, &id).await?))
}

/// Deletes the workspace with its files.
#[utoipa::path(
    tag = "workspaces",
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
#[delete("/workspaces/{id}")]
async fn delete(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let result = state.workspaces.delete(&user.user, &id).await;
    let entry = user.audit("workspace.delete").target(id.as_str());
    state.audit.record_outcome(entry, result).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Starts the workspace (its files are where they were).
#[utoipa::path(
    tag = "workspaces",
    responses(
        (status = 200, description = "The workspace, running", body = WorkspaceView),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    ),
)]
#[post("/workspaces/{id}/start")]
async fn start(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.workspaces.start(&user.user, &id).await?))
}

/// Stops the workspace; its files stay in its volume.
#[utoipa::path(
    tag = "workspaces",
    responses(
        (status = 200, description = "The workspace, stopped", body = WorkspaceView),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
#[post("/workspaces/{id}/stop")]
async fn stop(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.workspaces.stop(&user.user, &id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct PathQuery {
    #[serde(default)]
    path: String,
}

/// `GET /workspaces/{id}/files?path=DIR`: the directory's entries.
#[utoipa::path(
    tag = "workspaces",
    params(PathQuery),
    responses(
        (status = 200, description = "The directory's entries", body = Vec<files::Entry>),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    ),
)]
#[get("/workspaces/{id}/files")]
async fn list_files(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<PathQuery>,
) -> Result<HttpResponse, ApiError> {
    let path = WorkspacePath::parse(&query.path)?;
    let opened = state.workspaces.open(&user.user, &id, Access::Read).await?;
    let entries = files::list(&opened.host.engine, opened.container(), &path).await?;
    state.workspaces.touch(&opened.row.id).await;
    Ok(HttpResponse::Ok().json(entries))
}

/// `GET /workspaces/{id}/files/content?path=FILE`: the file's bytes.
#[utoipa::path(
    tag = "workspaces",
    params(PathQuery),
    responses(
        (status = 200, description = "The file's bytes", content_type = "application/octet-stream"),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    ),
)]
#[get("/workspaces/{id}/files/content")]
async fn read_file(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<PathQuery>,
) -> Result<HttpResponse, ApiError> {
    let path = WorkspacePath::parse(&query.path)?;
    let (opened, _) = state
        .workspaces
        .running(&user.user, &id, Access::Read)
        .await?;
    let bytes = files::read(&opened.host.engine, opened.container(), &path).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .streaming(bytes))
}

/// `PUT /workspaces/{id}/files/content?path=FILE`: writes the body as the file, whole; one
/// over `workspaces.max_file_mb` is refused (413) and the old file is kept.
#[utoipa::path(
    tag = "workspaces",
    params(PathQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 204, description = "Written"),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 503, response = Unavailable),
    ),
)]
#[put("/workspaces/{id}/files/content")]
async fn write_file(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<PathQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let path = WorkspacePath::parse(&query.path)?;
    let (opened, _) = state
        .workspaces
        .running(&user.user, &id, Access::Write)
        .await?;
    let limit = state.workspaces.settings().max_file_mb << 20;
    let (body, pump) = upload::stream(payload, limit);
    let collect = async {
        let mut contents = BytesMut::new();
        let mut body = std::pin::pin!(body);
        while let Some(Ok(chunk)) = body.next().await {
            contents.extend_from_slice(&chunk);
        }
        contents
    };
    let (received, contents) = tokio::join!(pump, collect);
    upload::check(&received, limit)?;
    files::write(
        &opened.host.engine,
        opened.container(),
        &path,
        contents.freeze(),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /workspaces/{id}/files/dir?path=DIR`: makes the directory and its parents.
#[utoipa::path(
    tag = "workspaces",
    params(PathQuery),
    responses(
        (status = 201, description = "Made"),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    ),
)]
#[post("/workspaces/{id}/files/dir")]
async fn make_dir(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<PathQuery>,
) -> Result<HttpResponse, ApiError> {
    let path = WorkspacePath::parse(&query.path)?;
    let (opened, _) = state
        .workspaces
        .running(&user.user, &id, Access::Write)
        .await?;
    files::make_dir(&opened.host.engine, opened.container(), &path).await?;
    Ok(HttpResponse::Created().finish())
}

/// `DELETE /workspaces/{id}/files?path=`: a file, a symlink, or a directory with all in it.
#[utoipa::path(
    tag = "workspaces",
    params(PathQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    ),
)]
#[delete("/workspaces/{id}/files")]
async fn delete_file(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<PathQuery>,
) -> Result<HttpResponse, ApiError> {
    let path = WorkspacePath::parse(&query.path)?;
    let (opened, _) = state
        .workspaces
        .running(&user.user, &id, Access::Write)
        .await?;
    files::delete(&opened.host.engine, opened.container(), &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Move {
    from: String,
    to: String,
}

/// `POST /workspaces/{id}/files/move` `{from, to}`: renames; `to` must not exist.
#[utoipa::path(
    tag = "workspaces",
    responses(
        (status = 204, description = "Renamed"),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    ),
)]
#[post("/workspaces/{id}/files/move")]
async fn move_file(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Move>,
) -> Result<HttpResponse, ApiError> {
    let from = WorkspacePath::parse(&body.from)?;
    let to = WorkspacePath::parse(&body.to)?;
    let (opened, _) = state
        .workspaces
        .running(&user.user, &id, Access::Write)
        .await?;
    files::rename(&opened.host.engine, opened.container(), &from, &to).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /workspaces/{id}/files/archive?path=DIR`: the directory as a tar.
#[utoipa::path(
    tag = "workspaces",
    params(PathQuery),
    responses(
        (status = 200, description = "The directory as a tar", content_type = "application/x-tar"),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    ),
)]
#[get("/workspaces/{id}/files/archive")]
async fn archive_out(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<PathQuery>,
) -> Result<HttpResponse, ApiError> {
    let path = WorkspacePath::parse(&query.path)?;
    let (opened, _) = state
        .workspaces
        .running(&user.user, &id, Access::Read)
        .await?;
    let tar = files::archive(&opened.host.engine, opened.container(), &path).await?;
    let name = if path.is_root() {
        opened.row.name.clone()
    } else {
        path.name().to_string()
    };
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(crate::routes::download::tar_download(&name, tar))
}

/// `PUT /workspaces/{id}/files/archive?path=DIR`: unpacks a tar into the directory, capped
/// like other uploads.
#[utoipa::path(
    tag = "workspaces",
    params(PathQuery),
    request_body(content = Vec<u8>, content_type = "application/x-tar"),
    responses(
        (status = 204, description = "Unpacked"),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 503, response = Unavailable),
    ),
)]
#[put("/workspaces/{id}/files/archive")]
async fn archive_in(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<PathQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let path = WorkspacePath::parse(&query.path)?;
    let (opened, _) = state
        .workspaces
        .running(&user.user, &id, Access::Write)
        .await?;
    let limit = state.settings.limits.max_upload_mb << 20;
    let (body, pump) = upload::stream(payload, limit);
    let unpack = files::unpack(
        &opened.host.engine,
        opened.container(),
        &path,
        Box::pin(body),
    );
    let (received, unpacked) = tokio::join!(pump, unpack);
    upload::check(&received, limit)?;
    unpacked?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(of_course)
        .service(get)
        .service(delete)
        .service(start)
        .service(streams)
        .service(jobs)
        .service(delete_job)
        .service(stop)
        .service(list_files)
        .service(delete_file)
        .service(read_file)
        .service(write_file)
        .service(make_dir)
        .service(move_file)
        .service(archive_out)
        .service(archive_in);
}
