//! `/containers`: create, list, inspect, start, stop, restart and remove the caller's containers.

use actix_web::{web, HttpResponse};
use bollard::query_parameters::{
    RemoveContainerOptions, RestartContainerOptions, StopContainerOptions,
};
use serde::Serialize;

use crate::auth::AuthUser;
use crate::config::Settings;
use crate::db::Db;
use crate::docker::{ContainerSpec, Engine, LABEL_OWNER};
use crate::error::ApiError;
use crate::hosts::{Host, Hosts};
use crate::registries;
use crate::secrets::SecretBox;
use futures_util::StreamExt;

#[derive(Serialize)]
pub struct ContainerView {
    pub id: String,
    pub name: String,
    pub image: String,
    pub state: String,
    pub owner: Option<String>,
    /// The Docker host it lives on.
    pub host: String,
}

impl ContainerView {
    fn on(mut self, host: &Host) -> Self {
        self.host = host.name.clone();
        self
    }
}

impl From<bollard::models::ContainerInspectResponse> for ContainerView {
    fn from(c: bollard::models::ContainerInspectResponse) -> Self {
        let config = c.config.unwrap_or_default();
        ContainerView {
            id: c.id.unwrap_or_default(),
            name: c
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            image: config.image.unwrap_or_default(),
            state: c
                .state
                .and_then(|s| s.status)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            owner: config.labels.and_then(|mut l| l.remove(LABEL_OWNER)),
            host: String::new(),
        }
    }
}

impl From<bollard::models::ContainerSummary> for ContainerView {
    fn from(c: bollard::models::ContainerSummary) -> Self {
        ContainerView {
            id: c.id.unwrap_or_default(),
            name: c
                .names
                .and_then(|n| n.into_iter().next())
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            image: c.image.unwrap_or_default(),
            state: c.state.map(|s| s.to_string()).unwrap_or_default(),
            owner: c.labels.and_then(|mut l| l.remove(LABEL_OWNER)),
            host: String::new(),
        }
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "name must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit",
        ))
    }
}

/// `POST /containers`: placed on the host asked for (`auto`: the one with the most unreserved
/// memory), its image pulled there first when missing, and recorded with its host.
async fn create(
    user: AuthUser,
    hosts: web::Data<Hosts>,
    settings: web::Data<Settings>,
    db: web::Data<Db>,
    secrets: web::Data<SecretBox>,
    egress: web::Data<registries::Egress>,
    spec: web::Json<ContainerSpec>,
) -> Result<HttpResponse, ApiError> {
    crate::images::check_ref(&spec.image)?;
    if let Some(name) = &spec.name {
        check_name(name)?;
        if hosts.name_taken(name).await? {
            return Err(ApiError::conflict(format!(
                "a container named {name} exists"
            )));
        }
    }
    let host = hosts.choose(spec.host.as_deref()).await?;
    let engine = &host.engine;
    let pulled = pull_if_missing(&user, engine, &db, &secrets, &egress, &spec.image).await?;
    let id = engine
        .create_container(&user.user, &spec, &settings.limits, &host.name)
        .await?;
    let info = engine.owned_container(&user.user, &id).await?;
    if let Err(err) = hosts
        .record_container(&host, &user.user, &info, &spec.image)
        .await
    {
        // Unrecorded, it could not be found again: take it back.
        let options = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        let _ = engine
            .client()
            .await?
            .remove_container(&id, Some(options))
            .await;
        return Err(err);
    }
    tracing::info!(container = %id, image = %spec.image, host = %host.name, pulled, "container created");
    let view = ContainerView::from(info).on(&host);
    let mut body = serde_json::to_value(view).map_err(|e| ApiError::internal(&e))?;
    body["pulled"] = pulled.into();
    Ok(HttpResponse::Created().json(body))
}

/// A missing image is pulled first, with the stored credentials of its registry.
async fn pull_if_missing(
    user: &AuthUser,
    engine: &Engine,
    db: &Db,
    secrets: &SecretBox,
    egress: &registries::Egress,
    image: &str,
) -> Result<bool, ApiError> {
    let docker = engine.client().await?;
    match docker.inspect_image(image).await {
        Ok(_) => return Ok(false),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(e) => return Err(e.into()),
    }
    let registry = registries::for_image(db, &user.user, image, None).await?;
    registries::check_image_source(&user.user, image, registry.as_ref(), egress).await?;
    let credentials = registry.map(|r| r.credentials(secrets)).transpose()?;
    let mut progress = std::pin::pin!(crate::images::pull(&docker, image, credentials));
    let cannot = |why: &str| {
        ApiError::not_found(format!(
            "no such image here, and pulling {image} failed: {why}"
        ))
    };
    while let Some(item) = progress.next().await {
        match item {
            Ok(info) => {
                if let Some(error) = info.error {
                    return Err(cannot(&error));
                }
            }
            Err(e) => return Err(cannot(&crate::images::transfer_error(e).message)),
        }
    }
    Ok(true)
}

