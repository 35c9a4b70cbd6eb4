//! The relay's table: relayed sessions, their members' tokens and addresses, the caps and the
//! counters. Node-local, like the timers and the outbox, and kept out of [`crate::session`] and
//! the [`crate::store::SessionStore`] seam on purpose: a relay forwards on the socket its members
//! talk to, so it is this node's business, and the seam stays narrow. The engine's side (the `r:`
//! request, frames, the relay timer) is in `handlers/relay.rs`; the frames are
//! [`rhp_proto::relay`].
//!
//! - A relay session is made when a session's first start round is due, for its players that sent
//!   `r:` (at least 2, relay on, table not full, each within the per-IP cap). Each member gets a
//!   64-bit token from a CSPRNG (`rand`'s `StdRng`, seeded from the OS when the table is made):
//!   an off-path attacker cannot guess one. A frame is a member's only if it carries the member's token; a
//!   valid token from a new address moves the member there (NAT re-mapping).
//! - Nothing is amplified: a forwarded frame is 8 bytes shorter than the one that carried it, a
//!   bind is answered with 3 bytes for 10, a refusal with 3 bytes at most once a second per member,
//!   and frames without a known token get nothing. Relay frames skip the anti-reflection budget:
//!   they only go to an address that joined the session or proved a token, and byte rates bound them.
//! - Caps ([`RelayConfig`]): bytes/s and burst per member and for the whole server (token buckets
//!   kept as GCRA), relayed players per source IP (at grant time), relay sessions at once, a
//!   session's lifetime. Bounded memory: members silent for `idle` are dropped, a relay session
//!   with fewer than 2 live members or past its lifetime is deleted (one timer entry each).

use crate::compact::{Name, SessionName};
use crate::limits::PerIpCount;
use crate::session::{Player, Session};
use rand::{rngs::StdRng, Rng, SeedableRng};
use rhp_proto::name::PLAYER_MAX;
pub use rhp_proto::relay::Refusal;
use rhp_proto::relay::{FromServer, Grant, ToServer};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tracing::info;

/// A player's name, inline.
type PlayerName = Name<PLAYER_MAX>;

/// Settings of the relay (a part of [`crate::Config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayConfig {
    /// Whether the server relays at all (`--no-relay` clears it). Off: `r:` is accepted and
    /// ignored, no grant is ever sent.
    pub enabled: bool,
    /// Bytes per second one member may send through the relay (every byte of its frames counts);
    /// 0 turns the relay off.
    pub player_rate: u32,
    /// Bytes one member may send at once beyond its rate (the bucket's size; at least the largest
    /// frame, or that frame never passes).
    pub player_burst: u32,
    /// A relay session is deleted this long after its creation, whatever its traffic.
    pub lifetime: Duration,
    /// A member that sent no frame for this long is dropped (its token no longer counts).
    pub idle: Duration,
    /// Most relayed players behind one source IP, counted when grants are made; 0 = no limit.
    pub max_per_ip: usize,
    /// Bytes per second the whole server relays (burst: one second of it); 0 = no limit.
    pub server_rate: u64,
    /// Most relay sessions at once.
    pub max_sessions: usize,
}

impl Default for RelayConfig {
    fn default() -> RelayConfig {
        RelayConfig {
            enabled: true,
            player_rate: 128 * 1024,
            player_burst: 256 * 1024,
            lifetime: Duration::from_secs(4 * 3600),
            idle: Duration::from_secs(60),
            // A carrier NAT's players rarely need the relay (RFC 6888 asks carrier NATs for
            // endpoint-independent mappings); 16 IPs at this cap and full rate fill server_rate.
            max_per_ip: 32,
            server_rate: 64 * 1024 * 1024,
            max_sessions: 100_000,
        }
    }
}

impl RelayConfig {
    /// Whether grants are made at all.
    pub fn is_on(&self) -> bool {
        self.enabled && self.player_rate > 0 && self.max_sessions > 0
    }
}

