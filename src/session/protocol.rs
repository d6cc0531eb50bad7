//! Wire protocol v1 (docs/protocol.md): JSON control messages in text frames, raw bytes in binary
//! frames `[stream, channel, payload...]`.

use std::collections::BTreeMap;
use std::num::NonZeroU8;

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::docker::observe::Usage;
use crate::error::{ApiError, ErrorCode};
use crate::workspaces::run::Killed;

pub const PROTOCOL_VERSION: u32 = 1;

/// A client-chosen stream id, 1–255.
pub type StreamId = NonZeroU8;

pub const CHANNEL_STDIN: u8 = 0;
pub const CHANNEL_STDOUT: u8 = 1;
pub const CHANNEL_STDERR: u8 = 2;

#[derive(Debug, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(optional_fields)]
pub enum ClientMessage {
    Exec(ExecRequest),
    Resize {
        stream: StreamId,
        cols: u16,
        rows: u16,
    },
    Eof {
        stream: StreamId,
    },
    Cancel {
        stream: StreamId,
    },
    Pause {
        stream: StreamId,
    },
    Resume {
        stream: StreamId,
    },
    /// The client has taken `bytes` more of a windowed stream's output.
    Ack {
        stream: StreamId,
        bytes: u64,
    },
    Logs(LogsRequest),
    Stats(StatsRequest),
    /// Runs a file of a workspace with the template's command for its kind, within limits.
    Run(RunRequest),
    Ping {
        t: Value,
    },
    /// Takes over the resumable streams of an earlier session of the same user, by the
    /// `resume_token` its `hello` gave; `received` says how many bytes of each stream and
    /// channel the client has.
    Reattach {
        token: String,
        #[serde(default)]
        #[ts(as = "Option<Vec<Received>>", optional)]
        received: Vec<Received>,
    },
    /// The client ends its session on purpose: its resumable streams stop at once.
    Bye,
    /// Takes a background job of one's own over as `stream`: its kept output, then the live
    /// output; input, resize and cancel apply to it from here.
    Attach {
        stream: StreamId,
        job: String,
    },
    /// Lets a job's stream go without stopping the job (`cancel` stops it): answered with
    /// `detached`, and the stream id is free again.
    Detach {
        stream: StreamId,
    },
    /// Shares a TTY exec of one's own with a course one teaches: its students and teacher may
    /// `watch` it.
    Share {
        stream: StreamId,
        course: String,
    },
    /// Stops sharing it: its watchers' streams end.
    Unshare {
        stream: StreamId,
    },
    /// Watches, read-only, a terminal shared with a course (`share`), or (its teacher) a
    /// student's live stream in a workspace (`workspace` and `source`, from
    /// `GET /workspaces/{id}/streams`): `started`, a TTY's size and screen, then the output.
    Watch {
        stream: StreamId,
        share: Option<String>,
        workspace: Option<String>,
        source: Option<String>,
    },
    Build(BuildRequest),
    /// A new template: another's image with more Dockerfile lines, built with the live log.
    Derive(DeriveRequest),
    Pull(TransferRequest),
    Push(TransferRequest),
    /// A teacher's screen: the rotating code and check-ins as they happen.
    #[serde(rename = "attendance.watch")]
    AttendanceWatch {
        stream: StreamId,
        attendance: String,
    },
    /// A student checking in.
    #[serde(rename = "attendance.checkin")]
    AttendanceCheckin {
        attendance: String,
        code: String,
    },
}

#[derive(Debug, Deserialize, TS)]
#[ts(optional_fields)]
pub struct ExecRequest {
    pub stream: StreamId,
    /// The container, or (`workspace`) the workspace, to run in: exactly one of them.
    pub container: Option<String>,
    pub workspace: Option<String>,
    pub cmd: Vec<String>,
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub tty: bool,
    pub cols: Option<u16>,
    pub rows: Option<u16>,
    pub env: Option<BTreeMap<String, String>>,
    pub workdir: Option<String>,
    /// Output bytes the server may send ahead of the client's `ack`s; unbounded when absent.
    pub window: Option<u64>,
    /// Keep it running, for `session.resume_grace_s`, when the session ends without `bye`.
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub resume: bool,
    /// Run it as a background job (workspaces only): it goes on after every session ends, up
    /// to its template's `job_max_s`, and `attach` takes it back.
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub detach: bool,
}

