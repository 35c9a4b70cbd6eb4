//! The loop of one cluster node: wait for the first of a datagram (main, alternate or cluster
//! socket), a store answer, a new configuration, a monitor request, the node's next deadline or
//! shutdown; feed the node; send what it queued from the socket each transmit names; run each
//! store request it queued as a task of its own, bounded by the request's deadline (an answer
//! that does not come in time is never fed: the node's own deadline marks the store down).

use crate::batches::{send_one, Batches, Io};
use crate::store::{Answer, RedisStore};
use crate::view::ClusterView;
use rhp_cluster::frame::Shown;
use rhp_cluster::store::RequestId;
use rhp_cluster::{Node, NodeId, CLUSTER};
use rhp_io::{Input, SocketId, Transmit};
use rhp_server::shell::monitor::{self, Monitor};
use rhp_server::{Redacted, ALT};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, enabled, info, warn, Level};

/// Bytes read per player datagram (as the single-node shell: a longer request is invalid
/// anyway; a relay frame that fills the buffer is dropped).
const RECV_BUF: usize = 2048;
/// The longest frame from another node (a player datagram plus the frame's header and MAC); one
/// that fills the buffer beyond it is dropped.
const FRAME_MAX: usize = RECV_BUF + rhp_cluster::frame::HEADER_MAX + rhp_cluster::frame::MAC_LEN;
/// A failed receive backs off this long, so a persistent socket error cannot spin the CPU.
const RECV_ERROR_PAUSE: Duration = Duration::from_millis(10);
/// The store's errors are logged at most once per this interval (with a count of the others).
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);
/// How often the [`ClusterView`] is brought up to date.
const VIEW_EVERY: Duration = Duration::from_millis(100);

/// New engine configurations for the running node (SIGHUP).
pub type Reconfigure = mpsc::UnboundedReceiver<rhp_server::Config>;

/// A node's three sockets.
#[derive(Debug)]
pub struct Sockets {
    /// Players' datagrams (requests, STUN, relay frames).
    pub main: UdpSocket,
    /// STUN on the alternate port, if any.
    pub alt: Option<UdpSocket>,
    /// Frames from and to the other nodes.
    pub cluster: UdpSocket,
}

impl Sockets {
    fn socket(&self, via: SocketId) -> Option<&UdpSocket> {
        match via {
            SocketId::MAIN => Some(&self.main),
            v if v == ALT => self.alt.as_ref(),
            v if v == CLUSTER => Some(&self.cluster),
            _ => None,
        }
    }

    /// Whether each socket (main, alternate, cluster) is an IPv6 one (then an IPv4 destination
    /// is written mapped): asked once, not per datagram.
    fn families(&self) -> [bool; 3] {
        let v6 = |s: Option<&UdpSocket>| s.is_some_and(|s| s.local_addr().is_ok_and(|a| a.is_ipv6()));
        [v6(Some(&self.main)), v6(self.alt.as_ref()), v6(Some(&self.cluster))]
    }

    /// Sends `tx` from the socket it names: the main socket's and the cluster socket's into their
    /// batches `main` and `cluster` (written out by the caller), the alternate socket's few STUN
    /// answers at once.
    async fn send(&self, tx: &Transmit, v6: [bool; 3], main: &mut Batches, cluster: &mut Batches) {
        let Some(socket) = self.socket(tx.via) else { return };
        let v6 = match tx.via {
            SocketId::MAIN => v6[0],
            v if v == ALT => v6[1],
            _ => v6[2],
        };
        let to = rhp_io::on_socket(tx.to, v6);
        match tx.via {
            SocketId::MAIN => main.send(socket, to, &tx.data).await,
            v if v == CLUSTER => cluster.send(socket, to, &tx.data).await,
            _ => send_one(socket, to, &tx.data).await,
        }
    }
}

/// What a store task reports back.
type StoreAnswer = (RequestId, Result<Answer, String>);

/// The store's errors, logged at most once per [`ERROR_LOG_INTERVAL`].
struct ErrorLog {
    last: Option<Instant>,
    quiet: u64,
}

impl ErrorLog {
    fn note(&mut self, now: Instant, text: &str) {
        if self.last.is_some_and(|t| now.duration_since(t) < ERROR_LOG_INTERVAL) {
            self.quiet += 1;
            return;
        }
        if self.quiet > 0 {
            warn!("cluster store: {text} ({} more store errors not logged)", self.quiet);
        } else {
            warn!("cluster store: {text}");
        }
        self.last = Some(now);
        self.quiet = 0;
    }
}

