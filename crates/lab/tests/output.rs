//! Reading the product client's stdout lines back: success, each peer's final method, birthday
//! probes, the time to the direct path.

use rhp_client::Method;
use rhp_lab::family::Family;
use rhp_lab::output::{addr_family, direct_ms, final_paths, methods_reported, path_family, reported_success};

#[test]
fn success_is_read_from_the_contract_lines() {
    let out = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let good = out(&[
        "connected peer=bob addr=1.2.3.4:5 after_start_ms=3",
        "punch-done connected=1/1 after_start_ms=3",
        "bob: hi",
    ]);
    assert!(reported_success(&good, &["alice", "bob"], 0));
    assert!(!reported_success(&good[..2], &["alice", "bob"], 0), "no message from bob yet");
    let partial = out(&["punch-done connected=1/2 after_start_ms=9", "bob: hi", "carol: hi"]);
    assert!(!reported_success(&partial, &["alice", "bob", "carol"], 0));
}

#[test]
fn methods_and_probes_are_read_from_connected_lines() {
    let out = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let easy = out(&[
        "connected peer=bob addr=1.2.3.4:5 after_start_ms=3 method=plain",
        "connected peer=carol addr=1.2.3.5:9 after_start_ms=300 method=birthday probes=211",
        "punch-done connected=2/2 after_start_ms=300",
    ]);
    assert_eq!(methods_reported(&easy), (Some(Method::Birthday), Some(211)));
    let no_method = out(&["connected peer=bob addr=1.2.3.4:5 after_start_ms=3"]);
    assert_eq!(methods_reported(&no_method), (None, None));
    assert_eq!(methods_reported(&out(&["failed peer=bob reason=no_reply"])), (None, None));
    let upgraded = out(&[
        "connected peer=bob addr=198.51.100.10:7000 after_start_ms=1 method=relay",
        "connected peer=carol addr=198.51.100.10:7000 after_start_ms=1 method=relay",
        "upgraded peer=bob addr=1.2.3.4:5 after_start_ms=300 method=birthday",
    ]);
    assert_eq!(methods_reported(&upgraded).0, Some(Method::Relay), "carol is still relayed");
    assert_eq!(direct_ms(&upgraded), None);
    assert_eq!(direct_ms(&[upgraded[0].clone(), upgraded[2].clone()]), Some(300));
    assert_eq!(direct_ms(&easy), Some(300));
    assert_eq!(methods_reported(&upgraded[..1]).0, Some(Method::Relay));
    assert_eq!(methods_reported(&[upgraded[0].clone(), upgraded[2].clone()]).0, Some(Method::Birthday));
}

#[test]
fn the_final_paths_family_is_read_from_each_peers_last_addr() {
    let out = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(addr_family("203.0.113.6:4000"), Some(Family::V4));
    assert_eq!(addr_family("[2001:db8:1::2]:4000"), Some(Family::V6));
    assert_eq!(addr_family("[::ffff:203.0.113.6]:4000"), Some(Family::V4), "IPv4-mapped is IPv4");
    assert_eq!(addr_family("nonsense"), None);
    let upgraded = out(&[
        "connected peer=bob addr=198.51.100.10:7000 after_start_ms=3 method=relay",
        "upgraded peer=bob addr=[2001:db8:2::2]:5000 after_start_ms=90 method=plain",
    ]);
    assert_eq!(path_family(&upgraded), Some(Family::V6));
    let mixed = out(&[
        "connected peer=bob addr=[2001:db8:2::2]:5000 after_start_ms=3 method=plain",
        "connected peer=carol addr=203.0.113.10:5000 after_start_ms=4 method=plain",
    ]);
    assert_eq!(path_family(&mixed), Some(Family::Dual));
    assert_eq!(final_paths(&mixed), [Family::V6, Family::V4]);
    assert_eq!(path_family(&out(&["punch-done connected=0/1 after_start_ms=9"])), None);
}
