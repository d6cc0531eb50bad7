//! What a resumable stream keeps of its output while no client reads it: the last bytes of each
//! channel, counted from the stream's start, so that a client that says how much it received
//! is sent exactly the rest (or told how much is gone).

use std::collections::VecDeque;

/// The last `capacity` bytes of one channel, and how many it ever held.
#[derive(Debug)]
pub(crate) struct Ring {
    bytes: VecDeque<u8>,
    capacity: usize,
    total: u64,
}

/// What a client that received `received` bytes is missing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Missing {
    /// The offset of the first byte sent again.
    pub from: u64,
    /// Bytes gone between what the client has and `from`.
    pub lost: u64,
    pub bytes: Vec<u8>,
}

impl Ring {
    pub fn new(capacity: usize) -> Ring {
        Ring {
            bytes: VecDeque::with_capacity(capacity.min(64 * 1024)),
            capacity,
            total: 0,
        }
    }

    pub fn append(&mut self, data: &[u8]) {
        self.total += data.len() as u64;
        let keep = data.len().min(self.capacity);
        let overflow = (self.bytes.len() + keep).saturating_sub(self.capacity);
        self.bytes.drain(..overflow);
        self.bytes.extend(&data[data.len() - keep..]);
    }

    /// Bytes ever written.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// What follows the first `received` bytes; None when the client claims more than was sent.
    pub fn since(&self, received: u64) -> Option<Missing> {
        if received > self.total {
            return None;
        }
        let start = self.total - self.bytes.len() as u64;
        let from = received.max(start);
        let skip = (from - start) as usize;
        Some(Missing {
            from,
            lost: from - received,
            bytes: self.bytes.iter().skip(skip).copied().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_exactly_what_it_is_missing() {
        let mut ring = Ring::new(8);
        ring.append(b"hello");
        assert_eq!(
            ring.since(2),
            Some(Missing {
                from: 2,
                lost: 0,
                bytes: b"llo".to_vec()
            })
        );
        assert_eq!(ring.since(5).unwrap().bytes, b"");
        assert_eq!(ring.since(6), None, "more than was sent");
    }

    #[test]
    fn past_its_capacity_it_says_how_much_is_gone() {
        let mut ring = Ring::new(4);
        ring.append(b"abc");
        ring.append(b"defgh");
        assert_eq!(ring.total(), 8);
        assert_eq!(
            ring.since(1),
            Some(Missing {
                from: 4,
                lost: 3,
                bytes: b"efgh".to_vec()
            })
        );
        assert_eq!(ring.since(6).unwrap().bytes, b"gh");
        // One write larger than the ring keeps its end.
        ring.append(b"0123456789");
        assert_eq!(ring.since(0).unwrap().bytes, b"6789");
        assert_eq!(ring.since(0).unwrap().lost, 14);
    }
}
