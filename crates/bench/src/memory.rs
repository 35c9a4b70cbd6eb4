//! Memory per player and per session in the sans-IO engine: players are created directly in an
//! [`Engine`] (no sockets), and the heap is measured by the counting global allocator of this
//! binary ([`Counting`]); the process's RSS is read from /proc as well.

use crate::procfs;
use rhp_server::{Config, Engine, SocketId, Transmit};
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A global allocator that forwards to the system's and keeps the live heap size.
pub struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to `System`; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's layout, unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `dealloc`; the new size is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Live heap bytes now.
pub fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// What one fill measured.
#[derive(Debug, Clone, Copy)]
pub struct Fill {
    /// Sessions created.
    pub sessions: usize,
    /// Players joined (hosts included).
    pub players: usize,
    /// Heap bytes the engine holds for them.
    pub heap: isize,
    /// RSS growth of the process meanwhile.
    pub rss: i64,
    /// Seconds taken to create them through `handle_datagram`.
    pub secs: f64,
}

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 10_000 + (i >> 24) as u16))
}

/// Time between two joins in [`fill`]: 20,000 joins a second, so that the rate limiter holds
/// what it holds in production (the IPs that created within its last second), not a million
/// entries made at one instant.
const JOIN_GAP: Duration = Duration::from_micros(50);

