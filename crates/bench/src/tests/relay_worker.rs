//! The relay worker's payloads ([`crate::relay_worker`]).

use crate::relay_worker::*;

#[test]
fn payloads_round_trip_and_any_changed_byte_is_caught() {
    let mut p = Vec::new();
    write_payload(&mut p, 42, 1234, 0, 200);
    assert_eq!(p.len(), 200);
    assert_eq!(check_payload(&p, 200), Some((42, 1234, 0)));
    assert_eq!(check_payload(&p, 201), None, "wrong length");
    for i in [0, 9, 17, 199] {
        let mut q = p.clone();
        q[i] ^= 1;
        assert_ne!(check_payload(&q, 200), Some((42, 1234, 0)), "byte {i}");
    }
    p[16] = 1;
    assert_eq!(check_payload(&p, 200), Some((42, 1234, 1)));
    p[16] = 2;
    assert_eq!(check_payload(&p, 200), None);
}
