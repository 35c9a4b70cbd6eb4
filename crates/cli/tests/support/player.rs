//! A `rabid-hole-punch host`/`join` process under test: its stdout and stderr lines are collected
//! as they come, every wait is bounded, and the child is killed on drop.

use super::BIN;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One player process.
pub struct Player {
    pub name: String,
    child: Child,
    /// Its stdin, kept open as a person's terminal is (end of input would make it leave).
    stdin: Option<std::process::ChildStdin>,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
    status: Option<i32>,
}

fn collect(stream: impl std::io::Read + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Ok(mut v) = into.lock() {
                v.push(line);
            }
        }
    });
}

/// The loopback address of `server`'s family, any port.
fn loopback(server: SocketAddr) -> &'static str {
    if server.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    }
}

impl Player {
    fn spawn(name: &str, args: Vec<String>) -> Player {
        let mut child = Command::new(BIN)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rabid-hole-punch host/join");
        let stdin = child.stdin.take();
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().expect("stdout piped"), out.clone());
        collect(child.stderr.take().expect("stderr piped"), err.clone());
        Player { name: name.to_owned(), child, stdin, out, err, status: None }
    }

    /// Types `line` (and Enter) on its stdin.
    pub fn type_line(&mut self, line: &str) {
        if let Some(stdin) = &mut self.stdin {
            let _ = writeln!(stdin, "{line}").and_then(|()| stdin.flush());
        }
    }

    /// Closes its stdin (end of input, as Ctrl-D on a terminal).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `host <session> <name> --max <max> --server <server> --bind 127.0.0.1:0 <extra>` (`[::1]:0`
    /// for an IPv6 server).
    pub fn host(server: SocketAddr, session: &str, name: &str, max: u8, extra: &[&str]) -> Player {
        let mut args: Vec<String> =
            ["host", session, name, "--max", &max.to_string()].iter().map(|s| s.to_string()).collect();
        args.extend(["--server".into(), server.to_string(), "--bind".into(), loopback(server).into()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        Player::spawn(name, args)
    }

    /// `join <session> <name> --server <server> --bind 127.0.0.1:0 <extra>` (`[::1]:0` for an IPv6
    /// server).
    pub fn join(server: SocketAddr, session: &str, name: &str, extra: &[&str]) -> Player {
        let mut args: Vec<String> = ["join", session, name].iter().map(|s| s.to_string()).collect();
        args.extend(["--server".into(), server.to_string(), "--bind".into(), loopback(server).into()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        Player::spawn(name, args)
    }

    /// The binary with exactly `args` (e.g. `join` with a fixed `--bind`).
    pub fn with_args(name: &str, args: &[&str]) -> Player {
        Player::spawn(name, args.iter().map(|s| s.to_string()).collect())
    }

    /// Waits (bounded) for the exit; `None` if it is still running (it keeps running; drop kills).
    pub fn wait(&mut self, within: Duration) -> Option<i32> {
        if self.status.is_some() {
            return self.status;
        }
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the reader threads catch the last lines.
                std::thread::sleep(Duration::from_millis(50));
                self.status = Some(status.code().unwrap_or(-1));
                return self.status;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// True once the process has exited.
    pub fn exited(&mut self) -> bool {
        self.status.is_some() || matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits (bounded) until a stderr line contains `needle`.
    pub fn wait_stderr(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.stderr().iter().any(|l| l.contains(needle)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    pub fn stdout(&self) -> Vec<String> {
        self.out.lock().map(|v| v.clone()).unwrap_or_default()
    }

    pub fn stderr(&self) -> Vec<String> {
        self.err.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Everything it printed, for assertion messages.
    pub fn dump(&self) -> String {
        format!(
            "--- {} stdout:\n{}\n--- {} stderr:\n{}\n",
            self.name,
            self.stdout().join("\n"),
            self.name,
            self.stderr().join("\n")
        )
    }

    /// The `key=value` fields of the first stdout line starting with `prefix`.
    pub fn line_fields(&self, prefix: &str) -> Option<Vec<(String, String)>> {
        let line = self.stdout().into_iter().find(|l| l.starts_with(prefix))?;
        Some(
            line.split_whitespace()
                .skip(1)
                .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
                .collect(),
        )
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
