//! Accounts: registering, signing in (throttled per account and client address), signing out,
//! and deleting an account with everything it owns.

use std::net::IpAddr;

use serde::Serialize;

use crate::assignments::submissions::Snapshots;
use crate::auth::{AuthState, Claims};
use crate::containers::Containers;
use crate::db::{self, Db};
use crate::error::{ApiError, ErrorCode};
use crate::live_sessions::Sessions;
use crate::users::{self, password, Role, User};
use crate::workspaces::Workspaces;

/// A signed-in caller's bearer token.
#[derive(Serialize, ts_rs::TS)]
pub struct LoggedIn {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
}

/// A new student account (open registration).
pub async fn register(db: &Db, username: &str, password: &str) -> Result<User, ApiError> {
    let user = users::create(db, username, password, Role::Student).await?;
    tracing::info!(user = %user.id, username = %user.username, "account registered");
    Ok(user)
}

/// A token for `username` if `password` is theirs and neither the account nor `client` is
/// throttled. A wrong password and an unknown name take as long and answer alike.
pub async fn login(
    db: &Db,
    auth: &AuthState,
    username: &str,
    password: &str,
    client: IpAddr,
) -> Result<LoggedIn, ApiError> {
    auth.logins.check(username, client)?;
    let (id, hash) = match db::users::credentials(db, username).await? {
        Some((id, hash)) => (Some(id), Some(hash)),
        None => (None, None),
    };
    // Verified (slowly) even when there is no such account, so timing tells nothing.
    let valid = password::verify(password.to_string(), hash).await;
    let Some(id) = id.filter(|_| valid) else {
        auth.logins.failed(username, client);
        tracing::info!(username, %client, "login refused");
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "wrong username or password",
        ));
    };
    auth.logins.succeeded(username, client);
    let (access_token, _) = auth.keys.issue(&id).map_err(|e| ApiError::internal(&e))?;
    Ok(LoggedIn {
        access_token,
        token_type: "Bearer",
        expires_in: auth.keys.ttl_s,
    })
}

/// Revokes the caller's token and closes the sessions opened with it.
pub async fn logout(
    db: &Db,
    auth: &AuthState,
    sessions: &Sessions,
    claims: &Claims,
) -> Result<(), ApiError> {
    auth.revoke(db, claims).await?;
    sessions.close_token(&claims.jti);
    Ok(())
}

/// What deleting an account has to reach.
pub struct Owned<'a> {
    pub db: &'a Db,
    pub auth: &'a AuthState,
    pub sessions: &'a Sessions,
    pub workspaces: &'a Workspaces,
    pub containers: &'a Containers,
    pub snapshots: Snapshots<'a>,
}

/// Deletes `user`'s account: its sessions close, its workspaces (files included) and its
/// containers are removed, then the account, its submissions' snapshots (a teacher's: those of
/// its courses) and the token it used.
pub async fn delete(owned: Owned<'_>, user: &User, claims: &Claims) -> Result<(), ApiError> {
    owned.sessions.close_user(&user.id);
    owned.workspaces.remove_all_of(&user.id).await?;
    owned.containers.remove_all_of(&user.id).await?;
    db::users::delete(owned.db, &user.id).await?;
    // Its submissions' rows went with it (a teacher's: its courses' assignments); their files go
    // now.
    owned.snapshots.sweep(owned.db).await?;
    owned.auth.revoke(owned.db, claims).await?;
    tracing::info!(user = %user.id, "account deleted");
    Ok(())
}