/// Creates `sessions` sessions of `per_session` players (10-character session names, 8-character
/// player names), every player from its own IP, one join every [`JOIN_GAP`] of engine time, in a
/// fresh engine and measures what it holds; the engine is dropped afterwards.
pub fn fill(sessions: usize, per_session: usize, config: &Config) -> Fill {
    let config = config.clone();
    let me = std::process::id();
    let rss0 = procfs::status_bytes(me, "VmRSS").unwrap_or(0) as i64;
    let heap0 = live();
    let t0 = Instant::now();
    let mut engine = Engine::new(config);
    let mut buf = Transmit::empty();
    let max = per_session.clamp(2, 12);
    let mut msg = String::with_capacity(64);
    let mut n = 0;
    for s in 0..sessions {
        for k in 0..per_session {
            msg.clear();
            if k == 0 {
                msg.push_str(&format!("h:Room{s:06}:Player{k:02}:{max}"));
            } else {
                msg.push_str(&format!("c:Room{s:06}:Player{k:02}"));
            }
            engine.handle_datagram(t0 + JOIN_GAP * n as u32, SocketId::MAIN, addr(n), msg.as_bytes());
            n += 1;
            while engine.poll_transmit(&mut buf) {}
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(engine.player_count(), n, "every join accepted");
    let heap = live() - heap0;
    let rss = procfs::status_bytes(me, "VmRSS").unwrap_or(0) as i64 - rss0;
    let players = engine.player_count();
    drop(engine);
    Fill { sessions, players, heap, rss, secs }
}

/// Prints bytes per session and per joined player for `players` players in sessions of
/// `per_session`: the engine's state with the budget and the per-IP caps off (the original's
/// behaviour, every join accepted), then the budget's own bounded per-address table on top.
pub fn run(players: usize, per_session: usize, budget_only: bool) {
    let per_session = per_session.max(1);
    let mib = |b: i64| b as f64 / (1 << 20) as f64;
    if budget_only {
        // Alone in the process, so that its RSS growth is not memory freed by an earlier fill.
        let sessions = players.div_ceil(per_session);
        let guarded = Config { max_sessions: usize::MAX, max_players: usize::MAX, ..Config::default() };
        let g = fill(sessions, per_session, &guarded);
        println!(
            "default config (budget on), {} players on {} IPs in sessions of {per_session}: {:.1} MiB heap, {:.1} bytes \
             per player; RSS growth {:.1} MiB, {:.1} bytes per player",
            g.players,
            g.players,
            mib(g.heap as i64),
            g.heap as f64 / g.players.max(1) as f64,
            mib(g.rss),
            g.rss as f64 / g.players.max(1) as f64
        );
        println!(
            "memory budget_on players={} heap_bytes={} per_player={:.1} rss_bytes={} rss_per_player={:.1}",
            g.players,
            g.heap,
            g.heap as f64 / g.players.max(1) as f64,
            g.rss,
            g.rss as f64 / g.players.max(1) as f64
        );
        return;
    }
    let sessions = players.div_ceil(per_session);
    let state = Config { max_sessions: usize::MAX, ..Config::original() };
    // Warm-up: the allocator's and the engine's fixed costs are not per player.
    let _ = fill(1000, per_session, &state);
    let hosts = fill(sessions, 1, &state);
    let full = fill(sessions, per_session, &state);
    let per_sess = hosts.heap as f64 / hosts.sessions.max(1) as f64;
    let joined = full.players.saturating_sub(hosts.players);
    let per_joined = if joined > 0 { (full.heap - hosts.heap) as f64 / joined as f64 } else { 0.0 };
    println!(
        "engine memory, {} players in {} sessions of {per_session} (budget and caps off)",
        full.players, sessions
    );
    println!(
        "  heap (counting allocator): {:.1} MiB, {:.1} bytes per player on average",
        mib(full.heap as i64),
        full.heap as f64 / full.players.max(1) as f64
    );
    println!(
        "  a session with its host:    {per_sess:.1} bytes (size_of Session {} + Player {}, players stored exactly)",
        std::mem::size_of::<rhp_server::Session>(),
        std::mem::size_of::<rhp_server::Player>()
    );
    println!("  each further joined player: {per_joined:.1} bytes");
    println!(
        "  process RSS growth:         {:.1} MiB ({:.1} bytes per player)",
        mib(full.rss),
        full.rss as f64 / full.players.max(1) as f64
    );
    println!(
        "  created in {:.2} s ({:.0} joins/s through handle_datagram)",
        full.secs,
        full.players as f64 / full.secs
    );
    // Production: the default configuration (budget on: an account for every member's IP; the
    // per-IP session count; the rate limiter), caps raised so that every join is accepted.
    let guarded = Config { max_sessions: usize::MAX, max_players: usize::MAX, ..Config::default() };
    let g = fill(sessions, per_session, &guarded);
    let per_player = g.heap as f64 / g.players.max(1) as f64;
    println!(
        "  default config (budget on), {} players on {} IPs: {:.1} MiB heap, {per_player:.1} bytes per player \
         (the budget's accounts and the per-IP tables {:.1}); RSS growth {:.1} MiB, {:.1} bytes per player",
        g.players,
        g.players,
        mib(g.heap as i64),
        (g.heap - full.heap) as f64 / g.players.max(1) as f64,
        mib(g.rss),
        g.rss as f64 / g.players.max(1) as f64
    );
    println!(
        "memory players={} sessions={sessions} heap_bytes={} per_session={per_sess:.1} per_joined={per_joined:.1} rss_bytes={} \
         budget_on_heap_bytes={} budget_on_per_player={per_player:.1} budget_on_rss_bytes={}",
        full.players, full.heap, full.rss, g.heap, g.rss
    );
}

/// A start storm inside the engine alone (no sockets): `players` players in sessions of
/// `per_session`, every host's `s:` at one instant, then every start round; prints the engine's
/// time per start message, the floor under what the kernel adds in a real storm.
pub fn storm(players: usize, per_session: usize) {
    let per_session = per_session.clamp(2, 12);
    let sessions = players.div_ceil(per_session);
    let config =
        Config { max_sessions: usize::MAX, player_timeout: Duration::from_secs(600), ..Config::original() };
    let t0 = Instant::now();
    let mut engine = Engine::new(config);
    let mut buf = Transmit::empty();
    let mut n = 0;
    for s in 0..sessions {
        for k in 0..per_session {
            let msg = if k == 0 {
                format!("h:Room{s:06}:Player{k:02}:{per_session}")
            } else {
                format!("c:Room{s:06}:Player{k:02}")
            };
            engine.handle_datagram(t0, SocketId::MAIN, addr(n), msg.as_bytes());
            n += 1;
            while engine.poll_transmit(&mut buf) {}
        }
    }
    let starts: Vec<(SocketAddr, Vec<u8>)> = (0..sessions)
        .map(|s| (addr(s * per_session), format!("s:Room{s:06}:Player00").into_bytes()))
        .collect();
    let clock = Instant::now();
    let mut sent = 0u64;
    for (from, msg) in &starts {
        engine.handle_datagram(t0, SocketId::MAIN, *from, msg);
        while engine.poll_transmit(&mut buf) {
            sent += 1;
        }
    }
    let first = clock.elapsed();
    let mut t = t0;
    for _ in 0..10 {
        t += Duration::from_millis(100);
        engine.handle_timeout(t);
        while engine.poll_transmit(&mut buf) {
            sent += 1;
        }
    }
    let all = clock.elapsed();
    println!(
        "engine start storm, {n} players in {sessions} sessions: round 1 ({n} messages) in {:.1} ms; all rounds, \
         {sent} start messages, in {:.1} ms ({:.2} us per message); {} sessions left",
        first.as_secs_f64() * 1e3,
        all.as_secs_f64() * 1e3,
        all.as_secs_f64() * 1e6 / sent.max(1) as f64,
        engine.session_count()
    );
}
