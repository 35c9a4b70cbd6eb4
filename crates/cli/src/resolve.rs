//! The server's addresses from `--server`, shared by `host`, `join` and `nat`: one name or
//! address, or a comma-separated list of the service's addresses (`127.0.0.1:4000,[::1]:4000`).
//! Given both families (a list, or a name with both A and AAAA records), the client is
//! dual-stack: it plays the session over IPv4 (the family Godot peers can be told about) and
//! announces its IPv6 address too (to the first of that family). Further addresses of the
//! session's family are other nodes of the service: joined through, in order, when the one in
//! use stops answering before the session starts.

use rhp_client::ClientError;
use std::net::SocketAddr;

/// Most entries in the list.
const MAX_ENTRIES: usize = 8;

/// The server's addresses: the session's (IPv4 when there is one) and the first of the other
/// family, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Servers {
    /// The address the session is played through.
    pub main: SocketAddr,
    /// The same server in the other family.
    pub other: Option<SocketAddr>,
    /// Further addresses of `main`'s family: other nodes, in order.
    pub fallbacks: Vec<SocketAddr>,
}

/// Resolves `server` (see the module comment).
pub async fn servers(server: &str) -> Result<Servers, ClientError> {
    let entries: Vec<&str> = server.split(',').map(str::trim).collect();
    if entries.len() > MAX_ENTRIES || entries.iter().any(|e| e.is_empty()) {
        return Err(ClientError::InvalidConfig(format!(
            "--server {server:?}: give one HOST:PORT, or up to {MAX_ENTRIES} separated by commas"
        )));
    }
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for entry in entries {
        let bad =
            || ClientError::InvalidConfig(format!("cannot resolve the server address {entry:?} (HOST:PORT)"));
        let found: Vec<SocketAddr> = tokio::net::lookup_host(entry).await.map_err(|_| bad())?.collect();
        if found.is_empty() {
            return Err(bad());
        }
        addrs.extend(found.into_iter().map(|a| SocketAddr::new(a.ip().to_canonical(), a.port())));
    }
    pick(&addrs).ok_or_else(|| ClientError::InvalidConfig(format!("no address for the server {server:?}")))
}

/// The session's address (the first IPv4 one, else the first) and the first of the other family.
pub fn pick(addrs: &[SocketAddr]) -> Option<Servers> {
    let main = addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()).copied()?;
    let other = addrs.iter().find(|a| a.is_ipv4() != main.is_ipv4()).copied();
    let mut fallbacks: Vec<SocketAddr> = Vec::new();
    for a in addrs.iter().filter(|a| a.is_ipv4() == main.is_ipv4() && **a != main) {
        if !fallbacks.contains(a) && fallbacks.len() < rhp_client::config::MAX_FALLBACKS {
            fallbacks.push(*a);
        }
    }
    Some(Servers { main, other, fallbacks })
}
