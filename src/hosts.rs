//! Docker hosts: `local` (the settings' engine) and the ones admins add. Each has its own lazily
//! connected, version-negotiated client, cached here; a host is only added once it answers.
//!
//! Containers, images and sessions still use `local` only; routing them by host comes next.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use dashmap::DashMap;
use serde::Deserialize;

use crate::accounts::User;
use crate::auth::AuthUser;
use crate::db::Db;
use crate::docker::Engine;
use crate::error::ApiError;

pub const LOCAL: &str = "local";

/// How long a ping may take before the host counts as not answering.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Hosts {
    local: Arc<Engine>,
    added: DashMap<String, AddedHost>,
}

#[derive(Clone)]
struct AddedHost {
    id: String,
    name: String,
    url: String,
    engine: Arc<Engine>,
}

impl Hosts {
    /// `local` plus every host stored in the database.
    pub async fn load(db: &Db, local: Arc<Engine>) -> Result<Hosts, sqlx::Error> {
        let rows: Vec<(String, String, String)> = sqlx::query_as("SELECT id, name, url FROM hosts")
            .fetch_all(db)
            .await?;
        let added = rows
            .into_iter()
            .map(|(id, name, url)| {
                let engine = Arc::new(Engine::new(Some(url.clone())));
                (
                    id.clone(),
                    AddedHost {
                        id,
                        name,
                        url,
                        engine,
                    },
                )
            })
            .collect();
        Ok(Hosts { local, added })
    }
}

/// Pings an engine: its API version, or why it does not answer.
async fn ping(engine: &Engine) -> Result<String, ApiError> {
    match tokio::time::timeout(PING_TIMEOUT, engine.api_version()).await {
        Ok(answer) => answer,
        Err(_) => Err(ApiError::new(
            crate::error::ErrorCode::Unavailable,
            "the host did not answer in time",
        )),
    }
}

fn require_admin(user: &User) -> Result<(), ApiError> {
    if user.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden("only admins manage Docker hosts"))
    }
}

fn status(
    id: &str,
    name: &str,
    url: Option<&str>,
    answer: Result<String, ApiError>,
) -> serde_json::Value {
    match answer {
        Ok(version) => serde_json::json!({
            "id": id, "name": name, "url": url, "healthy": true, "api_version": version,
        }),
        Err(err) => serde_json::json!({
            "id": id, "name": name, "url": url, "healthy": false, "error": err.message,
        }),
    }
}

/// `GET /hosts`: every host with whether it answers now (pinged concurrently, bounded).
async fn list(user: AuthUser, hosts: web::Data<Hosts>) -> Result<HttpResponse, ApiError> {
    if !user.user.is_staff() {
        return Err(ApiError::forbidden(
            "only teachers and admins see Docker hosts",
        ));
    }
    let mut added: Vec<AddedHost> = hosts.added.iter().map(|h| h.value().clone()).collect();
    added.sort_by(|a, b| a.name.cmp(&b.name));
    let pings = futures_util::future::join_all(added.iter().map(|h| ping(&h.engine)));
    let (local, pings) = tokio::join!(ping(&hosts.local), pings);
    let mut listed = vec![status(LOCAL, LOCAL, None, local)];
    listed.extend(
        added
            .iter()
            .zip(pings)
            .map(|(h, answer)| status(&h.id, &h.name, Some(&h.url), answer)),
    );
    Ok(HttpResponse::Ok().json(listed))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewHost {
    name: String,
    url: String,
}

fn check_new_host(host: &NewHost) -> Result<(), ApiError> {
    let name_ok = (1..=32).contains(&host.name.len())
        && host
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && host.name != LOCAL
        && host.name != "auto";
    if !name_ok {
        return Err(ApiError::bad_request(
            "name must be 1-32 lowercase letters, digits or '-', and not 'local' or 'auto'",
        ));
    }
    let url_ok = match host.url.split_once("://") {
        Some(("unix", path)) => path.starts_with('/'),
        Some(("tcp", addr)) => addr
            .rsplit_once(':')
            .is_some_and(|(h, port)| !h.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)),
        _ => false,
    };
    if !url_ok {
        return Err(ApiError::bad_request(
            "url must be unix:///path/to/docker.sock or tcp://host:port",
        ));
    }
    Ok(())
}

/// `POST /hosts`: added only once it answers; the refusal says why.
async fn add(
    user: AuthUser,
    db: web::Data<Db>,
    hosts: web::Data<Hosts>,
    body: web::Json<NewHost>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&user.user)?;
    check_new_host(&body)?;
    let engine = Arc::new(Engine::new(Some(body.url.clone())));
    let version = ping(&engine).await.map_err(|err| {
        ApiError::bad_request(format!("{} does not answer: {}", body.url, err.message))
    })?;
    let id = uuid::Uuid::new_v4().to_string();
    let inserted = sqlx::query("INSERT INTO hosts (id, name, url, created_at) VALUES (?, ?, ?, ?)")
        .bind(&id)
        .bind(&body.name)
        .bind(&body.url)
        .bind(crate::db::now_s())
        .execute(db.get_ref())
        .await;
    match inserted {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(ApiError::conflict(format!(
                "a host named {} exists",
                body.name
            )))
        }
        Err(e) => return Err(e.into()),
    }
    hosts.added.insert(
        id.clone(),
        AddedHost {
            id: id.clone(),
            name: body.name.clone(),
            url: body.url.clone(),
            engine,
        },
    );
    tracing::info!(host = %body.name, url = %body.url, "Docker host added");
    Ok(HttpResponse::Created().json(status(&id, &body.name, Some(&body.url), Ok(version))))
}

fn find(hosts: &Hosts, id: &str) -> Result<AddedHost, ApiError> {
    hosts
        .added
        .get(id)
        .map(|h| h.value().clone())
        .ok_or_else(|| ApiError::not_found(format!("no such host: {id}")))
}

async fn remove(
    user: AuthUser,
    db: web::Data<Db>,
    hosts: web::Data<Hosts>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&user.user)?;
    if id.as_str() == LOCAL {
        return Err(ApiError::bad_request(
            "the local host comes from the settings",
        ));
    }
    let host = find(&hosts, &id)?;
    sqlx::query("DELETE FROM hosts WHERE id = ?")
        .bind(&host.id)
        .execute(db.get_ref())
        .await?;
    hosts.added.remove(&host.id);
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /hosts/{id}/ping`: 200 with the API version, or 503 with the reason.
async fn ping_route(
    user: AuthUser,
    hosts: web::Data<Hosts>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !user.user.is_staff() {
        return Err(ApiError::forbidden(
            "only teachers and admins see Docker hosts",
        ));
    }
    let (name, url, engine) = if id.as_str() == LOCAL {
        (LOCAL.to_string(), None, hosts.local.clone())
    } else {
        let host = find(&hosts, &id)?;
        (host.name, Some(host.url), host.engine)
    };
    let version = ping(&engine).await?;
    Ok(HttpResponse::Ok().json(status(&id, &name, url.as_deref(), Ok(version))))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/hosts", web::get().to(list))
        .route("/hosts", web::post().to(add))
        .route("/hosts/{id}", web::delete().to(remove))
        .route("/hosts/{id}/ping", web::post().to(ping_route));
}
