//! A target of `rhp-bench run` and `relay` as a process: an echo floor or the server on a free
//! loopback port, started and known to answer before the load begins, stopped by PID when dropped
//! (a cluster's processes too: see `cluster.rs`).

use crate::procfs;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A started target: its process (a cluster's node 1), and for a cluster the other nodes and
/// the store.
pub(crate) struct Target {
    pub child: Child,
    pub addr: SocketAddr,
    /// Every node's main address (the workers are spread over them); `[addr]` for one process.
    pub addrs: Vec<SocketAddr>,
    /// A cluster's other processes (the store first), counted in the target's CPU and memory.
    pub others: Vec<Child>,
}

impl Target {
    /// Every process of the target.
    pub(crate) fn pids(&self) -> Vec<u32> {
        std::iter::once(self.child.id()).chain(self.others.iter().map(Child::id)).collect()
    }

    /// A /proc/PID/status figure summed over the target's processes.
    pub(crate) fn status_bytes(&self, field: &str) -> u64 {
        self.pids().into_iter().filter_map(|p| procfs::status_bytes(p, field)).sum()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        for c in std::iter::once(&mut self.child).chain(self.others.iter_mut()) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub(crate) fn free_port() -> std::io::Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Sends a probe until the target answers anything (bounded), so it is known to be serving.
pub(crate) fn wait_ready(addr: SocketAddr, child: &mut Child) -> Result<(), String> {
    let sock = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_millis(50))).map_err(|e| e.to_string())?;
    let mut buf = [0u8; 256];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("target exited: {status}"));
        }
        // Long enough that even a budgeted server may answer it (error:invalid_request).
        let _ = sock.send_to(b"rhp-bench-probe-without-a-colon-so-it-is-invalid", addr);
        if sock.recv_from(&mut buf).is_ok() {
            return Ok(());
        }
    }
    Err(format!("no answer from {addr} within 10 s"))
}

/// What to start as a target: an echo floor (`naive`, `batch`) or the server with `server_flags`
/// after the common ones.
pub(crate) struct TargetSpec<'a> {
    pub name: &'a str,
    pub server_bin: PathBuf,
    pub server_flags: Vec<String>,
    /// The echo floors stop by themselves after this long.
    pub max_secs: u64,
    /// Nice value for the target (0: leave it).
    pub nice: i32,
    /// The loader's players share a few loopback addresses (the old mode): the server exempts
    /// loopback from the budget and lifts the per-IP caps. Otherwise every player has its own
    /// address and the server budgets loopback (`--reflection-loopback`), default caps.
    pub shared_ips: bool,
}

/// `serve` on 127.0.0.1:`port` as every server target runs it (a cluster node adds its own flags,
/// then `spec.server_flags`).
pub(crate) fn serve_command(spec: &TargetSpec, port: u16) -> Command {
    let mut c = Command::new(&spec.server_bin);
    c.args(["serve", "--bind", "127.0.0.1", "--port", &port.to_string(), "--no-log-file"]);
    c.args(["--log-level", "warn", "--player-timeout-ms", "60000"]);
    if spec.shared_ips {
        // The loader's players share a few loopback addresses: lift the per-IP caps.
        c.args(["--create-rate", "0", "--max-sessions-per-ip", "0", "--max-players-per-ip", "0"]);
    } else {
        // Production-shaped: one address per player, the budget applied to them.
        c.arg("--reflection-loopback");
    }
    c
}

/// Starts a target as its own process on a free loopback port and waits until it answers.
pub(crate) fn spawn_target(spec: &TargetSpec) -> Result<Target, String> {
    let name = spec.name;
    let port = free_port().map_err(|e| e.to_string())?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let max_secs = spec.max_secs.to_string();
    let mut cmd = match name {
        "naive" | "batch" => {
            let mut c = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
            c.args(["echo", "--mode", name, "--bind", &addr.to_string(), "--max-secs", &max_secs]);
            c
        }
        _ => {
            let mut c = serve_command(spec, port);
            c.args(&spec.server_flags);
            c
        }
    };
    let log = std::env::temp_dir().join(format!("rhp-bench-{name}-{}.log", std::process::id()));
    let stderr = std::fs::File::create(&log).map(Stdio::from).unwrap_or_else(|_| Stdio::null());
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    if spec.nice != 0 {
        // SAFETY: setpriority on our own child's pid; no memory is passed.
        let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, child.id(), spec.nice) };
        if rc != 0 {
            eprintln!("  cannot renice {name}: {}", std::io::Error::last_os_error());
        }
    }
    match wait_ready(addr, &mut child) {
        Ok(()) => Ok(Target { child, addr, addrs: vec![addr], others: Vec::new() }),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!("{name}: {e} (log: {})", log.display()))
        }
    }
}
