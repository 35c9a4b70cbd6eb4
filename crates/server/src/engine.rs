//! The sans-IO engine: datagrams and time in, datagrams and a wake-up deadline out. It owns no
//! socket, never reads the clock and never sleeps; every `now` comes from the caller.
//!
//! # Driving it (what the shell does, and what tests do with a fake clock)
//! 1. Feed an event: [`Engine::handle_datagram`] for each datagram received (on the alternate STUN
//!    socket: [`Engine::handle_datagram_on`] with [`Local::Alt`]), or
//!    [`Engine::handle_timeout`] when the deadline from [`Engine::poll_timeout`] has passed.
//!    Calling `handle_timeout` early or twice is harmless: only due timers fire.
//! 2. Drain [`Engine::poll_transmit`] until it returns `None`, sending each datagram from the main
//!    socket, and [`Engine::poll_transmit_alt`] for the alternate socket's.
//!
//! STUN Binding requests (told apart by their header, see [`rhp_proto::stun`]) are answered on
//! both sockets, through the same budget; Rabid requests only on the main one. Relay frames (first
//! byte 0xF5, see [`rhp_proto::relay`]) are told apart first, on the main socket only, and go to
//! the relay (see [`crate::relay`]).
//! 3. Sleep until [`Engine::poll_timeout`] (or the next datagram) and go to 1.
//!
//! `poll_transmit` swaps the datagram into the caller's buffer, and the engine reuses the buffers
//! it gets back, so a warm engine allocates nothing to queue or hand over a reply.
//!
//! This file holds the dispatch and the steps several requests share (removing a player, deleting
//! a session, repeated errors, refusals by a cap); each request's rules are in
//! [`crate::handlers`].
//!
//! # Hardening (see [`crate::budget`] and [`crate::limits`])
//! - Every datagram received credits its source's budget; every datagram queued is checked against
//!   its receiver's budget in the outbox, which sends nothing beyond it.
//! - With the budget on, a ping is answered `i:` only when the list changed or every
//!   [`Config::info_refresh`]; an `i:` the budget held back goes with the answer to the player's
//!   next request. The first start round waits until every player's start message fits (so the
//!   peer phases begin together), at most [`Config::start_sync_max`]; a player's ping or the host's
//!   `s:` in a starting session is answered with its start message again.
//! - `h:`/`c:` that would create a session or a player pass the caps first (global and per-IP
//!   sessions, players, a per-IP token bucket); a refusal is answered with an `error:` code and
//!   logged at most once per source per [`Config::refusal_log_interval`].

use crate::budget::Budget;
use crate::config::Config;
use crate::guard::{Guard, GuardStats};
use crate::limits::{LogLimiter, PerIpCount, RateLimiter, Refusal};
use crate::netkey::NetKey;
use crate::outbox::Outbox;
use crate::relay::{RelayStats, RelayTable};
use crate::session::Session;
use crate::stats::{self, Counters};
use crate::store::{MemoryStore, SessionStore};
use crate::timers::{Kind, Timers};
use rhp_proto::relay::is_frame;
use rhp_proto::stun::is_stun;
use rhp_proto::{ErrorCode, ParseError, Request};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// The local socket a datagram arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Local {
    /// The main port: the Rabid protocol and STUN.
    Main,
    /// The alternate port (`--alt-port`): STUN only, answered from that socket, so a client can
    /// compare the mappings its NAT gives towards two destinations.
    Alt,
}

/// One event for [`Engine::handle_input`], for callers that prefer a single entry point.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// A datagram arrived at `now` from `from`.
    Datagram {
        /// When it arrived.
        now: Instant,
        /// Its source address.
        from: SocketAddr,
        /// Its bytes.
        data: &'a [u8],
    },
    /// Time has reached this instant.
    Timeout(Instant),
}

