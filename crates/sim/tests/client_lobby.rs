//! The lobby and the data path with the real server: refusals end a run with the server's own
//! code, a kick, an exit, the session lifetime (15 minutes of virtual time), and application
//! data between connected players, direct and through the server's relay.

mod common;

use rhp_client::{ClientError, Config, Event, Method};
use rhp_lab::nat::NatType;
use rhp_proto::ErrorCode;
use rhp_sim::session::*;
use rhp_sim::{Link, Sim, SERVER};
use std::time::Duration;

fn server_error(sim: &Sim, i: usize) -> Option<ErrorCode> {
    match sim.clients[i].outcome.as_ref()? {
        Err(ClientError::Server(code)) => Some(*code),
        _ => None,
    }
}

fn players(sim: &Sim, i: usize) -> Vec<String> {
    sim.clients[i].endpoint.engine().players().to_vec()
}

#[test]
fn joining_a_session_that_does_not_exist_ends_with_its_code() {
    let mut sim = Sim::new(1, rhp_server::Config::default());
    let site = sim.add_site(&[]);
    let bob = sim.add_client(site, Config::join(SERVER, "Nope", "Bob"), Link::CLEAN);
    sim.run_until(Duration::from_secs(2), |s| s.clients[bob].outcome.is_some());
    assert_eq!(server_error(&sim, bob), Some(ErrorCode::SessionNonExistent));
}

#[test]
fn a_wrong_password_ends_with_password_mismatch() {
    let mut sim = Sim::new(2, rhp_server::Config::default());
    let sites = [sim.add_site(&[]), sim.add_site(&[])];
    let host = sim.add_client(
        sites[0],
        Config::host(SERVER, "S1", "P0", 2).with_password(Some("right")),
        Link::CLEAN,
    );
    sim.run_until(Duration::from_secs(1), |s| players(s, host).len() == 1);
    let bob =
        sim.add_client(sites[1], Config::join(SERVER, "S1", "P1").with_password(Some("wrong")), Link::CLEAN);
    sim.run_until(Duration::from_secs(2), |s| s.clients[bob].outcome.is_some());
    assert_eq!(server_error(&sim, bob), Some(ErrorCode::PasswordMismatch));
    assert_eq!(players(&sim, host), ["P0"]);
}

#[test]
fn a_start_alone_is_refused_and_the_host_pings_on_until_a_start_that_works() {
    let mut sim = Sim::new(3, rhp_server::Config::default());
    let sites = [sim.add_site(&[]), sim.add_site(&[])];
    let host = sim.add_client(sites[0], Config::host(SERVER, "S1", "P0", 2), Link::CLEAN);
    sim.run_until(Duration::from_secs(1), |s| players(s, host).len() == 1);
    sim.command(host, |e, now| e.engine_mut().start(now));
    let refused = |s: &Sim| {
        s.clients[host]
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::Refused(ErrorCode::OnlyOnePlayerInSession)))
    };
    sim.run_until(Duration::from_secs(3), refused);
    sim.run_for(Duration::from_secs(2));
    assert!(sim.clients[host].outcome.is_none(), "still in the session");
    sim.add_client(sites[1], Config::join(SERVER, "S1", "P1"), Link::CLEAN);
    start_when_full(&mut sim, &[0, 1]);
    run_to_done(&mut sim, &[0, 1], Duration::from_secs(10));
    assert!(pair_outcome(&sim, (0, "P0"), (1, "P1")).0);
}

#[test]
fn a_kicked_player_ends_with_kicked_by_host_and_the_lobby_shrinks() {
    let mut sim = Sim::new(4, rhp_server::Config::default());
    let sites: Vec<usize> = (0..3).map(|_| sim.add_site(&[])).collect();
    let ids = add_players(&mut sim, &sites, Link::CLEAN, |_| {});
    sim.run_until(Duration::from_secs(2), |s| ids.iter().all(|i| players(s, *i).len() == 3));
    sim.command(ids[0], |e, now| e.engine_mut().kick(now, "P1")).unwrap();
    sim.run_until(Duration::from_secs(3), |s| {
        s.clients[ids[1]].outcome.is_some() && players(s, ids[2]).len() == 2
    });
    assert_eq!(server_error(&sim, ids[1]), Some(ErrorCode::KickedByHost));
    assert_eq!(players(&sim, ids[0]), ["P0", "P2"]);
    assert_eq!(players(&sim, ids[2]), ["P0", "P2"]);
}

