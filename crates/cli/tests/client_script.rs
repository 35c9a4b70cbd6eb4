//! Script mode (`--send TEXT --expect N`) survives lost copies: a player whose own expectation is met
//! lingers and answers each later message of a peer with its text, so a peer that lost every copy
//! still gets one. The lossy peer is a library client (`rhp_client`) that throws away what it
//! receives for a while, as a lossy path would.

mod support;

use rhp_client::{Client, Config};
use std::time::Duration;
use support::player::Player;
use support::Server;
use tokio::time::{timeout, Instant};

#[test]
fn a_finished_player_answers_a_peer_that_lost_its_copies() {
    let server = Server::start(&[]);
    let mut alice = Player::host(server.addr, "Scr1", "Alice", 2, &["--send", "hello", "--expect", "1"]);
    assert!(
        alice.wait_stderr("in the session", Duration::from_secs(10)),
        "host never joined:\n{}",
        alice.dump()
    );
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let got = rt.block_on(async {
        let config = Config::join(server.addr, "Scr1", "Bob");
        let (client, _control, _events) =
            Client::bind(config, "127.0.0.1:0".parse().ok()).await.expect("bind");
        let mut mesh =
            timeout(Duration::from_secs(15), client.run()).await.expect("punched in time").expect("mesh");
        // Alice's expectation is met by this one message.
        mesh.send("Alice", b"hi").await.expect("send");
        // Lose every copy of Alice's text: read and drop until she has stopped her send rounds
        // (at least 3 copies seen, then 300 ms without one).
        let mut copies = 0;
        let give_up = Instant::now() + Duration::from_secs(8);
        loop {
            let wait = if copies >= 3 { Duration::from_millis(300) } else { Duration::from_secs(2) };
            match timeout(wait, mesh.recv()).await {
                Ok(Ok((peer, data))) if peer == "Alice" && data == b"hello" => copies += 1,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("recv: {e}"),
                Err(_) if copies >= 3 => break,
                Err(_) => {}
            }
            assert!(Instant::now() < give_up, "Alice sent only {copies} copies");
        }
        // Now ask again: Alice has what she expected and no longer sends rounds; only her linger
        // answers.
        mesh.send("Alice", b"hi").await.expect("send");
        timeout(Duration::from_millis(600), mesh.recv()).await.ok().and_then(Result::ok)
    });
    assert_eq!(got, Some(("Alice".to_owned(), b"hello".to_vec())), "Alice did not answer after her rounds");
    assert_eq!(alice.wait(Duration::from_secs(15)), Some(0), "Alice's script run failed:\n{}", alice.dump());
}

/// A script whose peers are all gone stops at once (exit 1), instead of waiting out
/// `--expect-timeout-s`.
#[test]
fn a_script_whose_peers_all_left_ends_at_once() {
    let server = Server::start(&[]);
    let mut alice = Player::host(
        server.addr,
        "Scr2",
        "Alice",
        2,
        &["--send", "hello", "--expect", "2", "--expect-timeout-s", "60"],
    );
    assert!(alice.wait_stderr("in the session", Duration::from_secs(10)), "{}", alice.dump());
    let mut bob = Player::join(server.addr, "Scr2", "Bob", &["--send", "hi", "--expect", "1"]);
    assert_eq!(bob.wait(Duration::from_secs(20)), Some(0), "{}", bob.dump());
    let gone = std::time::Instant::now();
    assert_eq!(alice.wait(Duration::from_secs(3)), Some(1), "{}", alice.dump());
    eprintln!("every peer gone: exit after {} ms", gone.elapsed().as_millis());
    assert!(alice.stderr().iter().any(|l| l.contains("every peer is gone")), "{}", alice.dump());
}