/// The relay's counters since the engine started (see [`crate::Engine::relay_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Relay sessions created.
    pub sessions_created: u64,
    /// Relay sessions alive now.
    pub sessions_live: usize,
    /// Members alive now (tokens that count).
    pub members_live: usize,
    /// Grants made (tokens handed out).
    pub grants: u64,
    /// Relay frames received (anything starting with the relay's magic byte).
    pub frames_in: u64,
    /// Bytes of those frames.
    pub bytes_in: u64,
    /// Frames dropped without a word: malformed, or no known token.
    pub frames_dropped: u64,
    /// Data frames forwarded.
    pub frames_forwarded: u64,
    /// Bytes of the forwarded frames (as sent: 8 fewer each than received).
    pub bytes_forwarded: u64,
    /// Binds answered.
    pub binds: u64,
    /// Frames or grants refused: the member's rate.
    pub refused_player_rate: u64,
    /// Frames refused, or members told at the end: the session's lifetime.
    pub refused_lifetime: u64,
    /// Grants refused: the per-IP cap.
    pub refused_per_ip: u64,
    /// Frames refused by the server's rate, or grants refused because the table was full.
    pub refused_server_rate: u64,
    /// Frames refused: the destination is not another live member.
    pub refused_no_such_member: u64,
    /// Members that moved to a new address (proved by their token).
    pub rebinds: u64,
    /// Members that left (a leave frame).
    pub leaves: u64,
}

impl RelayStats {
    fn count_refusal(&mut self, why: Refusal) {
        let n = match why {
            Refusal::PlayerRate => &mut self.refused_player_rate,
            Refusal::Lifetime => &mut self.refused_lifetime,
            Refusal::PerIp => &mut self.refused_per_ip,
            Refusal::ServerRate => &mut self.refused_server_rate,
            Refusal::NoSuchMember => &mut self.refused_no_such_member,
        };
        *n = n.saturating_add(1);
    }

    /// Refusals of kind `why`.
    pub fn refused(&self, why: Refusal) -> u64 {
        match why {
            Refusal::PlayerRate => self.refused_player_rate,
            Refusal::Lifetime => self.refused_lifetime,
            Refusal::PerIp => self.refused_per_ip,
            Refusal::ServerRate => self.refused_server_rate,
            Refusal::NoSuchMember => self.refused_no_such_member,
        }
    }
}

/// Takes `n` bytes from a byte-rate bucket (GCRA: `tat` is when the bucket is full again):
/// `rate` bytes/s, at most `burst` saved up; false (and nothing taken) if it has not got them.
/// `rate == 0` is no limit.
pub(crate) fn take(tat: &mut Option<Instant>, now: Instant, n: usize, rate: u64, burst: u64) -> bool {
    if rate == 0 {
        return true;
    }
    let nanos = |bytes: u64| {
        let ns = u128::from(bytes) * 1_000_000_000 / u128::from(rate);
        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    };
    let base = tat.map_or(now, |t| t.max(now));
    let next = base + nanos(n as u64);
    if next.saturating_duration_since(now) > nanos(burst) {
        return false;
    }
    *tat = Some(next);
    true
}

/// One member of a relay session.
#[derive(Debug)]
pub(crate) struct Member {
    /// Its token; 0 once dropped.
    token: u64,
    /// Where its frames come from and where frames for it go: its join address, then the last
    /// address that proved its token.
    pub(crate) addr: SocketAddr,
    /// The IP counted for the per-IP cap (its address at grant time).
    counted_ip: IpAddr,
    /// Its last frame (or the grant).
    last_heard: Instant,
    /// Its rate bucket.
    tat: Option<Instant>,
    /// When it was last sent a refusal.
    last_refusal: Option<Instant>,
    /// Still a member (not dropped for silence).
    pub(crate) live: bool,
    /// It sent at least one frame (so the lifetime notice is paid for by what it sent).
    pub(crate) heard: bool,
}

/// One relayed session: its members in grant order (a member's index is its place here).
#[derive(Debug)]
pub(crate) struct RelaySession {
    /// The session it was made for.
    pub(crate) session: SessionName,
    created: Instant,
    /// The members' names, in index order (the grant's list).
    names: Vec<PlayerName>,
    pub(crate) members: Vec<Member>,
    /// Members still live.
    pub(crate) live: usize,
}

