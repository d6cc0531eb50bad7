//! The session's connection: [`run`] starts the writer and the heartbeat beside the reader
//! (the command loop in `dispatch`), and when the reader ends for any reason, cancels the
//! session and waits (bounded) for its streams to clean up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_ws::{CloseCode, CloseReason};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{dispatch, Control, Outgoing, SessionCtx};
use crate::config::SessionSettings;
use crate::live_sessions::{Closing, ClosingReason};
use crate::session::protocol::ServerMessage;

/// How long a closing session waits for its streams to clean up.
const CLEANUP_GRACE: Duration = Duration::from_secs(10);

pub(super) async fn run(
    ctx: Arc<SessionCtx>,
    ws: actix_ws::Session,
    messages: actix_ws::AggregatedMessageStream,
    out_rx: mpsc::Receiver<Outgoing>,
    reason: ClosingReason,
    resume_token: Option<String>,
) {
    let started = Instant::now();
    let last_seen = Arc::new(AtomicU64::new(0));
    let (control_tx, control_rx) = mpsc::channel(8);

    let writer = actix_web::rt::spawn(
        write_loop(ws, out_rx, control_rx, ctx.cancel.clone(), reason.clone()).in_current_span(),
    );
    let heartbeat = actix_web::rt::spawn(
        heartbeat_loop(
            ctx.settings.clone(),
            started,
            last_seen.clone(),
            control_tx.clone(),
            ctx.cancel.clone(),
            reason.clone(),
        )
        .in_current_span(),
    );

    ctx.send(ServerMessage::hello(
        &ctx.id,
        ctx.settings.heartbeat_interval_ms,
        resume_token,
    ))
    .await;
    dispatch::read_loop(&ctx, messages, started, &last_seen, &control_tx).await;

    // A session the client lost (not one it ended with `bye`, nor one the server closed) parks
    // its resumable streams; otherwise they stop with it.
    let grace = ctx.settings.resume_grace_s;
    // Background jobs run on however the session ended, held by nobody until an `attach`.
    let (jobs, resumables): (Vec<_>, Vec<_>) = ctx
        .take_resumables()
        .into_iter()
        .partition(|out| out.is_job());
    for job in jobs {
        job.park(&*ctx).await;
    }
    if !ctx.bye.load(Ordering::Relaxed) && reason.get().is_none() && grace > 0 {
        let streams = resumables;
        ctx.resumes
            .clone()
            .park(
                &*ctx,
                ctx.resume_hash.clone(),
                streams,
                Duration::from_secs(grace),
            )
            .await;
    } else {
        for stream in resumables {
            stream.cancel.cancel();
        }
    }
    // Whatever ended the reader ends the session: stop every stream, let them clean up.
    ctx.cancel.cancel();
    ctx.tracker.close();
    if tokio::time::timeout(CLEANUP_GRACE, ctx.tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("streams still cleaning up after the grace period");
    }
    let _ = heartbeat.await;
    let _ = writer.await;
}

enum Next {
    Control(Control),
    Out(Outgoing),
}

/// The writer task: the only owner of the socket's sink.
async fn write_loop(
    mut ws: actix_ws::Session,
    mut out: mpsc::Receiver<Outgoing>,
    mut control: mpsc::Receiver<Control>,
    cancel: CancellationToken,
    reason: ClosingReason,
) {
    loop {
        // Keepalive goes first; stream output keeps its order.
        let frame = tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            Some(c) = control.recv() => Next::Control(c),
            Some(o) = out.recv() => Next::Out(o),
            else => break,
        };
        let sent = tokio::select! {
            _ = cancel.cancelled() => break,
            sent = async {
                match frame {
                    Next::Out(Outgoing::Text(t)) => ws.text(t).await,
                    Next::Out(Outgoing::Binary(b)) => {
                        crate::metrics::metrics().relayed_bytes.inc_by(b.len() as u64);
                        ws.binary(b).await
                    }
                    Next::Control(Control::Ping) => ws.ping(b"").await,
                    Next::Control(Control::Pong(p)) => ws.pong(&p).await,
                }
            } => sent,
        };
        if sent.is_err() {
            break; // the client is gone
        }
    }
    cancel.cancel();
    let frame = reason.get().map_or(
        CloseReason {
            code: CloseCode::Normal,
            description: None,
        },
        |why| close_frame(*why),
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(Some(frame))).await;
}

/// The close frame that tells the client why its session was closed.
fn close_frame(why: Closing) -> CloseReason {
    let (code, description) = match why {
        Closing::TokenRevoked => (CloseCode::Policy, "token revoked"),
        Closing::AccountDeleted => (CloseCode::Policy, "account deleted"),
        Closing::EndedByAdmin => (CloseCode::Policy, "ended by an admin"),
        Closing::ServerShutdown => (CloseCode::Restart, "server shutting down"),
        Closing::Silent => (CloseCode::Away, "heartbeat timeout"),
    };
    CloseReason {
        code,
        description: Some(description.into()),
    }
}

/// The heartbeat task: pings on schedule, and ends the session when the client has sent
/// nothing (not even a pong) for the timeout.
async fn heartbeat_loop(
    settings: SessionSettings,
    started: Instant,
    last_seen: Arc<AtomicU64>,
    control: mpsc::Sender<Control>,
    cancel: CancellationToken,
    reason: ClosingReason,
) {
    // Silence is checked more often than pings are sent, so a dead client is dropped close to
    // the timeout rather than up to one ping interval late.
    let ping_every = Duration::from_millis(settings.heartbeat_interval_ms);
    let check_every = ping_every.min(
        Duration::from_millis(settings.heartbeat_timeout_ms / 4).max(Duration::from_millis(50)),
    );
    let mut interval = tokio::time::interval(check_every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_ping = Instant::now();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = interval.tick() => {}
        }
        let silent_ms = (started.elapsed().as_millis() as u64)
            .saturating_sub(last_seen.load(Ordering::Relaxed));
        if silent_ms > settings.heartbeat_timeout_ms {
            tracing::info!(silent_ms, "client silent; closing session");
            let _ = reason.set(Closing::Silent);
            cancel.cancel();
            return;
        }
        if last_ping.elapsed() >= ping_every {
            last_ping = Instant::now();
            let _ = control.try_send(Control::Ping);
        }
    }
}
