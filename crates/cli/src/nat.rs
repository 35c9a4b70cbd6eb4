//! `rabid-hole-punch nat`: classify the NAT in front of this machine against a rendezvous server
//! (STUN to its two ports) and say, for a person, what it means for punching. Also the NAT flags
//! `host` and `join` share ([`NatFlags`]).
//!
//! Output: for a person by default (what the NAT does, in plain words, and what it means for
//! connecting); `--verbose` adds the machine line and every STUN answer explained; `--json` prints
//! one JSON object instead. The machine line is stable (the NAT lab parses it; `host`/`join`
//! print it on stdout when classified): `nat mapping=<independent|predictable|random|unknown>
//! preserves=<yes|no|unknown> step=<n|-> public=<ip:port|-> desc=<token>`.

use rhp_client::{BirthdayConfig, NatConfig, NatKind, NatReport};
use rhp_proto::DEFAULT_PORT;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

/// NAT classification and the direct methods beyond plain punching.
#[derive(clap::Args, Debug, Clone)]
pub struct NatFlags {
    /// Do not classify the NAT nor announce it: plain punching only (as the Godot plugin does).
    #[arg(long)]
    no_nat: bool,
    /// Do not ask the server for its relay: peers no direct path reaches stay unreachable
    /// (by default peers that also asked are reached through the server at once, and move to a
    /// direct path when one opens).
    #[arg(long)]
    no_relay: bool,
    /// Keep this machine's address from every peer (our server only): peers see a placeholder,
    /// our clients reach us through the server's relay only, Godot peers cannot reach us (they
    /// are named at the start). A server without the relay refuses it (error:invalid_request).
    #[arg(long, conflicts_with = "no_relay")]
    private: bool,
    /// The server's second STUN port (default: the server's port + 1).
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    alt_port: Option<u16>,
    /// Ports predicted for a peer whose NAT moves its mapping by a fixed step.
    #[arg(long, default_value_t = 32, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    predict_window: u16,
    /// Birthday path, hard side: sockets opened, each greeting the easy peer.
    #[arg(long, default_value_t = 256, value_name = "K", value_parser = clap::value_parser!(u16).range(1..=1024))]
    birthday_sockets: u16,
    /// Birthday path, easy side: probes per second to random ports of the hard peer's IP.
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    birthday_rate: u32,
    /// Birthday path, easy side: most probes per peer.
    #[arg(long, default_value_t = 8192, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65_535))]
    birthday_probes: u32,
    /// Birthday path, hard side: milliseconds of plain punching before the sockets open.
    #[arg(long, default_value_t = 250, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=60_000))]
    birthday_grace_ms: u64,
}

impl NatFlags {
    /// The library's settings.
    pub fn config(&self) -> NatConfig {
        NatConfig {
            classify: !self.no_nat,
            relay: !self.no_relay,
            private: self.private,
            alt_port: self.alt_port,
            predict_window: self.predict_window,
            birthday: BirthdayConfig {
                sockets: self.birthday_sockets,
                rate: self.birthday_rate,
                max_probes: self.birthday_probes,
                grace: Duration::from_millis(self.birthday_grace_ms),
                ..BirthdayConfig::default()
            },
            ..NatConfig::default()
        }
    }
}

/// Flags of `nat`.
#[derive(clap::Args, Debug)]
pub struct NatArgs {
    /// Rendezvous server, HOST:PORT (it answers STUN on this port and on --alt-port); or its
    /// addresses in both families, comma-separated (a name with A and AAAA records does the
    /// same): each family is then reported (IPv4 NAT behaviour, and for IPv6 whether anything
    /// translates at all).
    #[arg(long, default_value_t = format!("127.0.0.1:{DEFAULT_PORT}"), value_name = "HOST:PORT[,HOST:PORT]")]
    server: String,
    /// The server's second STUN port (default: the server's port + 1).
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    alt_port: Option<u16>,
    /// Local address to probe from [default: any address and port of the server's family].
    #[arg(long, value_name = "IP:PORT")]
    bind: Option<SocketAddr>,
    /// Also print the machine-readable `nat mapping=…` line and every STUN answer.
    #[arg(long, conflicts_with = "json")]
    verbose: bool,
    /// Print one JSON object (stable keys: nat, mapping, verdict, public, local, preserves_port,
    /// step, desc, answers) instead of text.
    #[arg(long)]
    json: bool,
}

/// The machine-readable line.
pub fn line(r: &NatReport) -> String {
    let preserves = match r.preserves_port {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    let step = match r.kind {
        NatKind::Predictable { step, .. } => step.to_string(),
        _ => "-".into(),
    };
    let public = r.public.map_or("-".into(), |a| a.to_string());
    format!(
        "nat mapping={} preserves={preserves} step={step} public={public} desc={}",
        r.kind.name(),
        r.kind.token()
    )
}

/// This machine's own address towards `server` (the kernel's route choice; nothing is sent).
pub fn local_ip_towards(server: SocketAddr) -> Option<IpAddr> {
    let any: SocketAddr = if server.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().ok()?;
    let s = std::net::UdpSocket::bind(any).ok()?;
    s.connect(server).ok()?;
    Some(s.local_addr().ok()?.ip())
}

/// No NAT at all: the server sees this machine's own address and port.
fn no_nat(r: &NatReport, local_ip: Option<IpAddr>) -> bool {
    matches!((r.public, local_ip), (Some(p), Some(ip)) if p.ip() == ip && r.preserves_port == Some(true))
}

/// The verdict for a person.
pub fn verdict(r: &NatReport, local_ip: Option<IpAddr>) -> String {
    let v6 = r.public.is_some_and(|p| p.is_ipv6());
    if v6 && no_nat(r, local_ip) && r.kind == NatKind::Independent {
        return "no NAT over IPv6: the server sees this machine's own address; a stateful firewall is \
                likely (home routers and carriers drop what this machine did not ask for), which the \
                greetings both sides send at once open: peers reach it directly"
            .into();
    }
    if no_nat(r, local_ip) && r.kind == NatKind::Independent {
        return "no NAT: the server sees this machine's own address, so peers can reach it directly \
                (a firewall may still filter what comes in)"
            .into();
    }
    r.verdict()
}

/// Which socket sent a probe, in words.
fn socket_name(via: rhp_client::SocketId) -> &'static str {
    if via == rhp_client::SocketId::MAIN {
        "game socket"
    } else {
        "second socket"
    }
}