impl RelaySession {
    /// Member `index`'s name.
    fn name_of(&self, index: usize) -> PlayerName {
        self.names.get(index).copied().unwrap_or_else(|| Name::new("?"))
    }
}

/// Who gets what with its start messages, for a session that is starting.
#[derive(Debug)]
struct Starting {
    /// Its relay session, if one was made.
    relay: Option<u64>,
    /// Players that asked but were refused, and why.
    refused: Box<[(PlayerName, Refusal)]>,
}

/// What goes before a player's start message: its grant or the refusal of one.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Note<'a> {
    /// `r:<token>:<names>`.
    Grant { token: u64, names: &'a [PlayerName] },
    /// A refusal frame instead of a grant.
    Refused(Refusal),
}

impl Note<'_> {
    /// Bytes it takes on the wire.
    pub(crate) fn len(&self) -> usize {
        match self {
            Note::Grant { names, .. } => 2 + 16 + names.iter().map(|n| 1 + n.len()).sum::<usize>(),
            Note::Refused(_) => 3,
        }
    }

    /// Renders it into `out`.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match *self {
            Note::Grant { token, names } => Grant::write(token, names.iter().map(|n| n.as_str()), out),
            Note::Refused(why) => FromServer::Refused(why).write_to(out),
        }
    }
}

/// What [`RelayTable::open`] did for a starting session.
#[derive(Debug, Default)]
pub(crate) struct Opened {
    /// The relay session made, and when its check is due.
    pub(crate) relay: Option<(u64, Instant)>,
    /// Players refused a grant (for the refusal log).
    pub(crate) refused: Vec<(SocketAddr, Refusal)>,
}

/// What to do with a relay frame.
#[derive(Debug)]
pub(crate) enum Verdict<'a> {
    /// Nothing to send: malformed, or no known token.
    Drop,
    /// `FromServer::Data { from, payload }` to `to`.
    Forward { to: SocketAddr, from: u8, payload: &'a [u8] },
    /// `FromServer::BindOk { me }` to `to`.
    BindOk { to: SocketAddr, me: u8 },
    /// A member left; `deleted` when its relay session went with it (its timer entry is stale).
    Left { deleted: bool },
    /// A cap or a bad destination refused the frame; `reply` when the member may be told now.
    Refused { why: Refusal, reply: bool, session: SessionName, member: PlayerName },
}

/// What a relay session's check found.
#[derive(Debug)]
pub(crate) enum Checked {
    /// No such relay session (a stale entry).
    Gone,
    /// Still alive; check again then.
    Next(Instant),
    /// Deleted; `lifetime` if it outlived its lifetime (its heard members are to be told).
    Deleted { session: RelaySession, lifetime: bool },
}

/// Every relay session of this node.
#[derive(Debug)]
pub(crate) struct RelayTable {
    pub(crate) config: RelayConfig,
    /// Where tokens come from: a CSPRNG seeded from the OS when the table is made (or from a
    /// given seed, for a reproducible simulation: [`crate::Engine::seed_tokens`]).
    rng: StdRng,
    next_id: u64,
    sessions: HashMap<u64, RelaySession>,
    /// Live members by token: (relay session, index).
    tokens: HashMap<u64, (u64, u8)>,
    /// Live members per IP counted at grant time.
    per_ip: PerIpCount,
    /// Starting sessions (by session id) with players that asked.
    starting: HashMap<u64, Starting>,
    /// The server's rate bucket.
    server_tat: Option<Instant>,
    stats: RelayStats,
}

impl RelayTable {
    pub(crate) fn new(config: RelayConfig) -> RelayTable {
        RelayTable {
            config,
            rng: rand::make_rng(),
            next_id: 0,
            sessions: HashMap::new(),
            tokens: HashMap::new(),
            per_ip: PerIpCount::default(),
            starting: HashMap::new(),
            server_tat: None,
            stats: RelayStats::default(),
        }
    }

