//! The run's fingerprint: an FNV-1a digest of every delivery and every client event, stamped
//! with virtual time since the start. Two runs with the same seed must give the same digest.

use std::time::Duration;

/// FNV-1a, 64 bits, and (when asked) the lines themselves, to find where two runs part.
#[derive(Debug, Clone)]
pub struct Digest {
    value: u64,
    /// The lines added so far, if kept.
    pub lines: Option<Vec<String>>,
}

impl Default for Digest {
    fn default() -> Self {
        Digest { value: 0xcbf2_9ce4_8422_2325, lines: None }
    }
}

impl Digest {
    /// Adds raw bytes.
    pub fn bytes(&mut self, data: &[u8]) {
        for b in data {
            self.value ^= u64::from(*b);
            self.value = self.value.wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// Adds a datagram's payload, every byte (the server's relay tokens included: the simulation
    /// seeds them, see `rhp_server::Engine::seed_tokens`).
    pub fn datagram(&mut self, at: Duration, head: &str, data: &[u8]) {
        self.add(at, &format!("{head} {}", String::from_utf8_lossy(data)));
    }

    /// Adds a line stamped with `at`.
    pub fn add(&mut self, at: Duration, line: &str) {
        self.bytes(&at.as_nanos().to_le_bytes());
        self.bytes(line.as_bytes());
        if let Some(lines) = &mut self.lines {
            lines.push(format!("{at:?} {line}"));
        }
    }

    /// The digest so far.
    pub fn value(&self) -> u64 {
        self.value
    }
}
