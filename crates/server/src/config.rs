//! Every tunable of the engine: the protocol's timers and one memory cap. The defaults are the
//! original server's values, so a default engine behaves like a drop-in replacement.

use std::time::Duration;

/// The engine's timers and limits. [`Config::default`] equals the original server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// A player is dropped this long after its last valid ping (or its join). Original: 5 s.
    pub player_timeout: Duration,
    /// An open session is closed this long after its creation. Original: 15 min.
    pub session_lifetime: Duration,
    /// How many times every player is sent its start message (round 1 is immediate). Original: 8.
    /// A value of 0 is treated as 1.
    pub start_rounds: u32,
    /// Time between two start rounds, and between the last round and the session's deletion.
    /// Original: 100 ms.
    pub start_interval: Duration,
    /// How many times `error:player_timeout` / `error:session_timeout` is sent. Original: 3.
    /// A value of 0 is treated as 1.
    pub error_repeats: u32,
    /// Time between two copies of a timeout error. Original: 50 ms.
    pub error_interval: Duration,
    /// Most sessions held at once; an `h:` beyond it is dropped (logged, no reply). Not in the
    /// original, which had no cap.
    pub max_sessions: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            player_timeout: Duration::from_secs(5),
            session_lifetime: Duration::from_secs(15 * 60),
            start_rounds: 8,
            start_interval: Duration::from_millis(100),
            error_repeats: 3,
            error_interval: Duration::from_millis(50),
            max_sessions: 100_000,
        }
    }
}

impl Config {
    /// Start rounds, at least 1.
    pub(crate) fn rounds(&self) -> u32 {
        self.start_rounds.max(1)
    }

    /// Copies of a timeout error, at least 1.
    pub(crate) fn repeats(&self) -> u32 {
        self.error_repeats.max(1)
    }
}
