//! Parsing and rendering cost per message (issue #10): what every datagram the server receives
//! pays before the engine sees it. `cargo bench -p rhp-proto`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rhp_proto::reply::{write_info, write_start};
use rhp_proto::Request;
use std::hint::black_box;
use std::net::SocketAddr;

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(1));
    let cases: [(&str, &[u8]); 5] = [
        ("ping", b"p:Room123456:Player123456"),
        ("host_password", b"h:Room123456:Player123456:12:Secret123456"),
        ("connect", b"c:Room123456:Player123456"),
        ("invalid_name", b"p:Room 1:Player"),
        ("no_colon", b"garbage-without-colon"),
    ];
    for (name, bytes) in cases {
        g.bench_function(name, |b| b.iter(|| black_box(Request::parse(black_box(bytes)).is_ok())));
    }
    g.finish();
}

fn render(c: &mut Criterion) {
    let mut g = c.benchmark_group("render");
    g.throughput(Throughput::Elements(1));
    let names: Vec<String> = (0..12).map(|i| format!("Player{i:06}")).collect();
    let mut out = Vec::with_capacity(1024);
    g.bench_function("info_12_players", |b| {
        b.iter(|| {
            out.clear();
            write_info(&mut out, names.iter().map(String::as_str));
            black_box(out.len())
        })
    });
    let peers: Vec<(String, SocketAddr)> = (0..11)
        .map(|i| (format!("Player{i:06}"), SocketAddr::from(([192, 168, 1, i as u8], 40000 + i))))
        .collect();
    g.bench_function("start_12_players", |b| {
        b.iter(|| {
            out.clear();
            write_start(&mut out, 40000, peers.iter().map(|(n, a)| (n.as_str(), *a)));
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, parse, render);
criterion_main!(benches);
