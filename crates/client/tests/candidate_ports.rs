//! The candidate ports tried around a peer's reported port (`rhp_client::candidate_ports`).

use rhp_client::candidate_ports;

#[test]
fn window_is_reported_port_first_then_minus_then_plus() {
    let w = candidate_ports(5555);
    assert_eq!(w.len(), 17);
    assert_eq!(w[0], 5555);
    assert_eq!(&w[1..9], &[5547, 5548, 5549, 5550, 5551, 5552, 5553, 5554]);
    assert_eq!(&w[9..], &[5556, 5557, 5558, 5559, 5560, 5561, 5562, 5563]);
}

#[test]
fn window_skips_invalid_ports() {
    assert_eq!(candidate_ports(3), vec![3, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11]);
    let top = candidate_ports(65533);
    assert_eq!(top[0], 65533);
    assert_eq!(*top.last().unwrap(), 65535);
    assert_eq!(top.len(), 11);
}
