//! Time per engine: the engine counts every instant (its timers, the budget's slots, its players'
//! stamps) from instants it was handed, never from a clock or a process-wide epoch. Two engines
//! fed the same requests at the same offsets, one of them 30 days and a fraction of a millisecond
//! later, send exactly the same datagrams at exactly the same offsets, budget on.

mod common;
use common::*;
use std::time::Duration;

type Log = Vec<(Duration, String, String)>;

/// Feeds `text` from `addr(n)`, logging what the engine sent.
fn send(h: &mut H, out: &mut Log, n: u16, text: &str) {
    let at = h.elapsed();
    out.extend(h.send(addr(n), text).into_iter().map(|(to, text)| (at, to.to_string(), text)));
}

/// Moves the clock by `d`, logging what the engine sent.
fn wait(h: &mut H, out: &mut Log, d: Duration) {
    out.extend(h.advance(d).into_iter().map(|s| (s.at, s.to.to_string(), s.text)));
}

/// A script with the budget on: a lobby of 3, pings, a player who times out, a start with its
/// rounds, errors repeated; every datagram sent, with its offset from the start.
fn script(h: &mut H) -> Log {
    let mut out = Log::new();
    send(h, &mut out, 1, "h:Room:Alice:4");
    send(h, &mut out, 2, "c:Room:Bob");
    send(h, &mut out, 3, "c:Room:Carol");
    for step in 1..=16u64 {
        wait(h, &mut out, ms(500));
        send(h, &mut out, 1, "p:Room:Alice");
        send(h, &mut out, 2, "p:Room:Bob");
        // Carol stops pinging after 2 s: she times out.
        if step <= 4 {
            send(h, &mut out, 3, "p:Room:Carol");
        }
    }
    send(h, &mut out, 1, "s:Room:Alice");
    for _ in 0..8 {
        wait(h, &mut out, ms(250));
        send(h, &mut out, 2, "p:Room:Bob");
    }
    send(h, &mut out, 2, "y:Room:Bob");
    wait(h, &mut out, Duration::from_secs(30));
    out
}

#[test]
fn two_engines_far_apart_in_time_agree_on_every_datagram() {
    let mut a = H::with(rhp_server::Config::default());
    let mut b = H::with(rhp_server::Config::default());
    // Before b is handed any instant: its whole life is 30 days and 0.4 ms later than a's.
    b.t0 += Duration::from_secs(30 * 86_400) + Duration::from_micros(400);
    b.now = b.t0;
    let (sa, sb) = (script(&mut a), script(&mut b));
    assert!(sa.iter().any(|(_, _, t)| t.starts_with("s:")), "the session started: {sa:?}");
    assert!(sa.iter().any(|(_, _, t)| t == "error:player_timeout"), "Carol timed out: {sa:?}");
    assert_eq!(sa, sb);
    assert_eq!((a.engine.session_count(), b.engine.session_count()), (0, 0));
}
