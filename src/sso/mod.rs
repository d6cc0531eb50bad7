//! Signing in with the institution's accounts: an LDAP directory (`ldap`) or an OpenID Connect
//! provider (`oidc`) says who a person is and which groups they are in; this module turns that
//! into a berth account. The account is made at the first sign-in (when `auth.registration`
//! allows it) and its role follows the groups at every sign-in.

pub mod identity;
pub mod ldap;
pub mod oidc;

use crate::audit::{Audit, Entry};
use crate::auth::{AuthState, LoggedIn};
use crate::config::{AuthSettings, Registration};
use crate::db::{self, Db};
use crate::error::ApiError;
use crate::users::Username;
pub use identity::{Identity, Source};

/// The sign-in settings as berth uses them: who may make an account, and the directory and
/// provider, when there are.
pub struct Sso {
    pub registration: Registration,
    pub ldap: Option<ldap::Directory>,
    pub oidc: Option<oidc::Provider>,
}

impl Sso {
    /// Refuses `auth` settings that could not work (or would send passwords in the clear).
    /// Sign-ins in progress are kept in `db`, their secrets sealed by `secrets`.
    pub fn from_settings(
        auth: &AuthSettings,
        db: Db,
        secrets: std::sync::Arc<crate::secrets::SecretBox>,
    ) -> anyhow::Result<Sso> {
        let oidc = auth.oidc.clone();
        Ok(Sso {
            registration: auth.registration,
            ldap: auth.ldap.clone().map(ldap::Directory::new).transpose()?,
            oidc: oidc
                .map(|settings| oidc::Provider::new(settings, db, secrets))
                .transpose()?,
        })
    }
}

/// A token for the berth account of `who` (see [`account`]).
pub async fn sign_in(
    db: &Db,
    auth: &AuthState,
    audit: &Audit,
    registration: Registration,
    who: Identity,
) -> Result<LoggedIn, ApiError> {
    let id = account(db, audit, registration, who).await?;
    auth.sign_in(&id)
}

/// The id of the berth account of `who`: made now if this is their first sign-in and
/// `registration` lets SSO users in, else brought up to date (username and role). The audit
/// log gets the account made and the role changed.
pub async fn account(
    db: &Db,
    audit: &Audit,
    registration: Registration,
    who: Identity,
) -> Result<String, ApiError> {
    let username = Username::parse(&who.username).map_err(|_| {
        ApiError::forbidden(format!(
            "berth cannot take the username {:?} that sign-in gave: usernames are 3-32 \
             letters, digits, '.', '_' or '-'",
            who.username
        ))
    })?;
    let source = who.source.as_str();
    let taken = || {
        db::conflict_on_unique(format!(
            "a berth account named {:?} already exists and is not this sign-in's; an admin \
             must rename or remove it",
            username.as_str()
        ))
    };
    let id = match db::users::find_external(db, source, &who.external_id).await? {
        Some(row) => {
            if row.username != username.as_str() || row.role != who.role.as_str() {
                db::users::update_identity(db, &row.id, username.as_str(), who.role.as_str())
                    .await
                    .map_err(taken())?;
                tracing::info!(user = %row.id, from = %row.role, to = %who.role.as_str(),
                    source, "account follows its directory");
                if row.role != who.role.as_str() {
                    let entry = Entry::named(username.as_str(), "account.role")
                        .target(row.id.as_str())
                        .detail("source", source)
                        .detail("from", row.role.as_str())
                        .detail("to", who.role.as_str());
                    audit.record(entry).await;
                }
            }
            row.id
        }
        None if registration == Registration::Closed => {
            return Err(ApiError::forbidden(
                "registration is closed: berth makes no new accounts (ask an admin)",
            ))
        }
        None => {
            let row = db::users::UserRow {
                id: uuid::Uuid::new_v4().to_string(),
                username: username.as_str().to_string(),
                role: who.role.as_str().to_string(),
            };
            let now = crate::clock::now_s();
            db::users::insert_external(db, &row, source, &who.external_id, now)
                .await
                .map_err(taken())?;
            tracing::info!(user = %row.id, username = %row.username, role = %row.role,
                source, "account made at its first sign-in");
            let entry = Entry::named(&row.username, "account.create")
                .target(row.id.as_str())
                .detail("source", source)
                .detail("role", row.role.as_str());
            audit.record(entry).await;
            row.id
        }
    };
    Ok(id)
}

/// Forgets the sign-ins nobody came back to finish or take.
pub async fn prune(db: &Db) -> Result<(), sqlx::Error> {
    db::oidc::prune(db, crate::clock::now_ms()).await
}
