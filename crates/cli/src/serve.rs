//! `rabid-hole-punch serve`: the rendezvous server. Parses flags (and the original's
//! `<port> [DEBUG]` form), sets up logging, binds the socket (and the alternate STUN port), runs the
//! `rhp_server` shell until SIGINT/SIGTERM.

use crate::config_layers::{self, ConfigError};
use crate::logging::{self, LogOptions};
use crate::reload::{self, Reloader};
pub use crate::serve_args::ServeArgs;
use rhp_server::Engine;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::ExitCode;
use tracing::{error, info};

/// The original's `<port> [DEBUG]` form, if `argv` is that (`argv[1]` all digits, a port,
/// optionally `argv[2] == "DEBUG"`): the same as `serve` flags. Anything else is left to the normal
/// parser.
pub fn legacy_args(argv: &[OsString]) -> Option<Vec<OsString>> {
    let port = argv.get(1)?.to_str()?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let level = match argv.get(2).map(|a| a.to_str()) {
        None => "info",
        Some(Some("DEBUG")) => "debug",
        Some(_) => return None,
    };
    if argv.len() > 3 {
        return None;
    }
    Some(["--port", port, "--log-level", level].iter().map(OsString::from).collect())
}

/// What to say to a positional argument the original's form does not take (`serve 57810`,
/// `rabid-hole-punch 57810 debug`): the forms that would work. `None` when `argv` has no such
/// mistake.
pub fn positional_hint(argv: &[OsString]) -> Option<String> {
    fn is_port(a: Option<&OsString>) -> Option<&str> {
        a.and_then(|a| a.to_str()).filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
    }
    let arg1 = argv.get(1).and_then(|a| a.to_str());
    if arg1 == Some("serve") {
        let port = is_port(argv.get(2))?;
        return Some(format!(
            "`serve` takes the port as a flag: rabid-hole-punch serve --port {port}\n\
             (or the original server's form: rabid-hole-punch {port})"
        ));
    }
    let port = is_port(argv.get(1))?;
    let rest: Vec<String> = argv.iter().skip(2).map(|a| a.to_string_lossy().into_owned()).collect();
    let debug = rest.first().is_some_and(|a| a.eq_ignore_ascii_case("debug"));
    let mut hint = format!(
        "the original server's form is: rabid-hole-punch <PORT> [DEBUG] (got {port} {})",
        rest.join(" ")
    );
    if debug {
        hint.push_str(&format!(
            "\ndid you mean: rabid-hole-punch {port} DEBUG   (DEBUG in capitals)\n\
             or:           rabid-hole-punch serve --port {port} --log-level debug"
        ));
    } else {
        hint.push_str(&format!("\nfor every other setting: rabid-hole-punch serve --port {port} --help"));
    }
    Some(hint)
}

/// `rabid-hole-punch serve <user_args>` (or the original's form, as flags): resolves the settings
/// (flags, `RHP_*` variables, `--config` file, defaults), prints them with `--print-config`, or runs
/// the server. A refused configuration exits 2 before anything is bound.
pub fn main(user_args: Vec<OsString>) -> ExitCode {
    let resolved = match config_layers::resolve(&user_args) {
        Ok(r) => r,
        Err(ConfigError::Clap(e)) => e.exit(),
        Err(ConfigError::Message(m)) => {
            eprintln!("rabid-hole-punch: {m}");
            return ExitCode::from(2);
        }
    };
    if resolved.args.print_config {
        for name in &resolved.unknown_env {
            eprintln!("rabid-hole-punch: warning: {}", unknown_env_warning(name));
        }
        print!("{}", resolved.toml);
        return ExitCode::SUCCESS;
    }
    run(resolved.args, user_args, &resolved.toml, &resolved.unknown_env)
}

/// What to say about an `RHP_*` variable that sets nothing.
fn unknown_env_warning(name: &str) -> String {
    format!("environment variable {name} is not a serve setting: ignored (`serve --help` lists them)")
}

/// Runs the server until SIGINT/SIGTERM; SIGHUP reloads (see [`crate::reload`]) from `user_args`
/// and the file, compared with `toml` (the settings as printed). Exit 0 on a signal, 1 if it cannot
/// start.
pub fn run(args: ServeArgs, user_args: Vec<OsString>, toml: &str, unknown_env: &[String]) -> ExitCode {
    let log = LogOptions {
        level: args.log_level,
        file: (!args.no_log_file).then(|| args.log_file.clone()),
        format: args.ops.log_format,
    };
    let level = match logging::init(&log) {
        Ok(level) => level,
        Err(e) => {
            eprintln!("rabid-hole-punch: {e}");
            return ExitCode::FAILURE;
        }
    };
    for name in unknown_env {
        tracing::warn!("{}", unknown_env_warning(name));
    }
    let (engine_tx, engine_rx) = tokio::sync::mpsc::unbounded_channel();
    let reloader = Reloader { user_args, running: reload::settings(toml), level, engine: engine_tx };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(args, reloader, engine_rx))
}

