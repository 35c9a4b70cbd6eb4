//! The shell on one dual-stack socket (`[::]`, IPV6_V6ONLY off), in both of its modes: an IPv4
//! client and an IPv6 client share a session through it; the IPv4 one is seen as plain IPv4 (its
//! STUN answer, and the `s:` its peer gets, carry 127.0.0.1, never `::ffff:127.0.0.1`), the IPv6 one
//! is listed in brackets to the IPv4 one (both sent `e:`), and the alternate STUN port is dual-stack
//! too. Skipped (with a line on stderr) where the machine has no IPv6 loopback.

use rhp_proto::stun::{parse_binding_response, write_binding_request};
use rhp_server::shell::{bind, run_with_alt, ShellOptions};
use rhp_server::{Config, Engine};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// Datagrams `client` receives until it gets one starting with `prefix` (5 s each, 20 at most).
fn until(client: &UdpSocket, prefix: &str) -> (String, SocketAddr) {
    let mut buf = [0u8; 2048];
    for _ in 0..20 {
        let (n, from) = client.recv_from(&mut buf).expect("a datagram within the timeout");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.starts_with(prefix) {
            return (text, from);
        }
    }
    panic!("no datagram starting with {prefix:?}");
}

fn client(addr: &str) -> UdpSocket {
    let c = UdpSocket::bind(addr).expect("bind client");
    c.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    c
}

fn serve_both_families(io_batch: usize) {
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here: dual-stack test skipped");
        return;
    }
    let (ports, got_ports) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let main = bind("[::]:0".parse().unwrap()).await.expect("bind [::]");
            let alt = bind("[::]:0".parse().unwrap()).await.expect("bind alt [::]");
            let local = |s: &tokio::net::UdpSocket| s.local_addr().expect("local").port();
            ports.send((local(&main), local(&alt))).expect("ports");
            let shutdown = async move {
                let _ = stopped.await;
            };
            run_with_alt(
                main,
                Some(alt),
                Engine::new(Config::original()),
                shutdown,
                ShellOptions { io_batch },
            )
            .await;
        });
    });
    let (port, alt_port) = got_ports.recv().expect("the server bound");
    let (server4, server6): (SocketAddr, SocketAddr) =
        (format!("127.0.0.1:{port}").parse().unwrap(), format!("[::1]:{port}").parse().unwrap());
    let (a, b) = (client("127.0.0.1:0"), client("[::1]:0"));
    let (me_a, me_b) = (a.local_addr().unwrap(), b.local_addr().unwrap());

    a.send_to(b"h:Room:Alice:3", server4).unwrap();
    assert_eq!(until(&a, "i:"), ("i:Alice".to_owned(), server4), "io_batch {io_batch}");
    b.send_to(b"c:Room:Bob", server6).unwrap();
    assert_eq!(until(&b, "i:"), ("i:Alice:Bob".to_owned(), server6));
    assert_eq!(until(&a, "i:").0, "i:Alice:Bob");

    let mut stun = Vec::new();
    write_binding_request([7; 12], &mut stun);
    for (c, me, server) in [(&a, me_a, server4), (&b, me_b, server6)] {
        for to in [server, SocketAddr::new(server.ip(), alt_port)] {
            c.send_to(&stun, to).unwrap();
            let mut buf = [0u8; 512];
            let (n, from) = c.recv_from(&mut buf).expect("a STUN answer");
            assert_eq!(from, to, "answered from the port asked (io_batch {io_batch})");
            assert_eq!(parse_binding_response(&buf[..n]), Ok(([7; 12], me)), "seen as {me}");
        }
    }

    a.send_to(b"e:Room:Alice:cone", server4).unwrap();
    b.send_to(b"e:Room:Bob:cone", server6).unwrap();
    until(&a, "n:");
    until(&b, "n:");
    a.send_to(b"s:Room:Alice", server4).unwrap();
    let start_a = until(&a, "s:").0;
    let start_b = until(&b, "s:").0;
    assert_eq!(start_a, format!("s:{}:Bob:[::1]:{}", me_a.port(), me_b.port()));
    assert_eq!(start_b, format!("s:{}:Alice:127.0.0.1:{}", me_b.port(), me_a.port()));

    stop.send(()).expect("the loop is running");
    server.join().expect("the loop ended cleanly");
}

#[test]
fn one_datagram_per_system_call() {
    serve_both_families(1);
}

#[test]
fn batched() {
    serve_both_families(32);
}