#[test]
fn a_player_that_exits_ends_with_player_exited_session_and_the_others_see_it_go() {
    let mut sim = Sim::new(5, rhp_server::Config::default());
    let sites: Vec<usize> = (0..2).map(|_| sim.add_site(&[])).collect();
    let ids = add_players(&mut sim, &sites, Link::CLEAN, |_| {});
    // Both in the session (an exit while still joining is nothing to leave).
    sim.run_until(Duration::from_secs(2), |s| ids.iter().all(|i| players(s, *i).len() == 2));
    sim.command(ids[1], |e, now| e.engine_mut().exit(now));
    sim.run_until(Duration::from_secs(3), |s| {
        s.clients[ids[1]].outcome.is_some() && players(s, ids[0]).len() == 1
    });
    assert_eq!(server_error(&sim, ids[1]), Some(ErrorCode::PlayerExitedSession));
}

#[test]
fn a_lobby_left_open_for_the_session_lifetime_is_closed_and_the_host_hears_why() {
    let config = rhp_server::Config::default();
    let lifetime = config.session_lifetime;
    let mut sim = Sim::new(6, config);
    let site = sim.add_site(&[NatType::PortRestrictedCone]);
    let host = sim.add_client(site, Config::host(SERVER, "S1", "P0", 2), Link::CLEAN);
    let start = sim.now;
    sim.run_until(lifetime + Duration::from_secs(5), |s| s.clients[host].outcome.is_some());
    assert_eq!(server_error(&sim, host), Some(ErrorCode::SessionTimeout));
    let after = sim.now - start;
    assert!(after >= lifetime && after <= lifetime + Duration::from_secs(1), "{after:?}");
}

