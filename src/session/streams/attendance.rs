//! `attendance.watch`: a teacher's screen.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use super::{Ending, Outcome};
use crate::attendance::{self, code};
use crate::clock::{now_ms, rfc3339};
use crate::session::protocol::ServerMessage;
use crate::session::protocol::StreamId;
use crate::session::{SessionCtx, StreamParts};

/// A teacher's screen: the code of every step as it starts, and each check-in as it happens,
/// until the attendance session closes (`end`) or the stream or session ends. Nothing runs for
/// the attendance session itself; this stream's timer is the only one, and it dies with it.
pub(in crate::session) async fn watch(
    ctx: Arc<SessionCtx>,
    stream: StreamId,
    attendance_id: String,
    parts: StreamParts,
) -> Outcome {
    let state = &ctx.state;
    let session = attendance::watchable(&state.db, &ctx.user, &attendance_id).await?;
    let mut events = state.attendance.subscribe(&session.id);
    ctx.send(ServerMessage::Started { stream }).await;
    let cancel = parts.cancel.clone();
    let secret = session.secret.as_bytes();
    let mut sent_step = None;
    'steps: loop {
        let now = now_ms();
        if !attendance::is_open(&session, now) {
            break;
        }
        let step = code::step(now, session.opens_at, attendance::period_ms(&session));
        let step_end = code::step_end(step, session.opens_at, attendance::period_ms(&session));
        // The timer runs on the monotonic clock and codes on the wall clock, so a wake-up can
        // come a moment before the wall clock turns: the screen gets each code once.
        if sent_step != Some(step) {
            let expires_at = rfc3339(step_end.min(session.closes_at));
            let message = ServerMessage::AttendanceCode {
                stream,
                code: code::code(secret, step),
                expires_at,
            };
            if !ctx.send(message).await {
                break;
            }
            sent_step = Some(step);
        }
        let wait = (step_end.min(session.closes_at) - now_ms()).max(1) as u64;
        let next_step = tokio::time::sleep(Duration::from_millis(wait));
        tokio::pin!(next_step);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break 'steps,
                _ = &mut next_step => continue 'steps,
                event = events.recv() => match event {
                    Ok(attendance::Event::CheckIn { user_id, username, at_ms, count }) => {
                        let at = rfc3339(at_ms);
                        let message = ServerMessage::AttendanceCheckin { stream, user_id, username, at, count };
                        if !ctx.send(message).await {
                            break 'steps;
                        }
                    }
                    Ok(attendance::Event::Closed) | Err(broadcast::error::RecvError::Closed) => break 'steps,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "watcher fell behind on check-ins");
                    }
                },
            }
        }
    }
    drop(events);
    state.attendance.unsubscribed(&session.id);
    Ok(Ending::End)
}
