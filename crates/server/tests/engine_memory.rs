//! Memory: after a churn of many sessions created, joined, started, kicked, exited and timed out,
//! the engine holds no session, no player, no timer and no queued datagram, and along the way its
//! timer queue stays within a constant factor of what is alive. And (ignored by default, run in
//! release by `scripts/test`) what a million players cost with the budget on, each on its own IP,
//! measured by a counting allocator.

mod common;
use common::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

/// Counts the live heap of the thread that asks (libtest's own threads allocate at times).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn counted(delta: isize) {
    if COUNTING.try_with(|c| c.get()).unwrap_or(false) {
        LIVE.fetch_add(delta, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        counted(layout.size() as isize);
        // SAFETY: the caller's layout, unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        counted(-(layout.size() as isize));
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        counted(new_size as isize - layout.size() as isize);
        // SAFETY: as for `dealloc`; the new size is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap bytes per player, engine and budget and per-IP tables together, for a million players in
/// sessions of 4 (10-character session names, 8-character player names), each player on its own
/// IP, one join every 50 µs of engine time (as `rhp-bench memory`), with the default config (the
/// budget on) and the session and player caps raised so that every join is accepted.
#[test]
#[ignore = "a million players: run in release (scripts/test does)"]
fn a_million_players_on_their_own_ips_cost_at_most_162_bytes_each_with_the_budget_on() {
    const PLAYERS: usize = 1_000_000;
    const PER_SESSION: usize = 4;
    let config = rhp_server::Config {
        max_sessions: usize::MAX,
        max_players: usize::MAX,
        ..rhp_server::Config::default()
    };
    let t0 = std::time::Instant::now();
    let mut buf = rhp_server::Transmit::empty();
    let mut msg = String::with_capacity(64);
    COUNTING.with(|c| c.set(true));
    let before = LIVE.load(Ordering::Relaxed);
    let mut engine = rhp_server::Engine::new(config);
    for n in 0..PLAYERS {
        let (s, k) = (n / PER_SESSION, n % PER_SESSION);
        msg.clear();
        if k == 0 {
            msg.push_str(&format!("h:Room{s:06}:Player{k:02}:{PER_SESSION}"));
        } else {
            msg.push_str(&format!("c:Room{s:06}:Player{k:02}"));
        }
        let from = SocketAddr::from(([10, (n >> 16) as u8, (n >> 8) as u8, n as u8], 10_000));
        engine.handle_datagram(
            t0 + Duration::from_micros(50) * n as u32,
            rhp_server::SocketId::MAIN,
            from,
            msg.as_bytes(),
        );
        while engine.poll_transmit(&mut buf) {}
    }
    let heap = LIVE.load(Ordering::Relaxed) - before;
    COUNTING.with(|c| c.set(false));
    assert_eq!(engine.player_count(), PLAYERS, "every join accepted");
    assert_eq!(engine.budget_tracked(), PLAYERS, "every member's IP has an account");
    let per_player = heap as f64 / PLAYERS as f64;
    println!("{PLAYERS} players on their own IPs, budget on: {heap} heap bytes, {per_player:.1} per player");
    // Issue 16 asks for 128; this is where the engine is today (see the README's Performance):
    // 140.4 with the budget's compact table, +19 for the per-IP live-player count behind
    // --max-players-per-ip (its own table of 1M entries here) and +2 for the sessions' ban lists.
    assert!(per_player <= 162.0, "{per_player:.1} bytes per player");
}

fn client(i: u32, p: u32) -> SocketAddr {
    SocketAddr::from(([10, (i >> 8) as u8, i as u8, p as u8], 20000 + p as u16))
}

#[test]
fn churn_leaves_nothing_behind() {
    let mut h = H::new();
    let mut peak_timers = 0;
    let mut peak_live = 0;
    for round in 0..20u32 {
        for k in 0..100u32 {
            let i = round * 100 + k;
            let s = format!("S{i}");
            let host = client(i, 1);
            h.ask(host, &format!("h:{s}:P1:6"), "i:P1");
            for p in 2..=5 {
                h.send(client(i, p), &format!("c:{s}:P{p}"));
            }
            for _ in 0..5 {
                h.send(host, &format!("p:{s}:P1"));
            }
            match i % 6 {
                0 => {
                    h.send(host, &format!("s:{s}:P1"));
                    h.send(client(i, 2), &format!("y:{s}:P2"));
                }
                1 => {
                    for p in 2..=5 {
                        h.send(host, &format!("k:{s}:P{p}"));
                    }
                    h.send(host, &format!("k:{s}:P1"));
                }
                2 => {
                    for p in (1..=5).rev() {
                        h.send(client(i, p), &format!("x:{s}:P{p}"));
                    }
                }
                3 => {
                    h.send(client(i, 3), &format!("x:{s}:P3"));
                    h.send(host, &format!("k:{s}:P4"));
                    // The rest time out.
                }
                4 => {
                    // Kick (a ban), a refused rejoin, the host's unban, the rejoin; then time out.
                    h.send(host, &format!("k:{s}:P2"));
                    h.send(client(i, 2), &format!("c:{s}:P2"));
                    h.send(host, &format!("u:{s}:P2"));
                    h.send(client(i, 2), &format!("c:{s}:P2"));
                }
                _ => {} // everybody times out
            }
            peak_live = peak_live.max(h.engine.session_count() + h.engine.player_count());
            peak_timers = peak_timers.max(h.engine.timer_count());
            assert_eq!(h.engine.queued_transmits(), 0);
        }
        h.advance(Duration::from_millis(700));
    }
    // Every session ends within the player timeout plus the error repeats.
    h.advance(Duration::from_secs(10));
    assert_eq!(h.engine.session_count(), 0);
    assert_eq!(h.engine.player_count(), 0);
    // Lifetimes of sessions that ended early are stale entries until compaction or their deadline.
    assert!(h.engine.timer_count() <= 2 * 2000 + 64, "timers {}", h.engine.timer_count());
    h.advance(Duration::from_secs(16 * 60));
    assert_eq!(h.engine.timer_count(), 0);
    assert_eq!(h.engine.queued_transmits(), 0);
    // At any time: one idle check per player, one lifetime per session, a few repeats, plus stale
    // entries bounded by compaction.
    assert!(peak_timers <= 3 * peak_live + 4 * 100 + 64, "peak timers {peak_timers} for {peak_live} live");
}

#[test]
fn join_exit_churn_in_one_session_keeps_the_timer_queue_bounded() {
    let mut h = H::new();
    h.ask(addr(1), "h:Room:Host:12", "i:Host");
    for n in 0..10_000u32 {
        let who = SocketAddr::from(([10, 1, (n >> 8) as u8, n as u8], 30000));
        h.send(who, "c:Room:Guest");
        h.send(who, "x:Room:Guest");
        assert!(h.engine.timer_count() <= 200, "after {n} joins: {} timers", h.engine.timer_count());
        if n % 1000 == 0 {
            h.send(addr(1), "p:Room:Host");
        }
    }
    assert_eq!(h.engine.player_count(), 1);
}

#[test]
fn random_bytes_never_create_state() {
    let mut h = H::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 48) as usize;
        let bytes: Vec<u8> = (0..len).map(|i| (x >> (i % 8 * 8)) as u8).collect();
        let out = h.send_bytes(addr(1), &bytes);
        assert!(out.len() <= 1);
    }
    assert_eq!((h.engine.session_count(), h.engine.timer_count()), (0, 0));
}

