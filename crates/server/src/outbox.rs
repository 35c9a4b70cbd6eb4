//! Datagrams the engine has decided to send and the shell has not collected yet, with a small pool
//! of buffers so that, once warm, queueing and collecting a datagram allocates nothing.

use crate::session::Session;
use rhp_proto::reply::{write_info, write_start};
use rhp_proto::ErrorCode;
use std::collections::VecDeque;
use std::net::SocketAddr;

/// Buffers kept for reuse at most; more are freed.
const POOL_MAX: usize = 256;

/// The queue of datagrams to send.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    queue: VecDeque<(SocketAddr, Vec<u8>)>,
    pool: Vec<Vec<u8>>,
}

impl Outbox {
    /// Queues a datagram to `to`, written by `render` into a (cleared) pooled buffer.
    pub(crate) fn push_with(&mut self, to: SocketAddr, render: impl FnOnce(&mut Vec<u8>)) {
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        render(&mut buf);
        self.queue.push_back((to, buf));
    }

    /// Queues `error:<code>` to `to`.
    pub(crate) fn error(&mut self, to: SocketAddr, code: ErrorCode) {
        self.push_with(to, |b| b.extend_from_slice(code.wire().as_bytes()));
    }

    /// Queues the session's `i:` list to `to`.
    pub(crate) fn info(&mut self, to: SocketAddr, session: &Session) {
        self.push_with(to, |b| write_info(b, session.players.iter().map(|p| p.name.as_str())));
    }

    /// Queues the session's `i:` list to every player in it.
    pub(crate) fn info_to_all(&mut self, session: &Session) {
        for p in &session.players {
            self.info(p.addr, session);
        }
    }

    /// Queues player `index`'s start message: its own observed port, then every other player in
    /// join order.
    pub(crate) fn start(&mut self, session: &Session, index: usize) {
        let Some(me) = session.players.get(index) else { return };
        self.push_with(me.addr, |b| {
            let others = session
                .players
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != index)
                .map(|(_, p)| (p.name.as_str(), p.addr));
            write_start(b, me.addr.port(), others)
        });
    }

    /// Moves the oldest queued datagram into `buf` (whose old contents are discarded) and returns
    /// its destination.
    pub(crate) fn pop(&mut self, buf: &mut Vec<u8>) -> Option<SocketAddr> {
        let (to, mut data) = self.queue.pop_front()?;
        std::mem::swap(buf, &mut data);
        if self.pool.len() < POOL_MAX {
            data.clear();
            self.pool.push(data);
        }
        Some(to)
    }

    /// How many datagrams are queued.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}
