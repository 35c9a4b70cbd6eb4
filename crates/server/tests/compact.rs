//! The compact representations (`rhp_server::compact`): ticks and stamps against an epoch, inline
//! names and addresses; and the engine reads no clock and holds no process-wide state.

use rhp_server::compact::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[test]
fn ticks_convert_back_exactly() {
    let t = Instant::now();
    let e = Epoch::new(t + Duration::from_secs(5));
    for d in [0, 1, 999, 1_000_000_007, 86_400_000_000_000u64] {
        let later = t + Duration::from_nanos(d);
        assert_eq!(e.instant(e.tick(later)), later);
        if let Some(earlier) = t.checked_sub(Duration::from_nanos(d)) {
            assert_eq!(e.instant(e.tick(earlier)), earlier);
            assert!(e.tick(earlier) <= e.tick(later));
        }
    }
}

#[test]
fn stamps_round_to_the_millisecond_and_saturate() {
    let o = Instant::now();
    let ms = Duration::from_millis;
    assert_eq!(Stamp::floor(o, o + ms(7)).at(o), o + ms(7));
    assert_eq!(Stamp::ceil(o, o + ms(7)).at(o), o + ms(7));
    let t = o + Duration::from_micros(7_400);
    assert_eq!(Stamp::floor(o, t).at(o), o + ms(7));
    assert_eq!(Stamp::ceil(o, t).at(o), o + ms(8));
    assert_eq!(Stamp::floor(o, o.checked_sub(ms(5)).unwrap_or(o)), Stamp::ZERO);
    let far = o + Duration::from_secs(60 * 86_400);
    assert_eq!((Stamp::floor(o, far), Stamp::ceil(o, far)), (Stamp::LAST, Stamp::LAST));
    assert!(Stamp::LAST < Stamp::NEVER && Stamp::ZERO < Stamp::LAST);
    assert_eq!(std::mem::size_of::<Stamp>(), 4);
}

/// The engine reads no clock and keeps no process-wide state: outside the shell (which owns the
/// sockets and the clock), no source file of this crate, tests aside, reads `Instant::now`
/// or `SystemTime::now`, or holds a `static` that lives at run time (`OnceLock`, atomics,
/// `thread_local!`, `static mut`). Two engines in one process never share an epoch.
#[test]
fn the_engine_reads_no_clock_and_holds_no_process_wide_state() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.clone()];
    let mut checked = 0;
    let mut found = Vec::new();
    while let Some(path) = files.pop() {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name == "shell" || name == "shell.rs" || name == "tests" {
            continue;
        }
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Unit tests (the last module of a file) may use the clock.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        // Comments may name the clock (lib.rs says where the shell reads it); code may not.
        let code: String =
            code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
        for bad in ["Instant::now", "SystemTime::now", "OnceLock", "thread_local!", "static mut", "Atomic"] {
            if code.contains(bad) {
                found.push(format!("{}: {bad}", path.display()));
            }
        }
        checked += 1;
    }
    assert!(checked > 20, "only {checked} files read");
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn names_are_inline_strs() {
    let n = Name::<12>::new("Alice12345ab");
    assert_eq!(n.as_str(), "Alice12345ab");
    assert!(n == "Alice12345ab");
    assert_eq!(Name::<3>::new("abcdef").as_str(), "abc");
    assert_eq!(std::mem::size_of::<Name<12>>(), 13);
    for a in ["10.1.2.3:4", "[::1]:5", "[fe80::1%2]:6", "[::ffff:10.0.0.1]:7"] {
        let a: SocketAddr = a.parse().unwrap();
        assert_eq!(Addr::from(a).get(), a);
    }
    assert_eq!(std::mem::size_of::<Addr>(), 16);
}
