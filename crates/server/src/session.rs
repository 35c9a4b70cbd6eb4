//! A session and its players: the state the protocol is about, shared by every node that serves it
//! (see [`crate::store`]). Holds no timer and nothing to send; those are node-local. A few fields
//! record what each player was last told (for the anti-reflection budget's choices).

use crate::bans::Bans;
use crate::compact::{Addr, Name, NatDesc, SessionName, Stamp};
use crate::secret::Password;
use rhp_proto::name::PLAYER_MAX;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Accepting joins, pings, kicks and exits.
    Open,
    /// The host started it: start messages are being sent; it is deleted after the last round
    /// (with the budget on, once no player is still waiting for its start message).
    Starting {
        /// Rounds of start messages sent so far (1 right after the `s:`, unless the budget held
        /// the first round back: then 0 until it goes out). 16 bits: the session stays 96 bytes;
        /// more rounds than that count as that many.
        rounds_sent: u16,
        /// When the host's `s:` arrived (see [`Session::at`]).
        since: Stamp,
    },
}

/// One player of a session: 56 bytes, nothing on the heap but the NAT descriptor of a player that
/// sent one and an IPv6 address (its name is inline, its instants are 4-byte [`Stamp`]s after its
/// session's creation, its timer sequence number 32-bit, an IPv4 address takes 16 bytes instead of
/// a `SocketAddr`'s 32).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Player {
    /// The ip:port the server saw its join from; only requests from here count as this player's
    /// ([`Player::addr`]).
    addr: Addr,
    /// When it joined or last sent a valid ping (rounded down to the millisecond).
    pub(crate) last_seen: Stamp,
    /// When it was last sent an `i:` ([`Stamp::NEVER`] if never).
    info_sent: Stamp,
    /// When its idle check is due (its virtual timer entry, see [`crate::timers`]; rounded up).
    pub(crate) idle_at: Stamp,
    /// The low 32 bits of the timer sequence number of that check (orders checks due at the same
    /// instant; the whole number is its session's id plus less than 2³² — see
    /// [`Session::idle_seq`]. A stale queued check that matched it by its low bits would only
    /// check the player's deadline once more.)
    pub(crate) idle_seq: u32,
    /// The player's name (validated alphanumeric, so safe in messages and logs).
    pub name: Name<PLAYER_MAX>,
    /// It sent `y:`: no more start messages to it.
    pub confirmed: bool,
    /// The session's list changed since the last `i:` this player was sent.
    pub info_stale: bool,
    /// Facts about it in one byte: [`Player::STARTED`] (it was sent a start message) and
    /// [`Player::RELAY`] (it asked for the relay, `r:`). One byte for both, since another `bool`
    /// would grow the player by 8 bytes.
    flags: u8,
    /// The NAT descriptor it sent in `e:` (extension), if it did: only such players are sent `n:`.
    /// Boxed, so the players that never send one (the Godot plugin's) pay 8 bytes, not 16.
    pub nat: Option<Box<NatDesc>>,
}

impl Player {
    /// Bit of `flags`: it was sent a start message.
    const STARTED: u8 = 1;
    /// Bit of `flags`: it asked for the relay.
    const RELAY: u8 = 2;
    /// Bit of `flags`: its address is private (`q:`): peers see a placeholder.
    const PRIVATE: u8 = 4;

    /// A player who joined at `now` (a stamp of its session, see [`Session::stamp`]) from `addr`
    /// and was told nothing yet.
    pub fn new(name: &str, addr: SocketAddr, now: Stamp) -> Player {
        Player {
            addr: Addr::from(addr),
            last_seen: now,
            info_sent: Stamp::NEVER,
            idle_at: now,
            idle_seq: 0,
            name: Name::new(name),
            confirmed: false,
            info_stale: true,
            flags: 0,
            nat: None,
        }
    }

    /// The ip:port the server saw its join from; only requests from here count as this player's.
    pub fn addr(&self) -> SocketAddr {
        self.addr.get()
    }

    /// Whether `addr` is its address.
    pub fn is_at(&self, addr: SocketAddr) -> bool {
        self.addr.is(addr)
    }

    /// When it was last sent an `i:`, if ever (a stamp of its session, see [`Session::at`]).
    pub fn info_sent(&self) -> Option<Stamp> {
        (self.info_sent != Stamp::NEVER).then_some(self.info_sent)
    }

    /// Records that it was sent an `i:` at `now` (a stamp of its session).
    pub(crate) fn set_info_sent(&mut self, now: Stamp) {
        self.info_sent = now;
    }

    /// Whether `seq` is the sequence number of its idle check (compared by its low 32 bits).
    pub(crate) fn idle_is(&self, seq: u64) -> bool {
        self.idle_seq == seq as u32
    }

    /// Arms its idle check: due at `at` (a stamp of its session), sequence number `seq`.
    pub(crate) fn set_idle(&mut self, at: Stamp, seq: u64) {
        self.idle_at = at;
        self.idle_seq = seq as u32;
    }

    /// Whether it was sent a start message (at least once).
    pub fn started(&self) -> bool {
        self.flags & Player::STARTED != 0
    }

    /// Records that it was sent a start message.
    pub(crate) fn set_started(&mut self) {
        self.flags |= Player::STARTED;
    }

    /// Whether it asked for the relay (`r:`, only our clients send it).
    pub fn relay_wanted(&self) -> bool {
        self.flags & Player::RELAY != 0
    }

    /// Records that it asked for the relay.
    pub(crate) fn set_relay_wanted(&mut self) {
        self.flags |= Player::RELAY;
    }

