//! Builds the application from settings: database, Docker client, auth state, routes.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::Context;
use serde_json::json;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::auth::{token, AuthState, TokenKeys};
use crate::config::Settings;
use crate::db::{self, Db};
use crate::docker::Engine;
use crate::error::{self, ApiError};
use crate::hosts::Hosts;
use crate::session::{self, Sessions};
use crate::telemetry::RequestSpan;

/// Largest JSON body a REST endpoint accepts.
const JSON_LIMIT: usize = 256 * 1024;

pub struct Application {
    address: SocketAddr,
    server: Server,
    sessions: web::Data<Sessions>,
    /// Stops the hosts' health pings when the application goes.
    _health_watch: DropGuard,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating data dir {}", settings.data_dir.display()))?;
        let db = db::connect(&settings.database_url())
            .await
            .context("opening the database")?;
        let secret =
            token::load_or_create_secret(settings.jwt_secret.as_deref(), &settings.data_dir)
                .context("loading the token signing secret")?;
        let keys = TokenKeys::new(&secret, settings.token_ttl_s);
        let ticket_ttl = Duration::from_secs(settings.ticket_ttl_s);
        let auth = AuthState::load(&db, keys, ticket_ttl, settings.login.clone()).await?;
        let engine = Engine::from_settings(settings.docker_host.as_deref())
            .context("reading the docker_host setting")?;
        if let Err(e) = engine.api_version().await {
            tracing::warn!(error = %e, "Docker engine not reachable yet; will retry on use");
        }

        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("binding {}", settings.listen))?;
        let address = listener.local_addr()?;
        let sessions = web::Data::new(Sessions::default());
        let db = web::Data::new(db);
        let auth = web::Data::new(auth);
        let secrets = web::Data::new(
            crate::secrets::SecretBox::load_or_create(
                settings.secret_key.as_deref(),
                &settings.data_dir,
            )
            .context("loading the secret key")?,
        );
        let hosts = web::Data::new(
            crate::hosts::Hosts::load(&db, &secrets, std::sync::Arc::new(engine))
                .await
                .context("loading Docker hosts")?,
        );
        let stop_health = CancellationToken::new();
        tokio::spawn(hosts.clone().into_inner().watch_health(stop_health.clone()));
        let egress = web::Data::new(crate::registries::Egress::public_and(
            &settings.registries.allowed_networks,
        )?);
        let attendance = web::Data::new(crate::attendance::Attendance::default());
        let contexts = web::Data::new(
            crate::builds::BuildContexts::new(&settings.data_dir)
                .context("preparing the build context dir")?,
        );
        let settings = web::Data::new(settings);
        let shared_sessions = sessions.clone();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(tracing_actix_web::TracingLogger::<RequestSpan>::new())
                .app_data(error::json_config(JSON_LIMIT))
                .app_data(error::path_config())
                .app_data(error::query_config())
                .app_data(db.clone())
                .app_data(auth.clone())
                .app_data(hosts.clone())
                .app_data(attendance.clone())
                .app_data(contexts.clone())
                .app_data(secrets.clone())
                .app_data(egress.clone())
                .app_data(settings.clone())
                .app_data(shared_sessions.clone())
                .route("/healthz", web::get().to(healthz))
                .route("/readyz", web::get().to(readyz))
                .service(
                    web::scope("/api/v1")
                        .configure(crate::accounts::configure)
                        .configure(crate::containers::configure)
                        .configure(crate::attendance::configure)
                        .configure(crate::images::configure)
                        .configure(crate::builds::configure)
                        .configure(crate::registries::configure)
                        .configure(crate::hosts::configure)
                        .route("/ws", web::get().to(session::ws_handler)),
                )
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::not_found("no such endpoint"))
                }))
        })
        .disable_signals()
        .shutdown_timeout(5)
        .listen(listener)?
        .run();
        Ok(Application {
            address,
            server,
            sessions,
            _health_watch: stop_health.drop_guard(),
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn sessions(&self) -> web::Data<Sessions> {
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
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            sessions.shutdown(Duration::from_secs(10)).await;
            handle.stop(true).await;
        });
        self.server.await
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

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when the database answers and the Docker engine does.
async fn readyz(db: web::Data<Db>, hosts: web::Data<Hosts>) -> HttpResponse {
    let database = sqlx::query("SELECT 1").execute(db.get_ref()).await.is_ok();
    let docker = hosts.local().engine.api_version().await;
    let ready = database && docker.is_ok();
    let body = json!({
        "status": if ready { "ready" } else { "unready" },
        "database": if database { "ok" } else { "unreachable" },
        "docker": match &docker {
            Ok(version) => json!({"status": "ok", "api_version": version}),
            Err(e) => json!({"status": "unreachable", "message": e.message}),
        },
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
