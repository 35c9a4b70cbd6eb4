//! `rhp-cluster-shell`: the tokio shell of one cluster node ([`rhp_cluster::Node`], issue 19).
//! It binds nothing itself (the CLI binds the main, alternate and cluster sockets and hands them
//! over in [`Sockets`]), owns the clock, runs the node's loop ([`run`]) and each of its store
//! requests on Redis/Valkey ([`RedisStore`]), and keeps a [`ClusterView`] of the node's state for
//! `/readyz` and the metrics.
//!
//! # The store's client: the `redis` crate (1.x, not the 2.0 release candidate)
//! `redis` (redis-rs) rather than `fred`: it is the most used Rust client (the one most
//! Valkey/Redis users already run), small with its default features off (`tokio-comp`,
//! `connection-manager`, `script` only: no TLS, cluster or pool stack pulled in), and its
//! [`redis::aio::ConnectionManager`] is exactly what a node needs: one multiplexed connection
//! shared by every request in flight (so requests of one tick are pipelined on it), which it
//! re-opens by itself after the server went away, created lazily (a store that is down when the
//! node starts is no error: the node serves and `/readyz` says why). `fred` offers the same with
//! a larger surface (pools, cluster and sentinel management, its own reconnect policy engine)
//! that a node with six operations does not need. Every command is bounded twice: by the
//! connection's response timeout, and by the request's deadline in the loop.
//!
//! # What the node keeps in the store
//! See [`store`]: claims `<prefix>s:<name>` (owner-guarded refresh and release in Lua), and one
//! heartbeat key per node, `<prefix>n:<id>`, whose value carries the node's cluster and public
//! addresses; the live-nodes query (a bounded `SCAN`) hands the peers' cluster addresses to the
//! node ([`rhp_cluster::Node::set_peer`]), so no node needs a list of its peers.
#![deny(missing_docs)]

mod batches;
pub mod shell;
pub mod store;
pub mod view;

pub use shell::{run, Reconfigure, Sockets};
pub use store::{RedisStore, StoreConfig, StoreError};
pub use view::{ClusterView, Seen};
