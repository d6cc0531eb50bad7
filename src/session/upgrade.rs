//! Opening a session: the upgrade checks the origin and the credentials (a bearer token, or a
//! single-use ticket so that tokens never travel in URLs), registers the session so that
//! logout, account deletion and shutdown can close it, and starts its tasks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{get, web, HttpRequest, HttpResponse};
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::{socket, SessionCtx};
use crate::auth;
use crate::error::{ApiError, ErrorCode};
use crate::live_sessions::{Opened, Sessions};
use crate::state::AppState;

/// Frames (and messages assembled from continuation frames) larger than this end the
/// connection (close code 1009); those between the configured `max_frame_bytes` and this get
/// an `error` and the session goes on. Twice the configured size, with room for small limits.
fn hard_frame_limit(max_frame_bytes: usize) -> usize {
    max_frame_bytes.saturating_mul(2).max(64 << 10)
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
pub struct WsQuery {
    /// A single-use ticket from `POST /api/v1/ws/ticket`, for a browser (which cannot set
    /// a header on an upgrade), in place of the bearer token.
    ticket: Option<String>,
}

/// `GET /api/v1/ws`: upgrades an authenticated request and starts the session's tasks.
#[utoipa::path(
    tag = "session",
    params(WsQuery),
    description = "The session's WebSocket: terminals, logs, stats, runs, pulls and builds, \
        live. Its messages are written down in docs/protocol.md. It takes the bearer token, or \
        a `ticket` instead.",
    security(("bearer" = []), ("ticket" = [])),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol"),
        (status = 403, response = crate::error::answers::Forbidden),
        (status = 429, response = crate::error::answers::TooMany),
    ),
)]
#[get("/ws")]
pub async fn ws_handler(
    req: HttpRequest,
    body: web::Payload,
    query: web::Query<WsQuery>,
    state: web::Data<AppState>,
    resumes: web::Data<super::resume::Resumes>,
    shares: web::Data<super::share::Shares>,
    jobs: web::Data<super::jobs::Jobs>,
) -> Result<HttpResponse, ApiError> {
    let settings = &state.settings;
    let auth_state = &state.auth;
    check_origin(&req, &settings.allowed_origins)?;
    // Another replica relaying a watch or a reattach here for its client: the session parks
    // under that client's resume token, which only the client holds.
    let (user, claims, resume_as) = match relay_ticket(&req) {
        Some(ticket) => {
            let (user, claims, resume_as) =
                auth::relayed_caller(auth_state, &state.db, ticket).await?;
            (user, claims, Some(resume_as))
        }
        None => {
            let token = auth::bearer(&req);
            let (user, claims) =
                auth::caller(auth_state, &state.db, token, query.ticket.as_deref()).await?;
            (user, claims, None)
        }
    };

    let (response, ws, messages) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::bad_request(format!("not a WebSocket upgrade: {e}")))?;
    let sessions = state.sessions.clone();
    // Counted on every replica, so that one user cannot hold the servers' sockets and tasks. A
    // relay's session is its client's on the other replica, counted there.
    let max_sessions = settings.session.max_sessions_per_user;
    let seat = match resume_as {
        Some(_) => None,
        None => match state.replicas.seat_session(&user.id, max_sessions).await? {
            Some(seat) => Some(seat),
            None => {
                return Err(ApiError::new(
                    ErrorCode::TooMany,
                    format!("at most {max_sessions} sessions may be open at once; close one first"),
                ))
            }
        },
    };
    // Dropping `seat` on an error gives it back.
    // Messages are assembled from continuation frames only up to what a frame may be, so
    // nothing larger is ever buffered; beyond the hard limit the connection closes.
    let hard_limit = hard_frame_limit(settings.session.max_frame_bytes);
    let messages = messages
        .max_frame_size(hard_limit)
        .aggregate_continuations()
        .max_continuation_size(hard_limit);

    let Opened {
        id,
        streams: own_streams,
        cancel,
        reason,
    } = sessions.open(&user.id, &claims.jti, seat.as_ref().map(|s| s.id()));
    // The token may have been revoked between the check and the registration above (on any
    // replica: the event may have gone by before this session was there to hear it). If the
    // database cannot say, the session closes.
    if auth_state
        .is_revoked(&state.db, &claims.jti)
        .await
        .unwrap_or(true)
    {
        sessions.close_token(&claims.jti);
    }

    let span = tracing::info_span!("session", session = %id, user = %user.id);
    let (out_tx, out_rx) = mpsc::channel(settings.session.output_queue);
    let (resume_token, resume_hash) = match resume_as {
        Some(hash) => (None, hash),
        None => {
            let (token, hash) = super::resume::new_token();
            ((settings.session.resume_grace_s > 0).then_some(token), hash)
        }
    };
    let client = auth::client_address(&req, &state.auth.trusted_proxies);
    let ctx = Arc::new(SessionCtx {
        id: id.clone(),
        user,
        claims,
        client,
        settings: settings.session.clone(),
        cancel: cancel.clone(),
        out: out_tx,
        streams: Mutex::new(HashMap::new()),
        tracker: TaskTracker::new(),
        live_streams: sessions.stream_counter(),
        own_streams,
        state: state.clone(),
        resume_hash,
        resumes: resumes.into_inner(),
        shares: shares.into_inner(),
        jobs: jobs.into_inner(),
        relays: Mutex::new(HashMap::new()),
        resumables: Mutex::new(Vec::new()),
        bye: std::sync::atomic::AtomicBool::new(false),
    });
    let tracker = sessions.tracker();
    tracker.spawn_local(
        async move {
            let _counted = crate::metrics::LiveSession::new();
            tracing::info!("session opened");
            let registered = Registered {
                sessions,
                id,
                _seat: seat,
            };
            socket::run(ctx, ws, messages, out_rx, reason, resume_token).await;
            drop(registered);
            tracing::info!("session closed");
        }
        .instrument(span),
    );
    Ok(response)
}

/// A session's place in this replica's list and its seat: both given back when it ends, even
/// by a panic.
struct Registered {
    sessions: Arc<Sessions>,
    id: String,
    _seat: Option<crate::replicas::held::Seat>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.sessions.closed(&self.id);
    }
}

fn relay_ticket(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(super::relay::RELAY_TICKET_HEADER)
        .and_then(|value| value.to_str().ok())
}

/// A browser's `Origin` must be one of the allowed origins, or the server's own by default.
fn check_origin(req: &HttpRequest, allowed: &[String]) -> Result<(), ApiError> {
    let Some(origin) = req.headers().get(actix_web::http::header::ORIGIN) else {
        return Ok(()); // not a browser
    };
    let origin = origin.to_str().unwrap_or_default();
    let ok = if allowed.is_empty() {
        let host = req.connection_info().host().to_string();
        origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.trim_end_matches('/') == host)
    } else {
        allowed
            .iter()
            .any(|a| a.trim_end_matches('/') == origin.trim_end_matches('/'))
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::forbidden("origin not allowed"))
    }
}