/// How much of a stream's channel a reattaching client has.
#[derive(Debug, Clone, Deserialize, Serialize, TS)]
pub struct Received {
    pub stream: StreamId,
    pub channel: u8,
    pub bytes: u64,
}

/// Where a reattached stream's channel goes on from: `from` is the offset of the first byte
/// sent now, `lost` how many bytes between what the client had and `from` are gone.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ReattachedStream {
    pub stream: StreamId,
    pub channel: u8,
    pub from: u64,
    pub lost: u64,
    /// The bytes that follow are the terminal's current screen, not the missing output (a TTY
    /// whose missing output was no longer all kept): clear the terminal and draw them.
    pub screen: bool,
}

/// The smallest window an exec may ask for.
pub const MIN_WINDOW: u64 = 4096;

#[derive(Debug, Deserialize, TS)]
#[ts(optional_fields)]
pub struct TransferRequest {
    pub stream: StreamId,
    pub image: String,
    /// A stored registry's id or name; for a pull, by default the one the image's host names.
    pub registry: Option<String>,
    /// The host to pull to or push from; `local` when none.
    pub host: Option<String>,
}

#[derive(Debug, Deserialize, TS)]
#[ts(optional_fields)]
pub struct BuildRequest {
    pub stream: StreamId,
    /// An id from `POST /api/v1/builds/contexts`.
    pub context: String,
    /// `repo[:tag]` the image gets once built; refused if it names another image, unless `force`.
    pub tag: String,
    pub dockerfile: Option<String>,
    pub build_args: Option<BTreeMap<String, String>>,
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub force: bool,
    /// The host to build on; `local` when none.
    pub host: Option<String>,
}

#[derive(Debug, Deserialize, TS)]
#[ts(optional_fields)]
pub struct DeriveRequest {
    pub stream: StreamId,
    /// The template to start from (id or name).
    pub template: String,
    /// The new template's name.
    pub name: String,
    /// Dockerfile lines after `FROM <its image>`, such as `RUN pip install numpy`.
    pub lines: Vec<String>,
    /// The host to build on; `local` when none.
    pub host: Option<String>,
}

#[derive(Debug, Deserialize, TS)]
#[ts(optional_fields)]
pub struct LogsRequest {
    pub stream: StreamId,
    pub container: Option<String>,
    pub workspace: Option<String>,
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub follow: bool,
    pub tail: Option<u64>,
    /// Unix seconds.
    pub since: Option<i64>,
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub timestamps: bool,
}

#[derive(Debug, Deserialize, TS)]
#[ts(optional_fields)]
pub struct StatsRequest {
    pub stream: StreamId,
    pub container: Option<String>,
    pub workspace: Option<String>,
}

#[derive(Debug, Deserialize, TS)]
#[ts(optional_fields)]
pub struct RunRequest {
    pub stream: StreamId,
    pub workspace: String,
    /// The file to run, relative to /workspace.
    pub path: String,
    #[serde(default)]
    #[ts(as = "Option<Vec<String>>", optional)]
    pub args: Vec<String>,
    pub time_limit_s: Option<u64>,
    pub output_limit_kb: Option<u64>,
    /// As `exec`'s.
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub resume: bool,
    /// As `exec`'s. A detached run has no output limit unless it asks for one, and its time
    /// limit is the template's `job_max_s` (or `time_limit_s`, if that is less).
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub detach: bool,
}

/// What a stream runs against.
#[derive(Debug, Clone)]
pub enum Target {
    Container(String),
    Workspace(String),
}

/// The one target of a request that names a `container` or a `workspace`.
pub fn target(container: &Option<String>, workspace: &Option<String>) -> Result<Target, ApiError> {
    match (container, workspace) {
        (Some(c), None) => Ok(Target::Container(c.clone())),
        (None, Some(w)) => Ok(Target::Workspace(w.clone())),
        _ => Err(ApiError::bad_request(
            "name exactly one of container and workspace",
        )),
    }
}

