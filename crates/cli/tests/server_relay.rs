//! Black-box: the relay of the real `rabid-hole-punch serve` over loopback UDP. Two players ask
//! for it (`r:`), read their grant right before their start message, and relay data through the
//! server by member index; a third socket (a NAT re-mapping one player's port) takes over with the
//! player's token; a wrong token gets nothing back; a frame too long for the server's buffer is
//! never forwarded cut; `--no-relay` sends no grant; `--help` documents every relay flag.

mod support;
use rhp_proto::relay::{FromServer, Grant, ToServer};
use std::time::Duration;
use support::{lobby, recv_bytes, recv_frame, Peer, Server};

const WAIT: Duration = Duration::from_secs(2);

fn data(token: u64, to: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ToServer::Data { token, to, payload }.write_to(&mut out);
    out
}

fn bind(token: u64) -> Vec<u8> {
    let mut out = Vec::new();
    ToServer::Bind { token }.write_to(&mut out);
    out
}

/// Alice and Bob in session Room, both asking for the relay, started by Alice; returns them with
/// their grants (read right before their first start message).
fn relayed_pair(srv: &Server) -> (Vec<Peer>, Vec<Grant>) {
    let peers = lobby(srv, "Room", 2, &["Alice", "Bob"]);
    peers[0].send("r:Room:Alice");
    peers[1].send("r:Room:Bob");
    peers[0].expect_silence(Duration::from_millis(200));
    peers[1].expect_silence(Duration::from_millis(10));
    peers[0].send("s:Room:Alice");
    let mut grants = Vec::new();
    for p in &peers {
        let first = recv_bytes(&p.sock, srv.addr, WAIT).expect("a datagram after s:");
        let grant = Grant::parse(&first)
            .unwrap_or_else(|_| panic!("grant first: {:?}", String::from_utf8_lossy(&first)));
        let second = p.recv();
        assert!(second.starts_with("s:"), "the start message right after the grant: {second:?}");
        assert_eq!(grant.members, ["Alice", "Bob"]);
        grants.push(grant);
    }
    peers[0].send("y:Room:Alice");
    peers[1].send("y:Room:Bob");
    (peers, grants)
}

#[test]
fn two_players_relay_through_the_server_and_survive_a_remapping() {
    let srv = Server::start(&[]);
    let (peers, grants) = relayed_pair(&srv);
    let (alice, bob) = (&peers[0], &peers[1]);
    assert_ne!(grants[0].token, grants[1].token);
    assert!(srv.wait_log("relay for session Room: created, 2 members", WAIT).is_some());

    // Alice (index 0) to Bob (index 1).
    let frame = data(grants[0].token, 1, b"hello Bob");
    alice.send_bytes(&frame);
    let got = recv_frame(&bob.sock, srv.addr, WAIT).expect("Bob gets Alice's data");
    assert_eq!(got.len(), frame.len() - 8);
    assert_eq!(FromServer::parse(&got), Ok(FromServer::Data { from: 0, payload: b"hello Bob" }));

    // Alice's NAT re-maps her port: a third socket proves her token with a bind.
    let moved = Peer::new(srv.addr);
    moved.send_bytes(&bind(grants[0].token));
    let ok = recv_frame(&moved.sock, srv.addr, WAIT).expect("bind answered");
    assert_eq!(FromServer::parse(&ok), Ok(FromServer::BindOk { me: 0 }));
    assert!(srv.wait_log("Alice moved from", WAIT).is_some());
    bob.send_bytes(&data(grants[1].token, 0, b"hi Alice"));
    let got = recv_frame(&moved.sock, srv.addr, WAIT).expect("Bob's reply reaches the new socket");
    assert_eq!(FromServer::parse(&got), Ok(FromServer::Data { from: 1, payload: b"hi Alice" }));
    assert_eq!(recv_frame(&alice.sock, srv.addr, Duration::from_millis(300)), None, "not the old one");

    // The longest payload the server reads whole is forwarded; one byte more is dropped, not cut.
    let longest = vec![0x5A; 2048 - 11];
    moved.send_bytes(&data(grants[0].token, 1, &longest));
    let got = recv_frame(&bob.sock, srv.addr, WAIT).expect("2048-byte frame forwarded");
    assert_eq!(FromServer::parse(&got), Ok(FromServer::Data { from: 0, payload: &longest[..] }));
    moved.send_bytes(&data(grants[0].token, 1, &vec![0x5A; 2048 - 10]));
    assert_eq!(recv_frame(&bob.sock, srv.addr, Duration::from_millis(300)), None);
}

#[test]
fn a_wrong_token_gets_nothing_back() {
    let srv = Server::start(&[]);
    let (peers, grants) = relayed_pair(&srv);
    let stranger = Peer::new(srv.addr);
    for frame in [data(grants[0].token ^ 1, 1, b"forged"), bind(grants[1].token.wrapping_add(1)), vec![0xF5]]
    {
        stranger.send_bytes(&frame);
        peers[0].send_bytes(&frame);
    }
    assert_eq!(recv_frame(&stranger.sock, srv.addr, Duration::from_millis(500)), None);
    assert_eq!(recv_frame(&peers[0].sock, srv.addr, Duration::from_millis(50)), None);
    assert_eq!(recv_frame(&peers[1].sock, srv.addr, Duration::from_millis(50)), None);
    // The real token still works.
    peers[1].send_bytes(&bind(grants[1].token));
    let ok = recv_frame(&peers[1].sock, srv.addr, WAIT).expect("bind answered");
    assert_eq!(FromServer::parse(&ok), Ok(FromServer::BindOk { me: 1 }));
}

#[test]
fn no_relay_sends_no_grant() {
    let srv = Server::start(&["--no-relay"]);
    let peers = lobby(&srv, "Room", 2, &["Alice", "Bob"]);
    peers[0].send("r:Room:Alice");
    peers[1].send("r:Room:Bob");
    peers[0].expect_silence(Duration::from_millis(200));
    peers[0].send("s:Room:Alice");
    for p in &peers {
        let first = p.recv();
        assert!(first.starts_with("s:"), "no grant: {first:?}");
    }
}

#[test]
fn serve_help_documents_the_relay_flags_and_defaults() {
    let out =
        std::process::Command::new(support::BIN).args(["serve", "--help"]).output().expect("run --help");
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--no-relay",
        "--relay-rate",
        "[default: 131072]",
        "--relay-burst",
        "[default: 262144]",
        "--relay-lifetime-s",
        "[default: 14400]",
        "--relay-idle-s",
        "[default: 60]",
        "--relay-max-per-ip",
        "[default: 32]",
        "--relay-server-rate",
        "[default: 67108864]",
        "--relay-max-sessions",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}
