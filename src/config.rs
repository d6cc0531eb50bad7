//! Settings: defaults, then an optional TOML file, then `BERTH_` environment variables, then flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Database URL; defaults to a SQLite file in the data dir.
    pub database_url: Option<String>,
    /// The Docker engine, `unix://...` or `tcp://host:port`; when absent `DOCKER_HOST`, then the
    /// local socket.
    pub docker_host: Option<String>,
    /// JWT signing secret; when absent one is generated and kept in the data dir.
    pub jwt_secret: Option<String>,
    /// Key (base64 of 32 bytes) that encrypts stored registry passwords; when absent one is
    /// generated and kept in the data dir.
    pub secret_key: Option<String>,
    pub token_ttl_s: u64,
    /// Lifetime of a single-use WebSocket ticket.
    pub ticket_ttl_s: u64,
    /// Origins a browser WebSocket may come from. Empty: only the server's own.
    pub allowed_origins: Vec<String>,
    /// Reverse proxies (CIDR or addresses) whose `Forwarded`/`X-Forwarded-For` headers name
    /// the client; anyone else's are ignored.
    pub trusted_proxies: Vec<String>,
    /// Where the other replicas reach this one (`http://10.0.0.5:8080`), to relay a watch or
    /// a reattach to the replica holding its stream. By default the address berth listens on;
    /// required on a shared database when that is every interface (`0.0.0.0`).
    pub advertise_url: Option<String>,
    pub session: SessionSettings,
    pub limits: ContainerLimits,
    pub login: LoginLimits,
    pub registries: RegistrySettings,
    pub workspaces: WorkspaceSettings,
    pub quotas: Quotas,
    pub builds: BuildLimits,
    pub checks: CheckSettings,
    pub auth: AuthSettings,
    pub audit: AuditSettings,
    pub metrics: MetricsSettings,
    pub reconcile: ReconcileSettings,
}

/// The leader's reconciling of berth's rows with the containers on its hosts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReconcileSettings {
    /// How often the hosts are gone through.
    pub every_s: u64,
    /// A container of berth's with no row is left alone this long after its creation: the
    /// row of a container being made is written just after it.
    pub orphan_grace_s: u64,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        ReconcileSettings {
            every_s: 60,
            orphan_grace_s: 600,
        }
    }
}

/// Where Prometheus scrapes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MetricsSettings {
    /// An address of its own for `/metrics`, open to whoever reaches it (bind it where only the
    /// monitoring does); without it, `/metrics` on `listen` asks for an admin's token.
    pub listen: Option<SocketAddr>,
}

/// The audit log.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditSettings {
    /// Entries older than this are removed (hourly).
    pub retention_days: u64,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            retention_days: 365,
        }
    }
}

/// Who may make an account, and the institution's sign-in (OpenID Connect, LDAP) if any.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AuthSettings {
    pub registration: Registration,
    pub oidc: Option<OidcSettings>,
    pub ldap: Option<LdapSettings>,
}

/// How accounts come to be. Local accounts an admin makes (`berth user create`) work whatever
/// this says.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Anyone who reaches the server may register a (student) account.
    Open,
    /// Nobody new: only accounts that exist (an SSO user who signed in before) sign in.
    Closed,
    /// No self-registration; a person the directory or identity provider vouches for gets an
    /// account at their first sign-in. With neither configured, the same as `closed`.
    #[default]
    SsoOnly,
}

/// An OpenID Connect provider (authorization code flow with PKCE).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct OidcSettings {
    /// The issuer URL; its `/.well-known/openid-configuration` is read at the first sign-in.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// This server's callback as the provider knows it:
    /// `https://berth.school.example/api/v1/auth/oidc/callback`.
    pub redirect_url: String,
    /// Asked besides `openid`.
    pub scopes: Vec<String>,
    /// The claim that is the berth username.
    pub username_claim: String,
    /// The claim (a string or a list of strings) whose values give the role.
    pub roles_claim: String,
    pub admin_values: Vec<String>,
    pub teacher_values: Vec<String>,
    /// What the sign-in button says after "Sign in with".
    pub label: String,
}

impl Default for OidcSettings {
    fn default() -> Self {
        OidcSettings {
            issuer: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
            redirect_url: String::new(),
            scopes: vec!["profile".into()],
            username_claim: "preferred_username".into(),
            roles_claim: "groups".into(),
            admin_values: Vec::new(),
            teacher_values: Vec::new(),
            label: "your school account".into(),
        }
    }
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_url", &self.redirect_url)
            .field("scopes", &self.scopes)
            .field("username_claim", &self.username_claim)
            .field("roles_claim", &self.roles_claim)
            .field("admin_values", &self.admin_values)
            .field("teacher_values", &self.teacher_values)
            .finish()
    }
}

