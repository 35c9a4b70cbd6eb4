//! The engine's per-datagram path (issue #10): a warm engine holding 10,000 players, fed one
//! datagram and drained, the way the shell does it. `cargo bench -p rhp-server`.
//!
//! `original` is the original's behaviour (every ping answered `i:`); `default` has the
//! anti-reflection budget on, so a ping is answered only when the list changed or now and then.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rhp_server::{Config, Engine, GuardConfig, SocketId, Transmit};
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const SESSIONS: u32 = 2500;
const PER_SESSION: u32 = 4;

fn addr(s: u32, p: u32) -> SocketAddr {
    let i = s * PER_SESSION + p;
    SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 40000))
}

/// An engine with `SESSIONS` sessions of `PER_SESSION` players, replies drained.
fn filled(config: Config, t0: Instant) -> Engine {
    let mut e = Engine::new(config);
    let mut buf = Transmit::empty();
    for s in 0..SESSIONS {
        for p in 0..PER_SESSION {
            let msg = if p == 0 {
                format!("h:Room{s:06}:Player{p:02}:4")
            } else {
                format!("c:Room{s:06}:Player{p:02}")
            };
            e.handle_datagram(t0, SocketId::MAIN, addr(s, p), msg.as_bytes());
            while e.poll_transmit(&mut buf) {}
        }
    }
    e
}

fn drain(e: &mut Engine, buf: &mut Transmit) -> usize {
    let mut n = 0;
    while e.poll_transmit(buf) {
        n += 1;
    }
    n
}

fn per_datagram(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(1));
    let pings: Vec<(SocketAddr, Vec<u8>)> = (0..SESSIONS)
        .flat_map(|s| {
            (0..PER_SESSION).map(move |p| (addr(s, p), format!("p:Room{s:06}:Player{p:02}").into_bytes()))
        })
        .collect();
    for (label, config) in [("original", Config::original()), ("default", Config::default())] {
        let t0 = Instant::now();
        let mut e = filled(config.clone(), t0);
        let mut buf = Transmit::empty();
        let mut i = 0usize;
        let mut now = t0;
        g.bench_function(format!("ping_{label}"), |b| {
            b.iter(|| {
                let (from, msg) = &pings[i % pings.len()];
                i += 1;
                // Time moves 1 µs per ping, and timers fire as the shell would fire them.
                now += Duration::from_micros(1);
                e.handle_datagram(now, SocketId::MAIN, *from, msg);
                if e.poll_timeout().is_some_and(|d| d <= now) {
                    e.handle_timeout(now);
                }
                black_box(drain(&mut e, &mut buf))
            })
        });
        g.bench_function(format!("invalid_{label}"), |b| {
            b.iter(|| {
                e.handle_datagram(now, SocketId::MAIN, addr(0, 0), b"p:bad name:x");
                black_box(drain(&mut e, &mut buf))
            })
        });
    }
    // A whole session's life in an empty engine: host, three joins, start, every round, end.
    let t0 = Instant::now();
    g.throughput(Throughput::Elements(6));
    g.bench_function("session_host_join3_start_rounds", |b| {
        b.iter_batched_ref(
            || (Engine::new(Config::original()), Transmit::empty()),
            |(e, buf)| {
                let s = SESSIONS + 1;
                for p in 0..PER_SESSION {
                    let msg = if p == 0 {
                        format!("h:Room{s:06}:Player{p:02}:4")
                    } else {
                        format!("c:Room{s:06}:Player{p:02}")
                    };
                    e.handle_datagram(t0, SocketId::MAIN, addr(s, p), msg.as_bytes());
                }
                e.handle_datagram(
                    t0,
                    SocketId::MAIN,
                    addr(s, 0),
                    format!("s:Room{s:06}:Player00").as_bytes(),
                );
                let mut t = t0;
                for _ in 0..10 {
                    t += Duration::from_millis(100);
                    e.handle_timeout(t);
                }
                black_box(drain(e, buf))
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// The join path with a password (issue 20): what the password guard and the constant-time
/// comparison add. A session with a password in a warm engine; `join_exit` is a clean address
/// joining with the right password and leaving again (two datagrams); `wrong` is a wrong guess
/// from one of 1,000 rotating addresses (with the guard on, most are refused unchecked once the
/// buckets are spent; the guard's tables hold 1,000 networks).
fn password_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("password");
    g.throughput(Throughput::Elements(1));
    for (label, guard) in [("unguarded", GuardConfig::off()), ("guarded", GuardConfig::default())] {
        let config = Config { guard, ..Config::original() };
        let t0 = Instant::now();
        let mut e = filled(config, t0);
        let mut buf = Transmit::empty();
        e.handle_datagram(t0, SocketId::MAIN, addr(SESSIONS, 0), b"h:Vault:Host:12:Rx81kQ");
        drain(&mut e, &mut buf);
        let joiner = addr(SESSIONS, 1);
        g.bench_function(format!("join_exit_{label}"), |b| {
            b.iter(|| {
                e.handle_datagram(t0, SocketId::MAIN, joiner, b"c:Vault:Bob:Rx81kQ");
                e.handle_datagram(t0, SocketId::MAIN, joiner, b"x:Vault:Bob");
                black_box(drain(&mut e, &mut buf))
            })
        });
        let guesses: Vec<(SocketAddr, Vec<u8>)> = (0..1000u32)
            .map(|i| {
                (
                    SocketAddr::from(([172, 16, (i >> 8) as u8, i as u8], 30000)),
                    format!("c:Vault:M{i}:G{i}").into_bytes(),
                )
            })
            .collect();
        let mut i = 0usize;
        g.bench_function(format!("wrong_{label}"), |b| {
            b.iter(|| {
                let (from, msg) = &guesses[i % guesses.len()];
                i += 1;
                e.handle_datagram(t0, SocketId::MAIN, *from, msg);
                black_box(drain(&mut e, &mut buf))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, per_datagram, password_join);
criterion_main!(benches);
