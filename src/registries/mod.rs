//! Private registries: stored credentials (checked by a login when added, encrypted at rest,
//! never returned or logged), and finding the credentials an image's pull or push needs.
//! A registry that is not an admin's reaches only what [`Egress`] allows.

pub mod egress;
mod v2;

use actix_web::{web, HttpResponse};
use bollard::auth::DockerCredentials;
use serde::{Deserialize, Serialize};

use crate::accounts::User;
use crate::auth::AuthUser;
use crate::db::Db;
use crate::error::{ApiError, ErrorCode};
use crate::secrets::SecretBox;
pub use egress::Egress;
use v2::{host_of, V2};

/// A registry as the API shows it: never with its password.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Registry {
    pub id: String,
    pub name: String,
    pub server: String,
    pub username: String,
    #[serde(skip)]
    pub password_enc: String,
    #[serde(skip)]
    pub owner_id: Option<String>,
    /// Added by an admin: may be on any network.
    #[serde(skip)]
    pub trusted: bool,
}

impl Registry {
    pub fn shared(&self) -> bool {
        self.owner_id.is_none()
    }

    /// The registry's host, as it prefixes image names (`127.0.0.1:5000`, `registry.example.com`).
    pub fn host(&self) -> &str {
        host_of(&self.server)
    }

    /// Where berth and the engine may connect for this registry.
    pub fn egress(&self, public: &Egress) -> Egress {
        if self.trusted {
            Egress::Anywhere
        } else {
            public.clone()
        }
    }

    pub fn credentials(&self, secrets: &SecretBox) -> Result<DockerCredentials, ApiError> {
        let password = secrets
            .open(&self.password_enc)
            .map_err(|e| ApiError::internal(&e))?;
        Ok(DockerCredentials {
            username: Some(self.username.clone()),
            password: Some(password),
            serveraddress: Some(self.host().to_string()),
            ..Default::default()
        })
    }
}

/// The registry host an image name starts with, if it names one (Docker's rule: the first path
/// component, when it has a dot or a port or is `localhost`).
pub fn image_host(image: &str) -> Option<&str> {
    let (first, rest) = image.split_once('/')?;
    (!rest.is_empty() && (first.contains('.') || first.contains(':') || first == "localhost"))
        .then_some(first)
}

const COLUMNS: &str = "id, name, server, username, password_enc, owner_id, trusted";

/// The registries a user may use: their own and the shared ones.
pub async fn visible(db: &Db, user: &User) -> Result<Vec<Registry>, ApiError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM registries WHERE owner_id IS NULL OR owner_id = ? ORDER BY name"
    ))
    .bind(&user.id)
    .fetch_all(db)
    .await?)
}

/// The registry to use for `image`: the one named (by id or name), else the one whose host the
/// image name starts with (the user's own before a shared one). None for public images.
pub async fn for_image(
    db: &Db,
    user: &User,
    image: &str,
    named: Option<&str>,
) -> Result<Option<Registry>, ApiError> {
    let registries = visible(db, user).await?;
    if let Some(named) = named {
        return registries
            .into_iter()
            .find(|r| r.id == named || r.name == named)
            .map(Some)
            .ok_or_else(|| ApiError::not_found(format!("no such registry: {named}")));
    }
    let Some(host) = image_host(image) else {
        return Ok(None);
    };
    let mut matching: Vec<Registry> = registries
        .into_iter()
        .filter(|r| r.host() == host)
        .collect();
    matching.sort_by_key(|r| r.shared());
    Ok(matching.into_iter().next())
}