    /// The counters, with the live counts.
    pub(crate) fn stats(&self) -> RelayStats {
        RelayStats { sessions_live: self.sessions.len(), members_live: self.tokens.len(), ..self.stats }
    }

    /// Relay sessions alive.
    pub(crate) fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether relay session `id` is alive.
    pub(crate) fn contains(&self, id: u64) -> bool {
        self.sessions.contains_key(&id)
    }

    /// Tokens from now on come from a generator seeded with `seed` (reproducible runs only: a
    /// known seed makes tokens guessable).
    pub(crate) fn seed_tokens(&mut self, seed: u64) {
        self.rng = StdRng::seed_from_u64(seed);
    }

    /// 32 bytes from the same generator as the tokens (the `v:` proofs' key, see
    /// [`crate::proof`]: reproducible with [`RelayTable::seed_tokens`] as the tokens are).
    pub(crate) fn draw_key(&mut self) -> [u8; 32] {
        let mut key = [0u8; 32];
        self.rng.fill_bytes(&mut key);
        key
    }

    /// A fresh token: never 0, never one in use.
    fn draw(&mut self) -> u64 {
        loop {
            let token = self.rng.next_u64();
            if token != 0 && !self.tokens.contains_key(&token) {
                return token;
            }
        }
    }

    /// Decides, once per starting session, who of its players that asked gets a grant: makes the
    /// relay session if at least 2 may have one. Later calls for the same session do nothing.
    pub(crate) fn open(&mut self, now: Instant, session: &Session) -> Opened {
        let mut opened = Opened::default();
        if !self.config.is_on() || self.starting.contains_key(&session.id) {
            return opened;
        }
        // Most sessions (every Godot one) have nobody who asked: decided without allocating.
        if session.players.iter().filter(|p| p.relay_wanted()).count() < 2 {
            return opened;
        }
        let asked: Vec<&Player> = session.players.iter().filter(|p| p.relay_wanted()).collect();
        let mut granted = Vec::with_capacity(asked.len());
        let mut refused = Vec::new();
        if self.sessions.len() >= self.config.max_sessions {
            refused.extend(asked.iter().map(|p| (p.name, p.addr(), Refusal::ServerRate)));
        } else {
            // Per-IP counts with the grants of this session so far.
            let mut here: Vec<(IpAddr, usize)> = Vec::new();
            for p in &asked {
                let ip = p.addr().ip().to_canonical();
                let pos = here.iter().position(|(i, _)| *i == ip);
                let mine = pos.map_or(0, |k| here[k].1);
                let cap = self.config.max_per_ip;
                if cap > 0 && self.per_ip.get(ip) as usize + mine >= cap {
                    refused.push((p.name, p.addr(), Refusal::PerIp));
                    continue;
                }
                match pos {
                    Some(k) => here[k].1 += 1,
                    None => here.push((ip, 1)),
                }
                granted.push(*p);
            }
        }
        for (_, addr, why) in &refused {
            self.stats.count_refusal(*why);
            opened.refused.push((*addr, *why));
        }
        let refused = refused.into_iter().map(|(name, _, why)| (name, why)).collect();
        if granted.len() < 2 {
            self.starting.insert(session.id, Starting { relay: None, refused });
            return opened;
        }
        self.starting.insert(session.id, Starting { relay: None, refused });
        opened.relay = self.create(now, session, &granted);
        opened
    }

    /// Makes the relay session of starting session `session` for `granted` (its entry in
    /// `starting` exists), with a token for each; returns its id and when its check is due.
    fn create(&mut self, now: Instant, session: &Session, granted: &[&Player]) -> Option<(u64, Instant)> {
        self.next_id = self.next_id.wrapping_add(1);
        let id = self.next_id;
        let mut members = Vec::with_capacity(granted.len());
        for (index, p) in granted.iter().enumerate() {
            members.push(self.member(id, index, p, now));
        }
        let names: Vec<PlayerName> = granted.iter().map(|p| p.name).collect();
        let list: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
        info!("relay for session {}: created, {} members ({})", session.name, names.len(), list.join(", "));
        let n = members.len();
        self.sessions
            .insert(id, RelaySession { session: session.name, created: now, names, members, live: n });
        self.stats.sessions_created = self.stats.sessions_created.saturating_add(1);
        self.stats.grants = self.stats.grants.saturating_add(n as u64);
        if let Some(st) = self.starting.get_mut(&session.id) {
            st.relay = Some(id);
        }
        Some((id, now + self.config.lifetime.min(self.config.idle)))
    }

