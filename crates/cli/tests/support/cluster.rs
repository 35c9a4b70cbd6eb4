//! Cluster mode for the black-box tests: a test-owned Redis (on a free port, stopped by PID)
//! and N `serve` nodes on loopback sharing it, with short timers; each node's players are raw
//! UDP [`Peer`]s talking to that node. Every wait is bounded and reads the nodes' logs.

#[path = "../../../cluster-shell/tests/support/redis.rs"]
pub mod redis;

use super::ops;
use super::{temp_dir, Peer, Server};
use redis::Redis;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The timers of every test node (flags): heartbeats every 100 ms (dead after 400 ms), claims
/// for 2 s, the store's answer awaited 300 ms.
pub const FAST: [&str; 8] = [
    "--cluster-heartbeat-ms",
    "100",
    "--cluster-heartbeat-ttl-ms",
    "400",
    "--cluster-claim-ttl-ms",
    "2000",
    "--cluster-store-timeout-ms",
    "300",
];

/// One node: its server process, id (1-based) and metrics address.
pub struct Node {
    pub server: Server,
    pub id: u16,
    pub metrics: SocketAddr,
}

/// A Redis and N nodes.
pub struct Cluster {
    pub redis: Redis,
    /// `None` once killed.
    pub nodes: Vec<Option<Node>>,
    pub secret: PathBuf,
    dir: PathBuf,
    extra: Vec<String>,
}

impl Cluster {
    /// A new Redis and `n` nodes with `extra` flags each; returns once every node knows every
    /// other (from their heartbeats).
    pub fn start(n: usize, extra: &[&str]) -> Cluster {
        let redis = Redis::start();
        let dir = temp_dir("cluster");
        let secret = dir.join("cluster.secret");
        std::fs::write(&secret, "a test cluster secret, 32 bytes\n").expect("write secret");
        let mut c = Cluster {
            redis,
            nodes: Vec::new(),
            secret,
            dir,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        for k in 1..=n {
            let node = c.spawn(k as u16);
            c.nodes.push(Some(node));
        }
        for k in 0..n {
            c.wait_peers(k, n - 1);
        }
        c
    }

    /// Starts node `id` (not waiting for its peers).
    pub fn spawn(&self, id: u16) -> Node {
        let url = self.redis.url();
        let secret = self.secret.to_string_lossy().into_owned();
        let id_s = id.to_string();
        let mut args = vec![
            "serve",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--alt-port",
            "0",
            "--no-log-file",
            "--metrics",
            "127.0.0.1:0",
            "--cluster-store",
            &url,
            "--node-id",
            &id_s,
            "--cluster-bind",
            "127.0.0.1:0",
            "--cluster-secret-file",
            &secret,
        ];
        // A timer in `extra` replaces the fast one (a flag may be given once).
        for pair in FAST.chunks(2) {
            if !self.extra.iter().any(|e| e == pair[0]) {
                args.extend_from_slice(pair);
            }
        }
        args.extend(self.extra.iter().map(String::as_str));
        let server = Server::start_args(&args, &self.dir);
        let line = server.wait_log("metrics on http://", Duration::from_secs(10)).expect("metrics line");
        let metrics = ops::metrics_addr(&line);
        Node { server, id, metrics }
    }

    /// Waits (bounded) until node `k` (0-based) logged `count` peers' addresses.
    pub fn wait_peers(&self, k: usize, count: usize) {
        for _ in 0..count {
            let got = self.server(k).wait_log("frames at udp://", Duration::from_secs(10));
            assert!(got.is_some(), "node {} did not learn its peers", k + 1);
        }
    }

    /// Node `k`'s server (0-based).
    pub fn server(&self, k: usize) -> &Server {
        &self.nodes[k].as_ref().expect("node alive").server
    }

    /// A new raw player talking to node `k`.
    pub fn peer(&self, k: usize) -> Peer {
        self.server(k).peer()
    }

    /// Node `k`'s main address.
    pub fn addr(&self, k: usize) -> SocketAddr {
        self.server(k).addr
    }

    /// Node `k`'s `/readyz`: status and body.
    pub fn readyz(&self, k: usize) -> Option<(u16, String)> {
        let node = self.nodes[k].as_ref().expect("node alive");
        ops::get(node.metrics, "/readyz")
    }

    /// Polls node `k`'s `/readyz` until its status is `code` (bounded); the last answer.
    pub fn wait_ready(&self, k: usize, code: u16, within: Duration) -> Option<(u16, String)> {
        let node = self.nodes[k].as_ref().expect("node alive");
        ops::poll_get(node.metrics, "/readyz", within, |c, _| c == code)
    }

    /// Node `k`'s metrics, parsed.
    pub fn metrics(&self, k: usize) -> std::collections::HashMap<String, f64> {
        let node = self.nodes[k].as_ref().expect("node alive");
        let (_, body) = ops::get(node.metrics, "/metrics").expect("metrics");
        ops::samples(&body)
    }

    /// Polls node `k`'s metrics until it owns at least `names` session names (bounded).
    pub fn wait_owned(&self, k: usize, names: u64, within: Duration) -> bool {
        let node = self.nodes[k].as_ref().expect("node alive");
        let owned = |body: &str| ops::samples(body).get("rhp_cluster_owned_names").copied().unwrap_or(0.0);
        ops::poll_get(node.metrics, "/metrics", within, |_, body| owned(body) >= names as f64)
            .is_some_and(|(_, b)| owned(&b) >= names as f64)
    }

    /// `kill -9` of node `k`.
    pub fn kill9(&mut self, k: usize) {
        if let Some(node) = self.nodes[k].take() {
            node.server.signal("KILL");
            drop(node);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.nodes.clear();
        self.redis.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
