//! Private registries: stored credentials (checked by a login when added, encrypted at rest,
//! never returned or logged), and finding the credentials an image's pull or push needs.

use actix_web::{web, HttpResponse};
use bollard::auth::DockerCredentials;
use serde::{Deserialize, Serialize};

use crate::accounts::{Role, User};
use crate::auth::AuthUser;
use crate::db::Db;
use crate::error::{ApiError, ErrorCode};
use crate::secrets::SecretBox;

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
}

impl Registry {
    pub fn shared(&self) -> bool {
        self.owner_id.is_none()
    }

    /// The registry's host, as it prefixes image names (`127.0.0.1:5000`, `registry.example.com`).
    pub fn host(&self) -> &str {
        host_of(&self.server)
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

fn host_of(server: &str) -> &str {
    server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
}

/// The registry host an image name starts with, if it names one (Docker's rule: the first path
/// component, when it has a dot or a port or is `localhost`).
pub fn image_host(image: &str) -> Option<&str> {
    let (first, rest) = image.split_once('/')?;
    (!rest.is_empty() && (first.contains('.') || first.contains(':') || first == "localhost"))
        .then_some(first)
}

const COLUMNS: &str = "id, name, server, username, password_enc, owner_id";

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

/// Logs in to the registry's v2 API as `docker login` does: basic auth on `/v2/`, or, when the
/// registry answers with a bearer challenge, on its token service.
async fn check_login(server: &str, username: &str, password: &str) -> Result<(), ApiError> {
    let host = host_of(server);
    let loopback = host.starts_with("localhost") || host.starts_with("127.");
    let base = if server.starts_with("http://") || (loopback && !server.starts_with("https://")) {
        format!("http://{host}")
    } else {
        format!("https://{host}")
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| ApiError::internal(&e))?;
    let unreachable = |e: reqwest::Error| {
        tracing::info!(error = %crate::error::chain(&e), %host, "registry unreachable");
        ApiError::new(
            ErrorCode::Unavailable,
            format!("registry {host} does not answer"),
        )
    };
    let ping = client
        .get(format!("{base}/v2/"))
        .basic_auth(username, Some(password))
        .send()
        .await
        .map_err(unreachable)?;
    let status = ping.status();
    if status.is_success() {
        return Ok(());
    }
    let challenge = ping
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if status == reqwest::StatusCode::UNAUTHORIZED && challenge.starts_with("Bearer ") {
        let param = |key: &str| {
            challenge
                .split(',')
                .find_map(|part| {
                    part.trim()
                        .trim_start_matches("Bearer ")
                        .strip_prefix(&format!("{key}="))
                })
                .map(|v| v.trim_matches('"').to_string())
        };
        if let Some(realm) = param("realm") {
            let mut request = client.get(&realm).basic_auth(username, Some(password));
            if let Some(service) = param("service") {
                request = request.query(&[("service", service)]);
            }
            let token = request.send().await.map_err(unreachable)?;
            if token.status().is_success() {
                return Ok(());
            }
        }
    }
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        Err(ApiError::bad_request(format!(
            "registry {host} refused these credentials"
        )))
    } else {
        Err(ApiError::bad_request(format!(
            "{host} does not answer as a registry ({status})"
        )))
    }
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
    body: web::Json<NewRegistry>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if body.shared && user.user.role == Role::Student {
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
    check_login(&body.server, &body.username, &body.password).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let owner = (!body.shared).then(|| user.user.id.clone());
    let inserted = sqlx::query(
        "INSERT INTO registries (id, name, server, username, password_enc, owner_id, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(name)
    .bind(body.server.trim_end_matches('/'))
    .bind(&body.username)
    .bind(secrets.seal(&body.password))
    .bind(&owner)
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
        None => user.user.role != Role::Student,
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

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/registries", web::get().to(list))
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
