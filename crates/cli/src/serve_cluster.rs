//! `serve` as one node of several (issue 19): the cluster flags ([`ClusterArgs`], flattened into
//! `serve`'s, so each is also an `RHP_*` variable and a key of the `[cluster]` table of the
//! config file), their checks, the cluster socket, and the run of the node's shell
//! (`rhp_cluster_shell`) in place of the single-node shell. Without `--cluster-store` none of
//! this runs: `serve` is the single node it always was, with no store.

use crate::headings::CLUSTER;
use rhp_cluster::{ClusterConfig, Node, NodeId};
use rhp_cluster_shell::{ClusterView, RedisStore, StoreConfig};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tracing::{error, info, warn};

/// The prefix of the node's keys in the store.
pub const KEY_PREFIX: &str = "rhp:";

/// The shortest cluster secret taken (bytes, surrounding whitespace trimmed).
pub const SECRET_MIN: usize = 16;

/// The flags of cluster mode.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterArgs {
    /// Run as one node of several, sharing the session names through this Redis/Valkey store
    /// (redis://HOST:PORT[/DB]). Without it: one node, no store. A store that is down at start is
    /// no error: the node serves what it can and /readyz says why until the store answers.
    #[arg(long, value_name = "ADDR", help_heading = CLUSTER)]
    pub cluster_store: Option<String>,

    /// This node's id, unique in the cluster (1-65535): the value its claims carry in the store.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..), help_heading = CLUSTER)]
    pub node_id: Option<u16>,

    /// UDP address for the frames between nodes (players never use it): an address of the
    /// cluster's private network, e.g. 10.0.0.1:57800.
    #[arg(long, value_name = "ADDR", help_heading = CLUSTER)]
    pub cluster_bind: Option<SocketAddr>,

    /// The address the other nodes send frames to (default: --cluster-bind; needed when that is a
    /// wildcard like 0.0.0.0). Written in this node's heartbeat in the store.
    #[arg(long, value_name = "ADDR", help_heading = CLUSTER)]
    pub advertise: Option<SocketAddr>,

    /// File holding the secret every node of the cluster shares (at least 16 bytes; surrounding
    /// whitespace ignored): the key of the frames' MAC.
    #[arg(long, value_name = "FILE", help_heading = CLUSTER)]
    pub cluster_secret_file: Option<PathBuf>,

    /// A session name's claim lives this long in the store unless its owner refreshes it: a dead
    /// node's names are free at most this long after its death (default 30000).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(100..), help_heading = CLUSTER)]
    pub cluster_claim_ttl_ms: Option<u64>,

    /// How often an owner refreshes its names' claims (default a third of the claim's TTL).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(10..), help_heading = CLUSTER)]
    pub cluster_refresh_ms: Option<u64>,

    /// How often the node writes its heartbeat and reads the live nodes (default 1000).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(10..), help_heading = CLUSTER)]
    pub cluster_heartbeat_ms: Option<u64>,

    /// The heartbeat's time to live: a node silent this long is dead to the others (default
    /// three heartbeats).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(30..), help_heading = CLUSTER)]
    pub cluster_heartbeat_ttl_ms: Option<u64>,

    /// How long the node waits for the store's answer before it counts the store unreachable
    /// (default 500).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(10..), help_heading = CLUSTER)]
    pub cluster_store_timeout_ms: Option<u64>,
}

/// A checked cluster configuration with its socket bound, ready to serve.
#[derive(Debug)]
pub struct Prepared {
    cluster: ClusterConfig,
    url: String,
    prefix: String,
    socket: tokio::net::UdpSocket,
    advertise: SocketAddr,
    view: ClusterView,
}

/// Reads the cluster secret: the file's bytes, surrounding whitespace trimmed.
pub fn read_secret(path: &Path) -> Result<Vec<u8>, String> {
    let raw = std::fs::read(path)
        .map_err(|e| format!("cannot read the cluster secret file {}: {e}", path.display()))?;
    let secret = raw.trim_ascii();
    if secret.len() < SECRET_MIN {
        return Err(format!(
            "the cluster secret in {} is {} bytes: at least {SECRET_MIN} are needed (e.g. `head -c 32 /dev/urandom | base64 > {}`)",
            path.display(),
            secret.len(),
            path.display()
        ));
    }
    Ok(secret.to_vec())
}

