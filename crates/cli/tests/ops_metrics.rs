//! Black-box: the operations endpoint of the real `rabid-hole-punch serve`. After a scripted
//! session (create, join, start with the relay, one refusal by a cap, one relayed frame) every
//! counter the script touched has exactly the expected value; the exposition passes `promtool
//! check metrics`; `/healthz` and `/readyz` answer 200 while serving and `/healthz` fails while the
//! engine loop is stalled (test hook); `--metrics off` serves nothing; a real Prometheus scrapes
//! it and its query for sessions returns the number the test created.

mod support;
use rhp_proto::relay::{Grant, ToServer};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::ops::{get, have, metrics_addr, poll_get, samples, skip_unless};
use support::{Peer, Server};

const WAIT: Duration = Duration::from_secs(5);

/// A server with its metrics endpoint on a free loopback port; returns it with that address.
fn server(extra: &[&str]) -> (Server, SocketAddr) {
    let mut args =
        vec!["serve", "--bind", "127.0.0.1", "--port", "0", "--no-log-file", "--metrics", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    server_env(&args, &[])
}

fn server_env(args: &[&str], env: &[(&str, &str)]) -> (Server, SocketAddr) {
    let srv = Server::start_args_env(args, &std::env::temp_dir(), env);
    let line = srv.wait_log("metrics on http://", WAIT).expect("the metrics address is logged");
    let addr = metrics_addr(&line);
    (srv, addr)
}

/// The first relay frame from `server` on `sock` within `within`.
fn recv_frame(sock: &UdpSocket, server: SocketAddr, within: Duration) -> Option<Vec<u8>> {
    let end = Instant::now() + within;
    let mut buf = vec![0u8; 4096];
    loop {
        let left = end.checked_duration_since(Instant::now())?;
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1)))).ok()?;
        let (n, src) = sock.recv_from(&mut buf).ok()?;
        if src == server && rhp_proto::relay::is_frame(&buf[..n]) {
            return Some(buf[..n].to_vec());
        }
    }
}

/// Sends `text` from `p` and adds its length to `bytes`.
fn send(p: &Peer, text: &str, bytes: &mut u64) {
    p.send(text);
    *bytes += text.len() as u64;
}

#[test]
fn counters_after_a_scripted_session_have_exactly_the_expected_values() {
    let (srv, http) = server(&["--max-sessions", "1"]);
    let mut bytes_in = 0u64;
    let alice = srv.peer();
    let bob = srv.peer();
    send(&alice, "h:Room:Alice:2", &mut bytes_in);
    alice.expect("i:Alice");
    send(&bob, "c:Room:Bob", &mut bytes_in);
    alice.expect("i:Alice:Bob");
    bob.expect("i:Alice:Bob");
    let intruder = srv.peer();
    send(&intruder, "h:Other:Eve:2", &mut bytes_in);
    intruder.expect("error:too_many_sessions");
    send(&alice, "r:Room:Alice", &mut bytes_in);
    send(&bob, "r:Room:Bob", &mut bytes_in);
    alice.expect_silence(Duration::from_millis(200));
    send(&alice, "s:Room:Alice", &mut bytes_in);
    let mut grants: Vec<Grant> = Vec::new();
    let mut buf = vec![0u8; 4096];
    for p in [&alice, &bob] {
        p.sock.set_read_timeout(Some(WAIT)).expect("timeout");
        let (n, _) = p.sock.recv_from(&mut buf).expect("the grant");
        grants.push(Grant::parse(&buf[..n]).expect("the grant first"));
    }
    send(&alice, "y:Room:Alice", &mut bytes_in);
    send(&bob, "y:Room:Bob", &mut bytes_in);
    // One relayed frame, Alice (index 0) to Bob (index 1).
    let mut frame = Vec::new();
    ToServer::Data { token: grants[0].token, to: 1, payload: b"hello" }.write_to(&mut frame);
    alice.send_bytes(&frame);
    bytes_in += frame.len() as u64;
    assert!(recv_frame(&bob.sock, srv.addr, WAIT).is_some(), "Bob gets the relayed frame");

    // The session is deleted after its start rounds; wait (bounded) for that, then read.
    let (_, body) = poll_get(http, "/metrics", WAIT, |_, b| {
        let m = samples(b);
        m.get("rhp_sessions{phase=\"starting\"}") == Some(&0.0)
            && m.get("rhp_sessions{phase=\"open\"}") == Some(&0.0)
    })
    .expect("metrics");
    let m = samples(&body);
    let expect = |key: &str, want: f64| {
        assert_eq!(m.get(key), Some(&want), "{key} in\n{body}");
    };
    for (kind, n) in [("host", 2.0), ("connect", 1.0), ("relay", 2.0), ("start", 1.0), ("confirm", 2.0)] {
        expect(&format!("rhp_requests_total{{kind=\"{kind}\"}}"), n);
    }
    for kind in ["ping", "kick", "exit", "nat", "invalid", "unknown", "private", "also"] {
        expect(&format!("rhp_requests_total{{kind=\"{kind}\"}}"), 0.0);
    }
    expect("rhp_refusals_total{cap=\"sessions\"}", 1.0);
    for cap in ["create_rate", "sessions_per_ip", "players"] {
        expect(&format!("rhp_refusals_total{{cap=\"{cap}\"}}"), 0.0);
    }
    expect("rhp_error_replies_total{code=\"too_many_sessions\"}", 1.0);
    let errors: f64 =
        m.iter().filter(|(k, _)| k.starts_with("rhp_error_replies_total")).map(|(_, v)| v).sum();
    assert_eq!(errors, 1.0, "one error reply in all");
    expect("rhp_datagrams_received_total", 9.0);
    expect("rhp_received_bytes_total", bytes_in as f64);
    expect("rhp_stun_requests_total{port=\"main\"}", 0.0);
    expect("rhp_relay_sessions_created_total", 1.0);
    expect("rhp_relay_sessions", 1.0);
    expect("rhp_relay_members", 2.0);
    expect("rhp_relay_grants_total", 2.0);
    expect("rhp_relay_frames_received_total", 1.0);
    expect("rhp_relay_received_bytes_total", frame.len() as f64);
    expect("rhp_relay_frames_forwarded_total", 1.0);
    expect("rhp_relay_forwarded_bytes_total", (frame.len() - 8) as f64);
    expect("rhp_start_duration_seconds_count", 1.0);
    expect("rhp_players", 0.0);
    expect("rhp_engine_up", 1.0);
    assert!(
        m.get("rhp_datagrams_sent_total").is_some_and(|v| *v >= 9.0),
        "3 i: lists, the refusal, 2 grants, 2 start messages, the frame (more if a start round \
         went out before a y: arrived)"
    );
    assert!(m.get("process_resident_memory_bytes").is_some_and(|v| *v > 0.0));
    assert!(m.get("process_open_fds").is_some_and(|v| *v > 0.0));
    assert!(m.keys().any(|k| k.starts_with("rhp_build_info{version=\"")));
    assert!(m.contains_key("rhp_kernel_receive_drops_total{socket=\"main\"}"));
}