/// `GET /containers`: the caller's containers (all of berth's for an admin) on every host. A
/// host that does not answer lists what berth recorded there, with state `unavailable`; when no
/// host answers, the answer is `unavailable`.
async fn list(user: AuthUser, hosts: web::Data<Hosts>) -> Result<HttpResponse, ApiError> {
    let owner = (!user.user.is_admin()).then_some(user.user.id.as_str());
    let all = hosts.all();
    let listings = futures_util::future::join_all(all.iter().map(|host| async move {
        if !host.engine.is_healthy() {
            return None;
        }
        let listed =
            tokio::time::timeout(crate::hosts::ASK_TIMEOUT, host.engine.list_managed(owner)).await;
        listed.ok().and_then(Result::ok)
    }))
    .await;
    if listings.iter().all(Option::is_none) {
        return Err(ApiError::new(
            crate::error::ErrorCode::Unavailable,
            "no Docker host is answering",
        ));
    }
    let mut containers = Vec::new();
    for (host, listed) in all.iter().zip(listings) {
        match listed {
            Some(listed) => {
                containers.extend(listed.into_iter().map(|c| ContainerView::from(c).on(host)))
            }
            None => containers.extend(
                hosts
                    .recorded_containers(&host.name, owner)
                    .await?
                    .into_iter()
                    .map(|c| ContainerView {
                        id: c.id,
                        name: c.name,
                        image: c.image,
                        state: "unavailable".to_string(),
                        owner: Some(c.owner_id),
                        host: host.name.clone(),
                    }),
            ),
        }
    }
    Ok(HttpResponse::Ok().json(containers))
}

async fn get(
    user: AuthUser,
    hosts: web::Data<Hosts>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (info, host) = hosts.owned_container(&user.user, &id).await?;
    Ok(HttpResponse::Ok().json(ContainerView::from(info).on(&host)))
}

#[derive(Clone, Copy)]
enum Action {
    Start,
    Stop,
    Restart,
}

async fn act(
    user: &AuthUser,
    hosts: &Hosts,
    id: &str,
    action: Action,
) -> Result<HttpResponse, ApiError> {
    let (info, host) = hosts.owned_container(&user.user, id).await?;
    let id = info.id.unwrap_or_default();
    let docker = host.engine.client().await?;
    let result = match action {
        Action::Start => {
            docker
                .start_container(
                    &id,
                    None::<bollard::query_parameters::StartContainerOptions>,
                )
                .await
        }
        Action::Stop => {
            let options = StopContainerOptions {
                t: Some(5),
                signal: None,
            };
            docker.stop_container(&id, Some(options)).await
        }
        Action::Restart => {
            let options = RestartContainerOptions {
                t: Some(5),
                signal: None,
            };
            docker.restart_container(&id, Some(options)).await
        }
    };
    match result {
        // Starting a running container or stopping a stopped one is already done.
        Ok(())
        | Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 304, ..
        }) => {}
        Err(e) => return Err(e.into()),
    }
    let info = host.engine.owned_container(&user.user, &id).await?;
    Ok(HttpResponse::Ok().json(ContainerView::from(info).on(&host)))
}

async fn start(
    user: AuthUser,
    hosts: web::Data<Hosts>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(&user, &hosts, &id, Action::Start).await
}

async fn stop(
    user: AuthUser,
    hosts: web::Data<Hosts>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(&user, &hosts, &id, Action::Stop).await
}

async fn restart(
    user: AuthUser,
    hosts: web::Data<Hosts>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(&user, &hosts, &id, Action::Restart).await
}

async fn remove(
    user: AuthUser,
    hosts: web::Data<Hosts>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (info, host) = hosts.owned_container(&user.user, &id).await?;
    let id = info.id.unwrap_or_default();
    let options = RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    };
    host.engine
        .client()
        .await?
        .remove_container(&id, Some(options))
        .await?;
    hosts.forget_container(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/containers", web::post().to(create))
        .route("/containers", web::get().to(list))
        .route("/containers/{id}", web::get().to(get))
        .route("/containers/{id}", web::delete().to(remove))
        .route("/containers/{id}/start", web::post().to(start))
        .route("/containers/{id}/stop", web::post().to(stop))
        .route("/containers/{id}/restart", web::post().to(restart));
}
