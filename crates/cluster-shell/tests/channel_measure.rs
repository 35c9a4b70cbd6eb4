//! The node-to-node channel, chosen by measurement (issue 19): the round trip of one cluster
//! frame (a forwarded 60-byte player datagram, HMAC-authenticated as the nodes send it) between
//! two "nodes" in one process on loopback, over direct UDP (what the nodes use) and over Redis
//! pub/sub (each node subscribed to its own channel, the other PUBLISHes to it), on a real
//! Redis. A benchmark, run by hand (release):
//!
//! `cargo test --release -p rhp-cluster-shell --test channel_measure -- --ignored --nocapture`

mod support;

use futures_util::StreamExt;
use rhp_cluster::frame::{Frame, Kind};
use rhp_cluster::NodeId;
use std::time::{Duration, Instant};
use support::redis::Redis;
use tokio::net::UdpSocket;

const SECRET: &[u8] = b"the cluster secret, 32 bytes lon";
const ROUND_TRIPS: usize = 5000;
const WAIT: Duration = Duration::from_secs(2);

/// A frame as node `from` sends it, carrying a ping-sized player datagram.
fn frame(from: u16, kind: Kind) -> Vec<u8> {
    let payload = [b'p'; 60];
    let player = "203.0.113.7:40000".parse().expect("address");
    let mut out = Vec::new();
    Frame { kind, sender: NodeId(from), player, payload: &payload }.encode(SECRET, &mut out);
    out
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p) as usize]
}

async fn udp() -> Vec<Duration> {
    let a = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let b = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let (a_addr, b_addr) = (a.local_addr().expect("addr"), b.local_addr().expect("addr"));
    // Node B: checks each frame and answers it, as an owner answers its entry node.
    let echo = tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        for _ in 0..ROUND_TRIPS {
            let Ok(Ok(n)) = tokio::time::timeout(WAIT, b.recv(&mut buf)).await else { return };
            assert!(Frame::decode(SECRET, &buf[..n]).is_ok(), "a frame that verifies");
            let _ = b.send_to(&frame(2, Kind::ToPlayer), a_addr).await;
        }
    });
    let mut rtts = Vec::with_capacity(ROUND_TRIPS);
    let mut buf = [0u8; 2048];
    for _ in 0..ROUND_TRIPS {
        let t0 = Instant::now();
        a.send_to(&frame(1, Kind::ToOwner), b_addr).await.expect("send");
        let n = tokio::time::timeout(WAIT, a.recv(&mut buf)).await.expect("answered").expect("recv");
        assert!(Frame::decode(SECRET, &buf[..n]).is_ok());
        rtts.push(t0.elapsed());
    }
    echo.await.expect("echo");
    rtts
}

async fn pubsub(url: &str) -> Vec<Duration> {
    let client = redis::Client::open(url).expect("url");
    // Node B: subscribed to its channel, answers on A's.
    let mut b_sub = client.get_async_pubsub().await.expect("pubsub");
    b_sub.subscribe("rhp:node:2").await.expect("subscribe");
    let mut a_sub = client.get_async_pubsub().await.expect("pubsub");
    a_sub.subscribe("rhp:node:1").await.expect("subscribe");
    let mut b_pub = client.get_multiplexed_async_connection().await.expect("connection");
    let mut a_pub = client.get_multiplexed_async_connection().await.expect("connection");
    let echo = tokio::spawn(async move {
        let mut msgs = b_sub.into_on_message();
        for _ in 0..ROUND_TRIPS {
            let Ok(Some(m)) = tokio::time::timeout(WAIT, msgs.next()).await else { return };
            assert!(Frame::decode(SECRET, m.get_payload_bytes()).is_ok(), "a frame that verifies");
            let _: Result<i64, _> = redis::cmd("PUBLISH")
                .arg("rhp:node:1")
                .arg(frame(2, Kind::ToPlayer))
                .query_async(&mut b_pub)
                .await;
        }
    });
    let mut msgs = a_sub.into_on_message();
    let mut rtts = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t0 = Instant::now();
        let subscribers: i64 = redis::cmd("PUBLISH")
            .arg("rhp:node:2")
            .arg(frame(1, Kind::ToOwner))
            .query_async(&mut a_pub)
            .await
            .expect("publish");
        assert_eq!(subscribers, 1, "node B listens");
        let m = tokio::time::timeout(WAIT, msgs.next()).await.expect("answered").expect("a message");
        assert!(Frame::decode(SECRET, m.get_payload_bytes()).is_ok());
        rtts.push(t0.elapsed());
    }
    echo.await.expect("echo");
    rtts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run by hand, release"]
async fn a_frames_round_trip_over_direct_udp_and_over_redis_pubsub() {
    if support::redis::skip() {
        return;
    }
    let redis = Redis::start();
    let url = format!("redis://127.0.0.1:{}", redis.port);
    // Interleaved, twice each: the machine is shared.
    let mut all: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..2 {
        all[0].extend(udp().await);
        all[1].extend(pubsub(&url).await);
    }
    let mut shown = Vec::new();
    for (name, v) in ["direct UDP", "Redis pub/sub"].iter().zip(all.iter_mut()) {
        assert_eq!(v.len(), 2 * ROUND_TRIPS, "{name}: every frame answered");
        let (p50, p99) = (pct(v, 0.5), pct(v, 0.99));
        eprintln!("{name:>14}: round trip p50 {p50:?}, p99 {p99:?} over {} frames", v.len());
        shown.push((p50, p99));
    }
    eprintln!(
        "Redis pub/sub / direct UDP: p50 {:.2}x, p99 {:.2}x",
        shown[1].0.as_secs_f64() / shown[0].0.as_secs_f64(),
        shown[1].1.as_secs_f64() / shown[0].1.as_secs_f64()
    );
}
