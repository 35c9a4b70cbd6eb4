//! The I/O loop shared by [`Client`](crate::Client) and [`Mesh`](crate::Mesh): the main socket,
//! the extra sockets the engine asks for (each read by a small task into one channel), the
//! lobby's watch socket, the clock, and the engine. It feeds the engine what happens, drains
//! its output (datagrams out, events forwarded, application data buffered) and sleeps until
//! the engine's next deadline; every protocol rule is in the engine.

use crate::control::Command;
use crate::engine::{Engine, Output};
use crate::error::ClientError;
use crate::events::Event;
use crate::family;
use crate::sockets::WATCH;
use rhp_io::{Input, SocketId, Transmit};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Most application datagrams buffered for [`Mesh::recv`](crate::Mesh::recv); the oldest is dropped beyond that.
pub const DATA_CAPACITY: usize = 1024;
/// Most datagrams waiting for the socket to become writable.
const PENDING_CAPACITY: usize = 4096;
/// Largest datagram read.
const RECV_BUF: usize = 65536;
/// Consecutive receive errors tolerated (ICMP-induced resets and the like) before giving up.
const MAX_RECV_ERRORS: u32 = 1000;
/// Datagrams from extra sockets waiting for the engine.
const EXTRA_CAPACITY: usize = 4096;
/// Failed sends are reported at most this often (the first at once).
const SEND_FAILURE_REPORT_EVERY: Duration = Duration::from_secs(1);

/// The [`WATCH`] socket: any local port, connected to the server (where the kernel
/// reports an ICMP "port unreachable"). None if it cannot be had: the run goes on without it.
pub(crate) fn watch_socket(server: SocketAddr) -> Option<Watch> {
    let any = match server {
        SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
    };
    let socket = std::net::UdpSocket::bind(any)
        .and_then(|s| s.connect(server).map(|()| s))
        .and_then(|s| s.set_nonblocking(true).map(|()| s))
        .and_then(|s| Ok(Watch { sender: s.try_clone()?, socket: UdpSocket::from_std(s)? }));
    match socket {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::debug!(error = %e, "no watch socket; an unreachable server is seen by its silence only");
            None
        }
    }
}

/// The watch socket, and a std handle of it for sends that go at once (see [`Extra`]).
#[derive(Debug)]
pub(crate) struct Watch {
    socket: UdpSocket,
    sender: std::net::UdpSocket,
}

/// Failed sends: how many, and when the last was reported (ms since the pump started), kept in
/// atomics so that sends through `&self` can count.
#[derive(Debug)]
struct SendFailures {
    count: AtomicU64,
    reported_ms: AtomicU64,
    since: Instant,
}

/// An extra socket: a std handle of it for immediate non-blocking sends (tokio's `try_send_to`
/// reports WouldBlock on a socket the reactor has not yet seen writable, which is every fresh
/// one), and the task reading it (which holds the tokio socket).
#[derive(Debug)]
struct Extra {
    sender: std::net::UdpSocket,
    reader: JoinHandle<()>,
}

impl Drop for Extra {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// The I/O loop shared by [`Client`](crate::Client) and [`Mesh`](crate::Mesh): sockets + engine + forwarding.
#[derive(Debug)]
pub(crate) struct Pump {
    pub(crate) socket: UdpSocket,
    extras: HashMap<SocketId, Extra>,
    extra_tx: mpsc::Sender<(SocketId, SocketAddr, Vec<u8>)>,
    extra_rx: mpsc::Receiver<(SocketId, SocketAddr, Vec<u8>)>,
    pub(crate) engine: Engine,
    events: Option<mpsc::Sender<Event>>,
    pub(crate) data: VecDeque<(String, Vec<u8>)>,
    pending: VecDeque<Transmit>,
    deadline: Instant,
    buf: Vec<u8>,
    recv_errors: u32,
    /// The lobby's [`WATCH`] socket (gone in the [`Mesh`](crate::Mesh)).
    pub(crate) watch: Option<Watch>,
    failures: SendFailures,
    /// The sockets are IPv6 (IPv4 destinations are written mapped, see [`crate::family`]).
    v6: bool,
}

impl Pump {
    pub(crate) fn new(socket: UdpSocket, engine: Engine, events: Option<mpsc::Sender<Event>>) -> Pump {
        let (extra_tx, extra_rx) = mpsc::channel(EXTRA_CAPACITY);
        let v6 = socket.local_addr().is_ok_and(|a| a.is_ipv6());
        Pump {
            v6,
            socket,
            extras: HashMap::new(),
            extra_tx,
            extra_rx,
            engine,
            events,
            data: VecDeque::new(),
            pending: VecDeque::new(),
            deadline: Instant::now(),
            buf: vec![0; RECV_BUF],
            recv_errors: 0,
            watch: None,
            failures: SendFailures {
                count: AtomicU64::new(0),
                reported_ms: AtomicU64::new(u64::MAX),
                since: Instant::now(),
            },
        }
    }

