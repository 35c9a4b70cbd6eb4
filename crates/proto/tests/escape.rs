//! A datagram escaped for a log line (`rhp_proto::escape`).

use rhp_proto::escape::Escaped;

#[test]
fn nothing_unprintable_survives() {
    let s = Escaped(b"p:S:P\n2026 - rhp - INFO - forged\r\x1b[31m\xff\xc3\xa9").to_string();
    assert_eq!(s, "p:S:P\\n2026 - rhp - INFO - forged\\r\\u{1b}[31m\\xff\\u{e9}");
    assert!(s.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
}
