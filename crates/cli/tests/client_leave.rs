//! Peers that leave, seen by the real `host`/`join` binaries through the real server: a player
//! that ends its run is printed `left peer=<name> reason=left` by the others; when the host
//! leaves after the start, the remaining players print the same `host-changed peer=<name>`; a
//! Godot peer (the scripted double) in the same session never receives the leave or keepalive
//! messages of our clients.

mod support;

use std::time::Duration;
use support::godot_double::{GodotConfig, GodotDouble};
use support::player::Player;
use support::Server;

const WAIT: Duration = Duration::from_secs(45);

fn has_line(p: &Player, line: &str) -> bool {
    p.stdout().iter().any(|l| l == line)
}

/// Waits (bounded) for `line` on `p`'s stdout.
fn wait_line(p: &Player, line: &str, within: Duration) -> bool {
    let end = std::time::Instant::now() + within;
    while std::time::Instant::now() < end {
        if has_line(p, line) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    has_line(p, line)
}

#[test]
fn a_player_that_ends_its_run_is_printed_left_by_its_peer() {
    let server = Server::start(&[]);
    let alice =
        Player::host(server.addr, "Lv1", "Alice", 2, &["--send", "a", "--expect", "1", "--hold-s", "10"]);
    assert!(alice.wait_stderr("in the session", Duration::from_secs(10)), "{}", alice.dump());
    let mut bob = Player::join(server.addr, "Lv1", "Bob", &["--send", "b", "--expect", "1"]);
    assert_eq!(bob.wait(WAIT), Some(0), "{}", bob.dump());
    let gone = std::time::Instant::now();
    // Told, not found silent: well inside the 15 s silence.
    assert!(wait_line(&alice, "left peer=Bob reason=left", Duration::from_secs(3)), "{}", alice.dump());
    eprintln!("Alice printed Bob's leave {:?} after Bob's exit was seen", gone.elapsed());
    assert!(alice.wait_stderr("Bob left", Duration::from_secs(1)), "{}", alice.dump());
}

#[test]
fn when_the_host_leaves_after_the_start_both_others_name_the_same_new_host() {
    let server = Server::start(&[]);
    let hold = ["--send", "x", "--expect", "2", "--hold-s", "10"];
    let mut alice = Player::host(server.addr, "Lv2", "Alice", 3, &["--send", "x", "--expect", "2"]);
    assert!(alice.wait_stderr("in the session", Duration::from_secs(10)), "{}", alice.dump());
    let bob = Player::join(server.addr, "Lv2", "Bob", &hold);
    assert!(bob.wait_stderr("in the session", Duration::from_secs(10)), "{}", bob.dump());
    let carol = Player::join(server.addr, "Lv2", "Carol", &hold);
    assert_eq!(alice.wait(WAIT), Some(0), "{}", alice.dump());
    for p in [&bob, &carol] {
        assert!(wait_line(p, "left peer=Alice reason=left", Duration::from_secs(3)), "{}", p.dump());
        // Bob joined first: he is the next host, on both sides.
        assert!(wait_line(p, "host-changed peer=Bob", Duration::from_secs(1)), "{}", p.dump());
    }
    assert!(bob.wait_stderr("you are the host now", Duration::from_secs(1)), "{}", bob.dump());
    assert!(carol.wait_stderr("Bob is the host now", Duration::from_secs(1)), "{}", carol.dump());
}

#[test]
fn a_godot_peer_never_receives_our_clients_leave_or_keepalive() {
    let server = Server::start(&[]);
    let mut alice =
        Player::host(server.addr, "Lv3", "Alice", 3, &["--send", "hi", "--expect", "1", "--hold-s", "16"]);
    assert!(alice.wait_stderr("in the session", Duration::from_secs(10)), "{}", alice.dump());
    let godot = GodotDouble::spawn(GodotConfig {
        server: server.addr,
        session: "Lv3".into(),
        player: "Godot".into(),
        host_max: None,
        start_when: 0,
        password: None,
        timeout: Duration::from_secs(40),
        // Listens on after its success, while Bob leaves and Alice keeps her mesh up.
        linger: Duration::from_secs(8),
        kick: None,
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut bob = Player::join(server.addr, "Lv3", "Bob", &["--send", "hi", "--expect", "1"]);
    // Bob ends once every peer (the Godot one included, ≈12.5 s) is connected, and leaves.
    assert_eq!(bob.wait(WAIT), Some(0), "{}", bob.dump());
    assert!(wait_line(&alice, "left peer=Bob reason=left", Duration::from_secs(3)), "{}", alice.dump());
    let result = godot.join();
    assert!(result.ok, "{result:?}");
    // The plugin's own types, and d: (the script's text, sent to every peer as before).
    for kind in &result.kinds {
        assert!(
            ["g", "c", "s", "y", "d"].contains(&kind.as_str()),
            "the Godot peer got {kind:?}: {result:?}"
        );
    }
    assert!(result.kinds.iter().any(|k| k == "c"), "{result:?}");
    assert_eq!(alice.wait(WAIT), Some(0), "{}", alice.dump());
    assert!(!alice.stdout().iter().any(|l| l.starts_with("left peer=Godot")), "{}", alice.dump());
}

#[test]
fn a_player_killed_without_a_word_is_printed_silent_after_the_configured_silence() {
    let server = Server::start(&[]);
    let script = ["--send", "a", "--expect", "1", "--hold-s", "30", "--peer-silence-s", "5"];
    let alice = Player::host(server.addr, "Lv4", "Alice", 2, &script);
    assert!(alice.wait_stderr("in the session", Duration::from_secs(10)), "{}", alice.dump());
    let bob = Player::join(server.addr, "Lv4", "Bob", &["--send", "b", "--expect", "1", "--hold-s", "30"]);
    assert!(wait_line(&alice, "Bob: b", Duration::from_secs(10)), "{}", alice.dump());
    // SIGKILL: no leave message, no relay leave; only the keepalives stop.
    drop(bob);
    let killed = std::time::Instant::now();
    assert!(wait_line(&alice, "left peer=Bob reason=silent", Duration::from_secs(20)), "{}", alice.dump());
    let after = killed.elapsed();
    eprintln!("Alice reported Bob silent {after:?} after the kill");
    // Silence is 5 s (--peer-silence-s) from the last datagram (a keepalive at most 2 s before
    // the kill).
    assert!(after >= Duration::from_secs(3) && after < Duration::from_secs(8), "{after:?}\n{}", alice.dump());
    assert!(!has_line(&alice, "left peer=Bob reason=left"), "{}", alice.dump());
}