/// Serves `node` on `sockets` with `store` until `shutdown` completes; keeps `view` up to date.
pub async fn run(
    mut node: Node,
    sockets: Sockets,
    store: RedisStore,
    shutdown: impl Future<Output = ()>,
    mut reconfigure: Option<Reconfigure>,
    mut monitor: Monitor,
    view: ClusterView,
) {
    tokio::pin!(shutdown);
    let (answers_tx, mut answers) = mpsc::unbounded_channel::<StoreAnswer>();
    let mut io = Io::new(RECV_BUF, FRAME_MAX);
    let mut alt_rx = vec![0u8; RECV_BUF + 1];
    let v6 = sockets.families();
    let mut errors = ErrorLog { last: None, quiet: 0 };
    let mut next_view = Instant::now();
    // The peers' addresses as last read from their heartbeats (to log what changes).
    let mut peers: HashMap<NodeId, SocketAddr> = HashMap::new();
    loop {
        let now = Instant::now();
        monitor.turn(now, || node.engine().snapshot());
        if node.poll_timeout().is_some_and(|d| d <= now) {
            node.handle_input(Input::Timeout(now));
        }
        drain(&mut node, &sockets, v6, &view, &store, &answers_tx, &mut io).await;
        if now >= next_view {
            next_view = now + VIEW_EVERY;
            view.update(node.status());
        }
        let next = node.poll_timeout().unwrap_or(now + Duration::from_secs(86_400)).min(next_view);
        let deadline = monitor.wake_by(next, now);
        tokio::select! {
            biased;
            () = &mut shutdown => {
                info!("shutting down");
                leave(&mut node, &store).await;
                view.update(node.status());
                return;
            }
            config = next_config(&mut reconfigure) => {
                node.engine_mut().reconfigure(config);
            }
            Some(request) = monitor.request() => monitor::answer(request, || node.engine().snapshot()),
            Some((id, answer)) = answers.recv() => match answer {
                Ok(a) => {
                    for n in &a.nodes {
                        if let Some(addr) = n.cluster_addr.filter(|_| n.id != node.id()) {
                            if peers.len() < rhp_cluster::node::MAX_PEERS && peers.insert(n.id, addr) != Some(addr) {
                                let public = n.public_addr.map_or_else(|| "?".into(), |p| p.to_string());
                                info!("cluster: {} frames at udp://{addr} (players at udp://{public})", n.id);
                            }
                            node.set_peer(n.id, addr);
                        }
                    }
                    node.handle_store_result(Instant::now(), id, a.result);
                    view.store_answered();
                }
                Err(e) => {
                    errors.note(Instant::now(), &e);
                    view.store_failed(e);
                }
            },
            got = io.main.recv(&sockets.main) => batch_in(&mut node, SocketId::MAIN, got, &io.main).await,
            got = recv_opt(sockets.alt.as_ref(), &mut alt_rx) => {
                feed(&mut node, ALT, got, &alt_rx).await;
            }
            got = io.cluster.recv(&sockets.cluster) => batch_in(&mut node, CLUSTER, got, &io.cluster).await,
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                node.handle_input(Input::Timeout(Instant::now()));
            }
        }
    }
}

/// Feeds one received datagram (a relay frame cut by the buffer is dropped; an error backs off).
async fn feed(node: &mut Node, via: SocketId, got: io::Result<(usize, SocketAddr)>, buf: &[u8]) {
    match got {
        Ok((n, from)) => feed_one(node, via, from, buf.get(..n).unwrap_or(buf), n >= buf.len()),
        Err(e) => {
            warn!("receive on {via} failed: {e}");
            tokio::time::sleep(RECV_ERROR_PAUSE).await;
        }
    }
}

/// Feeds what one receive on `via` read into `batch` (in one system call on Linux); an error
/// backs off.
async fn batch_in(node: &mut Node, via: SocketId, got: io::Result<usize>, batch: &Batches) {
    match got {
        Ok(n) => {
            for i in 0..n {
                if let Some((data, from, cut)) = batch.get(i) {
                    feed_one(node, via, from, data, cut);
                }
            }
        }
        Err(e) => {
            warn!("receive on {via} failed: {e}");
            tokio::time::sleep(RECV_ERROR_PAUSE).await;
        }
    }
}