/// A directory the login form checks passwords against, by a simple bind over TLS.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LdapSettings {
    /// `ldaps://host:636`, or `ldap://host:389` with `starttls`.
    pub url: String,
    pub starttls: bool,
    /// PEM file of the CA that signed the directory's certificate; else the system's roots.
    pub ca_file: Option<PathBuf>,
    /// The account berth searches with.
    pub bind_dn: String,
    pub bind_password: String,
    pub user_base: String,
    /// `{username}` stands for the escaped username.
    pub user_filter: String,
    /// The attribute that is the berth username.
    pub username_attribute: String,
    /// Where groups are searched; none: roles are not read from the directory (all students).
    pub group_base: Option<String>,
    /// `{dn}` stands for the escaped DN of the user.
    pub group_filter: String,
    /// Groups, by DN or by `cn`, whose members are admins, or teachers.
    pub admin_groups: Vec<String>,
    pub teacher_groups: Vec<String>,
    pub timeout_s: u64,
}

impl Default for LdapSettings {
    fn default() -> Self {
        LdapSettings {
            url: String::new(),
            starttls: false,
            ca_file: None,
            bind_dn: String::new(),
            bind_password: String::new(),
            user_base: String::new(),
            user_filter: "(uid={username})".into(),
            username_attribute: "uid".into(),
            group_base: None,
            group_filter: "(member={dn})".into(),
            admin_groups: Vec::new(),
            teacher_groups: Vec::new(),
            timeout_s: 5,
        }
    }
}

impl std::fmt::Debug for LdapSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapSettings")
            .field("url", &self.url)
            .field("starttls", &self.starttls)
            .field("ca_file", &self.ca_file)
            .field("bind_dn", &self.bind_dn)
            .field("bind_password", &"<redacted>")
            .field("user_base", &self.user_base)
            .field("user_filter", &self.user_filter)
            .field("group_base", &self.group_base)
            .field("admin_groups", &self.admin_groups)
            .field("teacher_groups", &self.teacher_groups)
            .finish()
    }
}

/// Checks of submissions: each runs in a sandbox of its own, within these limits beside its
/// template's.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckSettings {
    pub time_limit_s: u64,
    /// Output kept (and the most it may write before it is killed).
    pub output_kb: u64,
    /// Checks running at once; the rest wait their turn.
    pub concurrency: usize,
}

impl Default for CheckSettings {
    fn default() -> Self {
        CheckSettings {
            time_limit_s: 60,
            output_kb: 64,
            concurrency: 4,
        }
    }
}

/// What the containers running a build's steps may use.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BuildLimits {
    /// Each step's container. At most 2047: the engine takes it in bytes as a 32-bit number.
    pub memory_mb: u64,
    pub cpus: f64,
    /// Processes (and threads) of all of a build's steps together; 0 for no limit.
    pub pids: u64,
}

impl Default for BuildLimits {
    fn default() -> Self {
        BuildLimits {
            memory_mb: 1536,
            cpus: 2.0,
            pids: 1024,
        }
    }
}

/// Timings and sizes of one WebSocket session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionSettings {
    pub heartbeat_interval_ms: u64,
    pub heartbeat_timeout_ms: u64,
    /// Largest frame accepted from a client.
    pub max_frame_bytes: usize,
    /// Frames queued for one client before streams of that session wait.
    pub output_queue: usize,
    /// Live streams one session may hold.
    pub max_streams: usize,
    /// Sessions one user may have open at once; beyond it the upgrade is refused (`too_many`).
    pub max_sessions_per_user: usize,
    /// Bytes of stdin queued for one exec that is not reading it; beyond it input is refused.
    pub max_stdin_bytes: usize,
    /// How long the `resume` streams of a session that ended without `bye` keep running for a
    /// client to `reattach`; 0 turns resume off.
    pub resume_grace_s: u64,
    /// Output a resumable stream keeps per channel for a client that reattaches.
    pub replay_kib: usize,
}

/// Defaults and maxima for the resources of a container a user creates.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerLimits {
    pub default_memory_mb: u64,
    pub max_memory_mb: u64,
    pub default_cpus: f64,
    pub max_cpus: f64,
    pub default_pids: i64,
    pub max_pids: i64,
    /// Largest upload (image tar, root filesystem, build context).
    pub max_upload_mb: u64,
}

/// What one user may hold; teachers and admins have the `staff_` figures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Quotas {
    pub workspaces_per_user: u32,
    pub staff_workspaces_per_user: u32,
    /// Memory a user's containers and workspaces may reserve together, in MiB.
    pub memory_mb_per_user: u64,
    pub staff_memory_mb_per_user: u64,
    /// Background jobs (`detach: true`) a user runs at once.
    pub jobs_per_user: u32,
    pub staff_jobs_per_user: u32,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            workspaces_per_user: 3,
            staff_workspaces_per_user: 20,
            memory_mb_per_user: 4096,
            staff_memory_mb_per_user: 32768,
            jobs_per_user: 2,
            staff_jobs_per_user: 10,
        }
    }
}

