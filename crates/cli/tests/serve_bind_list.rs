//! `serve --bind` with a list of specific addresses, through the real binary on loopback: one
//! socket per address (and its alternate STUN port), each answering from the address it was
//! asked on; refused lists exit 2 before binding, an address not on this host exits 1 naming it.
//! And `v:` on a real dual-stack server (`--bind ::`): step 1 from a player's IPv6 session
//! address, step 2 from its IPv4 address, then the start message of another player of ours lists
//! both. Tests needing IPv6 are skipped (a line on stderr) where the machine has no IPv6 loopback.

mod support;

use rhp_proto::stun::{parse_binding_response, write_binding_request};
use rhp_proto::Reply;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;
use support::{free_udp_port, Server, BIN};

const WAIT: Duration = Duration::from_secs(2);

fn have_ipv6() -> bool {
    let ok = UdpSocket::bind("[::1]:0").is_ok();
    if !ok {
        eprintln!("no IPv6 loopback here: test skipped");
    }
    ok
}

/// A socket of `addr`'s family on loopback.
fn socket_for(addr: SocketAddr) -> UdpSocket {
    let sock = if addr.is_ipv4() { UdpSocket::bind("127.0.0.1:0") } else { UdpSocket::bind("[::1]:0") };
    let sock = sock.expect("bind loopback");
    sock.set_read_timeout(Some(WAIT)).expect("timeout");
    sock
}

/// Sends `data` to `to` and returns the next datagram and its source.
fn exchange(sock: &UdpSocket, to: SocketAddr, data: &[u8]) -> (Vec<u8>, SocketAddr) {
    sock.send_to(data, to).expect("send");
    let mut buf = [0u8; 2048];
    let (n, from) = sock.recv_from(&mut buf).unwrap_or_else(|e| panic!("no answer from {to}: {e}"));
    (buf[..n].to_vec(), from)
}

fn text(sock: &UdpSocket, to: SocketAddr, msg: &str) -> (String, SocketAddr) {
    let (data, from) = exchange(sock, to, msg.as_bytes());
    (String::from_utf8_lossy(&data).into_owned(), from)
}

fn recv_text(sock: &UdpSocket) -> Option<(String, SocketAddr)> {
    let mut buf = [0u8; 2048];
    let (n, from) = sock.recv_from(&mut buf).ok()?;
    Some((String::from_utf8_lossy(&buf[..n]).into_owned(), from))
}

#[test]
fn each_listed_address_answers_stun_and_requests_from_itself() {
    if !have_ipv6() {
        return;
    }
    let port = free_udp_port();
    let srv = Server::start_args(
        &["serve", "--bind", "127.0.0.1,::1", "--port", &port.to_string(), "--no-log-file"],
        &std::env::temp_dir(),
    );
    let v4 = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
    let v6 = SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port);
    assert_eq!(srv.addr, v4, "the first address is logged first");
    for (i, server) in [v4, v6].into_iter().enumerate() {
        let sock = socket_for(server);
        // STUN on the main port and on that address's own alternate port, each from itself.
        for (j, to) in [server, SocketAddr::new(server.ip(), port + 1)].into_iter().enumerate() {
            let mut req = Vec::new();
            write_binding_request([(2 * i + j) as u8 + 1; 12], &mut req);
            let (resp, from) = exchange(&sock, to, &req);
            assert_eq!(from, to, "the STUN answer leaves from the address asked");
            let (txid, mapped) = parse_binding_response(&resp).expect("binding response");
            assert_eq!(txid, [(2 * i + j) as u8 + 1; 12]);
            assert_eq!(mapped, sock.local_addr().unwrap());
        }
        // A session through this address only: every answer from it.
        let session = format!("Bind{i}");
        let (reply, from) = text(&sock, server, &format!("h:{session}:Host:2"));
        assert_eq!((reply.as_str(), from), ("i:Host", server));
        let guest = socket_for(server);
        let (reply, from) = text(&guest, server, &format!("c:{session}:Guest"));
        assert_eq!((reply.as_str(), from), ("i:Host:Guest", server));
        let (reply, from) = recv_text(&sock).expect("the host hears of the join");
        assert_eq!((reply.as_str(), from), ("i:Host:Guest", server));
    }
    // Both addresses are in the one engine: a session made on one is seen from the other.
    let sock = socket_for(v6);
    let (reply, from) = text(&sock, v6, "h:Bind0:Other:2");
    assert_eq!((reply.as_str(), from), ("error:session_exists", v6));
}

