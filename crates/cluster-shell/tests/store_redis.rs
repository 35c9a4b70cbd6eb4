//! The store's operations on a real Redis: claims race to one winner and say who won, refresh and
//! release only while the name is ours, heartbeats carry the addresses the live-nodes query
//! returns, and a store that went away and came back is used again without a new client.

mod support;

use rhp_cluster::store::{StoreOp, StoreResult};
use rhp_cluster::NodeId;
use rhp_cluster_shell::store::LiveNode;
use rhp_cluster_shell::{RedisStore, StoreConfig};
use std::time::Duration;
use support::redis::Redis;

fn store(url: &str, n: u16) -> RedisStore {
    RedisStore::new(StoreConfig {
        url: url.to_string(),
        prefix: "t:".into(),
        cluster_addr: format!("127.0.0.1:{}", 7000 + n).parse().unwrap(),
        public_addr: format!("127.0.0.1:{}", 5000 + n).parse().unwrap(),
        timeout: Duration::from_millis(500),
    })
    .unwrap()
}

fn claim(name: &str, n: u16) -> StoreOp {
    StoreOp::Claim { name: name.into(), owner: NodeId(n), ttl: Duration::from_secs(30) }
}

#[tokio::test]
async fn claims_refreshes_releases_lookups_and_nodes() {
    if support::redis::skip() {
        return;
    }
    let redis = Redis::start();
    let (a, b) = (store(&redis.url(), 1), store(&redis.url(), 2));
    // Two claims at once: one wins, the other is told the winner.
    let (c1, c2) = (claim("s", 1), claim("s", 2));
    let (ra, rb) = tokio::join!(a.run(&c1), b.run(&c2));
    let (ra, rb) = (ra.unwrap().result, rb.unwrap().result);
    let winner = match (&ra, &rb) {
        (StoreResult::Claimed, StoreResult::Taken(w)) | (StoreResult::Taken(w), StoreResult::Claimed) => *w,
        other => panic!("one claim must win: {other:?}"),
    };
    let loser = if winner == NodeId(1) { NodeId(2) } else { NodeId(1) };
    let lookup = StoreOp::Lookup { name: "s".into() };
    assert_eq!(a.run(&lookup).await.unwrap().result, StoreResult::Found(Some(winner)));
    let refresh = |o: NodeId| StoreOp::Refresh { name: "s".into(), owner: o, ttl: Duration::from_secs(30) };
    assert_eq!(a.run(&refresh(winner)).await.unwrap().result, StoreResult::Refreshed(true));
    assert_eq!(a.run(&refresh(loser)).await.unwrap().result, StoreResult::Refreshed(false));
    // A release by another node leaves the claim; the owner's frees it.
    a.run(&StoreOp::Release { name: "s".into(), owner: loser }).await.unwrap();
    assert_eq!(a.run(&lookup).await.unwrap().result, StoreResult::Found(Some(winner)));
    a.run(&StoreOp::Release { name: "s".into(), owner: winner }).await.unwrap();
    assert_eq!(a.run(&lookup).await.unwrap().result, StoreResult::Found(None));
    assert_eq!(b.run(&claim("s", 2)).await.unwrap().result, StoreResult::Claimed);
    // Heartbeats: the live nodes, with their addresses; an expired one is gone.
    let hb = |n: u16, ms: u64| StoreOp::Heartbeat { node: NodeId(n), ttl: Duration::from_millis(ms) };
    a.run(&hb(1, 30_000)).await.unwrap();
    b.run(&hb(2, 30_000)).await.unwrap();
    let nodes = a.run(&StoreOp::Nodes).await.unwrap();
    assert_eq!(nodes.result, StoreResult::Nodes(vec![NodeId(1), NodeId(2)]));
    assert_eq!(
        nodes.nodes[1],
        LiveNode {
            id: NodeId(2),
            cluster_addr: Some("127.0.0.1:7002".parse().unwrap()),
            public_addr: Some("127.0.0.1:5002".parse().unwrap())
        }
    );
    b.run(&hb(2, 1)).await.unwrap();
    // PX 1: expired by the time a query 1 ms later runs; bounded retries of the query.
    let mut live = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(2)).await;
        live = match a.run(&StoreOp::Nodes).await.unwrap().result {
            StoreResult::Nodes(l) => l,
            r => panic!("{r:?}"),
        };
        if live == vec![NodeId(1)] {
            break;
        }
    }
    assert_eq!(live, vec![NodeId(1)]);
}

#[tokio::test]
async fn a_store_that_comes_back_is_used_again() {
    if support::redis::skip() {
        return;
    }
    let mut redis = Redis::start();
    let port = redis.port;
    let a = store(&redis.url(), 1);
    assert_eq!(a.run(&claim("x", 1)).await.unwrap().result, StoreResult::Claimed);
    redis.stop();
    // Down: every command fails, within the connection's timeouts (never hangs).
    let failed = tokio::time::timeout(Duration::from_secs(3), a.run(&claim("y", 1))).await;
    assert!(matches!(failed, Ok(Err(_))), "{failed:?}");
    let _redis = Redis::start_on(port);
    // Back (empty: nothing on disk): the same client reconnects by itself; the first command
    // after the restart may still see the old connection's error.
    let mut result = None;
    for _ in 0..20 {
        if let Ok(Ok(r)) = tokio::time::timeout(Duration::from_secs(1), a.run(&claim("y", 1))).await {
            result = Some(r.result);
            break;
        }
    }
    assert_eq!(result, Some(StoreResult::Claimed));
}
