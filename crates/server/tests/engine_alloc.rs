//! The ping path allocates nothing once the engine is warm (the groundwork for issue #10): a
//! counting global allocator in its own test binary that counts only on the thread that asks
//! (libtest's own threads allocate at times), on the original and on the hardened config. Nor
//! does forwarding relay frames and answering binds.

use rhp_server::{Config, Engine, SocketId, Transmit};
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Count this thread's allocations.
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn count() {
    if COUNTING.try_with(|c| c.get()).unwrap_or(false) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwards the caller's layout unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as for `dealloc`; the new size comes from the caller.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn pings_and_their_replies_allocate_nothing_when_warm() {
    warm_pings_allocate_nothing(Config::original(), true);
}

#[test]
fn pings_allocate_nothing_when_warm_with_the_budget_on() {
    warm_pings_allocate_nothing(Config::default(), false);
}

fn warm_pings_allocate_nothing(config: Config, every_ping_answered: bool) {
    let t0 = Instant::now();
    let mut engine = Engine::new(config);
    let names = ["Alice12345ab", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi"];
    let addrs: Vec<SocketAddr> =
        (0..names.len()).map(|i| SocketAddr::from(([10, 0, 0, i as u8 + 1], 5000))).collect();
    let mut buf = Transmit::empty();
    engine.handle_datagram(t0, SocketId::MAIN, addrs[0], format!("h:Room:{}:12", names[0]).as_bytes());
    for (i, n) in names.iter().enumerate().skip(1) {
        engine.handle_datagram(t0, SocketId::MAIN, addrs[i], format!("c:Room:{n}").as_bytes());
    }
    while engine.poll_transmit(&mut buf) {}
    let pings: Vec<Vec<u8>> = names.iter().map(|n| format!("p:Room:{n}").into_bytes()).collect();
    // Warm up the buffer pool.
    for (i, p) in pings.iter().enumerate() {
        engine.handle_datagram(t0, SocketId::MAIN, addrs[i], p);
    }
    while engine.poll_transmit(&mut buf) {}

    COUNTING.with(|c| c.set(true));
    let before = ALLOCS.load(Ordering::Relaxed);
    let mut replies = 0;
    for round in 0..1000u64 {
        let now = t0 + Duration::from_millis(round * 10);
        for (i, p) in pings.iter().enumerate() {
            engine.handle_datagram(now, SocketId::MAIN, addrs[i], p);
            while engine.poll_transmit(&mut buf) {
                replies += 1;
            }
        }
        engine.handle_timeout(now);
    }
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    COUNTING.with(|c| c.set(false));
    if every_ping_answered {
        assert_eq!(replies, 1000 * names.len());
    }
    assert_eq!(allocs, 0, "{allocs} allocations for {replies} pings");
}

#[test]
fn relay_forwarding_allocates_nothing_when_warm() {
    use rhp_proto::relay::{Grant, ToServer};
    let t0 = Instant::now();
    let mut engine = Engine::new(Config::default());
    let addrs: Vec<SocketAddr> = (1..=3).map(|i| SocketAddr::from(([198, 51, 100, i], 5000))).collect();
    let names = ["Alice", "Bob", "Carol"];
    engine.handle_datagram(t0, SocketId::MAIN, addrs[0], b"h:Room:Alice:3");
    for i in 1..3 {
        engine.handle_datagram(t0, SocketId::MAIN, addrs[i], format!("c:Room:{}", names[i]).as_bytes());
    }
    for _ in 0..6 {
        for i in 0..3 {
            engine.handle_datagram(t0, SocketId::MAIN, addrs[i], format!("r:Room:{}", names[i]).as_bytes());
        }
    }
    engine.handle_datagram(t0, SocketId::MAIN, addrs[0], b"s:Room:Alice");
    let mut buf = Transmit::empty();
    let mut tokens = [0u64; 3];
    while engine.poll_transmit(&mut buf) {
        if let (Ok(g), Some(i)) = (Grant::parse(&buf.data), addrs.iter().position(|a| *a == buf.to)) {
            tokens[i] = g.token;
        }
    }
    assert!(tokens.iter().all(|t| *t != 0), "every player granted");
    let frames: Vec<Vec<u8>> = (0..3)
        .flat_map(|i| {
            let mut data = Vec::new();
            ToServer::Data { token: tokens[i], to: ((i + 1) % 3) as u8, payload: &[7u8; 1200] }
                .write_to(&mut data);
            let mut bind = Vec::new();
            ToServer::Bind { token: tokens[i] }.write_to(&mut bind);
            [data, bind]
        })
        .collect();
    let step = |engine: &mut Engine, now: Instant, buf: &mut Transmit| {
        let mut sent = 0;
        for (k, f) in frames.iter().enumerate() {
            engine.handle_datagram(now, SocketId::MAIN, addrs[k / 2], f);
            while engine.poll_transmit(buf) {
                sent += 1;
            }
        }
        sent
    };
    step(&mut engine, t0 + Duration::from_secs(2), &mut buf);
    COUNTING.with(|c| c.set(true));
    let before = ALLOCS.load(Ordering::Relaxed);
    let mut sent = 0;
    for round in 0..1000u64 {
        sent += step(&mut engine, t0 + Duration::from_secs(2) + Duration::from_millis(round * 20), &mut buf);
    }
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    COUNTING.with(|c| c.set(false));
    assert_eq!(sent, 6 * 1000);
    assert_eq!(allocs, 0, "{allocs} allocations for {sent} relayed frames");
}
