//! `s:S:P`: the host starts the session; round 1 of the start messages goes out at once.

use crate::engine::Engine;
use crate::session::Phase;
use crate::store::SessionStore;
use crate::timers::Kind;
use rhp_proto::ErrorCode;
use std::net::SocketAddr;
use std::time::Instant;
use tracing::info;

impl<S: SessionStore> Engine<S> {
    pub(crate) fn on_start(&mut self, now: Instant, from: SocketAddr, name: &str) {
        let Some(session) = self.store.get_mut(name) else {
            return self.outbox.error(from, ErrorCode::SessionNonExistent);
        };
        if !session.is_open() {
            // Already starting (the Godot plugin resends `s:` every 0.5 s): the rounds answer it.
            return;
        }
        // The name field is not checked, as in the original: the sender's address decides.
        if !session.is_host_addr(from) {
            return self.outbox.error(from, ErrorCode::NonHostPlayer);
        }
        if session.players.len() < 2 {
            return self.outbox.error(from, ErrorCode::OnlyOnePlayerInSession);
        }
        session.phase = Phase::Starting { rounds_sent: 1 };
        info!("session {name}: started by its host with {} players", session.players.len());
        for index in 0..session.players.len() {
            self.outbox.start(session, index);
        }
        let session_id = session.id;
        self.timers
            .push(now + self.config.start_interval, Kind::StartRound { session: name.into(), session_id });
    }
}
