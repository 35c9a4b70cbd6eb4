//! Black-box: SIGHUP re-reads the `--config` file of a running `rabid-hole-punch serve`. A cap
//! changes the server's behaviour at once (a create refused before is accepted after, and the
//! reverse), the log level follows the file, while a lobby and a started relayed pair live on. A
//! file that became invalid changes nothing.

mod support;
use rhp_proto::relay::{FromServer, Grant, ToServer};
use std::path::Path;
use std::time::{Duration, Instant};
use support::{lobby, recv_frame, temp_dir, Peer, Server};

const WAIT: Duration = Duration::from_secs(5);

/// The next datagram from `server` that is not text of the start rounds: a grant or a frame.
fn recv_grant(p: &Peer) -> Grant {
    let end = Instant::now() + WAIT;
    let mut buf = vec![0u8; 4096];
    loop {
        let left = end.checked_duration_since(Instant::now()).expect("a grant within 5 s");
        p.sock.set_read_timeout(Some(left.max(Duration::from_millis(1)))).expect("timeout");
        let (n, _) = p.sock.recv_from(&mut buf).expect("a grant within 5 s");
        if let Ok(g) = Grant::parse(&buf[..n]) {
            return g;
        }
    }
}

fn data(token: u64, to: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ToServer::Data { token, to, payload }.write_to(&mut out);
    out
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write the config file");
}

/// Sends SIGHUP and waits for the reload's outcome in the log, and (when it was reloaded) for the
/// engine to have taken the new limits.
fn reload(srv: &Server, expect: &str) -> String {
    srv.signal("HUP");
    let line = srv.wait_log(expect, WAIT).unwrap_or_else(|| panic!("no {expect:?} in the log after SIGHUP"));
    if expect == "configuration reloaded" {
        assert!(srv.wait_log("reconfigure: caps", WAIT).is_some(), "the engine took the new limits");
    }
    line
}

#[test]
fn sighup_changes_a_cap_and_the_log_level_and_keeps_the_sessions() {
    let dir = temp_dir("reload");
    let config = dir.join("rhp.toml");
    write(&config, "[caps]\nmax-sessions-per-ip = 1\n");
    let file = config.to_string_lossy().into_owned();
    let srv = Server::start(&["--config", &file]);

    // A started relayed pair (its lobby is deleted after the start rounds; the relay lives on).
    let pair = lobby(&srv, "Room", 2, &["Alice", "Bob"]);
    pair[0].send("r:Room:Alice");
    pair[1].send("r:Room:Bob");
    pair[0].expect_silence(Duration::from_millis(200));
    pair[0].send("s:Room:Alice");
    let grants: Vec<Grant> = pair.iter().map(recv_grant).collect();
    pair[0].send("y:Room:Alice");
    pair[1].send("y:Room:Bob");
    assert!(srv.wait_log("session Room: deleted", WAIT).is_some());

    // A lobby; with one session per IP (every peer here is 127.0.0.1) a second is refused.
    let carol = srv.peer();
    carol.ask("h:L1:Carol:4", "i:Carol");
    let dave = srv.peer();
    dave.ask("h:L2:Dave:4", "error:too_many_sessions");

    // Raise the cap and the log level: the same request is accepted.
    write(&config, "# raised\n[caps]\nmax-sessions-per-ip = 10\n[logging]\nlog-level = \"debug\"\n");
    let line = reload(&srv, "configuration reloaded");
    assert!(line.contains("max-sessions-per-ip 1 -> 10"), "{line}");
    dave.ask("h:L2:Dave:4", "i:Dave");
    assert!(srv.wait_log("DEBUG - in  ", WAIT).is_some(), "the log level is debug now");

    // The lobby survived: it takes a player and answers its host.
    let erin = srv.peer();
    erin.send("c:L1:Erin");
    erin.expect("i:Carol:Erin");
    carol.expect("i:Carol:Erin");
    // The relayed pair survived: Alice's data reaches Bob.
    pair[0].send_bytes(&data(grants[0].token, 1, b"still here"));
    let got = recv_frame(&pair[1].sock, srv.addr, WAIT).expect("Bob gets Alice's data after the reload");
    assert_eq!(FromServer::parse(&got), Ok(FromServer::Data { from: 0, payload: b"still here" }));

    // Lower it again: a new session is refused, the existing ones stay.
    write(&config, "[caps]\nmax-sessions-per-ip = 1\n[socket]\nrecv-buffer = 65536\n");
    srv.signal("HUP");
    let ignored = srv.wait_log("recv-buffer changed", WAIT).expect("a socket change is logged");
    assert!(ignored.contains("ignored until a restart"), "{ignored}");
    assert!(srv.wait_log("reconfigure: caps", WAIT).is_some(), "the engine took the new limits");
    let frank = srv.peer();
    frank.ask("h:L3:Frank:4", "error:too_many_sessions");
    carol.ask("p:L1:Carol", "i:Carol:Erin");
    dave.ask("p:L2:Dave", "i:Dave");

    // A file that became invalid changes nothing.
    write(&config, "[caps]\nmax-sessions-per-ip = \"many\"\n");
    let line = reload(&srv, "configuration not reloaded");
    assert!(line.contains("line 2") && line.contains("max-sessions-per-ip"), "{line}");
    frank.ask("h:L3:Frank:4", "error:too_many_sessions");
    pair[1].send_bytes(&data(grants[1].token, 0, b"and here"));
    let got = recv_frame(&pair[0].sock, srv.addr, WAIT).expect("Alice gets Bob's data");
    assert_eq!(FromServer::parse(&got), Ok(FromServer::Data { from: 1, payload: b"and here" }));
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}
