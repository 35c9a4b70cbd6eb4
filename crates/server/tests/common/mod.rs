//! Test harness for the engine: a fake clock, named addresses, and helpers that feed the engine
//! and drain everything it wants to send. Nothing sleeps; time jumps from deadline to deadline.
#![allow(dead_code)]

use rhp_server::{Config, Engine, SocketId, Transmit};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One datagram the engine sent: when (since the start), to whom, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub at: Duration,
    pub to: SocketAddr,
    pub text: String,
    /// The datagram as sent (relay frames are binary).
    pub bytes: Vec<u8>,
}

pub struct H {
    pub engine: Engine,
    pub t0: Instant,
    pub now: Instant,
}

/// A distinct client address per number: 10.0.0.n:(40000+n).
pub fn addr(n: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, n as u8], 40000 + n))
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl H {
    /// The original server (no budget, no caps): these tests pin the protocol itself.
    pub fn new() -> H {
        H::with(Config::original())
    }

    pub fn with(config: Config) -> H {
        let t0 = Instant::now();
        H { engine: Engine::new(config), t0, now: t0 }
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    fn drain(&mut self) -> Vec<Sent> {
        let mut out = Vec::new();
        let mut tx = Transmit::empty();
        while self.engine.poll_transmit(&mut tx) {
            assert_eq!(tx.via, SocketId::MAIN, "only STUN answers leave from another socket");
            let text = String::from_utf8_lossy(&tx.data).into_owned();
            out.push(Sent { at: self.elapsed(), to: tx.to, text, bytes: tx.data.clone() });
            assert!(out.len() < 100_000, "engine keeps sending");
        }
        out
    }

    /// Feeds raw bytes from `from` at the current time; returns what the engine sent.
    pub fn send_bytes(&mut self, from: SocketAddr, data: &[u8]) -> Vec<Sent> {
        self.engine.handle_datagram(self.now, SocketId::MAIN, from, data);
        self.drain()
    }

    /// Feeds `text` from `from`; returns (to, text) of what the engine sent.
    pub fn send(&mut self, from: SocketAddr, text: &str) -> Vec<(SocketAddr, String)> {
        self.send_bytes(from, text.as_bytes()).into_iter().map(|s| (s.to, s.text)).collect()
    }

    /// Feeds `text` from `from` and asserts the only reply is `expected`, to `from`.
    pub fn ask(&mut self, from: SocketAddr, text: &str, expected: &str) {
        assert_eq!(self.send(from, text), vec![(from, expected.to_owned())], "{text:?} from {from}");
    }

    /// Feeds `text` and asserts the engine sends nothing.
    pub fn silent(&mut self, from: SocketAddr, text: &str) {
        assert_eq!(self.send(from, text), vec![], "{text:?} from {from} should get no reply");
    }

    /// Moves the clock to `t0 + at`, firing every deadline on the way at its exact instant.
    pub fn run_until(&mut self, at: Duration) -> Vec<Sent> {
        let end = self.t0 + at;
        let mut out = Vec::new();
        for _ in 0..1_000_000 {
            match self.engine.poll_timeout() {
                Some(d) if d <= end => {
                    self.now = self.now.max(d);
                    self.engine.handle_timeout(self.now);
                    out.extend(self.drain());
                }
                _ => {
                    self.now = self.now.max(end);
                    return out;
                }
            }
        }
        panic!("timers keep firing without time passing");
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&mut self, d: Duration) -> Vec<Sent> {
        let at = self.elapsed() + d;
        self.run_until(at)
    }

    /// Creates session `s` hosted by `addr(1)` named `names[0]`, then joins the other names from
    /// addr(2), addr(3)…; drains everything.
    pub fn lobby(&mut self, s: &str, max: u8, names: &[&str]) {
        self.ask(addr(1), &format!("h:{s}:{}:{max}", names[0]), &format!("i:{}", names[0]));
        for (i, n) in names.iter().enumerate().skip(1) {
            let out = self.send(addr(i as u16 + 1), &format!("c:{s}:{n}"));
            assert_eq!(out.len(), i + 1, "join of {n} is broadcast: {out:?}");
        }
    }
}

/// The texts sent to `to`, in order.
pub fn to(out: &[Sent], to: SocketAddr) -> Vec<String> {
    out.iter().filter(|s| s.to == to).map(|s| s.text.clone()).collect()
}

/// The instants (since the start) of the datagrams sent to `to`.
pub fn times(out: &[Sent], to: SocketAddr) -> Vec<Duration> {
    out.iter().filter(|s| s.to == to).map(|s| s.at).collect()
}

/// (to, text) pairs.
pub fn pairs(out: &[(SocketAddr, &str)]) -> Vec<(SocketAddr, String)> {
    out.iter().map(|(a, t)| (*a, t.to_string())).collect()
}