/// What one user may hold at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub workspaces: u32,
    /// Memory reserved by their containers and workspaces together.
    pub memory_mb: u64,
    /// Background jobs running at once.
    pub jobs: u32,
}

impl Quotas {
    /// A user's quota: staff (teachers and admins) have their own.
    pub fn for_user(&self, staff: bool) -> Quota {
        if staff {
            Quota {
                workspaces: self.staff_workspaces_per_user,
                memory_mb: self.staff_memory_mb_per_user,
                jobs: self.staff_jobs_per_user,
            }
        } else {
            Quota {
                workspaces: self.workspaces_per_user,
                memory_mb: self.memory_mb_per_user,
                jobs: self.jobs_per_user,
            }
        }
    }
}

/// Workspaces: the limits of a `run`, file sizes, and idle culling.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkspaceSettings {
    /// Largest file written through the files API.
    pub max_file_mb: u64,
    /// Largest snapshot of an assignment's folder a submission keeps.
    pub max_submission_mb: u64,
    /// A workspace with no activity for this long is stopped (its files stay).
    pub idle_timeout_s: u64,
    /// How often idle workspaces are looked for.
    pub cull_interval_s: u64,
    pub default_time_limit_s: u64,
    pub max_time_limit_s: u64,
    pub default_output_limit_kb: u64,
    pub max_output_limit_kb: u64,
}

impl Default for WorkspaceSettings {
    fn default() -> Self {
        WorkspaceSettings {
            max_file_mb: 10,
            max_submission_mb: 50,
            idle_timeout_s: 1800,
            cull_interval_s: 30,
            default_time_limit_s: 10,
            max_time_limit_s: 300,
            default_output_limit_kb: 1024,
            max_output_limit_kb: 64 * 1024,
        }
    }
}

/// What registries that are not an admin's may reach.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RegistrySettings {
    /// Networks (CIDR, or single addresses) besides public addresses that registries added by
    /// teachers and students may be on, and that their pulls may come from; loopback, link-local
    /// and private addresses are refused otherwise.
    pub allowed_networks: Vec<String>,
    /// Registry hosts (`host[:port]`) that non-admins' pulls, pushes and builds may name to the
    /// engine, besides Docker Hub and the registries an admin added. The engine resolves and
    /// follows redirects on its own, so only hosts an admin vouches for are named to it.
    pub allowed_hosts: Vec<String>,
}

/// Failed logins tolerated within a window before answering 429.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoginLimits {
    pub window_s: u64,
    pub max_failures_per_user: u32,
    pub max_failures_per_ip: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".parse().expect("valid default address"),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            docker_host: None,
            jwt_secret: None,
            secret_key: None,
            token_ttl_s: 12 * 3600,
            ticket_ttl_s: 30,
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            advertise_url: None,
            session: SessionSettings {
                heartbeat_interval_ms: 5_000,
                heartbeat_timeout_ms: 15_000,
                max_frame_bytes: 1 << 20,
                output_queue: 64,
                max_streams: 32,
                max_sessions_per_user: 16,
                max_stdin_bytes: 1 << 20,
                resume_grace_s: 300,
                replay_kib: 256,
            },
            limits: ContainerLimits {
                default_memory_mb: 512,
                max_memory_mb: 4096,
                default_cpus: 1.0,
                max_cpus: 4.0,
                default_pids: 256,
                max_pids: 1024,
                max_upload_mb: 4096,
            },
            login: LoginLimits {
                window_s: 300,
                max_failures_per_user: 5,
                max_failures_per_ip: 20,
            },
            registries: RegistrySettings::default(),
            workspaces: WorkspaceSettings::default(),
            quotas: Quotas::default(),
            builds: BuildLimits::default(),
            checks: CheckSettings::default(),
            auth: AuthSettings::default(),
            audit: AuditSettings::default(),
            metrics: MetricsSettings::default(),
            reconcile: ReconcileSettings::default(),
        }
    }
}

// The secret must never reach a log line.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field("docker_host", &self.docker_host)
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("token_ttl_s", &self.token_ttl_s)
            .field("ticket_ttl_s", &self.ticket_ttl_s)
            .field("allowed_origins", &self.allowed_origins)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("advertise_url", &self.advertise_url)
            .field("session", &self.session)
            .field("limits", &self.limits)
            .field("login", &self.login)
            .field("registries", &self.registries)
            .field("workspaces", &self.workspaces)
            .field("quotas", &self.quotas)
            .field("builds", &self.builds)
            .field("checks", &self.checks)
            .field("auth", &self.auth)
            .field("audit", &self.audit)
            .field("metrics", &self.metrics)
            .field("reconcile", &self.reconcile)
            .finish()
    }
}

