//! Every tunable of the engine: the protocol's timers (the original server's values), the
//! anti-reflection budget, the caps and the relay. [`Config::default`] is the hardened server;
//! [`Config::original`] switches the budget and the caps off, which is the original's behaviour
//! (the relay stays on: only our clients ever ask for it, so the Godot plugin never sees it).

pub use crate::budget::BudgetConfig;
pub use crate::guard::GuardConfig;
pub use crate::relay::RelayConfig;
use std::time::Duration;

/// The engine's timers and limits. [`Config::default`]: the original's timers, with the budget and
/// caps on; [`Config::original`]: the original server.
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
    /// Most sessions held at once; an `h:` beyond it is answered `error:too_many_sessions`. Not in
    /// the original, which had no cap.
    pub max_sessions: usize,
    /// The anti-reflection budget (see [`crate::budget`]); `factor: 0` is off.
    pub budget: BudgetConfig,
    /// With the budget on, a ping is answered `i:` only when the list changed since the last `i:`
    /// that player got, or this long after it (the Godot plugin gives up after 15 s of silence).
    pub info_refresh: Duration,
    /// With the budget on, the first start round waits until every player's budget allows its
    /// start message (so all peer phases begin together), but no longer than this; then each
    /// player gets it as soon as its own budget allows.
    pub start_sync_max: Duration,
    /// With the budget on, a starting session is kept after its rounds while a player that did
    /// not confirm has not been sent its start message or keeps asking for it (its pings earn the
    /// credit of another copy), but no longer than this after the `s:`.
    pub start_hold: Duration,
    /// Sessions (`h:`) and players (`c:`) one source IP may create per second; 0 = no limit.
    /// Beyond it: `error:too_many_requests`.
    pub create_rate: u32,
    /// Creations one source IP may save up (the token bucket's size).
    pub create_burst: u32,
    /// Live sessions one source IP may have created; 0 = no limit. Beyond it:
    /// `error:too_many_sessions`.
    pub max_sessions_per_ip: usize,
    /// Most players held at once, over all sessions. Beyond it: `error:server_full`.
    pub max_players: usize,
    /// Live players behind one source IP (an IPv6 /64 counts as one), over all sessions; 0 = no
    /// limit. Beyond it: `error:too_many_requests`. With [`Config::max_sessions_per_ip`], what
    /// makes filling the server take many IPs (see the README's Hardening).
    pub max_players_per_ip: usize,
    /// A refusal by a cap is logged at most once per source IP (and kind) per this interval.
    pub refusal_log_interval: Duration,
    /// Log the counts (sessions, players, timers, tracked addresses) at INFO this often; zero =
    /// never.
    pub stats_interval: Duration,
    /// The relay for players whose clients ask for it (see [`crate::relay`]).
    pub relay: RelayConfig,
    /// How many password guesses are checked (see [`crate::guard`]); [`GuardConfig::off`] checks
    /// every one, as the original did.
    pub guard: GuardConfig,
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
            // 1,024 IPs at their per-IP caps fill the sessions or the players (see below).
            max_sessions: 1 << 20,
            budget: BudgetConfig::default(),
            info_refresh: Duration::from_secs(5),
            start_sync_max: Duration::from_secs(6),
            start_hold: Duration::from_secs(12),
            // One carrier-grade NAT address carries many players: 100 lobbies from one IP within
            // 2 s and 1,000 live sessions from one IP pass; filling the server's sessions or
            // players takes 1,024 IPs (the README's Hardening has the arithmetic).
            create_rate: 50,
            create_burst: 200,
            max_sessions_per_ip: 1024,
            max_players_per_ip: 4096,
            max_players: 1 << 22,
            refusal_log_interval: Duration::from_secs(10),
            stats_interval: Duration::ZERO,
            relay: RelayConfig::default(),
            guard: GuardConfig::default(),
        }
    }
}

impl Config {
    /// The original server: the same timers, no budget, no caps but [`Config::max_sessions`].
    pub fn original() -> Config {
        Config {
            budget: BudgetConfig { factor: 0, ..BudgetConfig::default() },
            create_rate: 0,
            max_sessions_per_ip: 0,
            max_players_per_ip: 0,
            max_players: usize::MAX,
            guard: GuardConfig::off(),
            ..Config::default()
        }
    }

    /// Start rounds, at least 1.
    pub(crate) fn rounds(&self) -> u32 {
        self.start_rounds.max(1)
    }

    /// Copies of a timeout error, at least 1.
    pub(crate) fn repeats(&self) -> u32 {
        self.error_repeats.max(1)
    }
}
