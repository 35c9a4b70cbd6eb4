//! Engine tests, one or more per request type and error code, in the order of checks of
//! PROTOCOL-NOTES, including the four fixes of the original's bugs. Fake clock, no sockets.

mod common;
use common::*;

const A: u16 = 1;
const B: u16 = 2;
const C: u16 = 3;
const STRANGER: u16 = 9;

fn a(n: u16) -> std::net::SocketAddr {
    addr(n)
}

// ---- malformed and unknown ----

#[test]
fn malformed_datagrams_get_invalid_request() {
    let mut h = H::new();
    let long = [b'p'; 43];
    let cases: [&[u8]; 9] = [
        b"",
        b"hello",
        b"\xff\xfe:\x00",
        b"p:S:P\xff",
        &long,
        b"h:Room:Alice:13",
        b"c:Room",
        b"p:Room:Alice:extra",
        b"k:Ro om:Bob",
    ];
    for bad in cases {
        let out = h.send_bytes(a(A), bad);
        assert_eq!(out.len(), 1, "{bad:?}");
        assert_eq!((out[0].to, out[0].text.as_str()), (a(A), "error:invalid_request"), "{bad:?}");
    }
    assert_eq!(h.engine.session_count(), 0);
}

#[test]
fn unknown_types_get_no_reply() {
    let mut h = H::new();
    for unknown in ["z:foo", "error:session_full", "i:Alice", "g:a:1:2", ":x"] {
        h.silent(a(A), unknown);
    }
}

// ---- h ----

#[test]
fn host_creates_a_session_and_gets_its_list() {
    let mut h = H::new();
    h.ask(a(A), "h:Room:Alice:4:Pass", "i:Alice");
    assert_eq!((h.engine.session_count(), h.engine.player_count()), (1, 1));
}

#[test]
fn host_retransmit_from_the_host_address_gets_the_list_again() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.ask(a(A), "h:Room:Alice:4", "i:Alice:Bob");
    assert_eq!(h.engine.player_count(), 2);
}

#[test]
fn host_of_a_taken_name_gets_session_exists() {
    let mut h = H::new();
    h.ask(a(A), "h:Room:Alice:4", "i:Alice");
    h.ask(a(B), "h:Room:Bob:4", "error:session_exists");
    // Same name from the host's IP but another port is another address.
    let other_port = std::net::SocketAddr::new(a(A).ip(), a(A).port() + 1);
    h.ask(other_port, "h:Room:Alice:4", "error:session_exists");
}

#[test]
fn host_of_a_starting_session_gets_session_exists_even_from_the_host() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    assert_eq!(h.send(a(A), "s:Room:Alice").len(), 2);
    h.ask(a(A), "h:Room:Alice:4", "error:session_exists");
}

#[test]
fn one_address_may_be_in_several_sessions() {
    let mut h = H::new();
    h.ask(a(A), "h:One:Alice:4", "i:Alice");
    h.ask(a(A), "h:Two:Alice:4", "i:Alice");
    assert_eq!(h.send(a(B), "c:One:Bob").len(), 2);
    h.ask(a(A), "p:Two:Alice", "i:Alice");
    h.ask(a(A), "p:One:Alice", "i:Alice:Bob");
}

// ---- c ----

#[test]
fn connect_broadcasts_the_list_in_join_order_to_everyone() {
    let mut h = H::new();
    h.ask(a(A), "h:Room:Alice:4", "i:Alice");
    assert_eq!(h.send(a(B), "c:Room:Bob"), pairs(&[(a(A), "i:Alice:Bob"), (a(B), "i:Alice:Bob")]));
    assert_eq!(
        h.send(a(C), "c:Room:Carol"),
        pairs(&[(a(A), "i:Alice:Bob:Carol"), (a(B), "i:Alice:Bob:Carol"), (a(C), "i:Alice:Bob:Carol")])
    );
}

#[test]
fn connect_to_a_missing_or_starting_session_gets_session_non_existent() {
    let mut h = H::new();
    h.ask(a(B), "c:Room:Bob", "error:session_non_existent");
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.send(a(A), "s:Room:Alice");
    h.ask(a(C), "c:Room:Carol", "error:session_non_existent");
}

#[test]
fn connect_with_a_wrong_or_missing_password_gets_password_mismatch() {
    let mut h = H::new();
    h.ask(a(A), "h:Room:Alice:4:Pass", "i:Alice");
    h.ask(a(B), "c:Room:Bob:Nope", "error:password_mismatch");
    h.ask(a(B), "c:Room:Bob", "error:password_mismatch");
    assert_eq!(h.send(a(B), "c:Room:Bob:Pass").len(), 2);
}

