//! Request bodies streamed on to Docker without being held in memory, with a size cap.

use actix_web::web;
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

use crate::error::{ApiError, ErrorCode};

/// Bytes handed to Docker at once.
const BATCH: usize = 256 * 1024;
/// What is still read (and dropped) of a body past its limit, and for how long, so that the
/// client finishes sending and reads the 413 rather than a reset connection.
const DRAIN_BYTES: u64 = 256 << 20;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// How the upload ended, once `pump` is done.
pub enum Upload {
    Complete(u64),
    TooLarge,
    Broken(String),
}

/// Splits a request body into a `Send` stream for Docker and the future that feeds it. Run both
/// together (`tokio::join!`); past `limit` bytes the stream ends in an error, so Docker sees an
/// aborted body and keeps nothing.
pub fn stream(
    mut payload: web::Payload,
    limit: u64,
) -> (
    impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    impl std::future::Future<Output = Upload>,
) {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let pump = async move {
        let mut total = 0u64;
        // Clients send in small pieces; Docker is fed in large ones (fewer frames, fewer wakeups).
        let mut batch = BytesMut::with_capacity(BATCH);
        while let Some(chunk) = payload.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other("upload broken"))).await;
                    return Upload::Broken(e.to_string());
                }
            };
            total += chunk.len() as u64;
            if total > limit {
                let _ = tx
                    .send(Err(std::io::Error::other("upload too large")))
                    .await;
                drain(&mut payload).await;
                return Upload::TooLarge;
            }
            batch.extend_from_slice(&chunk);
            if batch.len() >= BATCH && tx.send(Ok(batch.split().freeze())).await.is_err() {
                return Upload::Complete(total); // Docker stopped reading; its answer says why
            }
        }
        if !batch.is_empty() {
            let _ = tx.send(Ok(batch.freeze())).await;
        }
        Upload::Complete(total)
    };
    (receiver_stream(rx), pump)
}

/// Reads what the client still sends of a refused body, within bounds.
async fn drain(payload: &mut web::Payload) {
    let drained = async {
        let mut dropped = 0u64;
        while let Some(Ok(chunk)) = payload.next().await {
            dropped += chunk.len() as u64;
            if dropped > DRAIN_BYTES {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, drained).await;
}

/// What a channel receives, as a stream.
pub fn receiver_stream<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl Stream<Item = T> + Send + Unpin + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// The size of a complete upload, or the error for one that did not complete.
pub fn check(upload: &Upload, limit: u64) -> Result<u64, ApiError> {
    match upload {
        Upload::Complete(size) => Ok(*size),
        Upload::TooLarge => Err(ApiError::new(
            ErrorCode::TooLarge,
            format!("upload larger than {} MiB", limit >> 20),
        )),
        Upload::Broken(e) => Err(ApiError::bad_request(format!("upload broken: {e}"))),
    }
}
