//! What the running node shows the outside (`/readyz`, metrics): its [`NodeStatus`] as of the
//! loop's last update (every 100 ms at most) and the store's last error, shared behind a mutex
//! the loop holds only to copy a few counters in.

use rhp_cluster::store::StoreOp;
use rhp_cluster::NodeStatus;
use std::sync::{Arc, Mutex, PoisonError};

/// The node's state as seen from another thread: cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    inner: Arc<Mutex<Seen>>,
}

/// One look at the node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// The node's counters and state (`None` before the loop first ran).
    pub status: Option<NodeStatus>,
    /// The store's last error (a refused connection, a command that did not answer in time),
    /// kept until the store answers again.
    pub store_error: Option<String>,
    /// Store commands that failed or did not answer in time.
    pub store_errors: u64,
    /// Store operations started, by kind (in the order of [`STORE_OPS`]).
    pub store_ops: [u64; 6],
}

/// The kinds of store operations, as the metrics label them.
pub const STORE_OPS: [&str; 6] = ["claim", "refresh", "release", "lookup", "heartbeat", "nodes"];

/// The index of `op`'s kind in [`STORE_OPS`].
pub fn op_index(op: &StoreOp) -> usize {
    match op {
        StoreOp::Claim { .. } => 0,
        StoreOp::Refresh { .. } => 1,
        StoreOp::Release { .. } => 2,
        StoreOp::Lookup { .. } => 3,
        StoreOp::Heartbeat { .. } => 4,
        StoreOp::Nodes => 5,
    }
}

impl Seen {
    /// Why the node is not ready: `None` when the store is reachable (or the loop has not run
    /// yet: the other checks say so).
    pub fn not_ready(&self) -> Option<String> {
        let status = self.status.as_ref()?;
        if status.store_up {
            return None;
        }
        Some(match &self.store_error {
            Some(e) => format!("cluster store unreachable: {e}"),
            None => "cluster store unreachable".to_string(),
        })
    }
}

impl ClusterView {
    /// A view of a node that has not run yet.
    pub fn new() -> ClusterView {
        ClusterView::default()
    }

    /// A copy of what is seen now.
    pub fn get(&self) -> Seen {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn with(&self, f: impl FnOnce(&mut Seen)) {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner));
    }

    pub(crate) fn update(&self, status: NodeStatus) {
        self.with(|s| s.status = Some(status));
    }

    pub(crate) fn store_started(&self, op: &StoreOp) {
        self.with(|s| s.store_ops[op_index(op)] += 1);
    }

    pub(crate) fn store_answered(&self) {
        self.with(|s| s.store_error = None);
    }

    pub(crate) fn store_failed(&self, error: String) {
        self.with(|s| {
            s.store_error = Some(error);
            s.store_errors += 1;
        });
    }
}
