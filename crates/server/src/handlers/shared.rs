//! The steps several handlers share, in one place: a player's own address checked (the check a
//! ping makes), a player's idle check armed, a player removed, a session deleted or taken out,
//! an error sent again and again, a refusal by a cap.

use super::Cx;
use crate::limits::Refusal;
use crate::lobby::Lobby;
use crate::outbox::Outbox;
use crate::session::Session;
use crate::store::SessionStore;
use crate::timers::{Kind, Timers};
use rhp_proto::ErrorCode;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// Player `player` of session `name`, if `from` is its own address (fix 2: the check a ping makes,
/// and `e:`, `r:`, `q:`): its index and its session. Otherwise answers the error a ping gets
/// (`session_non_existent`, or `non_existent_player` in an open session) and returns `None`.
pub(crate) fn own_player<'s, S: SessionStore>(
    lobby: &'s mut Lobby<S>,
    out: &mut Outbox,
    now: Instant,
    from: SocketAddr,
    name: &str,
    player: &str,
) -> Option<(usize, &'s mut Session)> {
    let code = match lobby.get_mut(name) {
        None => ErrorCode::SessionNonExistent,
        Some(session) => match session.position_from(player, from) {
            Some(index) => return Some((index, session)),
            // A starting session is not open to anyone but its players.
            None if session.is_open() => ErrorCode::NonExistentPlayer,
            None => ErrorCode::SessionNonExistent,
        },
    };
    out.error(now, from, code);
    None
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
    let Some(p) = session.players.get_mut(index) else { return };
    p.idle_at = at.into();
    p.idle_seq = seq;
    if session.next_check(lifetime) == Some((at.into(), seq)) {
        queue_session_check(timers, lifetime, session);
    }
}

/// Queues the open session's earliest check (the virtual entries stay in the session).
pub(crate) fn queue_session_check(timers: &mut Timers, lifetime: Duration, session: &Session) {
    if let Some((at, seq)) = session.next_check(lifetime) {
        let kind = Kind::SessionCheck { session: session.name, session_id: session.id };
        timers.push_seq(at.instant(), seq, kind);
    }
}

impl<S: SessionStore> Cx<'_, S> {
    /// Sends `code` to `to` now and `repeats - 1` more times, `error_interval` apart.
    pub(crate) fn send_error_repeated(&mut self, now: Instant, to: SocketAddr, code: ErrorCode) {
        self.out.error(now, to, code);
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
        let Some((gone, session)) = self.lobby.remove_player(name, index) else { return };
        self.out.left(gone.addr());
        // Its idle check was queued if it was the earliest: then the next earliest is queued now.
        let lifetime = self.config.session_lifetime;
        if session.is_open()
            && session.next_check(lifetime).is_some_and(|m| (gone.idle_at, gone.idle_seq) < m)
        {
            self.timers.note_stale(1);
            queue_session_check(self.timers, lifetime, session);
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
        self.out.info_to_all(now, session);
    }

    /// Deletes session `name`; its name is free again.
    pub(crate) fn delete_session(&mut self, name: &str, why: &str) {
        if self.take_session(name).is_some() {
            info!("session {name}: deleted, {why}");
        }
    }

    /// Removes session `name` from the lobby and from every count and table; returns it.
    pub(crate) fn take_session(&mut self, name: &str) -> Option<Session> {
        let session = self.lobby.take(name)?;
        if !session.is_open() {
            self.counters.starting = self.counters.starting.saturating_sub(1);
        }
        for p in &session.players {
            self.out.left(p.addr());
        }
        self.timers.note_stale(2);
        self.relay.session_ended(session.id);
        self.guard.session_ended(session.id);
        Some(session)
    }

    /// Whether one more live player may come from `ip` (a new session's host or a joining
    /// player), by the caps in order: [`crate::Config::max_players`],
    /// [`crate::Config::max_players_per_ip`], the creation rate per IP. Refuses `from` if not;
    /// `what` says what was not done, for the log.
    pub(crate) fn admit_player(
        &mut self,
        now: Instant,
        from: SocketAddr,
        ip: IpAddr,
        what: impl Fn() -> String,
    ) -> bool {
        let live = self.lobby.live_players();
        if live >= self.config.max_players {
            let detail = format!("{}, already {live} players", what());
            self.refuse(now, from, Refusal::TooManyPlayers, ErrorCode::ServerFull, &detail);
            return false;
        }
        let cap = self.config.max_players_per_ip;
        if cap > 0 && self.lobby.players_from(ip) as usize >= cap {
            let detail = format!("{}, {ip} has {cap} players already", what());
            self.refuse(now, from, Refusal::TooManyPlayersForIp, ErrorCode::TooManyRequests, &detail);
            return false;
        }
        if !self.rate.take(now, ip) {
            let detail = format!("{}, too many creations from this IP", what());
            self.refuse(now, from, Refusal::RateLimited, ErrorCode::TooManyRequests, &detail);
            return false;
        }
        true
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
        self.out.error(now, from, code);
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
}
