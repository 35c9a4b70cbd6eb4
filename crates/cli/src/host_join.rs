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
//! - `left peer=<name> reason=<left|silent>` when a peer that is one of our clients leaves
//!   (it said so) or fell silent (nothing from it for 15 s); `host-changed peer=<name>` when the
//!   host is gone after the start and the remaining players agreed on this one (`<name>` may be
//!   us);
//! - `<name>: <text>` per application message received.
//!
//! `ms` counts from the arrival of the server's `s:` message. Progress goes to stderr.

use crate::console::{Console, Typed};
use crate::stop::{End, Signals, LEAVE_WITHIN};
use rhp_client::{Client, ClientError, Config, Control, Event, Mesh, Role, Timers};
use rhp_proto::{ErrorCode, DEFAULT_PORT};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;
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
    /// Rendezvous server, HOST:PORT; or the service's addresses, comma-separated (a name with
    /// several records does the same). Both families (`203.0.113.5:57775,[2001:db8::5]:57775`)
    /// make this client dual-stack: it reaches peers over IPv6 where IPv4 NATs would need the
    /// relay. More addresses of one family are other nodes: if the one in use stops answering
    /// before the session starts, the client joins again through the next.
    #[arg(long, default_value_t = format!("127.0.0.1:{DEFAULT_PORT}"), value_name = "HOST:PORT[,HOST:PORT]")]
    server: String,
    /// Local address to bind the one UDP socket used for the whole run [default: any address
    /// and port of the server's family; `[::]:0` serving both families when dual-stack].
    #[arg(long, value_name = "IP:PORT")]
    bind: Option<SocketAddr>,
    /// Seconds after the start message by which every peer must be connected; the rest are
    /// reported failed. Keep it above 15 when Godot peers take part.
    #[arg(long, default_value_t = 20.0, value_name = "S", value_parser = seconds)]
    peer_timeout_s: f64,
    /// Seconds without a datagram from a connected peer (one of our clients; they keep each
    /// other alive every 2 s) before it is reported gone (`left … reason=silent`).
    #[arg(long, default_value_t = 15.0, value_name = "S", value_parser = seconds)]
    peer_silence_s: f64,
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

/// What `host --help` and `join --help` add after the flags: the typed commands, the output
/// and the exit codes.
pub const PLAYER_HELP: &str = "\
In the lobby (before the start), type:
  /start        host: start the session now
  /kick NAME    host: remove a player (kept out of the session for its life)
  /unban NAME   host: let a kicked player back in
  /exit         leave the session (so do Ctrl-D and Ctrl-C)
Once connected, a chat: each line typed goes to every peer, each line received is printed as
`NAME: TEXT`; /exit or Ctrl-D quits. In script mode (--send/--expect) there is no chat, and
the end of input does not make it leave.

stdout carries stable machine-readable lines (key=value): nat, connected, upgraded, failed,
punch-done, send-failed, relay-refused, stream, and `NAME: TEXT`; progress goes to stderr.
RUST_LOG=rhp_client=debug shows the library's own log on stderr.

Exit codes: 0 a chosen end (/exit, Ctrl-D, a script whose messages arrived), 1 a failure (the
server refused or stopped, a kick, peers that never connected), 2 bad flags, 130 Ctrl-C
(SIGINT), 143 SIGTERM. A second Ctrl-C ends the process at once.

