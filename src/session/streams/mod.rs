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
pub(super) mod share;

use std::sync::Arc;

use bollard::container::LogOutput;
use futures_util::{FutureExt, Stream, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::protocol::{StreamId, Target, CHANNEL_STDERR, CHANNEL_STDOUT};
use super::{Flow, SessionCtx, StreamParts};
use crate::docker::Engine;
use crate::error::ApiError;
use crate::session::protocol::ServerMessage;
use crate::workspaces::run::Killed;
use crate::workspaces::{Access, Opened, StreamHold};

/// Largest chunk read from Docker at once; bigger output arrives as several frames.
const READ_CAPACITY: usize = 64 * 1024;

/// Why forwarding output stopped, when the output did not simply end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interrupted {
    /// The stream, or its session, was cancelled.
    Cancelled,
    /// The engine the stream reads from stopped answering its health pings.
    HostLost,
    /// A `run` reached its time limit.
    TimeLimit,
    /// A `run` printed as much as it may.
    OutputLimit,
    /// The engine's output stream broke while the engine still answers.
    OutputFailed,
}

/// What a `run` may use before berth stops it; nothing is limited for other streams.
#[derive(Debug, Default, Clone, Copy)]
struct Limits {
    deadline: Option<tokio::time::Instant>,
    output_bytes: Option<u64>,
}

/// The error a stream ends with when its engine stops answering.
fn host_lost() -> ApiError {
    ApiError::new(
        crate::error::ErrorCode::Unavailable,
        "the Docker host stopped answering",
    )
}

/// The error a stream ends with when the engine's output broke off (the engine still answers).
fn output_failed() -> ApiError {
    ApiError::new(
        crate::error::ErrorCode::Unavailable,
        "the Docker engine's output stream broke off",
    )
}

/// Whether the engine went away under a stream whose engine output just ended (it was killed,
/// or its socket closed): such an ending is the engine's failure, not the stream's end. Asking
/// it also records its health, so other streams and `/readyz` learn of it at once.
async fn engine_went_away(engine: &Engine) -> bool {
    engine.api_version().await.is_err()
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
    /// A template was derived: the image built, and the new template's id.
    Derived { image: String, template: String },
    /// A `run` ended: its exit status, how long it took, and why berth killed it, if it did.
    Ran {
        code: Option<i64>,
        duration_ms: u64,
        killed: Option<Killed>,
    },
}

impl Ending {
    pub(super) fn message(&self, stream: StreamId) -> ServerMessage {
        match self {
            Ending::Exit(code) => ServerMessage::Exit {
                stream,
                code: *code,
            },
            Ending::End => ServerMessage::End { stream },
            Ending::Built(image_id) => ServerMessage::Built {
                stream,
                image_id: image_id.clone(),
            },
            Ending::Derived { image, template } => ServerMessage::Derived {
                stream,
                image_id: image.clone(),
                template: template.clone(),
            },
            Ending::Ran {
                code,
                duration_ms,
                killed,
            } => ServerMessage::Ran {
                stream,
                code: *code,
                duration_ms: *duration_ms,
                killed: *killed,
            },
        }
    }
}

/// What every stream returns.
pub(super) type Outcome = Result<Ending, ApiError>;

/// What a stream is for: running something needs the target running (a workspace is started)
/// and the right to change it; watching (logs, stats) needs only the right to see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Run,
    Watch,
}

/// A workspace a stream runs against, held active while the stream lives.
struct InWorkspace {
    opened: Opened,
    _hold: StreamHold,
}

/// What a stream runs against, found and checked for the session's user.
struct Found {
    /// As the client named it, for messages.
    name: String,
    info: bollard::models::ContainerInspectResponse,
    /// The name of its Docker host.
    host: String,
    engine: Arc<Engine>,
    workspace: Option<InWorkspace>,
}

/// The user's container (theirs, or any of berth's for an admin), or the container of a
/// workspace they may use this way, with the engine of its host.
async fn find(ctx: &SessionCtx, target: &Target, usage: Use) -> Result<Found, ApiError> {
    let state = &ctx.state;
    let (name, info, host, workspace) = match target {
        Target::Container(name) => {
            let (info, host) = state.containers.find_owned(&ctx.user, name).await?;
            (name, info, host, None)
        }
        Target::Workspace(id) => {
            let (opened, info) = match usage {
                Use::Run => {
                    state
                        .workspaces
                        .running(&ctx.user, id, Access::Write)
                        .await?
                }
                Use::Watch => {
                    let opened = state.workspaces.open(&ctx.user, id, Access::Read).await?;
                    let info = opened
                        .host
                        .engine
                        .inspect_container(opened.container())
                        .await?
                        .ok_or_else(|| {
                            ApiError::not_found(format!("workspace {id} lost its container"))
                        })?;
                    (opened, info)
                }
            };
            let hold = state.workspaces.hold(&opened.row.id);
            let host = opened.host.clone();
            (
                id,
                info,
                host,
                Some(InWorkspace {
                    opened,
                    _hold: hold,
                }),
            )
        }
    };
    Ok(Found {
        name: name.clone(),
        info,
        host: host.name,
        engine: host.engine,
        workspace,
    })
}

