//! A scripted peer that behaves on the wire like the Godot 3 plugin (RabidHolePuncher), with its
//! timings, written from the behaviour described in ../shared/PROTOCOL-NOTES.md and
//! ../shared/godot/peer-mix.md. It runs in a thread on real loopback sockets, frame by frame
//! (120 frames/s, at most one datagram read per frame, as the plugin does).
//!
//! Server phase: `h:`/`c:` every 0.5 s until `i:`/`error:` (15 s give-up), pings every 0.5 s,
//! `s:S:P` every 0.5 s after the start, never `y:` to the server, closes its server socket on `s:`.
//! Peer phase: 2 s with no socket, then the reported own port is bound again; greetings, 5 per port
//! 50 ms apart over `[p, p-8..p-1, p+1..p+8]`, then a 5.25 s wait (the "last newly seen port wins"
//! counting bug included); confirmations every 50 ms cycling the window until the peer's `c:`;
//! a host switches to `s:3` after 2 s and waits 1.5 s for `y:`; a client needs the host's `c:`
//! within 2 s, answers `s:n` with `y:` (in place of its `c:` to the host) and succeeds n s later.

use std::net::{SocketAddr, UdpSocket};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const FRAME: Duration = Duration::from_micros(8333);
const REPEAT: Duration = Duration::from_millis(500);
const SERVER_TIMEOUT: Duration = Duration::from_secs(15);
const FINISH_WAIT: Duration = Duration::from_secs(2);
const STEP: Duration = Duration::from_millis(50);
const GREETINGS_PER_PORT: u32 = 5;
const WAIT_FOR_GREETINGS: Duration = Duration::from_millis(5250);
const HOST_CONFIRM_WAIT: Duration = Duration::from_secs(2);
const HOST_START_TIMER: Duration = Duration::from_millis(1500);

/// How the double plays.
#[derive(Debug, Clone)]
pub struct GodotConfig {
    pub server: SocketAddr,
    pub session: String,
    pub player: String,
    /// `Some(max)` for a host (which starts once `start_when` players are listed).
    pub host_max: Option<u8>,
    pub start_when: usize,
    pub password: Option<String>,
    /// Host: kick this player (one `k:`, as the plugin's kick sends) once it is listed.
    pub kick: Option<String>,
    /// Overall bound.
    pub timeout: Duration,
    /// After success, keep the peer socket open this long, reading (and recording) what comes.
    pub linger: Duration,
}

/// How its run ended.
#[derive(Debug, Clone, Default)]
pub struct GodotResult {
    pub ok: bool,
    /// The plugin's error code without `error:` (or `timeout`, `bind_failed`).
    pub error: Option<String>,
    pub stage: String,
    pub own_port: u16,
    /// Client: the host's address as the plugin reports it.
    pub host_addr: Option<SocketAddr>,
    /// From reading the server's `s:` to success.
    pub elapsed_after_start: Option<Duration>,
    /// Greetings received whose field 3 was not the port they arrived on.
    pub wrong_field3: u32,
    /// Greetings received.
    pub greetings: u32,
    /// Peers whose `c:` it received.
    pub confirmed_by: Vec<String>,
    /// The message types (text before the first `:`) of every peer datagram it read, each once.
    pub kinds: Vec<String>,
    /// The server's `s:` message as it read it (what it would split).
    pub start_message: Option<String>,
}

/// Records the type of a peer datagram.
fn note(r: &mut GodotResult, p: &str) {
    let kind = p.split(':').next().unwrap_or("").to_owned();
    if !r.kinds.contains(&kind) {
        r.kinds.push(kind);
    }
}

pub struct GodotDouble {
    handle: Option<JoinHandle<GodotResult>>,
}

/// A double with no password, no kick, a 40 s bound and no linger, started at once: a host
/// (`host_max: Some(max)`, starting once `start_when` players are listed) or a client (`None`).
pub fn godot(
    server: SocketAddr,
    session: &str,
    player: &str,
    host_max: Option<u8>,
    start_when: usize,
) -> GodotDouble {
    GodotDouble::spawn(GodotConfig {
        server,
        session: session.into(),
        player: player.into(),
        host_max,
        start_when,
        password: None,
        kick: None,
        timeout: Duration::from_secs(40),
        linger: Duration::ZERO,
    })
}

