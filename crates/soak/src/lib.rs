//! Soak test for the rendezvous server: runs the real `rabid-hole-punch serve` on loopback and
//! keeps thousands of players churning against it (join, ping, start, exit, kick, time out) for a
//! set time, then stops and waits for the server to empty. It reports the server's RSS (from
//! `/proc/PID/status`) and its session and player counts (from its `--stats-interval-s` log lines)
//! at intervals.
//!
//! # Load
//! Players come in groups (a host and 1..5 clients, one UDP socket each, spread over the loopback
//! IPs 127.0.0.1..=127.0.0.250 so per-IP caps and budgets see many sources). A group joins like
//! the Godot plugin (`h:`/`c:` every 0.5 s until `i:`), pings every 0.5 s for 1..15 s, then ends
//! one way, in turn: the host starts (everyone keeps asking until its `s:` arrives), everyone
//! exits, everyone goes silent (the server times them out), or the host kicks a client and the
//! rest exit. A finished group's sockets rest 2 s (late datagrams drain), then a new group with
//! new names takes them. The server runs with the anti-reflection budget applied to loopback
//! (`--reflection-loopback`) and otherwise default caps.
//!
//! # Pass
//! Zero sessions and zero players at the end, and RSS flat: the peak over the second half of the
//! load is at most 1.5x the peak over the first half plus 4 MB.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// The `rabid-hole-punch` binary.
    pub server_bin: PathBuf,
    /// How long to keep the load on.
    pub load_for: Duration,
    /// Players to keep in play (about).
    pub players: usize,
    /// How often to print a report line.
    pub report_every: Duration,
    /// How long to wait for the server to empty after the load stops.
    pub drain_for: Duration,
    /// More flags for `serve`.
    pub serve_flags: Vec<String>,
}

impl Default for SoakConfig {
    fn default() -> SoakConfig {
        SoakConfig {
            server_bin: PathBuf::from("target/release/rabid-hole-punch"),
            load_for: Duration::from_secs(600),
            players: 3000,
            report_every: Duration::from_secs(10),
            drain_for: Duration::from_secs(40),
            serve_flags: Vec::new(),
        }
    }
}

/// One report line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Seconds since the load started.
    pub at_s: f64,
    /// Server RSS in kB.
    pub rss_kb: u64,
    /// Sessions and players the server last reported.
    pub sessions: u64,
    /// Players the server last reported.
    pub players: u64,
    /// Players the load generator has in play.
    pub active_players: usize,
    /// Datagrams sent / received by the load generator so far.
    pub sent: u64,
    /// Datagrams received so far.
    pub received: u64,
}

/// What a run found.
#[derive(Debug, Clone, Default)]
pub struct SoakReport {
    /// Report lines, in order (the last one after the drain).
    pub samples: Vec<Sample>,
    /// Groups finished, and by how.
    pub groups_done: u64,
    /// Starts that ran to their end during the load, and those where every player got its start
    /// message.
    pub starts: (u64, u64),
    /// `error:` replies of the caps (too_many_requests / too_many_sessions / server_full).
    pub cap_errors: u64,
    /// Players that gave up joining (no `i:` within 15 s).
    pub join_failures: u64,
}

impl SoakReport {
    fn load_samples(&self) -> &[Sample] {
        self.samples.split_last().map(|(_, s)| s).unwrap_or(&[])
    }

    /// Peak RSS (kB) over the first and the second half of the load.
    pub fn rss_halves(&self) -> (u64, u64) {
        let load = self.load_samples();
        let half = load.len() / 2;
        let peak = |s: &[Sample]| s.iter().map(|x| x.rss_kb).max().unwrap_or(0);
        (peak(&load[..half]), peak(&load[half..]))
    }

    /// Zero sessions and players at the end, RSS flat.
    pub fn passed(&self) -> bool {
        let Some(last) = self.samples.last() else { return false };
        let (first, second) = self.rss_halves();
        last.sessions == 0 && last.players == 0 && second <= first + first / 2 + 4096
    }

