//! The main socket one datagram per system call: a `recv_from` per datagram received, a `send_to`
//! per datagram sent (the only mode outside Linux, and `io_batch = 1`).

use super::driver::{feed, log_out, MainIo, Sockets, RECV_BUF};
use crate::engine::Engine;
use crate::store::SessionStore;
use rhp_io::{SocketId, Transmit};
use std::io;
use std::net::SocketAddr;
use std::time::Instant;
use tokio::net::UdpSocket;

/// One receive buffer (a byte longer than [`RECV_BUF`], see there) and the one reused transmit.
#[derive(Debug)]
pub(super) struct Single {
    rx: Vec<u8>,
    /// What [`MainIo::ready`] read: its length and source.
    got: Option<(usize, SocketAddr)>,
    tx: Transmit,
}

impl Single {
    pub(super) fn new() -> Single {
        Single { rx: vec![0u8; RECV_BUF + 1], got: None, tx: Transmit::empty() }
    }
}

impl MainIo for Single {
    async fn ready(&mut self, socket: &UdpSocket) -> io::Result<()> {
        self.got = Some(socket.recv_from(&mut self.rx).await?);
        Ok(())
    }

    async fn receive<S: SessionStore>(&mut self, sockets: &Sockets, engine: &mut Engine<S>) {
        if let Some((n, from)) = self.got.take() {
            sockets.note(SocketId::MAIN, from);
            let data = self.rx.get(..n).unwrap_or(&self.rx[..]);
            feed(engine, Instant::now(), SocketId::MAIN, from, data);
        }
    }

    async fn drain<S: SessionStore>(&mut self, sockets: &Sockets, engine: &mut Engine<S>) {
        while engine.poll_transmit(&mut self.tx) {
            log_out(&self.tx);
            sockets.send(&self.tx).await;
        }
    }
}
