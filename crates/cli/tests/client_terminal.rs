//! Black-box: the interactive `host`/`join` as a person meets it, in a real pseudo-terminal.
//! Every way a run ends ends the process at once (measured from the cause; the figures are
//! printed), with one set of exit codes: 0 a chosen end, 1 a failure, 130 Ctrl-C, 143 SIGTERM.

mod support;

use rexpect::process::Signal;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::player::Player;
use support::terminal::Terminal;
use support::{free_udp_port, Server};

/// Generous: the process is gone well within it (the figures printed are far below).
const AT_ONCE: Duration = Duration::from_secs(1);

fn host(server: SocketAddr, session: &str, name: &str, extra: &[&str]) -> Terminal {
    let server = server.to_string();
    let mut args = vec!["host", session, name, "--max", "2", "--server", &server, "--bind", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Terminal::spawn(&args)
}

fn join(server: SocketAddr, session: &str, name: &str) -> Terminal {
    let server = server.to_string();
    Terminal::spawn(&["join", session, name, "--server", &server, "--bind", "127.0.0.1:0"])
}

/// Waits for the exit after `cause`; returns its code and prints how long it took.
fn exit_after(t: &mut Terminal, what: &str, cause: Instant, within: Duration) -> i32 {
    let (code, took) =
        t.exited_within(cause, within).unwrap_or_else(|| panic!("{what}: still running after {within:?}"));
    eprintln!("{what}: exit {code} after {} ms", took.as_millis());
    code
}

#[test]
fn an_unreachable_server_is_named_within_two_seconds() {
    let port = free_udp_port();
    let t0 = Instant::now();
    let mut bob = join(format!("127.0.0.1:{port}").parse().unwrap(), "Gone1", "Bob");
    assert_eq!(exit_after(&mut bob, "nothing listening", t0, Duration::from_secs(2)), 1);
    let out = bob.rest();
    assert!(out.contains(&format!("nothing is listening at 127.0.0.1:{port}")), "{out}");
    assert!(
        !out.contains("NAT:") && !out.contains("nat mapping"),
        "no NAT conclusion without a server: {out}"
    );
}

#[test]
fn ctrl_c_in_the_lobby_leaves_at_once_with_130() {
    let server = Server::start(&[]);
    let mut alice = host(server.addr, "CtlC1", "Alice", &[]);
    alice.expect("in the session");
    let t = Instant::now();
    alice.ctrl('c');
    assert_eq!(exit_after(&mut alice, "Ctrl-C in the lobby", t, AT_ONCE), 130);
    assert!(alice.rest().contains("leaving the session"));
}

#[test]
fn a_second_ctrl_c_ends_it_too() {
    let server = Server::start(&[]);
    let mut alice = host(server.addr, "CtlC2", "Alice", &[]);
    alice.expect("in the session");
    let t = Instant::now();
    alice.ctrl('c');
    alice.ctrl('c');
    assert_eq!(exit_after(&mut alice, "Ctrl-C twice", t, AT_ONCE), 130);
}

#[test]
fn sigterm_in_the_lobby_is_143() {
    let server = Server::start(&[]);
    let mut alice = host(server.addr, "Term1", "Alice", &[]);
    alice.expect("in the session");
    let t = Instant::now();
    alice.signal(Signal::SIGTERM);
    assert_eq!(exit_after(&mut alice, "SIGTERM in the lobby", t, AT_ONCE), 143);
}

#[test]
fn exit_typed_in_the_lobby_is_a_chosen_end() {
    let server = Server::start(&[]);
    let mut alice = host(server.addr, "Exit1", "Alice", &[]);
    alice.expect("in the session");
    let t = Instant::now();
    alice.type_line("/exit");
    assert_eq!(exit_after(&mut alice, "/exit in the lobby", t, AT_ONCE), 0);
    let out = alice.rest();
    assert!(out.contains("left the session") && !out.contains("error"), "{out}");
    // The server took the exit: the name is free again at once.
    let mut again = host(server.addr, "Exit1", "Alice", &[]);
    again.expect("in the session");
}

#[test]
fn ctrl_d_in_the_lobby_is_a_chosen_end() {
    let server = Server::start(&[]);
    let mut alice = host(server.addr, "CtlD1", "Alice", &[]);
    alice.expect("in the session");
    let t = Instant::now();
    alice.ctrl('d');
    assert_eq!(exit_after(&mut alice, "Ctrl-D in the lobby", t, AT_ONCE), 0);
}

#[test]
fn a_kick_ends_the_kicked_player_at_once_with_1() {
    let server = Server::start(&[]);
    let mut alice = Player::host(server.addr, "Kick1", "Alice", 2, &["--manual-start"]);
    assert!(alice.wait_stderr("in the session", Duration::from_secs(10)), "{}", alice.dump());
    let mut bob = join(server.addr, "Kick1", "Bob");
    bob.expect("in the session");
    let t = Instant::now();
    alice.type_line("/kick Bob");
    assert_eq!(exit_after(&mut bob, "kicked", t, AT_ONCE), 1);
    let out = bob.rest();
    assert!(out.contains("the host kicked this player out of the session"), "{out}");
    assert!(!out.contains("refused"), "a kick is not a refusal: {out}");
}

#[test]
fn the_session_timing_out_ends_the_process_with_1() {
    let server = Server::start(&["--session-lifetime-s", "1"]);
    let mut alice = host(server.addr, "Life1", "Alice", &[]);
    alice.expect("in the session");
    let t = Instant::now();
    assert_eq!(exit_after(&mut alice, "session lifetime (1 s)", t, Duration::from_secs(2)), 1);
    assert!(alice.rest().contains("maximum lifetime"));
}

#[test]
fn a_server_killed_in_the_lobby_is_seen_as_gone() {
    let server = Server::start(&[]);
    let mut alice = host(server.addr, "Kill1", "Alice", &[]);
    alice.expect("in the session");
    let t = Instant::now();
    drop(server);
    assert_eq!(exit_after(&mut alice, "server killed", t, Duration::from_secs(4)), 1);
    let out = alice.rest();
    assert!(out.contains("is gone") || out.contains("stopped answering"), "{out}");
    assert!(!out.contains("address right"), "it had answered: the address was right: {out}");
}

/// A connected chat: Alice in the terminal, Bob a script that stays up.
fn chat(session: &str) -> (Server, Terminal, Player) {
    let server = Server::start(&[]);
    let mut alice = host(server.addr, session, "Alice", &[]);
    alice.expect("in the session");
    let bob = Player::join(server.addr, session, "Bob", &["--send", "hi", "--expect", "1", "--hold-s", "60"]);
    alice.expect("chat:");
    alice.expect("Bob: hi");
    (server, alice, bob)
}

#[test]
fn ctrl_c_in_the_chat_is_130() {
    let (_server, mut alice, _bob) = chat("Chat1");
    let t = Instant::now();
    alice.ctrl('c');
    assert_eq!(exit_after(&mut alice, "Ctrl-C in the chat", t, AT_ONCE), 130);
}

#[test]
fn ctrl_d_and_exit_in_the_chat_are_chosen_ends() {
    let (_server, mut alice, _bob) = chat("Chat2");
    let t = Instant::now();
    alice.ctrl('d');
    assert_eq!(exit_after(&mut alice, "Ctrl-D in the chat", t, AT_ONCE), 0);
    let (_server, mut alice, _bob) = chat("Chat3");
    let t = Instant::now();
    alice.type_line("/exit");
    assert_eq!(exit_after(&mut alice, "/exit in the chat", t, AT_ONCE), 0);
}

#[test]
fn sigterm_in_the_chat_is_143() {
    let (_server, mut alice, _bob) = chat("Chat4");
    let t = Instant::now();
    alice.signal(Signal::SIGTERM);
    assert_eq!(exit_after(&mut alice, "SIGTERM in the chat", t, AT_ONCE), 143);
}

#[test]
fn the_promoted_host_is_told_how_the_session_starts() {
    let server = Server::start(&[]);
    let mut alice = Player::host(server.addr, "Promo1", "Alice", 3, &["--manual-start"]);
    assert!(alice.wait_stderr("in the session", Duration::from_secs(10)), "{}", alice.dump());
    let mut bob = join(server.addr, "Promo1", "Bob");
    bob.expect("in the session");
    alice.type_line("/exit");
    bob.expect("you are the host now; nothing starts until you type /start");
}

#[test]
fn help_lists_the_typed_commands_and_exit_codes() {
    for cmd in ["host", "join"] {
        let out =
            std::process::Command::new(support::BIN).args([cmd, "--help"]).output().expect("run --help");
        let text = String::from_utf8_lossy(&out.stdout);
        for needle in ["/start", "/kick NAME", "/exit", "Ctrl-D", "Exit codes", "130", "143"] {
            assert!(text.contains(needle), "{cmd} --help lacks {needle:?}:\n{text}");
        }
    }
}
