//! The tokio shell: owns the UDP socket and reads the clock; everything else is the engine's.
//!
//! Loop: wait for the first of a datagram, the engine's next deadline, or shutdown; feed the engine
//! with `Instant::now()`; drain its datagrams onto the socket. I/O errors are logged and the loop
//! goes on; nothing here panics on what the network does. DEBUG logs every datagram in and out,
//! escaped and with its secrets (passwords, relay tokens and payloads) redacted.
//!
//! An optional alternate socket ([`run_with_alt`]) answers STUN Binding requests only, from that
//! socket (so a client can compare the mappings towards two ports); it is read one datagram at a
//! time (its traffic is small) beside the main socket, and shares the engine and its budget.
//!
//! On Linux the loop reads and writes in batches ([`ShellOptions::io_batch`] datagrams per
//! `recvmmsg`/`sendmmsg`, see [`batch`]): under load one system call carries many datagrams, which
//! is where a UDP server spends most of its CPU. The socket's kernel buffers are set by
//! [`bind_with`]; a large receive buffer absorbs start storms (issue #10 measures both).
//!
//! [`run_serving`] adds a [`monitor::Monitor`]: at each turn the loop records a heartbeat (for a
//! health check), feeds a watchdog and answers snapshot requests (for metrics) between two events,
//! so the datagram path does no extra work for them.

#[cfg(target_os = "linux")]
pub mod batch;
pub mod monitor;

use crate::engine::{Engine, ALT};
use crate::escape::Redacted;
use crate::store::SessionStore;
use monitor::Monitor;
use rhp_io::{SocketId, Transmit};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tracing::{debug, enabled, info, warn, Level};

/// Bytes read per datagram. Anything longer than a request can be is invalid anyway, so a larger
/// datagram is read truncated and answered `error:invalid_request`. A relay frame is forwarded
/// only whole: buffers hold one byte more, and a frame that fills them is dropped (relay payloads
/// up to `RECV_BUF - 11` bytes pass).
const RECV_BUF: usize = 2048;

/// Whether `data` (read into a buffer of `RECV_BUF + 1` bytes) is a relay frame that was longer
/// than `RECV_BUF`, so cut: never forwarded.
fn truncated_frame(data: &[u8]) -> bool {
    if data.len() > RECV_BUF && rhp_proto::relay::is_frame(data) {
        debug!("relay frame of more than {RECV_BUF} bytes dropped");
        return true;
    }
    false
}

/// Largest datagram a send batch slot holds; a longer one (none the engine writes today) is sent
/// on its own.
#[cfg(target_os = "linux")]
const SEND_SLOT: usize = 2048;

/// Receive batches handled per wake-up before timers get their turn again.
#[cfg(target_os = "linux")]
const BATCHES_PER_WAKE: usize = 16;

/// How long to back off after a failed receive, so a persistent socket error cannot spin the CPU.
const RECV_ERROR_PAUSE: Duration = Duration::from_millis(10);

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

/// New engine configurations for a running shell (the CLI sends one per SIGHUP); each is given to
/// [`Engine::reconfigure`] between two datagrams, so no session or player is lost.
pub type Reconfigure = tokio::sync::mpsc::UnboundedReceiver<crate::Config>;

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
    #[cfg(target_os = "linux")]
    if options.io_batch > 1 {
        return run_batched(socket, alt, engine, shutdown, options.io_batch, reconfigure, monitor).await;
    }
    let _ = options;
    run_single(socket, alt, engine, shutdown, reconfigure, monitor).await
}

/// The next configuration sent; never, once the sender is gone (or without one).
async fn next_config(rx: &mut Option<Reconfigure>) -> crate::Config {
    if let Some(r) = rx.as_mut() {
        if let Some(config) = r.recv().await {
            return config;
        }
    }
    *rx = None;
    std::future::pending().await
}

