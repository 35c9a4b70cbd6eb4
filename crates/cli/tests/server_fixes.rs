//! Black-box: the four bugs of the original server, fixed (PROTOCOL-NOTES).

mod support;
use std::time::Duration;
use support::{lobby, Server};

/// Fix 1: the player who filled the session gets `i:` (not `session_full`) for its retransmit.
#[test]
fn fix1_retransmitted_connect_of_a_member_gets_the_list_when_full() {
    let srv = Server::start(&[]);
    let peers = lobby(&srv, "Room", 2, &["Alice", "Bob"]);
    peers[1].ask("c:Room:Bob", "i:Alice:Bob");
    peers[0].expect_silence(Duration::from_millis(200));
}

/// Fix 2: p, x and y only count from the player's own ip:port.
#[test]
fn fix2_requests_from_another_address_do_not_count() {
    let srv = Server::start(&["--player-timeout-ms", "800"]);
    let peers = lobby(&srv, "Room", 4, &["Alice", "Bob"]);
    let (alice, bob) = (&peers[0], &peers[1]);
    let mallory = srv.peer();
    mallory.ask("x:Room:Bob", "error:non_existent_player");
    mallory.ask("p:Room:Bob", "error:non_existent_player");
    bob.ask("p:Room:Bob", "i:Alice:Bob");
    // Mallory keeps "pinging" for Bob; only Alice pings herself: Bob still times out.
    let bob_out = loop {
        alice.send("p:Room:Alice");
        mallory.ask("p:Room:Bob", "error:non_existent_player");
        match alice.recv_within(Duration::from_millis(200)) {
            Some(m) if m == "i:Alice" => {
                break bob.drain_timed(Duration::from_millis(300), Duration::from_secs(2))
            }
            Some(m) => assert_eq!(m, "i:Alice:Bob"),
            None => panic!("no reply to Alice's ping"),
        }
    };
    let texts: Vec<&str> = bob_out.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(texts, vec!["error:player_timeout"; 3]);
    // y from elsewhere during a start does not stop the resends either.
    let srv = Server::start(&["--start-interval-ms", "150"]);
    let peers = lobby(&srv, "Room", 4, &["Alice", "Bob"]);
    peers[0].send("s:Room:Alice");
    assert!(peers[1].recv().starts_with("s:"));
    srv.peer().ask("y:Room:Bob", "error:non_existent_player");
    assert_eq!(peers[1].drain_timed(Duration::from_millis(400), Duration::from_secs(5)).len(), 7);
}

/// Fix 3: y leaves the confirming player in every other player's address list.
#[test]
fn fix3_confirmation_keeps_the_lists_whole() {
    let srv = Server::start(&["--start-interval-ms", "150"]);
    let peers = lobby(&srv, "Room", 4, &["Alice", "Bob", "Carol"]);
    peers[0].send("s:Room:Alice");
    assert!(peers[0].recv().starts_with("s:"));
    peers[0].send("y:Room:Alice");
    let bob = peers[1].drain_timed(Duration::from_millis(400), Duration::from_secs(5));
    assert_eq!(bob.len(), 8);
    let expected = format!("s:{}:{};{}", peers[1].port(), peers[0].entry("Alice"), peers[2].entry("Carol"));
    assert!(bob.iter().all(|(_, m)| *m == expected), "{bob:?}");
}

/// Fix 4: x sends the remaining players the new list.
#[test]
fn fix4_exit_updates_the_rest() {
    let srv = Server::start(&[]);
    let peers = lobby(&srv, "Room", 4, &["Alice", "Bob", "Carol"]);
    peers[1].ask("x:Room:Bob", "error:player_exited_session");
    peers[0].expect("i:Alice:Carol");
    peers[2].expect("i:Alice:Carol");
}
