//! Accounts: registering, signing in (throttled per account and client address), signing out,
//! and deleting an account with everything it owns.

use std::net::IpAddr;

use crate::assignments::submissions::Snapshots;
use crate::audit::Audit;
use crate::auth::{AuthState, Claims, LoggedIn};
use crate::config::Registration;
use crate::containers::Containers;
use crate::db::{self, Db};
use crate::error::{ApiError, ErrorCode};
use crate::events::{Event, Events};
use crate::live_sessions::Sessions;
use crate::sso::Sso;
use crate::users::{self, password, Role, User};
use crate::workspaces::Workspaces;

/// A new student account, when `auth.registration` is `open`.
pub async fn register(
    db: &Db,
    registration: Registration,
    username: &str,
    password: &str,
) -> Result<User, ApiError> {
    if registration != Registration::Open {
        return Err(ApiError::forbidden(
            "registration is closed: sign in with your institution's account, or ask an admin",
        ));
    }
    let user = users::create(db, username, password, Role::Student).await?;
    tracing::info!(user = %user.id, username = %user.username, "account registered");
    Ok(user)
}

/// A token for `username` if `password` is theirs and neither the account nor `client` is
/// throttled. A local account checks its own password; anyone else is asked of the LDAP
/// directory when there is one (and gets an account at their first sign-in). A wrong password
/// and an unknown name answer alike.
pub async fn login(
    db: &Db,
    auth: &AuthState,
    audit: &Audit,
    sso: &Sso,
    username: &str,
    password: &str,
    client: IpAddr,
) -> Result<LoggedIn, ApiError> {
    auth.logins.check(db, username, client).await?;
    let account = db::users::credentials(db, username).await?;
    let signed_in = match (account, &sso.ldap) {
        (Some(local), _) if local.source == "local" => {
            let valid = password::verify(password.to_string(), Some(local.password_hash)).await;
            valid.then(|| auth.sign_in(&local.id)).transpose()?
        }
        (None, Some(directory)) => {
            ldap_sign_in(db, auth, audit, sso, directory, username, password).await?
        }
        (Some(theirs), Some(directory)) if theirs.source == "ldap" => {
            ldap_sign_in(db, auth, audit, sso, directory, username, password).await?
        }
        // No such account, or one that signs in elsewhere: verified (slowly) against nothing,
        // so that timing tells nothing.
        _ => {
            password::verify(password.to_string(), None).await;
            None
        }
    };
    let Some(signed_in) = signed_in else {
        auth.logins.failed(db, username, client).await?;
        tracing::info!(username, %client, "login refused");
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "wrong username or password",
        ));
    };
    auth.logins.succeeded(db, username, client).await?;
    Ok(signed_in)
}

/// A token for the directory's `username`, if `password` binds; `None` if it does not.
async fn ldap_sign_in(
    db: &Db,
    auth: &AuthState,
    audit: &Audit,
    sso: &Sso,
    directory: &crate::sso::ldap::Directory,
    username: &str,
    password: &str,
) -> Result<Option<LoggedIn>, ApiError> {
    match directory.authenticate(username, password).await? {
        Some(who) => crate::sso::sign_in(db, auth, audit, sso.registration, who)
            .await
            .map(Some),
        None => Ok(None),
    }
}

/// Revokes the caller's token and closes the sessions opened with it: here at once, on the
/// other replicas when they hear of it.
pub async fn logout(
    db: &Db,
    auth: &AuthState,
    sessions: &Sessions,
    events: &Events,
    claims: &Claims,
) -> Result<(), ApiError> {
    auth.revoke(db, claims).await?;
    sessions.close_token(&claims.jti);
    events
        .publish(Event::TokenRevoked {
            user_id: claims.sub.clone(),
            jti: claims.jti.clone(),
        })
        .await
}

/// What deleting an account has to reach.
pub struct Owned<'a> {
    pub db: &'a Db,
    pub auth: &'a AuthState,
    pub sessions: &'a Sessions,
    pub events: &'a Events,
    pub workspaces: &'a Workspaces,
    pub containers: &'a Containers,
    pub snapshots: Snapshots<'a>,
}

/// Deletes `user`'s account: its sessions close, its workspaces (files included) and its
/// containers are removed, then the account, its submissions' snapshots (a teacher's: those of
/// its courses) and the token it used.
pub async fn delete(owned: Owned<'_>, user: &User, claims: &Claims) -> Result<(), ApiError> {
    owned.sessions.close_user(&user.id);
    let user_id = user.id.clone();
    owned
        .events
        .publish(Event::AccountDeleted { user_id })
        .await?;
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