#[test]
fn a_session_without_password_accepts_any() {
    let mut h = H::new();
    h.ask(a(A), "h:Room:Alice:4", "i:Alice");
    assert_eq!(h.send(a(B), "c:Room:Bob:Whatever").len(), 2);
}

#[test]
fn password_is_checked_before_fullness() {
    let mut h = H::new();
    h.ask(a(A), "h:Room:Alice:2:Pass", "i:Alice");
    h.send(a(B), "c:Room:Bob:Pass");
    h.ask(a(C), "c:Room:Carol:Nope", "error:password_mismatch");
}

#[test]
fn connect_to_a_full_session_gets_session_full() {
    let mut h = H::new();
    h.lobby("Room", 2, &["Alice", "Bob"]);
    h.ask(a(C), "c:Room:Carol", "error:session_full");
    // Full is checked before the name: a taken name from another address is session_full too.
    h.ask(a(C), "c:Room:Bob", "error:session_full");
}

#[test]
fn connect_with_a_taken_name_from_another_address_gets_player_name_in_use() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.ask(a(C), "c:Room:Bob", "error:player_name_in_use");
    h.ask(a(C), "c:Room:Alice", "error:player_name_in_use");
}

#[test]
fn fix1_a_members_retransmitted_connect_gets_the_list_even_when_full() {
    let mut h = H::new();
    h.ask(a(A), "h:Room:Alice:2", "i:Alice");
    assert_eq!(h.send(a(B), "c:Room:Bob").len(), 2);
    // Bob filled the session; its retransmit must not be told session_full.
    h.ask(a(B), "c:Room:Bob", "i:Alice:Bob");
    // Not full: a retransmit is answered to the sender only, not broadcast.
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.ask(a(B), "c:Room:Bob", "i:Alice:Bob");
    assert_eq!(h.engine.player_count(), 2);
}

// ---- p ----

#[test]
fn ping_from_a_player_gets_the_list() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.ask(a(B), "p:Room:Bob", "i:Alice:Bob");
    h.ask(a(A), "p:Room:Alice", "i:Alice:Bob");
}

#[test]
fn ping_to_a_missing_session_gets_session_non_existent() {
    let mut h = H::new();
    h.ask(a(A), "p:Room:Alice", "error:session_non_existent");
}

#[test]
fn ping_for_an_unknown_player_gets_non_existent_player() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.ask(a(C), "p:Room:Carol", "error:non_existent_player");
}

#[test]
fn fix2_ping_from_another_address_does_not_count() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.ask(a(STRANGER), "p:Room:Bob", "error:non_existent_player");
    // Bob's own pings stop at 1 s, the stranger keeps "pinging" for him: he still times out at 6 s.
    h.run_until(ms(1000));
    h.ask(a(B), "p:Room:Bob", "i:Alice:Bob");
    for t in (1500..6000).step_by(500) {
        h.run_until(ms(t));
        h.ask(a(A), "p:Room:Alice", "i:Alice:Bob");
        h.ask(a(STRANGER), "p:Room:Bob", "error:non_existent_player");
    }
    let out = h.run_until(ms(6000));
    assert_eq!(to(&out, a(B)), vec!["error:player_timeout"]);
}

#[test]
fn ping_in_a_starting_session_gets_that_players_start_message() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.send(a(A), "s:Room:Alice");
    h.ask(a(B), "p:Room:Bob", &format!("s:{}:Alice:10.0.0.1:{}", a(B).port(), a(A).port()));
    h.ask(a(A), "p:Room:Alice", &format!("s:{}:Bob:10.0.0.2:{}", a(A).port(), a(B).port()));
    // From elsewhere, a starting session is not open.
    h.ask(a(STRANGER), "p:Room:Bob", "error:session_non_existent");
}

// ---- s ----

#[test]
fn start_sends_every_player_the_others_in_join_order() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob", "Carol"]);
    let (pa, pb, pc) = (a(A).port(), a(B).port(), a(C).port());
    assert_eq!(
        h.send(a(A), "s:Room:Alice"),
        pairs(&[
            (a(A), &format!("s:{pa}:Bob:10.0.0.2:{pb};Carol:10.0.0.3:{pc}")),
            (a(B), &format!("s:{pb}:Alice:10.0.0.1:{pa};Carol:10.0.0.3:{pc}")),
            (a(C), &format!("s:{pc}:Alice:10.0.0.1:{pa};Bob:10.0.0.2:{pb}")),
        ])
    );
}

