//! Docker hosts: `local` (the settings' engine) and the ones admins add, each with its own lazily
//! connected, version-negotiated client. A host is only added once it answers; a background ping
//! keeps each host's health current, and work for a host that stopped answering is refused at
//! once (`unavailable`) instead of waiting on it. [`Hosts`] keeps the `hosts` table and its map
//! of live clients in step; nothing else writes either.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio_util::sync::CancellationToken;

use crate::db::{self, Db};
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

/// One Docker host and the client of its engine.
#[derive(Clone)]
pub struct Host {
    pub id: String,
    pub name: String,
    pub url: Option<String>,
    pub tls: bool,
    pub engine: Arc<Engine>,
}

/// Every Docker host berth works with, by name; the `hosts` table and the live clients.
pub struct Hosts {
    db: Db,
    local: Host,
    /// Added hosts by id.
    added: DashMap<String, Host>,
}

/// A stored host that could not be loaded (its TLS material does not open), so that an admin
/// can see and remove it.
pub struct Unloadable {
    pub id: String,
    pub name: String,
    pub url: String,
}

/// What an admin gives to add a host.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHost {
    pub name: String,
    pub url: String,
    pub tls: Option<TlsMaterial>,
}

impl NewHost {
    fn check(&self) -> Result<(), ApiError> {
        let name_ok = (1..=32).contains(&self.name.len())
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && self.name != LOCAL
            && self.name != AUTO;
        if !name_ok {
            return Err(ApiError::bad_request(
                "name must be 1-32 lowercase letters, digits or '-', and not 'local' or 'auto'",
            ));
        }
        let url_ok = match self.url.split_once("://") {
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
}

/// The host a stored row describes, its TLS material opened; its containers are made by
/// `installation`.
fn open(row: db::hosts::HostRow, secrets: &SecretBox, installation: &str) -> Result<Host, String> {
    let tls = row
        .tls_sealed
        .map(|sealed| {
            let plain = secrets.open(&sealed).map_err(|e| e.to_string())?;
            serde_json::from_str::<TlsMaterial>(&plain).map_err(|e| e.to_string())
        })
        .transpose()?;
    let endpoint = Endpoint::resolve(Some(&row.url), tls.as_ref())?;
    Ok(Host {
        id: row.id,
        name: row.name,
        tls: matches!(endpoint, Endpoint::Tls { .. }),
        url: Some(row.url),
        engine: Arc::new(Engine::new(endpoint, installation)),
    })
}

impl Hosts {
    /// `local` plus every host stored in the database. A host whose TLS material cannot be
    /// opened (the secret key changed) is left out with an error in the log.
    pub async fn load(db: &Db, secrets: &SecretBox, local: Arc<Engine>) -> anyhow::Result<Hosts> {
        let local = Host {
            id: LOCAL.to_string(),
            name: LOCAL.to_string(),
            url: None,
            tls: false,
            engine: local,
        };
        let hosts = Hosts {
            db: db.clone(),
            local,
            added: DashMap::new(),
        };
        hosts.reload(secrets).await?;
        Ok(hosts)
    }

    /// Brings the added hosts up to the stored ones: another replica added or removed one.
    /// A host already loaded keeps its engine client.
    pub async fn reload(&self, secrets: &SecretBox) -> Result<(), sqlx::Error> {
        let rows = db::hosts::all(&self.db).await?;
        self.added
            .retain(|id, _| rows.iter().any(|row| row.id == *id));
        for row in rows {
            if self.added.contains_key(&row.id) {
                continue;
            }
            let name = row.name.clone();
            match open(row, secrets, self.local.engine.installation()) {
                Ok(host) => {
                    tracing::info!(host = %host.name, url = ?host.url, "Docker host loaded");
                    self.added.insert(host.id.clone(), host);
                }
                Err(why) => tracing::error!(
                    host = %name, error = %why,
                    "Docker host cannot be loaded; remove it and add it again"
                ),
            }
        }
        Ok(())
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

    /// The host named `name`, answering or not.
    pub fn named(&self, name: &str) -> Option<Host> {
        if name == LOCAL {
            return Some(self.local.clone());
        }
        self.added
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.value().clone())
    }

    /// The host with this id, answering or not.
    pub fn by_id(&self, id: &str) -> Option<Host> {
        if id == LOCAL {
            return Some(self.local.clone());
        }
        self.added.get(id).map(|h| h.value().clone())
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

    /// Adds a host once it answers (the refusal says why), with its TLS material sealed at
    /// rest; returns it with its engine's API version.
    pub async fn add(
        &self,
        new: &NewHost,
        secrets: &SecretBox,
    ) -> Result<(Host, String), ApiError> {
        new.check()?;
        let endpoint = Endpoint::resolve(Some(&new.url), new.tls.as_ref())
            .map_err(|why| ApiError::bad_request(format!("tls: {why}")))?;
        let engine = Arc::new(Engine::new(endpoint, self.local.engine.installation()));
        let version = engine.api_version().await.map_err(|err| {
            ApiError::bad_request(format!("{} does not answer: {}", new.url, err.message))
        })?;
        let tls_sealed = match &new.tls {
            Some(tls) => {
                Some(secrets.seal(&serde_json::to_string(tls).map_err(|e| ApiError::internal(&e))?))
            }
            None => None,
        };
        let row = db::hosts::HostRow {
            id: uuid::Uuid::new_v4().to_string(),
            name: new.name.clone(),
            url: new.url.clone(),
            tls_sealed,
        };
        db::hosts::insert(&self.db, &row, crate::clock::now_s())
            .await
            .map_err(db::conflict_on_unique(format!(
                "a host named {} exists",
                new.name
            )))?;
        let host = Host {
            id: row.id.clone(),
            name: row.name,
            url: Some(row.url),
            tls: new.tls.is_some(),
            engine,
        };
        self.added.insert(row.id, host.clone());
        tracing::info!(host = %host.name, url = ?host.url, tls = host.tls, "Docker host added");
        Ok((host, version))
    }

    /// Forgets a host (its containers stay on it, out of berth's reach until a host of the
    /// same name is added again).
    pub async fn remove(&self, id: &str) -> Result<(), ApiError> {
        if id == LOCAL {
            return Err(ApiError::bad_request(
                "the local host comes from the settings",
            ));
        }
        let deleted = db::hosts::delete(&self.db, id).await?;
        self.added.remove(id);
        if !deleted {
            return Err(ApiError::not_found(format!("no such host: {id}")));
        }
        Ok(())
    }

    /// Stored hosts that could not be loaded.
    pub async fn unloadable(&self) -> Result<Vec<Unloadable>, ApiError> {
        Ok(db::hosts::all(&self.db)
            .await?
            .into_iter()
            .filter(|row| !self.added.contains_key(&row.id))
            .map(|row| Unloadable {
                id: row.id,
                name: row.name,
                url: row.url,
            })
            .collect())
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
                if answer.is_err() {
                    crate::metrics::metrics().engine_error(&host.name);
                }
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
