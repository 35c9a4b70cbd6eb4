//! Black-box hardening tests against the real binary, with the budget applied to loopback
//! (`--reflection-loopback`) and each client on its own loopback IP (127.0.0.x), so every client
//! has its own budget as it would on the internet:
//! - the Godot plugin's server phase (its cadence, one read per frame, never `y:`, host starts as
//!   soon as its list is full) with 2, 3 and 12 players and 12-character names still gets every
//!   player its start message, all within a quarter second;
//! - the reflection attack of PROTOCOL-NOTES: forged-looking joins of 12 players and an `s:` from
//!   12 addresses that never ping. Forging source addresses needs raw sockets, so each "victim"
//!   socket sends exactly what an attacker would forge in its name and nothing else; whatever
//!   arrives there is what a victim would get. At most 3x; with `--reflection-factor 0`, far more;
//! - caps answer with their codes and log once per source per interval.

mod support;
use std::collections::HashMap;
use std::net::{Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};
use support::Server;

const RESEND: Duration = Duration::from_millis(500);
const FRAME: Duration = Duration::from_millis(16);

fn socket_on(ip_last: u8) -> UdpSocket {
    let sock = UdpSocket::bind((Ipv4Addr::new(127, 0, 0, ip_last), 0)).expect("bind a loopback IP");
    sock.set_nonblocking(true).expect("nonblocking");
    sock
}

struct Godot {
    sock: UdpSocket,
    name: String,
    host: bool,
    joined: bool,
    starting: bool,
    start: Option<(Instant, String)>,
    next_send: Instant,
    list: Vec<String>,
}

fn godot_flow(n: usize, ip_base: u8) {
    let srv = Server::start(&["--reflection-loopback"]);
    let session = "SessionNm1";
    let t0 = Instant::now();
    let mut players: Vec<Godot> = (0..n)
        .map(|i| Godot {
            sock: socket_on(ip_base + i as u8),
            name: format!("PlayerName{i:02}"),
            host: i == 0,
            joined: false,
            starting: false,
            start: None,
            next_send: t0 + FRAME * (i as u32 * 3),
            list: Vec::new(),
        })
        .collect();
    let deadline = t0 + Duration::from_secs(30);
    while players.iter().any(|p| p.start.is_none()) {
        let now = Instant::now();
        assert!(
            now < deadline,
            "not all started in 30 s: {:?}",
            players.iter().map(|p| p.start.is_some()).collect::<Vec<_>>()
        );
        for p in players.iter_mut().filter(|p| p.start.is_none()) {
            if now >= p.next_send {
                let text = match (p.joined, p.starting, p.host) {
                    (false, _, true) => format!("h:{session}:{}:{n}", p.name),
                    (false, _, false) => format!("c:{session}:{}", p.name),
                    (true, true, _) => format!("s:{session}:{}", p.name),
                    (true, false, _) => format!("p:{session}:{}", p.name),
                };
                p.sock.send_to(text.as_bytes(), srv.addr).expect("send");
                p.next_send = now + RESEND;
            }
            // One datagram per frame, as the plugin reads.
            let mut buf = [0u8; 2048];
            let Ok(len) = p.sock.recv(&mut buf) else { continue };
            let text = String::from_utf8_lossy(&buf[..len]).into_owned();
            if let Some(names) = text.strip_prefix("i:") {
                p.list = names.split(':').map(str::to_owned).collect();
                p.joined = true;
                p.host = p.list.first() == Some(&p.name);
                if p.host && p.list.len() == n && !p.starting {
                    p.starting = true;
                    p.next_send = now;
                }
            } else if text.starts_with("s:") && p.joined {
                p.start = Some((now, text));
            } else if text.starts_with("error:") {
                panic!("{} got {text}", p.name);
            }
        }
        std::thread::sleep(FRAME);
    }
    let times: Vec<Instant> = players.iter().filter_map(|p| p.start.as_ref().map(|s| s.0)).collect();
    let spread = times.iter().max().copied().zip(times.iter().min().copied()).map(|(a, b)| a - b);
    let spread = spread.unwrap_or_default();
    // One read per 16 ms frame: a few frames of skew at most.
    assert!(spread < Duration::from_millis(250), "n={n}: start messages {spread:?} apart");
    for p in &players {
        let (_, msg) = p.start.as_ref().expect("started");
        let own = p.sock.local_addr().expect("addr").port();
        assert!(msg.starts_with(&format!("s:{own}:")), "{}: {msg}", p.name);
        assert_eq!(msg.split(';').count(), n - 1, "{}: {msg}", p.name);
    }
    println!(
        "n={n}: all started {:?} after the first join, spread {spread:?}",
        times.iter().min().map(|t| *t - t0)
    );
}

