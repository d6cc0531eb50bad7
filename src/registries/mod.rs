//! Private registries: stored credentials (checked by a login when added, encrypted at rest,
//! never returned or logged), finding the credentials an image's pull or push needs, and search.
//! A registry that is not an admin's reaches only what [`Egress`] allows. Handlers are in
//! `routes::registries`.

pub mod egress;
pub mod search;
mod v2;

use std::collections::HashSet;
use std::sync::Arc;

use bollard::auth::DockerCredentials;
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::db::{self, Db};
use crate::docker::images::{self, canonical_host, ImageRef, DOCKER_HUB};
use crate::docker::Engine;
use crate::error::ApiError;
use crate::secrets::SecretBox;
use crate::users::User;
pub use egress::Egress;
use v2::{host_of, V2};

/// A stored registry. Its password stays sealed; the API shows [`RegistryView`].
#[derive(Debug, Clone)]
pub struct Registry {
    pub id: String,
    pub name: String,
    pub server: String,
    pub username: String,
    password_enc: String,
    owner_id: Option<String>,
    /// Added by an admin: may be on any network.
    trusted: bool,
}

/// A registry as the API shows it: never with its password.
#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct RegistryView {
    id: String,
    name: String,
    server: String,
    username: String,
    shared: bool,
}

impl From<db::registries::RegistryRow> for Registry {
    fn from(row: db::registries::RegistryRow) -> Self {
        Registry {
            id: row.id,
            name: row.name,
            server: row.server,
            username: row.username,
            password_enc: row.password_enc,
            owner_id: row.owner_id,
            trusted: row.trusted,
        }
    }
}

impl Registry {
    /// Usable by everyone (added by a teacher or admin as shared).
    pub fn shared(&self) -> bool {
        self.owner_id.is_none()
    }

    /// The registry's host, as it prefixes image names (`127.0.0.1:5000`, `registry.example.com`).
    pub fn host(&self) -> &str {
        host_of(&self.server)
    }

    /// The host as the engine compares it (case, default port, Docker Hub's aliases).
    pub fn canonical_host(&self) -> String {
        canonical_host(self.host())
    }

    pub fn view(&self) -> RegistryView {
        RegistryView {
            id: self.id.clone(),
            name: self.name.clone(),
            server: self.server.clone(),
            username: self.username.clone(),
            shared: self.shared(),
        }
    }

    /// Where berth and the engine may connect for this registry.
    pub fn egress(&self, public: &Egress) -> Egress {
        if self.trusted {
            Egress::Anywhere
        } else {
            public.clone()
        }
    }
}

/// What a user gives to add a registry.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRegistry {
    pub name: String,
    pub server: String,
    pub username: String,
    pub password: String,
    /// Teachers and admins may add registries every user can pull from.
    #[serde(default)]
    pub shared: bool,
}

/// One repository a search found.
#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Found {
    pub source: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub tags: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub stars: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub official: Option<bool>,
}

/// The stored registries, their sealed passwords, and where non-admins' registries may reach.
pub struct Registries {
    db: Db,
    secrets: Arc<SecretBox>,
    public: Egress,
    /// Hosts (canonical) that non-admins' pulls may name besides Docker Hub and the registries
    /// an admin added: `registries.allowed_hosts`.
    allowed_hosts: HashSet<String>,
}

impl Registries {
    pub fn new(
        db: Db,
        secrets: Arc<SecretBox>,
        public: Egress,
        allowed_hosts: &[String],
    ) -> Registries {
        Registries {
            db,
            secrets,
            public,
            allowed_hosts: allowed_hosts.iter().map(|h| canonical_host(h)).collect(),
        }
    }

    /// The registries a user may use: their own and the shared ones.
    pub async fn visible(&self, user: &User) -> Result<Vec<Registry>, ApiError> {
        Ok(db::registries::visible_to(&self.db, &user.id)
            .await?
            .into_iter()
            .map(Registry::from)
            .collect())
    }

    /// The registry to use for `image`: the one named (by id or name), which must be the
    /// image's own registry, else the one whose host the image name starts with (the user's own
    /// before a shared one). None for images of hosts with no stored login.
    pub async fn for_image(
        &self,
        user: &User,
        image: &ImageRef,
        named: Option<&str>,
    ) -> Result<Option<Registry>, ApiError> {
        let registries = self.visible(user).await?;
        let host = image.registry_host();
        if let Some(named) = named {
            let registry = registries
                .into_iter()
                .find(|r| r.id == named || r.name == named)
                .ok_or_else(|| ApiError::not_found(format!("no such registry: {named}")))?;
            // Its login goes to its own host only, whatever host the image names.
            if host.as_deref() != Some(registry.canonical_host().as_str()) {
                return Err(ApiError::bad_request(format!(
                    "registry {} is {}, but {image} is on {}: a registry's login is only sent \
                     to its own host",
                    registry.name,
                    registry.host(),
                    host.as_deref().unwrap_or("no registry")
                )));
            }
            return Ok(Some(registry));
        }
        let Some(host) = host else {
            return Ok(None);
        };
        let mut matching: Vec<Registry> = registries
            .into_iter()
            .filter(|r| r.canonical_host() == host)
            .collect();
        matching.sort_by_key(|r| r.shared());
        Ok(matching.into_iter().next())
    }