/// The node's cluster settings from `args` (peers: none; they are read from the store), or why
/// they are refused. `None` without `--cluster-store`.
pub fn check(args: &ClusterArgs) -> Result<Option<(ClusterConfig, String)>, String> {
    let Some(url) = args.cluster_store.clone() else {
        let stray = [
            ("--node-id", args.node_id.is_some()),
            ("--cluster-bind", args.cluster_bind.is_some()),
            ("--advertise", args.advertise.is_some()),
            ("--cluster-secret-file", args.cluster_secret_file.is_some()),
        ];
        if let Some((flag, _)) = stray.iter().find(|(_, set)| *set) {
            return Err(format!("{flag} is a cluster setting: it needs --cluster-store redis://HOST:PORT"));
        }
        return Ok(None);
    };
    rhp_cluster_shell::store::check_url(&url).map_err(|e| e.to_string())?;
    let need = |what: &str| format!("--cluster-store needs {what}");
    let id = args.node_id.ok_or_else(|| need("--node-id N (unique in the cluster)"))?;
    let bind = args
        .cluster_bind
        .ok_or_else(|| need("--cluster-bind IP:PORT (the address for frames between nodes)"))?;
    if args.advertise.is_none() && bind.ip().is_unspecified() {
        return Err(format!(
            "--cluster-bind {bind} is a wildcard: give --advertise IP:PORT, the address the other nodes reach this one at"
        ));
    }
    if args.advertise.is_some_and(|a| a.ip().is_unspecified() || a.port() == 0) {
        return Err("--advertise must be an address other nodes can send to (no wildcard, no port 0)".into());
    }
    let path = args.cluster_secret_file.as_ref().ok_or_else(|| need("--cluster-secret-file FILE"))?;
    let secret = read_secret(path)?;
    let mut c = ClusterConfig::new(NodeId(id), Vec::new(), &secret);
    let ms = Duration::from_millis;
    if let Some(t) = args.cluster_claim_ttl_ms {
        c.claim_ttl = ms(t);
        c.refresh_every = c.claim_ttl / 3;
    }
    if let Some(t) = args.cluster_refresh_ms {
        c.refresh_every = ms(t);
    }
    if let Some(t) = args.cluster_heartbeat_ms {
        c.heartbeat_every = ms(t);
        c.heartbeat_ttl = c.heartbeat_every * 3;
    }
    if let Some(t) = args.cluster_heartbeat_ttl_ms {
        c.heartbeat_ttl = ms(t);
    }
    if let Some(t) = args.cluster_store_timeout_ms {
        c.store_timeout = ms(t);
    }
    if c.refresh_every >= c.claim_ttl {
        return Err(format!(
            "--cluster-refresh-ms ({:?}) must be shorter than the claim's TTL ({:?})",
            c.refresh_every, c.claim_ttl
        ));
    }
    if c.heartbeat_every >= c.heartbeat_ttl {
        return Err(format!(
            "--cluster-heartbeat-ms ({:?}) must be shorter than the heartbeat's TTL ({:?})",
            c.heartbeat_every, c.heartbeat_ttl
        ));
    }
    // The node's tick must see a missed store deadline, a heartbeat and a refresh in time.
    c.tick = c.tick.min(c.store_timeout / 2).min(c.heartbeat_every / 2).max(Duration::from_millis(5));
    Ok(Some((c, url)))
}

/// Checks the cluster flags and binds the cluster socket. `Ok(None)` without `--cluster-store`;
/// on refused settings (logged) exit 2, on a socket that cannot be bound exit 1.
pub async fn prepare(args: &ClusterArgs) -> Result<Option<Prepared>, ExitCode> {
    let (cluster, url) = match check(args) {
        Ok(Some(c)) => c,
        Ok(None) => return Ok(None),
        Err(m) => {
            error!("{m}");
            return Err(ExitCode::from(2));
        }
    };
    let Some(bind) = args.cluster_bind else { return Ok(None) };
    let options = rhp_server::shell::SocketOptions::default();
    let socket = match rhp_server::shell::bind_with(bind, &options).await {
        Ok((s, _)) => s,
        Err(e) => {
            error!("cannot listen for the other nodes on udp://{bind}: {e}");
            return Err(ExitCode::FAILURE);
        }
    };
    let local = socket.local_addr().unwrap_or(bind);
    let advertise = args.advertise.unwrap_or(local);
    let prefix = KEY_PREFIX.to_string();
    Ok(Some(Prepared { cluster, url, prefix, socket, advertise, view: ClusterView::new() }))
}

impl Prepared {
    /// What `/readyz` and the metrics read.
    pub fn view(&self) -> ClusterView {
        self.view.clone()
    }

    /// Runs the node on `main` (and `alt`) until `shutdown` completes.
    pub async fn serve(
        self,
        config: rhp_server::Config,
        main: tokio::net::UdpSocket,
        alt: Option<tokio::net::UdpSocket>,
        shutdown: impl std::future::Future<Output = ()>,
        reconfigure: rhp_cluster_shell::Reconfigure,
        monitor: rhp_server::shell::monitor::Monitor,
    ) {
        let public = main.local_addr().unwrap_or(self.advertise);
        let c = &self.cluster;
        let store = match RedisStore::new(StoreConfig {
            url: self.url.clone(),
            prefix: self.prefix.clone(),
            cluster_addr: self.advertise,
            public_addr: public,
            timeout: c.store_timeout,
        }) {
            Ok(s) => s,
            Err(e) => {
                // The URL was checked already: only a client that cannot be built at all.
                return error!("cluster store: {e}");
            }
        };
        let local = self.socket.local_addr().map_or_else(|_| "?".to_string(), |a| a.to_string());
        info!(
            "cluster node {}: frames on udp://{local} (advertised {}), store {} (keys {}*), claims live {:?} (refreshed every {:?}), heartbeat every {:?} (TTL {:?}), store timeout {:?}",
            c.id.0, self.advertise, self.url, self.prefix, c.claim_ttl, c.refresh_every, c.heartbeat_every, c.heartbeat_ttl, c.store_timeout
        );
        if self.advertise.ip().is_loopback() && !public.ip().is_loopback() {
            warn!(
                "the cluster address {} is loopback: nodes on other machines cannot reach it",
                self.advertise
            );
        }
        let mut cluster = self.cluster;
        // Grants to players served through another node name this node for their relay frames.
        cluster.public = Some(public).filter(|p| !p.ip().is_unspecified());
        let node = Node::new(config, cluster, Instant::now());
        let sockets = rhp_cluster_shell::Sockets { main, alt, cluster: self.socket };
        rhp_cluster_shell::run(node, sockets, store, shutdown, Some(reconfigure), monitor, self.view).await;
    }
}
