//! Fuzz harnesses: plain functions of `&[u8]` that panic when a property breaks. Used by the
//! libFuzzer targets and, on stable, by the corpus replay test in `crates/server/tests`. Depends on
//! `rhp_proto` and `rhp_server` only.
//!
//! - [`parse_request`], [`parse_reply`], [`parse_peer`]: never panic; what parses renders to bytes
//!   that parse to the same message.
//! - [`engine`]: the bytes are a program of steps (clock jumps, raw datagrams, well-formed requests
//!   from small pools of names, relay frames carrying the tokens of grants the engine sent) run
//!   against an engine with small caps. After every step: the engine's invariants hold, its
//!   tables stay within their caps, no budgeted IP was ever sent more than `factor` times the
//!   bytes it sent (forwarded relay data aside: its sender paid for it), and the relay never
//!   forwarded more bytes than relay frames brought in.

use rhp_proto::relay::{Grant, FROM_DATA, MAGIC, TO_DATA};
use rhp_proto::{PeerMessage, Reply, Request};
use rhp_server::config::BudgetConfig;
use rhp_server::{Config, Engine, RelayConfig, SocketId, Transmit};
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
        // Small relay caps, so that a program reaches each refusal.
        relay: RelayConfig {
            player_rate: 2048,
            player_burst: 4096,
            lifetime: Duration::from_secs(10 * 60),
            max_per_ip: 2,
            server_rate: 8192,
            max_sessions: 2,
            ..RelayConfig::default()
        },
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
    let text = match b % 10 {
        0 => format!("h:{s}:{p}:{}{pass}", 2 + (c / 15) % 11),
        1 | 7 => format!("c:{s}:{p}{pass}"),
        2 => format!("p:{s}:{p}"),
        3 => format!("s:{s}:{p}"),
        4 => format!("y:{s}:{p}"),
        5 => format!("k:{s}:{p}"),
        6 => format!("x:{s}:{p}"),
        // The privacy extension on the same bit as unban: it is `r:` and more.
        8 if c & 0x40 != 0 => format!("q:{s}:{p}"),
        8 => format!("r:{s}:{p}"),
        // The unban extension, on a bit of `c` the password does not use (kept beside `e:` so the
        // corpus's other choices still make the same requests).
        _ if c & 0x40 != 0 => format!("u:{s}:{p}"),
        _ => format!("e:{s}:{p}:{}", ["e", "r", "s40000+1"][usize::from(c / 15 % 3)]),
    };
    text.into_bytes()
}

/// Most grants remembered (the newest replace the oldest).
const MAX_GRANTS: usize = 8;

/// A grant the engine sent: to whom, the token, how many members.
#[derive(Clone, Copy)]
struct Granted {
    to: SocketAddr,
    token: u64,
    members: u8,
}

/// A relay frame built from `grants`, chosen by `[sel, kind, to, len]`: data, bind or leave, with
/// a granted token, from the grant's own address or (top bit of `sel`) another one of the pool.
fn relay_frame(grants: &[Granted], sel: u8, kind: u8, to: u8, len: u8) -> Option<(SocketAddr, Vec<u8>)> {
    if grants.is_empty() {
        return None;
    }
    let g = grants[usize::from(sel & 0x7f) % grants.len()];
    let from = if sel & 0x80 != 0 { pool(sel) } else { g.to };
    let kind = kind % 3;
    let mut frame = vec![MAGIC, TO_DATA + kind];
    frame.extend_from_slice(&g.token.to_be_bytes());
    if kind == 0 {
        // Mostly a member's index; now and then one past the list.
        frame.push(to % (g.members + 1));
        frame.resize(frame.len() + usize::from(len % 48), len);
    }
    Some((from, frame))
}

/// What a run of [`engine`] saw (for tests that check a program reached the relay).
#[derive(Debug, Default, Clone, Copy)]
pub struct Run {
    /// Grants the engine sent.
    pub grants: u64,
    /// Relay frames fed, and their bytes.
    pub relay_frames_in: u64,
    pub relay_bytes_in: u64,
    /// Bytes the engine forwarded as relay data frames.
    pub relay_bytes_out: u64,
}

/// Bytes sent by the engine: per IP (everything but forwarded relay data), and forwarded relay
/// data in all.
#[derive(Default)]
struct Sent {
    budgeted: HashMap<IpAddr, u64>,
    relay: u64,
    grants: Vec<Granted>,
    grant_count: u64,
}

