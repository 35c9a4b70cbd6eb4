//! New limits for a running engine (what SIGHUP does): the caps, the anti-reflection budget, the
//! relay's limits and the stats interval change at once; sessions, players, relayed sessions and
//! every counter are kept. The protocol timers are not changed: the deadlines already armed were
//! computed with them, and the Godot plugin expects the original's values anyway.

use crate::config::Config;
use crate::engine::Engine;
use crate::store::SessionStore;
use tracing::{info, warn};

impl<S: SessionStore> Engine<S> {
    /// Takes `new`'s limits (caps, budget, relay, stats interval, refusal log interval) without
    /// losing a session, a player or a relayed session. Its protocol timers (player timeout,
    /// session lifetime, start rounds and interval, error repeats and interval) are ignored: the
    /// names of those that differ are returned (and logged).
    ///
    /// A lowered cap refuses new creations only: what exists stays. A changed budget window starts
    /// the budget's accounts afresh (see [`crate::budget`]). Turning the relay off drops relay
    /// frames from then on.
    pub fn reconfigure(&mut self, new: Config) -> Vec<&'static str> {
        let old = &self.config;
        let timers = [
            ("player-timeout-ms", old.player_timeout != new.player_timeout),
            ("session-lifetime-s", old.session_lifetime != new.session_lifetime),
            ("start-rounds", old.start_rounds != new.start_rounds),
            ("start-interval-ms", old.start_interval != new.start_interval),
            ("error-repeats", old.error_repeats != new.error_repeats),
            ("error-interval-ms", old.error_interval != new.error_interval),
        ];
        let ignored: Vec<&'static str> =
            timers.iter().filter(|(_, changed)| *changed).map(|(n, _)| *n).collect();
        for name in &ignored {
            warn!("reconfigure: {name} is a protocol timer, read at start only: the change is ignored");
        }
        let kept = Config {
            player_timeout: old.player_timeout,
            session_lifetime: old.session_lifetime,
            start_rounds: old.start_rounds,
            start_interval: old.start_interval,
            error_repeats: old.error_repeats,
            error_interval: old.error_interval,
            ..new
        };
        if kept == self.config {
            info!("reconfigure: no change to the engine's limits");
            return ignored;
        }
        self.outbox.reconfigure_budget(kept.budget);
        self.rate.reconfigure(kept.create_rate, kept.create_burst);
        self.log_limit.set_interval(kept.refusal_log_interval);
        self.relay.config = kept.relay;
        info!(
            "reconfigure: caps {} sessions ({} per IP), {} players ({} per IP), {} creations/s per IP \
             (burst {}); budget {}x over {:?}; relay {}",
            kept.max_sessions,
            kept.max_sessions_per_ip,
            kept.max_players,
            kept.max_players_per_ip,
            kept.create_rate,
            kept.create_burst,
            kept.budget.factor,
            kept.budget.window,
            if kept.relay.is_on() { "on" } else { "off" }
        );
        self.config = kept;
        ignored
    }
}
