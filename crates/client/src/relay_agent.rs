//! The relay agent: the engine's component for the server's relay, once granted (see
//! [`crate::relay`] for the frames). It takes the grant (`r:<token>:<members>`, before our start
//! message and again in every start round), the relay's frames and the answers to its STUN
//! requests; it keeps the relay's timers, and for relayed peers without a direct path asks for
//! our public address every [`RETRY_EVERY`] and tells them (a candidate for a later direct
//! path). Private, once the grant is settled, it reports the peers that cannot reach us.
//!
//! It answers "when do you next need me?" with [`RelayAgent::poll_timeout`].

use crate::events::Event;
use crate::outbox::Outbox;
use crate::punch::{Punch, RETRY_EVERY};
use crate::relay::{Relay, RelayIn, ALIVE, LEAVE};
use crate::rng::Rng;
use rhp_io::{SocketId, Transmit};
use std::net::SocketAddr;
use std::time::Instant;

/// The relay, from its grant to its leave.
#[derive(Debug)]
pub(crate) struct RelayAgent {
    me: String,
    server: SocketAddr,
    private: bool,
    /// The server's relay, once it granted it.
    relay: Option<Relay>,
    /// Relayed peers without a direct path: when our public address is next asked for (STUN),
    /// to tell them where to try.
    next_public: Option<Instant>,
    /// Private: the peers that cannot reach us were reported ([`Event::PrivateUnreachable`]).
    unreachable_reported: bool,
}

impl RelayAgent {
    pub(crate) fn new(me: &str, server: SocketAddr, private: bool) -> RelayAgent {
        RelayAgent {
            me: me.to_owned(),
            server,
            private,
            relay: None,
            next_public: None,
            unreachable_reported: false,
        }
    }

    /// The server's grant (`r:…`): `Some(true)` when it is a new relay (the first grant, or
    /// another token), `Some(false)` for the same relay again (the members that asked late are
    /// added), `None` when it is unreadable.
    pub(crate) fn grant(&mut self, now: Instant, data: &[u8]) -> Option<bool> {
        let fresh = Relay::from_grant(data, &self.me, self.server, now)?;
        match &mut self.relay {
            Some(r) if r.token() == fresh.token() => {
                r.absorb(fresh);
                Some(false)
            }
            _ => {
                tracing::debug!("the server granted its relay");
                self.relay = Some(fresh);
                Some(true)
            }
        }
    }

    /// The peer phase runs: the relay starts binding and greeting its members.
    pub(crate) fn activate(&mut self, now: Instant, out: &mut Outbox) {
        if let Some(r) = &mut self.relay {
            r.activate(now, out);
        }
    }

    /// A grant came during the peer phase: active at once.
    pub(crate) fn activate_now(&mut self, now: Instant, out: &mut Outbox) {
        if let Some(r) = &mut self.relay {
            r.activate(now, out);
            r.handle_timeout(now, out);
        }
    }

    /// Where relay frames go (the server, or the node the grant named), once granted.
    pub(crate) fn relay_at(&self) -> Option<SocketAddr> {
        self.relay.as_ref().map(Relay::server)
    }

    /// A relay frame from the server.
    pub(crate) fn handle_frame(&mut self, now: Instant, data: &[u8], out: &mut Outbox) -> Option<RelayIn> {
        self.relay.as_mut()?.handle_frame(now, data, out)
    }

    /// A STUN answer from the server: true when it answered our public-address request (a new
    /// address is told to the relayed-only peers at once).
    pub(crate) fn handle_stun(&mut self, data: &[u8], peers: Option<&Punch>, out: &mut Outbox) -> bool {
        let Some(relay) = &mut self.relay else { return false };
        let (ours, changed) = relay.handle_stun(data);
        if let (true, true, Some(p)) = (ours, changed, peers) {
            relay.send_candidate(&p.relayed_only(), out);
        }
        ours
    }

    /// The relay's timers; in the peer phase, a fresh public address for relayed peers without
    /// a direct path every [`RETRY_EVERY`].
    pub(crate) fn handle_timeout(
        &mut self,
        now: Instant,
        peers: Option<&Punch>,
        rng: &mut Rng,
        out: &mut Outbox,
    ) {
        let Some(relay) = &mut self.relay else { return };
        if now >= relay.poll_timeout() {
            relay.handle_timeout(now, out);
        }
        let Some(p) = peers else { return };
        if self.private {
            // Our public address is what we keep: never told, never asked for.
        } else if p.relayed_only().is_empty() {
            self.next_public = None;
        } else if self.next_public.is_none_or(|t| now >= t) {
            relay.refresh_public(rng, out);
            relay.send_candidate(&p.relayed_only(), out);
            self.next_public = Some(now + RETRY_EVERY);
        }
    }

    /// Keepalives (`a:`) through the relay to these relayed-only peers.
    pub(crate) fn send_alive(&self, names: Vec<String>, out: &mut Outbox) {
        let Some(relay) = &self.relay else { return };
        for name in names {
            if let Some(frame) = relay.notice_frame(&name, ALIVE) {
                out.send(relay.server(), frame);
            }
        }
    }

    /// When the relay next needs to run.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let relay = self.relay.as_ref().map(Relay::poll_timeout);
        [relay, self.next_public].into_iter().flatten().min()
    }

    /// Private, in the peer phase, our grant settled (`settled`: it came, or we stopped waiting):
    /// once, the peers that cannot reach us (not relay members; our address is kept from them).
    pub(crate) fn report_unreachable(&mut self, settled: bool, peers: Option<&Punch>, out: &mut Outbox) {
        if !self.private || self.unreachable_reported || !settled {
            return;
        }
        let Some(p) = peers else { return };
        let members: Vec<&str> = self.relay.as_ref().map(|r| r.member_names().collect()).unwrap_or_default();
        let peers: Vec<String> =
            p.peers().into_iter().map(|i| i.name).filter(|n| !members.contains(&n.as_str())).collect();
        self.unreachable_reported = true;
        if !peers.is_empty() {
            tracing::warn!("private: {} cannot reach us (not our clients with the relay)", peers.join(", "));
        }
        out.event(Event::PrivateUnreachable { peers });
    }

    /// A datagram carrying `data` to `peer` through the relay, if it is a member.
    pub(crate) fn data_to(&self, peer: &str, data: &[u8]) -> Option<Transmit> {
        let relay = self.relay.as_ref()?;
        let frame = relay.data_frame(peer, data)?;
        Some(Transmit { via: SocketId::MAIN, to: relay.server(), data: frame })
    }

    /// The relay's leave notices to these peers.
    pub(crate) fn farewell(&self, names: Vec<String>) -> Vec<Transmit> {
        let Some(relay) = &self.relay else { return Vec::new() };
        names
            .iter()
            .filter_map(|name| relay.notice_frame(name, LEAVE))
            .map(|data| Transmit { via: SocketId::MAIN, to: relay.server(), data })
            .collect()
    }

    /// Gives the relay back: the datagram to send, if we had a grant.
    pub(crate) fn leave(&mut self) -> Option<Transmit> {
        let relay = self.relay.take()?;
        self.next_public = None;
        Some(Transmit { via: SocketId::MAIN, to: relay.server(), data: relay.leave_frame() })
    }
}
