//! Helpers shared by the client's engine tests (public API only; the unit tests that need the
//! crate's insides include this same file as `src/tests/util`): the server's address, an engine drained into an
//! [`Out`], datagrams, timeouts and socket outcomes fed by hand, and a NAT classification run
//! with injected STUN answers (injected clock, no sockets).

#![allow(dead_code)]

use rhp_client::{Config, Engine, Event, Input, Output, SocketId, Transmit};
use rhp_proto::stun;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// The rendezvous server of every unit test.
pub const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 57775);
pub const MS: Duration = Duration::from_millis(1);
pub const ALT: &str = "10.0.0.1:57776";
pub const PUBLIC_IP: &str = "198.51.100.7";
pub const LOCAL_PORT: u16 = 5000;

#[derive(Default, Debug)]
pub struct Out {
    pub ts: Vec<Transmit>,
    pub opened: Vec<SocketId>,
    pub closed: Vec<SocketId>,
    pub events: Vec<Event>,
}

/// Everything the engine wants done, but the lobby's watch requests (see `watch.rs`).
pub fn drain(e: &mut Engine) -> Out {
    let mut o = Out::default();
    loop {
        match e.poll_output() {
            Output::Transmit(t) if t.via == rhp_client::WATCH => {}
            Output::Transmit(t) => o.ts.push(t),
            Output::Open(id) => o.opened.push(id),
            Output::Close(id) => o.closed.push(id),
            Output::Event(ev) => o.events.push(ev),
            Output::Timeout(_) => return o,
        }
    }
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub fn feed(e: &mut Engine, now: Instant, via: SocketId, from: SocketAddr, data: &[u8]) -> Out {
    e.handle_input(Input::Datagram { now, via, from, data });
    drain(e)
}

pub fn opened(e: &mut Engine, now: Instant, id: SocketId, port: u16) -> Out {
    e.handle_input(Input::Opened { now, id, local_port: Some(port) });
    drain(e)
}

pub fn tick(e: &mut Engine, now: Instant) -> Out {
    e.handle_input(Input::Timeout(now));
    drain(e)
}

pub fn is_stun(t: &Transmit) -> bool {
    stun::is_stun(&t.data)
}

/// The answer a STUN server gives `t`, mapping it to `PUBLIC_IP:port`.
fn answer(t: &Transmit, port: u16) -> Vec<u8> {
    let req = stun::parse_binding_request(&t.data).unwrap();
    let mut out = Vec::new();
    stun::write_binding_response(&req, SocketAddr::new(PUBLIC_IP.parse().unwrap(), port), &mut out);
    out
}

pub fn text(t: &Transmit) -> String {
    String::from_utf8_lossy(&t.data).into_owned()
}

/// An engine whose probes 0..3 are answered with `ports` (None: never answered). Returns the
/// engine, the time, and everything it output.
pub fn classify(config: Config, ports: [Option<u16>; 4]) -> (Engine, Instant, Out) {
    let t0 = Instant::now();
    let mut e = Engine::new(config, t0).unwrap();
    let mut all = drain(&mut e);
    all.events.extend(opened(&mut e, t0, SocketId::MAIN, LOCAL_PORT).events);
    assert_eq!(all.opened, vec![SocketId(1)], "the probe socket is asked for at once");
    let mut o = opened(&mut e, t0, SocketId(1), 6000);
    let mut stun_sent: Vec<Transmit> = all.ts.iter().filter(|t| is_stun(t)).cloned().collect();
    stun_sent.append(&mut o.ts);
    assert_eq!(stun_sent.len(), 4);
    // In probe order: main→server, main→alt, probe→server, probe→alt.
    let order: Vec<(SocketId, SocketAddr)> = stun_sent.iter().map(|t| (t.via, t.to)).collect();
    assert_eq!(
        order,
        vec![
            (SocketId::MAIN, SERVER),
            (SocketId::MAIN, addr(ALT)),
            (SocketId(1), SERVER),
            (SocketId(1), addr(ALT))
        ]
    );
    for (t, port) in stun_sent.iter().zip(ports) {
        if let Some(port) = port {
            let o = feed(&mut e, t0 + MS, t.via, t.to, &answer(t, port));
            all.closed.extend(o.closed);
            all.events.extend(o.events);
            all.ts.extend(o.ts);
        }
    }
    // Let every retransmission run out.
    for i in 1..=8 {
        let o = tick(&mut e, t0 + 250 * MS * i);
        all.closed.extend(o.closed);
        all.events.extend(o.events);
        all.ts.extend(o.ts);
    }
    (e, t0 + 2100 * MS, all)
}

pub fn join() -> Config {
    Config::join(SERVER, "S1", "Bob")
}

pub const ALICE: &str = "203.0.113.5:7000";
