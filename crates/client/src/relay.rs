//! The relay path through the rendezvous server (client side, sans-IO).
//!
//! A client that asked for it (`r:S:P` in the lobby) gets, right before its start message, a grant
//! `r:<token>:<members>` from a server that relays ([`rhp_proto::relay`]): an 8-byte token and the
//! members that asked, in index order. From then on frames to the server's main port carry the
//! token: `Bind` (until the server's `BindOk`, then every [`KEEPALIVE`]: it also moves our
//! address on the server after a NAT re-mapping) and `Data` for a member's index.
//!
//! Inside a data frame the first byte says what it carries (only our clients ever see these):
//! - [`HELLO`] + our name: "can you hear me?", sent to each member every [`HELLO_EVERY`] until it
//!   answers (the name lets a member whose grant predates ours, a late `r:`, learn our index);
//! - [`ACK`]: the answer to a hello: the relay works both ways between us (the peer is `up`);
//! - [`DATA`] + bytes: application data;
//! - [`CANDIDATE`] + `ip:port`: our current public address (a fresh STUN answer), so the peer
//!   can try a direct path again after our NAT changed;
//! - [`LEAVE`]: we leave the session (the relay's `l:`);
//! - [`ALIVE`]: we are still there (the relay's `a:`, to a peer reached through the relay only).
//!
//! Players that never asked (Godot peers) are not members: the relay is never used with them.

use crate::outbox::Outbox;
use crate::rng::Rng;
use rhp_proto::name::is_player_name;
use rhp_proto::relay::{FromServer, Grant, Refusal, ToServer, MAX_MEMBERS};
use rhp_proto::stun;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Payload kind: hello.
pub const HELLO: u8 = 0x01;
/// Payload kind: answer to a hello.
pub const ACK: u8 = 0x02;
/// Payload kind: application data.
pub const DATA: u8 = 0x03;
/// Payload kind: our public address.
pub const CANDIDATE: u8 = 0x04;
/// Payload kind: we leave.
pub const LEAVE: u8 = 0x05;
/// Payload kind: keepalive.
pub const ALIVE: u8 = 0x06;

/// Hellos to a member that has not answered, this often.
pub const HELLO_EVERY: Duration = Duration::from_millis(200);
/// After this many unanswered hellos, one per second.
const FAST_HELLOS: u32 = 50;
/// `Bind` again until the server's `BindOk`, this often.
pub(crate) const BIND_EVERY: Duration = Duration::from_millis(500);
/// Keepalive `Bind` once bound: beats the server's idle limit (60 s) and NAT timeouts (30 s).
pub const KEEPALIVE: Duration = Duration::from_secs(5);

/// What a server datagram on the relay meant for the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RelayIn {
    /// The relay carries our datagrams to this member and its to us.
    Up(String),
    /// Application data from a member.
    Data(String, Vec<u8>),
    /// A member's current public address.
    Candidate(String, SocketAddr),
    /// A member leaves.
    Leave(String),
    /// A member's keepalive.
    Alive(String),
    /// A cap refused one of our frames.
    Refused(Refusal),
}

#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) name: String,
    index: u8,
    up: bool,
    hellos: u32,
    next_hello: Instant,
}