/// The next datagram on the alternate socket; never, without one.
async fn recv_alt(alt: Option<&UdpSocket>, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    match alt {
        Some(socket) => socket.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

/// Hands one datagram from the alternate socket to the engine (its answers leave from there).
async fn on_alt<S: SessionStore>(
    engine: &mut Engine<S>,
    received: io::Result<(usize, SocketAddr)>,
    rx: &[u8],
) {
    match received {
        Ok((n, from)) => {
            let data = rx.get(..n).unwrap_or(rx);
            log_in(from, data);
            engine.handle_datagram(Instant::now(), ALT, from, data);
        }
        Err(e) => {
            warn!("receive on the alternate port failed: {e}");
            tokio::time::sleep(RECV_ERROR_PAUSE).await;
        }
    }
}

/// Sends one transmit from the socket it names; a failed send is logged and skipped.
async fn send_one(socket: &UdpSocket, alt: Option<&UdpSocket>, tx: &Transmit) {
    let socket = if tx.via == SocketId::MAIN { Some(socket) } else { alt };
    let Some(socket) = socket else { return };
    if let Err(e) = socket.send_to(&tx.data, tx.to).await {
        warn!("send to {} from {} failed: {e}", tx.to, tx.via);
    }
}

/// The loop with one `recv_from` per datagram received and one `send_to` per datagram sent.
async fn run_single<S: SessionStore>(
    socket: UdpSocket,
    alt: Option<UdpSocket>,
    mut engine: Engine<S>,
    shutdown: impl Future<Output = ()>,
    mut reconfigure: Option<Reconfigure>,
    mut monitor: Monitor,
) {
    tokio::pin!(shutdown);
    let mut alt_rx = vec![0u8; RECV_BUF];
    let mut rx = vec![0u8; RECV_BUF + 1];
    let mut tx = Transmit::empty();
    loop {
        // Fire due timers first: under a steady stream of datagrams the receive branch is always
        // ready, and the timers must not starve behind it.
        let now = Instant::now();
        monitor.turn(now, || engine.snapshot());
        if engine.poll_timeout().is_some_and(|d| d <= now) {
            engine.handle_timeout(now);
            send_all(&socket, alt.as_ref(), &mut engine, &mut tx).await;
        }
        let deadline = monitor.wake_by(next_wake(&engine), now);
        tokio::select! {
            biased;
            () = &mut shutdown => {
                info!("shutting down");
                return;
            }
            // Before the datagrams: a reload takes effect before the requests that follow it.
            config = next_config(&mut reconfigure) => {
                engine.reconfigure(config);
            }
            Some(request) = monitor.request() => monitor::answer(request, || engine.snapshot()),
            received = socket.recv_from(&mut rx) => match received {
                Ok((n, from)) => {
                    let data = rx.get(..n).unwrap_or(&rx[..]);
                    log_in(from, data);
                    if !truncated_frame(data) {
                        engine.handle_datagram(Instant::now(), SocketId::MAIN, from, data);
                    }
                }
                Err(e) => {
                    warn!("receive failed: {e}");
                    tokio::time::sleep(RECV_ERROR_PAUSE).await;
                }
            },
            received = recv_alt(alt.as_ref(), &mut alt_rx) => {
                on_alt(&mut engine, received, &alt_rx).await;
            }
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                engine.handle_timeout(Instant::now());
            }
        }
        send_all(&socket, alt.as_ref(), &mut engine, &mut tx).await;
    }
}

/// With no timer armed, wake once a day anyway (harmless: an early timeout is a no-op).
fn next_wake<S: SessionStore>(engine: &Engine<S>) -> Instant {
    engine.poll_timeout().unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400))
}

fn log_in(from: SocketAddr, data: &[u8]) {
    if enabled!(Level::DEBUG) {
        debug!("in  {from} {} bytes: {}", data.len(), Redacted(data));
    }
}

fn log_out(to: SocketAddr, data: &[u8]) {
    if enabled!(Level::DEBUG) {
        debug!("out {to} {} bytes: {}", data.len(), Redacted(data));
    }
}

/// Sends every datagram the engine has queued; a failed send is logged and skipped.
async fn send_all<S: SessionStore>(
    socket: &UdpSocket,
    alt: Option<&UdpSocket>,
    engine: &mut Engine<S>,
    tx: &mut Transmit,
) {
    while engine.poll_transmit(tx) {
        log_out(tx.to, &tx.data);
        send_one(socket, alt, tx).await;
    }
}

