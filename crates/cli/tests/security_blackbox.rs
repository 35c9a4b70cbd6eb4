//! Black-box security tests against the real binary (issue 20), on loopback only:
//! - no secret in the log: a session created and joined with a password, a wrong guess, the relay
//!   granted and used; the DEBUG log file (every datagram in and out) holds neither the password
//!   nor a relay token nor a relay payload, and the file is readable by its owner only.

mod support;
use rhp_proto::relay::{Grant, ToServer};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};
use support::{temp_dir, Server};

const WAIT: Duration = Duration::from_secs(2);

/// The next datagram from `from` within `within`, as bytes.
fn recv_bytes(sock: &UdpSocket, from: SocketAddr, within: Duration) -> Option<Vec<u8>> {
    let end = Instant::now() + within;
    let mut buf = vec![0u8; 4096];
    loop {
        let left = end.checked_duration_since(Instant::now())?;
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1)))).ok()?;
        match sock.recv_from(&mut buf) {
            Ok((n, src)) if src == from => return Some(buf[..n].to_vec()),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

#[test]
fn the_debug_log_holds_no_password_and_no_relay_token() {
    let dir = temp_dir("secrets");
    let srv =
        Server::start_args(&["serve", "--bind", "127.0.0.1", "--port", "0", "--log-level", "debug"], &dir);
    let password = "TopSecret9";
    let alice = srv.peer();
    let bob = srv.peer();
    let eve = srv.peer();
    alice.ask(&format!("h:Room:Alice:2:{password}"), "i:Alice");
    alice.ask(&format!("h:Room:Alice:2:{password}"), "i:Alice");
    eve.ask("c:Room:Eve:TopSecret8", "error:password_mismatch");
    bob.send(&format!("c:Room:Bob:{password}"));
    bob.expect("i:Alice:Bob");
    alice.expect("i:Alice:Bob");
    alice.send("r:Room:Alice");
    bob.send("r:Room:Bob");
    alice.send("s:Room:Alice");
    let first = recv_bytes(&alice.sock, srv.addr, WAIT).expect("a datagram after s:");
    let grant = Grant::parse(&first).expect("Alice's grant before her start message");
    let token_hex = format!("{:016x}", grant.token);
    let mut frame = Vec::new();
    ToServer::Data { token: grant.token, to: 1, payload: b"PrivatePayload" }.write_to(&mut frame);
    alice.send_bytes(&frame);
    // The frame's DEBUG line is the last thing to wait for (lines are written as they come).
    assert!(srv.wait_log("relay frame 0x01", WAIT).is_some(), "relay frame logged at DEBUG");
    let log = std::fs::read_to_string(dir.join("rabid-hole-punch.log")).expect("log file");
    assert!(log.contains("c:Room:Bob:<redacted>"), "the join is logged, redacted:\n{log}");
    assert!(log.contains("h:Room:Alice:2:<redacted>"), "the creation is logged, redacted");
    assert!(log.contains("r:<redacted>:Alice:Bob"), "the grant is logged, redacted");
    for secret in [password, "TopSecret8", &token_hex, "PrivatePayload"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(dir.join("rabid-hole-punch.log")).expect("log file");
        assert_eq!(meta.permissions().mode() & 0o077, 0, "log file readable by others");
    }
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}
