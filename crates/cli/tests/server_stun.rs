//! Black-box: STUN against the real `rabid-hole-punch serve` over loopback UDP, with clients no one
//! here wrote: Debian's classic RFC 3489 `stun` client (`/usr/bin/stun`, package stun-client) and
//! the `stun-types` crate's RFC 8489 messages; and our own `rhp_proto::stun` client side. Each asks
//! the main port and the alternate port (`--alt-port`) for its mapped address. Plus the `e:`/`n:`
//! extension on the wire.

mod support;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::Server;

const STUN_CLIENT: &str = "/usr/bin/stun";

/// The alternate port's address, from the server's start-up log.
fn alt_addr(srv: &Server) -> SocketAddr {
    let line =
        srv.wait_log("STUN alternate port on udp://", Duration::from_secs(5)).expect("alt port logged");
    let rest = line.split("STUN alternate port on udp://").nth(1).unwrap_or("");
    rest.split_whitespace().next().unwrap_or("").parse().unwrap_or_else(|_| panic!("bad line {line:?}"))
}

fn loopback_socket() -> UdpSocket {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind loopback");
    sock.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
    sock
}

/// Sends `req` to `to` and returns the answer and where it came from (retrying twice: UDP).
fn exchange(sock: &UdpSocket, to: SocketAddr, req: &[u8]) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 2048];
    for _ in 0..3 {
        sock.send_to(req, to).expect("send");
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            return (buf[..n].to_vec(), from);
        }
    }
    panic!("no STUN answer from {to}");
}

/// Runs the classic client with `args`, bounded; returns (exit code, stdout + stderr).
fn run_stun_client(args: &[&str]) -> (Option<i32>, String) {
    let dir = std::env::temp_dir();
    let out_path = dir.join(format!(
        "rhp-stun-client-{}-{}.txt",
        std::process::id(),
        args.join("_").replace(['/', ':'], "-")
    ));
    let file = std::fs::File::create(&out_path).expect("create output file");
    let err = file.try_clone().expect("clone file");
    let mut child = Command::new(STUN_CLIENT)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("spawn stun");
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{STUN_CLIENT} {args:?} did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = std::fs::read_to_string(&out_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    (code, text)
}

/// Whether the classic client is here; in CI (CI=true) it must be.
fn have_stun_client() -> bool {
    if Path::new(STUN_CLIENT).exists() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{STUN_CLIENT} is missing in CI: scripts/test installs the stun-client package"
    );
    eprintln!("SKIPPED: {STUN_CLIENT} is not installed (apt-get install stun-client)");
    false
}

