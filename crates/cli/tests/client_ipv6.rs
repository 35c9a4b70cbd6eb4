//! IPv6 through the real binaries on loopback: a server on `--bind ::` (one dual-stack socket)
//! serves an IPv6-only session of two of our clients (`--server [::1]:PORT`: the clients bind
//! `[::]:0`), and the Godot double, on IPv4 in a session with one of our clients on IPv6, never
//! reads IPv6 text: it is given the IPv4 peers only, or, when no common family bridges it to its
//! peers, `error:session_non_existent` (and our IPv6 client `error:no_common_family`; a client of
//! ours that has not sent `e:` by the start counts as a Godot peer and gets the Godot answer). Each test
//! is skipped (a line on stderr) where the machine has no IPv6 loopback.

mod support;

use std::net::UdpSocket;
use std::time::Duration;
use support::godot_double::godot;
use support::player::Player;
use support::{dual_stack_server, Server};

const WAIT: Duration = Duration::from_secs(45);

#[test]
fn two_of_our_clients_connect_over_ipv6_only() {
    let Some((_server, _v4, v6)) = dual_stack_server() else { return };
    let script = ["--send", "hi", "--expect", "1"];
    let mut host = Player::host(v6, "SixS", "Alice", 2, &script);
    assert!(host.wait_stderr("in the session", Duration::from_secs(10)), "{}", host.dump());
    let mut join = Player::join(v6, "SixS", "Bob", &script);
    for (p, peer) in [(&mut host, "Bob"), (&mut join, "Alice")] {
        assert_eq!(p.wait(WAIT), Some(0), "{}", p.dump());
        let done = p.line_fields("punch-done").unwrap_or_else(|| panic!("{}", p.dump()));
        assert_eq!(done[0].1, "1/1", "{}", p.dump());
        assert!(
            p.stdout().iter().any(|l| l.starts_with(&format!("connected peer={peer} addr=[::1]:"))),
            "a direct IPv6 path\n{}",
            p.dump()
        );
        assert!(p.stdout().iter().any(|l| l.ends_with(": hi")), "{}", p.dump());
    }
}

#[test]
fn the_godot_double_is_given_only_the_ipv4_peers() {
    // Our host on IPv4, the Godot double (IPv4) and one of ours on IPv6: the double's s: lists the
    // host alone, in dotted IPv4, and it connects to it as it does on an IPv4 server.
    let Some((_server, v4, v6)) = dual_stack_server() else { return };
    let host = Player::host(v4, "MixS", "Host", 3, &[]);
    assert!(host.wait_stderr("in the session", Duration::from_secs(10)), "{}", host.dump());
    let g = godot(v4, "MixS", "Godot", None, 0);
    std::thread::sleep(Duration::from_millis(300));
    let six = Player::join(v6, "MixS", "Six", &[]);
    let result = g.join();
    let start = result.start_message.clone().unwrap_or_else(|| panic!("no s: {result:?}\n{}", host.dump()));
    assert!(!start.contains('[') && !start.contains("::"), "IPv6 text reached the Godot double: {start:?}");
    let entries: Vec<&str> = start.splitn(3, ':').nth(2).unwrap_or("").split(';').collect();
    assert_eq!(entries.len(), 1, "the host only: {start:?}");
    assert!(entries[0].starts_with("Host:127.0.0.1:"), "{start:?}");
    assert!(result.ok, "the Godot client connected to our host: {result:?}\n{}", host.dump());
    drop(six);
}

#[test]
fn an_ipv6_host_of_ours_and_an_ipv4_godot_client_fail_with_clear_errors() {
    // No family in common: the Godot client reads session_non_existent (never an s: it cannot
    // split, nor one without its host), our host no_common_family.
    let Some((_server, v4, v6)) = dual_stack_server() else { return };
    let mut six = Player::host(v6, "NoneS", "Six", 2, &[]);
    assert!(six.wait_stderr("in the session", Duration::from_secs(10)), "{}", six.dump());
    let result = godot(v4, "NoneS", "Godot", None, 0).join();
    assert!(!result.ok, "{result:?}");
    assert_eq!(result.error.as_deref(), Some("session_non_existent"), "{result:?}");
    assert_eq!(result.start_message, None, "{result:?}");
    assert_ne!(six.wait(WAIT), Some(0), "{}", six.dump());
    assert!(six.dump().contains("error:no_common_family"), "{}", six.dump());
}

