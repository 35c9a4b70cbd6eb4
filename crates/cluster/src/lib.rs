//! `rhp-cluster`: several rendezvous server nodes as one service (issue 19), sans-IO. One
//! [`Node`] per server node wraps one **unchanged** [`rhp_server::Engine`]; the nodes share a
//! store (Redis/Valkey in production, a model in `rhp-sim`) that they only ever talk to through
//! [`store::StoreOp`] requests and [`store::StoreResult`] answers, and they talk to each other
//! with [`frame`]s on a socket of their own ([`CLUSTER`]).
//!
//! # The rules
//! - **A session lives on its owner**: the node where its `h:` arrived and that won the name's
//!   claim in the store (`SET NX PX`). All its timers run there, in today's engine.
//! - A player whose datagram reaches another node (its *entry node*) is served by the owner
//!   *through* the entry node: the entry node forwards the datagram ([`frame::Kind::ToOwner`],
//!   the player's real address inside); the owner feeds it to its engine with `from` = the
//!   player's address; what the engine sends to that address goes back to the entry node
//!   ([`frame::Kind::ToPlayer`]), which sends it from its own main socket (a NAT only lets in
//!   replies from the address the player sent to). Every protocol rule thus holds across nodes.
//! - Which session a datagram is about: the Rabid request's session name. STUN is answered by
//!   the node it reached. Relay frames (0xF5) from a player the entry node forwards for go to
//!   that player's owner; any other relay frame to the local engine.
//! - The store is asked only for what must be shared: a name's claim, its refresh (every
//!   [`ClusterConfig::refresh_every`], never per ping), its release, a lookup of an unknown
//!   name, and the node's heartbeat. Every request has a deadline; a node that gets no answer in
//!   time marks the store unreachable ([`node::NodeStatus::store_up`]).
//!
//! # Decisions the brief left open (and why)
//! - **Remote players are keyed by address, not by `SocketId`.** The brief suggested a reserved
//!   range of `SocketId`s standing for "through node N". Today's engine answers Rabid requests on
//!   [`rhp_io::SocketId::MAIN`] only and queues every reply on `MAIN`, so a datagram fed on another
//!   id would be dropped, and using one would mean changing the engine. Instead the owner feeds a
//!   forwarded datagram on `MAIN` with `from` = the player's address and remembers that address
//!   as remote ([`routes`]); every transmit its engine queues to a remote address becomes a
//!   frame to the entry node. The engine is untouched (not one line of `rhp-server` changed) and
//!   its per-IP caps and budget see the players' real addresses, as on one node. A datagram that
//!   comes straight from an address makes it local again (the most recent path wins).
//! - **Session ends are read from the engine's existing API** (`engine.store().get(name)`): after
//!   every request the node checks that request's name, and every [`ClusterConfig::tick`] in
//!   which its engine holds fewer sessions than it owns names (an O(1) test) it checks the names
//!   it owns (and at every refresh); a name whose session is gone is released. So a name is
//!   freed within one tick of its session's end (a timeout) or at once (`x:`/`k:` ending it). No
//!   line of `rhp-server` had to change.
//! - **Store unreachable**: after a missed deadline the node marks the store down; until an
//!   answer comes again (the heartbeat, every [`ClusterConfig::heartbeat_every`], probes) what
//!   needs the store is refused at once: a `h:` for a name the node does not know with
//!   `error:too_many_sessions` (what a server that cannot take one more session answers today;
//!   our client treats it as "try later"), any other request for an unknown name with
//!   `error:session_non_existent` (what a node answers for a session it cannot reach; one of the
//!   fourteen a Godot peer knows). Refusals are sent once (not repeated like the engine's errors),
//!   and only when no larger than 3× the request or to a player the node forwarded for lately
//!   (the engine's budget factor for a stranger: the node is no reflector).
//!   Sessions the node owns, and names in its cache, are served as before; the cache keeps its
//!   entries past their time while the store is down (what the node knew is all it can know).
//!   Only a request sent *after* the store's last answer marks it down when it misses its
//!   deadline (one sent during the outage that answer ended says nothing new), and a store that
//!   answers again gives the peers one heartbeat TTL before any is taken for dead (a restarted,
//!   empty store has lost every heartbeat).
//! - **A dead node is one whose heartbeat the store no longer has.** With every heartbeat a node
//!   asks the store for the live nodes ([`store::StoreOp::Nodes`]); a peer missing from the list
//!   is dead: its cached names are forgotten, and a request for a name it still holds (its claim
//!   runs until its TTL) is answered by the node the player talks to as one node would answer
//!   for a session that ended: `error:session_exists` for a `h:` (the name stays in use until the
//!   TTL frees it), `error:session_non_existent` otherwise. Before the heartbeat runs out
//!   (at most [`ClusterConfig::heartbeat_ttl`] + [`ClusterConfig::heartbeat_every`]) the dead
//!   node's players get silence, as from a dead single server.
//! - **Peers' addresses** come from the configuration ([`ClusterConfig::peers`], what the
//!   simulation uses) or, in production, from the peers' heartbeat keys: the shell
//!   (`rhp-cluster-shell`) reads them with every live-nodes query and hands them over with
//!   [`Node::set_peer`].
//! - **A claim that fails says who holds the name** ([`store::StoreResult::Taken`], a `GET` in
//!   the claim's pipeline), so a `h:` for a taken name costs one round trip, not two.
//! - **The store requests datagrams cause are rate-bounded** per node
//!   ([`ClusterConfig::store_rate`]): a flood of requests for random names would otherwise turn
//!   each datagram into a store request. Beyond the rate such a datagram is dropped.
//! - **A forward is one hop.** A frame's datagram is never forwarded again: if the owner no
//!   longer holds the name and the store (or its cache) says another node does, the datagram
//!   goes back to the entry node as a [`frame::Kind::Bounce`], which makes the entry node forget
//!   its stale cache entry; the player's next datagram (every client resends) makes it ask the
//!   store afresh. So a name re-created on another node is reachable after one lost datagram,
//!   not after [`ClusterConfig::cache_ttl`], and no datagram can circle between nodes.
//!
//! # Left for later sessions
//! - ~~The Redis shell~~: done in `rhp-cluster-shell` (the tokio driver, the store on Redis/Valkey,
//!   peers read from the heartbeat keys) and `serve --cluster-store` (`/readyz`, `rhp_cluster_*`
//!   metrics). Left there: a node's *public* address in the heartbeat is its main socket's bound
//!   address (behind NAT or a load balancer it should be configurable), and the store's
//!   operations of one tick go out concurrently on one multiplexed connection rather than as one
//!   explicit pipeline.
//! - **The relay's address in the grant**: done when the node knows its public address
//!   ([`ClusterConfig::public`]): a grant to a player served through another node names the
//!   owner, the client sends relay frames there, and the owner's relay answers from its own
//!   socket (the player's other messages still go through its entry node). A node bound to a
//!   wildcard address knows no public address yet (an `--public` setting is left).
//! - **Frames larger than a datagram**: a forwarded relay frame near 1,400 bytes plus the frame's
//!   header and MAC (up to 43 bytes) can exceed a 1,500-byte MTU between nodes; a cluster
//!   network with a larger MTU, or a TCP/stream channel between nodes, is for the shell to choose
//!   (the issue asks for the channel to be chosen by measurement).
//! - **Replay protection** of frames (a counter or a timestamp under the MAC).
//! - **Session-end notification from the engine**: the node polls `engine.store().get(name)`
//!   (see above); a "session ended" event from the engine would make the sweep unnecessary.
//! - **A name claimed twice after a long outage** (claims expired, another node claimed the name):
//!   both sessions live on until they end; the loser stops refreshing
//!   ([`NodeStatus::claims_lost`]). A player reaching the loser's node directly still gets the
//!   loser's session.
//!
//! # Layout
//! - [`node`]: the state machine (dispatch, forwarding, claims, housekeeping, status).
//! - [`store`]: the store contract as data: requests with ids and deadlines, and their answers.
//! - [`directory`]: session name → owner node, a bounded, expiring cache of what the store said.
//! - [`routes`]: players served through another node: the entry node's (player → owner) and the
//!   owner's (player → entry node), bounded and expiring.
//! - `hold`: datagrams held while the store is asked about their name (bounded).
//! - `rate`: the token bucket bounding the store requests datagrams cause.
//! - [`frame`]: the node-to-node wire format, authenticated with HMAC-SHA-256 under the cluster
//!   secret.
#![deny(missing_docs)]