impl ExecRequest {
    /// Checks what serde cannot: a command, sane sizes, plain environment names.
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.cmd.is_empty() || self.cmd[0].is_empty() {
            return Err(ApiError::bad_request("cmd must name a program"));
        }
        for size in [self.cols, self.rows].into_iter().flatten() {
            check_size(size)?;
        }
        if self.detach && self.workspace.is_none() {
            return Err(ApiError::bad_request(
                "detach runs a background job in a workspace, not in a container",
            ));
        }
        if self.window.is_some_and(|window| window < MIN_WINDOW) {
            return Err(ApiError::bad_request(format!(
                "window must be at least {MIN_WINDOW} bytes"
            )));
        }
        if let Some(env) = &self.env {
            let bad = env
                .keys()
                .any(|k| k.is_empty() || k.contains('=') || k.contains('\0'));
            if bad {
                return Err(ApiError::bad_request(
                    "env names must be non-empty, without '='",
                ));
            }
        }
        Ok(())
    }
}

pub fn check_size(size: u16) -> Result<(), ApiError> {
    if (1..=1000).contains(&size) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "cols and rows must be between 1 and 1000",
        ))
    }
}

/// Parses a text frame. On failure, returns the error and the stream it named, if any, so the
/// error frame can carry it.
pub fn parse(text: &str) -> Result<ClientMessage, (Option<u8>, ApiError)> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| (None, ApiError::bad_request(format!("invalid JSON: {e}"))))?;
    let stream = value
        .get("stream")
        .and_then(Value::as_u64)
        .and_then(|s| u8::try_from(s).ok())
        .filter(|s| *s > 0);
    match value.get("type") {
        Some(Value::String(_)) => {}
        Some(_) => return Err((stream, ApiError::bad_request("\"type\" must be a string"))),
        None => return Err((stream, ApiError::bad_request("message has no \"type\""))),
    }
    serde_json::from_value(value).map_err(|e| (stream, ApiError::bad_request(e.to_string())))
}

/// A binary frame for the client: stream, channel, then the bytes untouched.
pub fn binary_frame(stream: StreamId, channel: u8, payload: &[u8]) -> Bytes {
    let mut frame = BytesMut::with_capacity(payload.len() + 2);
    frame.put_u8(stream.get());
    frame.put_u8(channel);
    frame.put_slice(payload);
    frame.freeze()
}

