//! Dual-stack clients through the real binaries on loopback (`127.0.0.1` and `::1`), against a
//! server on `--bind ::`: a client given both of the server's addresses (`--server
//! 127.0.0.1:P,[::1]:P`) announces its IPv6 address with `v:`, and two such players reach each
//! other over IPv6 while an IPv4-only player in the same session reaches both over IPv4; the Godot
//! double in a session with a dual-stack player of ours sees IPv4 only; `nat` reports each family.
//! Each test is skipped (a line on stderr) where the machine has no IPv6 loopback.

mod support;

use std::net::{Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;
use support::godot_double::godot;
use support::player::Player;
use support::{dual_stack_server, Server};

const WAIT: Duration = Duration::from_secs(45);

/// `host`/`join` (`role_args`) with the server's addresses in both families and no `--bind`.
fn dual_player(name: &str, role_args: &[&str], v4: SocketAddr, v6: SocketAddr, extra: &[&str]) -> Player {
    let servers = format!("{v4},{v6}");
    let mut args: Vec<&str> = role_args.to_vec();
    args.extend(["--server", &servers]);
    args.extend(extra);
    Player::with_args(name, &args)
}

/// The `connected` line's address for `peer` in `p`'s output.
fn path_to(p: &Player, peer: &str) -> String {
    let prefix = format!("connected peer={peer} addr=");
    p.stdout()
        .iter()
        .find_map(|l| l.strip_prefix(&prefix).map(|rest| rest.split(' ').next().unwrap_or("").to_owned()))
        .unwrap_or_else(|| panic!("no direct path to {peer}\n{}", p.dump()))
}

#[test]
fn dual_stack_players_meet_over_ipv6_and_an_ipv4_only_player_over_ipv4() {
    let Some((_server, v4, v6)) = dual_stack_server() else { return };
    let script = ["--send", "hi", "--expect", "2"];
    let mut four = Player::host(v4, "MixedS", "Four", 3, &script);
    assert!(four.wait_stderr("in the session", Duration::from_secs(10)), "{}", four.dump());
    let mut bob = dual_player("Bob", &["join", "MixedS", "Bob"], v4, v6, &script);
    assert!(bob.wait_stderr("dual-stack", Duration::from_secs(10)), "{}", bob.dump());
    let mut carol = dual_player("Carol", &["join", "MixedS", "Carol"], v4, v6, &script);
    for p in [&mut four, &mut bob, &mut carol] {
        assert_eq!(p.wait(WAIT), Some(0), "{}", p.dump());
        let done = p.line_fields("punch-done").unwrap_or_else(|| panic!("{}", p.dump()));
        assert_eq!(done[0].1, "2/2", "{}", p.dump());
        assert_eq!(p.stdout().iter().filter(|l| l.ends_with(": hi")).count(), 2, "{}", p.dump());
    }
    // Between the two dual-stack players: IPv6 (greeted first); with the IPv4-only one: IPv4.
    assert!(path_to(&bob, "Carol").starts_with("[::1]:"), "{}", bob.dump());
    assert!(path_to(&carol, "Bob").starts_with("[::1]:"), "{}", carol.dump());
    for (p, peer) in [(&bob, "Four"), (&carol, "Four"), (&four, "Bob"), (&four, "Carol")] {
        assert!(path_to(p, peer).starts_with("127.0.0.1:"), "{}", p.dump());
    }
    // The IPv4-only player was never sent IPv6 text nor tried to send to an IPv6 address.
    let all = [four.stdout(), four.stderr()].concat();
    assert!(
        !all.iter().any(|l| l.contains("could not be sent") || l.contains("send-failed")),
        "{}",
        four.dump()
    );
}

#[test]
fn the_godot_double_with_a_dual_stack_host_of_ours_sees_only_ipv4() {
    let Some((_server, v4, v6)) = dual_stack_server() else { return };
    let host = dual_player("Dual", &["host", "GdS", "Dual", "--max", "2"], v4, v6, &[]);
    assert!(host.wait_stderr("in the session", Duration::from_secs(10)), "{}", host.dump());
    let result = godot(v4, "GdS", "Godot", None, 0).join();
    let start = result.start_message.clone().unwrap_or_else(|| panic!("no s: {result:?}\n{}", host.dump()));
    assert!(!start.contains('[') && !start.contains("::"), "IPv6 text reached the Godot double: {start:?}");
    let entries: Vec<&str> = start.splitn(3, ':').nth(2).unwrap_or("").split(';').collect();
    assert_eq!(entries.len(), 1, "the host once, in IPv4: {start:?}");
    assert!(entries[0].starts_with("Dual:127.0.0.1:"), "{start:?}");
    assert!(result.ok, "the Godot client connected to our host: {result:?}\n{}", host.dump());
}

/// A dual-stack server on fixed free ports, its second STUN port where the client looks for it
/// (port + 1) in both families.
fn dual_stack_server_with_alt() -> Option<(Server, SocketAddr, SocketAddr)> {
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here: test skipped");
        return None;
    }
    for _ in 0..50 {
        let port = support::free_udp_port();
        let alt_free =
            UdpSocket::bind(("127.0.0.1", port + 1)).is_ok() && UdpSocket::bind(("::1", port + 1)).is_ok();
        if alt_free {
            let p = port.to_string();
            let server = Server::start_args(
                &["serve", "--bind", "::", "--port", &p, "--no-log-file"],
                &std::env::temp_dir(),
            );
            let v6 = SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port);
            return Some((server, SocketAddr::from(([127, 0, 0, 1], port)), v6));
        }
    }
    panic!("no two free consecutive UDP ports in 50 tries");
}

#[test]
fn nat_reports_each_family() {
    let Some((_server, v4, v6)) = dual_stack_server_with_alt() else { return };
    let servers = format!("{v4},{v6}");
    let mut p = Player::with_args("nat", &["nat", "--server", &servers]);
    assert_eq!(p.wait(Duration::from_secs(20)), Some(0), "{}", p.dump());
    let out = p.stdout().join("\n");
    assert!(out.contains("IPv4:") && out.contains("IPv6:"), "{out}");
    assert!(out.contains("no NAT over IPv6") && out.contains("stateful firewall is likely"), "{out}");
    let mut j = Player::with_args("nat", &["nat", "--server", &servers, "--json"]);
    assert_eq!(j.wait(Duration::from_secs(20)), Some(0), "{}", j.dump());
    let v: serde_json::Value =
        serde_json::from_str(&j.stdout().join("")).unwrap_or_else(|e| panic!("{e}: {}", j.dump()));
    assert_eq!(v["public"].as_str().map(|s| s.starts_with("127.0.0.1:")), Some(true), "{v}");
    assert_eq!(v["ipv6"]["public"].as_str().map(|s| s.starts_with("[::1]:")), Some(true), "{v}");
    assert_eq!(v["ipv6"]["nat"], serde_json::Value::Bool(false), "{v}");
}

#[test]
fn a_bad_server_list_is_refused_with_a_clear_error() {
    for list in ["127.0.0.1:1,", "127.0.0.1:1,nosuchhost.invalid:1"] {
        let mut p = Player::with_args("bad", &["join", "S", "Bob", "--server", list]);
        assert_eq!(p.wait(Duration::from_secs(20)), Some(2), "{}", p.dump());
        assert!(p.dump().contains("--server") || p.dump().contains("cannot resolve"), "{}", p.dump());
    }
}
