//! The datagrams of the main socket and of the cluster socket, in and out, as the single server's
//! shell moves its own: on Linux in batches (one `recvmmsg` for what is queued, one `sendmmsg` for
//! a turn's datagrams, through `rhp_server::shell::socket_batch`), elsewhere one system call per
//! datagram. Also holds the one reused [`Transmit`] the node's datagrams are polled into.

use rhp_io::Transmit;
use std::io;
use std::net::SocketAddr;
use tokio::net::UdpSocket;
use tracing::debug;

/// Datagrams per system call each way.
const BATCH: usize = 32;

/// The reused transmit and each socket's buffers (apart, so they can be borrowed at once).
pub(crate) struct Io {
    /// The node's next datagram, polled into.
    pub out: Transmit,
    /// The main socket's (players' datagrams).
    pub main: Batches,
    /// The cluster socket's (frames from and to the other nodes).
    pub cluster: Batches,
}

impl Io {
    /// Players' datagrams of up to `player_max` bytes, frames of up to `frame_max`.
    pub(crate) fn new(player_max: usize, frame_max: usize) -> Io {
        Io { out: Transmit::empty(), main: Batches::new(player_max), cluster: Batches::new(frame_max) }
    }
}

/// One socket's buffers, allocated once.
pub(crate) struct Batches {
    /// Bytes a received datagram may have (one more in a slot tells a cut one).
    recv_max: usize,
    #[cfg(target_os = "linux")]
    rx: rhp_server::shell::batch::RecvBatch,
    #[cfg(target_os = "linux")]
    tx: rhp_server::shell::batch::SendBatch,
    #[cfg(not(target_os = "linux"))]
    buf: Vec<u8>,
    #[cfg(not(target_os = "linux"))]
    got: Option<(usize, SocketAddr)>,
}

impl Batches {
    fn new(recv_max: usize) -> Batches {
        Batches {
            recv_max,
            #[cfg(target_os = "linux")]
            rx: rhp_server::shell::batch::RecvBatch::new(BATCH, recv_max + 1),
            #[cfg(target_os = "linux")]
            tx: rhp_server::shell::batch::SendBatch::new(BATCH, recv_max),
            #[cfg(not(target_os = "linux"))]
            buf: vec![0; recv_max + 1],
            #[cfg(not(target_os = "linux"))]
            got: None,
        }
    }

    /// Waits until `socket` has datagrams and reads what is queued (bounded by the batch): how
    /// many, each then read with [`Batches::get`]. Cancel-safe (nothing is read before it returns).
    pub(crate) async fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        #[cfg(target_os = "linux")]
        loop {
            socket.readable().await?;
            let n = rhp_server::shell::socket_batch::recv_queued(socket, &mut self.rx)?;
            if n > 0 {
                return Ok(n);
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            self.got = None;
            let got = socket.recv_from(&mut self.buf).await?;
            self.got = Some(got);
            Ok(1)
        }
    }

    /// Datagram `i` of the last [`Batches::recv`]: its bytes, its source, and whether it filled its
    /// buffer (it may have been cut).
    pub(crate) fn get(&self, i: usize) -> Option<(&[u8], SocketAddr, bool)> {
        #[cfg(target_os = "linux")]
        {
            let (data, from) = self.rx.get(i)?;
            Some((data, from?, data.len() > self.recv_max))
        }
        #[cfg(not(target_os = "linux"))]
        {
            let (n, from) = self.got.filter(|_| i == 0)?;
            let data = self.buf.get(..n)?;
            Some((data, from, n > self.recv_max))
        }
    }

    /// Sends `data` to `to` from `socket`: into the batch (written out when full), or at once (a
    /// datagram longer than what this socket receives).
    pub(crate) async fn send(&mut self, socket: &UdpSocket, to: SocketAddr, data: &[u8]) {
        #[cfg(target_os = "linux")]
        {
            if self.tx.is_full() {
                self.flush(socket).await;
            }
            if self.tx.push(Some(to), data) {
                return;
            }
            // Too long for a slot: after what is queued, so the order holds.
            self.flush(socket).await;
        }
        send_one(socket, to, data).await;
    }

    /// Writes out what [`Batches::send`] queued.
    pub(crate) async fn flush(&mut self, socket: &UdpSocket) {
        #[cfg(target_os = "linux")]
        rhp_server::shell::socket_batch::send_all(socket, &mut self.tx).await;
        #[cfg(not(target_os = "linux"))]
        let _ = socket;
    }
}

/// One datagram: at once when the socket can take it (the usual case), else waited for.
pub(crate) async fn send_one(socket: &UdpSocket, to: SocketAddr, data: &[u8]) {
    let sent = match socket.try_send_to(data, to) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => socket.send_to(data, to).await,
        other => other,
    };
    if let Err(e) = sent {
        debug!("send to {to} failed: {e}");
    }
}