Examples:
  rabid-hole-punch host Room1 Alice --max 2
  rabid-hole-punch join Room1 Bob --server 203.0.113.7:57775
  rabid-hole-punch join Room1 Bob --send hello --expect 1";

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
        return End::Usage.into();
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
            return End::Failure.into();
        }
    };
    let private = common.nat.config().private;
    let end = match runtime.block_on(play(session, player, role, start_when, common)) {
        Ok(end) => end,
        Err(e) => {
            eprintln!("error: {e}");
            if private && matches!(e, ClientError::Server(ErrorCode::InvalidRequest)) {
                eprintln!(
                    "error: the server cannot keep our address private (it runs without the relay, or it \
                     is not this project's server); nothing was sent to a peer"
                );
            }
            match e {
                ClientError::InvalidConfig(_) => End::Usage,
                _ => End::Failure,
            }
        }
    };
    // Nothing left to wait for: the stdin reader is a plain thread, ended with the process.
    runtime.shutdown_timeout(Duration::from_millis(50));
    end.into()
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
) -> Result<End, ClientError> {
    let servers = crate::resolve::servers(&common.server).await?;
    let server = servers.main;
    let config = Config {
        server,
        server_other: servers.other,
        server_fallbacks: servers.fallbacks,
        session: session.clone(),
        player: player.clone(),
        password: common.password.clone(),
        role,
        start_in_secs: common.start_in_s,
        timers: Timers {
            peer_deadline: Duration::from_secs_f64(common.peer_timeout_s),
            server_timeout: Duration::from_secs_f64(common.server_timeout_s),
            peer_silence: Duration::from_secs_f64(common.peer_silence_s),
            ..Timers::default()
        },
        nat: common.nat.config(),
        ..Config::host(server, &session, &player, 2)
    };
    let mut signals = Signals::install().map_err(ClientError::Io)?;
    let (client, control, mut events) = Client::bind(config, common.bind).await?;
    let local = client.local_addr()?;
    let verb = if matches!(role, Role::Host { .. }) { "creating" } else { "joining" };
    let server = client.config().server;
    match client.config().server_other {
        Some(other) => eprintln!(
            "{verb} session {session} as {player} via {server} and {other} (dual-stack; local {local})"
        ),
        None => eprintln!("{verb} session {session} as {player} via {server} (local {local})"),
    }
    let scripted = common.send.is_some() || common.expect.is_some();
    eprintln!("{LOBBY_HELP}");
    let mut console = Console::stdin();
    let lobby = Lobby {
        me: player.clone(),
        server,
        local_ip: crate::nat::local_ip_towards(server),
        start_when,
        started: false,
        control: control.clone(),
    };
    let mut mesh = match lobby_phase(lobby, client, &mut events, &mut console, &mut signals, scripted).await?
    {
        Ok(mesh) => mesh,
        Err(end) => return Ok(end),
    };
    eprintln!(
        "peer phase over: {} of {} peers connected; host is {}; our port as peers see it: {}",
        mesh.connected().len(),
        mesh.peers().len(),
        if mesh.is_host() { "us".to_owned() } else { mesh.host() },
        mesh.my_port()
    );
    let work = async {
        if scripted {
            script(&mut mesh, &mut events, &common).await
        } else {
            chat(&mut mesh, &mut events, &mut console).await
        }
    };
    let end = tokio::select! {
        r = work => r?,
        end = signals.first() => {
            eprintln!("stopping: leaving the session");
            end
        }
    };
    // Bounded: the relay slot goes back to the server (two datagrams) on every way out.
    let _ = tokio::time::timeout(LEAVE_WITHIN, mesh.close()).await;
    Ok(end)
}

/// What the lobby says on stdin.
const LOBBY_HELP: &str = "lobby: type /start (host: start now), /kick NAME, /unban NAME (host), \
                           /exit or Ctrl-D (leave), Ctrl-C (leave now)";