fn data_events(sim: &Sim, i: usize) -> Vec<(String, Vec<u8>)> {
    sim.clients[i]
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Data { peer, data } => Some((peer.clone(), data.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn application_data_flows_both_ways_directly_and_through_the_relay() {
    for (nat, method) in [(NatType::PortRestrictedCone, Method::Plain), (NatType::Symmetric, Method::Relay)] {
        let mut sim = Sim::new(7, rhp_server::Config::default());
        let sites = [sim.add_site(&[nat]), sim.add_site(&[nat])];
        let ids = add_players(&mut sim, &sites, Link::LOSSY, |_| {});
        start_when_full(&mut sim, &ids);
        run_to_done(&mut sim, &ids, Duration::from_secs(30));
        sim.run_for(Duration::from_secs(5));
        assert_eq!(last_method(&sim, ids[0], "P1"), Some(method), "{nat}");
        // Lossy link: send a few copies (the application's own retries).
        for _ in 0..5 {
            sim.command(ids[0], |e, now| e.send(now, "P1", b"hello P1")).unwrap();
            sim.command(ids[1], |e, now| e.send(now, "P0", b"hello P0")).unwrap();
            sim.run_for(Duration::from_millis(300));
        }
        assert!(data_events(&sim, ids[1]).contains(&("P0".to_owned(), b"hello P1".to_vec())), "{nat}");
        assert!(data_events(&sim, ids[0]).contains(&("P1".to_owned(), b"hello P0".to_vec())), "{nat}");
    }
}

#[test]
fn a_kicked_player_stays_out_until_the_host_lets_it_back() {
    let mut sim = Sim::new(8, rhp_server::Config::default());
    let sites: Vec<usize> = (0..3).map(|_| sim.add_site(&[])).collect();
    let ids = add_players(&mut sim, &sites[..2], Link::CLEAN, |_| {});
    sim.run_until(Duration::from_secs(2), |s| ids.iter().all(|i| players(s, *i).len() == 2));
    sim.command(ids[0], |e, now| e.engine_mut().kick(now, "P1")).unwrap();
    sim.run_until(Duration::from_secs(2), |s| s.clients[ids[1]].outcome.is_some());
    // P1 again, from another address: still out.
    let again = sim.add_client(sites[2], Config::join(SERVER, SESSION, "P1"), Link::CLEAN);
    sim.run_until(Duration::from_secs(2), |s| s.clients[again].outcome.is_some());
    assert_eq!(server_error(&sim, again), Some(ErrorCode::KickedByHost));
    sim.command(ids[0], |e, now| e.engine_mut().unban(now, "P1")).unwrap();
    sim.run_for(Duration::from_millis(100));
    let back = sim.add_client(sites[2], Config::join(SERVER, SESSION, "P1"), Link::CLEAN);
    sim.run_until(Duration::from_secs(2), |s| players(s, back).len() == 2);
    assert!(sim.clients[back].outcome.is_none());
    assert_eq!(players(&sim, ids[0]), ["P0", "P1"]);
}

#[test]
fn when_the_host_exits_in_the_lobby_the_next_player_becomes_host_and_can_start() {
    let mut sim = Sim::new(9, rhp_server::Config::default());
    let sites: Vec<usize> = (0..3).map(|_| sim.add_site(&[])).collect();
    let ids = add_players(&mut sim, &sites, Link::CLEAN, |_| {});
    sim.run_until(Duration::from_secs(2), |s| ids.iter().all(|i| players(s, *i).len() == 3));
    sim.command(ids[0], |e, now| e.engine_mut().exit(now));
    let became = |s: &Sim| s.clients[ids[1]].events.iter().any(|(_, e)| matches!(e, Event::BecameHost));
    sim.run_until(Duration::from_secs(3), became);
    assert!(sim.clients[ids[1]].endpoint.engine().is_host());
    assert!(!sim.clients[ids[2]].events.iter().any(|(_, e)| matches!(e, Event::BecameHost)));
    sim.command(ids[1], |e, now| e.engine_mut().start(now));
    run_to_done(&mut sim, &ids[1..], Duration::from_secs(10));
    assert!(pair_outcome(&sim, (ids[1], "P1"), (ids[2], "P2")).0);
}

#[test]
fn a_private_player_reaches_the_others_through_the_relay_only_and_nobody_learns_its_address() {
    let mut sim = Sim::new(10, rhp_server::Config::default());
    sim.record = true;
    let kind = NatType::FullCone;
    let sites: Vec<usize> = (0..3).map(|_| sim.add_site(&[kind])).collect();
    let ids = add_players(&mut sim, &sites, Link::CLEAN, |c| c.nat.private = c.player == "P2");
    start_when_full(&mut sim, &ids);
    run_to_done(&mut sim, &ids, Duration::from_secs(20));
    sim.run_for(Duration::from_secs(5));
    for (a, b) in [(0, 2), (1, 2)] {
        let (ok, m) = pair_outcome(&sim, (ids[a], &name(a)), (ids[b], &name(b)));
        assert!(ok && m == Some(Method::Relay), "P{a} × P{b}: {ok} {m:?}");
    }
    assert!(pair_outcome(&sim, (ids[0], "P0"), (ids[1], "P1")).0);
    let p2_public = sim.public_ip(ids[2]);
    let placeholder = rhp_proto::relay::PRIVATE_PLACEHOLDER;
    for p in &sim.wire {
        if p.sender == rhp_sim::Node::Client(ids[2]) {
            assert_eq!(p.to.ip(), SERVER.ip(), "the private player talks to the server only: {}", p.text());
        }
        if p.sender != rhp_sim::Node::Server {
            assert_ne!(p.to.ip(), p2_public, "nobody sends to its address: {}", p.text());
        }
        assert_ne!(p.to, placeholder, "nobody sends to the placeholder");
        if p.sender == rhp_sim::Node::Server && p.to.ip() != p2_public {
            assert!(!p.text().contains(&p2_public.to_string()), "the server lists its address: {}", p.text());
        }
    }
}
