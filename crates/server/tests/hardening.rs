//! Hardening, engine level (fake clock, no sockets):
//! - honest Godot-plugin flows (2..12 players, 12-character names, the plugin's cadence: `h:`/`c:`
//!   resent every 0.5 s until answered, a ping every 0.5 s, `s:` every 0.5 s once started, never
//!   `y:`) all reach the start message, together, with no 15 s silence, under the default budget;
//! - a spoofing attacker (requests "from" victims that never send anything themselves) gets at most
//!   3x the bytes it forged delivered to each victim, where the original server gives far more;
//! - caps and rate limits refuse with their error codes, and retransmits cost no token.

mod common;
use common::ms;
use rhp_server::{Config, Engine, SocketId, Transmit};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// A distinct IP per index: 198.51.100.x / 198.51.101.x, port 50000 + i.
fn ip_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([198, 51, 100 + (i / 200) as u8, (i % 200) as u8 + 1], 50000 + i as u16))
}

/// A 12-character player name.
fn name12(i: usize) -> String {
    format!("Player{i:06}")
}

/// The engine plus byte counters per IP (what each IP sent us, what we sent it).
struct Net {
    engine: Engine,
    t0: Instant,
    now: Instant,
    received: HashMap<IpAddr, u64>,
    sent: HashMap<IpAddr, u64>,
}

impl Net {
    fn new(config: Config) -> Net {
        let t0 = Instant::now();
        Net { engine: Engine::new(config), t0, now: t0, received: HashMap::new(), sent: HashMap::new() }
    }

    fn feed(&mut self, from: SocketAddr, text: &str) -> Vec<(SocketAddr, String)> {
        *self.received.entry(from.ip()).or_insert(0) += text.len() as u64;
        self.engine.handle_datagram(self.now, SocketId::MAIN, from, text.as_bytes());
        self.drain()
    }

    fn drain(&mut self) -> Vec<(SocketAddr, String)> {
        let mut out = Vec::new();
        let mut tx = Transmit::empty();
        while self.engine.poll_transmit(&mut tx) {
            *self.sent.entry(tx.to.ip()).or_insert(0) += tx.data.len() as u64;
            out.push((tx.to, String::from_utf8_lossy(&tx.data).into_owned()));
            assert!(out.len() < 100_000);
        }
        out
    }

    /// Moves the clock to `at`, firing the engine's deadlines on the way.
    fn advance_to(&mut self, at: Instant) -> Vec<(SocketAddr, String)> {
        let mut out = Vec::new();
        for _ in 0..100_000 {
            match self.engine.poll_timeout() {
                Some(d) if d <= at => {
                    self.now = self.now.max(d);
                    self.engine.handle_timeout(self.now);
                    out.extend(self.drain());
                }
                _ => break,
            }
        }
        self.now = self.now.max(at);
        out
    }

    /// Every IP got at most `factor` times what it sent.
    fn assert_within(&self, factor: u64) {
        for (ip, &out) in &self.sent {
            let got = self.received.get(ip).copied().unwrap_or(0);
            assert!(out <= factor * got, "{ip} was sent {out} bytes for {got} received");
        }
    }
}

/// A Godot plugin player, as far as the server phase goes.
struct GodotPlayer {
    addr: SocketAddr,
    name: String,
    is_host: bool,
    /// The request it repeats every 0.5 s.
    repeat: String,
    joined: bool,
    started: bool,
    /// When it got its first start message.
    start_at: Option<Instant>,
    /// When it last heard anything from the server.
    last_heard: Instant,
    /// The longest silence it saw while in the server phase.
    longest_silence: Duration,
    /// The last list it got.
    players: Vec<String>,
    failed: Option<String>,
    next_send: Instant,
}

