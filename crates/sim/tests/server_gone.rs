//! The client's view of a server that is not there, with the real server engine in the sim: a
//! stopped server (nothing listens: the watch socket hears "port unreachable") and a muted one
//! (a firewall that drops: only silence tells).

use rhp_client::{ClientError, Config, Event};
use rhp_sim::{Link, Sim, SERVER};
use std::time::Duration;

fn joiner(sim: &mut Sim) -> usize {
    let site = sim.add_site(&[rhp_lab::nat::NatType::PortRestrictedCone]);
    sim.add_client(site, Config::join(SERVER, "S1", "Bob"), Link::CLEAN)
}

#[test]
fn nothing_listening_at_the_server_ends_the_run_within_a_round_trip() {
    let mut sim = Sim::new(1, rhp_server::Config::default());
    sim.stop_server();
    let start = sim.now;
    let bob = joiner(&mut sim);
    sim.run_until(Duration::from_secs(1), |s| s.clients[bob].outcome.is_some());
    let outcome = sim.clients[bob].outcome.as_ref().unwrap();
    assert!(matches!(outcome, Err(ClientError::ServerUnreachable(a)) if *a == SERVER), "{outcome:?}");
    assert!(sim.now - start <= Duration::from_millis(5), "{:?}", sim.now - start);
    assert!(!sim.clients[bob].events.iter().any(|(_, e)| matches!(e, Event::Nat(_))), "no NAT conclusion");
}

#[test]
fn a_server_that_stops_after_answering_is_gone_once_the_watch_asks_again() {
    let mut sim = Sim::new(2, rhp_server::Config::default());
    let site = sim.add_site(&[]);
    let alice = sim.add_client(site, Config::host(SERVER, "S1", "Alice", 2), Link::CLEAN);
    sim.run_until(Duration::from_secs(1), |s| {
        s.clients[alice].events.iter().any(|(_, e)| matches!(e, Event::Joined { .. }))
    });
    let stopped = sim.now;
    sim.stop_server();
    sim.run_until(Duration::from_secs(5), |s| s.clients[alice].outcome.is_some());
    let outcome = sim.clients[alice].outcome.as_ref().unwrap();
    assert!(matches!(outcome, Err(ClientError::ServerGone(a)) if *a == SERVER), "{outcome:?}");
    // The watch asks after a second of silence (and the pings' silence before that).
    assert!(sim.now - stopped <= Duration::from_millis(2100), "{:?}", sim.now - stopped);
}

#[test]
fn a_muted_server_is_reported_silent_every_3_s_then_the_run_times_out_at_15_s() {
    let mut sim = Sim::new(3, rhp_server::Config::default());
    sim.server_muted = true;
    let start = sim.now;
    let bob = joiner(&mut sim);
    sim.run_until(Duration::from_secs(20), |s| s.clients[bob].outcome.is_some());
    let silent: Vec<u64> = sim.clients[bob]
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::ServerSilent { silent_for, answered_before: false } => Some(silent_for.as_secs()),
            _ => None,
        })
        .collect();
    assert_eq!(silent, [3, 6, 9, 12]);
    let outcome = sim.clients[bob].outcome.as_ref().unwrap();
    assert!(
        matches!(outcome, Err(ClientError::ServerTimeout { server, .. }) if *server == SERVER),
        "{outcome:?}"
    );
    assert_eq!(sim.now - start, Duration::from_secs(15));
}

#[test]
fn the_filter_hook_holds_and_duplicates_one_chosen_datagram() {
    use rhp_sim::{Node, Verdict};
    let mut sim = Sim::new(4, rhp_server::Config::default());
    sim.record = true;
    // The host's first h: is held: no i: until it is released (or the 0.5 s resend).
    let mut first = true;
    sim.set_filter(move |p| {
        if p.data.starts_with(b"h:") && std::mem::take(&mut first) {
            Verdict::Hold
        } else if p.sender == Node::Server && p.data.starts_with(b"i:") {
            Verdict::Duplicate
        } else {
            Verdict::Pass
        }
    });
    let site = sim.add_site(&[]);
    let alice = sim.add_client(
        site,
        Config::host(SERVER, "S1", "Alice", 2).without_nat_classification(),
        Link::CLEAN,
    );
    sim.run_for(Duration::from_millis(100));
    assert_eq!(sim.held().len(), 1);
    assert!(sim.clients[alice].events.is_empty(), "nothing heard while the h: is held");
    sim.release();
    sim.run_for(Duration::from_millis(10));
    let joined = sim.clients[alice].events.iter().filter(|(_, e)| matches!(e, Event::Joined { .. })).count();
    assert_eq!(joined, 1, "the duplicated i: is one join");
    let i_sent = sim.wire.iter().filter(|p| p.sender == Node::Server && p.data.starts_with(b"i:")).count();
    assert_eq!(i_sent, 1);
}

#[test]
fn a_run_that_ended_goes_idle_and_connected_players_never_do() {
    let mut sim = Sim::new(5, rhp_server::Config::default());
    sim.stop_server();
    let bob = joiner(&mut sim);
    sim.run_until_idle(Duration::from_secs(60), Duration::from_secs(5));
    assert!(sim.clients[bob].outcome.is_some());

    // Two connected players keep their paths alive (keepalives every 2 s): never idle, so the
    // bounded run fails instead of hanging.
    let busy = std::panic::catch_unwind(|| {
        let mut sim = Sim::new(6, rhp_server::Config::default());
        let sites = [sim.add_site(&[]), sim.add_site(&[])];
        let ids = rhp_sim::session::add_players(&mut sim, &sites, Link::CLEAN, |_| {});
        rhp_sim::session::start_when_full(&mut sim, &ids);
        sim.run_until_idle(Duration::from_secs(10), Duration::from_secs(30));
    });
    let msg = busy.expect_err("never idle").downcast::<String>().map(|s| *s).unwrap_or_default();
    assert!(msg.contains("did not reach its goal"), "{msg}");
}