    /// A fresh member `index` of relay session `id`: its token drawn and counted.
    fn member(&mut self, id: u64, index: usize, p: &Player, now: Instant) -> Member {
        let token = self.draw();
        let counted_ip = p.addr().ip().to_canonical();
        self.tokens.insert(token, (id, index as u8));
        self.per_ip.add(counted_ip);
        Member {
            token,
            addr: p.addr(),
            counted_ip,
            last_heard: now,
            tat: None,
            last_refusal: None,
            live: true,
            heard: false,
        }
    }

    /// Player `index` of starting session `session` asked for the relay after the grants were
    /// decided (its `r:` was lost or late): it joins the relay session (made now if it is the
    /// second to ask), and the next start round's grants list it. Returns the new relay
    /// session's id and check time if one was made.
    pub(crate) fn join_late(
        &mut self,
        now: Instant,
        session: &Session,
        index: usize,
    ) -> Option<(u64, Instant)> {
        if !self.config.is_on() {
            return None;
        }
        let p = session.players.get(index)?;
        let Some(starting) = self.starting.get(&session.id) else {
            // Fewer than two had asked when the grants were due (or they are not due yet):
            // decide now, with this one.
            return self.open(now, session).relay;
        };
        if starting.refused.iter().any(|(n, _)| *n == p.name) {
            return None;
        }
        let ip = p.addr().ip().to_canonical();
        let cap = self.config.max_per_ip;
        if cap > 0 && self.per_ip.get(ip) as usize >= cap {
            return None;
        }
        match starting.relay {
            Some(id) => {
                let s = self.sessions.get(&id)?;
                if s.names.contains(&p.name) || s.names.len() >= rhp_proto::relay::MAX_MEMBERS {
                    return None;
                }
                let at = s.names.len();
                let m = self.member(id, at, p, now);
                let s = self.sessions.get_mut(&id)?;
                s.names.push(p.name);
                s.members.push(m);
                s.live += 1;
                self.stats.grants = self.stats.grants.saturating_add(1);
                info!(
                    "relay for session {}: {} joined late ({} members)",
                    session.name,
                    p.name,
                    s.names.len()
                );
                None
            }
            None => {
                if self.sessions.len() >= self.config.max_sessions {
                    return None;
                }
                let asked: Vec<&Player> = session.players.iter().filter(|q| q.relay_wanted()).collect();
                if asked.len() < 2 {
                    return None;
                }
                self.create(now, session, &asked)
            }
        }
    }

