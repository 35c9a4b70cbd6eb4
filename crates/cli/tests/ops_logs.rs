//! Black-box: `serve --log-format json` writes one JSON object a line, with the same fields as
//! the text line (`time - name - LEVEL - message`): `timestamp`, `target` (whose first path
//! segment is the text's name), `level`, `message`; the same run logs the same lines in both
//! formats (numbers such as ports aside).

mod support;
use std::time::Duration;
use support::Server;

const WAIT: Duration = Duration::from_secs(5);

/// Every stderr line of a server run after its `listening on` line: one session, one refusal,
/// SIGTERM, exit.
fn run(format: &str) -> Vec<String> {
    let mut srv = Server::start(&["--log-format", format, "--metrics", "off", "--max-sessions", "1"]);
    let p = srv.peer();
    p.send("h:Logs:Alice:2");
    p.expect("i:Alice");
    let q = srv.peer();
    q.send("h:More:Bob:2");
    q.expect("error:too_many_sessions");
    srv.signal("TERM");
    assert_eq!(srv.wait_exit(WAIT), Some(0));
    let mut lines = Vec::new();
    while let Ok(line) = srv.log.recv_timeout(Duration::from_millis(500)) {
        lines.push(line);
    }
    lines
}

/// (name, level, message with every digit as #) — what both formats must agree on.
type Fields = (String, String, String);

fn mask(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).collect()
}

#[test]
fn json_lines_parse_and_carry_the_text_lines_fields() {
    let text = run("text");
    let json = run("json");
    assert!(json.len() >= 6, "the lines after listening on: a session, a refusal and a stop: {json:#?}");
    let mut from_json: Vec<Fields> = Vec::new();
    for line in &json {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
        let obj = v.as_object().unwrap_or_else(|| panic!("not an object: {line:?}"));
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["level", "message", "target", "timestamp"], "{line}");
        let ts = obj["timestamp"].as_str().unwrap_or_default();
        assert!(ts.len() >= 20 && ts.ends_with('Z') && ts.contains('T'), "RFC 3339 UTC timestamp: {line}");
        let target = obj["target"].as_str().unwrap_or_default();
        let name = target.split("::").next().unwrap_or_default().to_owned();
        from_json.push((
            name,
            obj["level"].as_str().unwrap_or_default().to_owned(),
            mask(obj["message"].as_str().unwrap_or_default()),
        ));
    }
    let mut from_text: Vec<Fields> = Vec::new();
    for line in &text {
        let parts: Vec<&str> = line.splitn(4, " - ").collect();
        assert_eq!(parts.len(), 4, "time - name - LEVEL - message: {line:?}");
        assert!(parts[0].ends_with('Z'), "{line}");
        from_text.push((parts[1].to_owned(), parts[2].to_owned(), mask(parts[3])));
    }
    assert_eq!(from_json, from_text, "the same lines in both formats");
    assert!(from_json.iter().any(|(_, level, m)| level == "WARN" && m.contains("too_many_sessions")));
}

#[test]
fn an_unknown_log_format_is_refused() {
    let out = std::process::Command::new(support::BIN)
        .args(["serve", "--log-format", "xml", "--no-log-file"])
        .output()
        .expect("run serve");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--log-format"));
}