pub mod directory;
pub mod frame;
mod hold;
pub mod node;
mod rate;
pub mod routes;
pub mod store;

pub use node::{Node, NodeStatus};

use rhp_io::SocketId;
use std::net::SocketAddr;
use std::time::Duration;

/// A node's socket for frames from and to the other nodes (the main socket and the engine's
/// alternate STUN socket, [`rhp_server::ALT`], are 0 and 1).
pub const CLUSTER: SocketId = SocketId(2);

/// A server node's id: unique in the cluster, the value its claims carry in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u16);

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "node{}", self.0)
    }
}

/// One node's cluster settings.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// This node.
    pub id: NodeId,
    /// The other nodes and the address their [`CLUSTER`] socket listens at.
    pub peers: Vec<(NodeId, SocketAddr)>,
    /// The secret every node of the cluster shares: the key of the frames' MAC.
    pub secret: Vec<u8>,
    /// The address players reach this node at (its main socket as seen from outside). When set,
    /// a relay grant to a player served through another node names it (`r:…;<ip:port>`): our
    /// client then sends its relay frames here directly, one hop, instead of through its entry
    /// node. `None`: grants unchanged (relayed data then takes the entry node's way).
    pub public: Option<SocketAddr>,
    /// A claimed name's time to live in the store; the owner refreshes it before it runs out,
    /// so a dead node's names are free at most this long after its death.
    pub claim_ttl: Duration,
    /// How often the owner refreshes its names (well under `claim_ttl`).
    pub refresh_every: Duration,
    /// How often the node writes its heartbeat (and probes a store it marked down).
    pub heartbeat_every: Duration,
    /// The heartbeat key's time to live.
    pub heartbeat_ttl: Duration,
    /// How long the node waits for the store's answer before it marks it unreachable.
    pub store_timeout: Duration,
    /// How long a learned owner is trusted without asking again.
    pub cache_ttl: Duration,
    /// Most names in the directory cache.
    pub cache_max: usize,
    /// How long a route of a player served through another node lives without a datagram (well
    /// over the engine's player timeout, so the owner's engine drops a silent player first).
    pub route_idle: Duration,
    /// Most routes of each kind (entry side, owner side).
    pub route_max: usize,
    /// Most names waiting for the store at once.
    pub hold_names: usize,
    /// Most datagrams held for one name.
    pub hold_per_name: usize,
    /// The housekeeping period: store deadlines, released names, expiries.
    pub tick: Duration,
    /// Most store requests (claims, lookups) datagrams may cause per second; beyond it (and
    /// [`ClusterConfig::store_burst`]) a datagram that would need one is dropped.
    pub store_rate: u32,
    /// Store requests saved up for a burst.
    pub store_burst: u32,
}

impl ClusterConfig {
    /// Node `id` among `peers`, with `secret` and the default timers.
    pub fn new(id: NodeId, peers: Vec<(NodeId, SocketAddr)>, secret: &[u8]) -> ClusterConfig {
        ClusterConfig {
            id,
            peers,
            secret: secret.to_vec(),
            public: None,
            claim_ttl: Duration::from_secs(30),
            refresh_every: Duration::from_secs(10),
            heartbeat_every: Duration::from_secs(1),
            heartbeat_ttl: Duration::from_secs(3),
            store_timeout: Duration::from_millis(500),
            cache_ttl: Duration::from_secs(30),
            cache_max: 65_536,
            route_idle: Duration::from_secs(30),
            route_max: 65_536,
            hold_names: 1024,
            hold_per_name: 8,
            tick: Duration::from_millis(100),
            store_rate: 2000,
            store_burst: 500,
        }
    }
}
