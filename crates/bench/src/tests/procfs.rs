//! Reading a process's figures from /proc ([`crate::procfs`]).

use crate::procfs::*;
use std::net::SocketAddrV4;

#[test]
fn reads_its_own_process() {
    let me = std::process::id();
    let mut x = 0u64;
    for i in 0..2_000_000u64 {
        x = x.wrapping_mul(31).wrapping_add(i);
    }
    assert!(x != 1);
    assert!(cpu_us(me).is_some());
    assert!(status_bytes(me, "VmRSS").is_some_and(|b| b > 0));
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let std::net::SocketAddr::V4(addr) = sock.local_addr().expect("addr") else { panic!("not v4") };
    assert_eq!(udp_drops(addr), Some(0));
    assert_eq!(udp_drops(SocketAddrV4::new([127, 0, 0, 2].into(), addr.port())), None);
}