/// Our side of the relay, once the server granted it. Its `Debug` hides the token.
pub(crate) struct Relay {
    me: String,
    server: SocketAddr,
    token: u64,
    pub(crate) members: Vec<Member>,
    bound: bool,
    next_bind: Instant,
    /// Hellos and candidates start with the peer phase.
    active: bool,
    last_refusal: Option<Refusal>,
    /// A STUN request in flight for our current public address, and what it last said.
    stun_txid: Option<[u8; 12]>,
    public: Option<SocketAddr>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("me", &self.me)
            .field("server", &self.server)
            .field("token", &rhp_proto::redact::REDACTED)
            .field("members", &self.members)
            .field("bound", &self.bound)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// From a grant naming us; `None` when it does not (not for us, or malformed).
    pub(crate) fn from_grant(data: &[u8], me: &str, server: SocketAddr, now: Instant) -> Option<Relay> {
        let grant = Grant::parse(data).ok()?;
        grant.members.iter().position(|m| m == me)?;
        let members = grant
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| *m != me)
            .filter_map(|(i, m)| {
                Some(Member {
                    name: m.clone(),
                    index: u8::try_from(i).ok()?,
                    up: false,
                    hellos: 0,
                    next_hello: now,
                })
            })
            .collect();
        Some(Relay {
            me: me.to_owned(),
            // In a cluster the grant names the node that runs the relay: frames go there directly.
            server: grant.relay_at.map_or(server, |at| SocketAddr::new(at.ip().to_canonical(), at.port())),
            token: grant.token,
            members,
            bound: false,
            next_bind: now,
            active: false,
            last_refusal: None,
            stun_txid: None,
            public: None,
        })
    }

    /// The members' names, in index order (us included).
    pub(crate) fn member_names(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|m| m.name.as_str())
    }

    /// The grant's token (a repeated grant with the same token is the same relay).
    pub(crate) fn token(&self) -> u64 {
        self.token
    }

    /// A later grant of the same relay (same token) may list members that asked late: they are
    /// added (indices never move) and helloed at once.
    pub(crate) fn absorb(&mut self, later: Relay) {
        for m in later.members {
            if !self.members.iter().any(|x| x.index == m.index) {
                self.members.push(m);
            }
        }
    }

    /// The peer phase began: hello every member.
    pub(crate) fn activate(&mut self, now: Instant, out: &mut Outbox) {
        if self.active {
            return;
        }
        self.active = true;
        for m in &mut self.members {
            m.next_hello = now;
        }
        self.handle_timeout(now, out);
    }

    fn frame(&self, to: u8, kind: u8, body: &[u8]) -> Vec<u8> {
        let mut payload = Vec::with_capacity(1 + body.len());
        payload.push(kind);
        payload.extend_from_slice(body);
        let mut out = Vec::with_capacity(rhp_proto::relay::TO_HEADER + payload.len());
        ToServer::Data { token: self.token, to, payload: &payload }.write_to(&mut out);
        out
    }

    /// The frame that gives our relay slot back (sent when the application is done).
    pub(crate) fn leave_frame(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(10);
        ToServer::Leave { token: self.token }.write_to(&mut b);
        b
    }

    /// The frame carrying application `data` to member `name`, if it is up.
    pub(crate) fn data_frame(&self, name: &str, data: &[u8]) -> Option<Vec<u8>> {
        let m = self.members.iter().find(|m| m.name == name && m.up)?;
        Some(self.frame(m.index, DATA, data))
    }

    /// The frame telling member `name` we leave ([`LEAVE`]) or are still there ([`ALIVE`]), if
    /// it is up.
    pub(crate) fn notice_frame(&self, name: &str, kind: u8) -> Option<Vec<u8>> {
        let m = self.members.iter().find(|m| m.name == name && m.up)?;
        Some(self.frame(m.index, kind, &[]))
    }

    /// The server's address (where relay frames go).
    pub(crate) fn server(&self) -> SocketAddr {
        self.server
    }

    /// Sends our public address to every member in `names` (those we still want a direct path to).
    pub(crate) fn send_candidate(&self, names: &[String], out: &mut Outbox) {
        let Some(public) = self.public else { return };
        let body = public.to_string();
        for m in self.members.iter().filter(|m| m.up && names.contains(&m.name)) {
            out.send(self.server, self.frame(m.index, CANDIDATE, body.as_bytes()));
        }
    }

    /// Asks the server for our current public address (STUN Binding on the main socket).
    pub(crate) fn refresh_public(&mut self, rng: &mut Rng, out: &mut Outbox) {
        let mut txid = [0u8; 12];
        rng.fill(&mut txid);
        let mut req = Vec::with_capacity(20);
        stun::write_binding_request(txid, &mut req);
        out.send(self.server, req);
        self.stun_txid = Some(txid);
    }

    /// A STUN answer from the server: true when it was ours (and our address is now known).
    /// Returns whether the address changed as the second value.
    pub(crate) fn handle_stun(&mut self, data: &[u8]) -> (bool, bool) {
        let Ok((txid, mapped)) = stun::parse_binding_response(data) else { return (false, false) };
        if self.stun_txid != Some(txid) {
            return (false, false);
        }
        self.stun_txid = None;
        let changed = self.public != Some(mapped);
        self.public = Some(mapped);
        (true, changed)
    }

    /// A relay frame from the server. Never panics.
    pub(crate) fn handle_frame(&mut self, now: Instant, data: &[u8], out: &mut Outbox) -> Option<RelayIn> {
        match FromServer::parse(data).ok()? {
            FromServer::BindOk { .. } => {
                self.bound = true;
                None
            }
            FromServer::Refused(r) => {
                // Reported once per kind in a row (the server sends at most one a second).
                if self.last_refusal == Some(r) {
                    return None;
                }
                self.last_refusal = Some(r);
                Some(RelayIn::Refused(r))
            }
            FromServer::Data { from, payload } => {
                let (&kind, body) = payload.split_first()?;
                let i = match self.members.iter().position(|m| m.index == from) {
                    Some(i) => i,
                    // A member that joined after our grant says hello with its name.
                    None if kind == HELLO => {
                        let name =
                            std::str::from_utf8(body).ok().filter(|n| is_player_name(n) && *n != self.me)?;
                        if self.members.iter().any(|m| m.name == name) || self.members.len() >= MAX_MEMBERS {
                            return None;
                        }
                        self.members.push(Member {
                            name: name.to_owned(),
                            index: from,
                            up: false,
                            hellos: 0,
                            next_hello: now,
                        });
                        self.members.len() - 1
                    }
                    None => return None,
                };
                let name = self.members[i].name.clone();
                match kind {
                    HELLO => {
                        let index = self.members[i].index;
                        out.send(self.server, self.frame(index, ACK, &[]));
                        None
                    }
                    ACK => {
                        let m = &mut self.members[i];
                        if m.up {
                            return None;
                        }
                        m.up = true;
                        Some(RelayIn::Up(name))
                    }
                    DATA => Some(RelayIn::Data(name, body.to_vec())),
                    LEAVE => Some(RelayIn::Leave(name)),
                    ALIVE => Some(RelayIn::Alive(name)),
                    CANDIDATE => {
                        let addr = std::str::from_utf8(body).ok()?.parse().ok()?;
                        Some(RelayIn::Candidate(name, addr))
                    }
                    _ => None,
                }
            }
        }
    }

    /// Binds, keepalives and hellos due at `now`.
    pub(crate) fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) {
        if now >= self.next_bind {
            let mut b = Vec::with_capacity(10);
            ToServer::Bind { token: self.token }.write_to(&mut b);
            out.send(self.server, b);
            self.next_bind = now + if self.bound { KEEPALIVE } else { BIND_EVERY };
        }
        if !self.active {
            return;
        }
        let mut due: Vec<u8> = Vec::new();
        for m in self.members.iter_mut().filter(|m| !m.up && now >= m.next_hello) {
            m.hellos = m.hellos.saturating_add(1);
            let every = if m.hellos > FAST_HELLOS { Duration::from_secs(1) } else { HELLO_EVERY };
            m.next_hello = now + every;
            due.push(m.index);
        }
        for index in due {
            out.send(self.server, self.frame(index, HELLO, self.me.as_bytes()));
        }
    }

    /// The next instant a timeout is needed.
    pub(crate) fn poll_timeout(&self) -> Instant {
        let mut next = self.next_bind;
        if self.active {
            for m in self.members.iter().filter(|m| !m.up) {
                next = next.min(m.next_hello);
            }
        }
        next
    }
}