/// Values given on the command line; they win over every other source.
#[derive(Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

impl Settings {
    /// Layers the sources in order; nested keys in the environment use `__`
    /// (`BERTH_SESSION__HEARTBEAT_TIMEOUT_MS=20000`).
    pub fn load(
        file: Option<&Path>,
        overrides: Overrides,
    ) -> Result<Settings, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment
            .merge(Env::prefixed("BERTH_").split("__"))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("berth.db").display()))
    }
}

/// Networks from a setting (CIDR texts, or single addresses); `key` names it in the error.
pub fn networks(key: &str, texts: &[String]) -> anyhow::Result<Vec<ipnet::IpNet>> {
    texts
        .iter()
        .map(|net| {
            net.parse::<ipnet::IpNet>()
                .or_else(|_| net.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| anyhow::anyhow!("{key}: {net:?} is not a network"))
        })
        .collect()
}

#[cfg(test)]
// figment's test jail returns its own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment_then_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "berth.toml",
                r#"
                listen = "127.0.0.1:9000"
                data_dir = "/srv/from-file"
                allowed_origins = ["https://school.example"]
                [session]
                heartbeat_timeout_ms = 30000
                max_streams = 8
                "#,
            )?;
            jail.set_env("BERTH_SESSION__MAX_STREAMS", "4");
            jail.set_env("BERTH_DATA_DIR", "/srv/from-env");
            let flags = Overrides {
                listen: Some("127.0.0.1:9100".parse().unwrap()),
                data_dir: None,
            };
            let settings = Settings::load(Some(Path::new("berth.toml")), flags).unwrap();
            assert_eq!(settings.listen.port(), 9100, "flags win");
            assert_eq!(
                settings.data_dir,
                PathBuf::from("/srv/from-env"),
                "env beats the file"
            );
            assert_eq!(settings.session.max_streams, 4);
            assert_eq!(
                settings.session.heartbeat_timeout_ms, 30_000,
                "file beats defaults"
            );
            assert_eq!(
                settings.session.heartbeat_interval_ms, 5_000,
                "defaults fill the rest"
            );
            assert_eq!(
                settings.allowed_origins,
                vec!["https://school.example".to_string()]
            );
            Ok(())
        });
    }

    #[test]
    fn registration_is_not_open_by_default_and_sign_in_comes_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            let defaults = Settings::load(None, Overrides::default()).unwrap();
            assert_eq!(defaults.auth.registration, Registration::SsoOnly);
            assert!(defaults.auth.oidc.is_none() && defaults.auth.ldap.is_none());
            jail.set_env("BERTH_AUTH__REGISTRATION", "closed");
            jail.set_env("BERTH_AUTH__OIDC__ISSUER", "https://id.school.example");
            jail.set_env(
                "BERTH_AUTH__OIDC__TEACHER_VALUES",
                r#"["teachers", "staff"]"#,
            );
            let settings = Settings::load(None, Overrides::default()).unwrap();
            assert_eq!(settings.auth.registration, Registration::Closed);
            let oidc = settings.auth.oidc.unwrap();
            assert_eq!(oidc.issuer, "https://id.school.example");
            assert_eq!(oidc.teacher_values, ["teachers", "staff"]);
            assert_eq!(
                oidc.username_claim, "preferred_username",
                "defaults fill the rest"
            );
            jail.set_env("BERTH_AUTH__REGISTRATION", "anyone");
            assert!(Settings::load(None, Overrides::default()).is_err());
            Ok(())
        });
    }

    #[test]
    fn a_bad_value_is_an_error_not_a_default() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("BERTH_SESSION__MAX_STREAMS", "many");
            assert!(Settings::load(None, Overrides::default()).is_err());
            Ok(())
        });
    }

    #[test]
    fn debug_output_hides_secrets() {
        let settings = Settings {
            jwt_secret: Some("super-secret-signing-key".into()),
            secret_key: Some("c2VjcmV0LWtleS1ieXRlcw==".into()),
            auth: AuthSettings {
                oidc: Some(OidcSettings {
                    client_secret: "oidc-client-secret".into(),
                    ..OidcSettings::default()
                }),
                ldap: Some(LdapSettings {
                    bind_password: "ldap-bind-password".into(),
                    ..LdapSettings::default()
                }),
                ..AuthSettings::default()
            },
            ..Settings::default()
        };
        let shown = format!("{settings:?}");
        for secret in [
            "super-secret",
            "c2VjcmV0",
            "oidc-client-secret",
            "ldap-bind-password",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
}