impl GodotPlayer {
    fn on_datagram(&mut self, now: Instant, text: &str, n: usize, session: &str) {
        if self.started {
            return; // its server socket is closed
        }
        self.longest_silence = self.longest_silence.max(now - self.last_heard);
        self.last_heard = now;
        if let Some(list) = text.strip_prefix("i:") {
            self.players = list.split(':').map(str::to_owned).collect();
            if !self.joined {
                self.joined = true;
                self.repeat = format!("p:{session}:{}", self.name);
            }
            if self.players.first() == Some(&self.name) {
                self.is_host = true;
            }
            if self.is_host && self.players.len() == n && !self.repeat.starts_with("s:") {
                // The test driver starts as soon as the list has everybody; the plugin sends at once.
                self.repeat = format!("s:{session}:{}", self.name);
                self.next_send = now;
            }
        } else if text.starts_with("s:") {
            self.started = true;
            self.start_at = Some(now);
        } else if text.starts_with("error:") {
            self.failed = Some(text.to_owned());
        }
    }
}

/// Runs `n` Godot players (12-character names, distinct IPs) joining one at a time, 0.3 s apart,
/// through `config`; returns the players at the end.
fn godot_session(config: Config, n: usize, session: &str) -> (Net, Vec<GodotPlayer>) {
    godot_session_with(config, n, session, ip_addr, ms(300), name12)
}

/// [`godot_session`] with the addresses, the time between two joins and the names chosen.
fn godot_session_with(
    config: Config,
    n: usize,
    session: &str,
    addr_of: fn(usize) -> SocketAddr,
    join_gap: Duration,
    name_of: fn(usize) -> String,
) -> (Net, Vec<GodotPlayer>) {
    let mut net = Net::new(config);
    let t0 = net.t0;
    let mut players: Vec<GodotPlayer> = (0..n)
        .map(|i| {
            let name = name_of(i);
            let repeat =
                if i == 0 { format!("h:{session}:{name}:{n}") } else { format!("c:{session}:{name}") };
            let start = t0 + join_gap * i as u32 + ms(1);
            GodotPlayer {
                addr: addr_of(i),
                name,
                is_host: i == 0,
                repeat,
                joined: false,
                started: false,
                start_at: None,
                last_heard: start,
                longest_silence: Duration::ZERO,
                players: Vec::new(),
                failed: None,
                next_send: start,
            }
        })
        .collect();
    let end = t0 + Duration::from_secs(40);
    for _ in 0..1_000_000 {
        let next_player =
            players.iter().filter(|p| !p.started && p.failed.is_none()).map(|p| p.next_send).min();
        let Some(at) = next_player else { break };
        if at > end {
            break;
        }
        let out = net.advance_to(at);
        deliver(&mut players, out, net.now, n, session);
        let now = net.now;
        for i in 0..players.len() {
            let p = &mut players[i];
            if p.started || p.failed.is_some() || p.next_send > now {
                continue;
            }
            // The plugin gives up after 15 s without any datagram from the server.
            if now - p.last_heard > Duration::from_secs(15) {
                p.failed = Some("error:server_timeout".into());
                continue;
            }
            p.next_send = now + ms(500);
            let (addr, text) = (p.addr, p.repeat.clone());
            let out = net.feed(addr, &text);
            deliver(&mut players, out, now, n, session);
        }
    }
    // Let the server finish its rounds.
    let out = net.advance_to(net.now + Duration::from_secs(20));
    deliver(&mut players, out, net.now, n, session);
    (net, players)
}

fn deliver(
    players: &mut [GodotPlayer],
    out: Vec<(SocketAddr, String)>,
    now: Instant,
    n: usize,
    session: &str,
) {
    for (to, text) in out {
        if let Some(p) = players.iter_mut().find(|p| p.addr == to) {
            p.on_datagram(now, &text, n, session);
        }
    }
}