/// Found by the soak: a steady churn where players ping (so their idle checks fire and re-arm
/// every few seconds) must not let the 15-minute lifetime entries of ended sessions pile up. The
/// timer queue stays within twice what is alive (plus a constant) the whole time, on the hardened
/// and on the original config.
#[test]
fn steady_churn_with_pings_keeps_the_timer_queue_near_what_is_alive() {
    for config in [rhp_server::Config::default(), rhp_server::Config::original()] {
        let mut h = H::with(rhp_server::Config { create_rate: 0, ..config });
        let mut next = 0u32;
        // (session number, when it ends) of the sessions in play; each has 3 players.
        let mut live: std::collections::VecDeque<(u32, Duration)> = Default::default();
        let player =
            |k: u32, p: u32| SocketAddr::from(([10, (k >> 8) as u8, k as u8, p as u8], 30000 + p as u16));
        let mut worst = 0.0f64;
        for step in 0..(16 * 60 * 10u64) {
            let now = Duration::from_millis(step * 100);
            h.run_until(now);
            while live.len() < 60 {
                next += 1;
                let s = format!("C{next}");
                h.send(player(next, 0), &format!("h:{s}:P0:3"));
                h.send(player(next, 1), &format!("c:{s}:P1"));
                h.send(player(next, 2), &format!("c:{s}:P2"));
                live.push_back((next, now + Duration::from_millis(1500 + u64::from(next * 7919 % 9000))));
            }
            // Everyone pings every 0.5 s; a session ends by its host's exit of all players.
            for &(k, _) in live.iter().filter(|(k, _)| u64::from(*k) % 5 == step % 5) {
                for p in 0..3 {
                    h.send(player(k, p), &format!("p:C{k}:P{p}"));
                }
            }
            while live.front().is_some_and(|(_, end)| *end <= now) {
                if let Some((k, _)) = live.pop_front() {
                    for p in 0..3 {
                        h.send(player(k, p), &format!("x:C{k}:P{p}"));
                    }
                }
            }
            let alive = h.engine.session_count() + h.engine.player_count();
            let ratio = h.engine.timer_count() as f64 / (alive.max(1) as f64);
            worst = worst.max(ratio);
            assert!(
                h.engine.timer_count() <= 2 * alive + 80,
                "t={now:?}: {} timers for {alive} sessions and players",
                h.engine.timer_count()
            );
        }
        assert!(next > 1000, "churned {next} sessions");
        println!("worst timers/alive {worst:.2}");
    }
}