#[test]
fn godot_cadence_with_2_players_under_the_budget() {
    godot_flow(2, 20);
}

#[test]
fn godot_cadence_with_3_players_under_the_budget() {
    godot_flow(3, 30);
}

#[test]
fn godot_cadence_with_12_players_and_12_character_names_under_the_budget() {
    godot_flow(12, 40);
}

/// The attack from 12 victim sockets; returns (bytes each sent, bytes each received).
fn attack(flags: &[&str]) -> Vec<(u64, u64)> {
    let srv = Server::start(flags);
    let victims: Vec<UdpSocket> = (0..12).map(|i| socket_on(100 + i)).collect();
    let mut sent = vec![0u64; 12];
    let s = "Victims123";
    let send = |i: usize, text: String, sent: &mut Vec<u64>| {
        victims[i].send_to(text.as_bytes(), srv.addr).expect("send");
        sent[i] += text.len() as u64;
    };
    send(0, format!("h:{s}:Victim000000:12"), &mut sent);
    std::thread::sleep(Duration::from_millis(50));
    for i in 1..12 {
        send(i, format!("c:{s}:Victim{i:06}"), &mut sent);
    }
    std::thread::sleep(Duration::from_millis(50));
    send(0, format!("s:{s}:Victim000000"), &mut sent);
    // Collect for 3 s: the original's 8 rounds are over by then.
    let mut got = vec![0u64; 12];
    let end = Instant::now() + Duration::from_secs(3);
    let mut buf = [0u8; 2048];
    while Instant::now() < end {
        for (i, v) in victims.iter().enumerate() {
            while let Ok(n) = v.recv(&mut buf) {
                got[i] += n as u64;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    sent.into_iter().zip(got).collect()
}

#[test]
fn the_reflection_attack_gets_at_most_3x_per_victim() {
    let budgeted = attack(&["--reflection-loopback"]);
    for (i, (sent, got)) in budgeted.iter().enumerate() {
        assert!(*got <= 3 * sent, "victim {i} got {got} bytes for {sent} sent in its name");
    }
    let (s, g): (u64, u64) = budgeted.iter().fold((0, 0), |(a, b), (s, g)| (a + s, b + g));
    let original = attack(&["--reflection-factor", "0"]);
    let (os, og): (u64, u64) = original.iter().fold((0, 0), |(a, b), (s, g)| (a + s, b + g));
    println!("budget: {s} B in, {g} B out; original: {os} B in, {og} B out ({}x)", og / os.max(1));
    assert!(og > 20 * os, "the original amplifies: {og} for {os}");
}

#[test]
fn caps_answer_with_their_codes_and_log_once_per_interval() {
    let srv = Server::start(&[
        "--create-rate",
        "1",
        "--create-burst",
        "2",
        "--max-sessions-per-ip",
        "3",
        "--max-players",
        "4",
        "--refusal-log-interval-s",
        "60",
    ]);
    let a = srv.peer();
    a.ask("h:S1:Alice:4", "i:Alice");
    a.ask("h:S2:Alice:4", "i:Alice");
    for _ in 0..50 {
        a.ask("h:S3:Alice:4", "error:too_many_requests");
    }
    std::thread::sleep(Duration::from_millis(1100));
    a.ask("h:S3:Alice:4", "i:Alice");
    std::thread::sleep(Duration::from_millis(1100));
    a.ask("h:S4:Alice:4", "error:too_many_sessions");
    let b = srv.peer();
    std::thread::sleep(Duration::from_millis(1100));
    b.ask("c:S1:Bob", "i:Alice:Bob");
    a.expect("i:Alice:Bob");
    let c = srv.peer();
    c.ask("c:S1:Carol", "error:server_full");
    // 50 refusals of one kind from one source: one log line (plus, later, the other kinds).
    let mut lines: HashMap<String, usize> = HashMap::new();
    while let Some(line) = srv.wait_log("refused", Duration::from_millis(500)) {
        let kind =
            line.split("(error:").nth(1).unwrap_or("").split([')', ';']).next().unwrap_or("").to_owned();
        *lines.entry(kind).or_insert(0) += 1;
    }
    assert_eq!(lines.get("too_many_requests"), Some(&1), "{lines:?}");
    assert_eq!(lines.get("too_many_sessions"), Some(&1), "{lines:?}");
    assert_eq!(lines.get("server_full"), Some(&1), "{lines:?}");
}
