//! `c:S:P[:PASS]`: join a session (or answer a member's retransmit). A kicked player is refused
//! `kicked_by_host` ([`crate::bans`]); a guess at a password passes the guard ([`crate::guard`])
//! before it is checked, or is refused `too_many_requests` unchecked.

use super::shared::arm_player_idle;
use super::Cx;
use crate::guard::{Admit, Guard};
use crate::limits::ip_key;
use crate::outbox::Outbox;
use crate::session::{Player, Session};
use crate::store::SessionStore;
use rhp_proto::ErrorCode;
use std::net::SocketAddr;
use std::time::Instant;
use tracing::info;

impl<S: SessionStore> Cx<'_, S> {
    pub(crate) fn on_connect(
        &mut self,
        now: Instant,
        from: SocketAddr,
        name: &str,
        player: &str,
        password: Option<&str>,
    ) {
        let Some(session) = self.lobby.get_mut(name) else {
            self.out.error(now, from, ErrorCode::SessionNonExistent);
            return;
        };
        if !session.is_open() {
            return self.connect_when_starting(now, from, name, player);
        }
        if !passes_the_door(session, self.guard, self.out, now, from, name, player, password) {
            return;
        }
        // Fix 1: a member's retransmit is answered `i:` even when the session is full.
        if let Some(index) = session.position_from(player, from) {
            self.out.info(now, session, index);
            return;
        }
        if session.is_full() {
            self.out.error(now, from, ErrorCode::SessionFull);
            return;
        }
        if session.position(player).is_some() {
            self.out.error(now, from, ErrorCode::PlayerNameInUse);
            return;
        }
        // Caps: this request would create a player.
        let ip = ip_key(from.ip());
        if !self.admit_player(now, from, ip, || format!("session {name}: {player} not joined")) {
            return;
        }
        let Some(session) = self.lobby.add_player(name, Player::new(player, from, now)) else { return };
        info!(
            "session {name}: {player} ({from}) joined, {} of {}",
            session.players.len(),
            session.max_players
        );
        self.out.info_to_all(now, session);
        let index = session.players.len() - 1;
        let (lifetime, at) = (self.config.session_lifetime, now + self.config.player_timeout);
        arm_player_idle(self.timers, lifetime, at, session, index);
    }

    /// `c:` to a starting session. With the budget on, a member may still be waiting for its first
    /// list (the plugin ignores a start message until it has one, and resends `c:`): it is answered
    /// (the first round of start messages waits for this, see `first_round`). Anyone else: the
    /// session does not exist for them.
    fn connect_when_starting(&mut self, now: Instant, from: SocketAddr, name: &str, player: &str) {
        let Some(session) = self.lobby.get_mut(name) else { return };
        match session.position_from(player, from) {
            Some(index) if self.out.budgeted(from) => {
                if session.players[index].info_sent().is_none() {
                    self.out.info(now, session, index);
                } else {
                    self.resend_start(now, name, index);
                }
            }
            _ => {
                self.out.error(now, from, ErrorCode::SessionNonExistent);
            }
        }
    }
}

/// The checks at an open session's door, in order: a kicked player stays out (by name and by
/// network; a member's own retransmit is no join); a guess at the password is checked only if the
/// guard admits it, decided before the password is looked at (a refused guess gets the same answer,
/// right or wrong); then the password. Answers the refusal and returns `false`, or `true`.
#[allow(clippy::too_many_arguments)]
fn passes_the_door(
    session: &Session,
    guard: &mut Guard,
    out: &mut Outbox,
    now: Instant,
    from: SocketAddr,
    name: &str,
    player: &str,
    password: Option<&str>,
) -> bool {
    let member = session.position_from(player, from).is_some();
    if !member && session.bans.refuses(player, from) {
        guard.banned();
        out.error(now, from, ErrorCode::KickedByHost);
        return false;
    }
    let guarded = !member && session.password.is_some();
    let ip = from.ip();
    if guarded && guard.admit(now, session.id, ip) == Admit::Refuse {
        guard.maybe_log(now, session.id, name, from);
        out.error(now, from, ErrorCode::TooManyRequests);
        return false;
    }
    if !session.password_matches(password) {
        if guarded {
            guard.failed(now, session.id, ip);
            guard.maybe_log(now, session.id, name, from);
        }
        out.error(now, from, ErrorCode::PasswordMismatch);
        return false;
    }
    true
}
