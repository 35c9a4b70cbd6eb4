//! The one place that knows the engines' APIs: the real server engine and a real client engine,
//! each behind the `rhp-io` contract (an [`Input`] in, [`Transmit`]s and the next deadline out).
//!
//! Everything else in the simulation speaks `rhp_io` only, so when an engine's API moves, this
//! file is the one to adapt.

use rhp_client::{ClientError, Event};
use rhp_io::{Input, SocketId, Transmit};
use std::time::Instant;

/// The server's alternate STUN port.
pub const ALT: SocketId = rhp_server::ALT;

/// A client's watch socket: connected to the server, so it hears "port unreachable".
pub const WATCH: SocketId = rhp_client::WATCH;

/// The real rendezvous server engine.
pub struct ServerEndpoint {
    engine: rhp_server::Engine,
}

impl ServerEndpoint {
    /// A server engine with `config`, its relay tokens drawn from `seed` (reproducible runs).
    pub fn new(config: rhp_server::Config, seed: u64) -> ServerEndpoint {
        let mut engine = rhp_server::Engine::new(config);
        engine.seed_tokens(seed);
        ServerEndpoint { engine }
    }

    /// Feeds one input (the server ignores `Opened` and `Unreachable`).
    pub fn handle(&mut self, input: Input<'_>) {
        self.engine.handle_input(input);
    }

    /// The next datagram to send, into `out`; false when none is queued.
    pub fn poll_transmit(&mut self, out: &mut Transmit) -> bool {
        self.engine.poll_transmit(out)
    }

    /// When the server must next be woken.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.engine.poll_timeout()
    }

    /// The engine (for its counters).
    pub fn engine(&self) -> &rhp_server::Engine {
        &self.engine
    }
}

/// What a client engine wants done.
#[derive(Debug)]
pub enum ClientOut {
    /// Send this datagram.
    Transmit(Transmit),
    /// Bind a socket under this id and feed `Input::Opened`.
    Open(SocketId),
    /// Close this socket.
    Close(SocketId),
    /// Report this event.
    Event(Event),
    /// Nothing more now; wake at this instant.
    Timeout(Instant),
}

/// A real client engine.
pub struct ClientEndpoint {
    engine: rhp_client::Engine,
}

impl ClientEndpoint {
    /// A client engine with `config`, started at `now`.
    pub fn new(config: rhp_client::Config, now: Instant) -> Result<ClientEndpoint, ClientError> {
        Ok(ClientEndpoint { engine: rhp_client::Engine::new(config, now)? })
    }

    /// Feeds one input.
    pub fn handle(&mut self, input: Input<'_>) {
        self.engine.handle_input(input);
    }

    /// The next thing the engine wants done (drain until [`ClientOut::Timeout`]).
    pub fn poll(&mut self) -> ClientOut {
        match self.engine.poll_output() {
            rhp_client::Output::Transmit(t) => ClientOut::Transmit(t),
            rhp_client::Output::Open(id) => ClientOut::Open(id),
            rhp_client::Output::Close(id) => ClientOut::Close(id),
            rhp_client::Output::Event(e) => ClientOut::Event(e),
            rhp_client::Output::Timeout(t) => ClientOut::Timeout(t),
        }
    }

    /// The run's end, once (Ok: the peer phase finished; Err: why it stopped).
    pub fn take_outcome(&mut self) -> Option<Result<(), ClientError>> {
        self.engine.take_outcome()
    }

    /// Application data to `peer` (drain afterwards).
    pub fn send(&mut self, _now: Instant, peer: &str, data: &[u8]) -> Result<(), ClientError> {
        self.engine.send(peer, data).map(|_| ())
    }

    /// We leave, as `Mesh::close` does: the farewell `rounds` times, then the relay given back
    /// (drain afterwards; the sim stops the client after that).
    pub fn leave(&mut self, _now: Instant, rounds: usize) {
        if !self.engine.farewell().is_empty() {
            for _ in 0..rounds {
                self.engine.send_farewell();
            }
        }
        self.engine.send_leave_relay();
    }

    /// The engine itself (app commands: start, exit, kick; queries: players, peers).
    pub fn engine(&self) -> &rhp_client::Engine {
        &self.engine
    }

    /// The engine, for app commands (drain afterwards).
    pub fn engine_mut(&mut self) -> &mut rhp_client::Engine {
        &mut self.engine
    }
}
