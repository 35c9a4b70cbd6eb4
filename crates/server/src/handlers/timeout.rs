//! What happens when a timer fires: a silent player is dropped, an old session is closed, a
//! starting session gets its next round (or is deleted after the last), a timeout error is sent
//! again. Each checks that its player or session is still the one it was armed for.

use crate::engine::Engine;
use crate::session::Phase;
use crate::store::SessionStore;
use crate::timers::Kind;
use rhp_proto::ErrorCode;
use std::time::Instant;
use tracing::info;

impl<S: SessionStore> Engine<S> {
    /// Handles one fired entry, due at `at` (`at <= now`).
    pub(crate) fn on_timer(&mut self, now: Instant, at: Instant, kind: Kind) {
        match kind {
            Kind::PlayerIdle { session, session_id, player } => {
                self.on_player_idle(now, session, session_id, player)
            }
            Kind::Lifetime { session, session_id } => self.on_lifetime(now, &session, session_id),
            Kind::StartRound { session, session_id } => self.on_round(now, at, session, session_id),
            Kind::Stats => self.log_stats(now),
            Kind::ErrorRepeat { to, code, left } => {
                self.outbox.error(now, to, code);
                if left > 1 {
                    let next = at + self.config.error_interval;
                    self.timers.push(next, Kind::ErrorRepeat { to, code, left: left - 1 });
                }
            }
        }
    }

    fn on_player_idle(&mut self, now: Instant, name: Box<str>, session_id: u64, player: u64) {
        let Some(session) = self.store.get(&name).filter(|s| s.id == session_id) else { return };
        if !session.is_open() {
            // A starting session is deleted after its rounds; nobody times out meanwhile.
            return;
        }
        let Some(index) = session.players.iter().position(|p| p.id == player) else { return };
        let deadline = session.players[index].last_seen + self.config.player_timeout;
        if deadline > now {
            // It pinged since the timer was armed: one entry, moved to the new deadline.
            self.timers.push(deadline, Kind::PlayerIdle { session: name, session_id, player });
            return;
        }
        let addr = session.players[index].addr;
        self.send_error_repeated(now, addr, ErrorCode::PlayerTimeout);
        self.remove_player(now, &name, index, "timed out");
    }

    fn on_lifetime(&mut self, now: Instant, name: &str, session_id: u64) {
        let Some(session) = self.store.get(name).filter(|s| s.id == session_id) else { return };
        if !session.is_open() {
            return;
        }
        let Some(session) = self.take_session(name) else { return };
        info!("session {name}: timed out after its lifetime, {} players told", session.players.len());
        for p in &session.players {
            self.send_error_repeated(now, p.addr, ErrorCode::SessionTimeout);
        }
        info!("session {name}: deleted");
    }

    fn on_round(&mut self, now: Instant, at: Instant, name: Box<str>, session_id: u64) {
        let rounds = self.config.rounds();
        let Some(session) = self.store.get_mut(&name).filter(|s| s.id == session_id) else { return };
        let Phase::Starting { rounds_sent, since } = session.phase else { return };
        let next = Kind::StartRound { session: name.clone(), session_id };
        if rounds_sent == 0 {
            // The first round is held until every player's budget allows it; not for ever.
            let force = at >= since + self.config.start_sync_max;
            self.first_round(now, &name, force);
            self.timers.push(at + self.config.start_interval, next);
            return;
        }
        if rounds_sent >= rounds {
            // Every player got its start message at least once (or confirmed), or it is too late.
            let all_told = session.players.iter().all(|p| p.confirmed || p.starts_sent > 0);
            if all_told || at >= since + self.config.start_hold {
                return self.delete_session(&name, "its start messages are sent");
            }
            self.timers.push(at + self.config.start_interval, next);
            return;
        }
        session.phase = Phase::Starting { rounds_sent: rounds_sent + 1, since };
        for index in 0..session.players.len() {
            if !session.players[index].confirmed {
                self.outbox.start(now, session, index);
            }
        }
        self.timers.push(at + self.config.start_interval, next);
    }
}
