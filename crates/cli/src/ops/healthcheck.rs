//! `rabid-hole-punch healthcheck`: asks a running server's `/healthz` (or another path) and exits
//! 0 on 200, 1 otherwise. For container health checks: a slim image has no curl, and the binary
//! is already there.

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// Flags of `healthcheck`.
#[derive(clap::Args, Debug, Clone)]
pub struct HealthcheckArgs {
    /// The server's metrics address (its --metrics).
    #[arg(long, default_value = super::args::DEFAULT_METRICS)]
    pub addr: SocketAddr,

    /// The path to ask: /healthz (the engine loop runs) or /readyz (the sockets are bound).
    #[arg(long, default_value = "/healthz")]
    pub path: String,

    /// Give up after this many seconds.
    #[arg(long, default_value_t = 3, value_name = "S")]
    pub timeout_s: u64,
}

/// Runs the check; prints one line saying what it saw.
pub fn run(args: HealthcheckArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("healthcheck: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let wait = Duration::from_secs(args.timeout_s);
    match runtime.block_on(async { tokio::time::timeout(wait, get(args.addr, &args.path)).await }) {
        Ok(Ok(200)) => {
            println!("healthy: http://{}{} answered 200", args.addr, args.path);
            ExitCode::SUCCESS
        }
        Ok(Ok(code)) => {
            println!("unhealthy: http://{}{} answered {code}", args.addr, args.path);
            ExitCode::FAILURE
        }
        Ok(Err(e)) => {
            println!("unhealthy: http://{}{}: {e}", args.addr, args.path);
            ExitCode::FAILURE
        }
        Err(_) => {
            println!("unhealthy: http://{}{}: no answer within {wait:?}", args.addr, args.path);
            ExitCode::FAILURE
        }
    }
}

/// The status code of `GET path` at `addr`.
async fn get(addr: SocketAddr, path: &str) -> Result<u16, String> {
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let request = Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    Ok(response.status().as_u16())
}