/// The port the classic client's verbose output says it opened first, and the mapped address it
/// reports.
fn opened_and_mapped(text: &str) -> (u16, SocketAddr) {
    let opened = text
        .lines()
        .find_map(|l| l.strip_prefix("Opened port ")?.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no 'Opened port' in {text}"));
    let mapped = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("MappedAddress = ")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no 'MappedAddress = ' in {text}"));
    (opened, mapped)
}

#[test]
fn debian_classic_stun_client_gets_its_mapped_address() {
    if !have_stun_client() {
        return;
    }
    let srv = Server::start(&[]);
    let alt = alt_addr(&srv);
    for server in [srv.addr, alt] {
        // Test 1 of RFC 3489 only: one Binding request, no change asked.
        let (code, text) = run_stun_client(&[&server.to_string(), "1", "-v"]);
        assert_eq!(code, Some(0), "{text}");
        let (opened, mapped) = opened_and_mapped(&text);
        assert_eq!(mapped, SocketAddr::from(([127, 0, 0, 1], opened)), "{text}");
        assert!(text.contains(&format!("mappedAddr=127.0.0.1:{opened}")), "{text}");
    }
    // The full NAT-type run: test 1 answered, the change-IP/port tests (which one IP cannot
    // honour) unanswered, so the classic client's verdict on loopback is "Firewall" (exit 11).
    let (code, text) = run_stun_client(&[&srv.addr.to_string(), "-v"]);
    let (opened, mapped) = opened_and_mapped(&text);
    assert_eq!(mapped, SocketAddr::from(([127, 0, 0, 1], opened)), "{text}");
    assert!(text.contains("test I = 1"), "{text}");
    assert!(text.contains("Primary: "), "{text}");
    assert!(code.is_some(), "{text}");
}

#[test]
fn stun_types_crate_client_gets_its_mapped_address_from_both_ports() {
    use stun_types::attribute::XorMappedAddress;
    use stun_types::message::{Message, MessageClass, MessageWriteVec, BINDING};
    use stun_types::prelude::*;

    let srv = Server::start(&[]);
    let alt = alt_addr(&srv);
    let sock = loopback_socket();
    for server in [srv.addr, alt] {
        let req = Message::builder_request(BINDING, MessageWriteVec::new()).finish();
        let (resp, from) = exchange(&sock, server, &req);
        assert_eq!(from, server, "answered from the port asked");
        let req = Message::from_bytes(&req).expect("own request");
        let msg = Message::from_bytes(&resp).expect("a STUN message");
        assert!(msg.has_class(MessageClass::Success) && msg.has_method(BINDING));
        assert_eq!(msg.transaction_id(), req.transaction_id());
        let xor = msg.attribute::<XorMappedAddress>().expect("XOR-MAPPED-ADDRESS");
        assert_eq!(xor.addr(msg.transaction_id()), sock.local_addr().expect("local"));
    }
}

#[test]
fn our_stun_client_side_gets_its_mapped_address_from_both_ports() {
    use rhp_proto::stun::{parse_binding_response, write_binding_request};
    let srv = Server::start(&[]);
    let alt = alt_addr(&srv);
    let sock = loopback_socket();
    for (i, server) in [srv.addr, alt].into_iter().enumerate() {
        let mut req = Vec::new();
        write_binding_request([i as u8 + 1; 12], &mut req);
        let (resp, from) = exchange(&sock, server, &req);
        assert_eq!(from, server);
        let (txid, mapped) = parse_binding_response(&resp).expect("binding response");
        assert_eq!(txid, [i as u8 + 1; 12]);
        assert_eq!(mapped, sock.local_addr().expect("local"));
    }
    // Rabid requests on the alternate port get nothing; the main port is unchanged.
    let peer = support::Peer::new(alt);
    peer.send("h:Room:Alice:4");
    peer.expect_silence(Duration::from_millis(300));
    srv.peer().ask("h:Room:Alice:4", "i:Alice");
}

#[test]
fn alt_port_can_be_chosen_or_turned_off() {
    let probe = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = probe.local_addr().expect("local").port();
    drop(probe);
    let srv = Server::start(&["--alt-port", &port.to_string()]);
    assert_eq!(alt_addr(&srv), SocketAddr::from(([127, 0, 0, 1], port)));
    let off = Server::start(&["--alt-port", "0"]);
    assert!(off.wait_log("no alternate port", Duration::from_secs(5)).is_some());
    // STUN on the main port still works without it.
    let sock = loopback_socket();
    let mut req = Vec::new();
    rhp_proto::stun::write_binding_request([5; 12], &mut req);
    let (resp, _) = exchange(&sock, off.addr, &req);
    assert!(rhp_proto::stun::parse_binding_response(&resp).is_ok());
}

#[test]
fn e_and_n_on_the_wire() {
    let srv = Server::start(&[]);
    let (alice, bob, carol) = (srv.peer(), srv.peer(), srv.peer());
    alice.ask("h:Room:Alice:4", "i:Alice");
    bob.ask("c:Room:Bob", "i:Alice:Bob");
    alice.expect("i:Alice:Bob");
    carol.ask("c:Room:Carol", "i:Alice:Bob:Carol");
    alice.expect("i:Alice:Bob:Carol");
    bob.expect("i:Alice:Bob:Carol");
    alice.ask("e:Room:Alice:cone+1", "n:Alice:cone+1");
    bob.ask("e:Room:Bob:sym", "n:Alice:cone+1:Bob:sym");
    alice.expect("n:Alice:cone+1:Bob:sym");
    carol.expect_silence(Duration::from_millis(300));
    alice.send("s:Room:Alice");
    let (eb, ec) = (bob.entry("Bob"), carol.entry("Carol"));
    alice.expect("n:Alice:cone+1:Bob:sym");
    alice.expect(&format!("s:{}:{eb};{ec}", alice.port()));
    bob.expect("n:Alice:cone+1:Bob:sym");
    assert!(carol.recv().starts_with("s:"), "Carol (no e:) gets s: and never n:");
}
