//! The tokio shell: owns the UDP socket and reads the clock; everything else is the engine's.
//!
//! One loop ([`driver`]): wait for the first of a datagram, the engine's next deadline, or
//! shutdown; feed the engine with `Instant::now()`; drain its datagrams onto the socket each names.
//! I/O errors are logged and the loop goes on; nothing here panics on what the network does. DEBUG
//! logs every datagram in and out, escaped and with its secrets (passwords, relay tokens and
//! payloads) redacted.
//!
//! An optional alternate socket ([`run_with_alt`], the engine's [`crate::ALT`]) answers STUN
//! Binding requests only, from that socket (so a client can compare the mappings towards two
//! ports); it shares the engine and its budget. Several bound addresses ([`run_pairs`]) each get
//! such a pair of sockets, all feeding the one engine.
//!
//! On Linux the loop reads and writes the main socket in batches ([`ShellOptions::io_batch`]
//! datagrams per `recvmmsg`/`sendmmsg`, see [`batch`]; `batched` against `single`): under load one system call carries many datagrams, which
//! is where a UDP server spends most of its CPU. The socket's kernel buffers are set by
//! [`bind_with`]; a large receive buffer absorbs start storms (issue #10 measures both).
//!
//! [`run_serving`] adds a [`monitor::Monitor`]: at each turn the loop records a heartbeat (for a
//! health check), feeds a watchdog and answers snapshot requests (for metrics) between two events,
//! so the datagram path does no extra work for them.

#[cfg(target_os = "linux")]
pub mod batch;
#[cfg(target_os = "linux")]
mod batched;
mod driver;
pub mod monitor;
mod single;
#[cfg(target_os = "linux")]
pub mod socket_batch;

use crate::engine::Engine;
use crate::store::SessionStore;
use driver::Sockets;
pub use driver::{Reconfigure, MAX_PAIRS};
use monitor::Monitor;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use tokio::net::UdpSocket;
use tracing::debug;

/// How the shell does its I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShellOptions {
    /// Most datagrams per receive or send system call (Linux: `recvmmsg`/`sendmmsg`). 1 means one
    /// `recv_from`/`send_to` per datagram (the only mode elsewhere).
    pub io_batch: usize,
}

impl Default for ShellOptions {
    fn default() -> ShellOptions {
        ShellOptions { io_batch: 32 }
    }
}

/// Kernel socket buffer sizes to ask for; 0 leaves the kernel's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketOptions {
    /// SO_RCVBUF in bytes: datagrams that arrive while the server is busy wait here; when it is
    /// full the kernel drops them.
    pub recv_buffer: usize,
    /// SO_SNDBUF in bytes.
    pub send_buffer: usize,
}

impl Default for SocketOptions {
    fn default() -> SocketOptions {
        SocketOptions { recv_buffer: 4 << 20, send_buffer: 4 << 20 }
    }
}

/// Serves `engine` on `socket` until `shutdown` completes, with the default [`ShellOptions`].
pub async fn run<S: SessionStore>(socket: UdpSocket, engine: Engine<S>, shutdown: impl Future<Output = ()>) {
    run_with(socket, engine, shutdown, ShellOptions::default()).await
}

/// Serves `engine` on `socket` until `shutdown` completes. Returns only then.
pub async fn run_with<S: SessionStore>(
    socket: UdpSocket,
    engine: Engine<S>,
    shutdown: impl Future<Output = ()>,
    options: ShellOptions,
) {
    run_with_alt(socket, None, engine, shutdown, options).await
}

/// Serves `engine` on `socket`, and STUN on `alt` if given, until `shutdown` completes.
pub async fn run_with_alt<S: SessionStore>(
    socket: UdpSocket,
    alt: Option<UdpSocket>,
    engine: Engine<S>,
    shutdown: impl Future<Output = ()>,
    options: ShellOptions,
) {
    run_serving(socket, alt, engine, shutdown, options, None, Monitor::none()).await
}

/// [`run_with_alt`], taking new configurations from `reconfigure` while it runs, and with a
/// [`Monitor`]: the loop records a heartbeat, feeds the monitor's watchdog and answers its
/// snapshot requests between events (see [`monitor`]).
#[allow(clippy::too_many_arguments)]
pub async fn run_serving<S: SessionStore>(
    socket: UdpSocket,
    alt: Option<UdpSocket>,
    engine: Engine<S>,
    shutdown: impl Future<Output = ()>,
    options: ShellOptions,
    reconfigure: Option<Reconfigure>,
    monitor: Monitor,
) {
    run_pairs(vec![(socket, alt)], engine, shutdown, options, reconfigure, monitor).await
}

