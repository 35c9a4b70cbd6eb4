//! The one place that knows the engines' APIs: the real server engine and a real client engine,
//! each behind the `rhp-io` contract (an [`Input`] in, [`Transmit`]s and the next deadline out).
//!
//! Everything else in the simulation speaks `rhp_io` only, so when an engine's API moves, this
//! file is the one to adapt.

use rhp_client::{ClientError, Event};
use rhp_io::{Input, SocketId, Transmit};
use std::collections::VecDeque;
use std::time::Instant;

/// The server's alternate STUN port.
pub const ALT: SocketId = rhp_server::ALT;

/// A client's watch socket: connected to the server, so it hears "port unreachable".
pub const WATCH: SocketId = SocketId(rhp_client::SocketId::WATCH.0);

/// The real rendezvous server engine.
pub struct ServerEndpoint {
    engine: rhp_server::Engine,
}

impl ServerEndpoint {
    /// A server engine with `config`.
    pub fn new(config: rhp_server::Config) -> ServerEndpoint {
        ServerEndpoint { engine: rhp_server::Engine::new(config) }
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

/// A real client engine, and the application's datagrams that leave beside it today (data to a
/// peer, the farewell), queued so they leave through [`ClientEndpoint::poll`] like the rest.
pub struct ClientEndpoint {
    engine: rhp_client::Engine,
    app: VecDeque<Transmit>,
}

impl ClientEndpoint {
    /// A client engine with `config`, started at `now`.
    pub fn new(config: rhp_client::Config, now: Instant) -> Result<ClientEndpoint, ClientError> {
        Ok(ClientEndpoint { engine: rhp_client::Engine::new(config, now)?, app: VecDeque::new() })
    }

    /// Feeds one input.
    pub fn handle(&mut self, input: Input<'_>) {
        let sid = |id: SocketId| rhp_client::SocketId(id.0);
        let input = match input {
            Input::Datagram { now, via, from, data } => {
                rhp_client::Input::Datagram { now, via: sid(via), from, data }
            }
            Input::Timeout(now) => rhp_client::Input::Timeout(now),
            Input::Opened { now, id, local_port } => {
                rhp_client::Input::Opened { now, id: sid(id), local_port }
            }
            Input::Unreachable { now, to } => rhp_client::Input::Unreachable { now, to },
        };
        self.engine.handle_input(input);
    }

    /// The next thing the engine wants done (drain until [`ClientOut::Timeout`]).
    pub fn poll(&mut self) -> ClientOut {
        if let Some(t) = self.app.pop_front() {
            return ClientOut::Transmit(t);
        }
        let io = |t: rhp_client::Transmit| Transmit { via: SocketId(t.via.0), to: t.to, data: t.data };
        match self.engine.poll_output() {
            rhp_client::Output::Transmit(t) => ClientOut::Transmit(io(t)),
            rhp_client::Output::Open(id) => ClientOut::Open(SocketId(id.0)),
            rhp_client::Output::Close(id) => ClientOut::Close(SocketId(id.0)),
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
        let t = self.engine.data_to(peer, data)?;
        self.app.push_back(Transmit { via: SocketId(t.via.0), to: t.to, data: t.data });
        Ok(())
    }

    /// We leave, as `Mesh::close` does: the farewell `rounds` times, then the relay given back
    /// (drain afterwards; the sim stops the client after that).
    pub fn leave(&mut self, _now: Instant, rounds: usize) {
        let bye = self.engine.farewell();
        for _ in 0..rounds {
            for t in &bye {
                self.app.push_back(Transmit { via: SocketId(t.via.0), to: t.to, data: t.data.clone() });
            }
        }
        if let Some(t) = self.engine.leave_relay() {
            self.app.push_back(Transmit { via: SocketId(t.via.0), to: t.to, data: t.data });
        }
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

/// The client's own address type for a socket (for tests comparing `PeerInfo::via`).
pub fn client_socket(id: SocketId) -> rhp_client::SocketId {
    rhp_client::SocketId(id.0)
}