#[test]
fn an_ipv4_and_an_ipv6_client_of_ours_connect_through_the_relay() {
    // The server knows one address per player; between families no direct path exists yet, and
    // the relay (which listens on both) carries the pair.
    let Some((_server, v4, v6)) = dual_stack_server() else { return };
    let script = ["--send", "hi", "--expect", "1"];
    let mut host = Player::host(v4, "CrossS", "Four", 2, &script);
    assert!(host.wait_stderr("in the session", Duration::from_secs(10)), "{}", host.dump());
    let mut join = Player::join(v6, "CrossS", "Six", &script);
    for (p, peer) in [(&mut host, "Six"), (&mut join, "Four")] {
        assert_eq!(p.wait(WAIT), Some(0), "{}", p.dump());
        let connected = p.line_fields("connected").unwrap_or_else(|| panic!("{}", p.dump()));
        assert_eq!(connected[0].1, peer, "{}", p.dump());
        assert!(connected.iter().any(|(k, v)| k == "method" && v == "relay"), "{}", p.dump());
        assert!(p.stdout().iter().any(|l| l.ends_with(": hi")), "{}", p.dump());
    }
    // The IPv4 player never tries to send to the IPv6 address from its IPv4 socket (every such
    // datagram would fail with EAFNOSUPPORT and be reported as a lost send).
    let all = [host.stdout(), host.stderr()].concat();
    assert!(
        !all.iter().any(|l| l.contains("send-failed") || l.contains("could not be sent")),
        "{}",
        host.dump()
    );
}

#[test]
fn an_ipv4_bind_for_an_ipv6_server_is_refused_at_once() {
    let Some((_server, _v4, v6)) = dual_stack_server() else { return };
    let server = v6.to_string();
    let mut p =
        Player::with_args("Six", &["join", "BadS", "Six", "--server", &server, "--bind", "127.0.0.1:0"]);
    assert_ne!(p.wait(Duration::from_secs(10)), Some(0), "{}", p.dump());
    assert!(p.dump().contains("is IPv4 and the server [::1]:"), "{}", p.dump());
}

#[test]
fn a_client_on_a_dual_stack_socket_talks_ipv4_as_plain_ipv4() {
    // `--bind [::]:0` with an IPv4 server: the server and the IPv4 peer answer from IPv4-mapped
    // addresses, which the client reads as plain IPv4 (else it would not recognise its server).
    let Some((_server, v4, _v6)) = dual_stack_server() else { return };
    let server = v4.to_string();
    let script = ["--send", "hi", "--expect", "1"];
    let mut host = Player::with_args(
        "Dual",
        &[
            "host", "DualS", "Dual", "--max", "2", "--server", &server, "--bind", "[::]:0", "--send", "hi",
            "--expect", "1",
        ],
    );
    assert!(host.wait_stderr("in the session", Duration::from_secs(10)), "{}", host.dump());
    let mut join = Player::join(v4, "DualS", "Four", &script);
    for (p, peer) in [(&mut host, "Four"), (&mut join, "Dual")] {
        assert_eq!(p.wait(WAIT), Some(0), "{}", p.dump());
        assert!(
            p.stdout().iter().any(|l| l.starts_with(&format!("connected peer={peer} addr=127.0.0.1:"))),
            "{}",
            p.dump()
        );
    }
}

#[test]
fn nat_probes_both_ports_of_a_dual_stack_server_in_either_family() {
    // The alternate STUN port follows --bind: on `::` (here given as the list `0.0.0.0,::`) it
    // answers IPv4 and IPv6. `nat` binds in the server's family by default.
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here: test skipped");
        return;
    }
    let port = (0..20)
        .map(|_| support::free_udp_port())
        .find(|p| UdpSocket::bind(("::", p + 1)).is_ok() && UdpSocket::bind(("::", *p)).is_ok())
        .expect("two free ports in a row");
    let port_text = port.to_string();
    let _server = Server::start_args(
        &["serve", "--bind", "0.0.0.0,::", "--port", &port_text, "--no-log-file"],
        &std::env::temp_dir(),
    );
    for server in [format!("[::1]:{port}"), format!("127.0.0.1:{port}")] {
        let out = std::process::Command::new(support::BIN)
            .args(["nat", "--server", &server, "--verbose"])
            .output()
            .expect("run nat");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(0), "{server}: {text}{}", String::from_utf8_lossy(&out.stderr));
        // IPv6 says what to expect instead of a NAT: a stateful firewall.
        let verdict = if server.starts_with('[') {
            "no NAT over IPv6: the server sees"
        } else {
            "no NAT: the server sees"
        };
        assert!(text.lines().any(|l| l.starts_with(verdict)), "{server}: {text}");
        assert!(text.lines().any(|l| l.starts_with("nat mapping=independent")), "{server}: {text}");
    }
}
