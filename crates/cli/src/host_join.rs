//! `rabid-hole-punch host` and `join`: one player, from the rendezvous server to a confirmed UDP
//! path to every other player, then a line chat over those paths (or, with `--send`/`--expect`, a
//! scripted exchange).
//!
//! Output contract (the NAT lab parses stdout; keep it exact):
//! - `nat mapping=… preserves=… step=… public=… desc=…` once the NAT is classified (see
//!   [`crate::nat`]);
//! - `connected peer=<name> addr=<ip:port> after_start_ms=<ms> method=<plain|predicted|birthday|relay>
//!   [probes=<n>]` per connected peer (`probes`: birthday probes we sent until then; `relay`: the
//!   address is the server's);
//! - `failed peer=<name> reason=<no_reply|no_confirm>` per failed peer;
//! - `punch-done connected=<k>/<n> after_start_ms=<ms>` once every peer has a path (direct or
//!   relayed), or the peer phase ended;
//! - `upgraded peer=<name> addr=<ip:port> after_start_ms=<ms> method=<m> [probes=<n>]` when a relayed peer
//!   moves to a direct path; `relay-refused reason=<code>` when a relay cap bit;
//! - `stream peer=… sent=… received=… loss_pct=… p50_ms=… p99_ms=… path=…` after `--stream`;
//! - `<name>: <text>` per application message received.
//!
//! `ms` counts from the arrival of the server's `s:` message. Progress goes to stderr.

use rhp_client::{Client, ClientError, Config, Control, Event, Mesh, Role, Timers};
use rhp_proto::DEFAULT_PORT;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Longest chat line or `--send` text sent (bytes); longer lines are cut.
const MAX_LINE: usize = 1200;
/// `--send` text goes to every peer this often until `--expect` is met (UDP may lose any copy).
const SEND_EVERY: Duration = Duration::from_millis(200);
/// Rounds sent before a satisfied `--expect` may stop sending.
const MIN_SEND_ROUNDS: u32 = 3;
/// After `--expect` is met, a peer still sending has not had our text yet (its copies or ours were
/// lost): each of its messages is answered with ours until the peers are quiet this long…
const LINGER_QUIET: Duration = Duration::from_millis(700);
/// …or at most this long.
const LINGER_MAX: Duration = Duration::from_secs(5);
/// Replies per peer while lingering: enough that losing them all is unlikely (0.2⁶ at 20% loss),
/// few enough that two lingering players answering each other stop soon.
const LINGER_REPLIES: u32 = 6;
/// How long a finished player keeps answering late peers (a host's `s:<n>` to Godot clients).
const SETTLE: Duration = Duration::from_secs(2);

/// Flags shared by `host` and `join`.
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// Session password (1-12 letters or digits).
    #[arg(long)]
    password: Option<String>,
    /// Rendezvous server, HOST:PORT.
    #[arg(long, default_value_t = format!("127.0.0.1:{DEFAULT_PORT}"), value_name = "HOST:PORT")]
    server: String,
    /// Local address to bind the one UDP socket used for the whole run.
    #[arg(long, default_value = "0.0.0.0:0", value_name = "IP:PORT")]
    bind: SocketAddr,
    /// Seconds after the start message by which every peer must be connected; the rest are
    /// reported failed. Keep it above 15 when Godot peers take part.
    #[arg(long, default_value_t = 20.0, value_name = "S", value_parser = seconds)]
    peer_timeout_s: f64,
    /// Seconds of server silence before giving up.
    #[arg(long, default_value_t = 15.0, value_name = "S", value_parser = seconds)]
    server_timeout_s: f64,
    /// Host: the n of the s:<n> sent to peers ("the game starts in n seconds"; Godot clients
    /// finish n seconds after it).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=3600))]
    start_in_s: u32,
    /// Script mode: send TEXT to every peer (a few times, UDP may lose one), then exit once
    /// --expect is met.
    #[arg(long, value_name = "TEXT")]
    send: Option<String>,
    /// Script mode: wait for messages from N distinct peers, print them, exit 0.
    #[arg(long, value_name = "N")]
    expect: Option<usize>,
    /// Script mode: give up waiting for --expect after this many seconds (after the peer phase).
    #[arg(long, default_value_t = 10.0, value_name = "S", value_parser = seconds)]
    expect_timeout_s: f64,
    /// Script mode, once --expect is met: a steady stream to every peer (PPS datagrams/s of
    /// BYTES bytes for SECS s, e.g. 30:200:30), then one `stream peer=… loss_pct=… p50_ms=…`
    /// line per peer for what arrived of theirs.
    #[arg(long, value_name = "PPS:BYTES:SECS", value_parser = crate::stream::parse)]
    stream: Option<crate::stream::Stream>,
    /// Script mode: keep the mesh up this many seconds at the end (answering peers, reporting
    /// path changes such as a relayed peer's move to a direct path).
    #[arg(long, value_name = "S", value_parser = seconds)]
    hold_s: Option<f64>,
    #[command(flatten)]
    nat: crate::nat::NatFlags,
}

