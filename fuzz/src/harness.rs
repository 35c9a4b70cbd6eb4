//! Fuzz harnesses: plain functions of `&[u8]` that panic when a property breaks. Used by the
//! libFuzzer targets and, on stable, by the corpus replay test in `crates/server/tests`. Depends on
//! `rhp_proto` and `rhp_server` only.
//!
//! - [`parse_request`], [`parse_reply`], [`parse_peer`]: never panic; what parses renders to bytes
//!   that parse to the same message.
//! - [`engine`]: the bytes are a program of steps (clock jumps, raw datagrams, well-formed requests
//!   from small pools of names) run against an engine with small caps. After every step: the
//!   engine's invariants hold, its tables stay within their caps, and no budgeted IP was ever sent
//!   more than `factor` times the bytes it sent.

use rhp_proto::{PeerMessage, Reply, Request};
use rhp_server::config::BudgetConfig;
use rhp_server::{Config, Engine};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// `Request::parse` never panics, and what it parses round-trips.
pub fn parse_request(data: &[u8]) {
    if let Ok(req) = Request::parse(data) {
        let bytes = req.to_bytes();
        assert_eq!(Request::parse(&bytes).ok(), Some(req), "{:?} rendered {:?}", data, bytes);
        assert!(bytes.len() <= rhp_proto::MAX_REQUEST_LEN);
    }
}

/// `Reply::parse` never panics, and what it parses round-trips.
pub fn parse_reply(data: &[u8]) {
    if let Ok(reply) = Reply::parse(data) {
        let bytes = reply.to_bytes();
        assert_eq!(Reply::parse(&bytes).ok(), Some(reply), "{:?} rendered {:?}", data, bytes);
    }
}

/// `PeerMessage::parse` never panics, and what it parses round-trips.
pub fn parse_peer(data: &[u8]) {
    if let Ok(msg) = PeerMessage::parse(data) {
        let bytes = msg.to_bytes();
        assert_eq!(PeerMessage::parse(&bytes).ok(), Some(msg), "{:?} rendered {:?}", data, bytes);
    }
}

/// The small caps the engine harness runs with (or the original server, budget and caps off).
pub fn engine_config(hardened: bool) -> Config {
    if !hardened {
        return Config { max_sessions: 6, ..Config::original() };
    }
    Config {
        max_sessions: 6,
        max_sessions_per_ip: 3,
        max_players: 14,
        create_rate: 4,
        create_burst: 5,
        budget: BudgetConfig { max_tracked: 4, limit_loopback: true, ..BudgetConfig::default() },
        stats_interval: Duration::from_secs(30),
        ..Config::default()
    }
}

/// Source addresses: 4 IPs (two ports on one), a v4-mapped twin and loopback.
fn pool(i: u8) -> SocketAddr {
    match i % 7 {
        0 => SocketAddr::from(([10, 0, 0, 1], 1000)),
        1 => SocketAddr::from(([10, 0, 0, 1], 1001)),
        2 => SocketAddr::from(([10, 0, 0, 2], 1000)),
        3 => SocketAddr::from(([10, 0, 0, 3], 1000)),
        4 => SocketAddr::from(([10, 0, 0, 4], 1000)),
        5 => "[::ffff:10.0.0.2]:1000".parse().unwrap_or_else(|_| SocketAddr::from(([10, 0, 0, 2], 1000))),
        _ => SocketAddr::from(([127, 0, 0, 1], 1000)),
    }
}

const SESSIONS: [&str; 3] = ["Room", "Hall", "A123456789"];
const PLAYERS: [&str; 5] = ["Alice", "Bob", "Carol", "Dave12345678", "E"];

/// A well-formed request from the pools, chosen by `b` (and `c` for the rest).
fn request(b: u8, c: u8) -> Vec<u8> {
    let s = SESSIONS[usize::from(c % 3)];
    let p = PLAYERS[usize::from((c / 3) % 5)];
    let pass = if c & 0x80 != 0 { ":Pw" } else { "" };
    let text = match b % 8 {
        0 => format!("h:{s}:{p}:{}{pass}", 2 + (c / 15) % 11),
        1 | 7 => format!("c:{s}:{p}{pass}"),
        2 => format!("p:{s}:{p}"),
        3 => format!("s:{s}:{p}"),
        4 => format!("y:{s}:{p}"),
        5 => format!("k:{s}:{p}"),
        _ => format!("x:{s}:{p}"),
    };
    text.into_bytes()
}