#[test]
fn promtool_finds_nothing_to_say_about_the_exposition() {
    if skip_unless(have("promtool"), "promtool (Debian package prometheus)") {
        return;
    }
    let (srv, http) = server(&[]);
    let p = srv.peer();
    p.send("h:Lint:Alice:2");
    p.expect("i:Alice");
    let (_, body) = get(http, "/metrics").expect("GET /metrics");
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    use std::io::Write;
    child.stdin.take().expect("stdin").write_all(body.as_bytes()).expect("feed promtool");
    let out = child.wait_with_output().expect("promtool ends");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool said: {said}");
}

#[test]
fn health_and_readiness_answer_and_healthz_fails_while_the_loop_is_stalled() {
    let args = ["serve", "--bind", "127.0.0.1", "--port", "0", "--no-log-file", "--metrics", "127.0.0.1:0"];
    let (srv, http) = server_env(&args, &[("RHP_TEST_HOOKS", "1")]);
    // The endpoint may answer before the loop's first turn (503 then): poll, bounded.
    let first = poll_get(http, "/healthz", WAIT, |code, _| code == 200);
    assert_eq!(first.map(|a| a.0), Some(200));
    let (code, body) = get(http, "/readyz").expect("GET /readyz");
    assert_eq!((code, body.as_str()), (200, "udp_sockets_bound ok\n"));
    assert_eq!(get(http, "/nothing").map(|a| a.0), Some(404));
    let healthcheck = |addr: SocketAddr| {
        Command::new(support::BIN)
            .args(["healthcheck", "--addr", &addr.to_string()])
            .stdout(Stdio::null())
            .status()
            .expect("run healthcheck")
            .success()
    };
    assert!(healthcheck(http), "healthcheck passes while serving");
    // Idle for more than a second: the loop still turns (it wakes on its own), so still healthy.
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(get(http, "/healthz").map(|a| a.0), Some(200), "an idle loop is healthy");
    srv.signal("USR1");
    let stalled = poll_get(http, "/healthz", Duration::from_secs(3), |code, _| code == 503);
    assert_eq!(
        stalled.as_ref().map(|a| a.0),
        Some(503),
        "healthz fails while the loop is stalled: {stalled:?}"
    );
    assert!(!healthcheck(http), "healthcheck fails while the loop is stalled");
    // A scrape still answers (the endpoint has its own thread), without the engine's figures.
    let (code, body) = get(http, "/metrics").expect("GET /metrics while stalled");
    assert_eq!(code, 200);
    let m = samples(&body);
    assert_eq!(m.get("rhp_engine_up"), Some(&0.0), "{body}");
    assert!(!m.contains_key("rhp_players") && m.contains_key("process_open_fds"));
    assert_eq!(get(http, "/readyz").map(|a| a.0), Some(200), "still ready: the sockets are bound");
    let back = poll_get(http, "/healthz", Duration::from_secs(6), |code, _| code == 200);
    assert_eq!(back.map(|a| a.0), Some(200), "healthy again once the loop turns");
}

