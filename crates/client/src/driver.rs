//! The tokio driver: binds the main `UdpSocket` for the whole run (the port the server observes
//! is the port the peers must reach) and the lobby's watch socket, builds the [`Engine`], and
//! runs the `pump` (sockets, clock, drain) until the peer phase is over.
//!
//! Use: [`Client::bind`] → spawn [`Client::run`] → read events, call [`Control`] methods (start,
//! exit, kick, unban) → `run` returns the [`Mesh`] when the peer phase is over.

use crate::config::Config;
pub use crate::control::Control;
use crate::engine::Engine;
use crate::error::ClientError;
use crate::events::Event;
use crate::mesh::Mesh;
use crate::pump::{watch_socket, Pump};
use rhp_io::{Input, SocketId};
use std::io;
use std::net::SocketAddr;
use std::time::Instant;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

pub use crate::control::Command;
pub use crate::pump::DATA_CAPACITY;

/// Capacity of the event channel; when the application does not read, further events are dropped
/// (the outcome still comes back from [`Client::run`]).
pub const EVENT_CAPACITY: usize = 1024;

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
        let (config, bind) = crate::bind::settle(config, bind)?;
        let socket = UdpSocket::from_std(crate::bind::udp(bind)?)?;
        let watch = watch_socket(config.server);
        let mut config = config;
        if config.seed == Config::host(config.server, "a", "a", 2).seed {
            config.seed = os_seed();
        }
        let mut engine = Engine::new(config, Instant::now())?;
        let local_port = socket.local_addr().ok().map(|a| a.port());
        engine.handle_input(Input::Opened { now: Instant::now(), id: SocketId::MAIN, local_port });
        let (event_tx, event_rx) = mpsc::channel(EVENT_CAPACITY);
        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        let mut pump = Pump::new(socket, engine, Some(event_tx));
        pump.watch = watch;
        Ok((Client { pump, commands: cmd_rx }, Control { tx: cmd_tx }, event_rx))
    }

    /// The configuration as it runs: after [`Client::bind`] kept only the families this machine
    /// has a route in ([`Config::server_other`] is `None` when it is not dual-stack).
    pub fn config(&self) -> &Config {
        self.pump.engine.config()
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
                match outcome {
                    Err(e) if switch_server(&mut self.pump, &e)? => continue,
                    outcome => return outcome.map(|()| Mesh::new(self.pump)),
                }
            }
            self.pump.step(commands.as_mut()).await?;
            if commands.as_ref().is_some_and(|c| c.is_closed() && c.is_empty()) {
                commands = None;
            }
        }
    }
}

/// The server stopped answering in the lobby and another node of the service is left: a new
/// engine (a new lobby: `c:`, or a host's `h:`) through it, on the same socket. True when it
/// switched.
fn switch_server(pump: &mut Pump, e: &ClientError) -> Result<bool, ClientError> {
    let silent = matches!(
        e,
        ClientError::ServerTimeout { .. }
            | ClientError::ServerStopped { .. }
            | ClientError::ServerUnreachable(_)
            | ClientError::ServerGone(_)
    );
    let old = pump.engine.config();
    if !silent || old.server_fallbacks.is_empty() || pump.engine.in_peer_phase() {
        return Ok(false);
    }
    let mut config = old.clone();
    let from = config.server;
    config.server = config.server_fallbacks.remove(0);
    // The other family's address was this node's.
    config.server_other = None;
    config.seed = os_seed();
    let to = config.server;
    tracing::info!(%from, %to, "the server stopped answering in the lobby: joining through the next");
    let mut engine = Engine::new(config, Instant::now())?;
    let local_port = pump.socket.local_addr().ok().map(|a| a.port());
    engine.handle_input(Input::Opened { now: Instant::now(), id: SocketId::MAIN, local_port });
    pump.engine = engine;
    pump.watch = watch_socket(to);
    pump.event(Event::ServerSwitched { from, to, reason: e.to_string() });
    Ok(true)
}

/// A seed from the OS's per-process hash keys and the clock (no extra dependency; nothing here
/// needs cryptographic randomness).
fn os_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}