/// The server phase: events reported, typed commands, the host's auto-start, and every way of
/// leaving early. `Ok(Ok(mesh))` once the session started; `Ok(Err(end))` when the run ended in
/// the lobby by the player's choice or a signal (left within [`LEAVE_WITHIN`]).
async fn lobby_phase(
    mut lobby: Lobby,
    client: Client,
    events: &mut mpsc::Receiver<Event>,
    console: &mut Console,
    signals: &mut Signals,
    scripted: bool,
) -> Result<Result<Mesh, End>, ClientError> {
    let mut run = tokio::spawn(client.run());
    // Set once we leave: how, and by when we go whether or not the server confirmed.
    let mut leaving: Option<(End, Instant)> = None;
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    let result = loop {
        let leave_by = leaving.map_or(far, |(_, by)| by);
        tokio::select! {
            Some(ev) = events.recv() => lobby.report(&ev),
            r = &mut run => break r,
            typed = console.next(), if !console.ended() && leaving.is_none() => {
                let leave = match typed {
                    Typed::Line(line) => lobby.command(line.trim()),
                    // A script's input may be empty or closed: only a person leaves by Ctrl-D.
                    Typed::End => !scripted,
                };
                if leave {
                    eprintln!("leaving the session");
                    lobby.control.exit();
                    leaving = Some((End::Chosen, Instant::now() + LEAVE_WITHIN));
                }
            }
            end = signals.first(), if leaving.is_none() => {
                eprintln!("leaving the session");
                lobby.control.exit();
                leaving = Some((end, Instant::now() + LEAVE_WITHIN));
            }
            () = tokio::time::sleep_until(leave_by), if leaving.is_some() => {
                return Ok(Err(leaving.map_or(End::Chosen, |(end, _)| end)));
            }
        }
    };
    // Everything reported before the run returned is in the channel already.
    while let Ok(ev) = events.try_recv() {
        lobby.report(&ev);
    }
    match (result, leaving) {
        (Ok(Ok(mesh)), None) => Ok(Ok(mesh)),
        // The session started as we left: give the relay slot back and go.
        (Ok(Ok(mesh)), Some((end, _))) => {
            let _ = tokio::time::timeout(LEAVE_WITHIN, mesh.close()).await;
            Ok(Err(end))
        }
        (Ok(Err(ClientError::Server(ErrorCode::PlayerExitedSession))), Some((end, _))) => {
            eprintln!("left the session");
            Ok(Err(end))
        }
        (Ok(Err(e)), _) => Err(e),
        (Err(_), _) => Err(ClientError::Stopped),
    }
}

/// Lobby-phase reporting, typed commands and the host's auto-start.
struct Lobby {
    me: String,
    server: SocketAddr,
    /// This machine's address towards the server (to tell "no NAT" from a NAT).
    local_ip: Option<std::net::IpAddr>,
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

