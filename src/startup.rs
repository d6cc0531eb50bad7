//! Builds the application from settings: database, Docker client, auth state, routes.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use tokio_util::sync::{CancellationToken, DropGuard};
use utoipa_actix_web::AppExt;

use crate::assignments::checks::Checks;
use crate::attendance::Attendance;
use crate::auth::{token, AuthState, TokenKeys};
use crate::builds::BuildContexts;
use crate::config::Settings;
use crate::containers::Containers;
use crate::db;
use crate::docker::Engine;
use crate::error;
use crate::events::{broker, Broker, Event, Events};
use crate::hosts::Hosts;
use crate::live_sessions::Sessions;
use crate::registries::{Egress, Registries};
use crate::replicas::Replicas;
use crate::secrets::SecretBox;
use crate::state::AppState;
use crate::telemetry::RequestSpan;
use crate::workspaces::Workspaces;

/// Largest JSON body a REST endpoint accepts.
const JSON_LIMIT: usize = 256 * 1024;

/// The server, built and listening, not yet serving.
pub struct Application {
    address: SocketAddr,
    server: Server,
    /// `/metrics` on `metrics.listen`, when set.
    metrics: Option<(SocketAddr, Server)>,
    sessions: Arc<Sessions>,
    /// Stops the background work ([`AppState::background`]) when the application goes.
    health_watch: DropGuard,
    /// This replica's heartbeat, which removes its row as it ends.
    heartbeat: tokio::task::JoinHandle<()>,
}

/// Where the other replicas reach this one: `advertise_url`, or the address it listens on.
fn advertised(settings: &Settings, listening: SocketAddr, shared: bool) -> anyhow::Result<String> {
    match &settings.advertise_url {
        Some(given) => {
            let url = url::Url::parse(given).context("reading advertise_url")?;
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                anyhow::bail!("advertise_url must be http:// or https:// and a host: {given}");
            }
            Ok(given.trim_end_matches('/').to_string())
        }
        None if shared && listening.ip().is_unspecified() => anyhow::bail!(
            "berth listens on every interface ({listening}): set advertise_url to the address \
             the other replicas reach this one at"
        ),
        None => Ok(format!("http://{listening}")),
    }
}

