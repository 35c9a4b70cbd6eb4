//! The tokio driver: one `UdpSocket` for the whole run (the port the server observes is the port
//! the peers must reach), the clock, and a command handle. It only reads `Instant::now()`, feeds
//! the [`Engine`], drains it, sends, and forwards events; every protocol rule is in the engine.
//!
//! Use: [`Client::bind`] → spawn [`Client::run`] → read events, call [`Control`] methods (start,
//! exit, kick) → `run` returns the [`Mesh`] when the peer phase is over.

use crate::config::Config;
use crate::engine::{Engine, Input, Output};
use crate::error::ClientError;
use crate::events::Event;
use crate::mesh::Mesh;
use crate::outbox::Transmit;
use std::collections::VecDeque;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Capacity of the event channel; when the application does not read, further events are dropped
/// (the outcome still comes back from [`Client::run`]).
pub const EVENT_CAPACITY: usize = 1024;
/// Most application datagrams buffered for [`Mesh::recv`]; the oldest is dropped beyond that.
pub const DATA_CAPACITY: usize = 1024;
/// Most datagrams waiting for the socket to become writable.
const PENDING_CAPACITY: usize = 4096;
/// Largest datagram read.
const RECV_BUF: usize = 65536;
/// Consecutive receive errors tolerated (ICMP-induced resets and the like) before giving up.
const MAX_RECV_ERRORS: u32 = 1000;

/// A command from the application to a running [`Client`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Host: start the session.
    Start,
    /// Leave the session.
    Exit,
    /// Host: kick a player.
    Kick(String),
}

/// Sends commands to a running [`Client`]. Cheap to clone; commands after the server phase do
/// nothing.
#[derive(Debug, Clone)]
pub struct Control {
    tx: mpsc::Sender<Command>,
}

impl Control {
    /// Host: ask the server to start the session.
    pub fn start(&self) {
        let _ = self.tx.try_send(Command::Start);
    }

    /// Leave the session.
    pub fn exit(&self) {
        let _ = self.tx.try_send(Command::Exit);
    }

    /// Host: kick `player`.
    pub fn kick(&self, player: &str) {
        let _ = self.tx.try_send(Command::Kick(player.to_owned()));
    }
}

/// A bound client, ready to [`run`](Client::run).
#[derive(Debug)]
pub struct Client {
    pump: Pump,
    commands: mpsc::Receiver<Command>,
}

impl Client {
    /// Validates `config`, binds one UDP socket (`bind`, default: all interfaces, any port, same
    /// family as the server) and queues the first request. Returns the client, its command handle
    /// and the event stream.
    pub async fn bind(
        config: Config,
        bind: Option<SocketAddr>,
    ) -> Result<(Client, Control, mpsc::Receiver<Event>), ClientError> {
        config.validate()?;
        let bind = bind.unwrap_or(match config.server {
            SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
        });
        let socket = UdpSocket::bind(bind).await?;
        let engine = Engine::new(config, Instant::now())?;
        let (event_tx, event_rx) = mpsc::channel(EVENT_CAPACITY);
        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        let pump = Pump::new(socket, engine, Some(event_tx));
        Ok((Client { pump, commands: cmd_rx }, Control { tx: cmd_tx }, event_rx))
    }

    /// The bound local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.pump.socket.local_addr()
    }

    /// Runs the server phase and the peer phase; returns the [`Mesh`] when the peer phase is over
    /// (every peer connected, or the deadline passed and the failures are listed in it), or the
    /// error that ended the run.
    pub async fn run(mut self) -> Result<Mesh, ClientError> {
        let mut commands = Some(self.commands);
        loop {
            self.pump.flush();
            if let Some(outcome) = self.pump.engine.take_outcome() {
                self.pump.flush();
                return outcome.map(|()| Mesh::new(self.pump));
            }
            self.pump.step(commands.as_mut()).await?;
            if commands.as_ref().is_some_and(|c| c.is_closed() && c.is_empty()) {
                commands = None;
            }
        }
    }
}

/// The I/O loop shared by [`Client`] and [`Mesh`]: socket + engine + forwarding.
#[derive(Debug)]
pub(crate) struct Pump {
    pub(crate) socket: UdpSocket,
    pub(crate) engine: Engine,
    events: Option<mpsc::Sender<Event>>,
    pub(crate) data: VecDeque<(String, Vec<u8>)>,
    pending: VecDeque<Transmit>,
    deadline: Instant,
    buf: Vec<u8>,
    recv_errors: u32,
}

impl Pump {
    pub(crate) fn new(socket: UdpSocket, engine: Engine, events: Option<mpsc::Sender<Event>>) -> Pump {
        Pump {
            socket,
            engine,
            events,
            data: VecDeque::new(),
            pending: VecDeque::new(),
            deadline: Instant::now(),
            buf: vec![0; RECV_BUF],
            recv_errors: 0,
        }
    }

    /// Drains the engine: datagrams go out (or wait for the socket), events are forwarded,
    /// application data is buffered, the next deadline is kept.
    pub(crate) fn flush(&mut self) {
        loop {
            match self.engine.poll_output() {
                Output::Transmit(t) => {
                    if self.pending.len() < PENDING_CAPACITY {
                        self.pending.push_back(t);
                    }
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

    fn send_pending(&mut self) {
        while let Some(t) = self.pending.front() {
            match self.socket.try_send_to(&t.data, t.to) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => tracing::debug!(to = %t.to, error = %e, "send failed; datagram dropped"),
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
                    self.engine.handle_input(Input::Datagram { now: Instant::now(), from, data });
                }
                Err(e) => {
                    self.recv_errors += 1;
                    if self.recv_errors > MAX_RECV_ERRORS {
                        return Err(ClientError::Io(e));
                    }
                    tracing::debug!(error = %e, "receive failed; going on");
                }
            },
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

async fn recv_command(commands: Option<&mut mpsc::Receiver<Command>>) -> Option<Command> {
    match commands {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