/// [`run_serving`] on several bound addresses (`--bind` with a list): one pair of sockets each, a
/// main socket and an optional alternate STUN one. Pair `k`'s sockets are `SocketId(2k)` and
/// `SocketId(2k + 1)` for the engine, so a STUN answer leaves from the socket its request came
/// in on; every other reply leaves from the main socket its receiver last sent from (by default
/// the first of its address family). The first pair's main socket is read and written in
/// batches, the others one datagram at a time. At most [`MAX_PAIRS`] pairs are served (the rest
/// are ignored); with none, returns at once.
pub async fn run_pairs<S: SessionStore>(
    pairs: Vec<(UdpSocket, Option<UdpSocket>)>,
    engine: Engine<S>,
    shutdown: impl Future<Output = ()>,
    options: ShellOptions,
    reconfigure: Option<Reconfigure>,
    monitor: Monitor,
) {
    let Some(sockets) = Sockets::new(pairs) else { return };
    #[cfg(target_os = "linux")]
    if options.io_batch > 1 {
        let io = batched::Batched::new(options.io_batch);
        return driver::serve(sockets, io, engine, shutdown, reconfigure, monitor).await;
    }
    let _ = options;
    driver::serve(sockets, single::Single::new(), engine, shutdown, reconfigure, monitor).await
}

/// Binds a UDP socket on `addr` (for the caller to log its actual address and pass to [`run`]),
/// with the kernel's default buffers (`[::]`: dual-stack, as [`bind_with`]).
pub async fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let zero = SocketOptions { recv_buffer: 0, send_buffer: 0 };
    bind_with(addr, &zero).await.map(|(socket, _)| socket)
}

/// The kernel buffer sizes a socket got (as the kernel reports them: Linux doubles the request
/// for its bookkeeping and caps it at `net.core.rmem_max`/`wmem_max` unless privileged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferSizes {
    /// SO_RCVBUF as read back.
    pub recv: usize,
    /// SO_SNDBUF as read back.
    pub send: usize,
}

/// Binds a UDP socket on `addr` with the buffer sizes of `options`. Where the system caps them
/// below the request, a privileged process gets them anyway (SO_RCVBUFFORCE/SO_SNDBUFFORCE on
/// Linux); otherwise the cap stands. Must run inside the tokio runtime.
///
/// `[::]` (the IPv6 unspecified address) binds one dual-stack socket: IPV6_V6ONLY is turned off,
/// so it serves IPv4 and IPv6 alike (the shell turns the IPv4-mapped senders back into plain IPv4
/// before the engine sees them). Any other IPv6 address serves that address only.
pub async fn bind_with(addr: SocketAddr, options: &SocketOptions) -> io::Result<(UdpSocket, BufferSizes)> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if options.recv_buffer > 0 {
        socket.set_recv_buffer_size(options.recv_buffer)?;
        if socket.recv_buffer_size()? < options.recv_buffer {
            force_buffer(&socket, true, options.recv_buffer);
        }
    }
    if options.send_buffer > 0 {
        socket.set_send_buffer_size(options.send_buffer)?;
        if socket.send_buffer_size()? < options.send_buffer {
            force_buffer(&socket, false, options.send_buffer);
        }
    }
    if addr.ip() == std::net::Ipv6Addr::UNSPECIFIED {
        socket.set_only_v6(false)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    let sizes = BufferSizes { recv: socket.recv_buffer_size()?, send: socket.send_buffer_size()? };
    let socket = UdpSocket::from_std(socket.into())?;
    Ok((socket, sizes))
}

/// Asks for a buffer beyond the system cap; allowed only with CAP_NET_ADMIN, silently kept as is
/// otherwise.
#[cfg(target_os = "linux")]
fn force_buffer(socket: &socket2::Socket, recv: bool, bytes: usize) {
    use std::os::fd::AsRawFd;
    let option = if recv { libc::SO_RCVBUFFORCE } else { libc::SO_SNDBUFFORCE };
    let value: libc::c_int = bytes.min(libc::c_int::MAX as usize) as libc::c_int;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a valid c_int on the stack.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        debug!("cannot raise the socket buffer past the system cap: {}", io::Error::last_os_error());
    }
}

#[cfg(not(target_os = "linux"))]
fn force_buffer(_socket: &socket2::Socket, _recv: bool, _bytes: usize) {}