    /// Refuses to send the engine to `image`'s registry on a non-admin's behalf unless that
    /// registry is Docker Hub, a registry an admin added, or in `registries.allowed_hosts`.
    /// The engine resolves names and follows redirects and token services by itself, beyond
    /// what berth can check, so only hosts an admin vouched for are named to it.
    pub async fn check_engine_may_reach(
        &self,
        user: &User,
        image: &ImageRef,
    ) -> Result<(), ApiError> {
        let Some(host) = image.registry_host() else {
            return Ok(());
        };
        if user.is_admin() || host == DOCKER_HUB || self.allowed_hosts.contains(&host) {
            return Ok(());
        }
        let vouched = db::registries::all(&self.db)
            .await?
            .into_iter()
            .map(Registry::from)
            .any(|r| r.trusted && r.canonical_host() == host);
        if vouched {
            return Ok(());
        }
        Err(ApiError::forbidden(format!(
            "{image} is on {host}: images come only from Docker Hub, registries an admin added, \
             and the hosts an admin lists in registries.allowed_hosts"
        )))
    }

    /// Refuses a URL on a network that non-admins' connections may not reach (the engine
    /// fetches it: an `ADD <url>` of a build).
    pub async fn check_url(&self, url: &url::Url) -> Result<(), ApiError> {
        let host = url
            .host_str()
            .ok_or_else(|| ApiError::bad_request(format!("{url} names no host")))?;
        let port = url.port_or_known_default().unwrap_or(80);
        self.public
            .check_host(&format!("{host}:{port}"))
            .await
            .map_err(|e| ApiError::new(e.code, format!("ADD {url}: {}", e.message)))
    }

    /// The credentials for pulling `image` (None where no login is stored), once it is clear
    /// that the engine may be sent to the image's registry for this user.
    pub async fn pull_credentials(
        &self,
        user: &User,
        image: &ImageRef,
        named: Option<&str>,
    ) -> Result<Option<DockerCredentials>, ApiError> {
        let registry = self.for_image(user, image, named).await?;
        self.check_engine_may_reach(user, image).await?;
        registry.map(|r| self.credentials(&r)).transpose()
    }

    /// The credentials of a registry to push to, checked as [`Registries::pull_credentials`].
    pub async fn push_credentials(
        &self,
        user: &User,
        registry: &Registry,
        target: &ImageRef,
    ) -> Result<DockerCredentials, ApiError> {
        self.check_engine_may_reach(user, target).await?;
        if target.registry_host().as_deref() != Some(registry.canonical_host().as_str()) {
            return Err(ApiError::bad_request(format!(
                "{target} is not on registry {}",
                registry.name
            )));
        }
        self.credentials(registry)
    }

    /// Remembers that `image` was pulled with the login of `host`, so that it stays that
    /// registry's under any other name and in images built on it.
    pub async fn record_pull(&self, engine: &Engine, image: &ImageRef, host: &str) {
        if canonical_host(host) == DOCKER_HUB {
            return;
        }
        let recorded = async {
            let Some(found) = engine.find_image(image).await? else {
                return Ok(());
            };
            if let Some(chain) = images::layer_chains(&found).last() {
                db::images::record_source(&self.db, chain, &canonical_host(host), clock::now_s())
                    .await?;
            }
            Ok::<_, ApiError>(())
        };
        if let Err(err) = recorded.await {
            tracing::warn!(%image, error = %err.message, "could not record where an image came from");
        }
    }