    /// What goes before player `player`'s start messages in starting session `session_id`.
    pub(crate) fn note(&self, session_id: u64, player: &str) -> Option<Note<'_>> {
        if self.starting.is_empty() {
            return None;
        }
        let starting = self.starting.get(&session_id)?;
        if let Some(s) = starting.relay.and_then(|id| self.sessions.get(&id)) {
            if let Some(index) = s.names.iter().position(|n| n == player) {
                let m = s.members.get(index)?;
                return m.live.then_some(Note::Grant { token: m.token, names: &s.names });
            }
        }
        starting.refused.iter().find(|(n, _)| n == player).map(|(_, why)| Note::Refused(*why))
    }

    /// Session `session_id` is gone: no more start messages, so no more notes (its relay session,
    /// if any, lives on).
    pub(crate) fn session_ended(&mut self, session_id: u64) {
        if self.starting.remove(&session_id).is_some()
            && self.starting.capacity() > 64
            && self.starting.len() < self.starting.capacity() / 4
        {
            self.starting.shrink_to(self.starting.len() * 2);
        }
    }

    /// Judges one relay frame from `from` at `now`.
    pub(crate) fn on_frame<'a>(&mut self, now: Instant, from: SocketAddr, data: &'a [u8]) -> Verdict<'a> {
        self.stats.frames_in = self.stats.frames_in.saturating_add(1);
        self.stats.bytes_in = self.stats.bytes_in.saturating_add(data.len() as u64);
        let Some((frame, id, index)) = self.authenticate(data) else {
            self.stats.frames_dropped = self.stats.frames_dropped.saturating_add(1);
            return Verdict::Drop;
        };
        if let ToServer::Leave { .. } = frame {
            return self.leave(id, index);
        }
        let config = self.config;
        let Some(s) = self.sessions.get_mut(&id) else { return Verdict::Drop };
        let to = match frame {
            ToServer::Data { to, .. } => {
                let to = usize::from(to);
                let ok = to != index && s.members.get(to).is_some_and(|m| m.live);
                Some(ok.then_some(to))
            }
            ToServer::Bind { .. } | ToServer::Leave { .. } => None,
        };
        let (session, member) = (s.session, s.name_of(index));
        let expired = now >= s.created + config.lifetime;
        let Some(m) = s.members.get_mut(index) else { return Verdict::Drop };
        // The token proves the address: a NAT that re-mapped the member's port moves it.
        if m.addr != from {
            info!("relay for session {session}: {member} moved from {} to {from}", m.addr);
            m.addr = from;
            self.stats.rebinds = self.stats.rebinds.saturating_add(1);
        }
        m.last_heard = now;
        m.heard = true;
        let (player_rate, player_burst) = (u64::from(config.player_rate), u64::from(config.player_burst));
        let why = if expired {
            Some(Refusal::Lifetime)
        } else if to == Some(None) {
            Some(Refusal::NoSuchMember)
        } else if !take(&mut m.tat, now, data.len(), player_rate, player_burst) {
            Some(Refusal::PlayerRate)
        } else if !take(&mut self.server_tat, now, data.len(), config.server_rate, config.server_rate) {
            Some(Refusal::ServerRate)
        } else {
            None
        };
        if let Some(why) = why {
            self.stats.count_refusal(why);
            let reply = m.last_refusal.is_none_or(|t| now >= t + Duration::from_secs(1));
            if reply {
                m.last_refusal = Some(now);
            }
            return Verdict::Refused { why, reply, session, member };
        }
        let me = index as u8;
        match (frame, to) {
            (ToServer::Data { payload, .. }, Some(Some(to))) => {
                let Some(dest) = s.members.get(to) else { return Verdict::Drop };
                self.stats.frames_forwarded = self.stats.frames_forwarded.saturating_add(1);
                let out = data.len().saturating_sub(8) as u64;
                self.stats.bytes_forwarded = self.stats.bytes_forwarded.saturating_add(out);
                Verdict::Forward { to: dest.addr, from: me, payload }
            }
            _ => {
                self.stats.binds = self.stats.binds.saturating_add(1);
                Verdict::BindOk { to: from, me }
            }
        }
    }

    /// The frame, its relay session and the sender's index, if it parses and its token is live.
    fn authenticate<'a>(&self, data: &'a [u8]) -> Option<(ToServer<'a>, u64, usize)> {
        let frame = ToServer::parse(data).ok()?;
        let token = match frame {
            ToServer::Data { token, .. } | ToServer::Bind { token } | ToServer::Leave { token } => token,
        };
        let &(id, index) = self.tokens.get(&token)?;
        Some((frame, id, usize::from(index)))
    }

    /// Member `index` of relay session `id` leaves (its token proved it): its slot is free at
    /// once, and the relay session goes with fewer than 2 members left. Nothing is answered.
    fn leave(&mut self, id: u64, index: usize) -> Verdict<'static> {
        let Some(s) = self.sessions.get_mut(&id) else { return Verdict::Drop };
        let Some(m) = s.members.get_mut(index).filter(|m| m.live) else { return Verdict::Drop };
        m.live = false;
        s.live -= 1;
        self.tokens.remove(&m.token);
        self.per_ip.remove(m.counted_ip);
        m.token = 0;
        self.stats.leaves = self.stats.leaves.saturating_add(1);
        info!("relay for session {}: {} left", s.session, s.name_of(index));
        if s.live < 2 {
            self.delete(id, false, "its members left");
            return Verdict::Left { deleted: true };
        }
        Verdict::Left { deleted: false }
    }

    /// The check of relay session `id` (its timer fired at `now`): deletes it past its lifetime,
    /// drops its silent members, deletes it with fewer than 2 left.
    pub(crate) fn check(&mut self, now: Instant, id: u64) -> Checked {
        let config = self.config;
        let Some(s) = self.sessions.get_mut(&id) else { return Checked::Gone };
        if now >= s.created + config.lifetime {
            return self.delete(id, true, "it outlived the relay's lifetime");
        }
        for (index, m) in s.members.iter_mut().enumerate() {
            if m.live && now >= m.last_heard + config.idle {
                m.live = false;
                s.live -= 1;
                self.tokens.remove(&m.token);
                self.per_ip.remove(m.counted_ip);
                m.token = 0;
                let name = s.names.get(index).map_or("?", |n| n.as_str());
                info!("relay for session {}: {name} dropped, silent for {:?}", s.session, config.idle);
            }
        }
        if s.live < 2 {
            return self.delete(id, false, "fewer than 2 members left");
        }
        let idle = s.members.iter().filter(|m| m.live).map(|m| m.last_heard + config.idle).min();
        let end = s.created + config.lifetime;
        Checked::Next(idle.map_or(end, |i| i.min(end)))
    }

    fn delete(&mut self, id: u64, lifetime: bool, why: &str) -> Checked {
        let Some(s) = self.sessions.remove(&id) else { return Checked::Gone };
        for m in s.members.iter().filter(|m| m.live) {
            self.tokens.remove(&m.token);
            self.per_ip.remove(m.counted_ip);
        }
        info!("relay for session {}: deleted, {why}, {} members", s.session, s.live);
        if self.sessions.capacity() > 64 && self.sessions.len() < self.sessions.capacity() / 4 {
            self.sessions.shrink_to(self.sessions.len() * 2);
        }
        if self.tokens.capacity() > 64 && self.tokens.len() < self.tokens.capacity() / 4 {
            self.tokens.shrink_to(self.tokens.len() * 2);
        }
        if lifetime {
            let told = s.members.iter().filter(|m| m.live && m.heard).count() as u64;
            self.stats.refused_lifetime = self.stats.refused_lifetime.saturating_add(told);
        }
        Checked::Deleted { session: s, lifetime }
    }

    /// The ids of the starting sessions noted (for invariant checks).
    pub(crate) fn starting_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.starting.keys().copied()
    }

    /// Checks the table's own invariants: every relay session has at least 2 live members, the
    /// token map is exactly the live members, the per-IP counts match them, the caps hold.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let mut live = 0;
        let mut per_ip: HashMap<IpAddr, u32> = HashMap::new();
        for (&id, s) in &self.sessions {
            let n = s.members.iter().filter(|m| m.live).count();
            if n != s.live || n < 2 || s.names.len() != s.members.len() {
                return Err(format!("relay {id} ({}): {n} live members, counted {}", s.session, s.live));
            }
            for (index, m) in s.members.iter().enumerate().filter(|(_, m)| m.live) {
                if self.tokens.get(&m.token) != Some(&(id, index as u8)) || m.token == 0 {
                    return Err(format!("relay {id} ({}): member {index}'s token is not mapped", s.session));
                }
                *per_ip.entry(m.counted_ip).or_insert(0) += 1;
            }
            live += n;
        }
        if live != self.tokens.len() {
            return Err(format!("{} relay tokens for {live} live members", self.tokens.len()));
        }
        if per_ip.len() != self.per_ip.len() || per_ip.iter().any(|(ip, n)| self.per_ip.get(*ip) != *n) {
            return Err("relay per-IP counts differ from the members".into());
        }
        if self.sessions.len() > self.config.max_sessions {
            return Err(format!("{} relay sessions, cap {}", self.sessions.len(), self.config.max_sessions));
        }
        Ok(())
    }
}
