//! Datagrams the engine has decided to send and the shell has not collected yet, with a small pool
//! of buffers so that, once warm, queueing and collecting a datagram allocates nothing.
//!
//! Every datagram passes the anti-reflection [`Budget`] here, the one place where datagrams are
//! queued: one the receiver's budget does not allow is not queued (the caller learns it from the
//! `false` and keeps what it must say for later).
//!
//! Each datagram is queued with the local socket it leaves from ([`SocketId::MAIN`] for all but
//! the answers to STUN requests that came on another socket), and handed out in one order.
//!
//! The one exception to the budget is the relay's frames ([`Outbox::push_relay`]): a one-way game
//! stream would starve it, and they only go to an address that joined the session or proved a
//! token, each shorter than the frame that caused it, bounded by the relay's byte caps.

use crate::also::{AlsoEntry, AlsoTable};
use crate::budget::Budget;
use crate::relay::Note;
use crate::session::Session;
use crate::stats::OutCounters;
use crate::visibility;
use rhp_io::{SocketId, Transmit};
use rhp_proto::reply::{write_also_token, write_info, write_nat, write_start, ALSO_OK};
use rhp_proto::ErrorCode;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// Buffers kept for reuse at most; more are freed.
const POOL_MAX: usize = 256;

/// The queue of datagrams to send.
#[derive(Debug)]
pub(crate) struct Outbox {
    /// (from which local socket, to, bytes).
    queue: VecDeque<(SocketId, SocketAddr, Vec<u8>)>,
    pool: Vec<Vec<u8>>,
    /// Reached only through the outbox: its spending here, its accounts through the methods of
    /// the "Budget accounts" block below.
    budget: Budget,
    /// Datagrams and bytes handed out, error replies by code.
    counters: OutCounters,
}

impl Outbox {
    pub(crate) fn new(budget: Budget) -> Outbox {
        Outbox { queue: VecDeque::new(), pool: Vec::new(), budget, counters: OutCounters::default() }
    }

    /// `buf` if `keep`, else `None` (the buffer goes back to the pool).
    fn keep_or_recycle(&mut self, buf: Option<Vec<u8>>, keep: bool) -> Option<Vec<u8>> {
        match buf {
            Some(b) if !keep => {
                self.recycle(b);
                None
            }
            other => other,
        }
    }

    fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.pool.len() < POOL_MAX {
            buf.clear();
            self.pool.push(buf);
        }
    }

    /// Queues a datagram to `to`, written by `render` into a (cleared) pooled buffer, if `to`'s
    /// budget allows it. Returns whether it was queued.
    pub(crate) fn push_with(
        &mut self,
        now: Instant,
        to: SocketAddr,
        render: impl FnOnce(&mut Vec<u8>),
    ) -> bool {
        self.push_on(SocketId::MAIN, now, to, render)
    }

    /// Queues a relay frame to `to`, written by `render`, without the budget: only for frames to
    /// a relay member's address (see [`crate::relay`] for why that is safe).
    pub(crate) fn push_relay(&mut self, to: SocketAddr, render: impl FnOnce(&mut Vec<u8>)) {
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        render(&mut buf);
        self.queue.push_back((SocketId::MAIN, to, buf));
    }

    /// [`Outbox::push_with`] for a datagram that leaves from local socket `via`.
    pub(crate) fn push_on(
        &mut self,
        via: SocketId,
        now: Instant,
        to: SocketAddr,
        render: impl FnOnce(&mut Vec<u8>),
    ) -> bool {
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        render(&mut buf);
        if !self.budget.spend(now, to, buf.len()) {
            self.recycle(buf);
            return false;
        }
        self.queue.push_back((via, to, buf));
        true
    }

    /// Renders the session's `n:` list: every player that sent a NAT descriptor, in join order.
    fn render_nat(session: &Session, b: &mut Vec<u8>) {
        let entries =
            // A private player's descriptor may carry its port: never listed.
            session.players.iter().filter(|p| !p.private()).filter_map(|p| p.nat.as_deref().map(|d| (p.name.as_str(), d.as_str())));
        write_nat(entries, b)
    }

    /// Queues the session's `n:` list to player `index` if it sent a descriptor (nobody else ever
    /// gets one) and its budget allows.
    pub(crate) fn nat(&mut self, now: Instant, session: &Session, index: usize) -> bool {
        let Some(p) = session.players.get(index) else { return false };
        if p.nat.is_none() {
            return false;
        }
        self.push_with(now, p.addr(), |b| Self::render_nat(session, b))
    }

    /// Queues `error:<code>` to `to`.
    pub(crate) fn error(&mut self, now: Instant, to: SocketAddr, code: ErrorCode) -> bool {
        let sent = self.push_with(now, to, |b| b.extend_from_slice(code.wire().as_bytes()));
        if sent {
            self.counters.error(code);
        }
        sent
    }

    /// Queues the session's `i:` list to player `index`, and records that it has the list.
    pub(crate) fn info(&mut self, now: Instant, session: &mut Session, index: usize) -> bool {
        let Some(to) = session.players.get(index).map(|p| p.addr()) else { return false };
        let sent =
            self.push_with(now, to, |b| write_info(b, session.players.iter().map(|p| p.name.as_str())));
        if sent {
            let stamp = session.stamp(now);
            if let Some(p) = session.players.get_mut(index) {
                p.info_stale = false;
                p.set_info_sent(stamp);
            }
        }
        sent
    }

    /// The list changed: every player is due the new `i:`, sent now to those whose budget allows
    /// it (the others get it with the answer to their next request).
    pub(crate) fn info_to_all(&mut self, now: Instant, session: &mut Session) {
        for p in &mut session.players {
            p.info_stale = true;
        }
        for index in 0..session.players.len() {
            self.info(now, session, index);
        }
    }

    /// Player `index`'s start message: `s:` listing the players it sees (see [`crate::visibility`]:
    /// no IPv6 text ever goes to a player that did not send `e:`), or the error it gets instead
    /// when no common family bridges it to its peers. To a player that is ours, a peer's other
    /// address (`v:`, from `also`, the session's entries) follows its entry under the same name,
    /// unless the peer's address is private.
    fn render_start(session: &Session, also: &[AlsoEntry], index: usize, b: &mut Vec<u8>) {
        let Some(me) = session.players.get(index) else { return };
        if let Some(code) = visibility::unbridged(session, index) {
            b.extend_from_slice(code.wire().as_bytes());
            return;
        }
        let ours = visibility::ours(me);
        let others = session
            .players
            .iter()
            .enumerate()
            .filter(|&(i, p)| i != index && visibility::sees(me, p))
            .flat_map(|(_, p)| {
                let other = (ours && !p.private()).then(|| AlsoTable::other_of(also, p)).flatten();
                std::iter::once((p.name.as_str(), p.shown_addr())).chain(other.map(|a| (p.name.as_str(), a)))
            });
        write_start(b, me.addr().port(), others)
    }

    /// Queues `v:<token>` (the answer to the first step of `v:`) to `to`, if its budget allows.
    pub(crate) fn also_token(&mut self, now: Instant, to: SocketAddr, token: &str) -> bool {
        self.push_with(now, to, |b| write_also_token(b, token))
    }

    /// Queues `v:ok` (a proof taken) to `to`, if its budget allows.
    pub(crate) fn also_ok(&mut self, now: Instant, to: SocketAddr) -> bool {
        self.push_with(now, to, |b| b.extend_from_slice(ALSO_OK))
    }

    /// Whether the budgets allow the start messages of every player `wanted` accepts, all of them
    /// together now (players behind one IP share its budget, so each fitting alone is not enough),
    /// with `extra(index)` more bytes for that player (its relay note).
    pub(crate) fn starts_fit(
        &mut self,
        now: Instant,
        session: &Session,
        also: &[AlsoEntry],
        wanted: impl Fn(usize) -> bool,
        extra: impl Fn(usize) -> usize,
    ) -> bool {
        // (address standing for its IP, bytes due to that IP)
        let mut due: Vec<(SocketAddr, usize)> = Vec::new();
        let mut buf = self.pool.pop().unwrap_or_default();
        for (index, p) in session.players.iter().enumerate() {
            if !wanted(index) || !self.budget.applies_to(p.addr()) {
                continue;
            }
            buf.clear();
            if p.nat.is_some() {
                Self::render_nat(session, &mut buf);
            }
            Self::render_start(session, also, index, &mut buf);
            let len = buf.len() + extra(index);
            let ip = p.addr().ip().to_canonical();
            match due.iter_mut().find(|(a, _)| a.ip().to_canonical() == ip) {
                Some((_, n)) => *n += len,
                None => due.push((p.addr(), len)),
            }
        }
        self.recycle(buf);
        due.into_iter().all(|(to, n)| self.budget.allows(now, to, n))
    }

    /// Queues player `index`'s start message (its own observed port, then every other player in
    /// join order) if its budget allows, and counts it. A player that sent a NAT descriptor gets
    /// the session's `n:` list right before it, and a player that asked for the relay its `relay`
    /// note (grant or refusal) between the two: all or none, so it has every peer's descriptor and
    /// its grant when it starts. A player with neither (the Godot plugin) gets exactly `s:`.
    pub(crate) fn start(
        &mut self,
        now: Instant,
        session: &mut Session,
        also: &[AlsoEntry],
        index: usize,
        relay: Option<Note<'_>>,
    ) -> bool {
        let Some(p) = session.players.get(index) else { return false };
        let to = p.addr();
        let sent = if p.nat.is_some() || relay.is_some() {
            self.notes_and_start(now, session, also, index, relay)
        } else {
            self.push_with(now, to, |b| Self::render_start(session, also, index, b))
        };
        if sent {
            if let Some(p) = session.players.get_mut(index) {
                p.set_started();
            }
        }
        sent
    }

    /// Queues `n:` (if the player sent `e:`), its relay note (if any), then `s:` to player
    /// `index`: all together if its budget allows, else the note and `s:`, else `s:` alone.
    fn notes_and_start(
        &mut self,
        now: Instant,
        session: &Session,
        also: &[AlsoEntry],
        index: usize,
        relay: Option<Note<'_>>,
    ) -> bool {
        let Some(p) = session.players.get(index) else { return false };
        let to = p.addr();
        let nat = p.nat.is_some().then(|| {
            let mut b = self.pool.pop().unwrap_or_default();
            b.clear();
            Self::render_nat(session, &mut b);
            b
        });
        let note = relay.map(|n| {
            let mut b = self.pool.pop().unwrap_or_default();
            b.clear();
            n.write(&mut b);
            b
        });
        let mut start = self.pool.pop().unwrap_or_default();
        start.clear();
        Self::render_start(session, also, index, &mut start);
        // All three if the budget allows; else the start message with the grant, else alone: a
        // player that joined a moment ago on a lossy link has little credit, and without its
        // start message it would be lost to the session (the `n:` list also answers its `e:`,
        // and the grant its `r:`, which it sends again when it started without one).
        let (nat_len, note_len) = (nat.as_ref().map_or(0, Vec::len), note.as_ref().map_or(0, Vec::len));
        let (keep_nat, keep_note) = if self.budget.spend(now, to, nat_len + note_len + start.len()) {
            (true, true)
        } else if note.is_some() && self.budget.spend(now, to, note_len + start.len()) {
            (false, true)
        } else if (nat.is_some() || note.is_some()) && self.budget.spend(now, to, start.len()) {
            (false, false)
        } else {
            for b in nat.into_iter().chain(note).chain([start]) {
                self.recycle(b);
            }
            return false;
        };
        let nat = self.keep_or_recycle(nat, keep_nat);
        let note = self.keep_or_recycle(note, keep_note);
        for b in nat.into_iter().chain(note).chain([start]) {
            self.queue.push_back((SocketId::MAIN, to, b));
        }
        true
    }

    /// Moves the oldest queued datagram into `out`: its payload is swapped with `out`'s (whose old
    /// contents are discarded, the buffer kept for reuse), its socket and destination set. Returns
    /// `false`, leaving `out` alone, when nothing is queued.
    pub(crate) fn pop(&mut self, out: &mut Transmit) -> bool {
        let Some((via, to, mut data)) = self.queue.pop_front() else { return false };
        self.counters.datagrams += 1;
        self.counters.bytes += data.len() as u64;
        std::mem::swap(&mut out.data, &mut data);
        out.via = via;
        out.to = to;
        self.recycle(data);
        true
    }

    // Budget accounts: everything the engine does to the budget passes here.

    /// The live players behind `net`: its budget account's memberships (one count, not a second
    /// table per address; see [`crate::budget`]).
    pub(crate) fn players_from(&self, net: crate::netkey::NetKey) -> u32 {
        self.budget.players(net)
    }

    /// Whether the budget limits what `addr` is sent (not for loopback unless configured).
    pub(crate) fn budgeted(&self, addr: SocketAddr) -> bool {
        self.budget.applies_to(addr)
    }

    /// `from` sent `n` bytes: credits its account, or a one-datagram one (see
    /// [`Outbox::forget_transient`]).
    pub(crate) fn credit(&mut self, now: Instant, from: SocketAddr, n: usize) {
        self.budget.received(now, from, n)
    }

    /// A player joined from `addr`: its IP's account counts it (and is kept while it is a member).
    pub(crate) fn joined(&mut self, now: Instant, addr: SocketAddr) {
        self.budget.joined(now, addr)
    }

    /// A player at `addr` left.
    pub(crate) fn left(&mut self, addr: SocketAddr) {
        self.budget.left(addr)
    }

    /// Drops the one-datagram accounts of non-members (the answer to that datagram is queued).
    pub(crate) fn forget_transient(&mut self) {
        self.budget.forget_transient()
    }

    /// Sweeps the budget's table (at most once per its period).
    pub(crate) fn sweep_budget(&mut self, now: Instant) {
        self.budget.maybe_sweep(now)
    }

    /// New budget settings (see [`crate::Engine::reconfigure`]).
    pub(crate) fn reconfigure_budget(&mut self, config: crate::budget::BudgetConfig) {
        self.budget.reconfigure(config)
    }

    /// The budget, to read its counters and check it.
    pub(crate) fn budget(&self) -> &Budget {
        &self.budget
    }

    /// Datagrams and bytes handed out so far, error replies by code.
    pub(crate) fn counters(&self) -> &OutCounters {
        &self.counters
    }

    /// How many datagrams are queued, for every socket.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}