/// The rendezvous server's session engine.
#[derive(Debug)]
pub struct Engine<S: SessionStore = MemoryStore> {
    pub(crate) config: Config,
    pub(crate) store: S,
    pub(crate) timers: Timers,
    pub(crate) outbox: Outbox,
    /// Players over all sessions (kept here so the cap check is O(1)).
    pub(crate) live_players: usize,
    pub(crate) rate: RateLimiter,
    pub(crate) per_ip: PerIpCount,
    pub(crate) log_limit: LogLimiter,
    /// The relay's sessions, tokens and counters (node-local).
    pub(crate) relay: RelayTable,
    /// How many password guesses are checked (node-local, bounded).
    pub(crate) guard: Guard,
    /// Whether the periodic stats timer is armed.
    stats_armed: bool,
    /// Counters for the metrics (see [`crate::stats`]).
    pub(crate) counters: Counters,
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
        Engine {
            outbox: Outbox::new(Budget::new(config.budget)),
            rate: RateLimiter::new(config.create_rate, config.create_burst),
            log_limit: LogLimiter::new(config.refusal_log_interval),
            relay: RelayTable::new(config.relay),
            guard: Guard::new(config.guard, config.refusal_log_interval),
            config,
            store,
            timers: Timers::default(),
            live_players: 0,
            per_ip: PerIpCount::default(),
            stats_armed: false,
            counters: Counters::default(),
        }
    }

    /// The engine's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Feeds one event; same as calling [`Engine::handle_datagram`] or [`Engine::handle_timeout`].
    pub fn handle_input(&mut self, input: Input<'_>) {
        match input {
            Input::Datagram { now, from, data } => self.handle_datagram(now, from, data),
            Input::Timeout(now) => self.handle_timeout(now),
        }
    }

    /// Handles one datagram received on `local` at `now` from `from`. On [`Local::Alt`] only STUN
    /// Binding requests are answered (from the alternate socket); anything else there is dropped.
    pub fn handle_datagram_on(&mut self, now: Instant, local: Local, from: SocketAddr, data: &[u8]) {
        match local {
            Local::Main => self.handle_datagram(now, from, data),
            Local::Alt => {
                self.counters.datagrams_in += 1;
                self.counters.bytes_in += data.len() as u64;
                if is_stun(data) {
                    self.counters.stun[1] += 1;
                    self.on_stun(now, local, from, data)
                }
            }
        }
    }

    /// Handles one datagram received at `now` from `from` on the main socket. Never panics,
    /// whatever the bytes: relay frames go to the relay, STUN Binding requests are answered, other
    /// STUN messages dropped, malformed requests are answered `error:invalid_request`, unknown
    /// types are ignored.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        self.counters.datagrams_in += 1;
        self.counters.bytes_in += data.len() as u64;
        if is_frame(data) {
            return self.on_relay_frame(now, from, data);
        }
        if is_stun(data) {
            self.counters.stun[0] += 1;
            return self.on_stun(now, Local::Main, from, data);
        }
        self.housekeeping(now);
        let parsed = Request::parse(data);
        // Credit its account, or a one-datagram one (kept below if the sender joined).
        self.outbox.budget.received(now, from, data.len());
        let players_before = self.live_players;
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
        match request {
            Request::Host { session, player, max_players, password } => {
                self.on_host(now, from, session, player, max_players, password)
            }
            Request::Connect { session, player, password } => {
                self.on_connect(now, from, session, player, password)
            }
            Request::Ping { session, player } => self.on_ping(now, from, session, player),
            Request::Start { session, .. } => self.on_start(now, from, session),
            Request::Confirm { session, player } => self.on_confirm(now, from, session, player),
            Request::Kick { session, victim } => self.on_kick(now, from, session, victim),
            Request::Exit { session, player } => self.on_exit(now, from, session, player),
            Request::Ext { session, player, nat } => self.on_ext(now, from, session, player, nat),
            Request::Relay { session, player } => self.on_relay_request(now, from, session, player),
            Request::Unban { session, player } => self.on_unban(now, from, session, player),
            Request::Private { session, player } => self.on_private(now, from, session, player),
        }
        // A player joined (`h:`/`c:` add one, from the sender): its IP's budget account counts it.
        if self.live_players > players_before {
            self.outbox.budget.joined(now, from);
        }
        self.outbox.budget.forget_transient();
        self.maybe_compact();
    }

    /// Sweeps of the node-local tables (each at most once per its period) and the stats timer.
    pub(crate) fn housekeeping(&mut self, now: Instant) {
        self.outbox.budget.forget_transient();
        self.outbox.budget.maybe_sweep(now);
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
            self.on_timer(now, at, seq, kind);
        }
        self.maybe_compact();
    }

    /// Moves the next datagram to send into `buf` (replacing its contents) and returns where to
    /// send it; `None` when nothing is queued. Call until `None` after every `handle_*`.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<SocketAddr> {
        self.outbox.pop(buf)
    }

    /// [`Engine::poll_transmit`] for the alternate socket: the answers to STUN requests that
    /// arrived there, to be sent from there.
    pub fn poll_transmit_alt(&mut self, buf: &mut Vec<u8>) -> Option<SocketAddr> {
        self.outbox.pop_alt(buf)
    }

    /// When [`Engine::handle_timeout`] must next be called; `None` when no timer is armed. Ask
    /// again after every `handle_*`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Sessions held.
    pub fn session_count(&self) -> usize {
        self.store.session_count()
    }

    /// Players held, over all sessions.
    pub fn player_count(&self) -> usize {
        self.store.player_count()
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
        &self.store
    }

    /// Addresses the anti-reflection budget tracks: every member's IP, and at most
    /// `budget.max_tracked` more whose last membership ended within the window.
    pub fn budget_tracked(&self) -> usize {
        self.outbox.budget.tracked()
    }

    /// Datagrams the budget held back so far (not sent, or sent later).
    pub fn budget_withheld(&self) -> u64 {
        self.outbox.budget.withheld()
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
        (self.rate.tracked(), self.per_ip.len())
    }

    /// Live sessions created from `ip` and live players behind it (counted per source as the caps
    /// count it: an IPv4 address or an IPv6 /64).
    pub fn per_ip_counts(&self, ip: std::net::IpAddr) -> (u32, u32) {
        let net = NetKey::of(ip);
        (self.per_ip.get(net.addr()), self.outbox.budget.players(net))
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
        let mut players = 0;
        let mut per_ip: std::collections::HashMap<std::net::IpAddr, u32> = Default::default();
        let mut players_per_ip: std::collections::HashMap<NetKey, u32> = Default::default();
        for session in self.store.sessions() {
            if session.players.is_empty() {
                return Err(format!("session {} has no player", session.name));
            }
            if session.bans.len() > crate::bans::MAX_BANS {
                return Err(format!("session {} holds {} bans", session.name, session.bans.len()));
            }
            for (i, p) in session.players.iter().enumerate() {
                if session.players[..i].iter().any(|q| q.name == p.name || q.idle_seq == p.idle_seq) {
                    return Err(format!("session {}: player {} twice", session.name, p.name));
                }
            }
            players += session.players.len();
            for p in session.players.iter() {
                *players_per_ip.entry(NetKey::of(p.addr().ip())).or_insert(0) += 1;
            }
            *per_ip.entry(session.creator_ip).or_insert(0) += 1;
        }
        if players != self.live_players || players != self.store.player_count() {
            return Err(format!(
                "player counts differ: sessions hold {players}, counter {}, store {}",
                self.live_players,
                self.store.player_count()
            ));
        }
        if per_ip.len() != self.per_ip.len() || per_ip.iter().any(|(ip, n)| self.per_ip.get(*ip) != *n) {
            return Err("per-IP session counts differ from the sessions".into());
        }
        if players_per_ip.iter().any(|(net, n)| self.outbox.budget.players(*net) != *n)
            || players_per_ip.values().sum::<u32>() != self.outbox.budget.players_total()
        {
            return Err("per-IP player counts differ from the sessions".into());
        }
        let mut members: std::collections::HashMap<std::net::IpAddr, u32> = Default::default();
        let budgeted = self.store.sessions().flat_map(|s| s.players.iter()).map(|p| p.addr());
        for addr in budgeted.filter(|a| self.outbox.budget.applies_to(*a)) {
            *members.entry(addr.ip().to_canonical()).or_insert(0) += 1;
        }
        self.outbox.budget.check(&members)?;
        self.relay.check_invariants()?;
        let guard = self.guard.stats();
        if guard.networks_tracked > self.config.guard.max_tracked {
            return Err(format!("password guard tracks {} networks", guard.networks_tracked));
        }
        if guard.sessions_watched > self.store.session_count() {
            return Err(format!(
                "password guard watches {} sessions of {}",
                guard.sessions_watched,
                self.store.session_count()
            ));
        }
        let relay_timers = self.timers.count(|k| matches!(k, Kind::RelayCheck { .. }));
        // One per relay session, plus stale ones of sessions whose members left (dropped when
        // they fire or at the next compaction).
        if relay_timers < self.relay.len() {
            return Err(format!("{relay_timers} relay timers for {} relay sessions", self.relay.len()));
        }
        let mut ids = std::collections::HashSet::new();
        for s in self.store.sessions() {
            ids.insert(s.id);
        }
        if let Some(id) = self.relay.starting_ids().find(|id| !ids.contains(id)) {
            return Err(format!("relay notes kept for session id {id}, which is gone"));
        }
        let starting = self.store.sessions().filter(|s| !s.is_open()).count();
        if starting != self.counters.starting {
            return Err(format!("{starting} sessions starting, counter {}", self.counters.starting));
        }
        let live = self.store.session_count() + players + self.relay.len();
        if self.timers.len() > 2 * live + 64 + self.pending_errors() {
            return Err(format!("{} timers for {live} live sessions, players and relays", self.timers.len()));
        }
        Ok(())
    }

    /// Timer entries for repeated errors (bounded by the errors sent within their repeat span).
    fn pending_errors(&self) -> usize {
        self.timers.count(|k| matches!(k, Kind::ErrorRepeat { .. } | Kind::Stats))
    }

    /// Arms player `index`'s idle check at `at`: a virtual entry in the player (taking the sequence
    /// number a queued entry would take), queued only if it is now its session's earliest.
    pub(crate) fn arm_player_idle(
        timers: &mut Timers,
        lifetime: Duration,
        at: Instant,
        session: &mut Session,
        index: usize,
    ) {
        let seq = timers.next_seq();
        let at = session.deadline(at);
        let Some(p) = session.players.get_mut(index) else { return };
        p.set_idle(at, seq);
        if session.next_check(lifetime) == Some((session.at(at), seq)) {
            Self::queue_session_check(timers, lifetime, session);
        }
    }

    /// Queues the open session's earliest check (the virtual entries stay in the session).
    pub(crate) fn queue_session_check(timers: &mut Timers, lifetime: Duration, session: &Session) {
        if let Some((at, seq)) = session.next_check(lifetime) {
            let kind = Kind::SessionCheck { session: session.name, session_id: session.id };
            timers.push_seq(at, seq, kind);
        }
    }

    /// The index of `player` in session `name` if `from` is its own address (the check a ping
    /// makes, for the extensions `e:` and `r:`); otherwise answers the error a ping would get.
    pub(crate) fn own_player(
        &mut self,
        now: Instant,
        from: SocketAddr,
        name: &str,
        player: &str,
    ) -> Option<usize> {
        let Some(session) = self.store.get(name) else {
            self.outbox.error(now, from, ErrorCode::SessionNonExistent);
            return None;
        };
        let index = session.position_from(player, from);
        if index.is_none() {
            let code =
                if session.is_open() { ErrorCode::NonExistentPlayer } else { ErrorCode::SessionNonExistent };
            self.outbox.error(now, from, code);
        }
        index
    }

    /// Sends `code` to `to` now and `repeats - 1` more times, `error_interval` apart.
    pub(crate) fn send_error_repeated(&mut self, now: Instant, to: SocketAddr, code: ErrorCode) {
        self.outbox.error(now, to, code);
        let left = self.config.repeats() - 1;
        if left > 0 {
            self.timers
                .push(now + self.config.error_interval, Kind::ErrorRepeat { to: to.into(), code, left });
        }
    }

    /// Removes player `index` from session `name` (whoever was told what first), then either
    /// deletes the emptied session or sends the remaining players the new `i:` list. A removed host
    /// hands the role to the next oldest player.
    pub(crate) fn remove_player(&mut self, now: Instant, name: &str, index: usize, why: &str) {
        let Some(session) = self.store.get_mut(name) else { return };
        if index >= session.players.len() {
            return;
        }
        let gone = session.remove_player(index);
        self.live_players = self.live_players.saturating_sub(1);
        self.outbox.budget.left(gone.addr());
        // Its idle check was queued if it was the earliest: then the next earliest is queued now.
        let lifetime = self.config.session_lifetime;
        if session.is_open()
            && session
                .next_check(lifetime)
                .is_some_and(|m| (session.at(gone.idle_at), session.idle_seq(&gone)) < m)
        {
            self.timers.note_stale(1);
            Self::queue_session_check(&mut self.timers, lifetime, session);
        }
        info!("session {name}: player {} ({}) {why}", gone.name, gone.addr());
        if session.players.is_empty() {
            return self.delete_session(name, "it has no players left");
        }
        if index == 0 {
            if let Some(host) = session.host() {
                info!("session {name}: {} is the host now", host.name);
            }
        }
        self.outbox.info_to_all(now, session);
    }

    /// Deletes session `name`; its name is free again.
    pub(crate) fn delete_session(&mut self, name: &str, why: &str) {
        if self.take_session(name).is_some() {
            info!("session {name}: deleted, {why}");
        }
    }

    /// Removes session `name` from the store and from every count; returns it.
    pub(crate) fn take_session(&mut self, name: &str) -> Option<Session> {
        let session = self.store.remove(name)?;
        if !session.is_open() {
            self.counters.starting = self.counters.starting.saturating_sub(1);
        }
        for p in &session.players {
            self.outbox.budget.left(p.addr());
        }
        self.timers.note_stale(2);
        self.live_players = self.live_players.saturating_sub(session.players.len());
        self.per_ip.remove(session.creator_ip);
        self.relay.session_ended(session.id);
        self.guard.session_ended(session.id);
        Some(session)
    }

    /// Answers `from` with `code` for a refusal by a cap, and logs it (at most once per source and
    /// kind per interval, with the count of the ones not logged).
    pub(crate) fn refuse(
        &mut self,
        now: Instant,
        from: SocketAddr,
        what: Refusal,
        code: ErrorCode,
        detail: &str,
    ) {
        self.outbox.error(now, from, code);
        self.counters.refused(what);
        let ip = from.ip().to_canonical();
        if let Some(suppressed) = self.log_limit.should_log(now, ip, what) {
            if suppressed > 0 {
                warn!("refused {from}: {detail} (error:{code}; {suppressed} more from {ip} not logged)");
            } else {
                warn!("refused {from}: {detail} (error:{code})");
            }
        }
    }

    /// Logs the counts (the stats timer).
    pub(crate) fn log_stats(&mut self, now: Instant) {
        let r = self.relay.stats();
        info!(
            "stats: {} sessions, {} players, {} timers, budget {} addresses ({} held back), rate limiter {} IPs, \
             relay {} sessions ({} made) {} members, {} frames forwarded ({} bytes), {} dropped, {} rebinds, \
             refused rate {} lifetime {} per-IP {} server {} no-member {}",
            self.store.session_count(),
            self.live_players,
            self.timers.len(),
            self.outbox.budget.tracked(),
            self.outbox.budget.withheld(),
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
        let (store, relay) = (&self.store, &self.relay);
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
