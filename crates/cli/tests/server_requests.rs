//! Black-box: the real `rabid-hole-punch serve` over loopback UDP, one test per request type
//! (`h c p s y k x`), plus malformed and unknown datagrams. Each test starts its own server.

mod support;
use std::time::Duration;
use support::{lobby, Server};

const QUIET: Duration = Duration::from_millis(300);

#[test]
fn h_creates_a_session() {
    let srv = Server::start(&[]);
    let alice = srv.peer();
    alice.ask("h:NiceRoom:Alice:4:Pass", "i:Alice");
    // The host's retransmit is answered again.
    alice.ask("h:NiceRoom:Alice:4:Pass", "i:Alice");
}

#[test]
fn c_joins_and_everyone_gets_the_list() {
    let srv = Server::start(&[]);
    let (alice, bob, carol) = (srv.peer(), srv.peer(), srv.peer());
    alice.ask("h:NiceRoom:Alice:4", "i:Alice");
    bob.ask("c:NiceRoom:Bob", "i:Alice:Bob");
    alice.expect("i:Alice:Bob");
    carol.ask("c:NiceRoom:Carol", "i:Alice:Bob:Carol");
    alice.expect("i:Alice:Bob:Carol");
    bob.expect("i:Alice:Bob:Carol");
}

#[test]
fn p_answers_the_list() {
    let srv = Server::start(&[]);
    let (alice, bob) = (srv.peer(), srv.peer());
    alice.ask("h:Room:Alice:4", "i:Alice");
    bob.ask("c:Room:Bob", "i:Alice:Bob");
    alice.expect("i:Alice:Bob");
    bob.ask("p:Room:Bob", "i:Alice:Bob");
    alice.ask("p:Room:Alice", "i:Alice:Bob");
}

#[test]
fn s_sends_everyone_the_others_addresses() {
    let srv = Server::start(&[]);
    let peers = lobby(&srv, "Room", 4, &["Alice", "Bob", "Carol"]);
    let (alice, bob, carol) = (&peers[0], &peers[1], &peers[2]);
    alice.send("s:Room:Alice");
    let (ea, eb, ec) = (alice.entry("Alice"), bob.entry("Bob"), carol.entry("Carol"));
    alice.expect(&format!("s:{}:{eb};{ec}", alice.port()));
    bob.expect(&format!("s:{}:{ea};{ec}", bob.port()));
    carol.expect(&format!("s:{}:{ea};{eb}", carol.port()));
}

#[test]
fn y_is_accepted_silently() {
    let srv = Server::start(&[]);
    let (alice, bob) = (srv.peer(), srv.peer());
    alice.ask("h:Room:Alice:2", "i:Alice");
    bob.ask("c:Room:Bob", "i:Alice:Bob");
    alice.send("s:Room:Alice");
    assert!(bob.recv().starts_with("s:"));
    bob.send("y:Room:Bob");
    // The y has no reply of its own: whatever Bob still gets is a start message already in flight.
    let rest = bob.drain_timed(QUIET, Duration::from_secs(3));
    assert!(rest.iter().all(|(_, m)| m.starts_with("s:")), "{rest:?}");
    assert!(rest.len() <= 2, "resends go on after y: {rest:?}");
}

#[test]
fn k_removes_the_victim_and_updates_the_rest() {
    let srv = Server::start(&[]);
    let peers = lobby(&srv, "Room", 4, &["Alice", "Bob", "Carol"]);
    let (alice, bob, carol) = (&peers[0], &peers[1], &peers[2]);
    alice.send("k:Room:Bob");
    bob.expect("error:kicked_by_host");
    alice.expect("i:Alice:Carol");
    carol.expect("i:Alice:Carol");
}

#[test]
fn x_leaves_and_the_rest_get_the_new_list() {
    let srv = Server::start(&[]);
    let (alice, bob) = (srv.peer(), srv.peer());
    alice.ask("h:Room:Alice:4", "i:Alice");
    bob.ask("c:Room:Bob", "i:Alice:Bob");
    alice.expect("i:Alice:Bob");
    bob.ask("x:Room:Bob", "error:player_exited_session");
    alice.expect("i:Alice");
}

#[test]
fn malformed_datagrams_get_invalid_request() {
    let srv = Server::start(&[]);
    let p = srv.peer();
    for bad in [&b""[..], b"hello", b"\xff\xfe\xfd", b"h:Room:Alice:13", b"p:Room:Alice:x", &[b'h'; 1500]] {
        p.send_bytes(bad);
        p.expect("error:invalid_request");
    }
}

#[test]
fn unknown_types_get_no_reply() {
    let srv = Server::start(&[]);
    let p = srv.peer();
    for unknown in ["z:foo", "error:session_full", "i:Alice", "g:Bob:1:2"] {
        p.send(unknown);
    }
    p.expect_silence(QUIET);
    // Still alive.
    p.ask("h:Room:Alice:4", "i:Alice");
}
