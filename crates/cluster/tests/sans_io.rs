//! The node stays sans-IO: no file under `src/` reads the clock, holds process-wide state or
//! touches a socket (the lab's source-tree test checks the other engine crates the same way;
//! this crate is not yet on its list).

#[test]
fn no_file_reads_the_clock_or_holds_process_wide_state() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        checked += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        for bad in [
            "Instant::now",
            "SystemTime::now",
            "OnceLock",
            "thread_local!",
            "static mut",
            "Atomic",
            "UdpSocket",
            "tokio",
        ] {
            // Doc comments may name them; code may not.
            let in_code = text.lines().filter(|l| !l.trim_start().starts_with("//")).any(|l| l.contains(bad));
            assert!(!in_code, "{}: {bad}", path.display());
        }
    }
    assert!(checked >= 7, "only {checked} files read");
}
