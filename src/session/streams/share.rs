//! `watch`: a terminal shared with a course, or (its teacher) a student's live stream in a
//! workspace, read-only. It starts with a TTY's size and current screen, then follows the
//! output; a watcher that falls behind skips to the current screen (the stream never waits for
//! it), and one who may no longer see it (left the course) stops watching. A student is told who
//! watches their streams (`watchers`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;

use super::{Ending, Outcome};
use crate::error::ApiError;
use crate::session::protocol::{ServerMessage, StreamId, CHANNEL_STDOUT};
use crate::session::resume::{StreamOut, WatchStart, Watched};
use crate::session::{SessionCtx, StreamParts};
use crate::workspaces::Access;

/// How often a watcher's right to watch is checked again.
const RECHECK_EVERY: Duration = Duration::from_secs(2);

/// What a watch names.
pub(in crate::session) enum Watching {
    Share(String),
    Source { workspace: String, source: String },
}

pub(in crate::session) async fn watch(
    ctx: Arc<SessionCtx>,
    stream: StreamId,
    what: Watching,
    parts: StreamParts,
) -> Outcome {
    let gone = || ApiError::not_found("nothing to watch there (it may have ended)");
    let (watched, start) = match &what {
        Watching::Share(share) => {
            let (course_id, shared) = ctx.shares.find(share).ok_or_else(gone)?;
            crate::courses::member(&ctx.state.db, &ctx.user, &course_id).await?;
            let start = shared.watch().await.ok_or_else(gone)?;
            (shared, start)
        }
        Watching::Source { workspace, source } => {
            ctx.state
                .workspaces
                .open(&ctx.user, workspace, Access::Read)
                .await?;
            let watched = ctx.shares.source(workspace, source).ok_or_else(gone)?;
            let start = watched.mirror().await.ok_or_else(gone)?;
            (watched, start)
        }
    };
    let mirror = matches!(what, Watching::Source { .. });
    if mirror {
        watched.watched_by(&ctx.user.username, true).await;
    }
    let ended = follow(&ctx, stream, &what, &watched, start, &parts).await;
    if mirror {
        watched.watched_by(&ctx.user.username, false).await;
    }
    ended
}

/// Whether the watcher may still watch.
async fn still_allowed(ctx: &SessionCtx, what: &Watching) -> bool {
    match what {
        Watching::Share(share) => match ctx.shares.find(share) {
            Some((course_id, _)) => crate::courses::member(&ctx.state.db, &ctx.user, &course_id)
                .await
                .is_ok(),
            None => false,
        },
        Watching::Source { workspace, .. } => ctx
            .state
            .workspaces
            .open(&ctx.user, workspace, Access::Read)
            .await
            .is_ok(),
    }
}

async fn begin(out: &StreamOut, stream: StreamId, start: &WatchStart, parts: &StreamParts) -> bool {
    if let Some((cols, rows)) = start.size {
        out.send(ServerMessage::Resized { stream, cols, rows })
            .await;
    }
    start.screen.is_empty()
        || out
            .send_binary(CHANNEL_STDOUT, &start.screen, &parts.cancel)
            .await
}

async fn follow(
    ctx: &SessionCtx,
    stream: StreamId,
    what: &Watching,
    watched: &StreamOut,
    start: WatchStart,
    parts: &StreamParts,
) -> Outcome {
    let out = &parts.out;
    let cancel = &parts.cancel;
    out.send(ServerMessage::Started { stream }).await;
    if !begin(out, stream, &start, parts).await {
        return Ok(Ending::End);
    }
    let mut output = start.output;
    let mut recheck = tokio::time::interval(RECHECK_EVERY);
    recheck.tick().await;
    loop {
        let next = tokio::select! {
            _ = cancel.cancelled() => return Ok(Ending::End),
            _ = recheck.tick() => {
                if !still_allowed(ctx, what).await {
                    return Ok(Ending::End);
                }
                continue;
            }
            next = output.recv() => next,
        };
        match next {
            Ok(Watched::Output(channel, bytes)) => {
                if !out.send_binary(channel, &bytes, cancel).await {
                    return Ok(Ending::End);
                }
            }
            Ok(Watched::Resized { cols, rows }) => {
                out.send(ServerMessage::Resized { stream, cols, rows })
                    .await;
            }
            Err(RecvError::Lagged(_)) => {
                // Behind: skip to the current screen, and follow from there.
                let Some(fresh) = watched.watch().await else {
                    return Ok(Ending::End);
                };
                if !begin(out, stream, &fresh, parts).await {
                    return Ok(Ending::End);
                }
                output = fresh.output;
            }
            Err(RecvError::Closed) => return Ok(Ending::End),
        }
    }
}