#[test]
fn start_of_a_missing_session_gets_session_non_existent() {
    let mut h = H::new();
    h.ask(a(A), "s:Room:Alice", "error:session_non_existent");
}

#[test]
fn start_from_a_non_host_gets_non_host_player() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.ask(a(B), "s:Room:Bob", "error:non_host_player");
    // The host is decided by address, not by the name field.
    h.ask(a(B), "s:Room:Alice", "error:non_host_player");
    assert_eq!(h.send(a(A), "s:Room:Bob").len(), 2);
}

#[test]
fn host_check_comes_before_the_player_count() {
    let mut h = H::new();
    h.ask(a(A), "h:Room:Alice:4", "i:Alice");
    h.ask(a(B), "s:Room:Alice", "error:non_host_player");
    h.ask(a(A), "s:Room:Alice", "error:only_one_player_in_session");
}

#[test]
fn start_while_starting_is_ignored() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    assert_eq!(h.send(a(A), "s:Room:Alice").len(), 2);
    h.silent(a(A), "s:Room:Alice");
    h.silent(a(B), "s:Room:Bob");
}

// ---- y ----

#[test]
fn confirm_of_a_session_not_started_gets_session_not_started() {
    let mut h = H::new();
    h.ask(a(A), "y:Room:Alice", "error:session_not_started");
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.ask(a(A), "y:Room:Alice", "error:session_not_started");
}

#[test]
fn confirm_from_an_unknown_player_or_address_gets_non_existent_player() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.send(a(A), "s:Room:Alice");
    h.ask(a(C), "y:Room:Carol", "error:non_existent_player");
    h.ask(a(STRANGER), "y:Room:Bob", "error:non_existent_player");
    // The stranger's y did not stop Bob's messages.
    let out = h.advance(ms(100));
    assert_eq!(to(&out, a(B)).len(), 1);
}

#[test]
fn fix3_confirm_stops_resends_to_that_player_only_and_lists_stay_whole() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob", "Carol"]);
    let round1 = h.send(a(A), "s:Room:Alice");
    h.silent(a(A), "y:Room:Alice");
    h.silent(a(A), "y:Room:Alice");
    let rest = h.advance(ms(1000));
    assert!(to(&rest, a(A)).is_empty(), "Alice confirmed: {rest:?}");
    for p in [a(B), a(C)] {
        let first = round1.iter().find(|(t, _)| *t == p).map(|(_, m)| m.clone()).expect("round 1");
        assert!(first.contains("Alice:10.0.0.1:"), "{first}");
        let later = to(&rest, p);
        assert_eq!(later.len(), 7, "{p}: {later:?}");
        assert!(later.iter().all(|m| *m == first), "{p}'s list changed: {later:?}");
    }
}

// ---- k ----

#[test]
fn kick_of_a_missing_or_starting_session_gets_session_non_existent() {
    let mut h = H::new();
    h.ask(a(A), "k:Room:Bob", "error:session_non_existent");
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.send(a(A), "s:Room:Alice");
    h.ask(a(A), "k:Room:Bob", "error:session_non_existent");
}

#[test]
fn kick_of_an_unknown_player_gets_non_existent_player_before_the_host_check() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.ask(a(A), "k:Room:Zed", "error:non_existent_player");
    h.ask(a(B), "k:Room:Zed", "error:non_existent_player");
}

#[test]
fn kick_from_a_non_host_gets_non_host_player() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.ask(a(B), "k:Room:Alice", "error:non_host_player");
    h.ask(a(STRANGER), "k:Room:Bob", "error:non_host_player");
    assert_eq!(h.engine.player_count(), 2);
}

#[test]
fn kick_tells_the_victim_and_sends_the_rest_the_new_list() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob", "Carol"]);
    assert_eq!(
        h.send(a(A), "k:Room:Bob"),
        pairs(&[(a(B), "error:kicked_by_host"), (a(A), "i:Alice:Carol"), (a(C), "i:Alice:Carol")])
    );
    h.ask(a(B), "p:Room:Bob", "error:non_existent_player");
    // Kept out (issue 20) until the host lets him back; then at the end of the list.
    h.ask(a(B), "c:Room:Bob", "error:kicked_by_host");
    h.ask(a(A), "u:Room:Bob", "i:Alice:Carol");
    assert_eq!(h.send(a(B), "c:Room:Bob").len(), 3);
    h.ask(a(B), "p:Room:Bob", "i:Alice:Carol:Bob");
}

