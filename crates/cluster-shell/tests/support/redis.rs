//! A test-owned Redis: `redis-server` on a free loopback port, nothing on disk, started as a
//! child and stopped by its PID (kill, then wait). Ready once it prints that it accepts
//! connections (read from its output, bounded in time: no polling, no sleep).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a Redis may take to start.
const START_WAIT: Duration = Duration::from_secs(10);

/// A running `redis-server`; stopped when dropped.
pub struct Redis {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

/// Whether a test that needs `redis-server` must skip: it is not installed and this is not CI
/// (under `CI=true` it must run: `scripts/test` installs it, so its absence panics).
pub fn skip() -> bool {
    let have = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if have {
        return false;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but redis-server is not installed (scripts/test installs it)");
    }
    eprintln!(
        "SKIPPED: redis-server is not installed (apt-get install redis-server, or scripts/test as root)"
    );
    true
}

/// A TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Redis {
    /// Starts one on a free port.
    pub fn start() -> Redis {
        Redis::start_on(free_port())
    }

    /// Starts one on `port` (again on the same port after [`Redis::stop`]).
    pub fn start_on(port: u16) -> Redis {
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--loglevel", "notice"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (apt-get install redis-server)");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if line.contains("Ready to accept connections") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(START_WAIT).expect("redis-server did not start");
        Redis { child: Some(child), port }
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops it (SIGKILL by PID, then waits for it).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