impl AppState {
    /// Opens the database, loads the secrets and the hosts, and makes the services.
    /// `listening`: where this process listens, for the other replicas to reach it.
    pub async fn build(settings: Settings, listening: SocketAddr) -> anyhow::Result<AppState> {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating data dir {}", settings.data_dir.display()))?;
        let url = settings.database_url();
        // Replicas on one database must sign tokens and seal secrets with the same keys: keys
        // generated into each one's data dir would differ.
        let shared = db::Dialect::of(&url) == Some(db::Dialect::Postgres);
        if shared && (settings.jwt_secret.is_none() || settings.secret_key.is_none()) {
            anyhow::bail!(
                "with a PostgreSQL database_url, set jwt_secret and secret_key in the settings \
                 (the same on every replica), rather than keys generated into the data dir"
            );
        }
        let db = db::connect(&url).await.context("opening the database")?;
        let secret =
            token::load_or_create_secret(settings.jwt_secret.as_deref(), &settings.data_dir)
                .context("loading the token signing secret")?;
        let keys = TokenKeys::new(&secret, settings.token_ttl_s);
        let ticket_ttl = Duration::from_secs(settings.ticket_ttl_s);
        let trusted_proxies =
            crate::config::networks("trusted_proxies", &settings.trusted_proxies)?;
        let auth = AuthState::new(keys, ticket_ttl, settings.login.clone(), trusted_proxies);
        // On a shared database the other replicas are woken by PostgreSQL; alone, nobody is.
        let broker: Arc<dyn Broker> = if shared {
            Arc::new(broker::Postgres::new(db.clone(), url.clone()))
        } else {
            Arc::new(broker::Local)
        };
        let events = Arc::new(Events::new(db.clone(), broker));
        let installation = db::installation::name(&db, &uuid::Uuid::new_v4().simple().to_string())
            .await
            .context("reading the installation's name")?;
        let engine = Engine::from_settings(settings.docker_host.as_deref(), &installation)
            .context("reading the docker_host setting")?;
        if let Err(e) = engine.api_version().await {
            tracing::warn!(error = %e, "Docker engine not reachable yet; will retry on use");
        }
        let secrets = Arc::new(
            SecretBox::load_or_create(settings.secret_key.as_deref(), &settings.data_dir)
                .context("loading the secret key")?,
        );
        let sso = crate::sso::Sso::from_settings(&settings.auth, db.clone(), secrets.clone())
            .context("reading the auth settings")?;
        let hosts = Arc::new(
            Hosts::load(&db, &secrets, Arc::new(engine))
                .await
                .context("loading Docker hosts")?,
        );
        let replicas = Arc::new(
            Replicas::join(
                db.clone(),
                hosts.clone(),
                advertised(&settings, listening, shared)?,
                !shared,
            )
            .await
            .context("recording this replica")?,
        );
        let egress = Egress::public_and(&settings.registries.allowed_networks)?;
        let background = CancellationToken::new();
        let audit = Arc::new(crate::audit::Audit::new(
            db.clone(),
            settings.audit.retention_days,
        ));
        Ok(AppState {
            checks: Arc::new(Checks::new(
                db.clone(),
                hosts.clone(),
                settings.limits.clone(),
                settings.checks.clone(),
                settings.data_dir.clone(),
                background.clone(),
                replicas.id().to_string(),
            )),
            containers: Containers::new(
                db.clone(),
                hosts.clone(),
                settings.limits.clone(),
                settings.quotas.clone(),
            ),
            workspaces: Arc::new(Workspaces::new(
                db.clone(),
                hosts.clone(),
                settings.workspaces.clone(),
                settings.limits.clone(),
            )),
            registries: Registries::new(
                db.clone(),
                secrets.clone(),
                egress,
                &settings.registries.allowed_hosts,
            ),
            contexts: BuildContexts::new(&settings.data_dir)
                .context("preparing the build context dir")?,
            attendance: Attendance::new(events.clone()),
            sessions: Arc::new(Sessions::default()),
            events,
            replicas,
            db,
            auth,
            sso,
            audit,
            hosts,
            secrets,
            settings,
            background,
        })
    }
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("binding {}", settings.listen))?;
        let address = listener.local_addr()?;
        let state = web::Data::new(AppState::build(settings, address).await?);
        let stop_health = state.background.clone();
        // Every replica pings its hosts: its own streams learn from it that a host went away.
        tokio::spawn(state.hosts.clone().watch_health(stop_health.clone()));
        let heartbeat = tokio::spawn(state.replicas.clone().heartbeat(stop_health.clone()));
        tokio::spawn(
            state
                .replicas
                .clone()
                .keep_seats(state.sessions.clone(), stop_health.clone()),
        );
        // One conditional DELETE an hour: harmless on every replica at once.
        tokio::spawn(
            state
                .audit
                .clone()
                .keep_within_retention(stop_health.clone()),
        );
        let url = state.settings.database_url();
        let shared = db::Dialect::of(&url) == Some(db::Dialect::Postgres);
        if !shared {
            // Alone, berth is the only one that could have run these: an earlier run of it,
            // killed. (Replicas on one database find a dead one's execs by their records.)
            let swept = state.clone();
            tokio::spawn(async move { swept.containers.kill_orphaned_execs().await });
        }
        tokio::spawn(crate::replicas::leader::lead(
            state.db.clone(),
            shared.then_some(url),
            state.replicas.id().to_string(),
            stop_health.clone(),
            {
                let state = state.clone();
                move |term, leading| lead(state.clone(), term, leading)
            },
        ));
        let metrics = match state.settings.metrics.listen {
            Some(at) => {
                let listener = TcpListener::bind(at)
                    .with_context(|| format!("binding metrics.listen {at}"))?;
                let address = listener.local_addr()?;
                let scraped = state.clone();
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(scraped.clone())
                        .route("/metrics", web::get().to(crate::routes::metrics::scrape))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)?
                .run();
                Some((address, server))
            }
            None => None,
        };
        let sessions = state.sessions.clone();
        let resumes = web::Data::new(crate::session::resume::Resumes::new(state.replicas.clone()));
        let shares = web::Data::new(crate::session::share::Shares::new(state.replicas.clone()));
        tokio::spawn(shares.clone().into_inner().keep_tidy(stop_health.clone()));
        let jobs = web::Data::new(crate::session::jobs::Jobs::default());
        let heard = state.events.subscribe();
        tokio::spawn(state.events.clone().run(stop_health.clone()));
        tokio::spawn(apply_events(
            heard,
            state.clone(),
            resumes.clone(),
            jobs.clone(),
            stop_health.clone(),
        ));
        let server = HttpServer::new(move || {
            let (app, api) = App::new()
                .wrap(actix_web::middleware::from_fn(
                    crate::routes::metrics::count_requests,
                ))
                .wrap(tracing_actix_web::TracingLogger::<RequestSpan>::new())
                .app_data(error::json_config(JSON_LIMIT))
                .app_data(error::path_config())
                .app_data(error::query_config())
                .app_data(state.clone())
                .app_data(resumes.clone())
                .app_data(shares.clone())
                .app_data(jobs.clone())
                .into_utoipa_app()
                .openapi(crate::routes::openapi::base())
                .configure(crate::routes::configure)
                .split_for_parts();
            app.app_data(web::Data::new(crate::routes::openapi::Document::of(api)))
                // The UI's files go compressed when the browser accepts it (the bundle shrinks
                // to about a quarter); the API's streams and downloads are left as they are.
                .default_service(
                    web::to(crate::routes::ui::serve)
                        .wrap(actix_web::middleware::Compress::default()),
                )
        })
        .disable_signals()
        .shutdown_timeout(5)
        // No lingering after a response: a WebSocket's request body never ends, so actix
        // would otherwise hold every closed session's connection open for this timeout (a
        // client's close() waited up to a second for it). Uploads refused as too large drain
        // what the client still sends instead (see `upload`).
        .client_disconnect_timeout(Duration::ZERO)
        .listen(listener)?
        .run();
        Ok(Application {
            address,
            server,
            metrics,
            sessions,
            health_watch: stop_health.drop_guard(),
            heartbeat,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn sessions(&self) -> Arc<Sessions> {
        self.sessions.clone()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT or SIGTERM, then closes every session (killing what they started)
    /// before the server stops.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let sessions = self.sessions.clone();
        let metrics = self.metrics.map(|(_, server)| server);
        let metrics_handle = metrics.as_ref().map(|s| s.handle());
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            sessions.shutdown(Duration::from_secs(10)).await;
            if let Some(metrics) = metrics_handle {
                metrics.stop(true).await;
            }
            handle.stop(true).await;
        });
        if let Some(metrics) = metrics {
            tokio::spawn(metrics);
        }
        let served = self.server.await;
        // The background work stops, and this replica's row goes before the process does: the
        // others stop counting its sessions now rather than when its heartbeat is old.
        drop(self.health_watch);
        let _ = tokio::time::timeout(Duration::from_secs(2), self.heartbeat).await;
        served
    }

    /// Where `metrics.listen` serves `/metrics`, when it is set.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(at, _)| *at)
    }
}