#[test]
fn metrics_off_starts_no_endpoint_and_an_explicit_taken_address_stops_the_server() {
    let srv = Server::start(&["--metrics", "off"]);
    assert!(srv.wait_log("metrics endpoint off", WAIT).is_some());
    drop(srv);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = Command::new(support::BIN)
        .args(["serve", "--bind", "127.0.0.1", "--port", "0", "--no-log-file", "--metrics", &addr])
        .output()
        .expect("run serve");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen for metrics"));
}

/// A TCP port that was free a moment ago on loopback.
fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A child process killed (by its PID) when dropped.
struct Owned(std::process::Child);

impl Drop for Owned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_real_prometheus_scrapes_it_and_counts_the_sessions_created() {
    if skip_unless(have("prometheus"), "prometheus (Debian package prometheus)") {
        return;
    }
    let (srv, http) = server(&[]);
    const SESSIONS: usize = 3;
    let mut hosts = Vec::new();
    for i in 0..SESSIONS {
        let p = srv.peer();
        p.send(&format!("h:Prom{i}:Host:4"));
        p.expect("i:Host");
        hosts.push(p);
    }
    let dir = support::temp_dir("prometheus");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: rhp\n    static_configs:\n      - targets: ['{http}']\n"
        ),
    )
    .expect("write prometheus.yml");
    let port = free_tcp_port();
    let web: SocketAddr = ([127, 0, 0, 1], port).into();
    let _prom = Owned(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    // Keep the players alive while Prometheus starts (pings every second).
    let end = Instant::now() + Duration::from_secs(60);
    let mut up = None;
    let mut sessions = None;
    while Instant::now() < end && (up.is_none() || sessions.is_none()) {
        for (i, p) in hosts.iter().enumerate() {
            p.send(&format!("p:Prom{i}:Host"));
        }
        if up.is_none() {
            if let Some((200, body)) = get(web, "/api/v1/targets") {
                let v: serde_json::Value = serde_json::from_str(&body).expect("targets JSON");
                let target = &v["data"]["activeTargets"][0];
                if target["health"] == "up" {
                    up = Some(target["scrapeUrl"].as_str().unwrap_or_default().to_owned());
                }
            }
        }
        if up.is_some() {
            if let Some((200, body)) = get(web, "/api/v1/query?query=sum(rhp_sessions)") {
                let v: serde_json::Value = serde_json::from_str(&body).expect("query JSON");
                if let Some(value) = v["data"]["result"][0]["value"][1].as_str() {
                    if value == SESSIONS.to_string() {
                        sessions = Some(body.clone());
                    } else {
                        eprintln!("sum(rhp_sessions) = {value} so far");
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let url = up.expect("Prometheus reports the target up within 60 s");
    assert_eq!(url, format!("http://{http}/metrics"));
    let answer = sessions.expect("sum(rhp_sessions) reaches the sessions created within 60 s");
    eprintln!("Prometheus: sum(rhp_sessions) -> {answer}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_and_hostile_http_requests_do_not_hurt_the_server() {
    use std::io::{Read, Write};
    let (srv, http) = server(&[]);
    let raw = |bytes: &[u8]| {
        let Ok(mut s) = std::net::TcpStream::connect(http) else { return String::new() };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = s.write_all(bytes);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    };
    let huge_header = format!("GET /metrics HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n", "a".repeat(1 << 20));
    for request in [
        b"\x00\xff\xfe garbage\r\n\r\n".to_vec(),
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
        b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        b"GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n".to_vec(),
        huge_header.into_bytes(),
        Vec::new(),
    ] {
        let answer = raw(&request);
        let shown = String::from_utf8_lossy(&request[..request.len().min(60)]).into_owned();
        assert!(!answer.starts_with("HTTP/1.1 200"), "{shown:?} -> {answer:?}");
    }
    // Idle connections do not keep others from being served.
    let idle: Vec<_> = (0..8).filter_map(|_| std::net::TcpStream::connect(http).ok()).collect();
    assert_eq!(get(http, "/healthz").map(|a| a.0), Some(200));
    drop(idle);
    let p = srv.peer();
    p.send("h:Still:Alice:2");
    p.expect("i:Alice");
    assert_eq!(get(http, "/metrics").map(|a| a.0), Some(200));
}

#[test]
fn serve_help_documents_the_operations_flags_and_healthcheck_exists() {
    let out = Command::new(support::BIN).args(["serve", "--help"]).output().expect("serve --help");
    let help = String::from_utf8_lossy(&out.stdout);
    for needed in
        ["--metrics <ADDR>", "`off`", "127.0.0.1:9775", "/healthz", "/readyz", "--log-format", "json"]
    {
        assert!(help.contains(needed), "{needed} in serve --help:\n{help}");
    }
    let out =
        Command::new(support::BIN).args(["healthcheck", "--help"]).output().expect("healthcheck --help");
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("--addr"));
    // Nothing listens on a fresh port: unhealthy, exit 1.
    let port = free_tcp_port();
    let status = Command::new(support::BIN)
        .args(["healthcheck", "--addr", &format!("127.0.0.1:{port}"), "--timeout-s", "2"])
        .stdout(Stdio::null())
        .status()
        .expect("healthcheck");
    assert_eq!(status.code(), Some(1));
}
