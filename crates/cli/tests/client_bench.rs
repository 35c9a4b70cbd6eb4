//! Benchmark (not a timed test; ignored by default): time from the host's start to every player
//! connected, on loopback through the real server, for 2 and 12 players, with the library.
//!
//! Run: `cargo test --release -p rabid-hole-punch --test client_bench -- --ignored --nocapture`
//! (`RHP_BENCH_RUNS` sets the runs per size, default 20).

mod support;

use rhp_client::{Client, Config, Event, Mesh};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::Server;

struct Run {
    /// Host's start call → the last player's run returned its mesh (every peer connected).
    start_to_all: Duration,
    /// The largest `after_start` of the players' Done events (from their own `s:` arrival).
    max_after_s: Duration,
}

async fn one_run(server: SocketAddr, n: usize, tag: &str) -> Run {
    let bind: Option<SocketAddr> = "127.0.0.1:0".parse().ok();
    let session = format!("B{tag}");
    let (host, control, mut host_events) =
        Client::bind(Config::host(server, &session, &format!("{tag}H"), n as u8), bind).await.expect("bind");
    let mut runs = vec![tokio::spawn(finish(host.run()))];
    let joined = |e: &Event| matches!(e, Event::Joined { .. });
    wait_for(&mut host_events, joined).await;
    let mut others = Vec::new();
    for i in 1..n {
        let config = Config::join(server, &session, &format!("{tag}J{i}"));
        let (client, _control, events) = Client::bind(config, bind).await.expect("bind");
        others.push(events);
        runs.push(tokio::spawn(finish(client.run())));
    }
    wait_for(&mut host_events, |e| matches!(e, Event::Players(p) if p.len() == n)).await;
    let t0 = Instant::now();
    control.start();
    let mut last = t0;
    let mut max_after_s = Duration::ZERO;
    for r in runs {
        let (at, mesh) = r.await.expect("task");
        assert_eq!(mesh.connected().len(), n - 1, "every peer connected");
        last = last.max(at);
        max_after_s =
            max_after_s.max(mesh.peers().iter().filter_map(|p| p.connected_after).max().unwrap_or_default());
    }
    Run { start_to_all: last - t0, max_after_s }
}

async fn finish(
    run: impl std::future::Future<Output = Result<Mesh, rhp_client::ClientError>>,
) -> (Instant, Mesh) {
    let mesh = run.await.expect("run");
    (Instant::now(), mesh)
}

async fn wait_for(events: &mut tokio::sync::mpsc::Receiver<Event>, pred: impl Fn(&Event) -> bool) {
    let wait = async {
        while let Some(e) = events.recv().await {
            if pred(&e) {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait).await.expect("event within 10 s");
}

fn stats(label: &str, mut v: Vec<Duration>) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: min {:.2} ms, median {:.2} ms, max {:.2} ms ({} runs)",
        ms(v[0]),
        ms(v[v.len() / 2]),
        ms(v[v.len() - 1]),
        v.len()
    );
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_start_to_all_connected() {
    let runs: usize = std::env::var("RHP_BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    // Many sessions from one IP in a row: lift the server's per-IP creation limits.
    let server = Server::start(&["--create-rate", "0", "--max-sessions-per-ip", "0"]);
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    for n in [2usize, 12] {
        let mut total = Vec::new();
        let mut after_s = Vec::new();
        for i in 0..runs {
            let r = rt.block_on(one_run(server.addr, n, &format!("{n}r{i}")));
            total.push(r.start_to_all);
            after_s.push(r.max_after_s);
        }
        stats(&format!("{n} players, host start -> every player connected"), total);
        stats(&format!("{n} players, s: arrival -> last peer connected"), after_s);
    }
}
