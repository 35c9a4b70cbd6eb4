//! The store on Redis/Valkey: each [`StoreOp`] as the commands `rhp_cluster::store` describes,
//! on one multiplexed connection that a [`ConnectionManager`] re-opens by itself when the
//! server comes back.
//!
//! Keys (under a prefix, `rhp:` by default): `<prefix>s:<name>` → the owner's id (decimal);
//! `<prefix>n:<id>` → the node's heartbeat, `cluster=<addr> public=<addr>`, with a TTL.
//! - Claim: `SET NX PX` and `GET` of the same key in one `MULTI`/`EXEC`, so a refused claim
//!   says who holds the name in the same round trip (and never sees the key vanish between).
//! - Refresh and release: a Lua script that acts only if the value is still ours.
//! - Live nodes: `SCAN MATCH <prefix>n:*` (bounded: [`SCAN_ROUNDS`] calls of [`SCAN_COUNT`]),
//!   then one `MGET` of the keys found for their addresses.
//!
//! Nothing here waits without bound: the caller wraps each operation in the request's deadline,
//! and the connection has its own connect and response timeouts.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use rhp_cluster::store::{StoreOp, StoreResult};
use rhp_cluster::NodeId;
use std::net::SocketAddr;
use std::time::Duration;

/// Most `SCAN` calls of one live-nodes query.
pub const SCAN_ROUNDS: usize = 16;
/// `SCAN`'s `COUNT` hint.
pub const SCAN_COUNT: usize = 256;
/// Most nodes one live-nodes query returns.
pub const MAX_NODES: usize = 1024;

/// Extends a claim if it is still ours: 1 if so, 0 if not.
const REFRESH: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0";

/// Deletes a claim if it is still ours.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// What the node's store is: where, under which prefix, and what its heartbeat says.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `redis://host:port[/db]` (or `rediss://`, `unix://`; whatever the client takes).
    pub url: String,
    /// The prefix of every key (several clusters can share one store under two prefixes).
    pub prefix: String,
    /// The address other nodes send frames to (this node's cluster socket, as they reach it).
    pub cluster_addr: SocketAddr,
    /// The node's public address (its main socket, as players reach it), in the heartbeat for
    /// operators and tools.
    pub public_addr: SocketAddr,
    /// Connect and response timeout of the connection (the node's store timeout).
    pub timeout: Duration,
}

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is not one the client takes.
    #[error("the store address {0:?} is not valid: {1}")]
    BadUrl(String, String),
    /// A command failed (connection refused or lost, an error reply).
    #[error("{0}")]
    Redis(#[from] redis::RedisError),
    /// A reply the node cannot read (a value no node wrote).
    #[error("unexpected value in the store: {0}")]
    Unexpected(String),
}

/// The answer to [`StoreOp::Nodes`], with each live node's cluster address (if its heartbeat
/// could be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveNode {
    /// The node.
    pub id: NodeId,
    /// Where it takes frames.
    pub cluster_addr: Option<SocketAddr>,
    /// Where its players reach it.
    pub public_addr: Option<SocketAddr>,
}

/// One answer of the store: the node's result, and for a live-nodes query the addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// What to feed the node.
    pub result: StoreResult,
    /// For [`StoreOp::Nodes`]: the live nodes and their addresses.
    pub nodes: Vec<LiveNode>,
}

/// The store client: cheap to clone (one shared multiplexed connection).
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    config: StoreConfig,
    refresh: std::sync::Arc<Script>,
    release: std::sync::Arc<Script>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("url", &self.config.url).finish_non_exhaustive()
    }
}

/// Whether `url` is a store address the client takes (checked before anything is bound).
pub fn check_url(url: &str) -> Result<(), StoreError> {
    redis::Client::open(url).map(|_| ()).map_err(|e| StoreError::BadUrl(url.to_string(), e.to_string()))
}

/// The heartbeat's value.
pub fn heartbeat_value(cluster: SocketAddr, public: SocketAddr) -> String {
    format!("cluster={cluster} public={public}")
}

/// The two addresses of a heartbeat's value (each `None` if missing or unreadable).
pub fn parse_heartbeat(value: &str) -> (Option<SocketAddr>, Option<SocketAddr>) {
    let field = |k: &str| {
        value.split_whitespace().find_map(|f| f.strip_prefix(k)).and_then(|v| v.parse::<SocketAddr>().ok())
    };
    (field("cluster="), field("public="))
}

fn parse_node(v: &str) -> Result<NodeId, StoreError> {
    v.parse::<u16>().map(NodeId).map_err(|_| StoreError::Unexpected(format!("{v:?} is no node id")))
}

