//! A datagram made safe for a log line (`rhp_proto::redact`): secrets hidden, the rest escaped.

use rhp_proto::redact::*;
use rhp_proto::relay::{Grant, ToServer, MAGIC};

fn r(data: &[u8]) -> String {
    Redacted(data).to_string()
}

#[test]
fn passwords_are_hidden_wherever_they_stand() {
    assert_eq!(r(b"h:Room:Alice:4:TopSecret9"), "h:Room:Alice:4:<redacted>");
    assert_eq!(r(b"c:Room:Bob:TopSecret9"), "c:Room:Bob:<redacted>");
    assert_eq!(r(b"c:Room:Bob:TopSecret9:x\n"), "c:Room:Bob:<redacted>:<redacted>");
    assert_eq!(r(b"h:Room:Alice:4:Top\xffSecret"), "h:Room:Alice:4:<redacted>");
    assert_eq!(r(b"h:Room:Alice:4"), "h:Room:Alice:4");
    assert_eq!(r(b"c:Room:Bob"), "c:Room:Bob");
}

#[test]
fn relay_tokens_and_payloads_are_hidden() {
    assert_eq!(r(b"r:0123456789abcdef:Alice:Bob"), "r:<redacted>:Alice:Bob");
    assert_eq!(r(b"r:Room:Alice"), "r:Room:Alice");
    let mut frame = vec![MAGIC, 0x01];
    frame.extend_from_slice(b"SECRETTK\x01PrivData");
    let line = r(&frame);
    assert!(!line.contains("SECRET") && !line.contains("PrivData"), "{line}");
    assert!(line.contains("0x01") && line.contains("19 bytes"), "{line}");
}

#[test]
fn also_tokens_are_hidden_in_the_answer_and_the_proof() {
    assert_eq!(r(b"v:0123456789ab"), "v:<redacted>");
    assert_eq!(r(b"v:Game:Alice:0123456789ab"), "v:Game:Alice:<redacted>");
    assert_eq!(r(b"v:Game:Alice:0123456789ab:junk"), "v:Game:Alice:<redacted>:<redacted>");
    assert_eq!(r(b"v:Game:Alice"), "v:Game:Alice");
    assert_eq!(r(b"v:ok"), "v:ok");
}

#[test]
fn the_rest_is_escaped_as_before() {
    assert_eq!(r(b"p:S:P\n2026 - forged"), "p:S:P\\n2026 - forged");
    assert_eq!(r(b"i:Alice:Bob"), "i:Alice:Bob");
    assert_eq!(r(b""), "");
    assert_eq!(r(b"no colon"), "no colon");
}

#[test]
fn parsed_frames_and_grants_hide_their_tokens_in_debug() {
    let grant = Grant { token: 0x1234_5678_9abc_def0, members: vec!["Alice".into()], relay_at: None };
    let shown = format!("{grant:?}");
    assert!(shown.contains(REDACTED) && shown.contains("Alice"), "{shown}");
    assert!(!shown.contains("1234") && !shown.contains("1311768467463790320"), "{shown}");
    for frame in [
        ToServer::Bind { token: 0x1234_5678_9abc_def0 },
        ToServer::Leave { token: 0x1234_5678_9abc_def0 },
        ToServer::Data { token: 0x1234_5678_9abc_def0, to: 1, payload: b"secret game data" },
    ] {
        let shown = format!("{frame:?}");
        assert!(shown.contains(REDACTED), "{shown}");
        assert!(!shown.contains("1311768467463790320") && !shown.contains("secret"), "{shown}");
    }
}
