//! The `--stream` load ([`crate::stream`]): its shape and its datagrams.

use crate::stream::*;

#[test]
fn shapes_parse_within_bounds() {
    assert_eq!(parse("30:200:30"), Ok(Stream { pps: 30, bytes: 200, secs: 30 }));
    for bad in ["", "30:200", "0:200:1", "30:20:1", "30:2000:1", "30:200:0", "a:b:c", "1:32:1:1"] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn datagrams_carry_their_sequence_and_send_time() {
    let d = datagram(42, 200);
    assert_eq!(d.len(), 200);
    let (seq, lat) = read(&d).unwrap();
    assert_eq!(seq, 42);
    assert!(lat < 1_000_000);
    assert_eq!(read(b"hello"), None);
}
