//! Accounts: the users table and the `/auth` and `/me` endpoints.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::auth::{password, AuthState, AuthUser};
use crate::db::Db;
use crate::error::ApiError;
use crate::hosts::Hosts;
use crate::session::Sessions;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Teacher,
    Student,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Teacher => "teacher",
            Role::Student => "student",
        }
    }
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "teacher" => Some(Role::Teacher),
            "student" => Some(Role::Student),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub role: Role,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Teachers and admins: they manage images, builds, hosts and shared registries.
    pub fn is_staff(&self) -> bool {
        self.role != Role::Student
    }

    /// Refuses a student; `doing` says what only teachers and admins do ("push images").
    pub fn require_staff(&self, doing: &str) -> Result<(), ApiError> {
        if self.is_staff() {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "only teachers and admins {doing}"
            )))
        }
    }

    /// Refuses anyone but an admin; `doing` says what only admins do.
    pub fn require_admin(&self, doing: &str) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("only admins {doing}")))
        }
    }
}

/// A username that is 3–32 characters of letters, digits, `.`, `_` or `-`.
pub fn parse_username(name: &str) -> Result<String, ApiError> {
    let ok = (3..=32).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(name.to_string())
    } else {
        Err(ApiError::bad_request(
            "username must be 3-32 characters of letters, digits, '.', '_' or '-'",
        ))
    }
}

pub fn check_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < password::MIN_LEN {
        return Err(ApiError::bad_request(format!(
            "password must be at least {} characters",
            password::MIN_LEN
        )));
    }
    if password.len() > password::MAX_LEN {
        return Err(ApiError::bad_request("password is too long"));
    }
    Ok(())
}

fn user_from_row(row: (String, String, String)) -> Result<User, ApiError> {
    let role = Role::parse(&row.2)
        .ok_or_else(|| ApiError::internal(&std::io::Error::other("unknown role in database")))?;
    Ok(User {
        id: row.0,
        username: row.1,
        role,
    })
}

pub async fn find_by_id(db: &Db, id: &str) -> Result<Option<User>, ApiError> {
    let row: Option<(String, String, String)> =
        sqlx::query_as("SELECT id, username, role FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(db)
            .await?;
    row.map(user_from_row).transpose()
}

/// Creates an account; a taken username is a conflict.
pub async fn create(db: &Db, username: &str, password: &str, role: Role) -> Result<User, ApiError> {
    let username = parse_username(username)?;
    check_password(password)?;
    let hash = password::hash(password.to_string())
        .await
        .map_err(|e| ApiError::internal(&std::io::Error::other(e.to_string())))?;
    let id = uuid::Uuid::new_v4().to_string();
    let result = sqlx::query(
        "INSERT INTO users (id, username, password_hash, role, created_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(&username)
    .bind(&hash)
    .bind(role.as_str())
    .bind(crate::db::now_s())
    .execute(db)
    .await;
    match result {
        Ok(_) => Ok(User { id, username, role }),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(ApiError::conflict("that username is taken"))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

async fn register(
    db: web::Data<Db>,
    body: web::Json<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let user = create(&db, &body.username, &body.password, Role::Student).await?;
    tracing::info!(user = %user.id, username = %user.username, "account registered");
    Ok(HttpResponse::Created().json(user))
}

async fn login(
    req: HttpRequest,
    db: web::Data<Db>,
    auth: web::Data<AuthState>,
    body: web::Json<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let ip = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    auth.check_login_allowed(&body.username, &ip)?;
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE username = ?")
            .bind(&body.username)
            .fetch_optional(db.get_ref())
            .await?;
    let (id, hash) = match row {
        Some((id, hash)) => (Some(id), Some(hash)),
        None => (None, None),
    };
    let valid = password::verify(body.password.clone(), hash).await;
    let Some(id) = id.filter(|_| valid) else {
        auth.record_login_failure(&body.username, &ip);
        tracing::info!(username = %body.username, %ip, "login refused");
        return Err(ApiError::new(
            crate::error::ErrorCode::Unauthorized,
            "wrong username or password",
        ));
    };
    auth.record_login_success(&body.username);
    let (token, _) = auth.keys.issue(&id).map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": auth.keys.ttl_s,
    })))
}

async fn logout(
    user: AuthUser,
    db: web::Data<Db>,
    auth: web::Data<AuthState>,
    sessions: web::Data<Sessions>,
) -> Result<HttpResponse, ApiError> {
    auth.revoke(&db, &user.claims).await?;
    sessions.close_token(&user.claims.jti);
    Ok(HttpResponse::NoContent().finish())
}

async fn me(user: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(user.user)
}

/// Deletes the caller's account: its sessions close, its containers are removed.
async fn delete_me(
    user: AuthUser,
    db: web::Data<Db>,
    auth: web::Data<AuthState>,
    sessions: web::Data<Sessions>,
    hosts: web::Data<Hosts>,
) -> Result<HttpResponse, ApiError> {
    sessions.close_user(&user.user.id);
    hosts.remove_owned_by(&user.user.id).await?;
    sqlx::query("DELETE FROM users WHERE id = ?")
        .bind(&user.user.id)
        .execute(db.get_ref())
        .await?;
    auth.revoke(&db, &user.claims).await?;
    tracing::info!(user = %user.user.id, "account deleted");
    Ok(HttpResponse::NoContent().finish())
}

async fn ws_ticket(user: AuthUser, auth: web::Data<AuthState>) -> HttpResponse {
    let ticket = auth.issue_ticket(&user);
    HttpResponse::Ok().json(serde_json::json!({
        "ticket": ticket,
        "expires_in": auth.ticket_ttl.as_secs(),
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/register", web::post().to(register))
        .route("/auth/login", web::post().to(login))
        .route("/auth/logout", web::post().to(logout))
        .route("/me", web::get().to(me))
        .route("/me", web::delete().to(delete_me))
        .route("/ws/ticket", web::post().to(ws_ticket));
}
