//! Test support for the operations side: a minimal HTTP/1.0 GET over loopback (status and body),
//! the metrics address a server logs, exposition parsing, and the rule for tests that need system
//! packages or root (skip with a reason, except under CI=true where they must run).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// `GET path` at `addr`: the status code and the body; `None` on any failure within 5 s.
pub fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_owned()))
}

/// Polls `GET path` until `pred` holds for the answer (bounded by `within`); the last answer.
pub fn poll_get(
    addr: SocketAddr,
    path: &str,
    within: Duration,
    mut pred: impl FnMut(u16, &str) -> bool,
) -> Option<(u16, String)> {
    let end = Instant::now() + within;
    let mut last = None;
    while Instant::now() < end {
        if let Some((code, body)) = get(addr, path) {
            if pred(code, &body) {
                return Some((code, body));
            }
            last = Some((code, body));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    last
}

/// The metrics address in a `metrics on http://ADDR/metrics` log line.
pub fn metrics_addr(line: &str) -> SocketAddr {
    let rest =
        line.split("metrics on http://").nth(1).unwrap_or_else(|| panic!("no metrics address in {line:?}"));
    rest.split('/')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("bad metrics address in {line:?}"))
}

/// The samples of a classic text exposition: `name{labels}` (as written) → value.
pub fn samples(exposition: &str) -> HashMap<String, f64> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// Whether a test that needs `what` (root, a system package) may skip: prints why and returns
/// true when not under CI=true; under CI=true it panics, since CI must run it.
pub fn skip_unless(available: bool, what: &str) -> bool {
    if available {
        return false;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but {what} is not available (scripts/test installs it)");
    }
    eprintln!("SKIPPED: {what} is not available (run scripts/test as root to install it)");
    true
}

/// Whether `cmd` is found on PATH (or is an existing path).
pub fn have(cmd: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}
