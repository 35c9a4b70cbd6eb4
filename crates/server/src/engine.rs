//! The sans-IO engine: datagrams and time in, datagrams and a wake-up deadline out. It owns no
//! socket, never reads the clock and never sleeps; every `now` comes from the caller.
//!
//! # Driving it (the [`rhp_io`] contract: what the shell does, and what tests do with a fake clock)
//! 1. Feed an input: [`Engine::handle_input`] (or directly [`Engine::handle_datagram`] with the
//!    socket it came on, [`SocketId::MAIN`] or [`ALT`], and [`Engine::handle_timeout`] when the
//!    deadline from [`Engine::poll_timeout`] has passed). An early or repeated timeout is harmless:
//!    only due timers fire.
//! 2. Drain [`Engine::poll_transmit`] until it returns `false`, sending each [`Transmit`] from the
//!    socket it names.
//!
//! STUN Binding requests (told apart by their header, see [`rhp_proto::stun`]) are answered on
//! both sockets, from the socket they came on, through the same budget; Rabid requests only on the
//! main one. Relay frames (first byte 0xF5, see [`rhp_proto::relay`]) are told apart first, on the
//! main socket only, and go to the relay (see [`crate::relay`]).
//! 3. Sleep until [`Engine::poll_timeout`] (or the next datagram) and go to 1.
//!
//! `poll_transmit` swaps the datagram into the caller's buffer, and the engine reuses the buffers
//! it gets back, so a warm engine allocates nothing to queue or hand over a reply.
//!
//! This file holds the dispatch (what kind of datagram, which handler), the engine's own
//! housekeeping and its read-only views; each request's rules, and the steps several requests
//! share, are in [`crate::handlers`], which get a narrow handle on the engine's parts.
//!
//! # Hardening (see [`crate::budget`] and [`crate::limits`])
//! - Every datagram received credits its source's budget; every datagram queued is checked against
//!   its receiver's budget in the outbox, which sends nothing beyond it.
//! - With the budget on, a ping is answered `i:` only when the list changed or every
//!   [`Config::info_refresh`]; an `i:` the budget held back goes with the answer to the player's
//!   next request. The first start round waits until every player's start message fits (so the
//!   peer phases begin together), at most [`Config::start_sync_max`]; a player's ping or the host's
//!   `s:` in a starting session is answered with its start message again, and keeps the session
//!   after its rounds (at most [`Config::start_hold`]) until that player stops asking.
//! - `h:`/`c:` that would create a session or a player pass the caps first (global and per-IP
//!   sessions, players, a per-IP token bucket); a refusal is answered with an `error:` code and
//!   logged at most once per source per [`Config::refusal_log_interval`].

use crate::budget::Budget;
use crate::config::Config;
use crate::guard::{Guard, GuardStats};
use crate::handlers::Cx;
use crate::limits::{LogLimiter, RateLimiter};
use crate::lobby::Lobby;
use crate::netkey::NetKey;
use crate::outbox::Outbox;
use crate::proof::ProofKey;
use crate::relay::{RelayStats, RelayTable};
use crate::stats::{self, Counters, Snapshot};
use crate::store::{MemoryStore, SessionStore};
use crate::timers::{Kind, Timers};
use rhp_io::{Input, SocketId, Transmit};
use rhp_proto::relay::is_frame;
use rhp_proto::stun::is_stun;
use rhp_proto::{ErrorCode, ParseError, Request};
use std::net::SocketAddr;
use std::time::Instant;
use tracing::{debug, info};

/// The server's alternate STUN port (`--alt-port`): STUN Binding requests only, answered from
/// that socket, so a client can compare the mappings its NAT gives towards two destinations.
pub const ALT: SocketId = SocketId(1);

/// Whether `via` is an alternate STUN socket: with several bound addresses, pair `k`'s main socket
/// is `SocketId(2k)` and its alternate `SocketId(2k + 1)` (pair 0: [`SocketId::MAIN`] and [`ALT`]).
/// Every main socket is served alike; replies to requests are queued on [`SocketId::MAIN`] and
/// the shell sends them from the main socket their receiver talks to.
pub fn is_alt(via: SocketId) -> bool {
    via.0 % 2 == 1
}

