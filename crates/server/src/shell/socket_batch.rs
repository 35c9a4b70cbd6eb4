//! The batches of [`super::batch`] on a tokio socket (Linux): one `recvmmsg` when the socket is
//! readable, and a whole send batch written out, waiting while the kernel's send buffer is full.
//! Used by this crate's batched shell and by the cluster node's shell.

use super::batch::{RecvBatch, SendBatch};
use std::io;
use std::os::fd::AsRawFd;
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tracing::warn;

/// Receives what is queued on `socket` into `rx`, up to its capacity, without waiting: the count
/// (0 when nothing was). A short batch means the queue is empty: tokio then drops the socket's
/// readiness in the same step (a datagram arriving since raises a new edge) instead of a second
/// call just to hear EAGAIN.
pub fn recv_queued(socket: &UdpSocket, rx: &mut RecvBatch) -> io::Result<usize> {
    let fd = socket.as_raw_fd();
    let mut short = 0;
    let received = socket.try_io(Interest::READABLE, || {
        let n = rx.recv(fd)?;
        if n < rx.capacity() {
            short = n;
            return Err(io::Error::from(io::ErrorKind::WouldBlock));
        }
        Ok(n)
    });
    match received {
        Ok(n) => Ok(n),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(short),
        Err(e) => Err(e),
    }
}

/// Sends every datagram in `tx`, waiting while the socket's send buffer is full; a datagram the
/// kernel refuses is logged and dropped.
pub async fn send_all(socket: &UdpSocket, tx: &mut SendBatch) {
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