impl RedisStore {
    /// A client for `config.url`. Does not connect: the first command does (so a store that is
    /// down at start is no error here), and every command after a lost connection reconnects.
    pub fn new(config: StoreConfig) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| StoreError::BadUrl(config.url.clone(), e.to_string()))?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(config.timeout);
        let conn = ConnectionManager::new_lazy_with_config(client, manager)
            .map_err(|e| StoreError::BadUrl(config.url.clone(), e.to_string()))?;
        Ok(RedisStore {
            conn,
            config,
            refresh: std::sync::Arc::new(Script::new(REFRESH)),
            release: std::sync::Arc::new(Script::new(RELEASE)),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    fn session_key(&self, name: &str) -> String {
        format!("{}s:{name}", self.config.prefix)
    }

    fn node_key(&self, id: NodeId) -> String {
        format!("{}n:{}", self.config.prefix, id.0)
    }

    /// Runs one operation (no deadline of its own: the caller bounds it).
    pub async fn run(&self, op: &StoreOp) -> Result<Answer, StoreError> {
        let mut conn = self.conn.clone();
        let result = match op {
            StoreOp::Claim { name, owner, ttl } => {
                let key = self.session_key(name);
                let (set, holder): (Option<String>, Option<String>) = redis::pipe()
                    .atomic()
                    .cmd("SET")
                    .arg(&key)
                    .arg(owner.0)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(*ttl))
                    .cmd("GET")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await?;
                match (set, holder) {
                    (Some(_), _) => StoreResult::Claimed,
                    (None, Some(v)) => StoreResult::Taken(parse_node(&v)?),
                    (None, None) => {
                        return Err(StoreError::Unexpected("a refused claim with no holder".into()))
                    }
                }
            }
            StoreOp::Refresh { name, owner, ttl } => {
                let n: i64 = self
                    .refresh
                    .key(self.session_key(name))
                    .arg(owner.0)
                    .arg(millis(*ttl))
                    .invoke_async(&mut conn)
                    .await?;
                StoreResult::Refreshed(n == 1)
            }
            StoreOp::Release { name, owner } => {
                let _: i64 =
                    self.release.key(self.session_key(name)).arg(owner.0).invoke_async(&mut conn).await?;
                StoreResult::Done
            }
            StoreOp::Lookup { name } => {
                let v: Option<String> =
                    redis::cmd("GET").arg(self.session_key(name)).query_async(&mut conn).await?;
                StoreResult::Found(v.as_deref().map(parse_node).transpose()?)
            }
            StoreOp::Heartbeat { node, ttl } => {
                let value = heartbeat_value(self.config.cluster_addr, self.config.public_addr);
                let () = redis::cmd("SET")
                    .arg(self.node_key(*node))
                    .arg(value)
                    .arg("PX")
                    .arg(millis(*ttl))
                    .query_async(&mut conn)
                    .await?;
                StoreResult::Done
            }
            StoreOp::Nodes => {
                let nodes = self.live_nodes(&mut conn).await?;
                let ids = nodes.iter().map(|n| n.id).collect();
                return Ok(Answer { result: StoreResult::Nodes(ids), nodes });
            }
        };
        Ok(Answer { result, nodes: Vec::new() })
    }

    /// Deletes this node's heartbeat (a graceful shutdown: the others take it for dead at their
    /// next live-nodes query, not a heartbeat TTL later).
    pub async fn forget(&self, node: NodeId) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: i64 = redis::cmd("DEL").arg(self.node_key(node)).query_async(&mut conn).await?;
        Ok(())
    }

    async fn live_nodes(&self, conn: &mut ConnectionManager) -> Result<Vec<LiveNode>, StoreError> {
        let pattern = format!("{}n:*", self.config.prefix);
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        for _ in 0..SCAN_ROUNDS {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query_async(conn)
                .await?;
            for k in batch {
                if keys.len() < MAX_NODES && !keys.contains(&k) {
                    keys.push(k);
                }
            }
            cursor = next;
            if cursor == 0 || keys.len() >= MAX_NODES {
                break;
            }
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query_async(conn).await?;
        let prefix = format!("{}n:", self.config.prefix);
        let mut nodes: Vec<LiveNode> = keys
            .iter()
            .zip(values)
            .filter_map(|(k, v)| {
                // A key that expired between SCAN and MGET is a node no longer alive.
                let v = v?;
                let id = k.strip_prefix(&prefix)?.parse::<u16>().ok()?;
                let (cluster_addr, public_addr) = parse_heartbeat(&v);
                Some(LiveNode { id: NodeId(id), cluster_addr, public_addr })
            })
            .collect();
        nodes.sort_by_key(|n| n.id);
        Ok(nodes)
    }
}

/// A TTL in whole milliseconds, at least 1 (`PX 0` is an error).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}
