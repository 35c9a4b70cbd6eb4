//! The result of a run: the bound UDP socket and every peer's confirmed address, with `send` and
//! `recv` of application data framed as `d:<bytes>`.
//!
//! While the application receives, the engine keeps running on the same socket: it answers late
//! peer-phase messages (a peer whose last `c:` was lost still finishes; a Godot client still gets
//! the host's `s:<n>`), and reports late connections as events.

use crate::error::ClientError;
use crate::events::PeerInfo;
use crate::pump::Pump;
use crate::Engine;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// Copies of the leave notice [`Mesh::close`] sends each peer.
pub const FAREWELL_ROUNDS: u32 = 3;
/// Between two copies.
pub const FAREWELL_GAP: Duration = Duration::from_millis(20);

/// Every player's path, ready for application data.
#[derive(Debug)]
pub struct Mesh {
    pump: Pump,
}

impl Mesh {
    pub(crate) fn new(mut pump: Pump) -> Mesh {
        // The server is no longer watched once the session started.
        pump.watch = None;
        Mesh { pump }
    }

    /// The engine (read-only): peers, host, timings.
    pub fn engine(&self) -> &Engine {
        &self.pump.engine
    }

    /// Every other player with its status and address.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.pump.engine.peers()
    }

    /// The players data can be sent to: connected directly, or through the server's relay
    /// ([`PeerInfo::path`] says which).
    pub fn connected(&self) -> Vec<PeerInfo> {
        self.peers().into_iter().filter(PeerInfo::reachable).collect()
    }

    /// The players that did not connect by the deadline (neither directly nor by the relay).
    /// Peers that left after they were reachable are not among them ([`PeerInfo::has_left`]).
    pub fn failed(&self) -> Vec<PeerInfo> {
        self.peers().into_iter().filter(|p| !p.reachable() && !p.has_left()).collect()
    }

    /// `Err(PeersNotConfirmed)` unless every peer is connected.
    pub fn require_all(&self) -> Result<(), ClientError> {
        let failed: Vec<String> = self.failed().into_iter().map(|p| p.name).collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(ClientError::PeersNotConfirmed(failed))
        }
    }

    /// Whether we are the host.
    pub fn is_host(&self) -> bool {
        self.pump.engine.is_host()
    }

    /// The host's name (after a hand-over, the new host's: [`Event::HostChanged`](crate::Event::HostChanged)).
    pub fn host(&self) -> String {
        self.pump.engine.host().unwrap_or_default().to_owned()
    }

    /// Our port as the peers see it.
    pub fn my_port(&self) -> u16 {
        self.pump.engine.my_port().unwrap_or_default()
    }

    /// The socket's local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.pump.socket.local_addr()
    }

    /// Sends `data` to connected peer `peer`: as `d:<data>` on its direct path, else through the
    /// relay.
    ///
    /// A datagram the kernel refuses to send (a firewall rule, a full buffer, no route for a
    /// moment) is lost like any UDP datagram: it is counted and reported as
    /// [`Event::SendFailed`](crate::Event::SendFailed), and the mesh goes on. Only an unknown
    /// peer, or a path whose socket is gone, is an error.
    pub async fn send(&mut self, peer: &str, data: &[u8]) -> Result<(), ClientError> {
        let via = self.pump.engine.send(peer, data)?;
        let open = self.pump.has_socket(via);
        self.pump.flush_out().await?;
        if open {
            Ok(())
        } else {
            Err(ClientError::Io(io::Error::new(io::ErrorKind::NotConnected, "the peer's socket is closed")))
        }
    }

    /// Sends `data` to every connected peer; returns how many.
    pub async fn send_all(&mut self, data: &[u8]) -> Result<usize, ClientError> {
        let mut n = 0;
        for p in self.connected() {
            self.send(&p.name, data).await?;
            n += 1;
        }
        Ok(n)
    }

    /// The next application datagram and its sender, driving the engine meanwhile. Cancel-safe.
    pub async fn recv(&mut self) -> Result<(String, Vec<u8>), ClientError> {
        loop {
            if let Some(item) = self.pump.data.pop_front() {
                return Ok(item);
            }
            self.pump.step(None).await?;
        }
    }

    /// Drives the engine (answering peers, finishing a host's `s:<n>` rounds) until it has no
    /// timed duty left, or `max` passed. Call before dropping a mesh whose peers may be Godot
    /// clients. Application data that arrives meanwhile is kept for [`Mesh::recv`].
    pub async fn settle(&mut self, max: Duration) -> Result<(), ClientError> {
        let end = tokio::time::Instant::now() + max;
        while !self.pump.engine.is_settled() {
            match tokio::time::timeout_at(end, self.pump.step(None)).await {
                Ok(r) => r?,
                Err(_) => break,
            }
        }
        Ok(())
    }

    /// Drives the engine for `d` (keeps answering peers), keeping application data for `recv`.
    pub async fn linger(&mut self, d: Duration) -> Result<(), ClientError> {
        let end = tokio::time::Instant::now() + d;
        loop {
            match tokio::time::timeout_at(end, self.pump.step(None)).await {
                Ok(r) => r?,
                Err(_) => return Ok(()),
            }
        }
    }

    /// Time since the server's `s:` arrived.
    pub fn since_start(&self) -> Duration {
        self.pump.engine.since_start(Instant::now()).unwrap_or_default()
    }

    /// Done with the session: tells every peer that is one of our clients that we leave (they
    /// report [`Event::PeerLeft`](crate::Event::PeerLeft); [`FAREWELL_ROUNDS`] copies
    /// [`FAREWELL_GAP`] apart, UDP may lose one; Godot peers get nothing), then gives the
    /// server's relay slot back at once (instead of after the relay's idle time), so the
    /// player's next session behind the same IP gets one. Sent twice (the second is ignored).
    pub async fn close(mut self) -> Result<(), ClientError> {
        let bye = !self.pump.engine.farewell().is_empty();
        for round in 0..FAREWELL_ROUNDS {
            if !bye {
                break;
            }
            if round > 0 {
                tokio::time::sleep(FAREWELL_GAP).await;
            }
            // A lost copy is what the repeats are for; a failing send must not stop the leave.
            self.pump.engine.send_farewell();
            if let Err(e) = self.pump.flush_out().await {
                tracing::debug!(error = %e, "leave notices not sent");
            }
        }
        // Best effort: the server frees the slot after the relay's idle time anyway.
        self.pump.engine.send_leave_relay();
        if let Err(e) = self.pump.flush_out().await {
            tracing::debug!(error = %e, "the relay's leave not sent");
        }
        Ok(())
    }

    /// Gives up the engine and returns the main socket (e.g. to run a game protocol on it). A
    /// peer reached by the birthday path (its [`PeerInfo::via`] is not
    /// [`SocketId::MAIN`](crate::SocketId::MAIN)) is not reachable through it: keep the mesh
    /// and use [`Mesh::send`]/[`Mesh::recv`] for such peers.
    pub fn into_socket(self) -> UdpSocket {
        self.pump.socket
    }
}