/// Runs the bytes as a program against an engine; panics if a property breaks.
pub fn engine(data: &[u8]) {
    let Some((&first, mut rest)) = data.split_first() else { return };
    let hardened = first & 1 == 0;
    let config = engine_config(hardened);
    let factor = u64::from(config.budget.factor);
    let t0 = Instant::now();
    let mut now = t0;
    let mut engine = Engine::new(config.clone());
    let mut buf = Vec::new();
    // Bytes received from / sent to each IP over the whole run.
    let mut received: HashMap<IpAddr, u64> = HashMap::new();
    let mut sent: HashMap<IpAddr, u64> = HashMap::new();
    let mut steps = 0;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        steps += 1;
        if steps > 4096 {
            break;
        }
        match op % 4 {
            0 => {
                let Some((&b, tail)) = rest.split_first() else { break };
                rest = tail;
                let step = match b {
                    255 => Duration::from_secs(20 * 60),
                    254 => Duration::from_secs(6),
                    _ => Duration::from_millis(u64::from(b) * 10),
                };
                now += step;
                // Fire every deadline up to now at its own instant, as the shell would.
                for _ in 0..100_000 {
                    match engine.poll_timeout() {
                        Some(d) if d <= now => {
                            engine.handle_timeout(d.max(t0));
                            drain(&mut engine, &mut buf, &mut sent);
                        }
                        _ => break,
                    }
                }
                engine.handle_timeout(now);
            }
            1 => {
                // Raw bytes: [src, len, bytes...].
                let [src, len, tail @ ..] = rest else { break };
                let n = usize::from(*len % 64).min(tail.len());
                let (bytes, tail) = tail.split_at(n);
                rest = tail;
                let from = pool(*src);
                *received.entry(from.ip().to_canonical()).or_insert(0) += bytes.len() as u64;
                engine.handle_datagram(now, from, bytes);
            }
            _ => {
                // A well-formed request: [src, kind, choice].
                let [src, kind, choice, tail @ ..] = rest else { break };
                rest = tail;
                let from = pool(*src);
                let bytes = request(*kind, *choice);
                *received.entry(from.ip().to_canonical()).or_insert(0) += bytes.len() as u64;
                engine.handle_datagram(now, from, &bytes);
            }
        }
        let queued = engine.queued_transmits();
        // One step sends at most a round of start messages or lists to every player, or errors.
        assert!(queued <= 64, "{queued} datagrams queued by one step");
        drain(&mut engine, &mut buf, &mut sent);
        check(&engine, &config);
        if hardened {
            for (ip, &out) in &sent {
                let limited = config.budget.limit_loopback || !ip.is_loopback();
                let got = received.get(ip).copied().unwrap_or(0);
                assert!(!limited || out <= factor * got, "{ip}: sent {out} bytes for {got} received");
            }
        }
    }
    // Everything ends: after the longest lifetime, nothing is left.
    now += config.session_lifetime + config.start_hold + Duration::from_secs(60);
    for _ in 0..100_000 {
        match engine.poll_timeout() {
            Some(d) if d <= now => {
                engine.handle_timeout(d);
                drain(&mut engine, &mut buf, &mut sent);
            }
            _ => break,
        }
    }
    assert_eq!((engine.session_count(), engine.player_count()), (0, 0), "sessions outlived their lifetime");
    check(&engine, &config);
}

fn drain(engine: &mut Engine, buf: &mut Vec<u8>, sent: &mut HashMap<IpAddr, u64>) {
    for _ in 0..100_000 {
        let Some(to) = engine.poll_transmit(buf) else { return };
        *sent.entry(to.ip().to_canonical()).or_insert(0) += buf.len() as u64;
    }
    panic!("the engine keeps queueing datagrams");
}

fn check(engine: &Engine, config: &Config) {
    if let Err(e) = engine.check_invariants() {
        panic!("invariant broken: {e}");
    }
    assert!(engine.session_count() <= config.max_sessions);
    assert!(engine.player_count() <= config.max_players.max(1));
    assert!(engine.budget_tracked() <= config.budget.max_tracked);
    let (rate, per_ip) = engine.limits_tracked();
    assert!(rate <= 8 && per_ip <= 8, "limits track {rate}/{per_ip} IPs of a pool of 6");
}
