//! Docker hosts: `local` (the settings' engine) and the ones admins add, each with its own lazily
//! connected, version-negotiated client. A host is only added once it answers; a background ping
//! keeps each host's health current, and work for a host that stopped answering is refused at
//! once (`unavailable`) instead of waiting on it. Containers are recorded with the host they were
//! placed on, so an id finds its engine.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::InspectContainerOptions;
use dashmap::DashMap;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::accounts::User;
use crate::auth::AuthUser;
use crate::db::Db;
use crate::docker::endpoint::{Endpoint, TlsMaterial};
use crate::docker::Engine;
use crate::error::{ApiError, ErrorCode};
use crate::secrets::SecretBox;

pub const LOCAL: &str = "local";
/// Asks for placement on the healthy host with the most unreserved memory.
pub const AUTO: &str = "auto";

/// How often every host is pinged to keep its health current.
const HEALTH_INTERVAL: Duration = Duration::from_secs(5);
/// How long berth waits for one host when it asks several at once (listing containers, placing
/// one); a host slower than this is passed over.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Host {
    pub id: String,
    pub name: String,
    pub url: Option<String>,
    pub tls: bool,
    pub engine: Arc<Engine>,
}

pub struct Hosts {
    db: Db,
    local: Host,
    /// Added hosts by id.
    added: DashMap<String, Host>,
}

/// `?host=` on the image endpoints.
#[derive(Deserialize)]
pub struct OnHost {
    pub host: Option<String>,
}

/// A container as recorded at creation, for listing it while its host does not answer.
#[derive(sqlx::FromRow)]
pub struct RecordedContainer {
    pub id: String,
    pub name: String,
    pub image: String,
    pub owner_id: String,
}

impl Hosts {
    /// `local` plus every host stored in the database. A host whose TLS material cannot be
    /// opened (the secret key changed) is left out with an error in the log.
    pub async fn load(db: &Db, secrets: &SecretBox, local: Arc<Engine>) -> anyhow::Result<Hosts> {
        let rows: Vec<(String, String, String, Option<String>)> =
            sqlx::query_as("SELECT id, name, url, tls_sealed FROM hosts")
                .fetch_all(db)
                .await?;
        let added = DashMap::new();
        for (id, name, url, tls_sealed) in rows {
            let tls = tls_sealed
                .map(|sealed| {
                    let plain = secrets.open(&sealed).map_err(|e| e.to_string())?;
                    serde_json::from_str::<TlsMaterial>(&plain).map_err(|e| e.to_string())
                })
                .transpose();
            match tls.and_then(|tls| Endpoint::resolve(Some(&url), tls.as_ref())) {
                Ok(endpoint) => {
                    let host = Host {
                        id: id.clone(),
                        name,
                        tls: matches!(endpoint, Endpoint::Tls { .. }),
                        url: Some(url),
                        engine: Arc::new(Engine::new(endpoint)),
                    };
                    added.insert(id, host);
                }
                Err(why) => tracing::error!(
                    host = %name, error = %why,
                    "Docker host cannot be loaded; remove it and add it again"
                ),
            }
        }
        let local = Host {
            id: LOCAL.to_string(),
            name: LOCAL.to_string(),
            url: None,
            tls: false,
            engine: local,
        };
        Ok(Hosts {
            db: db.clone(),
            local,
            added,
        })
    }

    pub fn local(&self) -> &Host {
        &self.local
    }

    /// Every host, `local` first, the others by name.
    pub fn all(&self) -> Vec<Host> {
        let mut added: Vec<Host> = self.added.iter().map(|h| h.value().clone()).collect();
        added.sort_by(|a, b| a.name.cmp(&b.name));
        let mut all = vec![self.local.clone()];
        all.extend(added);
        all
    }