    /// One paragraph for a person.
    pub fn summary(&self) -> String {
        let (first, second) = self.rss_halves();
        let last = self.samples.last().copied().unwrap_or_default();
        let peak_players = self.samples.iter().map(|s| s.players).max().unwrap_or(0);
        let peak_sessions = self.samples.iter().map(|s| s.sessions).max().unwrap_or(0);
        format!(
            "soak: {} after {:.0} s: RSS peak first half {} kB, second half {} kB, end {} kB; \
             peak {} sessions / {} players; at the end {} sessions, {} players; {} groups done, \
             starts {}/{} complete, {} cap errors, {} join failures",
            if self.passed() { "PASS" } else { "FAIL" },
            last.at_s,
            first,
            second,
            last.rss_kb,
            peak_sessions,
            peak_players,
            last.sessions,
            last.players,
            self.groups_done,
            self.starts.1,
            self.starts.0,
            self.cap_errors,
            self.join_failures,
        )
    }
}

/// How a group ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Start,
    Exit,
    Silent,
    Kick,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Joining,
    InSession,
    Done,
}

struct Player {
    name: String,
    state: State,
    next_send: Instant,
    last_heard: Instant,
    started: bool,
}

struct Group {
    sockets: Vec<UdpSocket>,
    size: usize,
    session: String,
    players: Vec<Player>,
    end: End,
    /// When the group stops pinging and ends its way.
    end_at: Instant,
    /// Rests until then (between two incarnations).
    rest_until: Option<Instant>,
}

/// Stats parsed from the server's log.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    sessions: u64,
    players: u64,
    seen: bool,
}

struct Server {
    child: Child,
    addr: SocketAddr,
    stats: Arc<Mutex<Stats>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(config: &SoakConfig) -> Result<Server, String> {
    let mut child = Command::new(&config.server_bin)
        .args(["serve", "--bind", "127.0.0.1", "--port", "0", "--no-log-file", "--stats-interval-s", "1"])
        .arg("--reflection-loopback")
        .args(&config.serve_flags)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", config.server_bin.display()))?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let stats = Arc::new(Mutex::new(Stats::default()));
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let stats = stats.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on udp://").nth(1) {
                    let _ = tx.send(rest.trim().to_owned());
                }
                if let Some(rest) = line.split("stats: ").nth(1) {
                    let mut words = rest.split_whitespace();
                    let sessions = words.next().and_then(|w| w.parse().ok());
                    let players = words.nth(1).and_then(|w| w.parse().ok());
                    if let (Some(sessions), Some(players), Ok(mut s)) = (sessions, players, stats.lock()) {
                        *s = Stats { sessions, players, seen: true };
                    }
                }
            }
        });
    }
    let addr = match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(a) => a.parse().map_err(|e| format!("bad address {a:?}: {e}"))?,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the server did not log 'listening on' within 20 s".into());
        }
    };
    Ok(Server { child, addr, stats })
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// A small deterministic generator (xorshift), so runs are repeatable.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

struct Load {
    rng: Rng,
    counter: u64,
    ends: u64,
    report: SoakReport,
    sent: u64,
    received: u64,
    server: SocketAddr,
}

impl Load {
    fn send(&mut self, sock: &UdpSocket, text: &str) {
        if sock.send_to(text.as_bytes(), self.server).is_ok() {
            self.sent += 1;
        }
    }

    /// A new incarnation of group `g` at `now`.
    fn renew(&mut self, g: &mut Group, now: Instant) {
        self.counter += 1;
        g.session = format!("S{:x}", self.counter);
        g.size = 2 + self.rng.below(5) as usize;
        g.end = [End::Start, End::Exit, End::Silent, End::Kick][(self.ends % 4) as usize];
        self.ends += 1;
        g.end_at = now + Duration::from_millis(1000 + self.rng.below(14_000));
        g.rest_until = None;
        g.players = (0..g.size)
            .map(|i| {
                self.counter += 1;
                Player {
                    name: format!("P{:x}", self.counter),
                    state: State::Joining,
                    // The host first; the clients a little later.
                    next_send: now + Duration::from_millis(if i == 0 { 0 } else { 100 + 50 * i as u64 }),
                    last_heard: now,
                    started: false,
                }
            })
            .collect();
    }