/// Flags of `host`.
#[derive(clap::Args, Debug)]
pub struct HostArgs {
    /// Session name (1-10 letters or digits).
    session: String,
    /// Your player name (1-12 letters or digits).
    player: String,
    /// Most players in the session, you included (2-12).
    #[arg(long, value_parser = clap::value_parser!(u8).range(2..=12))]
    max: u8,
    /// Start the session once this many players are in it (default: --max).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(2..=12))]
    start_when: Option<u8>,
    /// Never start by itself: type /start (stdin) when everyone is in.
    #[arg(long, conflicts_with = "start_when")]
    manual_start: bool,
    #[command(flatten)]
    common: Common,
}

/// Flags of `join`.
#[derive(clap::Args, Debug)]
pub struct JoinArgs {
    /// Session name (1-10 letters or digits).
    session: String,
    /// Your player name (1-12 letters or digits).
    player: String,
    /// If the host leaves and you become host: start once this many players are in the session.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(2..=12))]
    start_when: Option<u8>,
    #[command(flatten)]
    common: Common,
}

fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds between 0 and 86400")),
    }
}

/// Runs `host`.
pub fn run_host(args: HostArgs) -> ExitCode {
    let start_when = args.start_when.unwrap_or(args.max);
    if start_when > args.max {
        eprintln!("error: --start-when {start_when} is more than --max {}", args.max);
        return ExitCode::from(2);
    }
    let start_when = if args.manual_start { None } else { Some(start_when) };
    run(args.session, args.player, Role::Host { max_players: args.max }, start_when, args.common)
}

/// Runs `join`.
pub fn run_join(args: JoinArgs) -> ExitCode {
    run(args.session, args.player, Role::Join, args.start_when, args.common)
}

