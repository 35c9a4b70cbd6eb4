//! The floors: UDP echo servers that do nothing but send each datagram back to its sender. The
//! naive one does what a simple server does (one `recv_from`, one `send_to`); the batched one moves
//! up to 64 datagrams per `recvmmsg`/`sendmmsg`. Each runs as its own process, so its CPU time can
//! be read from /proc like the real server's. Both stop by themselves after `max_secs`.

use rhp_server::shell::batch::{RecvBatch, SendBatch};
use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Which echo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EchoMode {
    /// One recv_from and one send_to per datagram.
    Naive,
    /// recvmmsg/sendmmsg, up to 64 datagrams per call.
    Batch,
}

/// Binds `bind`, prints `listening on udp://ADDR` on stdout, echoes until `max_secs` have passed.
pub fn run(mode: EchoMode, bind: SocketAddr, max_secs: u64) -> io::Result<()> {
    let sock = UdpSocket::bind(bind)?;
    set_recv_buffer(&sock, 4 << 20);
    let mut out = io::stdout();
    writeln!(out, "listening on udp://{}", sock.local_addr()?)?;
    out.flush()?;
    let end = Instant::now() + Duration::from_secs(max_secs);
    match mode {
        EchoMode::Naive => naive(&sock, end),
        EchoMode::Batch => batched(&sock, end),
    }
}

/// The same receive buffer the server asks for by default, so neither side gains from it.
fn set_recv_buffer(sock: &UdpSocket, bytes: libc::c_int) {
    for opt in [libc::SO_RCVBUF, libc::SO_RCVBUFFORCE] {
        // SAFETY: setsockopt reads one c_int from a valid pointer.
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&bytes as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
}

fn naive(sock: &UdpSocket, end: Instant) -> io::Result<()> {
    sock.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut buf = [0u8; 2048];
    while Instant::now() < end {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                let _ = sock.send_to(&buf[..n], from);
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    Ok(())
}

fn batched(sock: &UdpSocket, end: Instant) -> io::Result<()> {
    sock.set_nonblocking(true)?;
    let fd = sock.as_raw_fd();
    let mut rx = RecvBatch::new(64, 2048);
    let mut tx = SendBatch::new(64, 2048);
    while Instant::now() < end {
        match rx.recv(fd) {
            Ok(n) => {
                for i in 0..n {
                    if let Some((data, Some(from))) = rx.get(i) {
                        tx.push(Some(from), data);
                    }
                }
                while !tx.is_empty() {
                    match tx.send(fd) {
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait(fd, libc::POLLOUT),
                        Err(_) => tx.skip_front(),
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait(fd, libc::POLLIN),
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    Ok(())
}

/// Blocks until `fd` has `events` (or 500 ms pass).
pub fn wait(fd: libc::c_int, events: libc::c_short) {
    let mut p = libc::pollfd { fd, events, revents: 0 };
    // SAFETY: one valid pollfd, count 1.
    unsafe { libc::poll(&mut p, 1, 500) };
}