/// Every message the server sends in a text frame, tagged with its `type` as docs/protocol.md
/// lists them. Some types come in more than one shape (`exit` of an exec and of a `run`, `end`
/// of a stream, a build and a derive, `progress` of a transfer and of a build): each shape is a
/// variant of its own.
#[derive(Debug, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Hello {
        protocol: u32,
        session: String,
        heartbeat_ms: u64,
        /// The secret a later session's `reattach` names to take over this one's resumable
        /// streams; absent when resume is off.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        resume_token: Option<String>,
    },
    /// A stream is shared: `share` is what watchers name.
    Shared {
        stream: StreamId,
        share: String,
    },
    /// Who watches one of this session's streams in a workspace now (sent when it changes).
    Watchers {
        workspace: String,
        stream: StreamId,
        by: Vec<String>,
    },
    /// A watched terminal's size changed (and, as a watch starts, its size).
    Resized {
        stream: StreamId,
        cols: u16,
        rows: u16,
    },
    /// The streams a `reattach` took over, per channel, before their missing bytes.
    Reattached {
        streams: Vec<ReattachedStream>,
    },
    /// A stream started with `detach: true` is background job `job`: it goes on after the
    /// session ends, and `attach` names it (sent before `started`).
    Job {
        stream: StreamId,
        job: String,
    },
    /// An `attach` took job `job` over as `stream`: per channel, where its kept output starts
    /// (`from`) and how much of it is gone (`lost`), before that output.
    Attached {
        stream: StreamId,
        job: String,
        output: Vec<ReattachedStream>,
    },
    /// Another session attached the job this stream was: it goes on there, not here.
    Detached {
        stream: StreamId,
        job: String,
    },
    /// The exec is running (input and resize now apply), or logs/stats have begun.
    Started {
        stream: StreamId,
    },
    /// An exec's process ended; `code` is its exit status, null if unknown.
    Exit {
        stream: StreamId,
        code: Option<i64>,
    },
    /// A `run` ended; `killed` is null when it ended by itself.
    #[serde(rename = "exit")]
    Ran {
        stream: StreamId,
        code: Option<i64>,
        duration_ms: u64,
        killed: Option<Killed>,
    },
    /// Logs, stats, a transfer or a watch are over.
    End {
        stream: StreamId,
    },
    /// A build is done and tagged; `image_id` is null when it was cancelled.
    #[serde(rename = "end")]
    Built {
        stream: StreamId,
        image_id: Option<String>,
    },
    /// A derive is done: the image built and the template made with it.
    #[serde(rename = "end")]
    Derived {
        stream: StreamId,
        image_id: String,
        template: String,
    },
    Stats {
        stream: StreamId,
        #[serde(flatten)]
        usage: Usage,
    },
    Pong {
        t: Value,
    },
    /// A pull's or push's progress, layer by layer, as the engine reports it.
    Progress {
        stream: StreamId,
        status: Option<String>,
        /// The layer.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        id: Option<String>,
        /// Bytes, while the layer moves.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        current: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        total: Option<i64>,
    },
    /// One line of a build's log.
    #[serde(rename = "progress")]
    Log {
        stream: StreamId,
        log: String,
    },
    /// At every step of a watched attendance session: the code, and when it turns (RFC 3339).
    #[serde(rename = "attendance.code")]
    AttendanceCode {
        stream: StreamId,
        code: String,
        expires_at: String,
    },
    /// A student checked in (the first time only); `count` are present so far.
    #[serde(rename = "attendance.checkin")]
    AttendanceCheckin {
        stream: StreamId,
        user_id: String,
        username: String,
        at: String,
        count: i64,
    },
    /// The answer to a student's `attendance.checkin`.
    #[serde(rename = "attendance.checked_in")]
    AttendanceCheckedIn {
        attendance: String,
        at: String,
        /// False when they had already checked in (the first time is kept).
        first: bool,
    },
    /// Something the client asked failed; with `stream`, that stream is over (or never
    /// started) unless the error is about a single input.
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        stream: Option<u8>,
        code: ErrorCode,
        message: String,
    },
}

impl ServerMessage {
    pub fn hello(session: &str, heartbeat_ms: u64, resume_token: Option<String>) -> ServerMessage {
        ServerMessage::Hello {
            protocol: PROTOCOL_VERSION,
            session: session.to_string(),
            heartbeat_ms,
            resume_token,
        }
    }

    pub fn log(stream: StreamId, line: &str) -> ServerMessage {
        ServerMessage::Log {
            stream,
            log: line.to_string(),
        }
    }

    pub fn error(stream: Option<u8>, err: &ApiError) -> ServerMessage {
        ServerMessage::Error {
            stream,
            code: err.code,
            message: err.message.clone(),
        }
    }

    /// The text frame.
    pub fn to_text(&self) -> String {
        // Nothing in these types can fail to serialize (maps have string keys; a NaN becomes
        // null), so this fallback is never sent in practice.
        serde_json::to_string(self).unwrap_or_else(|e| {
            tracing::error!(error = %e, "a server message did not serialize");
            r#"{"type":"error","code":"internal","message":"internal error"}"#.to_string()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names_the_stream_of_a_bad_message() {
        let (stream, err) = parse(r#"{"type":"exec","stream":7}"#).unwrap_err();
        assert_eq!(stream, Some(7));
        assert!(err.message.contains("missing field"), "{}", err.message);
    }

    #[test]
    fn parse_refuses_stream_zero_and_unknown_types() {
        assert!(parse(r#"{"type":"cancel","stream":0}"#).is_err());
        let (_, err) = parse(r#"{"type":"launch","stream":1}"#).unwrap_err();
        assert!(err.message.contains("unknown variant"), "{}", err.message);
        assert!(parse("not json").is_err());
        assert!(parse(r#"{"stream":1}"#).is_err());
    }

    #[test]
    fn binary_frames_keep_every_byte() {
        let payload: Vec<u8> = (0..=255).collect();
        let frame = binary_frame(StreamId::new(3).unwrap(), CHANNEL_STDERR, &payload);
        assert_eq!(frame[0], 3);
        assert_eq!(frame[1], CHANNEL_STDERR);
        assert_eq!(&frame[2..], &payload[..]);
    }
}