    /// Reports an event of the driver's own (not the engine's).
    pub(crate) fn event(&self, event: Event) {
        if let Some(tx) = &self.events {
            let _ = tx.try_send(event);
        }
    }

    /// A send failed: counted, and reported as an event (at once, then at most once every
    /// [`SEND_FAILURE_REPORT_EVERY`]). Never the end of the run.
    pub(crate) fn send_failed(&self, to: SocketAddr, error: &io::Error) {
        let failures = self.failures.count.fetch_add(1, Ordering::Relaxed) + 1;
        let now_ms = u64::try_from(self.failures.since.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        let last = self.failures.reported_ms.load(Ordering::Relaxed);
        let every = SEND_FAILURE_REPORT_EVERY.as_millis() as u64;
        if last != u64::MAX && now_ms < last.saturating_add(every) {
            tracing::debug!(%to, %error, "send failed; datagram dropped");
            return;
        }
        self.failures.reported_ms.store(now_ms, Ordering::Relaxed);
        tracing::warn!(%to, %error, failures, "send failed; datagram dropped, the run goes on");
        if let Some(tx) = &self.events {
            let _ = tx.try_send(Event::SendFailed { to, error: error.to_string(), failures });
        }
    }

    /// Sends from the watch socket; the kernel may answer a past datagram's "port unreachable"
    /// right here.
    fn send_watch(&mut self, t: &Transmit) {
        let Some(watch) = &self.watch else { return };
        match watch.sender.send(&t.data) {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                self.engine.handle_input(Input::Unreachable { now: Instant::now(), to: t.to });
            }
            Err(e) => tracing::debug!(error = %e, "watch send failed"),
            Ok(_) => {}
        }
    }

    /// Drains the engine: datagrams go out (or wait for the socket), events are forwarded,
    /// application data is buffered, the next deadline is kept.
    pub(crate) fn flush(&mut self) {
        loop {
            match self.engine.poll_output() {
                Output::Transmit(t) if t.via == WATCH => self.send_watch(&t),
                Output::Transmit(t) if t.via != SocketId::MAIN => self.send_extra(&t),
                Output::Transmit(t) => {
                    if self.pending.len() < PENDING_CAPACITY {
                        self.pending.push_back(t);
                    }
                }
                Output::Open(id) => self.open(id),
                Output::Close(id) => {
                    self.extras.remove(&id);
                }
                Output::Event(Event::Data { peer, data }) => {
                    if self.data.len() >= DATA_CAPACITY {
                        self.data.pop_front();
                    }
                    self.data.push_back((peer, data));
                }
                Output::Event(event) => {
                    if let Some(tx) = &self.events {
                        if let Err(mpsc::error::TrySendError::Full(ev)) = tx.try_send(event) {
                            tracing::debug!(?ev, "event channel full; event dropped");
                        }
                    }
                }
                Output::Timeout(t) => {
                    self.deadline = t;
                    break;
                }
            }
        }
        self.send_pending();
    }

    /// Binds an extra socket (same family as the main one, any port) and starts its reader; the
    /// engine hears about it (or the failure) at once.
    fn open(&mut self, id: SocketId) {
        let family = match self.socket.local_addr() {
            Ok(SocketAddr::V6(_)) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
            _ => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        };
        let bound = crate::bind::udp(family).and_then(|s| Ok((s.try_clone()?, UdpSocket::from_std(s)?)));
        let local_port = match bound {
            Ok((sender, socket)) => {
                let port = socket.local_addr().ok().map(|a| a.port());
                let reader = tokio::spawn(read_extra(id, socket, self.extra_tx.clone()));
                self.extras.insert(id, Extra { sender, reader });
                port
            }
            Err(e) => {
                tracing::warn!(%id, error = %e, "cannot open an extra socket");
                None
            }
        };
        self.engine.handle_input(Input::Opened { now: Instant::now(), id, local_port });
    }

    /// Sends from an extra socket now; a datagram that does not fit is dropped (the engine
    /// resends what matters).
    pub(crate) fn send_extra(&self, t: &Transmit) {
        match self.extras.get(&t.via) {
            Some(x) => match x.sender.send_to(&t.data, family::on_socket(t.to, self.v6)) {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => self.send_failed(t.to, &e),
                _ => {}
            },
            None => tracing::debug!(via = %t.via, "no such socket; datagram dropped"),
        }
    }

