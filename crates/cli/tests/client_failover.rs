//! Several addresses of the service in `--server`: a client whose first node does not answer (or
//! stops answering before the start) joins through the next, on the same socket, and says so.
//! Here the first address has nothing listening (the kernel's "port unreachable" ends it at once);
//! the second is a real server, where host and joiner meet.

mod support;

use std::time::Duration;
use support::player::Player;
use support::Server;

#[test]
fn a_client_joins_through_the_next_address_when_the_first_does_not_answer() {
    let server = Server::start(&[]);
    let dead = format!("127.0.0.1:{}", support::free_udp_port());
    let list = format!("{dead},{}", server.addr);
    let script = ["--send", "hi", "--expect", "1"];
    let mut args = vec!["host", "FailS", "Alice", "--max", "2", "--server", &list];
    args.extend(script);
    let mut host = Player::with_args("Alice", &args);
    assert!(host.wait_stderr("in the session", Duration::from_secs(20)), "{}", host.dump());
    let mut args = vec!["join", "FailS", "Bob", "--server", &list];
    args.extend(script);
    let mut join = Player::with_args("Bob", &args);
    for (p, peer) in [(&mut host, "Bob"), (&mut join, "Alice")] {
        assert_eq!(p.wait(Duration::from_secs(45)), Some(0), "{}", p.dump());
        let said = p.stderr().join("\n");
        assert!(said.contains(&format!("joining again through {}", server.addr)), "{}", p.dump());
        assert!(said.contains(&dead), "the dead address is named: {}", p.dump());
        assert!(p.stdout().iter().any(|l| l.starts_with(&format!("connected peer={peer} "))), "{}", p.dump());
    }
}

#[test]
fn with_no_address_left_the_error_is_the_last_servers() {
    let dead1 = format!("127.0.0.1:{}", support::free_udp_port());
    let dead2 = format!("127.0.0.1:{}", support::free_udp_port());
    let list = format!("{dead1},{dead2}");
    let mut p = Player::with_args("Bob", &["join", "NoneS", "Bob", "--server", &list]);
    assert_eq!(p.wait(Duration::from_secs(45)), Some(1), "{}", p.dump());
    let said = p.stderr().join("\n");
    assert!(said.contains(&format!("joining again through {dead2}")), "{}", p.dump());
    assert!(said.contains(&format!("nothing is listening at {dead2}")), "{}", p.dump());
}
