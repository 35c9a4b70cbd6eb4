//! The fuzz harnesses on stable, for CI: every file of the kept corpus (`fuzz/corpus/<target>/`)
//! goes through the same harness function the libFuzzer target runs, plus a bounded pass of
//! seeded pseudo-random inputs (a short fuzz run without coverage guidance). The long,
//! coverage-guided runs are `cargo +nightly fuzz run <target>` in `fuzz/` (see fuzz/README.md).

#[allow(dead_code)]
#[path = "../../../fuzz/src/harness.rs"]
mod harness;

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .map(|p| {
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, data)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    for (path, data) in corpus(target) {
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} fails (replay: cargo +nightly fuzz run {target} {})",
            path.display(),
            path.display()
        );
    }
}

/// xorshift64*: deterministic bytes for the bounded random pass.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = (self.next() % max as u64) as usize;
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn parser_corpora_replay() {
    replay("parse_request", harness::parse_request);
    replay("parse_reply", harness::parse_reply);
    replay("parse_peer", harness::parse_peer);
}

#[test]
fn engine_corpus_replays() {
    replay("engine", |d| {
        harness::engine(d);
    });
}

/// The program a relayed pair runs (Alice hosts Room from 10.0.0.1, Bob joins from 10.0.0.2,
/// both ask for the relay, Alice starts, both bind and send data frames, then time runs out):
/// the harness reaches the relay, and the engine forwards. Also kept as the corpus seed
/// `fuzz/corpus/engine/seed-relay`.
pub fn relay_program() -> Vec<u8> {
    let req = |src: u8, kind: u8, choice: u8| [2, src, kind, choice];
    let mut p = vec![0u8];
    p.extend(req(0, 0, 0)); // h:Room:Alice:2
    p.extend(req(2, 1, 3)); // c:Room:Bob
    for _ in 0..3 {
        p.extend(req(0, 2, 0)); // p:Room:Alice
        p.extend(req(2, 2, 3)); // p:Room:Bob
    }
    p.extend(req(0, 8, 0)); // r:Room:Alice
    p.extend(req(2, 8, 3)); // r:Room:Bob
    p.extend(req(0, 3, 0)); // s:Room:Alice
    for _ in 0..3 {
        p.extend([0, 20]); // 200 ms
    }
    p.extend([4, 0, 1, 0, 0, 4, 1, 1, 0, 0]); // binds
    for _ in 0..4 {
        p.extend([4, 0, 0, 1, 30, 4, 1, 0, 0, 30]); // data both ways
        p.extend([0, 10]);
    }
    p.extend([4, 0x81, 0, 0, 30]); // a grant's token from another address
    p.extend([4, 0, 2, 0, 0]); // leave
    p.extend([0, 255]);
    p
}

#[test]
fn a_relay_program_reaches_the_relay() {
    let run = harness::engine(&relay_program());
    assert!(run.grants >= 2, "{run:?}");
    assert!(run.relay_bytes_out > 0 && run.relay_bytes_out <= run.relay_bytes_in, "{run:?}");
    let seed =
        std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/engine/seed-relay"));
    assert_eq!(seed.ok(), Some(relay_program()), "fuzz/corpus/engine/seed-relay is the relay program");
}

#[test]
fn bounded_random_pass() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let data = rng.bytes(64);
        harness::parse_request(&data);
        harness::parse_reply(&data);
        harness::parse_peer(&data);
    }
    for i in 0..300 {
        let data = rng.bytes(400);
        let outcome = std::panic::catch_unwind(|| {
            harness::engine(&data);
        });
        assert!(outcome.is_ok(), "engine program #{i} fails: {data:?}");
    }
}
