//! The one loop both shells run: wait for the first of a datagram (main or alternate socket), a
//! new configuration, a monitor request, the engine's next deadline or shutdown; feed the engine
//! through [`Engine::handle_input`]; drain it (the [`rhp_io`] drain rule); ask it when to wake.
//! How the main socket is read and written is the one thing the two shells differ in: [`MainIo`]
//! (one datagram per system call, [`super::single`], or a batch, [`super::batched`]).
//!
//! The alternate STUN socket is read one datagram at a time (its traffic is small) beside the
//! main one, and every transmit leaves from the socket it names ([`Sockets::send`]). With several
//! bound addresses (a [`Pair`] of sockets each), the other pairs' main sockets are read one
//! datagram at a time too, and a reply "from the main socket" leaves from the main socket its
//! receiver last sent from ([`Sockets::route`]).

use super::monitor::{self, Monitor};
use crate::engine::Engine;
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

/// Datagrams taken from the other sockets after each turn of the first main socket (see
/// [`Sockets::try_recv_other`]).
const OTHERS_PER_TURN: usize = 32;

/// How long to back off after a failed receive, so a persistent socket error cannot spin the CPU.
pub(super) const RECV_ERROR_PAUSE: Duration = Duration::from_millis(10);

/// New engine configurations for a running shell (the CLI sends one per SIGHUP); each is given to
/// [`Engine::reconfigure`] between two datagrams, so no session or player is lost.
pub type Reconfigure = tokio::sync::mpsc::UnboundedReceiver<crate::Config>;

/// Most socket pairs (`--bind` with a list of addresses): socket ids stay small, and the loop
/// polls each extra socket on every turn.
pub const MAX_PAIRS: usize = 8;

/// Most peers [`Routes`] keeps as exceptions; past that a peer's replies leave from the default
/// socket of its family.
const MAX_ROUTES: usize = 65_536;

/// One bound address: its main socket and its optional alternate STUN socket. Pair `k`'s sockets
/// are `SocketId(2k)` and `SocketId(2k + 1)` (pair 0: [`SocketId::MAIN`] and [`crate::ALT`]).
#[derive(Debug)]
pub(super) struct Pair {
    pub(super) main: UdpSocket,
    pub(super) alt: Option<UdpSocket>,
    /// Whether each is an IPv6 socket (then dual-stack or IPv6 only: an IPv4 destination is
    /// written mapped).
    main_v6: bool,
    alt_v6: bool,
    /// Whether the main socket serves IPv4 peers (an IPv4 socket, or `[::]` dual-stack).
    serves_v4: bool,
}

impl Pair {
    fn new(main: UdpSocket, alt: Option<UdpSocket>) -> Pair {
        let v6 = |s: &UdpSocket| s.local_addr().is_ok_and(|a| a.is_ipv6());
        let (main_v6, alt_v6) = (v6(&main), alt.as_ref().is_some_and(v6));
        let serves_v4 =
            main.local_addr().is_ok_and(|a| a.is_ipv4() || a.ip() == std::net::Ipv6Addr::UNSPECIFIED);
        Pair { main, alt, main_v6, alt_v6, serves_v4 }
    }

    /// Whether its main socket serves peer `to` (by family).
    fn serves(&self, to: SocketAddr) -> bool {
        if rhp_io::canonical(to).is_ipv4() {
            self.serves_v4
        } else {
            self.main_v6
        }
    }
}

/// With several main sockets, which one a peer talks to when it is not the first of its family
/// (the engine sends every reply but STUN's "from the main socket", [`SocketId::MAIN`]; the shell
/// sends it from the socket the peer last sent a request from). Exceptions only, so it stays empty
/// with one address per family; at most [`MAX_ROUTES`].
#[derive(Debug, Default)]
struct Routes(std::sync::Mutex<std::collections::HashMap<SocketAddr, u8>>);

/// The server's sockets: one [`Pair`] per bound address (the first read in batches, see
/// [`MainIo`]; the others, and every alternate socket, one datagram at a time), and the routes of
/// the peers that talk to a main socket other than the first of their family.
#[derive(Debug)]
pub(super) struct Sockets {
    pairs: Vec<Pair>,
    routes: Routes,
}

impl Sockets {
    /// `pairs` must not be empty (the first pair is the main one); at most [`MAX_PAIRS`] are used.
    pub(super) fn new(mut pairs: Vec<(UdpSocket, Option<UdpSocket>)>) -> Option<Sockets> {
        pairs.truncate(MAX_PAIRS);
        let pairs: Vec<Pair> = pairs.into_iter().map(|(main, alt)| Pair::new(main, alt)).collect();
        (!pairs.is_empty()).then(|| Sockets { pairs, routes: Routes::default() })
    }

    /// The first main socket (the one read and written in batches).
    pub(super) fn main(&self) -> &UdpSocket {
        &self.pairs[0].main
    }

    /// The socket `id` names, and whether it is an IPv6 socket.
    fn socket(&self, id: SocketId) -> Option<(&UdpSocket, bool)> {
        let pair = self.pairs.get(usize::try_from(id.0 / 2).ok()?)?;
        if id.0.is_multiple_of(2) {
            Some((&pair.main, pair.main_v6))
        } else {
            pair.alt.as_ref().map(|a| (a, pair.alt_v6))
        }
    }

    /// The socket a transmit leaves from: the one it names, except that [`SocketId::MAIN`] with
    /// several main sockets is the main socket of the pair `tx.to` talks to.
    pub(super) fn route(&self, tx: &Transmit) -> SocketId {
        if tx.via != SocketId::MAIN || self.pairs.len() == 1 {
            return tx.via;
        }
        let to = rhp_io::canonical(tx.to);
        let known = self.routes.0.lock().ok().and_then(|r| r.get(&to).copied());
        let pair = known.map(usize::from).or_else(|| self.default_pair(to)).unwrap_or(0);
        SocketId(2 * pair as u32)
    }