/// A datagram as the DEBUG log shows it: a node's frame by its header with the player's datagram
/// inside redacted ([`Shown`]), a player's datagram redacted ([`Redacted`]).
struct Logged<'a>(SocketId, &'a [u8]);

impl std::fmt::Display for Logged<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 == CLUSTER {
            Shown(self.1).fmt(f)
        } else {
            Redacted(self.1).fmt(f)
        }
    }
}

/// Feeds `data` from `from` on `via`; `cut`: it filled the buffer and may have been cut, so a
/// relay frame or a frame from a node is dropped (passed on whole or not at all; a request is
/// answered as invalid).
fn feed_one(node: &mut Node, via: SocketId, from: SocketAddr, data: &[u8], cut: bool) {
    let n = data.len();
    if cut && (via == CLUSTER || rhp_proto::relay::is_frame(data)) {
        debug!("datagram of {n} bytes from {from} on {via} dropped: too long");
        return;
    }
    if enabled!(Level::DEBUG) {
        debug!("in  {from} {via} {n} bytes: {}", Logged(via, data));
    }
    let from = rhp_io::canonical(from);
    node.handle_input(Input::Datagram { now: Instant::now(), via, from, data });
}

/// Sends what the node queued and starts what it asks of the store.
async fn drain(
    node: &mut Node,
    sockets: &Sockets,
    v6: [bool; 3],
    view: &ClusterView,
    store: &RedisStore,
    answers: &mpsc::UnboundedSender<StoreAnswer>,
    io: &mut Io,
) {
    let tx = &mut io.out;
    while node.poll_transmit(tx) {
        if enabled!(Level::DEBUG) {
            debug!("out {} {} {} bytes: {}", tx.to, tx.via, tx.data.len(), Logged(tx.via, &tx.data));
        }
        sockets.send(tx, v6, &mut io.main, &mut io.cluster).await;
    }
    io.main.flush(&sockets.main).await;
    io.cluster.flush(&sockets.cluster).await;
    while let Some(request) = node.poll_store() {
        view.store_started(&request.op);
        let store = store.clone();
        let answers = answers.clone();
        let wait = request.deadline.saturating_duration_since(Instant::now());
        tokio::spawn(async move {
            let answer = match tokio::time::timeout(wait, store.run(&request.op)).await {
                Ok(Ok(a)) => Ok(a),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {} ms", wait.as_millis())),
            };
            // The loop may be gone (shutdown): nothing to do then.
            let _ = answers.send((request.id, answer));
        });
    }
}

/// A graceful stop: the node's names are released and its heartbeat deleted, all at once and
/// bounded by the store's timeout (a store that is down leaves them to their TTLs).
async fn leave(node: &mut Node, store: &RedisStore) {
    node.shutdown(Instant::now());
    let mut tasks = tokio::task::JoinSet::new();
    let mut released = 0usize;
    while let Some(request) = node.poll_store() {
        let store = store.clone();
        released += usize::from(matches!(request.op, rhp_cluster::store::StoreOp::Release { .. }));
        tasks.spawn(async move { store.run(&request.op).await.is_ok() });
    }
    let (id, s) = (node.id(), store.clone());
    tasks.spawn(async move { s.forget(id).await.is_ok() });
    let done = tokio::time::timeout(store.config().timeout, async {
        let mut ok = 0usize;
        while let Some(r) = tasks.join_next().await {
            ok += usize::from(matches!(r, Ok(true)));
        }
        ok
    })
    .await;
    match done {
        Ok(ok) => info!("cluster: {released} names released, heartbeat removed ({ok} store operations done)"),
        Err(_) => {
            warn!("cluster: the store did not answer in time: this node's names are freed by their TTL")
        }
    }
}

/// The next configuration sent; never, once the sender is gone (or without one).
async fn next_config(rx: &mut Option<Reconfigure>) -> rhp_server::Config {
    if let Some(r) = rx.as_mut() {
        if let Some(config) = r.recv().await {
            return config;
        }
    }
    *rx = None;
    std::future::pending().await
}

/// The next datagram on an optional socket; never, without one.
async fn recv_opt(socket: Option<&UdpSocket>, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    match socket {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}
