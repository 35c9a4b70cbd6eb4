//! Black-box: address privacy over loopback with the real server and the real binary. Carol
//! joins with `join --private`; Alice (host) and Bob are library engines driven by this test on
//! plain sockets, so every datagram their sockets receive is captured. None of them carries
//! Carol's address (her port, as text or as raw bytes); their start messages list her at the
//! placeholder; Carol exchanges data with both through the relay (`connected … method=relay`).

mod support;

use rhp_client::{Config, Engine, Event, Input, Method, Output, SocketId};
use rhp_proto::relay::PRIVATE_PLACEHOLDER;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::player::Player;
use support::Server;

/// What one driven player saw: every datagram its socket received, and its events.
struct Seen {
    got: Vec<(SocketAddr, Vec<u8>)>,
    events: Vec<Event>,
}

/// Drives `config`'s engine on a loopback socket until `stop`; the host starts once three
/// players are in; data from Carol is answered with `reply`.
fn drive(config: Config, reply: &'static [u8], stop: Arc<AtomicBool>) -> Seen {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = sock.local_addr().expect("addr").port();
    let mut e = Engine::new(config, Instant::now()).expect("config");
    e.handle_input(Input::Opened { now: Instant::now(), id: SocketId::MAIN, local_port: Some(port) });
    let mut seen = Seen { got: Vec::new(), events: Vec::new() };
    let mut started = false;
    let mut buf = [0u8; 2048];
    let give_up = Instant::now() + Duration::from_secs(40);
    while !stop.load(Ordering::Relaxed) && Instant::now() < give_up {
        let mut deadline = Instant::now() + Duration::from_millis(50);
        loop {
            match e.poll_output() {
                Output::Transmit(t) if t.via == SocketId::MAIN => {
                    let _ = sock.send_to(&t.data, t.to);
                }
                Output::Transmit(_) | Output::Close(_) => {}
                Output::Open(id) => {
                    e.handle_input(Input::Opened { now: Instant::now(), id, local_port: None })
                }
                Output::Event(ev) => {
                    let now = Instant::now();
                    match &ev {
                        Event::Joined { players, is_host: true } | Event::Players(players)
                            if players.len() == 3 && e.is_host() && !started =>
                        {
                            started = true;
                            e.start(now);
                        }
                        Event::Data { peer, .. } | Event::Connected { peer, .. } if peer == "Carol" => {
                            // Queued; it leaves through poll_output (this loop sends it).
                            let _ = e.send(peer, reply);
                        }
                        _ => {}
                    }
                    seen.events.push(ev);
                }
                Output::Timeout(t) => {
                    deadline = deadline.min(t);
                    break;
                }
            }
        }
        let wait = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        let _ = sock.set_read_timeout(Some(wait));
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                seen.got.push((from, buf[..n].to_vec()));
                e.handle_input(Input::Datagram {
                    now: Instant::now(),
                    via: SocketId::MAIN,
                    from,
                    data: &buf[..n],
                });
            }
            Err(_) => e.handle_input(Input::Timeout(Instant::now())),
        }
    }
    seen
}

/// A free loopback port whose two bytes are both ≥ 0x80: no text (ASCII) nor relay header byte
/// can match it by chance, so a raw match is a leak.
fn distinctive_port() -> u16 {
    loop {
        let p = support::free_udp_port();
        if p >= 0x8080 && p & 0xff >= 0x80 && p >> 8 != 0xF5 {
            return p;
        }
    }
}

