//! Batched UDP I/O on loopback (Linux): a batch goes out with `sendmmsg` and comes back through
//! `recvmmsg` with its sources.
#![cfg(target_os = "linux")]

use rhp_server::shell::batch::{RecvBatch, SendBatch};
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

#[test]
fn a_batch_goes_out_and_comes_back_with_its_sources() {
    let a = UdpSocket::bind("127.0.0.1:0").expect("bind a");
    let b = UdpSocket::bind("127.0.0.1:0").expect("bind b");
    let b_addr = b.local_addr().expect("b addr");
    let mut tx = SendBatch::new(8, 64);
    for i in 0..5u8 {
        assert!(tx.push(Some(b_addr), &[b'x', i]));
    }
    assert!(!tx.push(Some(b_addr), &[0; 65]), "too long for a slot");
    assert_eq!(tx.send(a.as_raw_fd()).expect("send"), 5);
    assert!(tx.is_empty());
    let mut rx = RecvBatch::new(4, 64);
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < 5 && Instant::now() < deadline {
        match rx.recv(b.as_raw_fd()) {
            Ok(n) => {
                assert!(n <= 4);
                for i in 0..n {
                    let (data, from) = rx.get(i).expect("in range");
                    assert_eq!(from, a.local_addr().ok());
                    got.push(data.to_vec());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => panic!("recv: {e}"),
        }
    }
    assert_eq!(got, (0..5u8).map(|i| vec![b'x', i]).collect::<Vec<_>>());
    assert!(rx.get(9).is_none());
    assert_eq!(rx.recv(b.as_raw_fd()).map_err(|e| e.kind()).err(), Some(io::ErrorKind::WouldBlock));
}
