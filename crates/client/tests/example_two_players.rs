//! The `two_players` example runs as is and does what it says: a message each way, a path per
//! player, and the host sees the joiner leave.

#[allow(dead_code)]
#[path = "../examples/two_players.rs"]
mod two_players;

use std::time::Duration;

#[test]
fn the_two_players_example_exchanges_a_message_each_way_and_sees_the_leave() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        let report = runtime
            .map_err(|e| e.to_string())
            .and_then(|rt| rt.block_on(two_players::run()).map_err(|e| e.to_string()));
        let _ = tx.send(report);
    });
    let report =
        rx.recv_timeout(Duration::from_secs(30)).expect("the example ends within 30 s").expect("it succeeds");
    let mut received: Vec<_> =
        report.received.iter().map(|(me, from, text)| (me.as_str(), from.as_str(), text.as_str())).collect();
    received.sort();
    assert_eq!(received, [("Alice", "Bob", "hello from Bob"), ("Bob", "Alice", "hello from Alice")]);
    assert_eq!(report.paths.len(), 2, "{:?}", report.paths);
    for (_, _, path) in &report.paths {
        assert!(path.starts_with("direct 127.0.0.1:") || path == "relay", "{path}");
    }
    assert!(report.alice_saw_bob_leave);
}
