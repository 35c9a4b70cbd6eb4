//! Black-box: how `rabid-hole-punch` is invoked as a server: the original's `<port> [DEBUG]`
//! form, no arguments, `--help`, signals, a port in use, the log file and escaped debug logs.

mod support;
use std::net::UdpSocket;
use std::time::Duration;
use support::{free_udp_port, temp_dir, Server};

/// Runs the binary with `args` in `cwd`, bounded by 10 s; returns (exit code, stdout, stderr).
fn run(args: &[&str], cwd: &std::path::Path) -> (Option<i32>, String, String) {
    support::run_env(args, &[], cwd)
}

#[test]
fn no_arguments_prints_usage_and_fails() {
    let dir = temp_dir("noargs");
    let (code, out, err) = run(&[], &dir);
    assert_ne!(code, Some(0));
    assert!(format!("{out}{err}").contains("Usage"), "{out}{err}");
}

#[test]
fn serve_help_explains_every_flag_with_its_default() {
    let dir = temp_dir("help");
    let (code, out, _) = run(&["serve", "--help"], &dir);
    assert_eq!(code, Some(0));
    for flag in [
        "--port",
        "--bind",
        "--log-level",
        "--log-file",
        "--no-log-file",
        "--player-timeout-ms",
        "--session-lifetime-s",
        "--start-rounds",
        "--start-interval-ms",
        "--error-repeats",
        "--error-interval-ms",
    ] {
        assert!(out.contains(flag), "{flag} missing from:\n{out}");
    }
    for default in ["57775", "0.0.0.0", "rabid-hole-punch.log", "5000", "900", "[default: 8]", "100", "50"] {
        assert!(out.contains(default), "default {default} missing from:\n{out}");
    }
}

