//! `logs` and `stats` of a container.

use std::sync::Arc;

use super::{
    engine_went_away, find, host_lost, next_item, output_failed, pump_output, wait_unpaused,
    Ending, Interrupted, Limits, Outcome, Use,
};
use crate::docker::observe::LogsSpec;
use crate::error::ApiError;
use crate::session::protocol;
use crate::session::protocol::ServerMessage;
use crate::session::protocol::{LogsRequest, StatsRequest};
use crate::session::{SessionCtx, StreamParts};

/// Streams a container's logs; with `follow`, until the container stops or the stream ends.
pub(in crate::session) async fn logs(
    ctx: Arc<SessionCtx>,
    request: LogsRequest,
    mut parts: StreamParts,
) -> Outcome {
    let stream = request.stream;
    let target = protocol::target(&request.container, &request.workspace)?;
    let found = find(&ctx, &target, Use::Watch).await?;
    let (info, engine) = (&found.info, &found.engine);
    let since = match request.since.map(i32::try_from) {
        None => 0,
        Some(Ok(since)) if since >= 0 => since,
        _ => return Err(ApiError::bad_request("since is out of range")),
    };
    let spec = LogsSpec {
        follow: request.follow,
        since,
        timestamps: request.timestamps,
        tail: request.tail,
        tty: info.config.as_ref().and_then(|c| c.tty).unwrap_or(false),
    };
    let id = info.id.clone().unwrap_or_default();
    let no_resize = |_, _| tokio::spawn(async {});
    let mut output = engine.logs(&id, spec).await?;
    ctx.send(ServerMessage::Started { stream }).await;
    let interrupted = pump_output(
        engine,
        &mut output,
        &mut parts,
        Limits::default(),
        no_resize,
    )
    .await;
    // A follow ends when the container stops; an engine that went away, or output that broke
    // off, is not that.
    match interrupted {
        Some(Interrupted::HostLost) => Err(host_lost()),
        None | Some(Interrupted::OutputFailed) if engine_went_away(engine).await => {
            Err(host_lost())
        }
        Some(Interrupted::OutputFailed) => Err(output_failed()),
        _ => Ok(Ending::End),
    }
}

/// Sends a container's resource use about once a second until it stops or the stream ends.
pub(in crate::session) async fn stats(
    ctx: Arc<SessionCtx>,
    request: StatsRequest,
    mut parts: StreamParts,
) -> Outcome {
    let stream = request.stream;
    let target = protocol::target(&request.container, &request.workspace)?;
    let found = find(&ctx, &target, Use::Watch).await?;
    let (info, engine) = (&found.info, &found.engine);
    let id = info.id.clone().unwrap_or_default();
    let mut samples = Box::pin(engine.stats_until_stopped(&id).await?);
    ctx.send(ServerMessage::Started { stream }).await;
    let cancel = parts.cancel.clone();
    loop {
        let next = match wait_unpaused(&mut parts.flow, 0, &cancel, engine).await {
            Some(interrupted) => Err(interrupted),
            None => next_item(&mut samples, &cancel, engine).await,
        };
        match next {
            Err(Interrupted::HostLost) => return Err(host_lost()),
            Ok(None | Some(Err(_))) if engine_went_away(engine).await => return Err(host_lost()),
            Ok(Some(Err(_))) => return Err(output_failed()),
            Err(_) | Ok(None) => break,
            Ok(Some(Ok(sample))) => {
                let usage = crate::docker::observe::usage(&sample);
                if !ctx.send(ServerMessage::Stats { stream, usage }).await {
                    break;
                }
            }
        }
    }
    Ok(Ending::End)
}