/// The rendezvous server's session engine.
#[derive(Debug)]
pub struct Engine<S: SessionStore = MemoryStore> {
    // The parts `reconfigure.rs` changes are crate-visible; the rest is the engine's own. Handlers
    // reach the parts through `Cx`, never the engine.
    pub(crate) config: Config,
    /// The sessions, and how many players and sessions each source has.
    lobby: Lobby<S>,
    timers: Timers,
    pub(crate) outbox: Outbox,
    pub(crate) rate: RateLimiter,
    pub(crate) log_limit: LogLimiter,
    /// The relay's sessions, tokens and counters (node-local).
    pub(crate) relay: RelayTable,
    /// How many password guesses are checked (node-local, bounded).
    guard: Guard,
    /// Whether the periodic stats timer is armed.
    stats_armed: bool,
    /// Counters for the metrics (see [`crate::stats`]).
    counters: Counters,
    /// The key of the `v:` tokens (drawn from the relay's generator, see [`Engine::seed_tokens`]).
    proof: ProofKey,
}

impl Engine<MemoryStore> {
    /// An engine with sessions in memory.
    pub fn new(config: Config) -> Engine<MemoryStore> {
        Engine::with_store(config, MemoryStore::new())
    }
}

impl<S: SessionStore> Engine<S> {
    /// An engine keeping its sessions in `store`.
    pub fn with_store(config: Config, store: S) -> Engine<S> {
        let mut relay = RelayTable::new(config.relay);
        Engine {
            proof: ProofKey::new(relay.draw_key()),
            outbox: Outbox::new(Budget::new(config.budget)),
            rate: RateLimiter::new(config.create_rate, config.create_burst),
            log_limit: LogLimiter::new(config.refusal_log_interval),
            relay,
            guard: Guard::new(config.guard, config.refusal_log_interval),
            config,
            lobby: Lobby::new(store),
            timers: Timers::default(),
            stats_armed: false,
            counters: Counters::default(),
        }
    }

