//! The store contract as data: what a node asks the shared store ([`StoreOp`], each in a
//! [`StoreRequest`] with an id and a deadline) and what it is given back ([`StoreResult`]).
//!
//! The node never talks to the store itself: its driver (the Redis shell, or the simulation's
//! model) collects requests with [`crate::Node::poll_store`], runs them, and feeds each answer
//! with [`crate::Node::handle_store_result`]. An answer that comes after the request's deadline
//! is still taken (it says the store is back) but the datagrams that waited for it were already
//! refused.
//!
//! In Redis terms (keys `rhp:s:<name>` and `rhp:n:<id>`, values node ids):
//! - [`StoreOp::Claim`]: `SET rhp:s:<name> <owner> NX PX <ttl>` → [`StoreResult::Claimed`], or
//!   [`StoreResult::Taken`] with the current value (a `GET` in the same pipeline).
//! - [`StoreOp::Refresh`]: `PEXPIRE` only if the value is still ours (a small script) →
//!   [`StoreResult::Refreshed`] (false: the name is no longer ours).
//! - [`StoreOp::Release`]: `DEL` only if the value is still ours (a small script) →
//!   [`StoreResult::Done`].
//! - [`StoreOp::Lookup`]: `GET rhp:s:<name>` → [`StoreResult::Found`].
//! - [`StoreOp::Heartbeat`]: `SET rhp:n:<id> <addresses> PX <ttl>` → [`StoreResult::Done`].
//! - [`StoreOp::Nodes`]: the live nodes (the heartbeat keys that have not expired; in Redis a
//!   `SCAN MATCH rhp:n:*`, or a sorted set of heartbeats by time) → [`StoreResult::Nodes`].

use crate::NodeId;
use std::time::{Duration, Instant};

/// A request's id: unique per node, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// What a node asks the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    /// Set name → owner if the name is free, for `ttl` (atomic across nodes).
    Claim {
        /// The session name.
        name: String,
        /// The claiming node.
        owner: NodeId,
        /// How long the claim lives unless refreshed.
        ttl: Duration,
    },
    /// Extend the claim if the name is still `owner`'s.
    Refresh {
        /// The session name.
        name: String,
        /// The owner.
        owner: NodeId,
        /// The new time to live.
        ttl: Duration,
    },
    /// Delete the claim if the name is still `owner`'s.
    Release {
        /// The session name.
        name: String,
        /// The owner.
        owner: NodeId,
    },
    /// Who owns the name, if anyone.
    Lookup {
        /// The session name.
        name: String,
    },
    /// This node is alive (for `ttl`).
    Heartbeat {
        /// The node.
        node: NodeId,
        /// How long the heartbeat key lives.
        ttl: Duration,
    },
    /// Which nodes are alive (their heartbeat has not expired).
    Nodes,
}

/// One request, as the driver collects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRequest {
    /// Its id (the answer carries it back).
    pub id: RequestId,
    /// What to do.
    pub op: StoreOp,
    /// When the node stops waiting for the answer.
    pub deadline: Instant,
}

/// The store's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreResult {
    /// [`StoreOp::Claim`]: the name is ours now.
    Claimed,
    /// [`StoreOp::Claim`]: the name was taken, by this node.
    Taken(NodeId),
    /// [`StoreOp::Refresh`]: whether the name was still ours (and now lives on).
    Refreshed(bool),
    /// [`StoreOp::Lookup`]: the owner, if any.
    Found(Option<NodeId>),
    /// [`StoreOp::Release`] or [`StoreOp::Heartbeat`]: done.
    Done,
    /// [`StoreOp::Nodes`]: the live nodes.
    Nodes(Vec<NodeId>),
}
