//! An exec's stdin as the client sends it: queued for the process, bounded in bytes
//! (`session.max_stdin_bytes`) and in frames, so that a process that never reads cannot make
//! the server hold what the client keeps sending. Past the bound, input is refused with
//! `too_many`, not dropped silently.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::error::{ApiError, ErrorCode};

/// Frames queued at most, whatever their size.
const MAX_FRAMES: usize = 64;

/// The reader's end: queues what the client sends.
#[derive(Clone)]
pub(crate) struct StdinSender {
    tx: mpsc::Sender<Chunk>,
    /// One permit per queued byte.
    room: Arc<Semaphore>,
}

/// The stream's end: what the process is to read, in order.
pub(crate) struct StdinReceiver(mpsc::Receiver<Chunk>);

/// Queued bytes, holding their room until they are written to the process.
pub(crate) struct Chunk {
    pub bytes: Bytes,
    _room: OwnedSemaphorePermit,
}

/// A queue of at most `max_bytes` bytes.
pub(crate) fn queue(max_bytes: usize) -> (StdinSender, StdinReceiver) {
    let (tx, rx) = mpsc::channel(MAX_FRAMES);
    let room = Arc::new(Semaphore::new(max_bytes));
    (StdinSender { tx, room }, StdinReceiver(rx))
}

impl StdinSender {
    /// Queues `bytes`, or refuses them when the queue is full.
    pub fn try_send(&self, bytes: Bytes) -> Result<(), ApiError> {
        let full = || {
            ApiError::new(
                ErrorCode::TooMany,
                "the process is not reading its input; input refused",
            )
        };
        let permit = u32::try_from(bytes.len())
            .ok()
            .and_then(|n| self.room.clone().try_acquire_many_owned(n).ok())
            .ok_or_else(full)?;
        self.tx
            .try_send(Chunk {
                bytes,
                _room: permit,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => full(),
                mpsc::error::TrySendError::Closed(_) => ApiError::not_found("stream has ended"),
            })
    }
}

impl StdinReceiver {
    /// The next chunk; None once the client closed stdin (`eof`) or the stream ended.
    pub async fn recv(&mut self) -> Option<Chunk> {
        self.0.recv().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn queued_input_is_bounded_in_bytes_and_room_returns_once_written() {
        let (tx, mut rx) = queue(1000);
        tx.try_send(Bytes::from(vec![0; 600])).unwrap();
        let refused = tx.try_send(Bytes::from(vec![0; 600])).unwrap_err();
        assert_eq!(refused.code, ErrorCode::TooMany);
        tx.try_send(Bytes::from(vec![0; 400])).unwrap();
        let first = rx.recv().await.unwrap();
        assert_eq!(first.bytes.len(), 600);
        assert!(
            tx.try_send(Bytes::from(vec![0; 600])).is_err(),
            "still held"
        );
        drop(first);
        tx.try_send(Bytes::from(vec![0; 600])).unwrap();
    }
}
