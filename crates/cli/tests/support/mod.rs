//! Test support shared by the black-box tests: start the real `rabid-hole-punch` binary and talk
//! to it over real UDP sockets on loopback. Every wait is bounded; every child is killed on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
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
        let mut args = vec!["serve", "--bind", "127.0.0.1", "--port", "0", "--no-log-file"];
        args.extend_from_slice(extra);
        Server::start_args(&args, &std::env::temp_dir())
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

// ---- Added for the server's black-box tests (server_*.rs) ----

/// A fresh empty directory under the system temp dir, for a child's working directory.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "rhp-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A UDP port that was free a moment ago on 127.0.0.1 (for commands that need a fixed port).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

impl Server {
    /// Starts the binary with exactly `args` in `cwd` and waits (bounded) for `listening on`.
    /// The address logged is returned as is (it may be 0.0.0.0); `addr` is its loopback form.
    pub fn start_args(args: &[&str], cwd: &std::path::Path) -> Server {
        Server::start_args_env(args, cwd, &[])
    }

    /// [`Server::start_args`] with extra environment variables.
    pub fn start_args_env(args: &[&str], cwd: &std::path::Path, env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(BIN)
            .args(args)
            .envs(env.iter().copied())
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rabid-hole-punch");
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
        let addr: SocketAddr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        // (Ends at a space, or at the quote closing a JSON log line's message.)
                        let addr = rest
                            .split(|c: char| c.is_whitespace() || c == '"')
                            .next()
                            .unwrap_or("")
                            .trim_start_matches("udp://");
                        break addr.parse().unwrap_or_else(|_| panic!("bad address in {line:?}"));
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("{args:?} did not log 'listening on <addr>' within 20 s");
                }
            }
        };
        let addr =
            if addr.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], addr.port())) } else { addr };
        Server { addr, child, log: rx }
    }

    /// Sends the process a signal by name (`TERM`, `INT`) with the system's `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// A new peer talking to this server.
    pub fn peer(&self) -> Peer {
        Peer::new(self.addr)
    }
}

impl Peer {
    /// Every datagram that arrives until `quiet` passes with none (bounded by `max_total`),
    /// each with the time it arrived.
    pub fn drain_timed(&self, quiet: Duration, max_total: Duration) -> Vec<(Instant, String)> {
        let end = Instant::now() + max_total;
        let mut out = Vec::new();
        while Instant::now() < end {
            match self.recv_within(quiet) {
                Some(text) => out.push((Instant::now(), text)),
                None => break,
            }
        }
        out
    }

    /// Reads datagrams (bounded by `within`) until one satisfies `pred`; returns it.
    pub fn recv_until(&self, within: Duration, mut pred: impl FnMut(&str) -> bool) -> Option<String> {
        let end = Instant::now() + within;
        loop {
            let left = end.checked_duration_since(Instant::now())?;
            let text = self.recv_within(left)?;
            if pred(&text) {
                return Some(text);
            }
        }
    }

    /// This peer's entry in a start message: `Name:127.0.0.1:port`.
    pub fn entry(&self, name: &str) -> String {
        format!("{name}:{}:{}", self.addr().ip(), self.port())
    }
}

/// Creates session `session` (max `max`) hosted by `names[0]` and joins the others in order, each
/// from its own peer; checks and consumes every `i:` broadcast. Returns the peers in join order.
pub fn lobby(srv: &Server, session: &str, max: u8, names: &[&str]) -> Vec<Peer> {
    let mut peers: Vec<Peer> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let p = srv.peer();
        if i == 0 {
            p.send(&format!("h:{session}:{name}:{max}"));
        } else {
            p.send(&format!("c:{session}:{name}"));
        }
        peers.push(p);
        let list = format!("i:{}", names[..=i].join(":"));
        for q in &peers {
            q.expect(&list);
        }
    }
    peers
}

/// The next datagram from `from` within `within`, as bytes (others are skipped).
pub fn recv_bytes(sock: &UdpSocket, from: SocketAddr, within: Duration) -> Option<Vec<u8>> {
    let end = Instant::now() + within;
    let mut buf = vec![0u8; 4096];
    loop {
        let left = end.checked_duration_since(Instant::now())?;
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1)))).ok()?;
        match sock.recv_from(&mut buf) {
            Ok((n, src)) if src == from => return Some(buf[..n].to_vec()),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

/// The next relay frame (first byte 0xF5) from the server within `within`, skipping the start
/// rounds' text still arriving.
pub fn recv_frame(sock: &UdpSocket, server: SocketAddr, within: Duration) -> Option<Vec<u8>> {
    let end = Instant::now() + within;
    loop {
        let left = end.checked_duration_since(Instant::now())?;
        let got = recv_bytes(sock, server, left)?;
        if rhp_proto::relay::is_frame(&got) {
            return Some(got);
        }
    }
}

/// Runs the binary with `args` and `env` (every other RHP_* variable removed) in `cwd`, bounded by
/// 10 s; returns (exit code, stdout, stderr).
pub fn run_env(
    args: &[&str],
    env: &[(String, String)],
    cwd: &std::path::Path,
) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(cwd).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("RHP_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let mut child = cmd.spawn().expect("spawn");
    let (mut out, mut err) = (String::new(), String::new());
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} did not exit within 10 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    out.push_str(&t_out.join().unwrap_or_default());
    err.push_str(&t_err.join().unwrap_or_default());
    (status.code(), out, err)
}

pub mod cluster;
pub mod godot_double;
pub mod ops;
pub mod player;
pub mod terminal;

/// A server on `--bind ::` (one dual-stack socket) and its address in each family (IPv4 first);
/// `None`, with a line on stderr, where the machine has no IPv6 loopback (the test is skipped).
pub fn dual_stack_server() -> Option<(Server, SocketAddr, SocketAddr)> {
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here: test skipped");
        return None;
    }
    let server =
        Server::start_args(&["serve", "--bind", "::", "--port", "0", "--no-log-file"], &std::env::temp_dir());
    let v6 = SocketAddr::new(std::net::Ipv6Addr::LOCALHOST.into(), server.addr.port());
    let v4 = server.addr;
    assert!(v4.is_ipv4(), "the support maps [::] to 127.0.0.1: {v4}");
    Some((server, v4, v6))
}
