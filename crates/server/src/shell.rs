//! The tokio shell: owns the UDP socket and reads the clock; everything else is the engine's.
//!
//! Loop: wait for the first of a datagram, the engine's next deadline, or shutdown; feed the engine
//! with `Instant::now()`; drain its datagrams onto the socket. I/O errors are logged and the loop
//! goes on; nothing here panics on what the network does. DEBUG logs every datagram in and out,
//! escaped.

use crate::engine::Engine;
use crate::escape::Escaped;
use crate::store::SessionStore;
use std::future::Future;
use std::io;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tracing::{debug, enabled, info, warn, Level};

/// Bytes read per datagram. Anything longer than a request can be is invalid anyway, so a larger
/// datagram is read truncated and answered `error:invalid_request`.
const RECV_BUF: usize = 2048;

/// How long to back off after a failed receive, so a persistent socket error cannot spin the CPU.
const RECV_ERROR_PAUSE: Duration = Duration::from_millis(10);

/// Serves `engine` on `socket` until `shutdown` completes. Returns only then.
pub async fn run<S: SessionStore>(
    socket: UdpSocket,
    mut engine: Engine<S>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut rx = vec![0u8; RECV_BUF];
    let mut tx: Vec<u8> = Vec::with_capacity(RECV_BUF);
    loop {
        // Fire due timers first: under a steady stream of datagrams the receive branch is always
        // ready, and the timers must not starve behind it.
        let now = Instant::now();
        if engine.poll_timeout().is_some_and(|d| d <= now) {
            engine.handle_timeout(now);
            send_all(&socket, &mut engine, &mut tx).await;
        }
        // With no timer armed, wake once a day anyway (harmless: an early timeout is a no-op).
        let deadline = engine.poll_timeout().unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        tokio::select! {
            biased;
            () = &mut shutdown => {
                info!("shutting down");
                return;
            }
            received = socket.recv_from(&mut rx) => match received {
                Ok((n, from)) => {
                    let data = rx.get(..n).unwrap_or(&rx[..]);
                    if enabled!(Level::DEBUG) {
                        debug!("in  {from} {} bytes: {}", n, Escaped(data));
                    }
                    engine.handle_datagram(Instant::now(), from, data);
                }
                Err(e) => {
                    warn!("receive failed: {e}");
                    tokio::time::sleep(RECV_ERROR_PAUSE).await;
                }
            },
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                engine.handle_timeout(Instant::now());
            }
        }
        send_all(&socket, &mut engine, &mut tx).await;
    }
}

/// Sends every datagram the engine has queued; a failed send is logged and skipped.
async fn send_all<S: SessionStore>(socket: &UdpSocket, engine: &mut Engine<S>, tx: &mut Vec<u8>) {
    while let Some(to) = engine.poll_transmit(tx) {
        if enabled!(Level::DEBUG) {
            debug!("out {to} {} bytes: {}", tx.len(), Escaped(tx));
        }
        if let Err(e) = socket.send_to(tx, to).await {
            warn!("send to {to} failed: {e}");
        }
    }
}

/// Binds a UDP socket on `addr` (for the caller to log its actual address and pass to [`run`]).
pub async fn bind(addr: std::net::SocketAddr) -> io::Result<UdpSocket> {
    UdpSocket::bind(addr).await
}
