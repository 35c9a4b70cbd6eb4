//! `rhp-bench run --targets clusterN`: the server as N cluster nodes on loopback sharing a Redis
//! store (`redis-server` on a free port, nothing on disk), each node with the flags of the `rhp`
//! target. The workers are spread over the nodes, whole sessions each, so every session lives
//! on the node its players talk to: the throughput of N nodes that share a machine, with the
//! store's cost in it (its CPU is counted as the target's).

use crate::target::{free_port, serve_command, wait_ready, Target, TargetSpec};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The node count of a target named `clusterN` (1 to 8), if it is one.
pub(crate) fn nodes(name: &str) -> Option<usize> {
    name.strip_prefix("cluster")?.parse().ok().filter(|n| (1..=8).contains(n))
}

/// A Redis on a free loopback port, returned once it accepts connections.
fn redis() -> Result<(Child, u16), String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start redis-server (apt-get install redis-server): {e}"))?;
    let Some(out) = child.stdout.take() else {
        let _ = child.kill();
        return Err("redis-server: no stdout".into());
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line.contains("Ready to accept connections") {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(10)).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        return Err("redis-server not ready within 10 s".into());
    }
    Ok((child, port))
}

/// Starts the store and `n` nodes; the target's main child is node 1, the others and the store
/// are its `others`; every node's main address is in `addrs`.
pub(crate) fn spawn(spec: &TargetSpec, n: usize) -> Result<Target, String> {
    let (store, store_port) = redis()?;
    let dir = std::env::temp_dir().join(format!("rhp-bench-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let secret = dir.join("cluster.secret");
    std::fs::write(&secret, "rhp-bench cluster secret, 32 bytes").map_err(|e| e.to_string())?;
    let mut nodes: Vec<(Child, SocketAddr)> = Vec::new();
    let mut others = vec![store];
    let url = format!("redis://127.0.0.1:{store_port}");
    for id in 1..=n {
        let port = free_port().map_err(|e| e.to_string())?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut c = serve_command(spec, port);
        c.args(["--cluster-store", &url, "--node-id", &id.to_string(), "--cluster-bind", "127.0.0.1:0"]);
        c.arg("--cluster-secret-file").arg(&secret);
        c.args(&spec.server_flags);
        let log = dir.join(format!("node{id}.log"));
        let stderr = std::fs::File::create(&log).map(Stdio::from).unwrap_or_else(|_| Stdio::null());
        let spawned = c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr).spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                stop(others.into_iter().chain(nodes.into_iter().map(|(c, _)| c)));
                return Err(format!("cannot start node {id}: {e}"));
            }
        };
        if let Err(e) = wait_ready(addr, &mut child) {
            stop(others.into_iter().chain(nodes.into_iter().map(|(c, _)| c)).chain([child]));
            return Err(format!("node {id}: {e} (log: {})", log.display()));
        }
        nodes.push((child, addr));
    }
    let addrs: Vec<SocketAddr> = nodes.iter().map(|(_, a)| *a).collect();
    let mut nodes = nodes.into_iter().map(|(c, _)| c);
    let Some(child) = nodes.next() else { return Err("no node".into()) };
    others.extend(nodes);
    Ok(Target { child, addr: addrs[0], addrs, others })
}

fn stop(children: impl IntoIterator<Item = Child>) {
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
}
