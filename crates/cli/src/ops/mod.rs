//! Running the server as a service: the operations flags of `serve` ([`OpsArgs`], flattened into
//! its arguments), and what they start around the engine's loop: the metrics/health HTTP endpoint
//! ([`http`]), the service manager's notifications ([`notify`]), the log format ([`log_format`]).
//! [`healthcheck`] is the client side of `/healthz` for container health checks.

pub mod args;
pub mod healthcheck;
pub mod http;
pub mod log_format;
pub mod metrics;
pub mod notify;
pub mod process;
pub mod readiness;

pub use args::{LogFormat, MetricsAddr, OpsArgs};

use process::Sockets;
use readiness::Readiness;
use rhp_cluster_shell::ClusterView;
use rhp_server::shell::monitor::{Monitor, MonitorHandle};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// Set to 1 in the environment, `serve` stalls its engine loop for [`STALL`] on each SIGUSR1: a
/// test hook (a stalled loop must fail `/healthz`). Not a flag: nobody should find it in `--help`.
pub const TEST_HOOKS_ENV: &str = "RHP_TEST_HOOKS";

/// How long the test hook stalls the loop.
pub const STALL: Duration = Duration::from_secs(3);

/// What the operations side runs beside the loop.
#[derive(Debug)]
pub struct Ops {
    ready: Arc<Readiness>,
    /// Kept so the loop's request channel stays open even with the endpoint off.
    _handle: MonitorHandle,
}

/// Starts the operations side once the UDP sockets are bound: the HTTP endpoint (if on), the
/// watchdog, the test hook; returns it with the [`Monitor`] to hand to the loop. An explicit
/// `--metrics` address that cannot be bound is an error; the default one only a warning. A
/// cluster node's `cluster` view adds its store's reachability to `/readyz` and its counters to
/// the metrics.
pub fn start(
    args: &OpsArgs,
    main: &tokio::net::UdpSocket,
    alt: Option<&tokio::net::UdpSocket>,
    cluster: Option<ClusterView>,
) -> Result<(Ops, Monitor), String> {
    let (monitor, handle) = Monitor::new(notify::watchdog());
    let mut ready = Readiness::new(&[readiness::SOCKETS]);
    if let Some(view) = cluster.clone() {
        ready = ready.with_probe(readiness::CLUSTER_STORE, Box::new(move || view.get().not_ready()));
    }
    let ready = Arc::new(ready);
    let sockets = Sockets::of(main.as_fd(), alt.map(|s| s.as_fd()));
    match args.metrics_addr() {
        MetricsAddr::Off => info!("metrics endpoint off"),
        MetricsAddr::At(addr) => match http::spawn(addr, handle.clone(), ready.clone(), sockets, cluster) {
            Ok(local) => info!("metrics on http://{local}/metrics (health: /healthz, /readyz)"),
            Err(e) if args.metrics.is_none() => {
                warn!("no metrics endpoint: cannot listen on tcp://{addr}: {e} (--metrics sets another, or off)")
            }
            Err(e) => return Err(format!("cannot listen for metrics on tcp://{addr}: {e}")),
        },
    }
    if std::env::var_os(TEST_HOOKS_ENV).is_some_and(|v| v == "1") {
        stall_on_sigusr1(handle.clone());
    }
    Ok((Ops { ready, _handle: handle }, monitor))
}

impl Ops {
    /// The sockets are bound and the loop is about to run: `/readyz` passes, systemd hears READY=1.
    pub fn ready(&self, status: &str) {
        self.ready.set(readiness::SOCKETS, true);
        notify::ready(status);
    }

    /// Shutting down: `/readyz` fails, systemd hears STOPPING=1.
    pub fn stopping(&self) {
        self.ready.set(readiness::SOCKETS, false);
        notify::stopping();
    }
}

/// The test hook: each SIGUSR1 stalls the loop for [`STALL`].
fn stall_on_sigusr1(handle: MonitorHandle) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut usr1 = match signal(SignalKind::user_defined1()) {
        Ok(s) => s,
        Err(e) => return warn!("test hook: cannot catch SIGUSR1: {e}"),
    };
    warn!("test hooks on ({TEST_HOOKS_ENV}=1): SIGUSR1 stalls the engine loop for {STALL:?}");
    tokio::spawn(async move {
        while usr1.recv().await.is_some() {
            handle.stall(STALL);
        }
    });
}
