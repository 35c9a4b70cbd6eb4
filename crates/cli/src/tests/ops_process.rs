//! The process and socket figures ([`crate::ops::process`]).

use crate::ops::process::*;
use std::os::fd::AsFd;

#[test]
fn a_fresh_socket_has_no_drops() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let fds = Sockets::of(sock.as_fd(), None);
    assert_eq!(fds.drops(), KernelDrops { main: Some(0), alt: None });
}

#[test]
fn this_process_can_be_read() {
    let p = process_stats(0.0).expect("/proc/self readable");
    assert!(p.resident_bytes > 0 && p.open_fds > 0 && p.start_time_seconds > 1.0e9, "{p:?}");
}
