//! The systemd side: the shipped unit passes `systemd-analyze verify` and scores at most 2.0 in
//! `systemd-analyze security --offline=true`; the real binary, run with `NOTIFY_SOCKET` pointing at
//! a Unix datagram socket this test owns (and `WATCHDOG_USEC`), sends READY=1 once its sockets are
//! bound, WATCHDOG=1 while its loop turns, and STOPPING=1 on SIGTERM.

mod support;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::ops::{have, skip_unless};
use support::Server;

/// The shipped unit.
fn unit_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/systemd/rabid-hole-punch.service")
}

/// The shipped unit with ExecStart's binary path pointing at the binary under test (verify checks
/// that the program exists), in a temp dir under the unit's own name.
fn unit_for_test() -> PathBuf {
    let text = std::fs::read_to_string(unit_path()).expect("read the unit");
    assert!(text.contains("ExecStart=/usr/local/bin/rabid-hole-punch serve"), "ExecStart runs serve");
    let dir = support::temp_dir("unit");
    let path = dir.join("rabid-hole-punch.service");
    std::fs::write(&path, text.replace("/usr/local/bin/rabid-hole-punch", support::BIN)).expect("write unit");
    path
}

#[test]
fn the_unit_verifies_and_scores_at_most_2_in_the_security_analysis() {
    if skip_unless(have("systemd-analyze"), "systemd-analyze (Debian package systemd)") {
        return;
    }
    let unit = unit_for_test();
    let out = Command::new("systemd-analyze").arg("verify").arg(&unit).output().expect("run verify");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "systemd-analyze verify: {said}");

    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(&unit)
        .output()
        .expect("run security");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no overall exposure in {text}"));
    let score: f64 = line
        .split(": ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no score in {line:?}"));
    eprintln!("{line}");
    assert!(score <= 2.0, "exposure {score} > 2.0: {text}");
    for needed in [
        "Type=notify",
        "WatchdogSec=",
        "DynamicUser=yes",
        "StateDirectory=",
        "LogsDirectory=",
        "LimitNOFILE=",
    ] {
        assert!(std::fs::read_to_string(unit_path()).unwrap_or_default().contains(needed), "{needed}");
    }
    let _ = std::fs::remove_dir_all(unit.parent().unwrap_or(Path::new("/nonexistent")));
}

/// Reads notifications from `sock` until one contains `what` (bounded); all read so far.
fn wait_for(sock: &UnixDatagram, what: &str, within: Duration, seen: &mut Vec<String>) -> bool {
    let end = Instant::now() + within;
    let mut buf = [0u8; 4096];
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        if sock.set_read_timeout(Some(left.max(Duration::from_millis(1)))).is_err() {
            return false;
        }
        match sock.recv(&mut buf) {
            Ok(n) => {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                let hit = msg.lines().any(|l| l == what);
                seen.push(msg);
                if hit {
                    return true;
                }
            }
            Err(_) => return false,
        }
    }
    false
}

#[test]
fn sd_notify_ready_watchdog_and_stopping_reach_the_service_managers_socket() {
    let dir = support::temp_dir("notify");
    let path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
    let socket_path = path.to_str().expect("utf-8 path");
    let args = ["serve", "--bind", "127.0.0.1", "--port", "0", "--no-log-file", "--metrics", "off"];
    // 200 ms: WATCHDOG=1 every 100 ms.
    let env = [("NOTIFY_SOCKET", socket_path), ("WATCHDOG_USEC", "200000")];
    let mut srv = Server::start_args_env(&args, &dir, &env);
    let mut seen = Vec::new();
    assert!(wait_for(&sock, "READY=1", Duration::from_secs(5), &mut seen), "READY=1: {seen:?}");
    // The sockets are bound when READY=1 is sent: a request is answered.
    let p = srv.peer();
    p.send("h:Notify:Alice:2");
    p.expect("i:Alice");
    for _ in 0..3 {
        assert!(wait_for(&sock, "WATCHDOG=1", Duration::from_secs(2), &mut seen), "WATCHDOG=1: {seen:?}");
    }
    srv.signal("TERM");
    assert!(wait_for(&sock, "STOPPING=1", Duration::from_secs(5), &mut seen), "STOPPING=1: {seen:?}");
    assert_eq!(srv.wait_exit(Duration::from_secs(5)), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_watchdog_pings_without_watchdog_usec() {
    let dir = support::temp_dir("notify-nowd");
    let path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
    let socket_path = path.to_str().expect("utf-8 path");
    let args = ["serve", "--bind", "127.0.0.1", "--port", "0", "--no-log-file", "--metrics", "off"];
    let srv = Server::start_args_env(&args, &dir, &[("NOTIFY_SOCKET", socket_path)]);
    let mut seen = Vec::new();
    assert!(wait_for(&sock, "READY=1", Duration::from_secs(5), &mut seen), "READY=1: {seen:?}");
    assert!(!wait_for(&sock, "WATCHDOG=1", Duration::from_millis(500), &mut seen), "{seen:?}");
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}