    /// Reads everything waiting on player `i`'s socket and updates its state.
    fn drain(&mut self, g: &mut Group, i: usize, now: Instant) {
        let mut buf = [0u8; 2048];
        for _ in 0..10_000 {
            let Ok((n, _)) = g.sockets[i].recv_from(&mut buf) else { return };
            self.received += 1;
            let Some(p) = g.players.get_mut(i) else { continue };
            let text = &buf[..n];
            p.last_heard = now;
            if text.starts_with(b"i:") {
                if p.state == State::Joining {
                    p.state = State::InSession;
                }
            } else if text.starts_with(b"s:") {
                p.started = true;
            } else if text.starts_with(b"error:too_many") || text.starts_with(b"error:server_full") {
                self.report.cap_errors += 1;
            }
        }
    }

    /// One step of group `g` at `now`.
    fn step(&mut self, g: &mut Group, now: Instant, stopping: bool) {
        if let Some(rest) = g.rest_until {
            if now >= rest && !stopping {
                for i in 0..g.sockets.len() {
                    self.drain(g, i, now);
                }
                self.renew(g, now);
            }
            return;
        }
        if stopping {
            for p in &mut g.players {
                p.state = State::Done;
            }
            g.rest_until = Some(now);
            return;
        }
        for i in 0..g.size {
            if g.players[i].state == State::Done || now < g.players[i].next_send {
                continue;
            }
            self.drain(g, i, now);
            let ending = now >= g.end_at || stopping;
            let host = i == 0;
            let (session, name) = (g.session.clone(), g.players[i].name.clone());
            let p = &mut g.players[i];
            p.next_send = now + Duration::from_millis(500);
            if p.state == State::Joining {
                if now > p.last_heard + Duration::from_secs(15) || stopping {
                    p.state = State::Done;
                    if !stopping {
                        self.report.join_failures += 1;
                    }
                    continue;
                }
                let text = if host {
                    format!("h:{session}:{name}:{}", g.size.max(2))
                } else {
                    format!("c:{session}:{name}")
                };
                self.send(&g.sockets[i], &text);
                continue;
            }
            if p.started {
                p.state = State::Done;
                continue;
            }
            let text = match (ending, g.end) {
                (false, _) => format!("p:{session}:{name}"),
                (true, _) if stopping => {
                    p.state = State::Done;
                    continue;
                }
                (true, End::Start) if host => format!("s:{session}:{name}"),
                (true, End::Start) => {
                    if now > g.end_at + Duration::from_secs(14) {
                        p.state = State::Done; // give up on this start
                        continue;
                    }
                    format!("p:{session}:{name}")
                }
                (true, End::Exit) => {
                    p.state = State::Done;
                    format!("x:{session}:{name}")
                }
                (true, End::Silent) => {
                    p.state = State::Done;
                    continue;
                }
                (true, End::Kick) if host => {
                    p.state = State::Done;
                    let victim = g.players.last().map(|v| v.name.clone()).unwrap_or_default();
                    self.send(&g.sockets[0], &format!("k:{session}:{victim}"));
                    format!("x:{session}:{name}")
                }
                (true, End::Kick) => {
                    p.state = State::Done;
                    format!("x:{session}:{name}")
                }
            };
            if g.end == End::Start && host && ending && now > g.end_at + Duration::from_secs(14) {
                g.players[0].state = State::Done;
                continue;
            }
            self.send(&g.sockets[i], &text);
        }
        if g.players.iter().take(g.size).all(|p| p.state == State::Done) {
            self.report.groups_done += 1;
            if g.end == End::Start {
                self.report.starts.0 += 1;
                if g.players.iter().take(g.size).all(|p| p.started) {
                    self.report.starts.1 += 1;
                }
            }
            g.rest_until = Some(now + Duration::from_secs(2));
        }
    }
}

