//! The server's address from `--server HOST:PORT`, shared by `host`, `join` and `nat`.

use rhp_client::ClientError;
use std::net::SocketAddr;

/// Resolves `server` (a name or an address, with its port); an IPv4 address is preferred when
/// the name has both.
pub async fn server(server: &str) -> Result<SocketAddr, ClientError> {
    let bad =
        || ClientError::InvalidConfig(format!("cannot resolve the server address {server:?} (HOST:PORT)"));
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(server).await.map_err(|_| bad())?.collect();
    addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()).copied().ok_or_else(bad)
}