    /// Whether it asked that its address be kept from the other players (`q:`).
    pub fn private(&self) -> bool {
        self.flags & Player::PRIVATE != 0
    }

    /// Records that its address is private.
    pub(crate) fn set_private(&mut self) {
        self.flags |= Player::PRIVATE;
    }

    /// The address the other players are told for it: its own, or the placeholder if private.
    pub fn shown_addr(&self) -> SocketAddr {
        if self.private() {
            rhp_proto::relay::PRIVATE_PLACEHOLDER
        } else {
            self.addr()
        }
    }
}

/// One session: its players in join order (the first one is the host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Unique for the engine's lifetime, so a stale timer never hits a newer session of that name:
    /// the timer sequence number of its lifetime check.
    pub id: u64,
    /// The session's name, its key in the store.
    pub name: SessionName,
    /// The password joins must give, if any (compared in constant time, never printed). Boxed:
    /// most sessions have none, and 8 bytes instead of 14 keep the session small.
    pub password: Option<Box<Password>>,
    /// Most players.
    pub max_players: u8,
    /// When the host created it: the origin of its players' [`Stamp`]s.
    pub(crate) created: Instant,
    /// The IP that created it (for the per-IP session cap).
    pub creator_ip: IpAddr,
    /// Open or starting.
    pub phase: Phase,
    /// Players in join order; `players[0]` is the host. Never empty while stored. A boxed slice
    /// (16 bytes, exactly as long as needed): joins and removals rebuild it.
    pub players: Box<[Player]>,
    /// The players its host kicked, kept out for its life (8 bytes until the first kick).
    pub bans: Bans,
}

impl Session {
    /// When the host created it.
    pub fn created(&self) -> Instant {
        self.created
    }

    /// `t` as a stamp of this session (rounded down to the millisecond): for what happened.
    pub fn stamp(&self, t: Instant) -> Stamp {
        Stamp::floor(self.created, t)
    }

    /// `t` as a stamp of this session rounded up to the millisecond: for deadlines, so that a
    /// check due at the stamp never comes before `t`.
    pub fn deadline(&self, t: Instant) -> Stamp {
        Stamp::ceil(self.created, t)
    }

    /// The instant a stamp of this session stands for.
    pub fn at(&self, s: Stamp) -> Instant {
        s.at(self.created)
    }

    /// When player `index` joined or last sent a valid ping.
    pub fn last_seen(&self, index: usize) -> Option<Instant> {
        self.players.get(index).map(|p| self.at(p.last_seen))
    }

    /// Records that player `index` sent a valid ping (or joined again) at `now`.
    pub(crate) fn seen(&mut self, index: usize, now: Instant) {
        let now = self.stamp(now);
        if let Some(p) = self.players.get_mut(index) {
            p.last_seen = now;
        }
    }

    /// The whole timer sequence number of `p`'s idle check, from its low 32 bits: within 2³¹ of
    /// its session's id (taken right after its host's first check; a session would have to live
    /// through two billion timer entries for this to wrap).
    pub(crate) fn idle_seq(&self, p: &Player) -> u64 {
        let offset = p.idle_seq.wrapping_sub(self.id as u32) as i32;
        self.id.wrapping_add_signed(i64::from(offset))
    }

    /// Adds `player` last (exact growth: most sessions hold far fewer than 12 players).
    pub(crate) fn push_player(&mut self, player: Player) {
        let mut players = std::mem::take(&mut self.players).into_vec();
        players.reserve_exact(1);
        players.push(player);
        self.players = players.into_boxed_slice();
    }

    /// Removes and returns player `index` (which must exist), keeping the others' order.
    pub(crate) fn remove_player(&mut self, index: usize) -> Player {
        let mut players = std::mem::take(&mut self.players).into_vec();
        let gone = players.remove(index);
        self.players = players.into_boxed_slice();
        gone
    }

    /// Whether it still accepts joins and the other lobby requests.
    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// The host: the oldest player still in the session.
    pub fn host(&self) -> Option<&Player> {
        self.players.first()
    }

    /// Whether `addr` is the host's address.
    pub fn is_host_addr(&self, addr: SocketAddr) -> bool {
        self.host().is_some_and(|h| h.is_at(addr))
    }

    /// Index of the player called `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.players.iter().position(|p| p.name == name)
    }

    /// Index of the player called `name`, if `from` is its own address.
    pub fn position_from(&self, name: &str, from: SocketAddr) -> Option<usize> {
        self.players.iter().position(|p| p.name == name && p.is_at(from))
    }

    /// Its earliest timer check while open: its players' idle checks and its own lifetime (due
    /// `lifetime` after its creation, its sequence number being the session's id), as (when,
    /// sequence number).
    pub(crate) fn next_check(&self, lifetime: Duration) -> Option<(Instant, u64)> {
        let idle = self.players.iter().map(|p| (self.at(p.idle_at), self.idle_seq(p))).min();
        let end = (self.created + lifetime, self.id);
        Some(idle.map_or(end, |i| i.min(end)))
    }

    /// Whether it has as many players as it may.
    pub fn is_full(&self) -> bool {
        self.players.len() >= usize::from(self.max_players)
    }

    /// Whether a join giving `given` passes: a session without password accepts any, one with a
    /// password needs exactly it (compared in constant time).
    pub fn password_matches(&self, given: Option<&str>) -> bool {
        match (&self.password, given) {
            (None, _) => true,
            (Some(p), Some(given)) => p.matches(given),
            (Some(_), None) => false,
        }
    }
}
