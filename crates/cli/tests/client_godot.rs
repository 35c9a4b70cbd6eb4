//! Wire compatibility: a scripted peer that speaks exactly as the Godot plugin does (its
//! timings, no `y:` to the server, one read per frame) shares sessions with Rust peers, as host
//! and as client, through the real server. Each test takes ≈15 s (the plugin's own timers).

mod support;

use std::time::Duration;
use support::godot_double::godot;
use support::player::Player;
use support::Server;

const WAIT: Duration = Duration::from_secs(45);

fn assert_rust_ok(p: &mut Player, peers: usize, godot_name: &str) {
    assert_eq!(p.wait(WAIT), Some(0), "{}", p.dump());
    let done = p.line_fields("punch-done").unwrap_or_else(|| panic!("{}", p.dump()));
    assert_eq!(done[0].1, format!("{peers}/{peers}"), "{}", p.dump());
    assert!(
        p.stdout().iter().any(|l| l.starts_with(&format!("connected peer={godot_name} addr=127.0.0.1:"))),
        "{}",
        p.dump()
    );
    assert!(p.stdout().iter().any(|l| l.ends_with(": hi")), "the Rust peers exchanged data\n{}", p.dump());
}

#[test]
fn godot_host_with_two_rust_clients() {
    let server = Server::start(&[]);
    let g = godot(server.addr, "GhS", "GhGodot", Some(3), 3);
    std::thread::sleep(Duration::from_millis(300));
    let script = ["--send", "hi", "--expect", "1"];
    let mut a = Player::join(server.addr, "GhS", "GhRustA", &script);
    assert!(a.wait_stderr("in the session", Duration::from_secs(10)), "{}", a.dump());
    let mut b = Player::join(server.addr, "GhS", "GhRustB", &script);
    let result = g.join();
    assert!(result.ok, "{result:?}");
    assert_eq!(result.wrong_field3, 0, "every g: names the port it was sent to: {result:?}");
    assert!(result.greetings > 0);
    for name in ["GhRustA", "GhRustB"] {
        assert!(result.confirmed_by.iter().any(|n| n == name), "{result:?}");
    }
    assert_rust_ok(&mut a, 2, "GhGodot");
    assert_rust_ok(&mut b, 2, "GhGodot");
}

#[test]
fn rust_host_with_a_godot_client_and_a_rust_client() {
    let server = Server::start(&[]);
    let mut host = Player::host(server.addr, "RhS", "RhHost", 3, &["--send", "hi", "--expect", "1"]);
    assert!(host.wait_stderr("in the session", Duration::from_secs(10)), "{}", host.dump());
    let g = godot(server.addr, "RhS", "RhGodot", None, 0);
    std::thread::sleep(Duration::from_millis(300));
    let mut rust = Player::join(server.addr, "RhS", "RhRust", &["--send", "hi", "--expect", "1"]);
    let result = g.join();
    assert!(
        result.ok,
        "the Godot client got the host's c: in time and its s:<n>: {result:?}\n{}",
        host.dump()
    );
    assert_eq!(result.wrong_field3, 0, "{result:?}");
    let host_local = host
        .stderr()
        .iter()
        .find_map(|l| l.split("(local ").nth(1).map(|r| r.trim_end_matches(')').to_owned()))
        .expect("host prints its local address");
    assert_eq!(result.host_addr.map(|a| a.to_string()), Some(host_local), "{result:?}");
    assert!(result.confirmed_by.iter().any(|n| n == "RhRust"), "{result:?}");
    eprintln!("godot client: {result:?}");
    assert_rust_ok(&mut host, 2, "RhGodot");
    assert_rust_ok(&mut rust, 2, "RhGodot");
}

#[test]
fn godot_host_godot_client_and_a_rust_client() {
    let server = Server::start(&[]);
    let host = godot(server.addr, "GgS", "GgHost", Some(3), 3);
    std::thread::sleep(Duration::from_millis(300));
    let client = godot(server.addr, "GgS", "GgClient", None, 0);
    std::thread::sleep(Duration::from_millis(300));
    let mut rust = Player::join(server.addr, "GgS", "GgRust", &["--send", "hi", "--expect", "0"]);
    for (name, result) in [("host", host.join()), ("client", client.join())] {
        eprintln!("godot {name}: {result:?}");
        assert!(result.ok, "Godot {name}: {result:?}\n{}", rust.dump());
        assert_eq!(result.wrong_field3, 0, "{result:?}");
        assert!(result.confirmed_by.iter().any(|n| n == "GgRust"), "{result:?}");
    }
    assert_eq!(rust.wait(WAIT), Some(0), "{}", rust.dump());
    assert_eq!(rust.line_fields("punch-done").unwrap()[0].1, "2/2", "{}", rust.dump());
}