#[test]
fn legacy_port_argument_serves_and_writes_the_log_file() {
    let dir = temp_dir("legacy");
    let port = free_udp_port();
    let srv = Server::start_args(&[&port.to_string()], &dir);
    assert_eq!(srv.addr.port(), port);
    srv.peer().ask("h:Room:Alice:4", "i:Alice");
    assert!(srv.wait_log("session Room: created", Duration::from_secs(5)).is_some());
    let log = std::fs::read_to_string(dir.join("rabid-hole-punch.log")).expect("log file in the working dir");
    assert!(log.contains("listening on udp://"), "{log}");
    assert!(log.contains(" - INFO - "), "format time - name - LEVEL - message: {log}");
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn legacy_debug_logs_every_datagram_escaped() {
    let dir = temp_dir("legacy-debug");
    let port = free_udp_port();
    let srv = Server::start_args(&[&port.to_string(), "DEBUG"], &dir);
    let p = srv.peer();
    p.send_bytes(b"p:x\n2026-01-01 - rhp - INFO - forged\x1b[0m");
    p.expect("error:invalid_request");
    let line = srv.wait_log("forged", Duration::from_secs(5)).expect("datagram logged at DEBUG");
    assert!(line.contains("DEBUG"), "{line}");
    assert!(line.contains("p:x\\n2026-01-01"), "newline escaped: {line}");
    assert!(line.contains("\\u{1b}[0m"), "escape escaped: {line}");
    assert!(srv.wait_log("error:invalid_request", Duration::from_secs(5)).is_some(), "outgoing logged");
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn info_level_does_not_log_datagrams() {
    let srv = Server::start(&[]);
    let p = srv.peer();
    p.ask("p:Room:Alice", "error:session_non_existent");
    p.ask("h:Room:Alice:4", "i:Alice");
    assert!(srv.wait_log("session Room: created", Duration::from_secs(5)).is_some());
    // Nothing between: the created line came without a DEBUG line about the datagrams before it.
    while let Ok(line) = srv.log.try_recv() {
        assert!(!line.contains("DEBUG"), "{line}");
    }
}

#[test]
fn sigterm_stops_it_with_exit_0() {
    let mut srv = Server::start(&[]);
    srv.peer().ask("h:Room:Alice:4", "i:Alice");
    srv.signal("TERM");
    assert_eq!(srv.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn sigint_stops_it_with_exit_0() {
    let mut srv = Server::start(&[]);
    srv.signal("INT");
    assert_eq!(srv.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn a_port_in_use_is_a_one_line_error() {
    let dir = temp_dir("inuse");
    let taken = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let (code, _, err) = run(&["serve", "--bind", "127.0.0.1", "--port", &port, "--no-log-file"], &dir);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot listen on udp://127.0.0.1:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn bad_flags_are_refused() {
    let dir = temp_dir("badflags");
    for args in [
        &["serve", "--port", "70000"][..],
        &["serve", "--log-level", "loud"],
        &["serve", "--bind", "nowhere"],
        &["serve", "--start-rounds", "0"],
    ] {
        let (code, _, err) = run(args, &dir);
        assert_eq!(code, Some(2), "{args:?}: {err}");
    }
    let (code, _, err) = run(&["serve", "--no-log-file", "--log-file", "x.log"], &dir);
    assert_ne!(code, Some(0), "{err}");
}

#[test]
fn serve_help_is_grouped_like_the_readme_with_one_placeholder_style() {
    let dir = temp_dir("help-groups");
    let (code, out, _) = run(&["serve", "--help"], &dir);
    assert_eq!(code, Some(0));
    let headings = [
        "Socket:",
        "Protocol timers",
        "Anti-reflection budget",
        "Caps",
        "NAT traversal and relay",
        "Logging:",
        "Configuration:",
    ];
    let mut at = 0;
    for h in headings {
        let pos =
            out[at..].find(h).unwrap_or_else(|| panic!("heading {h:?} missing or out of order:\n{out}"));
        at += pos;
    }
    // Each flag under its heading.
    let section = |h: &str| -> &str {
        // From the heading to the next one (a line that starts at the margin and ends with ':').
        let start = out.find(h).unwrap_or(0);
        let next = out[start..]
            .match_indices('\n')
            .map(|(i, _)| start + i + 1)
            .find(|&i| out[i..].lines().next().is_some_and(|l| !l.starts_with(' ') && l.ends_with(':')));
        &out[start..next.unwrap_or(out.len())]
    };
    assert!(section("Caps").contains("--create-rate <N>"), "{out}");
    assert!(section("NAT traversal").contains("--relay-rate <BYTES>"), "{out}");
    assert!(section("Protocol timers").contains("--player-timeout-ms <MS>"), "{out}");
    assert!(section("Socket:").contains("--bind <ADDR>"), "{out}");
    assert!(section("Configuration:").contains("--config <FILE>"), "{out}");
    // One placeholder style: short words from one list.
    for word in out.split('<').skip(1).filter_map(|s| s.split_once('>')).map(|(w, _)| w) {
        assert!(
            ["N", "MS", "S", "BYTES", "PORT", "ADDR", "LEVEL", "FILE", "FORMAT", "FLAG", "PORT> [DEBUG"]
                .contains(&word),
            "placeholder <{word}> in:\n{out}"
        );
    }
    // No wire jargon without a word of explanation.
    for jargon in ["recvmmsg", "sendmmsg", "fails closed", " h:", " c:", " r:", "h:/c:", "SO_RCVBUF"] {
        assert!(!out.contains(jargon), "{jargon:?} in:\n{out}");
    }
    // A default is never cut across two lines.
    for line in out.lines() {
        if let Some(rest) = line.split("[default:").nth(1) {
            assert!(rest.contains(']'), "default cut at {line:?}");
        }
    }
    // Examples, the environment, the legacy form.
    assert!(out.contains("Examples:"), "{out}");
    assert!(out.contains("rabid-hole-punch serve --port"), "{out}");
    assert!(out.contains("RHP_CREATE_RATE"), "{out}");
    assert!(out.contains("rabid-hole-punch <PORT> [DEBUG]"), "{out}");
}

#[test]
fn a_bad_positional_suggests_the_right_form() {
    let dir = temp_dir("positional");
    let (code, _, err) = run(&["serve", "57810"], &dir);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("rabid-hole-punch serve --port 57810"), "{err}");
    assert!(err.contains("rabid-hole-punch 57810"), "{err}");
    let (code, _, err) = run(&["57810", "debug"], &dir);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("rabid-hole-punch 57810 DEBUG"), "{err}");
    assert!(err.contains("rabid-hole-punch serve --port 57810 --log-level debug"), "{err}");
    let (code, _, err) = run(&["57810", "verbose"], &dir);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("<PORT> [DEBUG]"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