/// Runs the bytes as a program against an engine; panics if a property breaks.
pub fn engine(data: &[u8]) -> Run {
    let mut run = Run::default();
    let Some((&first, mut rest)) = data.split_first() else { return run };
    let hardened = first & 1 == 0;
    let config = engine_config(hardened);
    let factor = u64::from(config.budget.factor);
    let t0 = Instant::now();
    let mut now = t0;
    let mut engine = Engine::new(config.clone());
    let mut buf = Transmit::empty();
    // Bytes received from / sent to each IP over the whole run.
    let mut received: HashMap<IpAddr, u64> = HashMap::new();
    let mut sent = Sent::default();
    let mut steps = 0;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        steps += 1;
        if steps > 4096 {
            break;
        }
        match op % 5 {
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
                if bytes.first() == Some(&MAGIC) {
                    run.relay_bytes_in += bytes.len() as u64;
                }
                engine.handle_datagram(now, SocketId::MAIN, from, bytes);
            }
            4 => {
                // A relay frame with a granted token: [sel, kind, to, len].
                let [sel, kind, to, len, tail @ ..] = rest else { break };
                rest = tail;
                let Some((from, frame)) = relay_frame(&sent.grants, *sel, *kind, *to, *len) else { continue };
                *received.entry(from.ip().to_canonical()).or_insert(0) += frame.len() as u64;
                run.relay_frames_in += 1;
                run.relay_bytes_in += frame.len() as u64;
                engine.handle_datagram(now, SocketId::MAIN, from, &frame);
            }
            _ => {
                // A well-formed request: [src, kind, choice].
                let [src, kind, choice, tail @ ..] = rest else { break };
                rest = tail;
                let from = pool(*src);
                let bytes = request(*kind, *choice);
                *received.entry(from.ip().to_canonical()).or_insert(0) += bytes.len() as u64;
                engine.handle_datagram(now, SocketId::MAIN, from, &bytes);
            }
        }
        let queued = engine.queued_transmits();
        // One step sends at most a round of start messages or lists to every player, or errors.
        assert!(queued <= 64, "{queued} datagrams queued by one step");
        drain(&mut engine, &mut buf, &mut sent);
        check(&engine, &config);
        if hardened {
            for (ip, &out) in &sent.budgeted {
                let limited = config.budget.limit_loopback || !ip.is_loopback();
                let got = received.get(ip).copied().unwrap_or(0);
                assert!(!limited || out <= factor * got, "{ip}: sent {out} bytes for {got} received");
            }
        }
        let relay_in = run.relay_bytes_in;
        assert!(sent.relay <= relay_in, "the relay forwarded {} bytes for {relay_in} received", sent.relay);
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
    assert_eq!(engine.relay_stats().sessions_live, 0, "relay sessions outlived their members");
    check(&engine, &config);
    run.grants = sent.grant_count;
    run.relay_bytes_out = sent.relay;
    run
}

fn drain(engine: &mut Engine, tx: &mut Transmit, sent: &mut Sent) {
    for _ in 0..100_000 {
        if !engine.poll_transmit(tx) {
            return;
        }
        assert_eq!(tx.via, SocketId::MAIN, "only STUN answers to the alternate port leave from it");
        let (to, buf) = (tx.to, &tx.data);
        // Forwarded data is paid for by its sender (1:1, 8 bytes less); every other datagram,
        // relay control frames included, counts against the addressee's own bytes.
        if buf.starts_with(&[MAGIC, FROM_DATA]) {
            sent.relay += buf.len() as u64;
            continue;
        }
        *sent.budgeted.entry(to.ip().to_canonical()).or_insert(0) += buf.len() as u64;
        if buf.starts_with(b"r:") {
            if let Ok(g) = Grant::parse(buf) {
                sent.grant_count += 1;
                if sent.grants.len() == MAX_GRANTS {
                    sent.grants.remove(0);
                }
                sent.grants.push(Granted { to, token: g.token, members: g.members.len() as u8 });
            }
        }
    }
    panic!("the engine keeps queueing datagrams");
}

fn check(engine: &Engine, config: &Config) {
    if let Err(e) = engine.check_invariants() {
        panic!("invariant broken: {e}");
    }
    assert!(engine.session_count() <= config.max_sessions);
    assert!(engine.player_count() <= config.max_players.max(1));
    // Every member's IP, and at most max_tracked more that left within the window.
    assert!(engine.budget_tracked() <= engine.player_count() + config.budget.max_tracked);
    let (rate, per_ip) = engine.limits_tracked();
    assert!(rate <= 8 && per_ip <= 8, "limits track {rate}/{per_ip} IPs of a pool of 6");
}
