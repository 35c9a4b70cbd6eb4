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
    assert!(!text.contains(" 0 req/s"), "{text}");
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
