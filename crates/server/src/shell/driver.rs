//! The one loop both shells run: wait for the first of a datagram (main or alternate socket), a
//! new configuration, a monitor request, the engine's next deadline or shutdown; feed the engine
//! through [`Engine::handle_input`]; drain it (the [`rhp_io`] drain rule); ask it when to wake.
//! How the main socket is read and written is the one thing the two shells differ in: [`MainIo`]
//! (one datagram per system call, [`super::single`], or a batch, [`super::batched`]).
//!
//! The alternate STUN socket is read one datagram at a time (its traffic is small) beside the
//! main one, and every transmit leaves from the socket it names ([`Sockets::send`]).

use super::monitor::{self, Monitor};
use crate::engine::{Engine, ALT};
use crate::escape::Redacted;
use crate::store::SessionStore;
use rhp_io::{Input, SocketId, Transmit};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tracing::{debug, enabled, info, warn, Level};

/// Bytes read per datagram. Anything longer than a request can be is invalid anyway, so a larger
/// datagram is read truncated and answered `error:invalid_request`. A relay frame is forwarded
/// only whole: buffers hold one byte more, and a frame that fills them is dropped (relay payloads
/// up to `RECV_BUF - 11` bytes pass).
pub(super) const RECV_BUF: usize = 2048;

/// How long to back off after a failed receive, so a persistent socket error cannot spin the CPU.
pub(super) const RECV_ERROR_PAUSE: Duration = Duration::from_millis(10);

/// New engine configurations for a running shell (the CLI sends one per SIGHUP); each is given to
/// [`Engine::reconfigure`] between two datagrams, so no session or player is lost.
pub type Reconfigure = tokio::sync::mpsc::UnboundedReceiver<crate::Config>;

/// The server's sockets: the main one and the optional alternate STUN one ([`ALT`]), and whether
/// each is an IPv6 socket (then dual-stack or IPv6 only: an IPv4 destination is written mapped).
#[derive(Debug)]
pub(super) struct Sockets {
    pub(super) main: UdpSocket,
    pub(super) alt: Option<UdpSocket>,
    main_v6: bool,
    alt_v6: bool,
}

impl Sockets {
    pub(super) fn new(main: UdpSocket, alt: Option<UdpSocket>) -> Sockets {
        let v6 = |s: &UdpSocket| s.local_addr().is_ok_and(|a| a.is_ipv6());
        let (main_v6, alt_v6) = (v6(&main), alt.as_ref().is_some_and(v6));
        Sockets { main, alt, main_v6, alt_v6 }
    }

    /// `tx.to` as the socket `tx.via` takes it (see [`rhp_io::on_socket`]).
    pub(super) fn wire_to(&self, tx: &Transmit) -> SocketAddr {
        let v6 = if tx.via == SocketId::MAIN { self.main_v6 } else { self.alt_v6 };
        rhp_io::on_socket(tx.to, v6)
    }

    /// Sends `tx` from the socket it names, one system call; a failed send is logged and skipped.
    pub(super) async fn send(&self, tx: &Transmit) {
        let socket = if tx.via == SocketId::MAIN { Some(&self.main) } else { self.alt.as_ref() };
        let Some(socket) = socket else { return };
        if let Err(e) = socket.send_to(&tx.data, self.wire_to(tx)).await {
            warn!("send to {} from {} failed: {e}", tx.to, tx.via);
        }
    }
}

/// How a shell reads and writes the main socket. The loop is [`serve`]'s; an implementation only
/// moves datagrams.
pub(super) trait MainIo {
    /// Waits until the main socket has something to read (and may read it). Cancel-safe: the loop
    /// drops it when another event comes first.
    async fn ready(&mut self, socket: &UdpSocket) -> io::Result<()>;

    /// Hands what is waiting on the main socket to the engine, draining it after each batch.
    async fn receive<S: SessionStore>(&mut self, sockets: &Sockets, engine: &mut Engine<S>);

    /// Sends everything the engine has queued (the drain rule: until `poll_transmit` is `false`).
    async fn drain<S: SessionStore>(&mut self, sockets: &Sockets, engine: &mut Engine<S>);
}

