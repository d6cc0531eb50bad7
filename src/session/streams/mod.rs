//! The streams a session runs. Each ends on its own token (a child of the session's) and cleans
//! up before it returns: an exec kills what it started, a build or transfer drops its request
//! (which stops it on the engine), a watch stops its timer. A stream returns how it ended
//! ([`Ending`]) or the error that ended it, and the code that spawned it (`dispatch`) releases
//! its id and says `exit`, `end` or `error`, once. A stream on a Docker host that stops
//! answering ends with `unavailable` instead of waiting on it; an exec's processes are killed
//! once the host answers again.

pub(super) mod attendance;
pub(super) mod exec;
pub(super) mod images;
pub(super) mod logs_stats;

use std::sync::Arc;

use bollard::container::LogOutput;
use futures_util::{Stream, StreamExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::protocol::{self, StreamId, CHANNEL_STDERR, CHANNEL_STDOUT};
use super::{SessionCtx, StreamParts};
use crate::docker::Engine;
use crate::error::ApiError;

/// Largest chunk read from Docker at once; bigger output arrives as several frames.
const READ_CAPACITY: usize = 64 * 1024;

/// Why forwarding output stopped, when the output did not simply end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interrupted {
    /// The stream, or its session, was cancelled.
    Cancelled,
    /// The engine the stream reads from stopped answering its health pings.
    HostLost,
}

/// The error a stream ends with when its engine stops answering.
fn host_lost() -> ApiError {
    ApiError::new(
        crate::error::ErrorCode::Unavailable,
        "the Docker host stopped answering",
    )
}

/// How a stream ended, when it did not fail: the last message its spawner sends.
#[derive(Debug)]
pub(super) enum Ending {
    /// An exec's process ended, with its exit status when known.
    Exit(Option<i64>),
    /// Logs, stats, a transfer or a watch are over.
    End,
    /// A build is done (its image), or was cancelled (None).
    Built(Option<String>),
}

impl Ending {
    pub(super) fn message(&self, stream: StreamId) -> String {
        match self {
            Ending::Exit(code) => protocol::exit(stream, *code),
            Ending::End => protocol::end(stream),
            Ending::Built(image) => protocol::built(stream, image.as_deref()),
        }
    }
}

/// What every stream returns.
pub(super) type Outcome = Result<Ending, ApiError>;

/// The user's container (theirs, or any of berth's for an admin), the engine of the host it
/// lives on, and a client of that engine.
async fn owned_container(
    ctx: &SessionCtx,
    container: &str,
) -> Result<
    (
        bollard::models::ContainerInspectResponse,
        Arc<Engine>,
        bollard::Docker,
    ),
    ApiError,
> {
    let (info, host) = ctx
        .state
        .containers
        .find_owned(&ctx.user, container)
        .await?;
    let docker = host.engine.client().await?;
    Ok((info, host.engine, docker))
}

/// The next item of `items`, unless the stream is cancelled or its engine stops answering
/// first: the one wait every engine-fed stream makes.
async fn next_item<S: Stream + Unpin>(
    items: &mut S,
    cancel: &CancellationToken,
    engine: &Engine,
) -> Result<Option<S::Item>, Interrupted> {
    tokio::select! {
        _ = cancel.cancelled() => Err(Interrupted::Cancelled),
        _ = engine.stopped_answering() => Err(Interrupted::HostLost),
        item = items.next() => Ok(item),
    }
}

/// Waits until the stream is not paused; what interrupted it if it was cancelled, or its engine
/// stopped answering, meanwhile.
async fn wait_unpaused(
    paused: &mut watch::Receiver<bool>,
    cancel: &CancellationToken,
    engine: &Engine,
) -> Option<Interrupted> {
    tokio::select! {
        _ = cancel.cancelled() => Some(Interrupted::Cancelled),
        _ = engine.stopped_answering() => Some(Interrupted::HostLost),
        r = paused.wait_for(|p| !*p) => r.is_err().then_some(Interrupted::Cancelled),
    }
}

/// Forwards Docker output to the client as binary frames until the output ends (None), the
/// stream is cancelled, or its engine stops answering. Output is read only as fast as the client
/// takes it, and not at all while paused.
async fn pump_output<S>(
    ctx: &SessionCtx,
    stream: StreamId,
    engine: &Engine,
    output: &mut S,
    parts: &mut StreamParts,
    mut on_resize: impl FnMut(u16, u16) -> tokio::task::JoinHandle<()>,
) -> Option<Interrupted>
where
    S: Stream<Item = Result<LogOutput, bollard::errors::Error>> + Unpin,
{
    let cancel = parts.cancel.clone();
    loop {
        if let Some(interrupted) = wait_unpaused(&mut parts.paused, &cancel, engine).await {
            return Some(interrupted);
        }
        let resize = async {
            match parts.resize.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        let item = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Some(Interrupted::Cancelled),
            _ = engine.stopped_answering() => return Some(Interrupted::HostLost),
            Some((cols, rows)) = resize => {
                on_resize(cols, rows);
                continue;
            }
            item = output.next() => item,
        };
        let (channel, message) = match item {
            Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => {
                (CHANNEL_STDOUT, message)
            }
            Some(Ok(LogOutput::StdErr { message })) => (CHANNEL_STDERR, message),
            Some(Ok(LogOutput::StdIn { .. })) => continue,
            Some(Err(e)) => {
                tracing::info!(error = %crate::error::chain(&e), "output stream failed");
                return None;
            }
            None => return None,
        };
        let frame = protocol::binary_frame(stream, channel, &message);
        if !ctx.send_binary(frame, &cancel).await {
            return Some(Interrupted::Cancelled);
        }
    }
}