    fn named(&self, name: &str) -> Option<Host> {
        if name == LOCAL {
            return Some(self.local.clone());
        }
        self.added
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.value().clone())
    }

    /// The host named `name` (`local` when none), if it exists and is answering.
    pub fn get(&self, name: Option<&str>) -> Result<Host, ApiError> {
        let name = name.unwrap_or(LOCAL);
        let host = self
            .named(name)
            .ok_or_else(|| ApiError::not_found(format!("no such host: {name}")))?;
        if !host.engine.is_healthy() {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                format!("host {name} is not answering"),
            ));
        }
        Ok(host)
    }

    /// `get`, or with `auto` the healthy host with the most memory not yet reserved by berth's
    /// running containers (ties go to `local`, then by name).
    pub async fn choose(&self, name: Option<&str>) -> Result<Host, ApiError> {
        if name != Some(AUTO) {
            return self.get(name);
        }
        let healthy: Vec<Host> = self
            .all()
            .into_iter()
            .filter(|h| h.engine.is_healthy())
            .collect();
        let free = futures_util::future::join_all(
            healthy
                .iter()
                .map(|h| tokio::time::timeout(ASK_TIMEOUT, h.engine.unreserved_memory())),
        )
        .await;
        let mut best: Option<(i64, Host)> = None;
        for (host, free) in healthy.into_iter().zip(free) {
            let Ok(Ok(free)) = free else { continue };
            if best.as_ref().is_none_or(|(most, _)| free > *most) {
                best = Some((free, host));
            }
        }
        best.map(|(_, host)| host)
            .ok_or_else(|| ApiError::new(ErrorCode::Unavailable, "no Docker host is answering"))
    }

    /// Records where a new container lives.
    pub async fn record_container(
        &self,
        host: &Host,
        owner: &User,
        info: &ContainerInspectResponse,
        image: &str,
    ) -> Result<(), ApiError> {
        let name = info.name.as_deref().unwrap_or_default();
        sqlx::query(
            "INSERT INTO containers (id, name, host, image, owner_id, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(info.id.as_deref().unwrap_or_default())
        .bind(name.trim_start_matches('/'))
        .bind(&host.name)
        .bind(image)
        .bind(&owner.id)
        .bind(crate::db::now_s())
        .execute(&self.db)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(e) if e.is_unique_violation() => {
                ApiError::conflict(format!("a container named {name} exists"))
            }
            e => e.into(),
        })?;
        Ok(())
    }

    pub async fn forget_container(&self, id: &str) -> Result<(), ApiError> {
        sqlx::query("DELETE FROM containers WHERE id = ?")
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Whether a container name is taken on any host (names are unique across hosts). The record
    /// of a container removed behind berth's back does not keep its name.
    pub async fn name_taken(&self, name: &str) -> Result<bool, ApiError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT id, host FROM containers WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.db)
                .await?;
        let Some((id, host)) = row else {
            return Ok(false);
        };
        let Some(host) = self.named(&host) else {
            return Ok(true);
        };
        let inspected = host
            .engine
            .client()
            .await?
            .inspect_container(&id, None::<InspectContainerOptions>)
            .await;
        match inspected {
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                self.forget_container(&id).await?;
                Ok(false)
            }
            _ => Ok(true),
        }
    }

    /// Containers recorded on a host (one owner's, or all), for when it does not answer.
    pub async fn recorded_containers(
        &self,
        host: &str,
        owner: Option<&str>,
    ) -> Result<Vec<RecordedContainer>, ApiError> {
        Ok(sqlx::query_as(
            "SELECT id, name, image, owner_id FROM containers \
             WHERE host = ?1 AND (?2 IS NULL OR owner_id = ?2) ORDER BY created_at",
        )
        .bind(host)
        .bind(owner)
        .fetch_all(&self.db)
        .await?)
    }

    /// A container the user may use (see [`Engine::owned_container`]) and the host it lives
    /// on. Containers berth did not record (made before hosts existed) are looked for on `local`.
    pub async fn owned_container(
        &self,
        user: &User,
        id_or_name: &str,
    ) -> Result<(ContainerInspectResponse, Host), ApiError> {
        let recorded: Option<(String,)> = sqlx::query_as(
            "SELECT host FROM containers WHERE id = ?1 OR name = ?1 \
             OR (length(?1) >= 12 AND substr(id, 1, length(?1)) = ?1) LIMIT 1",
        )
        .bind(id_or_name)
        .fetch_optional(&self.db)
        .await?;
        let host = match recorded {
            Some((name,)) => self.get(Some(&name)).map_err(|err| match err.code {
                ErrorCode::NotFound => ApiError::not_found(format!(
                    "container {id_or_name} is on host {name}, which was removed"
                )),
                _ => err,
            })?,
            None => self.get(None)?,
        };
        let info = host.engine.owned_container(user, id_or_name).await?;
        Ok((info, host))
    }

    /// Removes every container of a user on every host (their account is going away). A host
    /// that holds some of them and does not answer stops this with `unavailable`.
    pub async fn remove_owned_by(&self, owner: &str) -> Result<(), ApiError> {
        for host in self.all() {
            if !host.engine.is_healthy() {
                if self
                    .recorded_containers(&host.name, Some(owner))
                    .await?
                    .is_empty()
                {
                    continue;
                }
                return Err(ApiError::new(
                    ErrorCode::Unavailable,
                    format!("host {} holds containers and is not answering", host.name),
                ));
            }
            host.engine.remove_owned_by(owner).await?;
        }
        Ok(())
    }

    /// Pings every host each [`HEALTH_INTERVAL`] until `stop`, so health is current without
    /// anyone asking. A host that stops or starts answering is logged once.
    pub async fn watch_health(self: Arc<Self>, stop: CancellationToken) {
        let mut ticks = tokio::time::interval(HEALTH_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let hosts = self.all();
            let before: Vec<bool> = hosts.iter().map(|h| h.engine.is_healthy()).collect();
            let answers =
                futures_util::future::join_all(hosts.iter().map(|h| h.engine.api_version())).await;
            for ((host, was), answer) in hosts.iter().zip(before).zip(answers) {
                match answer {
                    Ok(_) if !was => tracing::info!(host = %host.name, "Docker host answers again"),
                    Err(e) if was => {
                        tracing::warn!(host = %host.name, error = %e.message, "Docker host stopped answering")
                    }
                    _ => {}
                }
            }
        }
    }
}

