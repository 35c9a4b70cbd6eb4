//! `h:S:P:MAX[:PASS]`: create a session, or answer the host's retransmit.

use crate::engine::Engine;
use crate::session::{Phase, Player, Session};
use crate::store::SessionStore;
use crate::timers::Kind;
use rhp_proto::ErrorCode;
use std::net::SocketAddr;
use std::time::Instant;
use tracing::{info, warn};

impl<S: SessionStore> Engine<S> {
    pub(crate) fn on_host(
        &mut self,
        now: Instant,
        from: SocketAddr,
        name: &str,
        player: &str,
        max_players: u8,
        password: Option<&str>,
    ) {
        if let Some(session) = self.store.get(name) {
            // The Godot plugin resends `h:` until it hears back: answer the host's copies again.
            if session.is_open() && session.is_host_addr(from) {
                return self.outbox.info(from, session);
            }
            return self.outbox.error(from, ErrorCode::SessionExists);
        }
        if self.store.session_count() >= self.config.max_sessions {
            warn!("session {name}: not created for {from}, already {} sessions", self.config.max_sessions);
            return;
        }
        let session_id = self.new_id();
        let player_id = self.new_id();
        let session = Session {
            id: session_id,
            name: name.to_owned(),
            password: password.map(str::to_owned),
            max_players,
            created: now,
            phase: Phase::Open,
            players: vec![Player {
                id: player_id,
                name: player.to_owned(),
                addr: from,
                last_seen: now,
                confirmed: false,
            }],
        };
        info!("session {name}: created by {player} ({from}), max {max_players} players");
        self.outbox.info(from, &session);
        self.arm_player_idle(now + self.config.player_timeout, &session, player_id);
        self.timers
            .push(now + self.config.session_lifetime, Kind::Lifetime { session: name.into(), session_id });
        self.store.insert(session);
    }
}
