//! Test support shared by the black-box tests: start the real `rabid-hole-punch` binary and talk
//! to it over real UDP sockets on loopback. Every wait is bounded; every child is killed on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Path of the binary under test, built by cargo for integration tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_rabid-hole-punch");

/// A running `rabid-hole-punch serve` on an ephemeral loopback port.
pub struct Server {
    pub addr: SocketAddr,
    child: Child,
    /// Every line the server wrote to stderr, as it comes.
    pub log: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `serve --bind 127.0.0.1 --port 0 --no-log-file` plus `extra` flags and waits (bounded)
    /// for its `listening on <addr>` log line.
    pub fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1", "--port", "0", "--no-log-file"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rabid-hole-punch serve");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        let addr = rest.split_whitespace().next().unwrap_or("");
                        let addr = addr.trim_start_matches("udp://");
                        break addr.parse().unwrap_or_else(|_| panic!("bad address in {line:?}"));
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("server did not log 'listening on <addr>' within 20 s");
                }
            }
        };
        Server { addr, child, log: rx }
    }

    /// The child's pid (for signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (bounded) for the process to exit and returns its status code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Waits (bounded) for a stderr line containing `needle`.
    pub fn wait_log(&self, needle: &str, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Some(line),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One UDP socket on loopback, speaking text to the server.
pub struct Peer {
    pub sock: UdpSocket,
    pub server: SocketAddr,
}

impl Peer {
    pub fn new(server: SocketAddr) -> Peer {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind loopback");
        Peer { sock, server }
    }

    pub fn addr(&self) -> SocketAddr {
        self.sock.local_addr().expect("local addr")
    }

    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    pub fn send(&self, text: &str) {
        self.send_bytes(text.as_bytes());
    }

    pub fn send_bytes(&self, data: &[u8]) {
        self.sock.send_to(data, self.server).expect("send to server");
    }

    /// The next datagram within `within`, as text (lossy), or None.
    pub fn recv_within(&self, within: Duration) -> Option<String> {
        self.recv_from_within(within).map(|(text, _)| text)
    }

    /// The next datagram and its source within `within`, or None.
    pub fn recv_from_within(&self, within: Duration) -> Option<(String, SocketAddr)> {
        let mut buf = [0u8; 2048];
        self.sock.set_read_timeout(Some(within.max(Duration::from_millis(1)))).ok()?;
        match self.sock.recv_from(&mut buf) {
            Ok((n, from)) => Some((String::from_utf8_lossy(&buf[..n]).into_owned(), from)),
            Err(_) => None,
        }
    }

    /// The next datagram (within 2 s); panics with `context` if none comes.
    pub fn recv(&self) -> String {
        self.recv_within(Duration::from_secs(2)).expect("expected a reply within 2 s")
    }

    /// Asserts the next datagram is exactly `expected`.
    pub fn expect(&self, expected: &str) {
        let got = self.recv_within(Duration::from_secs(2));
        assert_eq!(got.as_deref(), Some(expected), "peer {} expected {expected:?}", self.addr());
    }

    /// Asserts nothing arrives within `within`.
    pub fn expect_silence(&self, within: Duration) {
        if let Some(got) = self.recv_within(within) {
            panic!("peer {} expected silence, got {got:?}", self.addr());
        }
    }

    /// Sends `text` and asserts the reply is `expected`.
    pub fn ask(&self, text: &str, expected: &str) {
        self.send(text);
        self.expect(expected);
    }
}