fn require_admin(user: &User) -> Result<(), ApiError> {
    if user.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden("only admins manage Docker hosts"))
    }
}

fn require_staff(user: &User) -> Result<(), ApiError> {
    if user.is_staff() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only teachers and admins see Docker hosts",
        ))
    }
}

fn status(host: &Host, answer: Result<String, ApiError>) -> serde_json::Value {
    let mut view = serde_json::json!({
        "id": host.id, "name": host.name, "url": host.url, "tls": host.tls,
        "healthy": answer.is_ok(),
    });
    match answer {
        Ok(version) => view["api_version"] = version.into(),
        Err(err) => view["error"] = err.message.into(),
    }
    view
}

/// `GET /hosts`: every host with whether it answers now (pinged concurrently, bounded).
/// Stored hosts that could not be loaded are listed too, so that an admin can remove them.
async fn list(user: AuthUser, hosts: web::Data<Hosts>) -> Result<HttpResponse, ApiError> {
    require_staff(&user.user)?;
    let all = hosts.all();
    let answers = futures_util::future::join_all(all.iter().map(|h| h.engine.api_version())).await;
    let mut listed: Vec<_> = all
        .iter()
        .zip(answers)
        .map(|(host, answer)| status(host, answer))
        .collect();
    let stored: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id, name, url FROM hosts ORDER BY name")
            .fetch_all(&hosts.db)
            .await?;
    for (id, name, url) in stored {
        if !hosts.added.contains_key(&id) {
            listed.push(serde_json::json!({
                "id": id, "name": name, "url": url, "tls": true, "healthy": false,
                "error": "its TLS material cannot be opened (was the secret key changed?); remove it and add it again",
            }));
        }
    }
    Ok(HttpResponse::Ok().json(listed))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewHost {
    name: String,
    url: String,
    tls: Option<TlsMaterial>,
}

fn check_new_host(host: &NewHost) -> Result<(), ApiError> {
    let name_ok = (1..=32).contains(&host.name.len())
        && host
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && host.name != LOCAL
        && host.name != AUTO;
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

/// `POST /hosts`: added only once it answers; the refusal says why. TLS material is sealed
/// before it is stored.
async fn add(
    user: AuthUser,
    db: web::Data<Db>,
    hosts: web::Data<Hosts>,
    secrets: web::Data<SecretBox>,
    body: web::Json<NewHost>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&user.user)?;
    check_new_host(&body)?;
    let endpoint = Endpoint::resolve(Some(&body.url), body.tls.as_ref())
        .map_err(|why| ApiError::bad_request(format!("tls: {why}")))?;
    let engine = Arc::new(Engine::new(endpoint));
    let version = engine.api_version().await.map_err(|err| {
        ApiError::bad_request(format!("{} does not answer: {}", body.url, err.message))
    })?;
    let tls_sealed = match &body.tls {
        Some(tls) => {
            Some(secrets.seal(&serde_json::to_string(tls).map_err(|e| ApiError::internal(&e))?))
        }
        None => None,
    };
    let id = uuid::Uuid::new_v4().to_string();
    let inserted = sqlx::query(
        "INSERT INTO hosts (id, name, url, tls_sealed, created_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(&body.name)
    .bind(&body.url)
    .bind(tls_sealed)
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
    let host = Host {
        id: id.clone(),
        name: body.name.clone(),
        url: Some(body.url.clone()),
        tls: body.tls.is_some(),
        engine,
    };
    hosts.added.insert(id, host.clone());
    tracing::info!(host = %body.name, url = %body.url, tls = host.tls, "Docker host added");
    Ok(HttpResponse::Created().json(status(&host, Ok(version))))
}

/// `DELETE /hosts/{id}`: forgets the host (its containers stay on it, out of berth's reach
/// until a host of the same name is added again).
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
    let deleted = sqlx::query("DELETE FROM hosts WHERE id = ?")
        .bind(id.as_str())
        .execute(db.get_ref())
        .await?;
    hosts.added.remove(id.as_str());
    if deleted.rows_affected() == 0 {
        return Err(ApiError::not_found(format!("no such host: {id}")));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /hosts/{id}/ping`: 200 with the API version, or 503 with the reason.
async fn ping(
    user: AuthUser,
    hosts: web::Data<Hosts>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_staff(&user.user)?;
    let host = if id.as_str() == LOCAL {
        hosts.local().clone()
    } else {
        hosts
            .added
            .get(id.as_str())
            .map(|h| h.value().clone())
            .ok_or_else(|| ApiError::not_found(format!("no such host: {id}")))?
    };
    let version = host.engine.api_version().await?;
    Ok(HttpResponse::Ok().json(status(&host, Ok(version))))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/hosts", web::get().to(list))
        .route("/hosts", web::post().to(add))
        .route("/hosts/{id}", web::delete().to(remove))
        .route("/hosts/{id}/ping", web::post().to(ping));
}
