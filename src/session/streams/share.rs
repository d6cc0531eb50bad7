//! `watch`: a shared terminal, read-only. It starts with the terminal's size and current
//! screen, then follows its output; a watcher that falls behind skips to the current screen
//! (the sharer never waits for it), and one who leaves the course stops watching.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;

use super::{Ending, Outcome};
use crate::error::ApiError;
use crate::session::protocol::{ServerMessage, StreamId, CHANNEL_STDOUT};
use crate::session::resume::Watched;
use crate::session::{SessionCtx, StreamParts};

/// How often a watcher's place in the course is checked again.
const MEMBERSHIP_EVERY: Duration = Duration::from_secs(2);

pub(in crate::session) async fn watch(
    ctx: Arc<SessionCtx>,
    stream: StreamId,
    share: String,
    parts: StreamParts,
) -> Outcome {
    let gone = || ApiError::not_found("no such share (it may have ended)");
    let (course_id, shared) = ctx.shares.find(&share).ok_or_else(gone)?;
    crate::courses::member(&ctx.state.db, &ctx.user, &course_id).await?;
    let ((cols, rows), screen, mut output) = shared.watch().await.ok_or_else(gone)?;
    let out = &parts.out;
    let cancel = parts.cancel.clone();
    out.send(ServerMessage::Started { stream }).await;
    out.send(ServerMessage::Resized { stream, cols, rows })
        .await;
    if !out.send_binary(CHANNEL_STDOUT, &screen, &cancel).await {
        return Ok(Ending::End);
    }
    let mut membership = tokio::time::interval(MEMBERSHIP_EVERY);
    membership.tick().await;
    loop {
        let watched = tokio::select! {
            _ = cancel.cancelled() => return Ok(Ending::End),
            _ = membership.tick() => {
                if crate::courses::member(&ctx.state.db, &ctx.user, &course_id).await.is_err() {
                    return Ok(Ending::End);
                }
                continue;
            }
            watched = output.recv() => watched,
        };
        match watched {
            Ok(Watched::Output(bytes)) => {
                if !out.send_binary(CHANNEL_STDOUT, &bytes, &cancel).await {
                    return Ok(Ending::End);
                }
            }
            Ok(Watched::Resized { cols, rows }) => {
                out.send(ServerMessage::Resized { stream, cols, rows })
                    .await;
            }
            Err(RecvError::Lagged(_)) => {
                // Behind: skip to the current screen, and follow from there.
                let Some(((cols, rows), screen, fresh)) = shared.watch().await else {
                    return Ok(Ending::End);
                };
                output = fresh;
                out.send(ServerMessage::Resized { stream, cols, rows })
                    .await;
                if !out.send_binary(CHANNEL_STDOUT, &screen, &cancel).await {
                    return Ok(Ending::End);
                }
            }
            Err(RecvError::Closed) => return Ok(Ending::End),
        }
    }
}