/// Runs `nat`.
pub fn run(args: NatArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let servers = match crate::resolve::servers(&args.server).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        // Each family this machine has a route in (and `--bind` allows), the session's first.
        let families: Vec<SocketAddr> = std::iter::once(servers.main)
            .chain(servers.other)
            .filter(|s| args.bind.is_none_or(|b| b.is_ipv4() == s.is_ipv4()))
            .filter(|s| servers.other.is_none() || local_ip_towards(*s).is_some())
            .collect();
        let Some(&first) = families.first() else {
            eprintln!(
                "error: --bind {} is of neither family of the server {}",
                args.bind.map_or(String::new(), |b| b.to_string()),
                args.server
            );
            return ExitCode::from(2);
        };
        let mut reports = Vec::new();
        for server in &families {
            let Some(report) = probe_family(&args, *server, families.len() > 1).await else {
                if *server == first {
                    return ExitCode::FAILURE;
                }
                continue;
            };
            reports.push((*server, report));
        }
        if args.json {
            let mut objects = reports.iter().map(|(s, r)| json(r, local_ip_towards(*s)));
            let mut top = objects.next().unwrap_or_default();
            if let (Some(second), Some(map)) = (objects.next(), top.as_object_mut()) {
                map.insert("ipv6".into(), second);
            }
            println!("{top}");
        } else {
            for (server, r) in &reports {
                if reports.len() > 1 {
                    println!("{}:", if server.is_ipv4() { "IPv4" } else { "IPv6" });
                }
                if args.verbose {
                    println!("{}", line(r));
                }
                print_for_person(r, local_ip_towards(*server), args.verbose);
            }
        }
        if reports.iter().any(|(_, r)| r.kind == NatKind::Unknown) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    })
}

/// One family's classification (`server`: the server's address in it); `None` after saying why
/// there is none.
async fn probe_family(args: &NatArgs, server: SocketAddr, several: bool) -> Option<NatReport> {
    let nat = NatConfig { alt_port: args.alt_port, ..NatConfig::default() };
    if !args.json {
        eprintln!("asking the server {server} and its second port {} (STUN)...", nat.alt_addr(server).port());
    }
    match rhp_client::probe_nat(server, &nat, args.bind.filter(|b| b.is_ipv4() == server.is_ipv4())).await {
        Ok(r) if r.kind == NatKind::Unknown && r.public.is_none() => {
            eprintln!(
                "error: the server at {server} answered no STUN request: is it running, is it this \
                 server (the original does not speak STUN), and does UDP reach it{}?",
                if several { " over this family" } else { "" }
            );
            None
        }
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

/// `nat`'s text for a person (stdout).
fn print_for_person(r: &NatReport, local_ip: Option<IpAddr>, verbose: bool) {
    println!("{}", verdict(r, local_ip));
    if let Some(public) = r.public {
        let local = match (local_ip, r.local_port) {
            (Some(ip), Some(port)) => format!(" (this machine: {})", SocketAddr::new(ip, port)),
            _ => String::new(),
        };
        println!("public address: {public}{local}");
    }
    match r.preserves_port {
        Some(false) if !no_nat(r, local_ip) => {
            println!("the NAT gives this machine's port {} another public port", r.local_port.unwrap_or(0))
        }
        _ => {}
    }
    if verbose {
        for (via, to, mapped) in &r.samples {
            println!("answer: {} -> server port {}: seen as {mapped}", socket_name(*via), to.port());
        }
    }
}

/// `nat --json`.
fn json(r: &NatReport, local_ip: Option<IpAddr>) -> serde_json::Value {
    let answers: Vec<serde_json::Value> = r
        .samples
        .iter()
        .map(|(via, to, mapped)| {
            serde_json::json!({"socket": socket_name(*via), "to": to.to_string(), "seen_as": mapped.to_string()})
        })
        .collect();
    let step = match r.kind {
        NatKind::Predictable { step, .. } => Some(step),
        _ => None,
    };
    serde_json::json!({
        "nat": !no_nat(r, local_ip),
        "mapping": r.kind.name(),
        "verdict": verdict(r, local_ip),
        "public": r.public.map(|a| a.to_string()),
        "local": local_ip.zip(r.local_port).map(|(ip, port)| SocketAddr::new(ip, port).to_string()),
        "preserves_port": r.preserves_port,
        "step": step,
        "desc": r.kind.token(),
        "answers": answers,
    })
}

/// What `host`/`join` say of the classification, for a person (stderr).
pub fn describe(r: &NatReport, local_ip: Option<IpAddr>) {
    let public = r.public.map_or(String::new(), |p| format!(" (public address {p})"));
    eprintln!("NAT: {}{public}", verdict(r, local_ip));
}
