//! `s:S:P`: the host starts the session; round 1 of the start messages goes out at once (with the
//! budget on: as soon as every player's budget allows it, see [`Cx::first_round`]).

use super::Cx;
use crate::session::Phase;
use crate::store::SessionStore;
use crate::timers::Kind;
use rhp_proto::ErrorCode;
use std::net::SocketAddr;
use std::time::Instant;
use tracing::info;

impl<S: SessionStore> Cx<'_, S> {
    pub(crate) fn on_start(&mut self, now: Instant, from: SocketAddr, name: &str) {
        let Some(session) = self.lobby.get_mut(name) else {
            self.out.error(now, from, ErrorCode::SessionNonExistent);
            return;
        };
        if !session.is_open() {
            // Already starting (the Godot plugin resends `s:` every 0.5 s): the rounds answer it.
            // With the budget on, a member's `s:` asks for its start message again, like a ping
            // (and, like a ping, keeps the session for it: see `Cx::on_round`).
            if let Some(index) = session.players.iter().position(|p| p.is_at(from)) {
                session.seen(index, now);
                if self.out.budgeted(from) {
                    self.resend_start(now, name, index);
                }
            }
            return;
        }
        // The name field is not checked, as in the original: the sender's address decides.
        if !session.is_host_addr(from) {
            self.out.error(now, from, ErrorCode::NonHostPlayer);
            return;
        }
        if session.players.len() < 2 {
            self.out.error(now, from, ErrorCode::OnlyOnePlayerInSession);
            return;
        }
        session.phase = Phase::Starting { rounds_sent: 0, since: session.stamp(now) };
        self.counters.starting += 1;
        info!("session {name}: started by its host with {} players", session.players.len());
        let session_id = session.id;
        self.first_round(now, name, false);
        self.timers
            .push(now + self.config.start_interval, Kind::StartRound { session: name.into(), session_id });
    }

    /// Sends the first round of start messages, to every player at once, if every player's budget
    /// allows its message (or `force`: then to each whose budget allows). Returns whether it went.
    /// The relay's grants are decided at the first try (see [`Cx::open_relay`]), so that every
    /// try counts their bytes.
    pub(crate) fn first_round(&mut self, now: Instant, name: &str, force: bool) -> bool {
        if !self.lobby.get(name).is_some_and(|s| matches!(s.phase, Phase::Starting { rounds_sent: 0, .. })) {
            return false;
        }
        self.open_relay(now, name);
        let Some((session, also)) = self.lobby.get_mut_also(name) else { return false };
        let Phase::Starting { rounds_sent: 0, since } = session.phase else { return false };
        let n = session.players.len();
        let relay = &self.relay;
        // Every player must have had a list (the plugin ignores `s:` before its first `i:`), and
        // the budgets must allow every start message at once.
        if !force {
            if session.players.iter().any(|p| !p.confirmed && p.info_sent().is_none()) {
                return false;
            }
            let wanted = |i: usize| !session.players[i].confirmed;
            let extra = |i: usize| {
                session.players.get(i).and_then(|p| relay.note(session.id, &p.name)).map_or(0, |n| n.len())
            };
            if !self.out.starts_fit(now, session, also, wanted, extra) {
                return false;
            }
        }
        for index in 0..n {
            if !session.players[index].confirmed {
                let note = relay.note(session.id, &session.players[index].name);
                self.out.start(now, session, also, index, note);
            }
        }
        session.phase = Phase::Starting { rounds_sent: 1, since };
        self.counters.start.observe(now.saturating_duration_since(session.at(since)));
        true
    }

    /// Player `index` of starting session `name`, whose address is budgeted, asked for the relay
    /// (`r:`) after it was sent its start message. Our client asks so late only once it has its
    /// `s:` (one that came without the grant it asked for: the grant was lost, or did not fit its
    /// budget), so it gets its relay note alone, if its budget allows (a fraction of the start
    /// message's bytes). Returns false (nothing done) if the player was not sent its start
    /// message yet or has no note: then [`Cx::resend_start`] answers it.
    pub(crate) fn resend_note(&mut self, now: Instant, name: &str, index: usize) -> bool {
        let Some(session) = self.lobby.get(name) else { return false };
        // Without the budget every round carries its note and start message: as before.
        let Some(p) = session.players.get(index).filter(|p| p.started() && self.out.budgeted(p.addr()))
        else {
            return false;
        };
        if matches!(session.phase, Phase::Open | Phase::Starting { rounds_sent: 0, .. }) {
            return false;
        }
        let Some(note) = self.relay.note(session.id, &p.name) else { return false };
        self.out.push_with(now, p.addr(), |b| note.write(b));
        true
    }

    /// A player of a starting session asked again (ping, or the host's `s:`): the first round if
    /// it is still held, else its own start message (if its budget allows).
    pub(crate) fn resend_start(&mut self, now: Instant, name: &str, index: usize) {
        let Some((session, also)) = self.lobby.get_mut_also(name) else { return };
        match session.phase {
            Phase::Starting { rounds_sent: 0, .. } => {
                self.first_round(now, name, false);
            }
            Phase::Starting { .. } => {
                let name = session.players.get(index).map(|p| p.name);
                let note = name.and_then(|n| self.relay.note(session.id, &n));
                self.out.start(now, session, also, index, note);
            }
            Phase::Open => {}
        }
    }
}