/// Does on this replica what any replica published: closes the sessions of a revoked token
/// or of a user, and shows check-ins on the screens here. Doing it twice (the publisher did it
/// at once too) changes nothing.
async fn apply_events(
    mut heard: tokio::sync::broadcast::Receiver<Arc<Event>>,
    state: web::Data<AppState>,
    resumes: web::Data<crate::session::resume::Resumes>,
    jobs: web::Data<crate::session::jobs::Jobs>,
    stop: CancellationToken,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => return,
            event = heard.recv() => match event {
                Ok(event) => event,
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "events came faster than they were applied");
                    continue;
                }
                Err(RecvError::Closed) => return,
            },
        };
        match &*event {
            Event::CheckIn { .. } | Event::AttendanceClosed { .. } => {
                state.attendance.deliver(&event)
            }
            Event::TokenRevoked { user_id, jti } => {
                state.sessions.close_token(jti);
                resumes.end_user(user_id).await;
            }
            Event::AccountDeleted { user_id } => {
                state.sessions.close_user(user_id);
                resumes.end_user(user_id).await;
                jobs.end_user(user_id);
            }
            Event::SessionsEnded { user_id } => {
                state.sessions.end_user(user_id);
                resumes.end_user(user_id).await;
            }
            Event::JobCancelled { job } => {
                jobs.kill(job);
            }
            Event::HostsChanged {} => {
                if let Err(e) = state.hosts.reload(&state.secrets).await {
                    tracing::warn!(error = %e, "could not read the hosts again");
                }
            }
        }
    }
}

/// Starts the work only the leader does, in `term`, until `leading` is cancelled.
fn lead(state: web::Data<AppState>, term: i64, leading: CancellationToken) {
    tokio::spawn(state.replicas.clone().sweep_dead(term, leading.clone()));
    tokio::spawn(state.workspaces.clone().cull_idle(term, leading.clone()));
    tokio::spawn(state.checks.clone().adopt_unfinished(term, leading.clone()));
    tokio::spawn({
        let (state, leading) = (state.clone(), leading.clone());
        async move {
            let settings = &state.settings.reconcile;
            let dead_after = crate::replicas::DEAD_AFTER;
            state
                .containers
                .reconcile(term, settings, dead_after, leading)
                .await
        }
    });
    tokio::spawn(keep_tidy(state.clone(), leading.clone()));
    tokio::spawn(async move {
        // Snapshots whose rows went while no berth was running (an account deleted by the
        // command line) go first.
        if let Err(e) = state.snapshots().sweep(&state.db).await {
            tracing::warn!(error = %e.message, "could not sweep the snapshots");
        }
        crate::assignments::due::collect_when_due(
            &state.db,
            term,
            state.reach(),
            state.snapshots(),
            leading,
        )
        .await
    });
}

/// How often expired tickets, revocations, failure counts, unfinished sign-ins and old events are
/// forgotten.
const TIDY_EVERY: Duration = Duration::from_secs(60);

/// Forgets what has expired, every [`TIDY_EVERY`].
async fn keep_tidy(state: web::Data<AppState>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(TIDY_EVERY) => {}
        }
        if let Err(e) = state.auth.prune(&state.db).await {
            tracing::warn!(error = %e, "could not forget expired tickets and counts");
        }
        if let Err(e) = crate::sso::prune(&state.db).await {
            tracing::warn!(error = %e, "could not forget unfinished sign-ins");
        }
        if let Err(e) = state.events.prune().await {
            tracing::warn!(error = %e, "could not forget old events");
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