#[test]
fn honest_godot_sessions_of_2_to_12_players_all_start_together_under_the_budget() {
    for n in 2..=12 {
        let (net, players) = godot_session(Config::default(), n, "Session123");
        let starts: Vec<Instant> = players
            .iter()
            .map(|p| {
                assert_eq!(p.failed, None, "n={n}: {} failed", p.name);
                p.start_at.unwrap_or_else(|| panic!("n={n}: {} never got its start message", p.name))
            })
            .collect();
        let (first, last) = (starts.iter().min().copied(), starts.iter().max().copied());
        let spread = last.zip(first).map(|(l, f)| l - f).unwrap_or_default();
        // The plugin's peer phase tries the exact port only for its first 0.25 s of greetings.
        assert!(spread <= ms(100), "n={n}: start messages {spread:?} apart");
        for p in &players {
            assert!(
                p.longest_silence < Duration::from_secs(10),
                "n={n}: {} heard nothing for {:?}",
                p.name,
                p.longest_silence
            );
        }
        net.assert_within(3);
        assert_eq!((net.engine.session_count(), net.engine.player_count()), (0, 0), "n={n}");
        let delay = first.map(|f| f - net.t0).unwrap_or_default();
        println!("n={n}: all started {delay:?} after the first join (spread {spread:?})");
    }
}

#[test]
fn honest_godot_session_behaves_the_same_without_the_budget() {
    for n in [2, 12] {
        let (net, players) = godot_session(Config::original(), n, "Session123");
        assert!(players.iter().all(|p| p.start_at.is_some() && p.failed.is_none()), "n={n}");
        assert_eq!(net.engine.session_count(), 0);
    }
}

/// The attack of PROTOCOL-NOTES: forged joins of 12 players with 12-character names from 12 victim
/// addresses, a forged `s:` from the "host" victim, then forged pings; the victims send nothing.
/// Returns (bytes forged per victim IP, bytes delivered per victim IP).
fn spoof(config: Config, seconds: u64) -> (HashMap<IpAddr, u64>, HashMap<IpAddr, u64>) {
    let mut net = Net::new(config);
    let victims: Vec<SocketAddr> = (0..12).map(|i| ip_addr(100 + i)).collect();
    let s = "Victims123";
    net.feed(victims[0], &format!("h:{s}:{}:12", name12(0)));
    for (i, v) in victims.iter().enumerate().skip(1) {
        net.feed(*v, &format!("c:{s}:{}", name12(i)));
    }
    net.feed(victims[0], &format!("s:{s}:{}", name12(0)));
    // Forged pings (and forged s:) every 0.5 s, as a plugin would send them.
    for step in 0..seconds * 2 {
        let at = net.t0 + ms(500) * (step as u32 + 1);
        net.advance_to(at);
        for (i, v) in victims.iter().enumerate() {
            let text = if i == 0 { format!("s:{s}:{}", name12(0)) } else { format!("p:{s}:{}", name12(i)) };
            net.feed(*v, &text);
        }
    }
    net.advance_to(net.now + Duration::from_secs(30));
    (net.received, net.sent)
}

#[test]
fn spoofed_joins_and_start_get_at_most_3x_to_each_victim() {
    for seconds in [0, 2, 20] {
        let (forged, delivered) = spoof(Config::default(), seconds);
        let total_forged: u64 = forged.values().sum();
        for (ip, &got) in &delivered {
            let f = forged.get(ip).copied().unwrap_or(0);
            assert!(
                got <= 3 * f,
                "{seconds} s of forged pings: victim {ip} got {got} bytes for {f} forged from it"
            );
            assert!(got <= 3 * total_forged);
        }
        let total: u64 = delivered.values().sum();
        let worst = delivered
            .iter()
            .map(|(ip, &got)| got as f64 / forged.get(ip).copied().unwrap_or(0).max(1) as f64)
            .fold(0.0, f64::max);
        println!(
            "budget on, {seconds} s of pings: forged {total_forged} B, delivered {total} B, worst victim {worst:.2}x"
        );
        assert!(total <= 3 * total_forged);
    }
    // The same attack on the original: the amplification the budget removes.
    let (forged, delivered) = spoof(Config::original(), 0);
    let (f, d): (u64, u64) = (forged.values().sum(), delivered.values().sum());
    println!("original: forged {f} B, delivered {d} B ({}x)", d / f.max(1));
    assert!(d > 20 * f, "the original amplifies this attack {d}/{f}");
}