/// Feeds one datagram received on `via` to the engine (a relay frame cut by the receive buffer
/// never: it is dropped here). An IPv4-mapped sender (a dual-stack socket's IPv4 peer) reaches
/// the engine as plain IPv4.
pub(super) fn feed<S: SessionStore>(
    engine: &mut Engine<S>,
    now: Instant,
    via: SocketId,
    from: SocketAddr,
    data: &[u8],
) {
    if enabled!(Level::DEBUG) {
        debug!("in  {from} {via} {} bytes: {}", data.len(), Redacted(data));
    }
    if data.len() > RECV_BUF && rhp_proto::relay::is_frame(data) {
        debug!("relay frame of more than {RECV_BUF} bytes dropped");
        return;
    }
    let from = rhp_io::canonical(from);
    engine.handle_input(Input::Datagram { now, via, from, data });
}

/// Logs one datagram going out (DEBUG: escaped, its secrets redacted).
pub(super) fn log_out(tx: &Transmit) {
    if enabled!(Level::DEBUG) {
        debug!("out {} {} {} bytes: {}", tx.to, tx.via, tx.data.len(), Redacted(&tx.data));
    }
}

/// Serves `engine` on `sockets` until `shutdown` completes, reading and writing the main socket
/// through `io`.
pub(super) async fn serve<S: SessionStore, M: MainIo>(
    sockets: Sockets,
    mut io: M,
    mut engine: Engine<S>,
    shutdown: impl Future<Output = ()>,
    mut reconfigure: Option<Reconfigure>,
    mut monitor: Monitor,
) {
    tokio::pin!(shutdown);
    let mut alt_rx = vec![0u8; RECV_BUF];
    loop {
        // Fire due timers first: under a steady stream of datagrams the receive branch is always
        // ready, and the timers must not starve behind it.
        let now = Instant::now();
        monitor.turn(now, || engine.snapshot());
        if engine.poll_timeout().is_some_and(|d| d <= now) {
            engine.handle_input(Input::Timeout(now));
            io.drain(&sockets, &mut engine).await;
        }
        let deadline = monitor.wake_by(next_wake(&engine), now);
        tokio::select! {
            biased;
            () = &mut shutdown => {
                info!("shutting down");
                return;
            }
            // Before the datagrams: a reload takes effect before the requests that follow it.
            config = next_config(&mut reconfigure) => {
                engine.reconfigure(config);
            }
            Some(request) = monitor.request() => monitor::answer(request, || engine.snapshot()),
            ready = io.ready(&sockets.main) => match ready {
                Ok(()) => io.receive(&sockets, &mut engine).await,
                Err(e) => {
                    warn!("receive failed: {e}");
                    tokio::time::sleep(RECV_ERROR_PAUSE).await;
                }
            },
            received = recv_alt(sockets.alt.as_ref(), &mut alt_rx) => match received {
                Ok((n, from)) => {
                    let data = alt_rx.get(..n).unwrap_or(&alt_rx[..]);
                    feed(&mut engine, Instant::now(), ALT, from, data);
                }
                Err(e) => {
                    warn!("receive on the alternate port failed: {e}");
                    tokio::time::sleep(RECV_ERROR_PAUSE).await;
                }
            },
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                engine.handle_input(Input::Timeout(Instant::now()));
            }
        }
        io.drain(&sockets, &mut engine).await;
    }
}

/// The next configuration sent; never, once the sender is gone (or without one).
async fn next_config(rx: &mut Option<Reconfigure>) -> crate::Config {
    if let Some(r) = rx.as_mut() {
        if let Some(config) = r.recv().await {
            return config;
        }
    }
    *rx = None;
    std::future::pending().await
}

/// The next datagram on the alternate socket; never, without one.
async fn recv_alt(alt: Option<&UdpSocket>, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    match alt {
        Some(socket) => socket.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

/// With no timer armed, wake once a day anyway (harmless: an early timeout is a no-op).
fn next_wake<S: SessionStore>(engine: &Engine<S>) -> Instant {
    engine.poll_timeout().unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400))
}
