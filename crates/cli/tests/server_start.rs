//! Black-box: the start rounds (count and spacing), confirmation stopping resends, the start
//! message answered to pings, and the session freed after the last round.

mod support;
use std::time::Duration;
use support::{lobby, Server};

const QUIET: Duration = Duration::from_millis(600);

#[test]
fn start_is_sent_8_times_about_100ms_apart_then_the_session_is_gone() {
    let srv = Server::start(&[]);
    let peers = lobby(&srv, "Room", 4, &["Alice", "Bob"]);
    peers[0].send("s:Room:Alice");
    let expected = format!("s:{}:{}", peers[1].port(), peers[0].entry("Alice"));
    let got = peers[1].drain_timed(QUIET, Duration::from_secs(5));
    assert_eq!(got.len(), 8, "{got:?}");
    assert!(got.iter().all(|(_, m)| *m == expected), "{got:?}");
    let span = got[7].0 - got[0].0;
    // Seven intervals of 100 ms, measured loosely.
    assert!(span >= Duration::from_millis(600) && span <= Duration::from_millis(1500), "{span:?}");
    assert_eq!(peers[0].drain_timed(Duration::from_millis(50), Duration::from_secs(1)).len(), 8);
    peers[1].ask("p:Room:Bob", "error:session_non_existent");
    srv.peer().ask("h:Room:Eve:2", "i:Eve");
}

#[test]
fn round_flags_change_count_and_spacing() {
    let srv = Server::start(&["--start-rounds", "3", "--start-interval-ms", "300"]);
    let peers = lobby(&srv, "Room", 4, &["Alice", "Bob"]);
    peers[0].send("s:Room:Alice");
    let got = peers[1].drain_timed(QUIET, Duration::from_secs(5));
    assert_eq!(got.len(), 3, "{got:?}");
    let span = got[2].0 - got[0].0;
    assert!(span >= Duration::from_millis(550) && span <= Duration::from_millis(1500), "{span:?}");
}

#[test]
fn confirmation_stops_resends_to_that_player_only() {
    let srv = Server::start(&["--start-interval-ms", "200"]);
    let peers = lobby(&srv, "Room", 4, &["Alice", "Bob", "Carol"]);
    peers[0].send("s:Room:Alice");
    assert!(peers[1].recv().starts_with("s:"));
    peers[1].send("y:Room:Bob");
    // At most one round may have crossed the y on the wire.
    let bob = peers[1].drain_timed(QUIET, Duration::from_secs(5));
    assert!(bob.len() <= 1, "Bob still gets start messages: {bob:?}");
    let carol = peers[2].drain_timed(QUIET, Duration::from_secs(5));
    assert_eq!(carol.len(), 8);
    let full = format!("s:{}:{};{}", peers[2].port(), peers[0].entry("Alice"), peers[1].entry("Bob"));
    assert!(carol.iter().all(|(_, m)| *m == full), "Carol's list must keep Bob: {carol:?}");
}

#[test]
fn a_ping_while_starting_gets_the_start_message() {
    let srv = Server::start(&["--start-interval-ms", "1000"]);
    let peers = lobby(&srv, "Room", 4, &["Alice", "Bob"]);
    peers[0].send("s:Room:Alice");
    let first = peers[1].recv();
    peers[1].ask("p:Room:Bob", &first);
}