#[test]
fn forged_pings_alone_get_at_most_3x() {
    // A real session exists; the attacker forges pings of its players from victim addresses
    // (wrong address: errors), and pings of an unknown session.
    let mut net = Net::new(Config::default());
    let host = ip_addr(1);
    net.feed(host, "h:Room:Alice:4");
    for i in 0..200 {
        let victim = ip_addr(300 + i % 7);
        net.feed(victim, "p:Room:Alice");
        net.feed(victim, "p:R:A");
        net.feed(victim, "k:Room:Alice");
        net.feed(victim, "");
    }
    net.assert_within(3);
    // Requests about sessions the sender is not in open no budget account: only the host has one.
    assert_eq!(net.engine.budget_tracked(), 1);
    // Tiny garbage is never answered: 3x of 0 or 5 bytes is no room for an error.
    assert!(net.feed(ip_addr(400), "").is_empty());
    assert!(net.feed(ip_addr(401), "h:R").is_empty());
}

#[test]
fn a_retransmitted_list_or_start_waits_for_the_players_next_request() {
    // Two players with 12-character names; the joiner's budget is too small for the list at first.
    let mut net = Net::new(Config::default());
    let (a, b) = (ip_addr(1), ip_addr(2));
    let s = "Session123";
    assert_eq!(net.feed(a, &format!("h:{s}:{}:2", name12(0))).len(), 1);
    let out = net.feed(b, &format!("c:{s}:{}", name12(1)));
    // The list (27 bytes) fits 3x the 21-byte join; both get it.
    assert_eq!(out.len(), 2, "{out:?}");
    // Pings right after: no list (unchanged, refresh not due).
    assert!(net.feed(b, &format!("p:{s}:{}", name12(1))).is_empty());
    // Both ping every 0.5 s: b hears nothing until its list is 5 s old, then gets it again.
    let joined = net.now;
    let mut heard = Vec::new();
    for _ in 0..12 {
        net.advance_to(net.now + ms(500));
        net.feed(a, &format!("p:{s}:{}", name12(0)));
        for (to, text) in net.feed(b, &format!("p:{s}:{}", name12(1))) {
            heard.push((net.now - joined, to, text));
        }
    }
    let list = format!("i:{}:{}", name12(0), name12(1));
    assert_eq!(heard, vec![(ms(5000), b, list.clone())], "one refresh after 5 s");
    // A change goes out at once; when the budget is short, with the answer to the next request.
    let c = ip_addr(3);
    let out = net.feed(c, &format!("c:{s}:{}", name12(2)));
    assert_eq!(out, vec![(c, "error:session_full".into())]);
    net.assert_within(3);
}

#[test]
fn caps_refuse_with_their_codes() {
    let config = Config {
        create_rate: 1,
        create_burst: 2,
        max_sessions_per_ip: 3,
        max_sessions: 5,
        max_players: 7,
        ..Config::default()
    };
    let mut net = Net::new(config);
    let a = ip_addr(1);
    assert_eq!(net.feed(a, "h:S1:Alice:4")[0].1, "i:Alice");
    assert_eq!(net.feed(a, "h:S2:Alice:4")[0].1, "i:Alice");
    // Burst of 2 spent: the third creation within the second is refused.
    assert_eq!(net.feed(a, "h:S3:Alice:4"), vec![(a, "error:too_many_requests".into())]);
    // A retransmit creates nothing and costs no token.
    assert_eq!(net.feed(a, "h:S1:Alice:4")[0].1, "i:Alice");
    net.advance_to(net.now + ms(1000));
    assert_eq!(net.feed(a, "h:S3:Alice:4")[0].1, "i:Alice");
    net.advance_to(net.now + ms(1000));
    // Per-IP session cap (3), whatever the port.
    let a2 = SocketAddr::new(a.ip(), 9);
    assert_eq!(net.feed(a2, "h:S4:Alice:4"), vec![(a2, "error:too_many_sessions".into())]);
    // Another IP may, up to the global cap (5).
    let b = ip_addr(2);
    assert_eq!(net.feed(b, "h:S4:Bob:4")[0].1, "i:Bob");
    assert_eq!(net.feed(b, "h:S5:Bob:4")[0].1, "i:Bob");
    let c = ip_addr(3);
    assert_eq!(net.feed(c, "h:S6:Carol:4"), vec![(c, "error:too_many_sessions".into())]);
    // Players: 5 now, cap 7.
    assert_eq!(net.feed(c, "c:S1:Carol").len(), 2);
    let d = ip_addr(4);
    let out = net.feed(d, "c:S1:Dave");
    assert!(out.contains(&(d, "i:Alice:Carol:Dave".into())), "{out:?}");
    // Carol's budget (one 10-byte join, its list sent) has no room for this list: it waits for
    // her next request.
    assert!(!out.iter().any(|(to, _)| *to == c), "{out:?}");
    assert_eq!(net.feed(c, "p:S1:Carol"), vec![(c, "i:Alice:Carol:Dave".into())]);
    let e = ip_addr(5);
    assert_eq!(net.feed(e, "c:S1:Eve"), vec![(e, "error:server_full".into())]);
    // A member's retransmit is still answered.
    assert_eq!(net.feed(d, "c:S1:Dave"), vec![(d, "i:Alice:Carol:Dave".into())]);
    // A session that ends gives its IP's slot back.
    assert_eq!(net.feed(b, "x:S5:Bob")[0].1, "error:player_exited_session");
    assert_eq!(net.feed(c, "h:S6:Carol:4")[0].1, "i:Carol");
    assert!(net.engine.check_invariants().is_ok());
}

