//! The main socket in batches (Linux): up to `n` datagrams per `recvmmsg` and per `sendmmsg` (see
//! [`super::batch`]). The engine sees the same datagrams in the same order as with
//! [`super::single`]; only the replies wait for the end of their batch.

use super::batch::{RecvBatch, SendBatch};
use super::driver::{feed, log_out, MainIo, Sockets, RECV_BUF, RECV_ERROR_PAUSE};
use super::socket_batch::{recv_queued, send_all};
use crate::engine::Engine;
use crate::store::SessionStore;
use rhp_io::{SocketId, Transmit};
use std::io;
use std::time::Instant;
use tokio::net::UdpSocket;
use tracing::warn;

/// Largest datagram a send batch slot holds; a longer one (none the engine writes today) is sent
/// on its own.
const SEND_SLOT: usize = 2048;

/// Receive batches handled per wake-up before timers get their turn again.
const BATCHES_PER_WAKE: usize = 16;

/// The batches (allocated once) and the one reused transmit.
#[derive(Debug)]
pub(super) struct Batched {
    rx: RecvBatch,
    tx: SendBatch,
    out: Transmit,
}

impl Batched {
    /// Room for `n` datagrams each way per system call.
    pub(super) fn new(n: usize) -> Batched {
        Batched {
            rx: RecvBatch::new(n, RECV_BUF + 1),
            tx: SendBatch::new(n, SEND_SLOT),
            out: Transmit::empty(),
        }
    }
}

impl MainIo for Batched {
    async fn ready(&mut self, socket: &UdpSocket) -> io::Result<()> {
        socket.readable().await
    }

    async fn receive<S: SessionStore>(&mut self, sockets: &Sockets, engine: &mut Engine<S>) {
        let socket = sockets.main();
        for _ in 0..BATCHES_PER_WAKE {
            let got = match recv_queued(socket, &mut self.rx) {
                Ok(n) => n,
                Err(e) => {
                    warn!("receive failed: {e}");
                    tokio::time::sleep(RECV_ERROR_PAUSE).await;
                    break;
                }
            };
            let now = Instant::now();
            for i in 0..got {
                if let Some((data, Some(from))) = self.rx.get(i) {
                    sockets.note(SocketId::MAIN, from);
                    feed(engine, now, SocketId::MAIN, from, data);
                }
            }
            self.drain(sockets, engine).await;
            if got < self.rx.capacity() {
                break;
            }
        }
    }

    async fn drain<S: SessionStore>(&mut self, sockets: &Sockets, engine: &mut Engine<S>) {
        loop {
            while !self.tx.is_full() {
                if !engine.poll_transmit(&mut self.out) {
                    break;
                }
                log_out(&self.out);
                // What leaves from another socket (the alternate socket's few answers, other
                // bound addresses), and an oversized datagram, go on their own.
                if !sockets.on_first(&self.out)
                    || !self.tx.push(Some(sockets.wire_to(&self.out)), &self.out.data)
                {
                    sockets.send(&self.out).await;
                }
            }
            if self.tx.is_empty() {
                return;
            }
            send_all(sockets.main(), &mut self.tx).await;
        }
    }
}
