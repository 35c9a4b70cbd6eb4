//! The operations HTTP endpoint: `/metrics`, `/healthz`, `/readyz`, served by hyper on a thread of
//! its own (its own small runtime), so it answers even when the engine's loop is stalled and never
//! takes time from it. Only GET/HEAD on those three paths; anything else is 404/405. Connections
//! are bounded in number and time, and nothing a request carries can crash the server.

use super::metrics::{self, Scrape};
use super::process::{self, Sockets};
use super::readiness::Readiness;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use rhp_cluster_shell::ClusterView;
use rhp_server::shell::monitor::MonitorHandle;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tracing::{debug, warn};

/// `/healthz` fails when the engine loop has not turned for this long.
pub const STALL_LIMIT: Duration = Duration::from_secs(1);

/// How long a scrape waits for the engine's counters.
const SNAPSHOT_WAIT: Duration = Duration::from_millis(900);

/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 64;

/// A connection is closed after this long, whatever it is doing.
const CONNECTION_LIMIT: Duration = Duration::from_secs(10);

/// What the handlers read.
#[derive(Debug)]
struct State {
    monitor: MonitorHandle,
    ready: Arc<Readiness>,
    sockets: Sockets,
    /// A cluster node's view (its counters in the metrics).
    cluster: Option<ClusterView>,
    /// When the endpoint started (seconds since the Unix epoch): the process start time where
    /// /proc/stat cannot be read.
    started: f64,
}

/// Binds `addr` (here, so a failure is reported before the server starts) and serves on a thread
/// of its own until the process ends. Returns the bound address.
pub fn spawn(
    addr: SocketAddr,
    monitor: MonitorHandle,
    ready: Arc<Readiness>,
    sockets: Sockets,
    cluster: Option<ClusterView>,
) -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let started =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    let state = Arc::new(State { monitor, ready, sockets, cluster, started });
    std::thread::Builder::new().name("rhp-http".into()).spawn(move || {
        runtime.block_on(async move {
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => serve(listener, state).await,
                Err(e) => warn!("metrics endpoint: cannot listen: {e}"),
            }
        })
    })?;
    Ok(local)
}

async fn serve(listener: tokio::net::TcpListener, state: Arc<State>) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else { return };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                debug!("metrics endpoint: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(route(&state, req).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(5))
                .serve_connection(TokioIo::new(stream), service);
            if let Ok(Err(e)) = tokio::time::timeout(CONNECTION_LIMIT, conn).await {
                debug!("metrics endpoint: connection: {e}");
            }
            drop(permit);
        });
    }
}

async fn route(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n".into());
    }
    match req.uri().path() {
        "/metrics" => {
            let accept = req.headers().get(hyper::header::ACCEPT).and_then(|v| v.to_str().ok());
            scrape(state, metrics::Format::negotiate(accept)).await
        }
        "/healthz" => match state.monitor.since_last_turn() {
            Some(age) if age <= STALL_LIMIT => text(StatusCode::OK, "ok\n".into()),
            Some(age) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("engine loop stalled: last turn {} ms ago\n", age.as_millis()),
            ),
            None => text(StatusCode::SERVICE_UNAVAILABLE, "engine loop not running\n".into()),
        },
        "/readyz" => {
            let (ready, report) = state.ready.report();
            let code = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            text(code, report)
        }
        _ => text(StatusCode::NOT_FOUND, "try /metrics, /healthz or /readyz\n".into()),
    }
}

async fn scrape(state: &State, format: metrics::Format) -> Response<Full<Bytes>> {
    let engine = state.monitor.snapshot(SNAPSHOT_WAIT).await;
    let scrape = Scrape {
        engine,
        process: process::process_stats(state.started),
        drops: state.sockets.drops(),
        cluster: state.cluster.as_ref().map(|v| v.get()),
    };
    match metrics::render(scrape, format) {
        Ok(body) => {
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
            r
        }
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode the metrics\n".into()),
    }
}

fn text(code: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}
