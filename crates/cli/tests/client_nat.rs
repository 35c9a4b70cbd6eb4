//! Black-box: `rabid-hole-punch nat` says what it found in plain words. On this machine the
//! server sees our own address (no NAT); a server whose second STUN port is off is named as such.

mod support;

use std::process::Command;
use support::Server;

fn nat(server: std::net::SocketAddr, extra: &[&str]) -> (Option<i32>, String, String) {
    let server = server.to_string();
    let mut args = vec!["nat", "--server", &server, "--bind", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let out = Command::new(support::BIN).args(&args).output().expect("run nat");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// `serve` on 127.0.0.1:`port`.
fn on_port(port: u16, extra: &[&str]) -> Server {
    let port = port.to_string();
    let mut args = vec!["serve", "--bind", "127.0.0.1", "--port", &port, "--no-log-file"];
    args.extend_from_slice(extra);
    Server::start_args(&args, &std::env::temp_dir())
}

/// A server on fixed free ports, its second STUN port where the client looks for it (port + 1).
fn server_with_alt() -> Server {
    loop {
        let port = support::free_udp_port();
        if std::net::UdpSocket::bind(("127.0.0.1", port + 1)).is_ok() {
            return on_port(port, &[]);
        }
    }
}

#[test]
fn no_nat_on_loopback_in_plain_words() {
    let server = server_with_alt();
    let (code, out, err) = nat(server.addr, &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("no NAT: the server sees this machine's own address"), "{out}");
    assert!(!out.contains("desc=") && !out.contains("socket #"), "no tokens without --verbose: {out}");
    let (_, verbose, _) = nat(server.addr, &["--verbose"]);
    assert!(verbose.lines().any(|l| l.starts_with("nat mapping=independent preserves=yes")), "{verbose}");
    assert!(verbose.contains("answer: game socket -> server port"), "{verbose}");
    let (_, json, _) = nat(server.addr, &["--json"]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON object");
    assert_eq!(v["nat"], false, "{json}");
    assert_eq!(v["mapping"], "independent", "{json}");
}

#[test]
fn a_server_without_its_second_port_is_named() {
    let server = on_port(support::free_udp_port(), &["--alt-port", "0"]);
    let (code, out, err) = nat(server.addr, &[]);
    let alt = server.addr.port() + 1;
    assert_eq!(code, Some(1), "detection is partial: {out}{err}");
    assert!(
        out.contains(&format!("the server's second STUN port 127.0.0.1:{alt} did not answer"))
            && out.contains(&format!("open UDP port {alt}")),
        "{out}"
    );
    assert!(!out.contains("answered no STUN request"), "it answered on its main port: {out}");
}

#[test]
fn no_server_at_all_is_an_error_not_a_verdict() {
    let addr = format!("127.0.0.1:{}", support::free_udp_port()).parse().unwrap();
    let (code, out, err) = nat(addr, &[]);
    assert_eq!(code, Some(1));
    assert!(out.is_empty(), "no verdict: {out}");
    assert!(err.contains("answered no STUN request"), "{err}");
}