#[test]
fn budget_table_and_rate_table_stay_bounded_under_a_spoofed_flood() {
    let config = Config {
        budget: rhp_server::config::BudgetConfig { max_tracked: 100, ..Default::default() },
        ..Config::default()
    };
    let mut net = Net::new(config);
    for i in 0..5000usize {
        let from = SocketAddr::from(([100, (i >> 16) as u8, (i >> 8) as u8, i as u8], 1000));
        net.feed(from, &format!("h:F{i}:Bob:2"));
        net.feed(from, &format!("p:F{i}:Bob"));
        if i % 500 == 0 {
            net.advance_to(net.now + ms(100));
        }
    }
    // Every member's IP has an account (the flood's sessions are members, up to the player cap);
    // beyond them at most max_tracked (100) accounts of addresses that left linger.
    assert!(net.engine.budget_tracked() <= net.engine.player_count() + 100);
    net.assert_within(3);
    // Every session timed out: the accounts that linger are bounded by max_tracked.
    net.advance_to(net.now + Duration::from_secs(6));
    assert_eq!(net.engine.player_count(), 0);
    assert!(net.engine.budget_tracked() <= 100, "{} accounts", net.engine.budget_tracked());
    net.advance_to(net.now + Duration::from_secs(60));
    assert_eq!(net.engine.session_count(), 0);
    // Tables empty out once the window has passed (the sweep runs on the next event).
    net.feed(ip_addr(1), "z:");
    assert_eq!(net.engine.budget_tracked(), 0);
    assert_eq!(net.engine.limits_tracked(), (0, 0));
}

/// The Godot harness on loopback: every player on one IP (one shared budget), the clients joining
/// within a few milliseconds of each other, short names.
#[test]
fn godot_players_behind_one_ip_joining_at_once_start_together() {
    fn same_ip(i: usize) -> SocketAddr {
        SocketAddr::from(([198, 51, 100, 7], 40000 + i as u16))
    }
    fn short(i: usize) -> String {
        [
            "Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory",
            "Niaj",
        ][i % 12]
            .to_owned()
    }
    for n in [2, 3, 12] {
        let (net, players) = godot_session_with(Config::default(), n, "G1234abcde", same_ip, ms(6), short);
        let starts: Vec<Instant> = players.iter().filter_map(|p| p.start_at).collect();
        assert_eq!(starts.len(), n, "n={n}: {:?}", players.iter().map(|p| &p.failed).collect::<Vec<_>>());
        let first = starts.iter().min().copied().unwrap_or(net.t0);
        let spread = starts.iter().max().copied().unwrap_or(first) - first;
        println!("one IP, n={n}: all started {:?} after the first join, spread {spread:?}", first - net.t0);
        assert!(spread <= ms(100), "n={n}: spread {spread:?}");
        net.assert_within(3);
    }
}
