//! The main socket in batches (Linux): up to `n` datagrams per `recvmmsg` and per `sendmmsg` (see
//! [`super::batch`]). The engine sees the same datagrams in the same order as with
//! [`super::single`]; only the replies wait for the end of their batch.

use super::batch::{RecvBatch, SendBatch};
use super::driver::{feed, log_out, MainIo, Sockets, RECV_BUF, RECV_ERROR_PAUSE};
use crate::engine::Engine;
use crate::store::SessionStore;
use rhp_io::{SocketId, Transmit};
use std::io;
use std::os::fd::AsRawFd;
use std::time::Instant;
use tokio::io::Interest;
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
        let fd = socket.as_raw_fd();
        for _ in 0..BATCHES_PER_WAKE {
            // A short batch means the queue is empty: the closure then reports WouldBlock, so
            // tokio drops the socket's readiness in the same step (a datagram arriving since
            // raises a new edge) instead of a second call just to hear EAGAIN.
            let rx = &mut self.rx;
            let mut short = 0;
            let received = socket.try_io(Interest::READABLE, || {
                let n = rx.recv(fd)?;
                if n < rx.capacity() {
                    short = n;
                    return Err(io::Error::from(io::ErrorKind::WouldBlock));
                }
                Ok(n)
            });
            let got = match received {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => short,
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
            send_batch(sockets.main(), &mut self.tx).await;
        }
    }
}

/// Sends every datagram in `tx`, waiting while the socket's send buffer is full; a datagram the
/// kernel refuses is logged and dropped.
async fn send_batch(socket: &UdpSocket, tx: &mut SendBatch) {
    let fd = socket.as_raw_fd();
    while !tx.is_empty() {
        match socket.try_io(Interest::WRITABLE, || tx.send(fd)) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if let Err(e) = socket.writable().await {
                    warn!("waiting to send failed: {e}; {} datagrams dropped", tx.len());
                    while !tx.is_empty() {
                        tx.skip_front();
                    }
                }
            }
            Err(e) => {
                if let Some((Some(to), _)) = tx.front() {
                    warn!("send to {to} failed: {e}");
                } else {
                    warn!("send failed: {e}");
                }
                tx.skip_front();
            }
        }
    }
}