    /// True when socket `id` is open (the main one always is).
    pub(crate) fn has_socket(&self, id: SocketId) -> bool {
        id == SocketId::MAIN || self.extras.contains_key(&id)
    }

    /// Drains the engine (as [`Pump::flush`]) and waits until every datagram it queued for the
    /// main socket has been handed to the kernel (or failed).
    pub(crate) async fn flush_out(&mut self) -> Result<(), ClientError> {
        self.flush();
        while !self.pending.is_empty() {
            self.socket.writable().await?;
            self.send_pending();
        }
        Ok(())
    }

    fn send_pending(&mut self) {
        while let Some(t) = self.pending.front() {
            match self.socket.try_send_to(&t.data, family::on_socket(t.to, self.v6)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => self.send_failed(t.to, &e),
            }
            self.pending.pop_front();
        }
    }

    /// Waits for one thing (a datagram, the deadline, a command, a writable socket), feeds it to
    /// the engine, and drains. Cancel-safe: nothing is lost if the future is dropped.
    pub(crate) async fn step(
        &mut self,
        commands: Option<&mut mpsc::Receiver<Command>>,
    ) -> Result<(), ClientError> {
        let deadline = tokio::time::Instant::from_std(self.deadline);
        let want_write = !self.pending.is_empty();
        tokio::select! {
            r = self.socket.recv_from(&mut self.buf) => match r {
                Ok((n, from)) => {
                    self.recv_errors = 0;
                    let data = self.buf.get(..n).unwrap_or(&[]);
                    let from = family::canonical(from);
                    self.engine.handle_input(Input::Datagram { now: Instant::now(), via: SocketId::MAIN, from, data });
                }
                Err(e) => {
                    self.recv_errors += 1;
                    if self.recv_errors > MAX_RECV_ERRORS {
                        return Err(ClientError::Io(e));
                    }
                    tracing::debug!(error = %e, "receive failed; going on");
                }
            },
            Some((via, from, data)) = self.extra_rx.recv() => {
                let from = family::canonical(from);
                self.engine.handle_input(Input::Datagram { now: Instant::now(), via, from, data: &data });
            }
            r = recv_watch(self.watch.as_ref().map(|w| &w.socket)) => {
                let now = Instant::now();
                let server = self.engine.config().server;
                match r {
                    Ok(data) => self.engine.handle_input(Input::Datagram { now, via: WATCH, from: server, data: &data }),
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                        self.engine.handle_input(Input::Unreachable { now, to: server });
                    }
                    Err(e) => tracing::debug!(error = %e, "watch receive failed"),
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                self.engine.handle_input(Input::Timeout(Instant::now()));
            }
            cmd = recv_command(commands) => {
                let now = Instant::now();
                match cmd {
                    Some(Command::Start) => self.engine.start(now),
                    Some(Command::Exit) => self.engine.exit(now),
                    Some(Command::Kick(name)) => {
                        if let Err(e) = self.engine.kick(now, &name) {
                            tracing::warn!(%e, "kick not sent");
                        }
                    }
                    Some(Command::Unban(name)) => {
                        if let Err(e) = self.engine.unban(now, &name) {
                            tracing::warn!(%e, "unban not sent");
                        }
                    }
                    None => {}
                }
            }
            r = self.socket.writable(), if want_write => {
                r?;
            }
        }
        self.flush();
        Ok(())
    }
}

/// One datagram (or error) on the watch socket; never, without one.
async fn recv_watch(watch: Option<&UdpSocket>) -> io::Result<Vec<u8>> {
    let Some(watch) = watch else { return std::future::pending().await };
    let mut buf = [0u8; 512];
    let n = watch.recv(&mut buf).await?;
    Ok(buf.get(..n).unwrap_or(&[]).to_vec())
}

async fn recv_command(commands: Option<&mut mpsc::Receiver<Command>>) -> Option<Command> {
    match commands {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Reads one extra socket into the engine's channel until the socket is closed (the task is
/// aborted) or fails for good.
async fn read_extra(id: SocketId, socket: UdpSocket, tx: mpsc::Sender<(SocketId, SocketAddr, Vec<u8>)>) {
    let mut buf = vec![0u8; RECV_BUF];
    let mut errors = 0u32;
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, from)) => {
                errors = 0;
                let data = buf.get(..n).unwrap_or(&[]).to_vec();
                if tx.try_send((id, from, data)).is_err() && tx.is_closed() {
                    return;
                }
            }
            Err(e) => {
                errors += 1;
                if errors > MAX_RECV_ERRORS {
                    tracing::debug!(%id, error = %e, "extra socket failing; reader stops");
                    return;
                }
            }
        }
    }
}