/// The loop with `recvmmsg`/`sendmmsg`: up to `n` datagrams per system call each way. The engine
/// sees the same datagrams in the same order; only the replies wait for the end of their batch.
#[cfg(target_os = "linux")]
async fn run_batched<S: SessionStore>(
    socket: UdpSocket,
    alt: Option<UdpSocket>,
    mut engine: Engine<S>,
    shutdown: impl Future<Output = ()>,
    n: usize,
    mut reconfigure: Option<Reconfigure>,
    mut monitor: Monitor,
) {
    use batch::{RecvBatch, SendBatch};
    use std::os::fd::AsRawFd;
    use tokio::io::Interest;

    tokio::pin!(shutdown);
    let fd = socket.as_raw_fd();
    let mut rx = RecvBatch::new(n, RECV_BUF + 1);
    let mut tx = SendBatch::new(n, SEND_SLOT);
    let mut buf = Transmit::empty();
    let mut alt_rx = vec![0u8; RECV_BUF];
    loop {
        let now = Instant::now();
        monitor.turn(now, || engine.snapshot());
        if engine.poll_timeout().is_some_and(|d| d <= now) {
            engine.handle_timeout(now);
            flush(&socket, alt.as_ref(), &mut engine, &mut tx, &mut buf).await;
        }
        let deadline = monitor.wake_by(next_wake(&engine), now);
        tokio::select! {
            biased;
            () = &mut shutdown => {
                info!("shutting down");
                return;
            }
            // Before the datagrams: a reload takes effect before the requests that follow it.
            config = next_config(&mut reconfigure) => {
                engine.reconfigure(config);
            }
            Some(request) = monitor.request() => monitor::answer(request, || engine.snapshot()),
            ready = socket.readable() => {
                if let Err(e) = ready {
                    warn!("waiting for datagrams failed: {e}");
                    tokio::time::sleep(RECV_ERROR_PAUSE).await;
                    continue;
                }
                for _ in 0..BATCHES_PER_WAKE {
                    // A short batch means the queue is empty: the closure then reports WouldBlock,
                    // so tokio drops the socket's readiness in the same step (a datagram arriving
                    // since raises a new edge) instead of a second call just to hear EAGAIN.
                    let mut short = 0;
                    let received = socket.try_io(Interest::READABLE, || {
                        let n = rx.recv(fd)?;
                        if n < rx.capacity() {
                            short = n;
                            return Err(io::Error::from(io::ErrorKind::WouldBlock));
                        }
                        Ok(n)
                    });
                    let got = match received {
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => short,
                        Err(e) => {
                            warn!("receive failed: {e}");
                            tokio::time::sleep(RECV_ERROR_PAUSE).await;
                            break;
                        }
                    };
                    let now = Instant::now();
                    for i in 0..got {
                        if let Some((data, Some(from))) = rx.get(i) {
                            log_in(from, data);
                            if !truncated_frame(data) {
                                engine.handle_datagram(now, SocketId::MAIN, from, data);
                            }
                        }
                    }
                    flush(&socket, alt.as_ref(), &mut engine, &mut tx, &mut buf).await;
                    if got < rx.capacity() {
                        break;
                    }
                }
            }
            received = recv_alt(alt.as_ref(), &mut alt_rx) => {
                on_alt(&mut engine, received, &alt_rx).await;
            }
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                engine.handle_timeout(Instant::now());
            }
        }
        flush(&socket, alt.as_ref(), &mut engine, &mut tx, &mut buf).await;
    }
}

/// Sends everything the engine has queued, a batch per system call.
#[cfg(target_os = "linux")]
async fn flush<S: SessionStore>(
    socket: &UdpSocket,
    alt: Option<&UdpSocket>,
    engine: &mut Engine<S>,
    tx: &mut batch::SendBatch,
    buf: &mut Transmit,
) {
    loop {
        while !tx.is_full() {
            if !engine.poll_transmit(buf) {
                break;
            }
            log_out(buf.to, &buf.data);
            if buf.via != SocketId::MAIN || !tx.push(Some(buf.to), &buf.data) {
                send_one(socket, alt, buf).await;
            }
        }
        if tx.is_empty() {
            return;
        }
        send_batch(socket, tx).await;
    }
}

/// Sends every datagram in `tx`, waiting while the socket's send buffer is full; a datagram the
/// kernel refuses is logged and dropped.
#[cfg(target_os = "linux")]
async fn send_batch(socket: &UdpSocket, tx: &mut batch::SendBatch) {
    use std::os::fd::AsRawFd;
    use tokio::io::Interest;
    let fd = socket.as_raw_fd();
    while !tx.is_empty() {
        match socket.try_io(Interest::WRITABLE, || tx.send(fd)) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if let Err(e) = socket.writable().await {
                    warn!("waiting to send failed: {e}; {} datagrams dropped", tx.len());
                    while !tx.is_empty() {
                        tx.skip_front();
                    }
                }
            }
            Err(e) => {
                if let Some((Some(to), _)) = tx.front() {
                    warn!("send to {to} failed: {e}");
                } else {
                    warn!("send failed: {e}");
                }
                tx.skip_front();
            }
        }
    }
}

/// Binds a UDP socket on `addr` (for the caller to log its actual address and pass to [`run`]),
/// with the kernel's default buffers.
pub async fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    UdpSocket::bind(addr).await
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