fn run(session: String, player: String, role: Role, start_when: Option<u8>, common: Common) -> ExitCode {
    // The library's own logs (every method choice, socket, re-pin) on stderr when asked for:
    // RUST_LOG=rhp_client=debug.
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(play(session, player, role, start_when, common)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            match e {
                ClientError::InvalidConfig(_) => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

pub(crate) async fn resolve(server: &str) -> Result<SocketAddr, ClientError> {
    let bad =
        || ClientError::InvalidConfig(format!("cannot resolve the server address {server:?} (HOST:PORT)"));
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(server).await.map_err(|_| bad())?.collect();
    addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()).copied().ok_or_else(bad)
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

async fn play(
    session: String,
    player: String,
    role: Role,
    start_when: Option<u8>,
    common: Common,
) -> Result<ExitCode, ClientError> {
    let server = resolve(&common.server).await?;
    let config = Config {
        server,
        session: session.clone(),
        player: player.clone(),
        password: common.password.clone(),
        role,
        start_in_secs: common.start_in_s,
        timers: Timers {
            peer_deadline: Duration::from_secs_f64(common.peer_timeout_s),
            server_timeout: Duration::from_secs_f64(common.server_timeout_s),
            ..Timers::default()
        },
        nat: common.nat.config(),
        ..Config::host(server, &session, &player, 2)
    };
    let (client, control, mut events) = Client::bind(config, Some(common.bind)).await?;
    let local = client.local_addr()?;
    let verb = if matches!(role, Role::Host { .. }) { "creating" } else { "joining" };
    eprintln!("{verb} session {session} as {player} via {server} (local {local})");
    eprintln!("lobby commands on stdin: /start (host), /kick NAME (host), /unban NAME (host), /exit");
    let mut run = tokio::spawn(client.run());
    let mut lobby = Lobby { me: player.clone(), start_when, started: false, control: control.clone() };
    let mut input = Input { lines: tokio::io::BufReader::new(tokio::io::stdin()).lines(), open: true };
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let result = loop {
        tokio::select! {
            Some(ev) = events.recv() => lobby.report(&ev),
            r = &mut run => break r,
            line = input.lines.next_line(), if input.open => match line {
                Ok(Some(line)) => lobby.command(line.trim()),
                Ok(None) | Err(_) => input.open = false,
            },
            _ = &mut ctrl_c => {
                eprintln!("leaving the session...");
                control.exit();
                // Bounded: the server confirms within a round trip; else the run ends by itself.
                let _ = tokio::time::timeout(Duration::from_secs(2), &mut run).await;
                return Ok(ExitCode::from(130));
            }
        }
    };
    // Everything reported before the run returned is in the channel already.
    while let Ok(ev) = events.try_recv() {
        lobby.report(&ev);
    }
    let mut mesh = match result {
        Ok(Ok(mesh)) => mesh,
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(ClientError::Stopped),
    };
    eprintln!(
        "peer phase over: {} of {} peers connected; host is {}; our port as peers see it: {}",
        mesh.connected().len(),
        mesh.peers().len(),
        if mesh.is_host() { "us".to_owned() } else { mesh.host() },
        mesh.my_port()
    );
    // SIGTERM/SIGINT end the run cleanly: the relay slot goes back to the server either way.
    let stop = crate::serve::shutdown_signal().map_err(ClientError::Io)?;
    let work = async {
        if common.send.is_some() || common.expect.is_some() {
            script(&mut mesh, &mut events, &common).await
        } else {
            chat(&mut mesh, &mut events, input).await
        }
    };
    let code = tokio::select! {
        r = work => r?,
        () = stop => {
            eprintln!("stopping: leaving the relay");
            ExitCode::from(143)
        }
    };
    mesh.close().await?;
    Ok(code)
}

/// Lines typed on stdin (shared by the lobby and the chat).
struct Input {
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::io::Stdin>>,
    open: bool,
}

/// Lobby-phase reporting, stdin commands and the host's auto-start.
struct Lobby {
    me: String,
    start_when: Option<u8>,
    started: bool,
    control: Control,
}

impl Lobby {
    fn maybe_start(&mut self, players: usize, is_host: bool) {
        if let Some(n) = self.start_when {
            if is_host && !self.started && players >= usize::from(n) {
                self.started = true;
                eprintln!("{players} players in the session: starting");
                self.control.start();
            }
        }
    }

    fn command(&mut self, line: &str) {
        match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["/start"] => {
                self.started = true;
                self.control.start();
            }
            ["/kick", name] => self.control.kick(name),
            ["/unban", name] => self.control.unban(name),
            ["/exit"] => self.control.exit(),
            [] => {}
            _ => eprintln!("not connected yet; lobby commands: /start, /kick NAME, /unban NAME, /exit"),
        }
    }

    fn report(&mut self, ev: &Event) {
        match ev {
            Event::Joined { players, is_host } => {
                eprintln!(
                    "in the session: {} (host: {})",
                    players.join(", "),
                    players.first().map_or("?", String::as_str)
                );
                self.maybe_start(players.len(), *is_host);
            }
            Event::Players(players) => {
                eprintln!("players: {}", players.join(", "));
                let me_host = players.first() == Some(&self.me);
                self.maybe_start(players.len(), me_host);
            }
            Event::BecameHost => eprintln!("the host left: you are the host now"),
            Event::Refused(code) => eprintln!("the server refused: {} (error:{code})", code.describe()),
            Event::Started { own_port, peers, host } => {
                let names: Vec<&str> = peers.iter().map(|p| p.name.as_str()).collect();
                eprintln!(
                    "session started (host {host}); the server saw our port {own_port}; punching to {}",
                    names.join(", ")
                );
            }
            Event::Heard { peer, from } => eprintln!("heard {peer} from {from}"),
            Event::Connected { .. } => println!("{}", connected_line(ev)),
            Event::Nat(report) => {
                println!("{}", crate::nat::line(report));
                crate::nat::describe(report);
            }
            Event::Failed { peer, reason } => {
                eprintln!("{peer} failed: {reason}");
                println!("failed peer={peer} reason={}", reason.short());
            }
            Event::Done { connected, total, after_start } => {
                println!("punch-done connected={connected}/{total} after_start_ms={}", ms(*after_start));
            }
            Event::Upgraded { .. } | Event::RelayRefused(_) => late_line(ev),
            Event::Data { .. } => {}
            _ => {}
        }
    }
}

/// Lines of events that may come after the peer phase: a relayed peer's direct path, a relay
/// cap that bit.
fn late_line(ev: &Event) {
    match ev {
        Event::Connected { .. } => println!("{}", connected_line(ev)),
        Event::Heard { peer, from } => eprintln!("heard {peer} from {from}"),
        Event::Upgraded { peer, addr, after_start, method, probes } => {
            eprintln!("{peer}: direct path found ({method}), leaving the relay");
            let probes = probes.map(|n| format!(" probes={n}")).unwrap_or_default();
            println!(
                "upgraded peer={peer} addr={addr} after_start_ms={} method={method}{probes}",
                ms(*after_start)
            );
        }
        Event::RelayRefused(r) => {
            eprintln!("the server's relay refused a datagram: {}", r.describe());
            println!("relay-refused reason={}", r.code());
        }
        _ => {}
    }
}

/// The `connected …` line of a [`Event::Connected`] (empty for any other event).
fn connected_line(ev: &Event) -> String {
    let Event::Connected { peer, addr, after_start, method, probes } = ev else { return String::new() };
    let probes = probes.map(|n| format!(" probes={n}")).unwrap_or_default();
    format!("connected peer={peer} addr={addr} after_start_ms={} method={method}{probes}", ms(*after_start))
}

/// Reports events that come after the peer phase (late connections).
fn drain_late(events: &mut mpsc::Receiver<Event>) {
    while let Ok(ev) = events.try_recv() {
        late_line(&ev);
    }
}

fn clip(text: &str) -> &[u8] {
    let bytes = text.as_bytes();
    &bytes[..bytes.len().min(MAX_LINE)]
}

fn printable(data: &[u8]) -> String {
    String::from_utf8_lossy(data).chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// `--send TEXT --expect N`.
async fn script(
    mesh: &mut Mesh,
    events: &mut mpsc::Receiver<Event>,
    common: &Common,
) -> Result<ExitCode, ClientError> {
    let failed: Vec<String> = mesh.failed().into_iter().map(|p| p.name).collect();
    let want = common.expect.unwrap_or(0);
    let mut got: BTreeMap<String, String> = BTreeMap::new();
    let mut early = crate::stream::Early::new();
    let mut rounds = 0u32;
    let mut next_send = Instant::now();
    let end = Instant::now() + Duration::from_secs_f64(common.expect_timeout_s);
    loop {
        drain_late(events);
        let sent_enough = common.send.is_none() || rounds >= MIN_SEND_ROUNDS;
        if got.len() >= want && sent_enough {
            break;
        }
        if Instant::now() >= end {
            let from: Vec<&str> = got.keys().map(String::as_str).collect();
            eprintln!(
                "error: expected messages from {want} peers within {} s, got {} ({})",
                common.expect_timeout_s,
                got.len(),
                from.join(", ")
            );
            return Ok(ExitCode::FAILURE);
        }
        // Keep sending until every expected peer answered: a peer that got our text may be gone
        // already, but one still waiting answers each copy while it lingers (below).
        if let Some(text) = &common.send {
            if Instant::now() >= next_send {
                mesh.send_all(clip(text)).await?;
                rounds += 1;
                next_send = Instant::now() + SEND_EVERY;
            }
        }
        let wake = if common.send.is_some() { next_send.min(end) } else { end };
        match tokio::time::timeout_at(wake, mesh.recv()).await {
            Ok(Ok((peer, data))) if crate::stream::stash(&mut early, &peer, &data) => {}
            Ok(Ok((peer, data))) => {
                if let std::collections::btree_map::Entry::Vacant(slot) = got.entry(peer) {
                    let text = printable(&data);
                    println!("{}: {text}", slot.key());
                    slot.insert(text);
                }
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => {}
        }
    }
    if let Some(text) = &common.send {
        linger_answering(mesh, clip(text), &mut early).await?;
    }
    drain_late(events);
    if let Some(s) = common.stream {
        crate::stream::run(mesh, s, std::mem::take(&mut early)).await?;
        drain_late(events);
    }
    if let Some(hold) = common.hold_s {
        let end = Instant::now() + Duration::from_secs_f64(hold);
        while Instant::now() < end {
            mesh.linger(Duration::from_millis(100).min(end - Instant::now())).await?;
            drain_late(events);
        }
    }
    // A peer reached through the relay may still get its direct path: finish the peer phase
    // (bounded by the peer timeout), so the run ends on the path it would keep.
    let phase_left = Duration::from_secs_f64(common.peer_timeout_s).saturating_sub(mesh.since_start());
    settle_reporting(mesh, events, SETTLE.max(phase_left)).await?;
    if !failed.is_empty() {
        eprintln!("error: {}", ClientError::PeersNotConfirmed(failed));
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// [`Mesh::settle`] for at most `max`, printing the events that come meanwhile (a relayed peer's
/// move to a direct path) as they come.
async fn settle_reporting(
    mesh: &mut Mesh,
    events: &mut mpsc::Receiver<Event>,
    max: Duration,
) -> Result<(), ClientError> {
    let end = Instant::now() + max;
    while !mesh.engine().is_settled() && Instant::now() < end {
        let slice = (Instant::now() + Duration::from_millis(50)).min(end);
        mesh.settle(slice.saturating_duration_since(Instant::now())).await?;
        drain_late(events);
    }
    drain_late(events);
    Ok(())
}

/// Answers peer messages with `text` until the peers are quiet for [`LINGER_QUIET`] (at most
/// [`LINGER_MAX`]): one reply per message received and at most [`LINGER_REPLIES`] per peer, so it
/// never sends more than it gets and two lingering players cannot keep each other busy.
async fn linger_answering(
    mesh: &mut Mesh,
    text: &[u8],
    early: &mut crate::stream::Early,
) -> Result<(), ClientError> {
    let hard_end = Instant::now() + LINGER_MAX;
    let mut replies: BTreeMap<String, u32> = BTreeMap::new();
    let mut quiet_end = Instant::now() + LINGER_QUIET;
    loop {
        match tokio::time::timeout_at(quiet_end.min(hard_end), mesh.recv()).await {
            // A peer's stream (it started first) is kept for ours, and does not count as talk.
            Ok(Ok((peer, data))) if crate::stream::stash(early, &peer, &data) => {}
            Ok(Ok((peer, _))) => {
                quiet_end = Instant::now() + LINGER_QUIET;
                let n = replies.entry(peer.clone()).or_insert(0);
                if *n < LINGER_REPLIES {
                    *n += 1;
                    mesh.send(&peer, text).await?;
                }
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => return Ok(()),
        }
    }
}

/// The line chat: stdin lines to every peer, peers' lines to stdout.
async fn chat(
    mesh: &mut Mesh,
    events: &mut mpsc::Receiver<Event>,
    mut input: Input,
) -> Result<ExitCode, ClientError> {
    eprintln!("chat: type a line and press Enter to send it to every peer; Ctrl-D to quit");
    loop {
        drain_late(events);
        let mut outgoing = None;
        tokio::select! {
            line = input.lines.next_line(), if input.open => match line {
                Ok(Some(line)) => outgoing = Some(line),
                Ok(None) | Err(_) => input.open = false,
            },
            r = mesh.recv() => {
                let (peer, data) = r?;
                println!("{peer}: {}", printable(&data));
            }
            _ = tokio::signal::ctrl_c() => break,
        }
        if let Some(line) = outgoing {
            let n = mesh.send_all(clip(&line)).await?;
            if n == 0 {
                eprintln!("(no connected peer to send to)");
            }
        }
        if !input.open {
            break;
        }
    }
    mesh.settle(SETTLE).await?;
    Ok(ExitCode::SUCCESS)
}
