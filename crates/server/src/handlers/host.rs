//! `h:S:P:MAX[:PASS]`: create a session, or answer the host's retransmit.

use crate::bans::Bans;
use crate::compact::Stamp;
use crate::engine::Engine;
use crate::limits::Refusal;
use crate::netkey::NetKey;
use crate::secret::Password;
use crate::session::{Phase, Player, Session};
use crate::store::SessionStore;
use rhp_proto::ErrorCode;
use std::net::SocketAddr;
use std::time::Instant;
use tracing::info;

impl<S: SessionStore> Engine<S> {
    /// Whether `ip` may have one more live player ([`crate::Config::max_players_per_ip`]);
    /// refuses `from` if not.
    pub(crate) fn player_allowed(
        &mut self,
        now: Instant,
        from: SocketAddr,
        net: NetKey,
        what: impl FnOnce() -> String,
    ) -> bool {
        let cap = self.config.max_players_per_ip;
        if cap > 0 && self.outbox.budget.players(net) as usize >= cap {
            let detail = format!("{}, {} has {cap} players already", what(), net.addr());
            self.refuse(now, from, Refusal::TooManyPlayersForIp, ErrorCode::TooManyRequests, &detail);
            return false;
        }
        true
    }

    pub(crate) fn on_host(
        &mut self,
        now: Instant,
        from: SocketAddr,
        name: &str,
        player: &str,
        max_players: u8,
        password: Option<&str>,
    ) {
        if let Some(session) = self.store.get_mut(name) {
            // The Godot plugin resends `h:` until it hears back: answer the host's copies again.
            if session.is_open() && session.is_host_addr(from) {
                self.outbox.info(now, session, 0);
                return;
            }
            self.outbox.error(now, from, ErrorCode::SessionExists);
            return;
        }
        // Caps: this request would create a session and a player.
        let net = NetKey::of(from.ip());
        let ip = net.addr();
        if self.store.session_count() >= self.config.max_sessions {
            let detail = format!("session {name} not created, already {} sessions", self.config.max_sessions);
            return self.refuse(now, from, Refusal::TooManySessions, ErrorCode::TooManySessions, &detail);
        }
        let per_ip = self.config.max_sessions_per_ip;
        if per_ip > 0 && self.per_ip.get(ip) as usize >= per_ip {
            let detail = format!("session {name} not created, {ip} has {per_ip} sessions already");
            return self.refuse(
                now,
                from,
                Refusal::TooManySessionsForIp,
                ErrorCode::TooManySessions,
                &detail,
            );
        }
        if self.live_players >= self.config.max_players {
            let detail = format!("session {name} not created, already {} players", self.live_players);
            return self.refuse(now, from, Refusal::TooManyPlayers, ErrorCode::ServerFull, &detail);
        }
        if !self.player_allowed(now, from, net, || format!("session {name} not created")) {
            return;
        }
        if !self.rate.take(now, ip) {
            let detail = format!("session {name} not created, too many creations from this IP");
            return self.refuse(now, from, Refusal::RateLimited, ErrorCode::TooManyRequests, &detail);
        }
        let mut session = Session {
            id: 0,
            name: name.into(),
            password: password.map(|p| Box::new(Password::new(p))),
            max_players,
            created: now,
            creator_ip: ip,
            phase: Phase::Open,
            players: Box::new([Player::new(player, from, Stamp::ZERO)]),
            bans: Bans::default(),
        };
        info!("session {name}: created by {player} ({from}), max {max_players} players");
        self.outbox.info(now, &mut session, 0);
        // The host's idle check, then the session's lifetime check (its id), in that order of
        // sequence numbers; the earliest is queued.
        let at = session.deadline(now + self.config.player_timeout);
        session.players[0].set_idle(at, self.timers.next_seq());
        session.id = self.timers.next_seq();
        Self::queue_session_check(&mut self.timers, self.config.session_lifetime, &session);
        self.store.insert(session);
        self.live_players += 1;
        self.per_ip.add(ip);
    }
}