    /// The narrow handle a handler gets (see [`crate::handlers`]).
    fn cx(&mut self) -> Cx<'_, S> {
        Cx {
            config: &self.config,
            lobby: &mut self.lobby,
            out: &mut self.outbox,
            timers: &mut self.timers,
            relay: &mut self.relay,
            rate: &mut self.rate,
            log_limit: &mut self.log_limit,
            guard: &mut self.guard,
            counters: &mut self.counters,
            proof: &self.proof,
        }
    }

    /// The engine's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Feeds one input (the one entry of the [`rhp_io`] contract): a datagram goes to
    /// [`Engine::handle_datagram`], a timeout to [`Engine::handle_timeout`]. The server asks for no
    /// socket and connects none, so `Opened` and `Unreachable` are ignored.
    pub fn handle_input(&mut self, input: Input<'_>) {
        match input {
            Input::Datagram { now, via, from, data } => self.handle_datagram(now, via, from, data),
            Input::Timeout(now) => self.handle_timeout(now),
            Input::Opened { .. } | Input::Unreachable { .. } => {}
        }
    }

    /// Handles one datagram received at `now` from `from` on local socket `via`. Never panics,
    /// whatever the bytes. On a main socket ([`SocketId::MAIN`], or another even id, see
    /// [`is_alt`]): relay frames go to the relay, STUN Binding requests are answered (from that
    /// socket), other STUN messages dropped, malformed requests are answered
    /// `error:invalid_request`, unknown types are ignored. On an alternate socket ([`ALT`], or
    /// another odd id) only STUN Binding requests are answered (from that socket); anything else
    /// there is dropped.
    pub fn handle_datagram(&mut self, now: Instant, via: SocketId, from: SocketAddr, data: &[u8]) {
        self.counters.datagrams_in += 1;
        self.counters.bytes_in += data.len() as u64;
        if is_alt(via) {
            if is_stun(data) {
                self.counters.stun[1] += 1;
                self.housekeeping(now);
                self.cx().on_stun(now, via, from, data)
            }
            return;
        }
        if is_frame(data) {
            return self.cx().on_relay_frame(now, from, data);
        }
        if is_stun(data) {
            self.counters.stun[0] += 1;
            self.housekeeping(now);
            return self.cx().on_stun(now, via, from, data);
        }
        self.on_request(now, from, data);
    }

    /// A datagram on the main socket that is neither a relay frame nor STUN: a Rabid request.
    fn on_request(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        self.housekeeping(now);
        let parsed = Request::parse(data);
        // Credit its account, or a one-datagram one (kept below if the sender joined).
        self.outbox.credit(now, from, data.len());
        let players_before = self.lobby.live_players();
        let request = match parsed {
            Ok(request) => request,
            Err(ParseError::UnknownType) => {
                self.counters.requests[stats::KIND_UNKNOWN] += 1;
                return;
            }
            Err(_) => {
                self.counters.requests[stats::KIND_INVALID] += 1;
                self.outbox.error(now, from, ErrorCode::InvalidRequest);
                return;
            }
        };
        self.counters.requests[stats::request_kind(&request)] += 1;
        let mut cx = self.cx();
        match request {
            Request::Host { session, player, max_players, password } => {
                cx.on_host(now, from, session, player, max_players, password)
            }
            Request::Connect { session, player, password } => {
                cx.on_connect(now, from, session, player, password)
            }
            Request::Ping { session, player } => cx.on_ping(now, from, session, player),
            Request::Start { session, .. } => cx.on_start(now, from, session),
            Request::Confirm { session, player } => cx.on_confirm(now, from, session, player),
            Request::Kick { session, victim } => cx.on_kick(now, from, session, victim),
            Request::Exit { session, player } => cx.on_exit(now, from, session, player),
            Request::Ext { session, player, nat } => cx.on_ext(now, from, session, player, nat),
            Request::Relay { session, player } => cx.on_relay_request(now, from, session, player),
            Request::Unban { session, player } => cx.on_unban(now, from, session, player),
            Request::Private { session, player } => cx.on_private(now, from, session, player),
            Request::Also { session, player, token } => cx.on_also(now, from, session, player, token),
        }
        // A player joined (`h:`/`c:` add one, from the sender): its IP's budget account counts it.
        if self.lobby.live_players() > players_before {
            self.outbox.joined(now, from);
        }
        self.outbox.forget_transient();
        self.maybe_compact();
    }

    /// Sweeps of the node-local tables (each at most once per its period) and the stats timer.
    pub(crate) fn housekeeping(&mut self, now: Instant) {
        self.outbox.forget_transient();
        self.outbox.sweep_budget(now);
        self.rate.sweep(now, false);
        if !self.stats_armed && !self.config.stats_interval.is_zero() {
            self.stats_armed = true;
            self.timers.push(now + self.config.stats_interval, Kind::Stats);
        }
    }

    /// Fires every timer due at `now`. Timers not yet due are left alone, so an early or repeated
    /// call does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.housekeeping(now);
        while let Some((at, seq, kind)) = self.timers.pop_due(now) {
            match kind {
                Kind::Stats => self.log_stats(now),
                kind => self.cx().on_timer(now, at, seq, kind),
            }
        }
        self.maybe_compact();
    }

    /// Moves the next datagram to send into `out` (its payload buffer is swapped, not copied: the
    /// engine keeps the old one for reuse) and sets where to send it and from which socket (a reply
    /// leaves from the socket its request came in on). Returns `false`, leaving `out` as it was,
    /// when nothing is queued. Call until `false` after every input (the drain rule).
    pub fn poll_transmit(&mut self, out: &mut Transmit) -> bool {
        self.outbox.pop(out)
    }

    /// When [`Engine::handle_timeout`] must next be called; `None` when no timer is armed. Ask
    /// again after every `handle_*`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Everything countable at this moment. O(1): no session is visited.
    pub fn snapshot(&self) -> Snapshot {
        let c = &self.counters;
        let out = self.outbox.counters();
        let sessions = self.lobby.session_count();
        Snapshot {
            sessions_open: sessions.saturating_sub(c.starting),
            sessions_starting: c.starting,
            players: self.lobby.live_players(),
            datagrams_in: c.datagrams_in,
            bytes_in: c.bytes_in,
            datagrams_out: out.datagrams,
            bytes_out: out.bytes,
            requests: c.requests,
            errors: out.errors,
            refusals: c.refusals,
            stun: c.stun,
            budget_held_back: self.outbox.budget().withheld(),
            budget_held_back_bytes: self.outbox.budget().withheld_bytes(),
            budget_tracked: self.outbox.budget().tracked(),
            rate_tracked: self.rate.tracked(),
            per_ip_tracked: self.lobby.creators_tracked(),
            timers: self.timers.len(),
            relay: self.relay.stats(),
            start: c.start.clone(),
            guard: self.guard_stats(),
            also_dropped: c.also_dropped,
            also_held: self.lobby.also_held().0,
        }
    }

    /// Sessions held.
    pub fn session_count(&self) -> usize {
        self.lobby.session_count()
    }

    /// Players held, over all sessions.
    pub fn player_count(&self) -> usize {
        self.lobby.store().player_count()
    }

    /// Timer entries queued, live or stale (bounded: see [`crate::timers`]).
    pub fn timer_count(&self) -> usize {
        self.timers.len()
    }

    /// Datagrams queued and not yet collected by [`Engine::poll_transmit`].
    pub fn queued_transmits(&self) -> usize {
        self.outbox.len()
    }

    /// The session store (read-only).
    pub fn store(&self) -> &S {
        self.lobby.store()
    }

    /// Addresses the anti-reflection budget tracks: every member's IP, and at most
    /// `budget.max_tracked` more whose last membership ended within the window.
    pub fn budget_tracked(&self) -> usize {
        self.outbox.budget().tracked()
    }

    /// Datagrams the budget held back so far (not sent, or sent later).
    pub fn budget_withheld(&self) -> u64 {
        self.outbox.budget().withheld()
    }

    /// Draws the relay's tokens, and the key of the `v:` tokens, from a generator seeded with
    /// `seed` from now on, so a simulation is reproducible bit for bit. Never in production: a
    /// known seed makes tokens guessable (by default they come from a generator the OS seeded when
    /// the engine was made). `v:` tokens handed out before no longer verify.
    pub fn seed_tokens(&mut self, seed: u64) {
        self.relay.seed_tokens(seed);
        self.proof = ProofKey::new(self.relay.draw_key());
    }

    /// The relay's counters (sessions, members, frames, bytes, refusals, address changes).
    pub fn relay_stats(&self) -> RelayStats {
        self.relay.stats()
    }

    /// The password guard's counters: failed checks, guesses refused unchecked, joins refused by a
    /// ban, networks and sessions it tracks (see [`crate::guard`]).
    pub fn guard_stats(&self) -> GuardStats {
        self.guard.stats()
    }

    /// IPs the rate limiter and the per-IP session count track.
    pub fn limits_tracked(&self) -> (usize, usize) {
        (self.rate.tracked(), self.lobby.creators_tracked())
    }

    /// Live sessions created from `ip` and live players behind it (counted per source as the caps
    /// count it: an IPv4 address or an IPv6 /64).
    pub fn per_ip_counts(&self, ip: std::net::IpAddr) -> (u32, u32) {
        let net = NetKey::of(ip);
        (self.lobby.sessions_from(net), self.outbox.players_from(net))
    }

    /// Checks the engine's invariants; the error says which one broke. For tests and fuzzing:
    /// O(sessions + players). Every session has at least one player, players are unique by name
    /// and id, the counters match the store, every live player and session has its timer; the
    /// relay's table is consistent, each relay session has exactly one timer entry, and relay notes
    /// are kept only for sessions that exist; the password guard's tables are within their bounds
    /// and watch no session that is gone.
    pub fn check_invariants(&self) -> Result<(), String>
    where
        S: crate::store::IterSessions,
    {
        self.lobby.check()?;
        let store = self.lobby.store();
        // The live players per source network are the budget's memberships: they match the sessions.
        let mut players_per_net: std::collections::HashMap<NetKey, u32> = Default::default();
        for p in store.sessions().flat_map(|s| s.players.iter()) {
            *players_per_net.entry(NetKey::of(p.addr().ip())).or_insert(0) += 1;
        }
        if players_per_net.iter().any(|(net, n)| self.outbox.players_from(*net) != *n)
            || players_per_net.values().sum::<u32>() != self.outbox.budget().players_total()
        {
            return Err("per-IP player counts differ from the sessions".into());
        }
        let mut members: std::collections::HashMap<std::net::IpAddr, u32> = Default::default();
        let budgeted = store.sessions().flat_map(|s| s.players.iter()).map(|p| p.addr());
        for addr in budgeted.filter(|a| self.outbox.budgeted(*a)) {
            *members.entry(addr.ip().to_canonical()).or_insert(0) += 1;
        }
        self.outbox.budget().check(&members)?;
        self.check_relay_and_guard()?;
        let starting = store.sessions().filter(|s| !s.is_open()).count();
        if starting != self.counters.starting {
            return Err(format!("{starting} sessions starting, counter {}", self.counters.starting));
        }
        let live = self.lobby.session_count() + self.lobby.live_players() + self.relay.len();
        if self.timers.len() > 2 * live + 64 + self.pending_errors() {
            return Err(format!("{} timers for {live} live sessions, players and relays", self.timers.len()));
        }
        Ok(())
    }

    /// The relay's table and the password guard: within their bounds, consistent with the
    /// sessions held, one timer per relay session at least.
    fn check_relay_and_guard(&self) -> Result<(), String>
    where
        S: crate::store::IterSessions,
    {
        self.relay.check_invariants()?;
        let guard = self.guard.stats();
        if guard.networks_tracked > self.config.guard.max_tracked {
            return Err(format!("password guard tracks {} networks", guard.networks_tracked));
        }
        if guard.sessions_watched > self.lobby.session_count() {
            return Err(format!(
                "password guard watches {} sessions of {}",
                guard.sessions_watched,
                self.lobby.session_count()
            ));
        }
        let relay_timers = self.timers.count(|k| matches!(k, Kind::RelayCheck { .. }));
        // One per relay session, plus stale ones of sessions whose members left (dropped when
        // they fire or at the next compaction).
        if relay_timers < self.relay.len() {
            return Err(format!("{relay_timers} relay timers for {} relay sessions", self.relay.len()));
        }
        let mut ids = std::collections::HashSet::new();
        for s in self.lobby.store().sessions() {
            ids.insert(s.id);
        }
        if let Some(id) = self.relay.starting_ids().find(|id| !ids.contains(id)) {
            return Err(format!("relay notes kept for session id {id}, which is gone"));
        }
        Ok(())
    }

    /// Timer entries for repeated errors (bounded by the errors sent within their repeat span).
    fn pending_errors(&self) -> usize {
        self.timers.count(|k| matches!(k, Kind::ErrorRepeat { .. } | Kind::Stats))
    }

    /// Logs the counts (the stats timer).
    pub(crate) fn log_stats(&mut self, now: Instant) {
        let r = self.relay.stats();
        info!(
            "stats: {} sessions, {} players, {} timers, budget {} addresses ({} held back), rate limiter {} IPs, \
             relay {} sessions ({} made) {} members, {} frames forwarded ({} bytes), {} dropped, {} rebinds, \
             refused rate {} lifetime {} per-IP {} server {} no-member {}",
            self.lobby.session_count(),
            self.lobby.live_players(),
            self.timers.len(),
            self.outbox.budget().tracked(),
            self.outbox.budget().withheld(),
            self.rate.tracked(),
            r.sessions_live,
            r.sessions_created,
            r.members_live,
            r.frames_forwarded,
            r.bytes_forwarded,
            r.frames_dropped,
            r.rebinds,
            r.refused_player_rate,
            r.refused_lifetime,
            r.refused_per_ip,
            r.refused_server_rate,
            r.refused_no_such_member
        );
        // The interval may have been set to zero since (see `Engine::reconfigure`).
        self.stats_armed = !self.config.stats_interval.is_zero();
        if self.stats_armed {
            self.timers.push(now + self.config.stats_interval, Kind::Stats);
        }
    }

    /// Drops stale timer entries when removals may have left many.
    fn maybe_compact(&mut self) {
        if !self.timers.wants_compaction() {
            return;
        }
        let (store, relay) = (self.lobby.store(), &self.relay);
        let before = self.timers.len();
        self.timers.compact(|seq, kind| match kind {
            Kind::SessionCheck { session, session_id } => store.get(session).is_some_and(|s| {
                s.id == *session_id
                    && s.is_open()
                    && (s.id == seq || s.players.iter().any(|p| p.idle_is(seq)))
            }),
            Kind::StartRound { session, session_id } => {
                store.get(session).is_some_and(|s| s.id == *session_id)
            }
            Kind::RelayCheck { relay: id } => relay.contains(*id),
            Kind::ErrorRepeat { .. } | Kind::Stats => true,
        });
        debug!("timers: compacted {before} -> {}", self.timers.len());
    }
}
