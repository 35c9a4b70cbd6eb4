//! The session store with the counts kept beside it: live players over all sessions, and live
//! sessions per creator network (what the caps check in O(1); the live players per source network
//! are the budget's membership counts, see `Outbox::players_from`). Handlers reach sessions only
//! through a [`Lobby`], whose changes (a session in, a player in or out, a session out) keep the
//! counts right in one place; what else such a change means (budget accounts, timers, lists sent)
//! is the shared steps' (see `handlers::shared`). The players' other-family addresses (`v:`) are
//! kept beside the sessions too ([`AlsoTable`]), so that they go with their player or session.

use crate::also::{AlsoEntry, AlsoTable};
use crate::limits::PerIpCount;
use crate::netkey::NetKey;
use crate::session::{Player, Session};
use crate::store::SessionStore;
use std::net::{IpAddr, SocketAddr};

/// Sessions, and how many of them and of their players each source has.
#[derive(Debug)]
pub(crate) struct Lobby<S> {
    store: S,
    /// Players over all sessions.
    live_players: usize,
    /// Live sessions per creator network (keyed by [`NetKey::addr`]).
    per_ip: PerIpCount,
    /// The players' other addresses (`v:`), per session.
    also: AlsoTable,
}

impl<S: SessionStore> Lobby<S> {
    pub(crate) fn new(store: S) -> Lobby<S> {
        Lobby { store, live_players: 0, per_ip: PerIpCount::default(), also: AlsoTable::default() }
    }

    /// The store (read-only).
    pub(crate) fn store(&self) -> &S {
        &self.store
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Session> {
        self.store.get(name)
    }

    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut Session> {
        self.store.get_mut(name)
    }

    /// Session `name` to update, with its players' other addresses (to render start messages).
    pub(crate) fn get_mut_also(&mut self, name: &str) -> Option<(&mut Session, &[AlsoEntry])> {
        let session = self.store.get_mut(name)?;
        let also = self.also.entries(session.id);
        Some((session, also))
    }

    /// Records `other` as the other address of player `index` of session `name`.
    pub(crate) fn set_also(&mut self, name: &str, index: usize, other: SocketAddr) {
        if let Some(session) = self.store.get(name) {
            self.also.set(session, index, other);
        }
    }

    /// The other addresses held, over all sessions (entries, sessions with one).
    pub(crate) fn also_held(&self) -> (usize, usize) {
        (self.also.len(), self.also.sessions())
    }

    pub(crate) fn session_count(&self) -> usize {
        self.store.session_count()
    }

    /// Players over all sessions.
    pub(crate) fn live_players(&self) -> usize {
        self.live_players
    }

    /// Live sessions created from `net`.
    pub(crate) fn sessions_from(&self, net: NetKey) -> u32 {
        self.per_ip.get(net.addr())
    }

    /// Creator IPs with a live session.
    pub(crate) fn creators_tracked(&self) -> usize {
        self.per_ip.len()
    }

    /// Stores a new session (its players, the host alone, counted).
    pub(crate) fn insert(&mut self, session: Session) {
        self.per_ip.add(session.creator_ip);
        self.live_players += session.players.len();
        self.store.insert(session);
    }

    /// Adds `player` to session `name` (counted); returns the session.
    pub(crate) fn add_player(&mut self, name: &str, player: Player) -> Option<&mut Session> {
        let session = self.store.get_mut(name)?;
        self.live_players += 1;
        session.push_player(player);
        Some(session)
    }

    /// Takes player `index` out of session `name` (uncounted); returns it and the session, which
    /// may be left empty (the caller deletes it).
    pub(crate) fn remove_player(&mut self, name: &str, index: usize) -> Option<(Player, &mut Session)> {
        let session = self.store.get_mut(name).filter(|s| index < s.players.len())?;
        let gone = session.remove_player(index);
        self.also.player_left(session.id, &gone.name, gone.addr());
        self.live_players = self.live_players.saturating_sub(1);
        Some((gone, session))
    }

    /// Takes session `name` out of the store, and its players out of the counts.
    pub(crate) fn take(&mut self, name: &str) -> Option<Session> {
        let session = self.store.remove(name)?;
        self.live_players = self.live_players.saturating_sub(session.players.len());
        self.per_ip.remove(session.creator_ip);
        self.also.session_ended(session.id);
        Some(session)
    }

    /// Whether every session has a player, bounded bans and unique players, and the counts match
    /// the sessions held (for [`crate::Engine::check_invariants`]).
    pub(crate) fn check(&self) -> Result<(), String>
    where
        S: crate::store::IterSessions,
    {
        let mut players = 0;
        let mut per_ip: std::collections::HashMap<IpAddr, u32> = Default::default();
        for session in self.store.sessions() {
            if session.players.is_empty() {
                return Err(format!("session {} has no player", session.name));
            }
            if session.bans.len() > crate::bans::MAX_BANS {
                return Err(format!("session {} holds {} bans", session.name, session.bans.len()));
            }
            for (i, p) in session.players.iter().enumerate() {
                if session.players[..i].iter().any(|q| q.name == p.name || q.idle_seq == p.idle_seq) {
                    return Err(format!("session {}: player {} twice", session.name, p.name));
                }
            }
            players += session.players.len();
            *per_ip.entry(session.creator_ip).or_insert(0) += 1;
        }
        if players != self.live_players || players != self.store.player_count() {
            return Err(format!(
                "player counts differ: sessions hold {players}, counter {}, store {}",
                self.live_players,
                self.store.player_count()
            ));
        }
        if per_ip.len() != self.per_ip.len() || per_ip.iter().any(|(ip, n)| self.per_ip.get(*ip) != *n) {
            return Err("per-IP session counts differ from the sessions".into());
        }
        // At most one other address per live player, only for live players.
        self.also.check(self.store.sessions())?;
        if self.also.len() > self.live_players {
            return Err(format!("{} other addresses for {} players", self.also.len(), self.live_players));
        }
        Ok(())
    }
}
