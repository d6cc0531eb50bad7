//! Raw TTY streams over connections of our own: a TTY exec's input and output, and a TTY
//! container's logs.
//!
//! TTY output has no frame headers, but bollard decodes it as if a chunk starting with a byte
//! 0–2 were a header (and splits logs at newlines), which loses or stalls the output of a program
//! that writes binary to the terminal, or a prompt without a newline. So berth makes these
//! requests itself (with hyper) and passes the raw bytes on untouched.

use std::pin::Pin;

use bollard::container::LogOutput;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::header::{CONNECTION, CONTENT_TYPE, HOST, UPGRADE};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWrite;

use super::endpoint::Endpoint;
use crate::error::{ApiError, ErrorCode};

pub type TtyOutput = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;
pub type TtyInput = Pin<Box<dyn AsyncWrite + Send>>;

/// Starts exec `exec_id` (created with a TTY) and returns its raw output and its input.
pub async fn start(
    endpoint: &Endpoint,
    api_version: &str,
    exec_id: &str,
    read_capacity: usize,
) -> Result<(TtyOutput, TtyInput), ApiError> {
    let request = Request::post(format!("/v{api_version}/exec/{exec_id}/start"))
        .header(HOST, "docker")
        .header(CONTENT_TYPE, "application/json")
        .header(CONNECTION, "Upgrade")
        .header(UPGRADE, "tcp")
        .body(Full::new(Bytes::from_static(
            br#"{"Detach":false,"Tty":true}"#,
        )))
        .map_err(|e| ApiError::internal(&e))?;
    let response = send_to_engine(endpoint, request).await?;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Err(engine_error(response).await);
    }
    let upgraded = hyper::upgrade::on(response)
        .await
        .map_err(|e| unavailable(&e))?;
    let (read, write) = tokio::io::split(TokioIo::new(upgraded));
    let output = tokio_util::io::ReaderStream::with_capacity(read, read_capacity).map(|chunk| {
        chunk
            .map(|message| LogOutput::Console { message })
            .map_err(|err| bollard::errors::Error::IOError { err })
    });
    Ok((Box::pin(output), Box::pin(write)))
}

/// Follows a TTY container's logs (`query` as the logs API takes it), chunks as written.
pub async fn logs(
    endpoint: &Endpoint,
    api_version: &str,
    container_id: &str,
    query: &str,
) -> Result<TtyOutput, ApiError> {
    let request = Request::get(format!(
        "/v{api_version}/containers/{container_id}/logs?{query}"
    ))
    .header(HOST, "docker")
    .body(Full::new(Bytes::new()))
    .map_err(|e| ApiError::internal(&e))?;
    let response = send_to_engine(endpoint, request).await?;
    if response.status() != StatusCode::OK {
        return Err(engine_error(response).await);
    }
    let output = http_body_util::BodyStream::new(response.into_body()).filter_map(|frame| async {
        match frame {
            Ok(frame) => frame
                .into_data()
                .ok()
                .map(|message| Ok(LogOutput::Console { message })),
            Err(e) => Some(Err(bollard::errors::Error::IOError {
                err: std::io::Error::other(e),
            })),
        }
    });
    Ok(Box::pin(output))
}

pub(super) fn unavailable(e: &dyn std::fmt::Display) -> ApiError {
    tracing::warn!(error = %e, "Docker engine unreachable");
    ApiError::new(ErrorCode::Unavailable, "the Docker engine is unavailable")
}

pub(super) async fn send_to_engine<B: RequestBody>(
    endpoint: &Endpoint,
    request: Request<B>,
) -> Result<hyper::Response<hyper::body::Incoming>, ApiError> {
    let connection = endpoint.connect().await.map_err(|e| unavailable(&e))?;
    send(connection, request).await.map_err(|e| unavailable(&e))
}

/// The engine's refusal, with its message (which names what the client asked about).
pub(super) async fn engine_error(response: hyper::Response<hyper::body::Incoming>) -> ApiError {
    let status = response.status();
    let body = response.into_body().collect().await.map(|b| b.to_bytes());
    let message = body
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| status.to_string());
    let code = match status {
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::CONFLICT => ErrorCode::Conflict,
        _ => ErrorCode::Internal,
    };
    ApiError::new(code, message)
}

/// A request body berth can send on a connection of its own: whole, or a stream (a build's
/// context).
pub(super) trait RequestBody:
    hyper::body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
    + Send
    + 'static
{
}
impl<B> RequestBody for B where
    B: hyper::body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + 'static
{
}

async fn send<S, B: RequestBody>(
    stream: S,
    request: Request<B>,
) -> Result<hyper::Response<hyper::body::Incoming>, hyper::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.with_upgrades().await {
            tracing::debug!(error = %e, "exec connection ended");
        }
    });
    sender.send_request(request).await
}