/// Checks that the engine may be sent to the registry `image` names, for this user: admins and
/// admins' registries anywhere, everyone else only where `public` allows (the engine would
/// otherwise probe the server's own networks on a student's behalf).
pub async fn check_image_source(
    user: &User,
    image: &str,
    registry: Option<&Registry>,
    public: &Egress,
) -> Result<(), ApiError> {
    let Some(host) = image_host(image) else {
        return Ok(());
    };
    let egress = match registry {
        _ if user.is_admin() => return Ok(()),
        Some(registry) => registry.egress(public),
        None => public.clone(),
    };
    egress.check_host(host).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRegistry {
    name: String,
    server: String,
    username: String,
    password: String,
    /// Teachers and admins may add registries every user can pull from.
    #[serde(default)]
    shared: bool,
}

fn view(registry: &Registry) -> serde_json::Value {
    serde_json::json!({
        "id": registry.id,
        "name": registry.name,
        "server": registry.server,
        "username": registry.username,
        "shared": registry.shared(),
    })
}

async fn add(
    user: AuthUser,
    db: web::Data<Db>,
    secrets: web::Data<SecretBox>,
    public: web::Data<Egress>,
    body: web::Json<NewRegistry>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if body.shared && !user.user.is_staff() {
        return Err(ApiError::forbidden(
            "only teachers and admins add shared registries",
        ));
    }
    let name = body.name.trim();
    if name.is_empty() || name.len() > 64 {
        return Err(ApiError::bad_request("name must be 1-64 characters"));
    }
    let host = host_of(&body.server);
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    if !host_ok {
        return Err(ApiError::bad_request(
            "server must be a host name with an optional port",
        ));
    }
    if body.username.is_empty() || body.password.is_empty() {
        return Err(ApiError::bad_request("username and password are required"));
    }
    // An admin's registry may be anywhere; anyone else's only where the egress policy allows.
    let trusted = user.user.is_admin();
    let egress = if trusted {
        Egress::Anywhere
    } else {
        public.get_ref().clone()
    };
    egress.check_host(host).await?;
    V2::new(&body.server, &body.username, &body.password, egress)?
        .login()
        .await?;
    let id = uuid::Uuid::new_v4().to_string();
    let owner = (!body.shared).then(|| user.user.id.clone());
    let inserted = sqlx::query(
        "INSERT INTO registries \
         (id, name, server, username, password_enc, owner_id, trusted, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(name)
    .bind(body.server.trim_end_matches('/'))
    .bind(&body.username)
    .bind(secrets.seal(&body.password))
    .bind(&owner)
    .bind(trusted)
    .bind(crate::db::now_s())
    .execute(db.get_ref())
    .await;
    match inserted {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(ApiError::conflict(format!(
                "a registry named {name} exists"
            )))
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(registry = %id, %host, shared = body.shared, "registry added");
    let registry = visible(&db, &user.user)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ApiError::internal(&std::io::Error::other("registry vanished")))?;
    Ok(HttpResponse::Created().json(view(&registry)))
}

async fn list(user: AuthUser, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let registries: Vec<_> = visible(&db, &user.user).await?.iter().map(view).collect();
    Ok(HttpResponse::Ok().json(registries))
}

async fn remove(
    user: AuthUser,
    db: web::Data<Db>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let registry = visible(&db, &user.user)
        .await?
        .into_iter()
        .find(|r| r.id == *id)
        .ok_or_else(|| ApiError::not_found("no such registry"))?;
    let may = match &registry.owner_id {
        Some(owner) => *owner == user.user.id,
        None => user.user.is_staff(),
    };
    if !may {
        return Err(ApiError::forbidden(
            "only teachers and admins remove shared registries",
        ));
    }
    sqlx::query("DELETE FROM registries WHERE id = ?")
        .bind(&registry.id)
        .execute(db.get_ref())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct SearchQuery {
    q: String,
}

/// Repositories of one private registry matching `q`, with their tags.
async fn search_registry(
    registry: &Registry,
    secrets: &SecretBox,
    public: &Egress,
    q: &str,
) -> Result<Vec<serde_json::Value>, ApiError> {
    let password = secrets
        .open(&registry.password_enc)
        .map_err(|e| ApiError::internal(&e))?;
    let v2 = V2::new(
        &registry.server,
        &registry.username,
        &password,
        registry.egress(public),
    )?;
    let catalog = v2.json("/v2/_catalog?n=1000").await?;
    let mut matches: Vec<(i64, String)> = catalog["repositories"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str())
        .filter_map(|repo| {
            crate::images::match_score(q, &[repo.to_string()], "").map(|s| (s, repo.to_string()))
        })
        .collect();
    matches.sort_by_key(|m| std::cmp::Reverse(m.0));
    let mut results = Vec::new();
    for (_, repo) in matches.into_iter().take(25) {
        let tags = v2.json(&format!("/v2/{repo}/tags/list")).await.ok();
        results.push(serde_json::json!({
            "source": registry.name,
            "name": format!("{}/{repo}", registry.host()),
            "tags": tags.map(|t| t["tags"].clone()).unwrap_or(serde_json::Value::Null),
        }));
    }
    Ok(results)
}

/// `GET /registries/search?q=`: one list from Docker Hub (through the engine) and every private
/// registry the user may use. A source that fails is reported, not fatal.
async fn search(
    user: AuthUser,
    db: web::Data<Db>,
    secrets: web::Data<SecretBox>,
    hosts: web::Data<crate::hosts::Hosts>,
    public: web::Data<Egress>,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.q.trim();
    if q.is_empty() || q.len() > 100 {
        return Err(ApiError::bad_request("q must be 1-100 characters"));
    }
    let registries = visible(&db, &user.user).await?;
    let hub = async {
        let docker = hosts.get(None)?.engine.client().await?;
        let options = bollard::query_parameters::SearchImagesOptions {
            term: q.to_string(),
            limit: Some(25),
            ..Default::default()
        };
        let found = docker.search_images(options).await.map_err(|e| {
            tracing::info!(error = %crate::error::chain(&e), "Docker Hub search failed");
            ApiError::new(
                ErrorCode::Unavailable,
                "Docker Hub search failed (is the engine offline?)",
            )
        })?;
        Ok::<_, ApiError>(
            found
                .into_iter()
                .map(|item| {
                    serde_json::json!({
                        "source": "docker.io",
                        "name": item.name,
                        "description": item.description,
                        "stars": item.star_count,
                        "official": item.is_official,
                    })
                })
                .collect::<Vec<_>>(),
        )
    };
    let private = futures_util::future::join_all(
        registries
            .iter()
            .map(|r| search_registry(r, &secrets, &public, q)),
    );
    let (hub, private) = tokio::join!(hub, private);
    let mut results = Vec::new();
    let mut sources = Vec::new();
    let outcomes = std::iter::once(("docker.io".to_string(), hub))
        .chain(registries.iter().map(|r| r.name.clone()).zip(private));
    for (source, outcome) in outcomes {
        match outcome {
            Ok(found) => {
                sources
                    .push(serde_json::json!({"source": source, "ok": true, "count": found.len()}));
                results.extend(found);
            }
            Err(err) => sources
                .push(serde_json::json!({"source": source, "ok": false, "error": err.message})),
        }
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({"results": results, "sources": sources})))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/registries", web::get().to(list))
        .route("/registries/search", web::get().to(search))
        .route("/registries", web::post().to(add))
        .route("/registries/{id}", web::delete().to(remove));
}

#[cfg(test)]
mod tests {
    use super::image_host;

    #[test]
    fn image_hosts_follow_dockers_rule() {
        assert_eq!(
            image_host("127.0.0.1:5000/team/app:1"),
            Some("127.0.0.1:5000")
        );
        assert_eq!(
            image_host("registry.example.com/app"),
            Some("registry.example.com")
        );
        assert_eq!(image_host("localhost/app"), Some("localhost"));
        assert_eq!(image_host("library/busybox"), None);
        assert_eq!(image_host("busybox:1"), None);
    }
}