#[test]
fn the_host_may_kick_itself_and_the_next_oldest_becomes_host() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob", "Carol"]);
    assert_eq!(
        h.send(a(A), "k:Room:Alice"),
        pairs(&[(a(A), "error:kicked_by_host"), (a(B), "i:Bob:Carol"), (a(C), "i:Bob:Carol")])
    );
    h.ask(a(A), "k:Room:Carol", "error:non_host_player");
    assert_eq!(h.send(a(B), "s:Room:Bob").len(), 2);
}

#[test]
fn kicking_the_last_player_deletes_the_session() {
    let mut h = H::new();
    h.ask(a(A), "h:Room:Alice:4", "i:Alice");
    h.ask(a(A), "k:Room:Alice", "error:kicked_by_host");
    assert_eq!(h.engine.session_count(), 0);
    h.ask(a(B), "h:Room:Bob:4", "i:Bob");
}

// ---- x ----

#[test]
fn exit_of_a_missing_or_starting_session_gets_session_non_existent() {
    let mut h = H::new();
    h.ask(a(A), "x:Room:Alice", "error:session_non_existent");
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.send(a(A), "s:Room:Alice");
    h.ask(a(B), "x:Room:Bob", "error:session_non_existent");
}

#[test]
fn fix4_exit_replies_to_the_player_and_sends_the_rest_the_new_list() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob", "Carol"]);
    assert_eq!(
        h.send(a(B), "x:Room:Bob"),
        pairs(&[(a(B), "error:player_exited_session"), (a(A), "i:Alice:Carol"), (a(C), "i:Alice:Carol")])
    );
}

#[test]
fn fix2_exit_only_from_the_players_own_address() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.ask(a(STRANGER), "x:Room:Bob", "error:non_existent_player");
    h.ask(a(A), "x:Room:Bob", "error:non_existent_player");
    h.ask(a(C), "x:Room:Carol", "error:non_existent_player");
    assert_eq!(h.engine.player_count(), 2);
}

#[test]
fn host_exit_hands_over_and_last_exit_deletes() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    assert_eq!(
        h.send(a(A), "x:Room:Alice"),
        pairs(&[(a(A), "error:player_exited_session"), (a(B), "i:Bob")])
    );
    h.ask(a(B), "h:Room:Bob:4", "i:Bob");
    h.ask(a(B), "x:Room:Bob", "error:player_exited_session");
    assert_eq!((h.engine.session_count(), h.engine.player_count()), (0, 0));
    h.ask(a(C), "c:Room:Carol", "error:session_non_existent");
}

#[test]
fn every_error_code_is_reachable() {
    // A compact cross-check that each of the fourteen codes is produced by some rule above.
    use rhp_proto::ErrorCode;
    let mut seen = std::collections::HashSet::new();
    let mut h = H::with(rhp_server::Config { player_timeout: ms(100), ..rhp_server::Config::original() });
    let mut note = |out: Vec<(std::net::SocketAddr, String)>| {
        for (_, t) in out {
            if let Some(code) = t.strip_prefix("error:") {
                seen.insert(code.to_owned());
            }
        }
    };
    note(h.send(a(A), "nonsense"));
    note(h.send(a(A), "h:R:Alice:2:Pw"));
    note(h.send(a(B), "h:R:Bob:2"));
    note(h.send(a(B), "c:Q:Bob"));
    note(h.send(a(B), "c:R:Bob"));
    note(h.send(a(A), "s:R:Alice"));
    note(h.send(a(B), "c:R:Alice:Pw"));
    note(h.send(a(B), "c:R:Bob:Pw"));
    note(h.send(a(C), "c:R:Carol:Pw"));
    note(h.send(a(C), "p:R:Carol"));
    note(h.send(a(B), "k:R:Alice"));
    note(h.send(a(A), "y:R:Alice"));
    note(h.send(a(A), "k:R:Bob"));
    note(h.send(a(A), "x:R:Alice"));
    note(h.send(a(C), "h:T:Carol:2"));
    note(h.advance(ms(200)).into_iter().map(|s| (s.to, s.text)).collect());
    let mut h2 = H::with(rhp_server::Config { session_lifetime: ms(100), ..rhp_server::Config::original() });
    h2.send(a(A), "h:R:Alice:2");
    note(h2.advance(ms(200)).into_iter().map(|s| (s.to, s.text)).collect());
    for code in ErrorCode::ALL {
        assert!(seen.contains(code.as_str()), "{code} never sent; saw {seen:?}");
    }
}