    /// Refuses an image that came from a registry whose stored login `user` may not use: by the
    /// host its name points to, the hosts of its other names, and the registries its layers
    /// were pulled from (so a new tag or an image built on it does not launder it). Admins use
    /// any image; everyone else uses such images only through a template made by someone who
    /// may (see `workspaces`).
    pub async fn check_may_use(
        &self,
        user: &User,
        engine: &Engine,
        image: &ImageRef,
    ) -> Result<(), ApiError> {
        if user.is_admin() {
            return Ok(());
        }
        let mut hosts: HashSet<String> = image.registry_host().into_iter().collect();
        if let Some(found) = engine.find_image(image).await? {
            hosts.extend(images::named_hosts(&found));
            let chains = images::layer_chains(&found);
            hosts.extend(db::images::sources_of(&self.db, &chains).await?);
        }
        let stored: Vec<Registry> = db::registries::all(&self.db)
            .await?
            .into_iter()
            .map(Registry::from)
            .collect();
        // Docker Hub is public: a stored Hub login (against its rate limits) makes no image
        // private, so private images belong on a private registry.
        hosts.remove(DOCKER_HUB);
        for host in hosts {
            let logins: Vec<&Registry> = stored
                .iter()
                .filter(|r| r.canonical_host() == host)
                .collect();
            let usable = |r: &&Registry| r.shared() || r.owner_id.as_deref() == Some(&user.id);
            if !logins.is_empty() && !logins.iter().any(usable) {
                return Err(ApiError::forbidden(format!(
                    "{image} comes from {host}, a private registry whose login you may not use; \
                     a teacher can offer it through a template"
                )));
            }
        }
        Ok(())
    }

    fn credentials(&self, registry: &Registry) -> Result<DockerCredentials, ApiError> {
        Ok(DockerCredentials {
            username: Some(registry.username.clone()),
            password: Some(self.password(registry)?),
            serveraddress: Some(registry.host().to_string()),
            ..Default::default()
        })
    }

    fn password(&self, registry: &Registry) -> Result<String, ApiError> {
        self.secrets
            .open(&registry.password_enc)
            .map_err(|e| ApiError::internal(&e))
    }

    /// Adds a registry once a login with its credentials works. An admin's may be anywhere;
    /// anyone else's only where the egress policy allows.
    pub async fn add(&self, user: &User, new: NewRegistry) -> Result<Registry, ApiError> {
        if new.shared {
            user.require_staff("add shared registries")?;
        }
        let name = new.name.trim();
        if name.is_empty() || name.len() > 64 {
            return Err(ApiError::bad_request("name must be 1-64 characters"));
        }
        let host = host_of(&new.server);
        let host_ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
        if !host_ok {
            return Err(ApiError::bad_request(
                "server must be a host name with an optional port",
            ));
        }
        if new.username.is_empty() || new.password.is_empty() {
            return Err(ApiError::bad_request("username and password are required"));
        }
        let trusted = user.is_admin();
        let egress = if trusted {
            Egress::Anywhere
        } else {
            self.public.clone()
        };
        egress.check_host(host).await?;
        V2::new(&new.server, &new.username, &new.password, egress)?
            .login()
            .await?;
        let row = db::registries::RegistryRow {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            server: new.server.trim_end_matches('/').to_string(),
            username: new.username,
            password_enc: self.secrets.seal(&new.password),
            owner_id: (!new.shared).then(|| user.id.clone()),
            trusted,
        };
        db::registries::insert(&self.db, &row, crate::clock::now_s())
            .await
            .map_err(db::conflict_on_unique(format!(
                "a registry named {name} exists"
            )))?;
        tracing::info!(registry = %row.id, %host, shared = new.shared, "registry added");
        Ok(Registry::from(row))
    }

    /// Removes a registry: one's own, or a shared one for teachers and admins.
    pub async fn remove(&self, user: &User, id: &str) -> Result<(), ApiError> {
        let registry = self
            .visible(user)
            .await?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| ApiError::not_found("no such registry"))?;
        // Visible means the user's own, or shared.
        if registry.shared() {
            user.require_staff("remove shared registries")?;
        }
        db::registries::delete(&self.db, &registry.id).await?;
        Ok(())
    }

    /// Repositories of one private registry matching `q`, with their tags.
    pub async fn search(&self, registry: &Registry, q: &str) -> Result<Vec<Found>, ApiError> {
        let v2 = V2::new(
            &registry.server,
            &registry.username,
            &self.password(registry)?,
            registry.egress(&self.public),
        )?;
        let catalog = v2.json("/v2/_catalog?n=1000").await?;
        let mut matches: Vec<(i64, String)> = catalog["repositories"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str())
            .filter_map(|repo| {
                crate::fuzzy::match_score(q, &[repo.to_string()], "").map(|s| (s, repo.to_string()))
            })
            .collect();
        matches.sort_by_key(|m| std::cmp::Reverse(m.0));
        let mut results = Vec::new();
        for (_, repo) in matches.into_iter().take(25) {
            let tags = v2.json(&format!("/v2/{repo}/tags/list")).await.ok();
            results.push(Found {
                source: registry.name.clone(),
                name: format!("{}/{repo}", registry.host()),
                tags: Some(tags.map(|t| t["tags"].clone()).unwrap_or_default()),
                description: None,
                stars: None,
                official: None,
            });
        }
        Ok(results)
    }
}