    /// One typed line; true when it asks to leave.
    fn command(&mut self, line: &str) -> bool {
        match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["/start"] => {
                self.started = true;
                self.control.start();
            }
            ["/kick", name] => self.control.kick(name),
            ["/unban", name] => self.control.unban(name),
            ["/exit" | "/quit"] => return true,
            [] => {}
            _ => eprintln!("the session has not started yet; {LOBBY_HELP}"),
        }
        false
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
            Event::BecameHost => match self.start_when {
                Some(n) if !self.started => eprintln!(
                    "the host left: you are the host now; the session starts when {n} players are in \
                     (or type /start)"
                ),
                _ => eprintln!("the host left: you are the host now; nothing starts until you type /start"),
            },
            Event::Refused(code) => eprintln!("the server refused: {} (error:{code})", code.describe()),
            Event::ServerSwitched { from, to, reason } => {
                self.server = *to;
                eprintln!("{reason}; joining again through {to} (another node of the service; was {from})");
            }
            Event::Started { own_port, peers, host } => {
                let names: Vec<&str> = peers.iter().map(|p| p.name.as_str()).collect();
                eprintln!(
                    "session started (host {host}); the server saw our port {own_port}; punching to {}",
                    names.join(", ")
                );
            }
            Event::Nat(report) => {
                println!("{}", crate::nat::line(report));
                crate::nat::describe(report, self.local_ip);
            }
            Event::ServerSilent { silent_for, answered_before } => {
                let s = silent_for.as_secs();
                if *answered_before {
                    eprintln!("the server at {} has not answered for {s} s...", self.server);
                } else {
                    eprintln!("still waiting for the server at {} ({s} s)...", self.server);
                }
            }
            Event::Failed { peer, reason } => {
                eprintln!("{peer} failed: {reason}");
                println!("failed peer={peer} reason={}", reason.short());
            }
            Event::Done { connected, total, after_start } => {
                println!("punch-done connected={connected}/{total} after_start_ms={}", ms(*after_start));
            }
            Event::PrivateUnreachable { peers } if !peers.is_empty() => {
                eprintln!(
                    "private: {} cannot reach us (not our clients with the relay; our address is kept \
                     from them)",
                    peers.join(", ")
                );
                println!("private-unreachable peers={}", peers.join(","));
            }
            other => late_line(other),
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
        Event::SendFailed { to, error, failures } => {
            eprintln!(
                "a datagram to {to} could not be sent ({error}); {failures} lost so far, the session goes on"
            );
            println!("send-failed to={to} failures={failures}");
        }
        Event::PeerLeft { peer, reason } => {
            match reason {
                rhp_client::LeaveReason::Left => eprintln!("{peer} left"),
                rhp_client::LeaveReason::Silent => {
                    eprintln!("{peer} is gone: nothing came from it for too long")
                }
            }
            println!("left peer={peer} reason={}", reason.short());
        }
        Event::HostChanged { host, is_us } => {
            if *is_us {
                eprintln!("the host is gone: you are the host now");
            } else {
                eprintln!("the host is gone: {host} is the host now");
            }
            println!("host-changed peer={host}");
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
) -> Result<End, ClientError> {
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
        let peers = mesh.peers();
        let all_gone = !peers.is_empty() && peers.iter().all(|p| p.has_left());
        // Once every peer is gone there is nobody left to send to: done if we got what we wanted.
        if got.len() >= want && (sent_enough || all_gone) {
            break;
        }
        if all_gone {
            eprintln!("error: every peer is gone (left or silent) before --expect {want} was met");
            return Ok(End::Failure);
        }
        if Instant::now() >= end {
            let from: Vec<&str> = got.keys().map(String::as_str).collect();
            eprintln!(
                "error: expected messages from {want} peers within {} s, got {} ({})",
                common.expect_timeout_s,
                got.len(),
                from.join(", ")
            );
            return Ok(End::Failure);
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
    // The expectation is met: direct attempts still running are abandoned (they go on only
    // under --hold-s, above). A host still owes Godot peers its `s:<n>` rounds (bounded).
    finish_host_duties(mesh, events, SETTLE).await?;
    if !failed.is_empty() {
        eprintln!("error: {}", ClientError::PeersNotConfirmed(failed));
        return Ok(End::Failure);
    }
    Ok(End::Chosen)
}

/// Drives the engine while we, as host, still owe a peer its `s:<n>` rounds (a Godot client
/// finishes on them), for at most `max`, printing the events that come meanwhile.
async fn finish_host_duties(
    mesh: &mut Mesh,
    events: &mut mpsc::Receiver<Event>,
    max: Duration,
) -> Result<(), ClientError> {
    let end = Instant::now() + max;
    while !mesh.engine().host_duties_done() && Instant::now() < end {
        let slice = (Instant::now() + Duration::from_millis(50)).min(end);
        mesh.linger(slice.saturating_duration_since(Instant::now())).await?;
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
                    match mesh.send(&peer, text).await {
                        // It left meanwhile: nobody to answer.
                        Err(ClientError::UnknownPeer(_)) | Ok(()) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => return Ok(()),
        }
    }
}

/// The line chat: typed lines to every peer, peers' lines to stdout, events as they come.
async fn chat(
    mesh: &mut Mesh,
    events: &mut mpsc::Receiver<Event>,
    console: &mut Console,
) -> Result<End, ClientError> {
    eprintln!("chat: type a line and press Enter to send it to every peer; /exit or Ctrl-D to quit");
    loop {
        tokio::select! {
            Some(ev) = events.recv() => late_line(&ev),
            typed = console.next() => match typed {
                Typed::Line(line) if matches!(line.trim(), "/exit" | "/quit") => break,
                Typed::Line(line) => {
                    if mesh.send_all(clip(&line)).await? == 0 {
                        eprintln!("(no connected peer to send to)");
                    }
                }
                Typed::End => break,
            },
            r = mesh.recv() => {
                let (peer, data) = r?;
                println!("{peer}: {}", printable(&data));
            }
        }
    }
    // A host's last `s:<n>` rounds to Godot peers, bounded: the player asked to go.
    finish_host_duties(mesh, events, LEAVE_WITHIN).await?;
    Ok(End::Chosen)
}