/// The channel and bytes of one piece of output; None for what is not output (echoed stdin).
fn bytes_of(output: LogOutput) -> Option<(u8, bytes::Bytes)> {
    match output {
        LogOutput::StdOut { message } | LogOutput::Console { message } => {
            Some((CHANNEL_STDOUT, message))
        }
        LogOutput::StdErr { message } => Some((CHANNEL_STDERR, message)),
        LogOutput::StdIn { .. } => None,
    }
}

/// Output on `channel`, to be read next.
fn output_on(channel: u8, message: bytes::Bytes) -> LogOutput {
    if channel == CHANNEL_STDERR {
        LogOutput::StdErr { message }
    } else {
        LogOutput::StdOut { message }
    }
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

/// Waits until the stream, having sent `sent` output bytes, may send more (not paused, within
/// its window); what interrupted it if it was cancelled, or its engine stopped answering,
/// meanwhile.
async fn wait_unpaused(
    flow: &mut watch::Receiver<Flow>,
    sent: u64,
    cancel: &CancellationToken,
    engine: &Engine,
) -> Option<Interrupted> {
    tokio::select! {
        _ = cancel.cancelled() => Some(Interrupted::Cancelled),
        _ = engine.stopped_answering() => Some(Interrupted::HostLost),
        r = flow.wait_for(|flow| flow.lets(sent)) => r.is_err().then_some(Interrupted::Cancelled),
    }
}

/// Forwards Docker output to the client as binary frames until the output ends (None), the
/// stream is cancelled, its engine stops answering, or it reaches one of its `limits`. Output
/// is read only as fast as the client takes it, and not at all while paused (the time limit
/// runs on).
async fn pump_output<S>(
    engine: &Engine,
    output: &mut S,
    parts: &mut StreamParts,
    limits: Limits,
    mut on_resize: impl FnMut(u16, u16) -> tokio::task::JoinHandle<()>,
) -> Option<Interrupted>
where
    S: Stream<Item = OutputItem> + Unpin,
{
    let cancel = parts.cancel.clone();
    let deadline = async {
        match limits.deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    let mut deadline = std::pin::pin!(deadline);
    let mut output_left = limits.output_bytes;
    // Output bytes sent so far, which a window bounds.
    let mut sent: u64 = 0;
    // An item read ahead while filling a frame that belongs in the next one.
    let mut read_ahead: Option<Option<OutputItem>> = None;
    loop {
        let unpaused = tokio::select! {
            interrupted = wait_unpaused(&mut parts.flow, sent, &cancel, engine) => interrupted,
            _ = &mut deadline => Some(Interrupted::TimeLimit),
        };
        if let Some(interrupted) = unpaused {
            return Some(interrupted);
        }
        let item = match read_ahead.take() {
            Some(item) => item,
            None => tokio::select! {
                biased;
                _ = cancel.cancelled() => return Some(Interrupted::Cancelled),
                _ = engine.stopped_answering() => return Some(Interrupted::HostLost),
                _ = &mut deadline => return Some(Interrupted::TimeLimit),
                Some((cols, rows)) = next_resize(&mut parts.resize) => {
                    parts.out.resized(cols, rows).await;
                    on_resize(cols, rows);
                    continue;
                }
                item = output.next() => item,
            },
        };
        let (channel, first) = match item {
            Some(Ok(output)) => match bytes_of(output) {
                Some(found) => found,
                None => continue,
            },
            Some(Err(e)) => {
                tracing::info!(error = %crate::error::chain(&e), "output stream failed");
                return Some(Interrupted::OutputFailed);
            }
            None => return None,
        };
        // Within the window: the first chunk goes whole, more only while there is room.
        let room = parts.flow.borrow().room(sent).min(READ_CAPACITY as u64) as usize;
        let (message, next) = coalesce(output, channel, first, room).await;
        read_ahead = next;
        let (message, over) = cut_at_limit(message, &mut output_left);
        if !message.is_empty() {
            if !parts.out.send_binary(channel, &message, &cancel).await {
                return Some(Interrupted::Cancelled);
            }
            sent += message.len() as u64;
        }
        if over {
            return Some(Interrupted::OutputLimit);
        }
    }
}

/// One item of an exec's or a container's output, as the engine gives it.
type OutputItem = Result<LogOutput, bollard::errors::Error>;

/// The next size a TTY stream's client asked for; never, for a stream without a TTY.
async fn next_resize(resize: &mut Option<mpsc::Receiver<(u16, u16)>>) -> Option<(u16, u16)> {
    match resize.as_mut() {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// `first` and whatever the engine has already sent after it on the same `channel`, up to
/// `room` bytes, as one frame: logs arrive a line at a time, and a frame per line makes a long
/// log crawl. Returns the frame, and the item read that belongs in the next one (another
/// channel, the end, or an error). The engine's connection hands its data over in another
/// task, so an empty poll yields to it once before the frame is closed.
async fn coalesce<S>(
    output: &mut S,
    channel: u8,
    first: bytes::Bytes,
    room: usize,
) -> (bytes::Bytes, Option<Option<OutputItem>>)
where
    S: Stream<Item = OutputItem> + Unpin,
{
    let mut message = bytes::BytesMut::from(first);
    let mut idle = 0;
    while message.len() < room && idle < 2 {
        match output.next().now_or_never() {
            None => {
                idle += 1;
                tokio::task::yield_now().await;
            }
            Some(Some(Ok(more))) => {
                idle = 0;
                match bytes_of(more) {
                    Some((same, bytes)) if same == channel => message.extend_from_slice(&bytes),
                    Some((other, bytes)) => {
                        return (message.freeze(), Some(Some(Ok(output_on(other, bytes)))));
                    }
                    None => {}
                }
            }
            Some(end_or_error) => return (message.freeze(), Some(end_or_error)),
        }
    }
    (message.freeze(), None)
}

/// Output past the limit (`left` bytes, None for no limit) is cut at the limit; true when
/// the limit was reached, which ends the stream.
fn cut_at_limit(message: bytes::Bytes, left: &mut Option<u64>) -> (bytes::Bytes, bool) {
    match left.as_mut() {
        Some(left) if message.len() as u64 > *left => (message.slice(..*left as usize), true),
        Some(left) => {
            *left -= message.len() as u64;
            (message, false)
        }
        None => (message, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn out(channel: u8, text: &str) -> OutputItem {
        Ok(output_on(channel, Bytes::from(text.to_string())))
    }

    #[tokio::test]
    async fn waiting_output_of_one_channel_goes_in_one_frame() {
        let mut output = futures_util::stream::iter(vec![
            out(CHANNEL_STDOUT, "b\n"),
            out(CHANNEL_STDOUT, "c\n"),
            out(CHANNEL_STDERR, "oops\n"),
            out(CHANNEL_STDOUT, "d\n"),
        ]);
        let (frame, next) = coalesce(&mut output, CHANNEL_STDOUT, Bytes::from("a\n"), 1024).await;
        assert_eq!(&frame[..], b"a\nb\nc\n");
        // The stderr chunk is kept for the next frame, and nothing after it was read.
        let Some(Some(Ok(next))) = next else {
            panic!("the other channel's chunk was lost")
        };
        assert_eq!(
            bytes_of(next),
            Some((CHANNEL_STDERR, Bytes::from("oops\n")))
        );
        assert!(matches!(output.next().await, Some(Ok(_))));
    }

    #[tokio::test]
    async fn a_frame_stops_at_its_room_and_before_the_end() {
        let mut output = futures_util::stream::iter(vec![out(1, "bb"), out(1, "cc"), out(1, "dd")]);
        let (frame, next) = coalesce(&mut output, 1, Bytes::from("aa"), 4).await;
        assert_eq!(&frame[..], b"aabb");
        assert!(next.is_none());
        let mut ending = futures_util::stream::iter(vec![out(1, "b")]);
        let (frame, next) = coalesce(&mut ending, 1, Bytes::from("a"), 1024).await;
        assert_eq!(&frame[..], b"ab");
        assert!(matches!(next, Some(None)), "the end is passed on");
    }

    #[test]
    fn output_is_cut_at_the_limit() {
        let mut left = Some(5);
        assert_eq!(
            cut_at_limit(Bytes::from("abc"), &mut left),
            (Bytes::from("abc"), false)
        );
        assert_eq!(left, Some(2));
        assert_eq!(
            cut_at_limit(Bytes::from("defg"), &mut left),
            (Bytes::from("de"), true)
        );
        let mut none = None;
        assert_eq!(
            cut_at_limit(Bytes::from("xyz"), &mut none),
            (Bytes::from("xyz"), false)
        );
    }
}