#[test]
fn a_private_player_is_reached_through_the_relay_and_its_address_reaches_no_peer() {
    let server = Server::start(&[]);
    let mut alice = Config::host(server.addr, "Priv1", "Alice", 3);
    alice.nat.start_wait = Duration::from_millis(500);
    let bob = Config::join(server.addr, "Priv1", "Bob");
    let stop = Arc::new(AtomicBool::new(false));
    let (s1, s2) = (stop.clone(), stop.clone());
    let a = std::thread::spawn(move || drive(alice, b"fromAlice", s1));
    std::thread::sleep(Duration::from_millis(300));
    let b = std::thread::spawn(move || drive(bob, b"fromBob", s2));
    let port = distinctive_port();
    let bind = format!("127.0.0.1:{port}");
    let srv = server.addr.to_string();
    let mut carol = Player::with_args(
        "Carol",
        &[
            "join",
            "Priv1",
            "Carol",
            "--server",
            &srv,
            "--bind",
            &bind,
            "--private",
            "--send",
            "fromCarol",
            "--expect",
            "2",
            "--expect-timeout-s",
            "15",
        ],
    );
    let code = carol.wait(Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let (a, b) = (a.join().expect("alice"), b.join().expect("bob"));
    assert_eq!(code, Some(0), "Carol's run:\n{}", carol.dump());
    for peer in ["Alice", "Bob"] {
        assert!(
            carol
                .stdout()
                .iter()
                .any(|l| l.starts_with(&format!("connected peer={peer} ")) && l.contains("method=relay")),
            "Carol reached {peer} through the relay:\n{}",
            carol.dump()
        );
    }
    let carol_addr = format!("127.0.0.1:{port}");
    let placeholder = format!("Carol:{}:{}", PRIVATE_PLACEHOLDER.ip(), PRIVATE_PLACEHOLDER.port());
    for (name, seen) in [("Alice", &a), ("Bob", &b)] {
        assert!(seen.got.len() > 10, "{name} received {} datagrams", seen.got.len());
        let mut starts = 0;
        for (from, data) in &seen.got {
            assert_ne!(from.port(), port, "{name} got a datagram from Carol's socket");
            let text = String::from_utf8_lossy(data);
            assert!(!text.contains(&carol_addr) && !text.contains(&port.to_string()), "{name} got {text:?}");
            if !rhp_proto::stun::is_stun(data) {
                let raw = data.windows(2).any(|w| w == port.to_be_bytes() || w == port.to_le_bytes());
                assert!(!raw, "{name} got Carol's port as bytes: {data:?}");
            }
            if *from == server.addr && text.starts_with("s:") {
                starts += 1;
                assert!(text.contains(&placeholder), "{name}'s start message {text:?}");
            }
        }
        assert!(starts > 0, "{name} got its start message");
        let relayed = seen
            .events
            .iter()
            .any(|ev| matches!(ev, Event::Connected { peer, method: Method::Relay, .. } if peer == "Carol"));
        assert!(relayed, "{name} reached Carol through the relay: {:?}", seen.events);
        let data = seen
            .events
            .iter()
            .any(|ev| matches!(ev, Event::Data { peer, data } if peer == "Carol" && data == b"fromCarol"));
        assert!(data, "{name} got Carol's text");
    }
}

#[test]
fn a_server_without_the_relay_refuses_a_private_player_before_the_start() {
    let server = Server::start(&["--no-relay"]);
    let alice = server.peer();
    alice.ask("h:Priv2:Alice:3", "i:Alice");
    let srv = server.addr.to_string();
    let mut carol = Player::with_args("Carol", &["join", "Priv2", "Carol", "--server", &srv, "--private"]);
    let code = carol.wait(Duration::from_secs(10));
    assert_eq!(code, Some(1), "Carol's run:\n{}", carol.dump());
    assert!(carol.stderr().iter().any(|l| l.contains("cannot keep our address private")), "{}", carol.dump());
    assert!(server.wait_log("refused: a private player needs the relay", Duration::from_secs(2)).is_some());
    // Alice saw Carol come and go; the session starts with Alice alone (Carol is out).
    alice.send("s:Priv2:Alice");
    let mut texts = Vec::new();
    while let Some(t) = alice.recv_within(Duration::from_millis(300)) {
        texts.push(t);
    }
    assert!(texts.iter().all(|t| !t.starts_with("s:") || !t.contains("Carol")), "{texts:?}");
}