/// Runs the soak; prints a line per report interval to stdout.
pub fn run(config: &SoakConfig) -> Result<SoakReport, String> {
    let server = start_server(config)?;
    let pid = server.child.id();
    let groups_n = (config.players / 4).max(1);
    let t0 = Instant::now();
    let mut load = Load {
        rng: Rng(0x2545_f491_4f6c_dd1d),
        counter: 0,
        ends: 0,
        report: SoakReport::default(),
        sent: 0,
        received: 0,
        server: server.addr,
    };
    let mut groups = Vec::with_capacity(groups_n);
    for k in 0..groups_n {
        let mut sockets = Vec::with_capacity(6);
        for i in 0..6 {
            // Spread over 250 loopback IPs (all of 127/8 is local on Linux).
            let ip = Ipv4Addr::new(127, 0, 0, 1 + ((k * 6 + i) % 250) as u8);
            let sock = UdpSocket::bind((ip, 0))
                .or_else(|_| UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)))
                .map_err(|e| format!("bind: {e}"))?;
            sock.set_nonblocking(true).map_err(|e| format!("nonblocking: {e}"))?;
            sockets.push(sock);
        }
        let mut g = Group {
            sockets,
            size: 0,
            session: String::new(),
            players: Vec::new(),
            end: End::Exit,
            end_at: t0,
            rest_until: None,
        };
        // Stagger the first incarnations over 5 s.
        g.rest_until = Some(t0 + Duration::from_millis((k as u64 * 5000) / groups_n as u64));
        groups.push(g);
    }
    let mut next_report = t0 + config.report_every;
    let stop_at = t0 + config.load_for;
    println!(
        "soak: server pid {pid} at {}, {groups_n} groups (~{} players), {:?}",
        server.addr,
        groups_n * 4,
        config.load_for
    );
    let sample = |load: &Load, groups: &[Group], at: Instant| {
        let stats = server.stats.lock().map(|s| *s).unwrap_or_default();
        let active = groups
            .iter()
            .filter(|g| g.rest_until.is_none())
            .map(|g| g.players.iter().take(g.size).filter(|p| p.state != State::Done).count())
            .sum();
        Sample {
            at_s: (at - t0).as_secs_f64(),
            rss_kb: rss_kb(pid),
            sessions: stats.sessions,
            players: stats.players,
            active_players: active,
            sent: load.sent,
            received: load.received,
        }
    };
    let print = |s: &Sample| {
        println!(
            "soak: t={:>6.1}s rss={:>7} kB sessions={:>6} players={:>6} (load: {} players in play, {} sent, {} received)",
            s.at_s, s.rss_kb, s.sessions, s.players, s.active_players, s.sent, s.received
        );
    };
    // The load.
    while Instant::now() < stop_at {
        let now = Instant::now();
        for g in groups.iter_mut() {
            load.step(g, now, false);
        }
        if now >= next_report {
            let s = sample(&load, &groups, now);
            print(&s);
            load.report.samples.push(s);
            next_report += config.report_every;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Stop: every player stops sending (in-flight starts and exits are abandoned, so the server's
    // own timers have to clean up), then wait for the server to report empty.
    let now = Instant::now();
    for g in groups.iter_mut() {
        load.step(g, now, true);
    }
    let drain_end = Instant::now() + config.drain_for;
    let mut empty_since: Option<Instant> = None;
    while Instant::now() < drain_end {
        std::thread::sleep(Duration::from_millis(250));
        for g in groups.iter_mut() {
            for i in 0..g.sockets.len() {
                load.drain(g, i, Instant::now());
            }
        }
        let stats = server.stats.lock().map(|s| *s).unwrap_or_default();
        if stats.seen && stats.sessions == 0 && stats.players == 0 {
            // Two stats lines in a row at zero.
            let since = *empty_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= Duration::from_millis(2100) {
                break;
            }
        } else {
            empty_since = None;
        }
    }
    let s = sample(&load, &groups, Instant::now());
    print(&s);
    load.report.samples.push(s);
    Ok(load.report)
}
