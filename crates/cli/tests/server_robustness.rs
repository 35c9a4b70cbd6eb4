//! Black-box: garbage cannot hurt the server. A burst of random datagrams (random lengths up to
//! well over any request, random bytes, from several sources), after which it still answers
//! correctly and its session state is intact.

mod support;
use std::time::Duration;
use support::{lobby, Server};

#[test]
fn a_burst_of_random_bytes_leaves_it_answering_correctly() {
    let srv = Server::start(&[]);
    let peers = lobby(&srv, "Room", 4, &["Alice", "Bob"]);
    let senders: Vec<_> = (0..4).map(|_| srv.peer()).collect();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..3000 {
        let len = (next() % 1400) as usize;
        let len = if i % 3 == 0 { len % 48 } else { len };
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Some look like requests, to get past the first checks.
        if i % 5 == 0 && bytes.len() > 2 {
            bytes[0] = b"hcpsykx"[i % 7];
            bytes[1] = b':';
        }
        senders[i % senders.len()].send_bytes(&bytes);
    }
    for s in &senders {
        let replies = s.drain_timed(Duration::from_millis(300), Duration::from_secs(20));
        assert!(replies.iter().all(|(_, m)| m.starts_with("error:") || m.starts_with("i:")), "{replies:?}");
    }
    // The session is intact and the server answers correctly.
    peers[1].ask("p:Room:Bob", "i:Alice:Bob");
    let carol = srv.peer();
    carol.ask("c:Room:Carol", "i:Alice:Bob:Carol");
    peers[0].send("s:Room:Alice");
    let start = peers[0].recv_until(Duration::from_secs(2), |m| m.starts_with("s:")).expect("start message");
    assert_eq!(start, format!("s:{}:{};{}", peers[0].port(), peers[1].entry("Bob"), carol.entry("Carol")));
}

#[test]
fn oversized_datagrams_are_invalid() {
    let srv = Server::start(&[]);
    let p = srv.peer();
    for len in [43, 100, 2048, 9000, 60_000] {
        let mut data = b"h:Room:Alice:4:".to_vec();
        data.resize(len, b'a');
        p.send_bytes(&data);
        p.expect("error:invalid_request");
    }
    p.ask("h:Room:Alice:4", "i:Alice");
}

#[test]
fn timers_fire_on_time_during_a_flood() {
    let srv = Server::start(&["--player-timeout-ms", "400"]);
    let alice = srv.peer();
    alice.ask("h:Room:Alice:4", "i:Alice");
    let started = std::time::Instant::now();
    let flood_addr = srv.addr;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooder = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
            let end = std::time::Instant::now() + Duration::from_secs(5);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && std::time::Instant::now() < end {
                let _ = sock.send_to(b"z:unknown type, no reply", flood_addr);
            }
        })
    };
    let got = alice.recv_within(Duration::from_secs(4));
    let waited = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = flooder.join();
    assert_eq!(got.as_deref(), Some("error:player_timeout"));
    assert!(waited < Duration::from_millis(2000), "timeout fired after {waited:?}");
}
