//! Black-box: `rabid-hole-punch host`/`join` processes through the real server on loopback.
//! Every player sends a line to every other over the punched paths and must get one from each.
//! Names are unique per test (tests run in parallel and the ±8 port windows overlap on loopback).

mod support;

use std::time::Duration;
use support::player::Player;
use support::{Peer, Server};

const WAIT: Duration = Duration::from_secs(40);

fn full_mesh(prefix: &str, n: usize) {
    let server = Server::start(&[]);
    let session = format!("{prefix}S");
    let names: Vec<String> = (0..n).map(|i| format!("{prefix}P{i}")).collect();
    let expect = (n - 1).to_string();
    let mut players = Vec::new();
    let host_msg = format!("from {}", names[0]);
    players.push(Player::host(
        server.addr,
        &session,
        &names[0],
        u8::try_from(n).unwrap(),
        &["--send", &host_msg, "--expect", &expect],
    ));
    assert!(players[0].wait_stderr("in the session", Duration::from_secs(10)), "{}", players[0].dump());
    for name in &names[1..] {
        let msg = format!("from {name}");
        players.push(Player::join(server.addr, &session, name, &["--send", &msg, "--expect", &expect]));
    }
    for p in &mut players {
        let code = p.wait(WAIT);
        assert_eq!(code, Some(0), "{}", p.dump());
    }
    for (i, p) in players.iter().enumerate() {
        let out = p.stdout();
        let done = p.line_fields("punch-done").unwrap_or_else(|| panic!("no punch-done\n{}", p.dump()));
        assert_eq!(done[0], ("connected".to_owned(), format!("{}/{}", n - 1, n - 1)), "{}", p.dump());
        assert!(done[1].0 == "after_start_ms" && done[1].1.parse::<u64>().is_ok());
        for (j, other) in names.iter().enumerate() {
            if i == j {
                continue;
            }
            assert!(
                out.iter().any(|l| l.starts_with(&format!("connected peer={other} addr=127.0.0.1:"))),
                "{} lacks connected {other}\n{}",
                p.name,
                p.dump()
            );
            assert!(
                out.contains(&format!("{other}: from {other}")),
                "{} lacks data from {other}\n{}",
                p.name,
                p.dump()
            );
        }
    }
}

#[test]
fn two_players_connect_and_exchange_data() {
    full_mesh("Two", 2);
}

#[test]
fn three_players_connect_and_exchange_data() {
    full_mesh("Tri", 3);
}

#[test]
fn twelve_players_connect_and_exchange_data() {
    full_mesh("Dz", 12);
}

#[test]
fn wrong_password_is_a_clear_error() {
    let server = Server::start(&[]);
    let host = Player::host(server.addr, "PwS", "PwHost", 2, &["--password", "right1"]);
    assert!(host.wait_stderr("in the session", Duration::from_secs(10)), "{}", host.dump());
    let mut bob = Player::join(server.addr, "PwS", "PwBob", &["--password", "wrong2"]);
    assert_eq!(bob.wait(Duration::from_secs(10)), Some(1), "{}", bob.dump());
    assert!(bob.stderr().iter().any(|l| l.contains("wrong session password")), "{}", bob.dump());
}

#[test]
fn full_session_is_a_clear_error() {
    let server = Server::start(&[]);
    // The host does not start by itself, so the session stays open and full.
    let host = Player::host(server.addr, "FullS", "FullHost", 2, &["--manual-start"]);
    assert!(host.wait_stderr("in the session", Duration::from_secs(10)), "{}", host.dump());
    let bob = Player::join(server.addr, "FullS", "FullBob", &[]);
    assert!(bob.wait_stderr("in the session", Duration::from_secs(10)), "{}", bob.dump());
    let mut carol = Player::join(server.addr, "FullS", "FullCarol", &[]);
    assert_eq!(carol.wait(Duration::from_secs(10)), Some(1), "{}", carol.dump());
    assert!(carol.stderr().iter().any(|l| l.contains("the session is full")), "{}", carol.dump());
}

#[test]
fn invalid_names_are_refused_locally() {
    let server = Server::start(&[]);
    let mut p = Player::join(server.addr, "Bad Name", "Bob", &[]);
    assert_eq!(p.wait(Duration::from_secs(10)), Some(2), "{}", p.dump());
    assert!(p.stderr().iter().any(|l| l.contains("session name")), "{}", p.dump());
    let mut p = Player::host(server.addr, "Ok", "Bob", 13, &[]);
    assert_eq!(p.wait(Duration::from_secs(10)), Some(2), "{}", p.dump());
}

#[test]
fn a_silent_peer_is_reported_and_the_others_finish() {
    let server = Server::start(&[]);
    let quick = ["--peer-timeout-s", "2", "--send", "hello", "--expect", "1"];
    let mut host = Player::host(server.addr, "MuteS", "MuteHost", 3, &quick);
    assert!(host.wait_stderr("in the session", Duration::from_secs(10)), "{}", host.dump());
    let mut bob = Player::join(server.addr, "MuteS", "MuteBob", &quick);
    assert!(bob.wait_stderr("in the session", Duration::from_secs(10)), "{}", bob.dump());
    // A third player that joins and pings but never answers a peer.
    let silent = Peer::new(server.addr);
    silent.send("c:MuteS:MuteSilent");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline && !host.exited() {
        silent.send("p:MuteS:MuteSilent");
        while silent.recv_within(Duration::from_millis(100)).is_some() {}
    }
    for p in [&mut host, &mut bob] {
        assert_eq!(p.wait(WAIT), Some(1), "a failed peer is a failure exit\n{}", p.dump());
        let out = p.stdout();
        assert!(out.contains(&"failed peer=MuteSilent reason=no_reply".to_owned()), "{}", p.dump());
        let done = p.line_fields("punch-done").unwrap();
        assert_eq!(done[0].1, "1/2", "{}", p.dump());
        assert!(out.iter().any(|l| l.ends_with(": hello")), "the two others exchanged data\n{}", p.dump());
        assert!(p.stderr().iter().any(|l| l.contains("MuteSilent")), "{}", p.dump());
    }
}
