//! Datagrams the engine has decided to send and the shell has not collected yet, with a small pool
//! of buffers so that, once warm, queueing and collecting a datagram allocates nothing.
//!
//! Every datagram passes the anti-reflection [`Budget`] here, the one place where datagrams are
//! queued: one the receiver's budget does not allow is not queued (the caller learns it from the
//! `false` and keeps what it must say for later).

use crate::budget::Budget;
use crate::session::Session;
use rhp_proto::reply::{write_info, write_start};
use rhp_proto::ErrorCode;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// Buffers kept for reuse at most; more are freed.
const POOL_MAX: usize = 256;

/// The queue of datagrams to send.
#[derive(Debug)]
pub(crate) struct Outbox {
    queue: VecDeque<(SocketAddr, Vec<u8>)>,
    pool: Vec<Vec<u8>>,
    pub(crate) budget: Budget,
}

impl Outbox {
    pub(crate) fn new(budget: Budget) -> Outbox {
        Outbox { queue: VecDeque::new(), pool: Vec::new(), budget }
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
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        render(&mut buf);
        if !self.budget.spend(now, to, buf.len()) {
            self.recycle(buf);
            return false;
        }
        self.queue.push_back((to, buf));
        true
    }

    /// Queues `error:<code>` to `to`.
    pub(crate) fn error(&mut self, now: Instant, to: SocketAddr, code: ErrorCode) -> bool {
        self.push_with(now, to, |b| b.extend_from_slice(code.wire().as_bytes()))
    }

    /// Queues the session's `i:` list to player `index`, and records that it has the list.
    pub(crate) fn info(&mut self, now: Instant, session: &mut Session, index: usize) -> bool {
        let Some(to) = session.players.get(index).map(|p| p.addr) else { return false };
        let sent =
            self.push_with(now, to, |b| write_info(b, session.players.iter().map(|p| p.name.as_str())));
        if sent {
            if let Some(p) = session.players.get_mut(index) {
                p.info_stale = false;
                p.set_info_sent(now);
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

    fn render_start(session: &Session, index: usize, b: &mut Vec<u8>) {
        let Some(me) = session.players.get(index) else { return };
        let others = session
            .players
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != index)
            .map(|(_, p)| (p.name.as_str(), p.addr));
        write_start(b, me.addr.port(), others)
    }

    /// Whether the budgets allow the start messages of every player `wanted` accepts, all of them
    /// together now (players behind one IP share its budget, so each fitting alone is not enough).
    pub(crate) fn starts_fit(
        &mut self,
        now: Instant,
        session: &Session,
        wanted: impl Fn(usize) -> bool,
    ) -> bool {
        // (address standing for its IP, bytes due to that IP)
        let mut due: Vec<(SocketAddr, usize)> = Vec::new();
        let mut buf = self.pool.pop().unwrap_or_default();
        for (index, p) in session.players.iter().enumerate() {
            if !wanted(index) || !self.budget.applies_to(p.addr) {
                continue;
            }
            buf.clear();
            Self::render_start(session, index, &mut buf);
            let ip = p.addr.ip().to_canonical();
            match due.iter_mut().find(|(a, _)| a.ip().to_canonical() == ip) {
                Some((_, n)) => *n += buf.len(),
                None => due.push((p.addr, buf.len())),
            }
        }
        self.recycle(buf);
        due.into_iter().all(|(to, n)| self.budget.allows(now, to, n))
    }

    /// Queues player `index`'s start message (its own observed port, then every other player in
    /// join order) if its budget allows, and counts it.
    pub(crate) fn start(&mut self, now: Instant, session: &mut Session, index: usize) -> bool {
        let Some(to) = session.players.get(index).map(|p| p.addr) else { return false };
        let sent = self.push_with(now, to, |b| Self::render_start(session, index, b));
        if sent {
            if let Some(p) = session.players.get_mut(index) {
                p.starts_sent = p.starts_sent.saturating_add(1);
            }
        }
        sent
    }

    /// Moves the oldest queued datagram into `buf` (whose old contents are discarded) and returns
    /// its destination.
    pub(crate) fn pop(&mut self, buf: &mut Vec<u8>) -> Option<SocketAddr> {
        let (to, mut data) = self.queue.pop_front()?;
        std::mem::swap(buf, &mut data);
        self.recycle(data);
        Some(to)
    }

    /// How many datagrams are queued.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}
