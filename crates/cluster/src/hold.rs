//! Datagrams held while the store is asked about their session's name: at most
//! [`crate::ClusterConfig::hold_names`] names at once and
//! [`crate::ClusterConfig::hold_per_name`] datagrams each. Beyond that a datagram is dropped (the
//! client resends, as it does for any lost datagram). Datagrams for one name share one request.

use crate::store::RequestId;
use crate::NodeId;
use std::collections::HashMap;
use std::net::SocketAddr;

/// One held datagram.
#[derive(Debug)]
pub(crate) struct Held {
    /// The player's address.
    pub from: SocketAddr,
    /// The entry node it came through (`None`: straight to this node).
    pub through: Option<NodeId>,
    /// The datagram.
    pub data: Vec<u8>,
    /// Whether it is a `h:` (it needs a claim, not a lookup).
    pub host: bool,
}

/// What the request for a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Asking {
    /// A claim (a `h:` came first).
    Claim,
    /// A lookup.
    Lookup,
}

#[derive(Debug)]
struct Waiting {
    asking: Asking,
    held: Vec<Held>,
}

/// The held datagrams, by name.
#[derive(Debug)]
pub(crate) struct Hold {
    by_name: HashMap<String, Waiting>,
    by_request: HashMap<RequestId, String>,
    names: usize,
    per_name: usize,
}

/// Where a datagram to hold went.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Added {
    /// Held with the request already made for its name.
    Joined,
    /// Held; a request must be made for the name (with this id, as this kind).
    Ask(Asking),
    /// Dropped: a bound was reached.
    Dropped,
}

impl Hold {
    pub(crate) fn new(names: usize, per_name: usize) -> Hold {
        Hold { by_name: HashMap::new(), by_request: HashMap::new(), names, per_name }
    }

    /// Holds `held` for `name`; `next` is the id a new request would get.
    pub(crate) fn add(&mut self, name: &str, held: Held, next: RequestId) -> Added {
        if let Some(w) = self.by_name.get_mut(name) {
            if w.held.len() >= self.per_name {
                return Added::Dropped;
            }
            w.held.push(held);
            return Added::Joined;
        }
        if self.by_name.len() >= self.names {
            return Added::Dropped;
        }
        let asking = if held.host { Asking::Claim } else { Asking::Lookup };
        self.by_name.insert(name.to_owned(), Waiting { asking, held: vec![held] });
        self.by_request.insert(next, name.to_owned());
        Added::Ask(asking)
    }

    /// Whether datagrams for `name` wait already (a request for it is in flight).
    pub(crate) fn waits(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The name, kind and datagrams that waited for `request` (none if nothing waits for it).
    pub(crate) fn take(&mut self, request: RequestId) -> Option<(String, Asking, Vec<Held>)> {
        let name = self.by_request.remove(&request)?;
        let w = self.by_name.remove(&name)?;
        Some((name, w.asking, w.held))
    }

    /// Names waiting.
    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
    }
}