async fn serve(args: ServeArgs, reloader: Reloader, reconfigure: rhp_server::shell::Reconfigure) -> ExitCode {
    // Signals first, so a SIGTERM right after the "listening" line is already handled.
    let shutdown = match shutdown_signal() {
        Ok(f) => f,
        Err(e) => {
            error!("cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cluster = match crate::serve_cluster::prepare(&args.cluster).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    if cluster.is_some() && args.bind.0.len() > 1 {
        error!(
            "--cluster-store: a cluster node serves one --bind address (`::` for both families), not a list"
        );
        return ExitCode::from(2);
    }
    match reloader.install() {
        Ok(reloads) => drop(tokio::spawn(reloads)),
        Err(e) => {
            error!("cannot install the SIGHUP handler: {e}");
            return ExitCode::FAILURE;
        }
    }
    let pairs = match bind_all(&args).await {
        Ok(pairs) => pairs,
        Err(code) => return code,
    };
    let locals: Vec<SocketAddr> =
        pairs.iter().map(|(main, _, addr)| main.local_addr().unwrap_or(*addr)).collect();
    let pairs: Vec<(tokio::net::UdpSocket, Option<tokio::net::UdpSocket>)> =
        pairs.into_iter().map(|(main, alt, _)| (main, alt)).collect();
    let config = args.config();
    info!(
        "player timeout {:?}, session lifetime {:?}, {} start rounds every {:?}, timeout errors {}x every {:?}",
        config.player_timeout,
        config.session_lifetime,
        config.start_rounds,
        config.start_interval,
        config.error_repeats,
        config.error_interval
    );
    if config.budget.factor == 0 {
        info!("anti-reflection budget off");
    } else {
        info!(
            "anti-reflection budget {}x over {:?} (every member's address and {} more after they leave{}), i: refresh {:?}",
            config.budget.factor,
            config.budget.window,
            config.budget.max_tracked,
            if config.budget.limit_loopback { ", loopback too" } else { ", loopback exempt" },
            config.info_refresh
        );
    }
    info!(
        "caps: {} sessions ({} per IP), {} players ({} per IP), {} creations/s per IP (burst {})",
        config.max_sessions,
        config.max_sessions_per_ip,
        config.max_players,
        config.max_players_per_ip,
        config.create_rate,
        config.create_burst
    );
    let relay = &config.relay;
    if relay.is_on() {
        info!(
            "relay on: {} B/s per player (burst {}), {} B/s in all, {} per IP, {} sessions, lifetime {:?}, idle {:?}",
            relay.player_rate,
            relay.player_burst,
            relay.server_rate,
            relay.max_per_ip,
            relay.max_sessions,
            relay.lifetime,
            relay.idle
        );
    } else {
        info!("relay off");
    }
    let listening: Vec<String> = locals.iter().map(|l| format!("udp://{l}")).collect();
    // Space-separated: each address stands alone (what scripts and tests split on).
    let listening = listening.join(" ");
    if locals.len() == 1 && locals[0].ip() == std::net::Ipv6Addr::UNSPECIFIED {
        info!("listening on {listening} (IPv4 and IPv6: one dual-stack socket)");
    } else if locals.len() > 1 {
        info!("listening on {listening} (one socket each, each answering from its own address)");
    } else {
        info!("listening on {listening}");
    }
    for ((_, alt), local) in pairs.iter().zip(&locals) {
        match alt.as_ref().and_then(|s| s.local_addr().ok()) {
            Some(alt_local) => info!("STUN alternate port on udp://{alt_local} (STUN on udp://{local} too)"),
            None => info!("STUN on udp://{local}; no alternate port"),
        }
    }
    let shell_options = rhp_server::shell::ShellOptions { io_batch: args.io_batch as usize };
    // The operations endpoints watch the first address's sockets.
    let view = cluster.as_ref().map(|c| c.view());
    let (ops, monitor) = match crate::ops::start(&args.ops, &pairs[0].0, pairs[0].1.as_ref(), view) {
        Ok(started) => started,
        Err(e) => {
            error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    ops.ready(&format!("listening on {listening}"));
    if let Some(cluster) = cluster {
        // Cluster mode serves one address (checked before binding): its main and alternate socket.
        let Some((socket, alt)) = pairs.into_iter().next() else { return ExitCode::FAILURE };
        cluster.serve(config, socket, alt, shutdown, reconfigure, monitor).await;
        ops.stopping();
        info!("stopped");
        return ExitCode::SUCCESS;
    }
    let engine = Engine::new(config);
    rhp_server::shell::run_pairs(pairs, engine, shutdown, shell_options, Some(reconfigure), monitor).await;
    ops.stopping();
    info!("stopped");
    ExitCode::SUCCESS
}

/// The port the alternate STUN socket of a main socket asked for on `port` (`--port`, or the one
/// an address of `--bind` carries) is to use: `None` for none. The default is the main port + 1
/// (none past 65535), or any free port when the main port is picked by the system.
pub(crate) fn alt_port(args: &ServeArgs, port: u16) -> Option<u16> {
    match args.alt_port {
        Some(0) => None,
        Some(port) => Some(port),
        None if port == 0 => Some(0),
        None => port.checked_add(1),
    }
}

/// A bound address: its main socket, its alternate STUN socket, the address asked for.
type Bound = (tokio::net::UdpSocket, Option<tokio::net::UdpSocket>, SocketAddr);

/// Binds every address of `--bind` (and each one's alternate STUN port). `::` alone falls back to
/// `0.0.0.0` on a machine without IPv6; an address of a list that cannot be bound stops the server
/// (exit 1), saying which and why.
async fn bind_all(args: &ServeArgs) -> Result<Vec<Bound>, ExitCode> {
    let socket_options =
        rhp_server::shell::SocketOptions { recv_buffer: args.recv_buffer, send_buffer: args.send_buffer };
    let mut bound = Vec::new();
    let several = args.bind.0.len() > 1;
    for &(ip, port) in &args.bind.0 {
        let port = port.unwrap_or(args.port);
        let mut addr = SocketAddr::new(ip, port);
        let mut result = rhp_server::shell::bind_with(addr, &socket_options).await;
        if let Err(e) = &result {
            if args.bind.single() == Some(std::net::Ipv6Addr::UNSPECIFIED.into())
                && e.kind() != std::io::ErrorKind::AddrInUse
            {
                // `::` means both families; a machine or container without IPv6 still serves IPv4.
                let v4 = SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), args.port);
                tracing::warn!(
                    "cannot listen on udp://{addr} ({e}): no IPv6 here? serving IPv4 only on udp://{v4}"
                );
                addr = v4;
                result = rhp_server::shell::bind_with(addr, &socket_options).await;
            }
        }
        let socket = match result {
            Ok((s, sizes)) if several => {
                info!(
                    "socket buffers of udp://{addr}: receive {} bytes, send {} bytes",
                    sizes.recv, sizes.send
                );
                s
            }
            Ok((s, sizes)) => {
                info!("socket buffers: receive {} bytes, send {} bytes", sizes.recv, sizes.send);
                s
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => {
                error!("cannot listen on udp://{addr}: {e} (is {} an address of this host?)", addr.ip());
                return Err(ExitCode::FAILURE);
            }
            Err(e) => {
                error!("cannot listen on udp://{addr}: {e}");
                return Err(ExitCode::FAILURE);
            }
        };
        let local = socket.local_addr().unwrap_or(addr);
        let alt = bind_alt(args, local, port).await?;
        bound.push((socket, alt, addr));
    }
    Ok(bound)
}

/// Binds the alternate STUN socket of the main socket bound at `main` (asked for on port `asked`,
/// 0 letting the system pick). An explicit `--alt-port` that cannot be bound stops the server
/// (exit 1); the default one is skipped with a warning.
async fn bind_alt(
    args: &ServeArgs,
    main: SocketAddr,
    asked: u16,
) -> Result<Option<tokio::net::UdpSocket>, ExitCode> {
    let Some(port) = alt_port(args, asked) else { return Ok(None) };
    let addr = SocketAddr::new(main.ip(), port);
    // STUN traffic is small: the kernel's default buffers are enough.
    let small = rhp_server::shell::SocketOptions { recv_buffer: 0, send_buffer: 0 };
    match rhp_server::shell::bind_with(addr, &small).await {
        Ok((socket, _)) => Ok(Some(socket)),
        Err(e) if args.alt_port.is_some() => {
            error!("cannot listen on the alternate port udp://{addr}: {e}");
            Err(ExitCode::FAILURE)
        }
        Err(e) => {
            tracing::warn!(
                "no alternate STUN port: cannot listen on udp://{addr}: {e} (--alt-port sets another)"
            );
            Ok(None)
        }
    }
}

/// A future that completes on SIGINT or SIGTERM (logging which).
pub(crate) fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => info!("SIGTERM received"),
                _ = int.recv() => info!("SIGINT received"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::warn!("cannot wait for Ctrl-C: {e}");
                std::future::pending::<()>().await;
            }
            info!("Ctrl-C received");
        })
    }
}
