//! `h:S:P:MAX[:PASS]`: create a session, or answer the host's retransmit.

use super::shared::queue_session_check;
use super::Cx;
use crate::bans::Bans;
use crate::limits::{ip_key, Refusal};
use crate::secret::Password;
use crate::session::{Phase, Player, Session};
use crate::store::SessionStore;
use rhp_proto::ErrorCode;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;
use tracing::info;

impl<S: SessionStore> Cx<'_, S> {
    pub(crate) fn on_host(
        &mut self,
        now: Instant,
        from: SocketAddr,
        name: &str,
        player: &str,
        max_players: u8,
        password: Option<&str>,
    ) {
        if let Some(session) = self.lobby.get_mut(name) {
            // The Godot plugin resends `h:` until it hears back: answer the host's copies again.
            if session.is_open() && session.is_host_addr(from) {
                self.out.info(now, session, 0);
                return;
            }
            self.out.error(now, from, ErrorCode::SessionExists);
            return;
        }
        // Caps: this request would create a session and a player.
        let ip = ip_key(from.ip());
        let what = || format!("session {name} not created");
        if !self.admit_session(now, from, ip, what) || !self.admit_player(now, from, ip, what) {
            return;
        }
        let mut session = Session {
            id: 0,
            name: name.into(),
            password: password.map(|p| Box::new(Password::new(p))),
            max_players,
            created: now.into(),
            creator_ip: ip,
            phase: Phase::Open,
            players: Box::new([Player::new(player, from, now)]),
            bans: Bans::default(),
        };
        info!("session {name}: created by {player} ({from}), max {max_players} players");
        self.out.info(now, &mut session, 0);
        // The host's idle check, then the session's lifetime check (its id), in that order of
        // sequence numbers; the earliest is queued.
        let p = &mut session.players[0];
        p.idle_at = (now + self.config.player_timeout).into();
        p.idle_seq = self.timers.next_seq();
        session.id = self.timers.next_seq();
        queue_session_check(self.timers, self.config.session_lifetime, &session);
        self.lobby.insert(session);
    }
}

impl<S: SessionStore> Cx<'_, S> {
    /// Whether one more session may be created ([`crate::Config::max_sessions`], and
    /// [`crate::Config::max_sessions_per_ip`] from `ip`); refuses `from` if not.
    fn admit_session(
        &mut self,
        now: Instant,
        from: SocketAddr,
        ip: IpAddr,
        what: impl Fn() -> String,
    ) -> bool {
        let max = self.config.max_sessions;
        if self.lobby.session_count() >= max {
            let detail = format!("{}, already {max} sessions", what());
            self.refuse(now, from, Refusal::TooManySessions, ErrorCode::TooManySessions, &detail);
            return false;
        }
        let per_ip = self.config.max_sessions_per_ip;
        if per_ip > 0 && self.lobby.sessions_from(ip) as usize >= per_ip {
            let detail = format!("{}, {ip} has {per_ip} sessions already", what());
            self.refuse(now, from, Refusal::TooManySessionsForIp, ErrorCode::TooManySessions, &detail);
            return false;
        }
        true
    }
}
