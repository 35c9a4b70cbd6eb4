//! The directory cache and the route tables: entries expire on time, the tables never hold more
//! than their bound, and an entry refreshed lives on.

use rhp_cluster::directory::Directory;
use rhp_cluster::routes::Routes;
use rhp_cluster::NodeId;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn addr(n: u32) -> SocketAddr {
    SocketAddr::from(([10, (n >> 16) as u8, (n >> 8) as u8, n as u8], 4000))
}

#[test]
fn the_directory_expires_and_stays_bounded() {
    let t0 = Instant::now();
    let mut d = Directory::new(Duration::from_secs(30), 100);
    d.insert(t0, "S1", NodeId(2));
    assert_eq!(d.get(t0 + Duration::from_secs(29), "S1"), Some(NodeId(2)));
    assert_eq!(d.get(t0 + Duration::from_secs(30), "S1"), None);
    assert_eq!(d.get_stale("S1"), Some(NodeId(2)), "kept until expired by the node");
    d.expire(t0 + Duration::from_secs(30));
    assert!(d.is_empty());
    for i in 0..10_000 {
        d.insert(t0, &format!("S{i}"), NodeId(1));
        // Re-inserting one name over and over grows nothing.
        d.insert(t0, "hot", NodeId(3));
        assert!(d.len() <= 100);
    }
    assert_eq!(d.get(t0, "S9999"), Some(NodeId(1)), "the newest stays");
    d.forget_node(NodeId(1));
    assert_eq!(d.len(), 1);
}

#[test]
fn routes_expire_after_their_idle_time_and_stay_bounded() {
    let t0 = Instant::now();
    let idle = Duration::from_secs(30);
    let mut r = Routes::new(idle, 1000);
    r.touch(t0, addr(1), NodeId(2));
    // Used every 10 s for a minute: alive all along.
    for k in 1..=6 {
        let t = t0 + Duration::from_secs(10 * k);
        assert_eq!(r.get(t, addr(1)), Some(NodeId(2)));
        r.touch(t, addr(1), NodeId(2));
        r.expire(t);
    }
    let last = t0 + Duration::from_secs(60);
    assert_eq!(r.get(last + idle, addr(1)), None);
    r.expire(last + idle);
    assert!(r.is_empty());
    for i in 0..50_000 {
        let t = t0 + Duration::from_millis(i as u64);
        r.touch(t, addr(i), NodeId(1));
        r.touch(t, addr(0), NodeId(1));
        assert!(r.len() <= 1000);
    }
    r.remove(addr(49_999));
    assert_eq!(r.get(t0 + Duration::from_secs(50), addr(49_999)), None);
}