#[test]
fn a_player_on_the_second_address_is_answered_from_it_in_a_session_made_on_the_first() {
    // Two IPv4 loopback addresses: the second is not the first of its family, so what the server
    // sends a player that talks to it (the `i:` of another's join, its start message) must still
    // leave from it.
    let port = free_udp_port();
    let srv = Server::start_args(
        &["serve", "--bind", "127.0.0.1,127.0.0.2", "--port", &port.to_string(), "--no-log-file"],
        &std::env::temp_dir(),
    );
    let first = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
    let second = SocketAddr::new(Ipv4Addr::new(127, 0, 0, 2).into(), port);
    assert_eq!(srv.addr, first);
    let host = socket_for(first);
    let guest = socket_for(second);
    assert_eq!(text(&host, first, "h:Two:Host:2"), ("i:Host".into(), first));
    assert_eq!(text(&guest, second, "c:Two:Guest"), ("i:Host:Guest".into(), second));
    assert_eq!(recv_text(&host), Some(("i:Host:Guest".into(), first)));
    host.send_to(b"s:Two:Host", first).unwrap();
    let (start, from) = recv_text(&guest).expect("the guest's start message");
    assert!(start.starts_with("s:"), "{start}");
    assert_eq!(from, second, "the start message leaves from the address the guest talks to");
    let (start, from) = recv_text(&host).expect("the host's start message");
    assert!(start.starts_with("s:"), "{start}");
    assert_eq!(from, first);
}

/// Runs `serve` with `args` (bounded); returns its exit code and stderr.
fn run_serve(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--no-log-file"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            use std::io::Read;
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            return (status.code(), err);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return (None, "still running after 20 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bad_lists_are_refused_with_a_reason() {
    for (bind, why) in [
        ("127.0.0.1,127.0.0.1", "listed twice"),
        ("0.0.0.0,127.0.0.1", "every address"),
        ("::,::1", "every address"),
        ("127.0.0.1,not-an-ip", "not an IP address"),
        (
            "127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9",
            "at most 8",
        ),
    ] {
        let (code, err) = run_serve(&["--bind", bind, "--port", "0"]);
        assert_eq!(code, Some(2), "{bind}: {err}");
        assert!(err.contains(why), "{bind}: {err}");
    }
    // 192.0.2.1 (TEST-NET-1) is on no interface here: the bind fails, naming the address.
    let (code, err) = run_serve(&["--bind", "127.0.0.1,192.0.2.1", "--port", "0"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("192.0.2.1") && err.contains("address of this host"), "{err}");
    let (code, out) = {
        let o = Command::new(BIN).args(["serve", "--help"]).output().expect("help");
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
    };
    assert_eq!(code, Some(0));
    let words = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("127.0.0.1,::1") && words.contains("list of up to 8 specific addresses"), "{out}");
}

#[test]
fn a_dual_stack_server_takes_an_other_family_address_with_v_and_lists_it_to_ours() {
    if !have_ipv6() {
        return;
    }
    let srv =
        Server::start_args(&["serve", "--bind", "::", "--port", "0", "--no-log-file"], &std::env::temp_dir());
    let port = srv.addr.port();
    let v4 = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
    let v6 = SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port);
    // Alice joins over IPv6 and also has an IPv4 socket; Bob joins over IPv4. Both are ours (e:).
    let alice6 = socket_for(v6);
    let alice4 = socket_for(v4);
    let bob = socket_for(v4);
    assert_eq!(text(&alice6, v6, "h:Dual:Alice:2").0, "i:Alice");
    assert_eq!(text(&bob, v4, "c:Dual:Bob").0, "i:Alice:Bob");
    assert_eq!(recv_text(&alice6).map(|r| r.0).as_deref(), Some("i:Alice:Bob"));
    assert_eq!(text(&alice6, v6, "e:Dual:Alice:cone").0, "n:Alice:cone");
    let (n, _) = text(&bob, v4, "e:Dual:Bob:cone");
    assert_eq!(n, "n:Alice:cone:Bob:cone");
    let _ = recv_text(&alice6); // Alice hears of Bob's descriptor.
                                // Step 1 over IPv6, from Alice's session address: the token.
    let (answer, from) = text(&alice6, v6, "v:Dual:Alice");
    assert_eq!(from, v6);
    let Ok(Reply::AlsoToken(token)) = Reply::parse(answer.as_bytes()) else { panic!("{answer:?}") };
    // Step 2 over IPv4, from Alice's other socket.
    let (ok, from) = text(&alice4, v4, &format!("v:Dual:Alice:{token}"));
    assert_eq!((ok.as_str(), from), ("v:ok", v4));
    // The host starts: Bob's start message lists Alice twice, IPv6 first, then IPv4.
    alice6.send_to(b"s:Dual:Alice", v6).unwrap();
    let start = std::iter::from_fn(|| recv_text(&bob))
        .take(20)
        .map(|r| r.0)
        .find(|t| t.starts_with("s:"))
        .expect("Bob's start message");
    let Ok(Reply::Start { peers, .. }) = Reply::parse(start.as_bytes()) else { panic!("{start:?}") };
    let listed: Vec<(String, SocketAddr)> = peers.into_iter().map(|p| (p.name, p.addr)).collect();
    let alice4_addr = alice4.local_addr().unwrap();
    let alice6_addr = alice6.local_addr().unwrap();
    assert_eq!(listed, vec![("Alice".to_owned(), alice6_addr), ("Alice".to_owned(), alice4_addr)], "{start}");
}