impl GodotDouble {
    pub fn spawn(config: GodotConfig) -> GodotDouble {
        GodotDouble { handle: Some(std::thread::spawn(move || run(config))) }
    }

    /// Waits for the end (the run is bounded by its own timeout).
    pub fn join(mut self) -> GodotResult {
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            _ => GodotResult { error: Some("panicked".into()), ..Default::default() },
        }
    }
}

struct Peer {
    name: String,
    ip: std::net::IpAddr,
    ports: Vec<u16>,
    is_host: bool,
}

fn window(p: u16) -> Vec<u16> {
    let mut v = vec![p];
    for q in i32::from(p) - 8..=i32::from(p) + 8 {
        if q != i32::from(p) {
            if let Ok(q) = u16::try_from(q) {
                v.push(q);
            }
        }
    }
    v
}

fn read_one(sock: &UdpSocket) -> Option<String> {
    let mut buf = [0u8; 2048];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Err(_) => None,
    }
}

fn fail(mut r: GodotResult, stage: &str, error: &str) -> GodotResult {
    r.ok = false;
    r.stage = stage.into();
    r.error = Some(error.into());
    r
}

fn run(cfg: GodotConfig) -> GodotResult {
    let mut r = GodotResult::default();
    let end = Instant::now() + cfg.timeout;
    let frame = || std::thread::sleep(FRAME);
    let Ok(server_sock) = UdpSocket::bind("127.0.0.1:0") else { return fail(r, "init", "bind_failed") };
    let _ = server_sock.set_nonblocking(true);
    let is_host_role = cfg.host_max.is_some();
    let mut init = match cfg.host_max {
        Some(max) => format!("h:{}:{}:{max}", cfg.session, cfg.player),
        None => format!("c:{}:{}", cfg.session, cfg.player),
    };
    if let Some(pw) = &cfg.password {
        init.push(':');
        init.push_str(pw);
    }
    let send_server = |msg: &str| {
        let _ = server_sock.send_to(msg.as_bytes(), cfg.server);
    };

    // ---- InitRequestSent
    send_server(&init);
    let entered = Instant::now();
    let mut next_msg = entered + REPEAT;
    let mut players: Vec<String>;
    loop {
        if Instant::now() > end {
            return fail(r, "init", "timeout");
        }
        let now = Instant::now();
        if now >= entered + SERVER_TIMEOUT {
            return fail(r, "init", "server_timeout");
        }
        if now >= next_msg {
            send_server(&init);
            next_msg += REPEAT;
        }
        if let Some(p) = read_one(&server_sock) {
            if let Some(code) = p.strip_prefix("error:") {
                return fail(r, "init", code);
            }
            if let Some(list) = p.strip_prefix("i:") {
                players = list.split(':').map(str::to_owned).collect();
                break;
            }
        }
        frame();
    }

    // ---- InSession
    let mut is_host = is_host_role;
    let ping = format!("p:{}:{}", cfg.session, cfg.player);
    let start_msg = format!("s:{}:{}", cfg.session, cfg.player);
    let mut ping_message = ping.clone();
    let mut started = false;
    let mut maybe_start = |players: &[String], is_host: bool, ping_message: &mut String| {
        if is_host && !started && players.len() >= cfg.start_when {
            started = true;
            send_server(&start_msg);
            *ping_message = start_msg.clone();
        }
    };
    maybe_start(&players, is_host, &mut ping_message);
    let mut kicked = false;
    let mut next_ping = Instant::now() + REPEAT;
    let mut server_timer = Instant::now() + SERVER_TIMEOUT;
    let (own_port, peers): (u16, Vec<Peer>) = loop {
        let now = Instant::now();
        if now > end {
            return fail(r, "session", "timeout");
        }
        if now >= server_timer {
            return fail(r, "session", "server_timeout");
        }
        if now >= next_ping {
            send_server(&ping_message);
            next_ping += REPEAT;
        }
        if let Some(p) = read_one(&server_sock) {
            server_timer = Instant::now() + SERVER_TIMEOUT;
            if let Some(code) = p.strip_prefix("error:") {
                if code == "non_host_player" || code == "only_one_player_in_session" {
                    ping_message = ping.clone();
                } else {
                    return fail(r, "session", code);
                }
            } else if let Some(list) = p.strip_prefix("i:") {
                let names: Vec<String> = list.split(':').map(str::to_owned).collect();
                if let Some(victim) = cfg.kick.as_ref().filter(|v| is_host && names.contains(v)) {
                    if !kicked {
                        kicked = true;
                        send_server(&format!("k:{}:{victim}", cfg.session));
                    }
                }
                if names != players {
                    players = names;
                    if !is_host && players.first() == Some(&cfg.player) {
                        is_host = true;
                    }
                    maybe_start(&players, is_host, &mut ping_message);
                }
            } else if let Some(rest) = p.strip_prefix("s:") {
                r.start_message = Some(p.to_owned());
                let mut it = rest.splitn(2, ':');
                let own: u16 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
                let list = it.next().unwrap_or("");
                let mut peers = Vec::new();
                let mut first = true;
                for entry in list.split(';') {
                    let f: Vec<&str> = entry.split(':').collect();
                    if f.len() < 3 {
                        continue;
                    }
                    let host_flag = !is_host && first;
                    first = false;
                    let (Ok(ip), Ok(port)) = (f[1].parse(), f[2].parse::<u16>()) else { continue };
                    peers.push(Peer { name: f[0].to_owned(), ip, ports: window(port), is_host: host_flag });
                }
                break (own, peers);
            }
        }
        frame();
    };
    let t_start = Instant::now();
    drop(server_sock);
    r.own_port = own_port;

    // ---- ServerFinishWait: the socket is closed for 2 s.
    while Instant::now() < t_start + FINISH_WAIT {
        frame();
    }

    // ---- Greetings
    let Ok(mut sock) = UdpSocket::bind(("127.0.0.1", own_port)) else {
        return fail(r, "greetings", "bind_failed");
    };
    let _ = sock.set_nonblocking(true);
    let mut greet_ports: Vec<Vec<u16>> = peers.iter().map(|p| p.ports.clone()).collect();
    let mut rounds = 0u32;
    let mut next_greet = Instant::now() + STEP;
    let mut wait_until: Option<Instant> = None;
    // Insertion-ordered counts of field 3.
    let mut received: Vec<(u16, u32)> = Vec::new();
    loop {
        let now = Instant::now();
        if now > end {
            return fail(r, "greetings", "timeout");
        }
        if wait_until.is_none() && now >= next_greet {
            next_greet += STEP;
            if rounds >= GREETINGS_PER_PORT {
                rounds = 0;
                let mut empty = false;
                for ports in &mut greet_ports {
                    if !ports.is_empty() {
                        ports.remove(0);
                    }
                    empty |= ports.is_empty();
                }
                if empty {
                    wait_until = Some(now + WAIT_FOR_GREETINGS);
                }
            } else {
                for (peer, ports) in peers.iter().zip(&greet_ports) {
                    if let Some(&port) = ports.first() {
                        let msg = format!("g:{}:{}:{}", cfg.player, own_port, port);
                        let _ = sock.send_to(msg.as_bytes(), (peer.ip, port));
                    }
                }
                rounds += 1;
            }
        }
        if wait_until.is_some_and(|t| now >= t) {
            break;
        }
        if let Some(p) = read_one(&sock) {
            note(&mut r, &p);
            if p.starts_with('g') {
                let f: Vec<&str> = p.split(':').collect();
                let port: u16 = f.get(3).and_then(|x| x.parse().ok()).unwrap_or(0);
                r.greetings += 1;
                if port != own_port {
                    r.wrong_field3 += 1;
                }
                match received.iter_mut().find(|(q, _)| *q == port) {
                    Some(e) => e.1 += 1,
                    None => received.push((port, 1)),
                }
            }
        }
        frame();
    }
    if received.is_empty() {
        return fail(r, "greetings", "unreachable_self");
    }
    // The plugin's `_get_most_received_greeting_port` never updates its best count: the last
    // newly seen port wins.
    let self_port = received.last().map_or(own_port, |e| e.0);
    if self_port != own_port {
        drop(sock);
        let Ok(s) = UdpSocket::bind(("127.0.0.1", self_port)) else {
            return fail(r, "confirmations", "bind_failed");
        };
        let _ = s.set_nonblocking(true);
        sock = s;
    }

    // ---- Confirmations
    let host_name = peers.iter().find(|p| p.is_host).map(|p| p.name.clone()).unwrap_or_default();
    let mut confirm_ports: Vec<(String, std::net::IpAddr, Vec<u16>)> =
        peers.iter().map(|p| (p.name.clone(), p.ip, p.ports.clone())).collect();
    let mut confirm_message = format!("c:{}:{}", cfg.player, self_port);
    let entered = Instant::now();
    let mut next_confirm = entered + STEP;
    let mut host_timer = Some(entered + HOST_CONFIRM_WAIT);
    let mut start_timer: Option<Instant> = None;
    let mut confirmed_start: Vec<String> = Vec::new();
    loop {
        let now = Instant::now();
        if now > end {
            return fail(r, "confirmations", "timeout");
        }
        if now >= next_confirm {
            next_confirm += STEP;
            for (name, ip, ports) in &mut confirm_ports {
                let mut msg = confirm_message.clone();
                if *name == host_name && start_timer.is_some() {
                    msg = format!("y:{}:{}", cfg.player, self_port);
                }
                if let Some(&port) = ports.first() {
                    let _ = sock.send_to(msg.as_bytes(), (*ip, port));
                }
                if ports.len() > 1 {
                    ports.rotate_left(1);
                }
            }
        }
        if host_timer.is_some_and(|t| now >= t) {
            host_timer = None;
            if is_host {
                confirm_message = "s:3".into();
                start_timer = Some(now + HOST_START_TIMER);
            } else {
                return fail(r, "confirmations", "host_not_confirmed");
            }
        }
        if start_timer.is_some_and(|t| now >= t) {
            break;
        }
        if let Some(p) = read_one(&sock) {
            note(&mut r, &p);
            let f: Vec<&str> = p.split(':').collect();
            if p.starts_with('c') {
                let sender = f.get(1).copied().unwrap_or("").to_owned();
                let port: u16 = f.get(2).and_then(|x| x.parse().ok()).unwrap_or(0);
                if !r.confirmed_by.contains(&sender) {
                    r.confirmed_by.push(sender.clone());
                }
                match confirm_ports.iter_mut().find(|e| e.0 == sender) {
                    Some(e) => e.2 = vec![port],
                    None => return fail(r, "confirmations", "unknown_sender_would_break_plugin"),
                }
                if !is_host && sender == host_name {
                    host_timer = None;
                }
            } else if p.starts_with('s') && !is_host {
                if start_timer.is_none() {
                    let secs: u64 = f.get(1).and_then(|x| x.parse().ok()).unwrap_or(0);
                    start_timer = Some(Instant::now() + Duration::from_secs(secs));
                }
            } else if p.starts_with('y') && is_host {
                let sender = f.get(1).copied().unwrap_or("").to_owned();
                if !confirmed_start.contains(&sender) {
                    confirmed_start.push(sender);
                }
                if confirmed_start.len() == confirm_ports.len() {
                    break;
                }
            }
        }
        frame();
    }
    r.ok = true;
    r.stage = "done".into();
    r.elapsed_after_start = Some(t_start.elapsed());
    let linger_end = Instant::now() + cfg.linger;
    while Instant::now() < linger_end.min(end) {
        if let Some(p) = read_one(&sock) {
            note(&mut r, &p);
        }
        frame();
    }
    if !is_host {
        let host = confirm_ports.iter().find(|e| e.0 == host_name);
        r.host_addr = host.and_then(|(_, ip, ports)| ports.first().map(|p| SocketAddr::new(*ip, *p)));
    }
    r
}
