//! Checking a password against an LDAP directory: berth binds as its own account, finds the one
//! entry the username names, binds as that entry with the password (a simple bind, always over
//! TLS), then reads the groups the entry is a member of.

use std::sync::Arc;
use std::time::Duration;

use ldap3::{ldap_escape, Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use super::identity::{Identity, RoleGroups, Source};
use crate::config::LdapSettings;
use crate::error::{ApiError, ErrorCode};

/// LDAP's result code for a bind with a wrong password, or of a locked or disabled account.
const INVALID_CREDENTIALS: u32 = 49;

/// The directory of `auth.ldap`, checked at startup.
pub struct Directory {
    settings: LdapSettings,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Directory {
    /// Refuses settings that would send passwords in the clear or cannot work.
    pub fn new(settings: LdapSettings) -> anyhow::Result<Directory> {
        let url = url::Url::parse(&settings.url)
            .map_err(|e| anyhow::anyhow!("auth.ldap.url {:?}: {e}", settings.url))?;
        match url.scheme() {
            "ldaps" => {}
            "ldap" if settings.starttls => {}
            "ldap" => anyhow::bail!(
                "auth.ldap: ldap:// without starttls would send passwords in the clear; use \
                 ldaps:// or starttls = true"
            ),
            other => anyhow::bail!("auth.ldap.url: {other}:// is not ldap:// or ldaps://"),
        }
        for (key, value) in [
            ("bind_dn", &settings.bind_dn),
            ("user_base", &settings.user_base),
        ] {
            anyhow::ensure!(!value.is_empty(), "auth.ldap.{key} is required");
        }
        anyhow::ensure!(
            settings.user_filter.contains("{username}"),
            "auth.ldap.user_filter must contain {{username}}"
        );
        let tls = settings
            .ca_file
            .as_ref()
            .map(|path| trusting(path))
            .transpose()?;
        Ok(Directory { settings, tls })
    }

    /// Who `username` is, if `password` is theirs and the directory lets them bind; `None` for
    /// a wrong password, an unknown name, and a locked or disabled account alike.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Identity>, ApiError> {
        // An empty password is an unauthenticated bind, which succeeds for any DN.
        if password.is_empty() {
            return Ok(None);
        }
        let mut ldap = self.connect().await?;
        let found = self.find(&mut ldap, username).await;
        let _ = ldap.unbind().await;
        let Some((dn, username)) = found? else {
            return Ok(None);
        };
        // The password is tried on a connection of its own, so the search's bind is not mixed
        // with the person's.
        let mut theirs = self.connect().await?;
        let bound = theirs
            .with_timeout(self.timeout())
            .simple_bind(&dn, password)
            .await
            .map_err(unavailable)?;
        let _ = theirs.unbind().await;
        match bound.rc {
            0 => {}
            INVALID_CREDENTIALS => return Ok(None),
            rc => {
                tracing::warn!(rc, text = %bound.text, "LDAP bind failed");
                return Err(ApiError::new(
                    ErrorCode::Unavailable,
                    "the directory refused the sign-in",
                ));
            }
        }
        let mut ldap = self.connect().await?;
        let groups = self.groups_of(&mut ldap, &dn).await;
        let _ = ldap.unbind().await;
        let groups = groups?;
        let role = RoleGroups {
            admin: &self.settings.admin_groups,
            teacher: &self.settings.teacher_groups,
        }
        .role_of(groups.iter().map(String::as_str));
        Ok(Some(Identity {
            source: Source::Ldap,
            external_id: username.clone(),
            username,
            role,
        }))
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.settings.timeout_s.max(1))
    }

    /// A connection bound as berth's own account.
    async fn connect(&self) -> Result<Ldap, ApiError> {
        let mut options = LdapConnSettings::new()
            .set_conn_timeout(self.timeout())
            .set_starttls(self.settings.starttls);
        if let Some(tls) = &self.tls {
            options = options.set_config(tls.clone());
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(options, &self.settings.url)
            .await
            .map_err(unavailable)?;
        ldap3::drive!(conn);
        ldap.with_timeout(self.timeout())
            .simple_bind(&self.settings.bind_dn, &self.settings.bind_password)
            .await
            .and_then(|r| r.success())
            .map_err(|e| {
                tracing::warn!(error = %e, "berth's own LDAP bind failed (auth.ldap.bind_dn)");
                ApiError::new(
                    ErrorCode::Unavailable,
                    "the directory refused berth's own bind",
                )
            })?;
        Ok(ldap)
    }

    /// The DN and directory username of the one entry `username` names.
    async fn find(
        &self,
        ldap: &mut Ldap,
        username: &str,
    ) -> Result<Option<(String, String)>, ApiError> {
        let filter = self
            .settings
            .user_filter
            .replace("{username}", &ldap_escape(username));
        let attribute = self.settings.username_attribute.as_str();
        let (entries, _) = ldap
            .with_timeout(self.timeout())
            .search(
                &self.settings.user_base,
                Scope::Subtree,
                &filter,
                vec![attribute],
            )
            .await
            .and_then(|r| r.success())
            .map_err(unavailable)?;
        // Two entries for one name: refuse rather than guess which person this is.
        let mut entries = entries.into_iter();
        let (Some(entry), None) = (entries.next(), entries.next()) else {
            return Ok(None);
        };
        let entry = SearchEntry::construct(entry);
        let name = entry
            .attrs
            .get(attribute)
            .and_then(|values| values.first())
            .cloned()
            .unwrap_or_else(|| username.to_string());
        Ok(Some((entry.dn, name)))
    }

    /// The DNs and `cn`s of the groups `dn` is a member of.
    async fn groups_of(&self, ldap: &mut Ldap, dn: &str) -> Result<Vec<String>, ApiError> {
        let Some(base) = &self.settings.group_base else {
            return Ok(Vec::new());
        };
        let filter = self.settings.group_filter.replace("{dn}", &ldap_escape(dn));
        let (entries, _) = ldap
            .with_timeout(self.timeout())
            .search(base, Scope::Subtree, &filter, vec!["cn"])
            .await
            .and_then(|r| r.success())
            .map_err(unavailable)?;
        Ok(entries
            .into_iter()
            .map(SearchEntry::construct)
            .flat_map(|group| {
                let cns = group.attrs.get("cn").cloned().unwrap_or_default();
                std::iter::once(group.dn).chain(cns)
            })
            .collect())
    }
}

/// A TLS configuration that trusts only the CA certificates in `path`.
fn trusting(path: &std::path::Path) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path)
        .map_err(|e| anyhow::anyhow!("auth.ldap.ca_file {}: {e}", path.display()))?
    {
        let cert =
            cert.map_err(|e| anyhow::anyhow!("auth.ldap.ca_file {}: {e}", path.display()))?;
        roots.add(cert)?;
    }
    anyhow::ensure!(
        !roots.is_empty(),
        "auth.ldap.ca_file {} holds no certificate",
        path.display()
    );
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn unavailable(e: LdapError) -> ApiError {
    tracing::warn!(error = %e, "the LDAP directory did not answer");
    ApiError::new(ErrorCode::Unavailable, "the directory does not answer")
}
