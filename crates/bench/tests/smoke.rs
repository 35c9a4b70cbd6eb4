//! A short run of the loader (≤ 20 s): the floors always, the real server when its binary was
//! built next to this one (as `cargo test --workspace` does), and a small engine memory fill.
//! Checks that every phase reports figures; the real measurements are `scripts/bench.sh`.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const BENCH: &str = env!("CARGO_BIN_EXE_rhp-bench");

fn server_bin() -> Option<PathBuf> {
    let p = PathBuf::from(BENCH).with_file_name("rabid-hole-punch");
    p.exists().then_some(p)
}

#[test]
fn loader_reports_every_phase_against_the_floors_and_the_server() {
    let mut targets = String::from("naive,batch");
    if server_bin().is_some() {
        targets.push_str(",rhp");
    } else {
        eprintln!("rabid-hole-punch not built next to rhp-bench: floors only");
    }
    let started = Instant::now();
    let out = Command::new(BENCH)
        .args(["run", "--players", "200", "--secs", "1", "--storm-ms", "1500", "--targets", &targets])
        .output()
        .expect("run rhp-bench");
    let text = String::from_utf8_lossy(&out.stdout);
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\n{errors}");
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
    for line in ["naive    closed", "naive    rate", "batch    closed", "loader ceiling"] {
        assert!(text.contains(line), "no '{line}' in:\n{text}\n{errors}");
    }
    if targets.ends_with("rhp") {
        for line in ["rhp      setup   200 joined", "rhp      closed", "rhp      storm", "of naive"] {
            assert!(text.contains(line), "no '{line}' in:\n{text}\n{errors}");
        }
    }
    // The floors answer every ping. The server runs production-shaped (every player on its own
    // address, the budget on), where a ping is answered only when the list changed or every 5 s.
    for l in text.lines().filter(|l| l.contains("naive    ") || l.contains("batch    ")) {
        assert!(!l.contains(" 0 req/s"), "{l}\n{text}");
    }
    if targets.ends_with("rhp") {
        // The old exempt shape: one address per worker, every ping answered.
        let out = Command::new(BENCH)
            .args(["run", "--players", "200", "--secs", "1", "--phases", "closed", "--targets", "rhp"])
            .arg("--shared-ips")
            .output()
            .expect("run rhp-bench --shared-ips");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        let closed = text.lines().find(|l| l.contains("rhp      closed")).unwrap_or_default();
        assert!(!closed.is_empty() && !closed.contains(" 0 req/s"), "{text}");
    }
}

/// `clusterN`: the server as two nodes on a real Redis, every player answered in the exempt
/// shape (each worker's sessions on its node), and both processes and the store stopped after.
#[test]
fn a_two_node_cluster_target_serves_every_player() {
    if server_bin().is_none() {
        return eprintln!("rabid-hole-punch not built next to rhp-bench: skipped");
    }
    let have_redis = Command::new("redis-server").arg("--version").output().is_ok_and(|o| o.status.success());
    if !have_redis {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI=true but redis-server is missing");
        return eprintln!("redis-server not installed: skipped");
    }
    let out = Command::new(BENCH)
        .args(["run", "--players", "400", "--secs", "1", "--phases", "closed", "--targets", "cluster2"])
        .arg("--shared-ips")
        .output()
        .expect("run rhp-bench cluster2");
    let text = String::from_utf8_lossy(&out.stdout);
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\n{errors}");
    assert!(text.contains("cluster2 setup   400 joined"), "{text}\n{errors}");
    let closed = text.lines().find(|l| l.contains("cluster2 closed")).unwrap_or_default();
    assert!(!closed.is_empty() && !closed.contains(" 0 req/s") && closed.contains(" lost 0 "), "{text}");
}

#[test]
fn engine_memory_is_reported() {
    let out =
        Command::new(BENCH).args(["memory", "--players", "20000"]).output().expect("run rhp-bench memory");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let line = text.lines().find(|l| l.starts_with("memory ")).expect("summary line");
    assert!(line.contains("players=20000"), "{line}");
}

/// The numbers after `key` in `line` (e.g. "frames 12 sent" → 12 for "frames").
fn after(line: &str, key: &str) -> u64 {
    let rest = line.split(key).nth(1).unwrap_or_else(|| panic!("no '{key}' in {line}"));
    rest.split_whitespace()
        .next()
        .and_then(|w| w.trim_end_matches([',', ';']).parse().ok())
        .unwrap_or(u64::MAX)
}

#[test]
fn relay_forwards_every_frame_with_its_payload_8_bytes_shorter() {
    let Some(server) = server_bin() else {
        eprintln!("rabid-hole-punch not built next to rhp-bench: relay bench not run");
        return;
    };
    let started = Instant::now();
    let out = Command::new(BENCH)
        .args(["relay", "--pairs", "4", "--secs", "1", "--sizes", "200,1200", "--targets", "naive,rhp"])
        .args(["--pps", "50", "--loss-timeout-ms", "3000", "--server-bin"])
        .arg(server)
        .output()
        .expect("run rhp-bench relay");
    let text = String::from_utf8_lossy(&out.stdout);
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\n{errors}");
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert!(text.contains("relay setup: 4 of 4 pairs relayed"), "{text}\n{errors}");
    for size in ["200 B", "1200 B"] {
        for phase in ["closed", "rate"] {
            for target in ["naive", "rhp"] {
                let line = text
                    .lines()
                    .find(|l| {
                        l.trim_start().starts_with(size)
                            && l.contains(&format!(" {target} "))
                            && l.contains(phase)
                    })
                    .unwrap_or_else(|| panic!("no {size} {target} {phase} line in:\n{text}\n{errors}"));
                // Every frame sent came back through the target, its payload checked byte for
                // byte at its size; through the relay each is exactly 8 bytes shorter than sent.
                let sent = line
                    .split("frames ")
                    .nth(1)
                    .and_then(|r| r.split(' ').next())
                    .and_then(|n| n.parse::<u64>().ok());
                let sent = sent.unwrap_or_else(|| panic!("no frame count in {line}"));
                assert!(sent > 0, "{line}");
                assert!(line.contains(&format!("{sent} sent, {sent} arrived right")), "{line}");
                if target == "rhp" {
                    assert!(line.contains(&format!("{sent} 8 B shorter than sent")), "{line}");
                }
                for k in ["bad", "lost", "refused", "other", "drops"] {
                    assert_eq!(after(line, &format!(" {k} ")), 0, "{k} in {line}");
                }
            }
        }
        assert!(text.contains(&format!("{size} relay vs naive closed  pkt/s")), "{text}");
    }
}
