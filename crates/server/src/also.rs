//! The players' other-family addresses (`v:`, see [`crate::proof`] and `handlers/also.rs`): a
//! side table, so that `Player` stays as small as it is for the many players that never have one.
//! Per session (by its id, unique for the engine's life, so a new session of the same name never
//! finds the old one's entries) a short list of (player name, its session address, its other
//! address), at most one entry per player of the session. The [`crate::lobby::Lobby`] keeps it
//! right: an entry goes when its player leaves (however), and a session's list when the session
//! goes. Readers still match an entry to a live player by name *and* session address, so an entry
//! could never be listed for someone else.

use crate::compact::Name;
use crate::session::{Player, Session};
use rhp_proto::name::PLAYER_MAX;
use std::collections::HashMap;
use std::net::SocketAddr;

/// One player's other address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AlsoEntry {
    /// The player's name.
    pub(crate) name: Name<PLAYER_MAX>,
    /// Its session address (the one it joined from) when the address was proven.
    pub(crate) at: SocketAddr,
    /// The proven address in the other family.
    pub(crate) other: SocketAddr,
}

impl AlsoEntry {
    /// Whether this entry is `p`'s.
    pub(crate) fn is_of(&self, p: &Player) -> bool {
        p.name == self.name && p.is_at(self.at)
    }
}

/// Other addresses, per session id.
#[derive(Debug, Default)]
pub(crate) struct AlsoTable {
    by_session: HashMap<u64, Vec<AlsoEntry>>,
    /// Entries over all sessions.
    len: usize,
}

impl AlsoTable {
    /// The entries of session `id` (empty if none).
    pub(crate) fn entries(&self, id: u64) -> &[AlsoEntry] {
        self.by_session.get(&id).map_or(&[], Vec::as_slice)
    }

    /// Entries over all sessions.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Sessions with at least one entry.
    pub(crate) fn sessions(&self) -> usize {
        self.by_session.len()
    }

    /// Records `other` as player `index`'s other address in `session` (replacing its previous one).
    /// Entries of players no longer in the session are dropped on the way, so a session's list
    /// never holds more entries than the session has players.
    pub(crate) fn set(&mut self, session: &Session, index: usize, other: SocketAddr) {
        let Some(p) = session.players.get(index) else { return };
        let list = self.by_session.entry(session.id).or_default();
        let before = list.len();
        list.retain(|e| !e.is_of(p) && session.players.iter().any(|q| e.is_of(q)));
        list.push(AlsoEntry { name: p.name, at: p.addr(), other });
        self.len = self.len + list.len() - before;
    }

    /// Player `name` at `at` left session `id`: its entry goes.
    pub(crate) fn player_left(&mut self, id: u64, name: &str, at: SocketAddr) {
        let Some(list) = self.by_session.get_mut(&id) else { return };
        let before = list.len();
        list.retain(|e| !(e.name == name && e.at == at));
        self.len -= before - list.len();
        if list.is_empty() {
            self.by_session.remove(&id);
        }
    }

    /// Session `id` is gone: its entries go.
    pub(crate) fn session_ended(&mut self, id: u64) {
        if let Some(list) = self.by_session.remove(&id) {
            self.len -= list.len();
        }
    }

    /// `p`'s other address in `entries` (a session's list), if it has one.
    pub(crate) fn other_of(entries: &[AlsoEntry], p: &Player) -> Option<SocketAddr> {
        entries.iter().find(|e| e.is_of(p)).map(|e| e.other)
    }

    /// Whether every list belongs to a live session (by id), holds only entries of its players,
    /// one per player at most, and the count is right.
    pub(crate) fn check<'s>(&self, sessions: impl Iterator<Item = &'s Session>) -> Result<(), String> {
        let mut seen = 0;
        let mut total = 0;
        for s in sessions {
            let list = self.entries(s.id);
            if list.is_empty() {
                continue;
            }
            seen += 1;
            total += list.len();
            if list.len() > s.players.len() || list.len() > usize::from(s.max_players) {
                return Err(format!(
                    "session {}: {} other addresses for {} players",
                    s.name,
                    list.len(),
                    s.players.len()
                ));
            }
            for (i, e) in list.iter().enumerate() {
                if !s.players.iter().any(|p| e.is_of(p)) {
                    return Err(format!(
                        "session {}: other address kept for {}, not a player",
                        s.name, e.name
                    ));
                }
                if list[..i].iter().any(|f| f.name == e.name) {
                    return Err(format!("session {}: two other addresses for {}", s.name, e.name));
                }
            }
        }
        if seen != self.by_session.len() || total != self.len {
            return Err(format!(
                "other addresses: {} lists ({seen} of live sessions), {} entries counted, {total} found",
                self.by_session.len(),
                self.len
            ));
        }
        Ok(())
    }
}
