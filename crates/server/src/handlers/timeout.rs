//! What happens when a timer fires: a silent player is dropped, an old session is closed, a
//! starting session gets its next round (or is deleted after the last), a timeout error is sent
//! again, a relay session is checked (in `relay.rs`). Each checks that its player or session is still the one it was armed for.

use super::shared::queue_session_check;
use super::Cx;
use crate::compact::SessionName;
use crate::session::Phase;
use crate::store::SessionStore;
use crate::timers::Kind;
use rhp_proto::ErrorCode;
use std::time::Instant;
use tracing::info;

impl<S: SessionStore> Cx<'_, S> {
    /// Handles one fired entry, due at `at` (`at <= now`), whose sequence number is `seq`.
    pub(crate) fn on_timer(&mut self, now: Instant, at: Instant, seq: u64, kind: Kind) {
        match kind {
            Kind::SessionCheck { session, session_id } => {
                let live = if seq == session_id {
                    self.on_lifetime(now, &session, session_id)
                } else {
                    self.on_player_idle(now, session, session_id, seq)
                };
                if !live {
                    self.timers.fired_stale();
                }
            }
            Kind::StartRound { session, session_id } => {
                if !self.on_round(now, at, session, session_id) {
                    self.timers.fired_stale();
                }
            }
            // The engine's own (see `Engine::handle_timeout`): never handed here.
            Kind::Stats => {}
            Kind::RelayCheck { relay } => self.on_relay_check(now, relay),
            Kind::ErrorRepeat { to, code, left } => {
                self.out.error(now, to.get(), code);
                if left > 1 {
                    let next = at + self.config.error_interval;
                    self.timers.push(next, Kind::ErrorRepeat { to, code, left: left - 1 });
                }
            }
        }
    }

    /// The idle check of the player whose virtual entry has sequence number `seq` (the session's
    /// earliest). Returns false if the entry was stale (its session or player is gone, or the
    /// player's check was moved since).
    fn on_player_idle(&mut self, now: Instant, name: SessionName, session_id: u64, seq: u64) -> bool {
        let Some(session) = self.lobby.get_mut(&name).filter(|s| s.id == session_id) else { return false };
        if !session.is_open() {
            // A starting session is deleted after its rounds; nobody times out meanwhile. (Its
            // deletion counts this entry as stale.)
            return true;
        }
        let Some(index) = session.players.iter().position(|p| p.idle_seq == seq) else { return false };
        let deadline = session.players[index].last_seen() + self.config.player_timeout;
        if deadline > now {
            // It pinged since the check was armed: moved to the new deadline, and the session's
            // earliest check (this one or another player's) queued.
            let new_seq = self.timers.next_seq();
            let p = &mut session.players[index];
            p.idle_at = deadline.into();
            p.idle_seq = new_seq;
            // The session's name is reused: a warm engine allocates nothing here.
            queue_session_check(self.timers, self.config.session_lifetime, session);
            return true;
        }
        let addr = session.players[index].addr();
        self.send_error_repeated(now, addr, ErrorCode::PlayerTimeout);
        // The player's entry was this one: not stale, but remove_player counts it as if it were.
        self.timers.fired_stale();
        self.remove_player(now, &name, index, "timed out");
        true
    }

    /// Returns false if the entry was stale (its session is gone).
    fn on_lifetime(&mut self, now: Instant, name: &str, session_id: u64) -> bool {
        let Some(session) = self.lobby.get(name).filter(|s| s.id == session_id) else { return false };
        if !session.is_open() {
            return true;
        }
        let Some(session) = self.take_session(name) else { return false };
        // This entry was the session's own: take_session counted it as stale.
        self.timers.fired_stale();
        info!("session {name}: timed out after its lifetime, {} players told", session.players.len());
        for p in &session.players {
            self.send_error_repeated(now, p.addr(), ErrorCode::SessionTimeout);
        }
        info!("session {name}: deleted");
        true
    }

    /// Returns false if the entry was stale (its session is gone).
    fn on_round(&mut self, now: Instant, at: Instant, name: SessionName, session_id: u64) -> bool {
        let rounds = self.config.rounds();
        let Some(session) = self.lobby.get_mut(&name).filter(|s| s.id == session_id) else { return false };
        let Phase::Starting { rounds_sent, since } = session.phase else { return false };
        let next = Kind::StartRound { session: name, session_id };
        if rounds_sent == 0 {
            // The first round is held until every player's budget allows it; not for ever.
            let force = at >= since.instant() + self.config.start_sync_max;
            self.first_round(now, &name, force);
            self.timers.push(at + self.config.start_interval, next);
            return true;
        }
        if rounds_sent >= rounds {
            // Every player got its start message at least once (or confirmed), or it is too late.
            let all_told = session.players.iter().all(|p| p.confirmed || p.started());
            if all_told || at >= since.instant() + self.config.start_hold {
                self.delete_session(&name, "its start messages are sent");
                // This entry was the session's own: the deletion counted it as stale.
                self.timers.fired_stale();
                return true;
            }
            self.timers.push(at + self.config.start_interval, next);
            return true;
        }
        session.phase = Phase::Starting { rounds_sent: rounds_sent + 1, since };
        for index in 0..session.players.len() {
            if !session.players[index].confirmed {
                let note = self.relay.note(session.id, &session.players[index].name);
                self.out.start(now, session, index, note);
            }
        }
        self.timers.push(at + self.config.start_interval, next);
        true
    }
}
