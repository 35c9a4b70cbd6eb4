//! Black-box: one test per `error:` code of the seed README, each provoked over real UDP.

mod support;
use std::time::Duration;
use support::{lobby, Server};

#[test]
fn invalid_request() {
    let srv = Server::start(&[]);
    srv.peer().ask("h:Room", "error:invalid_request");
}

#[test]
fn session_exists() {
    let srv = Server::start(&[]);
    srv.peer().ask("h:Room:Alice:4", "i:Alice");
    srv.peer().ask("h:Room:Bob:4", "error:session_exists");
}

#[test]
fn session_non_existent() {
    let srv = Server::start(&[]);
    srv.peer().ask("c:Nowhere:Bob", "error:session_non_existent");
}

#[test]
fn password_mismatch() {
    let srv = Server::start(&[]);
    srv.peer().ask("h:Room:Alice:4:Secret", "i:Alice");
    srv.peer().ask("c:Room:Bob:Wrong", "error:password_mismatch");
}

#[test]
fn only_one_player_in_session() {
    let srv = Server::start(&[]);
    let alice = srv.peer();
    alice.ask("h:Room:Alice:4", "i:Alice");
    alice.ask("s:Room:Alice", "error:only_one_player_in_session");
}

#[test]
fn session_full() {
    let srv = Server::start(&[]);
    lobby(&srv, "Room", 2, &["Alice", "Bob"]);
    srv.peer().ask("c:Room:Carol", "error:session_full");
}

#[test]
fn player_name_in_use() {
    let srv = Server::start(&[]);
    lobby(&srv, "Room", 4, &["Alice", "Bob"]);
    srv.peer().ask("c:Room:Bob", "error:player_name_in_use");
}

#[test]
fn non_existent_player() {
    let srv = Server::start(&[]);
    let peers = lobby(&srv, "Room", 4, &["Alice", "Bob"]);
    peers[0].ask("k:Room:Zed", "error:non_existent_player");
}

#[test]
fn non_host_player() {
    let srv = Server::start(&[]);
    let peers = lobby(&srv, "Room", 4, &["Alice", "Bob"]);
    peers[1].ask("s:Room:Bob", "error:non_host_player");
}

#[test]
fn kicked_by_host() {
    let srv = Server::start(&[]);
    let peers = lobby(&srv, "Room", 4, &["Alice", "Bob"]);
    peers[0].send("k:Room:Bob");
    peers[1].expect("error:kicked_by_host");
}

#[test]
fn player_exited_session() {
    let srv = Server::start(&[]);
    let peers = lobby(&srv, "Room", 4, &["Alice", "Bob"]);
    peers[1].ask("x:Room:Bob", "error:player_exited_session");
}

#[test]
fn session_not_started() {
    let srv = Server::start(&[]);
    let peers = lobby(&srv, "Room", 4, &["Alice", "Bob"]);
    peers[1].ask("y:Room:Bob", "error:session_not_started");
}

#[test]
fn session_timeout_three_times() {
    let srv = Server::start(&["--session-lifetime-s", "1", "--player-timeout-ms", "60000"]);
    let alice = srv.peer();
    alice.ask("h:Room:Alice:4", "i:Alice");
    let first = alice.recv_within(Duration::from_secs(3));
    assert_eq!(first.as_deref(), Some("error:session_timeout"));
    let got = alice.drain_timed(Duration::from_millis(500), Duration::from_secs(5));
    let texts: Vec<&str> = got.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(texts, vec!["error:session_timeout"; 2]);
    alice.ask("p:Room:Alice", "error:session_non_existent");
}

#[test]
fn player_timeout_three_times_50ms_apart() {
    let srv = Server::start(&["--player-timeout-ms", "300"]);
    let alice = srv.peer();
    alice.ask("h:Room:Alice:4", "i:Alice");
    let got = alice.drain_timed(Duration::from_millis(500), Duration::from_secs(5));
    let texts: Vec<&str> = got.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(texts, vec!["error:player_timeout"; 3]);
    let spacing = got[2].0 - got[0].0;
    assert!(spacing >= Duration::from_millis(90) && spacing < Duration::from_millis(400), "{spacing:?}");
    alice.ask("p:Room:Alice", "error:session_non_existent");
}