    /// The first pair whose main socket serves `to`'s family.
    fn default_pair(&self, to: SocketAddr) -> Option<usize> {
        self.pairs.iter().position(|p| p.serves(to))
    }

    /// A datagram from `from` arrived on main socket `via`: replies to `from` leave from there.
    pub(super) fn note(&self, via: SocketId, from: SocketAddr) {
        if self.pairs.len() == 1 || !via.0.is_multiple_of(2) {
            return;
        }
        let from = rhp_io::canonical(from);
        let pair = (via.0 / 2) as usize;
        let Ok(mut routes) = self.routes.0.lock() else { return };
        if self.default_pair(from) == Some(pair) {
            if !routes.is_empty() {
                routes.remove(&from);
            }
        } else if routes.len() < MAX_ROUTES || routes.contains_key(&from) {
            routes.insert(from, pair as u8);
        }
    }

    /// Whether `tx` leaves from the first main socket (then it may go in a batch).
    pub(super) fn on_first(&self, tx: &Transmit) -> bool {
        self.route(tx) == SocketId::MAIN
    }

    /// `tx.to` as the socket it leaves from takes it (see [`rhp_io::on_socket`]).
    pub(super) fn wire_to(&self, tx: &Transmit) -> SocketAddr {
        let v6 = self.socket(self.route(tx)).is_some_and(|(_, v6)| v6);
        rhp_io::on_socket(tx.to, v6)
    }

    /// Sends `tx` from the socket it leaves from, one system call; a failed send is logged and
    /// skipped.
    pub(super) async fn send(&self, tx: &Transmit) {
        let via = self.route(tx);
        let Some((socket, v6)) = self.socket(via) else { return };
        if let Err(e) = socket.send_to(&tx.data, rhp_io::on_socket(tx.to, v6)).await {
            warn!("send to {} from {via} failed: {e}", tx.to);
        }
    }

    /// A datagram already waiting on a socket other than the first main one, if any (no wait):
    /// what [`Sockets::recv_others`] would return at once. So that a busy first socket, which
    /// the loop serves first, cannot starve the others.
    pub(super) fn try_recv_other(
        &self,
        buf: &mut [u8],
        next: &mut u32,
    ) -> Option<(SocketId, usize, SocketAddr)> {
        let ids = 2 * self.pairs.len() as u32;
        for i in 0..ids.saturating_sub(1) {
            let id = SocketId(1 + (*next + i) % (ids - 1));
            let Some((socket, _)) = self.socket(id) else { continue };
            if let Ok((n, from)) = socket.try_recv_from(buf) {
                *next = id.0 % (ids - 1);
                return Some((id, n, from));
            }
        }
        None
    }

    /// The next datagram on any socket but the first main one (those of the other pairs, and
    /// every alternate socket), into `buf`: (socket, length, source). Never, without one. Polls
    /// from `next` on, round robin, so that no socket starves the others.
    pub(super) async fn recv_others(
        &self,
        buf: &mut [u8],
        next: &mut u32,
    ) -> io::Result<(SocketId, usize, SocketAddr)> {
        let ids = 2 * self.pairs.len() as u32;
        if ids <= 1 || (1..ids).all(|id| self.socket(SocketId(id)).is_none()) {
            return std::future::pending().await;
        }
        std::future::poll_fn(|cx| {
            for i in 0..ids - 1 {
                // Ids 1..ids, starting at `next`.
                let id = SocketId(1 + (*next + i) % (ids - 1));
                let Some((socket, _)) = self.socket(id) else { continue };
                let mut rb = tokio::io::ReadBuf::new(buf);
                if let std::task::Poll::Ready(got) = socket.poll_recv_from(cx, &mut rb) {
                    *next = id.0 % (ids - 1);
                    let n = rb.filled().len();
                    return std::task::Poll::Ready(got.map(|from| (id, n, from)));
                }
            }
            std::task::Poll::Pending
        })
        .await
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
    let mut other_rx = vec![0u8; RECV_BUF + 1];
    let mut next_other = 0;
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
            ready = io.ready(sockets.main()) => match ready {
                Ok(()) => {
                    io.receive(&sockets, &mut engine).await;
                    // What waits on the other sockets gets its turn too (bounded).
                    for _ in 0..OTHERS_PER_TURN {
                        let Some((via, n, from)) = sockets.try_recv_other(&mut other_rx, &mut next_other) else { break };
                        let data = other_rx.get(..n).unwrap_or(&other_rx[..]);
                        sockets.note(via, from);
                        feed(&mut engine, Instant::now(), via, from, data);
                    }
                }
                Err(e) => {
                    warn!("receive failed: {e}");
                    tokio::time::sleep(RECV_ERROR_PAUSE).await;
                }
            },
            received = sockets.recv_others(&mut other_rx, &mut next_other) => match received {
                Ok((via, n, from)) => {
                    let data = other_rx.get(..n).unwrap_or(&other_rx[..]);
                    sockets.note(via, from);
                    feed(&mut engine, Instant::now(), via, from, data);
                }
                Err(e) => {
                    warn!("receive on a socket other than the first failed: {e}");
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

/// With no timer armed, wake once a day anyway (harmless: an early timeout is a no-op).
fn next_wake<S: SessionStore>(engine: &Engine<S>) -> Instant {
    engine.poll_timeout().unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400))
}
