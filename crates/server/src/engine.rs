//! The sans-IO engine: datagrams and time in, datagrams and a wake-up deadline out. It owns no
//! socket, never reads the clock and never sleeps; every `now` comes from the caller.
//!
//! # Driving it (what the shell does, and what tests do with a fake clock)
//! 1. Feed an event: [`Engine::handle_datagram`] for each datagram received, or
//!    [`Engine::handle_timeout`] when the deadline from [`Engine::poll_timeout`] has passed.
//!    Calling `handle_timeout` early or twice is harmless: only due timers fire.
//! 2. Drain [`Engine::poll_transmit`] until it returns `None`, sending each datagram.
//! 3. Sleep until [`Engine::poll_timeout`] (or the next datagram) and go to 1.
//!
//! `poll_transmit` swaps the datagram into the caller's buffer, and the engine reuses the buffers
//! it gets back, so a warm engine allocates nothing to queue or hand over a reply.
//!
//! This file holds the dispatch and the steps several requests share (removing a player, deleting
//! a session, repeated errors); each request's rules are in [`crate::handlers`].

use crate::config::Config;
use crate::outbox::Outbox;
use crate::session::Session;
use crate::store::{MemoryStore, SessionStore};
use crate::timers::{Kind, Timers};
use rhp_proto::{ErrorCode, ParseError, Request};
use std::net::SocketAddr;
use std::time::Instant;
use tracing::{debug, info};

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
    next_id: u64,
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
        Engine { config, store, timers: Timers::default(), outbox: Outbox::default(), next_id: 0 }
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

    /// Handles one datagram received at `now` from `from`. Never panics, whatever the bytes:
    /// malformed requests are answered `error:invalid_request`, unknown types are ignored.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        let request = match Request::parse(data) {
            Ok(request) => request,
            Err(ParseError::UnknownType) => return,
            Err(_) => return self.outbox.error(from, ErrorCode::InvalidRequest),
        };
        match request {
            Request::Host { session, player, max_players, password } => {
                self.on_host(now, from, session, player, max_players, password)
            }
            Request::Connect { session, player, password } => {
                self.on_connect(now, from, session, player, password)
            }
            Request::Ping { session, player } => self.on_ping(now, from, session, player),
            Request::Start { session, .. } => self.on_start(now, from, session),
            Request::Confirm { session, player } => self.on_confirm(from, session, player),
            Request::Kick { session, victim } => self.on_kick(from, session, victim),
            Request::Exit { session, player } => self.on_exit(from, session, player),
        }
        self.maybe_compact();
    }

    /// Fires every timer due at `now`. Timers not yet due are left alone, so an early or repeated
    /// call does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, kind)) = self.timers.pop_due(now) {
            self.on_timer(now, at, kind);
        }
        self.maybe_compact();
    }

    /// Moves the next datagram to send into `buf` (replacing its contents) and returns where to
    /// send it; `None` when nothing is queued. Call until `None` after every `handle_*`.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<SocketAddr> {
        self.outbox.pop(buf)
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

    /// A fresh id for a player or a session.
    pub(crate) fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Arms the timer that checks player `player_id` of `session` for silence.
    pub(crate) fn arm_player_idle(&mut self, at: Instant, session: &Session, player_id: u64) {
        let kind = Kind::PlayerIdle {
            session: session.name.as_str().into(),
            session_id: session.id,
            player: player_id,
        };
        self.timers.push(at, kind);
    }

    /// Sends `code` to `to` now and `repeats - 1` more times, `error_interval` apart.
    pub(crate) fn send_error_repeated(&mut self, now: Instant, to: SocketAddr, code: ErrorCode) {
        self.outbox.error(to, code);
        let left = self.config.repeats() - 1;
        if left > 0 {
            self.timers.push(now + self.config.error_interval, Kind::ErrorRepeat { to, code, left });
        }
    }

    /// Removes player `index` from session `name` (whoever was told what first), then either
    /// deletes the emptied session or sends the remaining players the new `i:` list. A removed host
    /// hands the role to the next oldest player.
    pub(crate) fn remove_player(&mut self, name: &str, index: usize, why: &str) {
        let Some(session) = self.store.get_mut(name) else { return };
        if index >= session.players.len() {
            return;
        }
        let gone = session.players.remove(index);
        self.timers.note_stale(1);
        info!("session {name}: player {} ({}) {why}", gone.name, gone.addr);
        if session.players.is_empty() {
            return self.delete_session(name, "it has no players left");
        }
        if index == 0 {
            if let Some(host) = session.host() {
                info!("session {name}: {} is the host now", host.name);
            }
        }
        self.outbox.info_to_all(session);
    }

    /// Deletes session `name`; its name is free again.
    pub(crate) fn delete_session(&mut self, name: &str, why: &str) {
        if let Some(session) = self.store.remove(name) {
            self.timers.note_stale(1 + session.players.len());
            info!("session {name}: deleted, {why}");
        }
    }

    /// Drops stale timer entries when removals may have left many.
    fn maybe_compact(&mut self) {
        if !self.timers.wants_compaction() {
            return;
        }
        let store = &self.store;
        let before = self.timers.len();
        self.timers.compact(|kind| match kind {
            Kind::PlayerIdle { session, session_id, player } => store
                .get(session)
                .is_some_and(|s| s.id == *session_id && s.players.iter().any(|p| p.id == *player)),
            Kind::Lifetime { session, session_id } | Kind::StartRound { session, session_id } => {
                store.get(session).is_some_and(|s| s.id == *session_id)
            }
            Kind::ErrorRepeat { .. } => true,
        });
        debug!("timers: compacted {before} -> {}", self.timers.len());
    }
}
