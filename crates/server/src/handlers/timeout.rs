//! What happens when a timer fires: a silent player is dropped, an old session is closed, a
//! starting session gets its next round (or is deleted after the last), a timeout error is sent
//! again, a relay session is checked (in `relay.rs`). Each checks that its player or session is still the one it was armed for.

use super::shared::queue_session_check;
use super::Cx;
use crate::compact::SessionName;
use crate::session::{Phase, Player};
use crate::store::SessionStore;
use crate::timers::Kind;
use rhp_proto::ErrorCode;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tracing::info;

/// With the budget on, how long a player of a starting session that was sent its start message
/// but did not confirm it must have asked nothing (no ping, `s:`, `e:` or `r:`) before the session
/// counts it as served: four of the Godot plugin's (and our clients') 0.5 s ping intervals. A
/// player whose start message was lost asks again within it (unless four pings in a row are lost
/// too), and is answered with its start message as its budget allows; a plugin that got it stops
/// asking. Bounded, like every wait of a starting session, by [`crate::Config::start_hold`].
pub(crate) const START_QUIET: Duration = Duration::from_secs(2);

/// Whether player `p` of a starting session needs nothing more from it at `at`: it confirmed
/// (`y:`), or it was sent its start message and either its address is not budgeted (then every
/// round went to it, as in the original) or it asked nothing for [`START_QUIET`] (it last asked at
/// `last_asked`). A budgeted player is sent its start message about once (its budget, credited by
/// its small pings, allows few rounds), so on a lossy link one that keeps asking did not get it.
fn told(p: &Player, budgeted: impl Fn(SocketAddr) -> bool, last_asked: Instant, at: Instant) -> bool {
    p.confirmed || (p.started() && (!budgeted(p.addr()) || at >= last_asked + START_QUIET))
}

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
            // A starting session is deleted after its rounds (or its hold); nobody times out
            // meanwhile. (Its deletion counts this entry as stale.)
            return true;
        }
        let Some(index) = session.players.iter().position(|p| p.idle_is(seq)) else { return false };
        let deadline = session.at(session.players[index].last_seen) + self.config.player_timeout;
        // Its check is armed at the deadline rounded up to the millisecond, which is after `now`
        // (unless the session outlived its stamps, 49 days: then it times out).
        let at = session.deadline(deadline);
        if deadline > now && session.at(at) > now {
            // It pinged since the check was armed: moved to the new deadline, and the session's
            // earliest check (this one or another player's) queued.
            let new_seq = self.timers.next_seq();
            session.players[index].set_idle(at, new_seq);
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
            let force = at >= session.at(since) + self.config.start_sync_max;
            self.first_round(now, &name, force);
            self.timers.push(at + self.config.start_interval, next);
            return true;
        }
        if u32::from(rounds_sent) >= rounds.min(u32::from(u16::MAX)) {
            // Every player is told (see `told`), or it is too late.
            let out = &*self.out;
            let all_told =
                session.players.iter().all(|p| told(p, |a| out.budgeted(a), session.at(p.last_seen), at));
            if all_told || at >= session.at(since) + self.config.start_hold {
                self.delete_session(&name, "its start messages are sent");
                // This entry was the session's own: the deletion counted it as stale.
                self.timers.fired_stale();
                return true;
            }
            self.timers.push(at + self.config.start_interval, next);
            return true;
        }
        session.phase = Phase::Starting { rounds_sent: rounds_sent.saturating_add(1), since };
        let Some((session, also)) = self.lobby.get_mut_also(&name) else { return false };
        for index in 0..session.players.len() {
            if !session.players[index].confirmed {
                let note = self.relay.note(session.id, &session.players[index].name);
                self.out.start(now, session, also, index, note);
            }
        }
        self.timers.push(at + self.config.start_interval, next);
        true
    }
}
