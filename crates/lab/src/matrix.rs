//! The connectivity matrix: scenarios (pairs of access types, same NAT, a 4-player group), the
//! outcome theory predicts for each, a runner that builds one lab per scenario and condition and
//! runs N attempts in it, and the Markdown report.

use crate::impair::LinkCondition;
use crate::nat::{Filtering, Mapping, NatType};
use crate::probe::{fields, PingStats};
use crate::sh::{self, LabError, Proc, Result};
use crate::topo::{ClientId, Lab, RouterSpec, SERVER_ADDR};
use std::fmt::Write as _;
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Port of the rendezvous server in the lab.
pub const RENDEZVOUS_PORT: u16 = 7000;

/// How a client reaches the internet: behind one NAT of a type, or behind two (a home
/// port-restricted cone router behind a carrier-grade port-restricted cone NAT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Access {
    /// One NAT router of this type.
    Nat(NatType),
    /// Home router (port-restricted cone) behind a carrier NAT (port-restricted cone).
    DoubleNat,
}

impl Access {
    /// Every access type, in report order.
    pub const ALL: [Access; 6] = [
        Access::Nat(NatType::FullCone),
        Access::Nat(NatType::RestrictedCone),
        Access::Nat(NatType::PortRestrictedCone),
        Access::Nat(NatType::PortShiftCone),
        Access::Nat(NatType::Symmetric),
        Access::DoubleNat,
    ];

    /// Stable short name.
    pub fn name(self) -> &'static str {
        match self {
            Access::Nat(t) => t.name(),
            Access::DoubleNat => "double-nat",
        }
    }

    /// Mapping behaviour seen from the internet.
    pub fn mapping(self) -> Mapping {
        match self {
            Access::Nat(t) => t.mapping(),
            Access::DoubleNat => Mapping::EndpointIndependent,
        }
    }

    /// Filtering behaviour seen from the internet.
    pub fn filtering(self) -> Filtering {
        match self {
            Access::Nat(t) => t.filtering(),
            Access::DoubleNat => Filtering::AddressAndPortDependent,
        }
    }

    /// Parses [`Access::name`].
    pub fn parse(s: &str) -> Option<Access> {
        Access::ALL.into_iter().find(|a| a.name() == s)
    }
}

/// One matrix entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Two players, each behind its own access.
    Pair(Access, Access),
    /// Two players behind the same NAT router (with NAT loopback).
    SameNat(NatType),
    /// One session of several players, each behind its own access.
    Group(Vec<Access>),
    /// Two players behind port-restricted home routers WITHOUT the WAN firewall: an early punch
    /// reaches the router itself, conntrack records it, and the client's own packet then gets a
    /// new port (the "router race" of NAT-LAB-NOTES).
    RouterRace,
}

impl Scenario {
    /// Access of every player, in player order (host first).
    pub fn players(&self) -> usize {
        match self {
            Scenario::Pair(..) | Scenario::SameNat(_) | Scenario::RouterRace => 2,
            Scenario::Group(v) => v.len(),
        }
    }

    /// Whether the matrix test asserts this scenario's outcome. The router race is reported
    /// but not asserted: its outcome depends on which first packet wins a sub-millisecond race.
    pub fn asserted(&self) -> bool {
        !matches!(self, Scenario::RouterRace)
    }

    /// Human label.
    pub fn label(&self) -> String {
        match self {
            Scenario::Pair(a, b) => format!("{} × {}", a.name(), b.name()),
            Scenario::SameNat(t) => format!("2 players behind the same {} NAT (hairpin)", t.name()),
            Scenario::Group(v) => {
                let names: Vec<&str> = v.iter().map(|a| a.name()).collect();
                format!("{} players: {}", v.len(), names.join(", "))
            }
            Scenario::RouterRace => "port-restricted × port-restricted, no WAN firewall (router race)".into(),
        }
    }
}

/// What the client under test does that decides the open cells of the theory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientModel {
    /// It answers a peer at the address the peer's datagram really came from (peer-reflexive),
    /// not only at the server-observed address.
    pub answers_source: bool,
    /// It gets through the router race: after its first packet was re-mapped to a new port by
    /// the router, it recovers (e.g. pauses so the stale conntrack entries expire, or re-learns
    /// its mapping), instead of punching on into the stale entries.
    pub survives_router_race: bool,
}

/// Does plain punching (each side sends to the other's server-observed address) connect `a`
/// and `b`?
///
/// - Both mappings endpoint-independent: yes; each side's own outbound packet opens its filter
///   for exactly the peer's observed endpoint, and the peer sends from that endpoint.
/// - Both symmetric: no; each sends from a port the other never learns.
/// - One symmetric side S, one cone side C: S's packets to C come from a NEW public port P'.
///   They get through C's NAT only if C filters by address at most (full cone: anyone;
///   restricted cone: C has sent to S's address, any port is let in). A port-restricted,
///   port-shift or double NAT drops them. Then S's NAT lets in only C's answers sent to
///   P' itself, so C must answer where the datagram came from (`answers_source`).
pub fn pair_connects(a: Access, b: Access, m: ClientModel) -> bool {
    let eim = |x: Access| x.mapping() == Mapping::EndpointIndependent;
    let cone_side_ok = |c: Access| m.answers_source && c.filtering() != Filtering::AddressAndPortDependent;
    match (eim(a), eim(b)) {
        (true, true) => true,
        (false, false) => false,
        (true, false) => cone_side_ok(a),
        (false, true) => cone_side_ok(b),
    }
}

/// Expected outcome of a scenario: every player connects to every other.
pub fn expected(s: &Scenario, m: ClientModel) -> bool {
    match s {
        Scenario::Pair(a, b) => pair_connects(*a, *b, m),
        // With NAT loopback each side's packets to the other's public mapping are turned around
        // by the router; an endpoint-independent mapping makes that the same as two cones.
        Scenario::SameNat(t) => t.mapping() == Mapping::EndpointIndependent,
        Scenario::Group(v) => {
            v.iter().enumerate().all(|(i, a)| v[i + 1..].iter().all(|b| pair_connects(*a, *b, m)))
        }
        // The first punch to arrive (before the receiver's own first packet left) is recorded
        // as a flow to the router itself; the receiver's packet to that peer then clashes and
        // leaves from a new port that the peer's NAT filters out, while the peer's punches keep
        // the stale entry alive. Only simultaneous first packets cross, which is rare.
        Scenario::RouterRace => m.survives_router_race,
    }
}

/// The standard scenario list: every unordered pair of [`Access::ALL`] (same type included),
/// two players behind one port-restricted NAT, and a 4-player session across mixed NATs.
pub fn scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    for (i, a) in Access::ALL.iter().enumerate() {
        for b in &Access::ALL[i..] {
            v.push(Scenario::Pair(*a, *b));
        }
    }
    v.push(Scenario::SameNat(NatType::PortRestrictedCone));
    v.push(Scenario::RouterRace);
    v.push(Scenario::Group(vec![
        Access::Nat(NatType::PortRestrictedCone),
        Access::Nat(NatType::FullCone),
        Access::Nat(NatType::PortShiftCone),
        Access::DoubleNat,
    ]));
    v
}

/// Which client program the players run.
#[derive(Clone, Debug)]
pub enum Driver {
    /// The lab's own probe rendezvous + punch client (validates the lab itself).
    Probe,
    /// The real `rabid-hole-punch` binary (`serve`, `host`, `join`).
    Product {
        /// Path of the binary.
        bin: PathBuf,
        /// Extra arguments for `host`/`join` (e.g. `--peer-timeout-s 6`).
        client_args: Vec<String>,
    },
}

impl Driver {
    /// The real binary, with the timeouts its `host --help` says it supports.
    pub fn product(bin: PathBuf, peer_timeout_s: u64) -> Driver {
        let help = sh::run(&bin.to_string_lossy(), &["host", "--help"]).unwrap_or_default();
        let mut client_args = Vec::new();
        // The peer phase is bounded tightly (failing cells end sooner); the app-data exchange
        // after it keeps the client's own default.
        for flag in ["--peer-timeout-s"] {
            if help.contains(flag) {
                client_args.push(flag.to_string());
                client_args.push(peer_timeout_s.to_string());
            }
        }
        Driver::Product { bin, client_args }
    }
}

/// How to run the matrix.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The `rhp-lab` helper binary.
    pub helper: PathBuf,
    /// Client program.
    pub driver: Driver,
    /// Attempts per cell.
    pub attempts: usize,
    /// Labs run at once.
    pub jobs: usize,
    /// Upper bound for one attempt (every player's process is killed after it).
    pub attempt_timeout: Duration,
    /// Pings per client for the impairment check.
    pub check_pings: u32,
}

/// One attempt.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// Every player exited 0 (exchanged data with every peer).
    pub ok: bool,
    /// Time from the start until the last player was connected (max over players' `punch-done`).
    pub connect_ms: Option<u64>,
    /// Why it failed (exit codes, `failed` lines), empty on success.
    pub detail: String,
    /// Every player's stdout, prefixed with its name (for `RHP_LAB_VERBOSE=1`).
    pub log: Vec<String>,
}

/// The result of one scenario under one condition.
#[derive(Clone, Debug)]
pub struct CellResult {
    /// The scenario.
    pub scenario: Scenario,
    /// The link condition.
    pub condition: LinkCondition,
    /// Every attempt.
    pub attempts: Vec<Attempt>,
    /// Impairment check of each client (ping to the echo service).
    pub measured: Vec<PingStats>,
    /// Wall time of the whole cell, lab build included.
    pub elapsed: Duration,
    /// Attempts of the last rerun, made when the runs before differed from the theory: the cell
    /// counts as matching only if this run matches (it is then reported as flaky).
    pub rerun: Vec<Attempt>,
}

impl CellResult {
    /// The attempts that decide the outcome: the rerun's if there was one.
    pub fn deciding(&self) -> &[Attempt] {
        if self.rerun.is_empty() {
            &self.attempts
        } else {
            &self.rerun
        }
    }

    /// Successful attempts of the first run.
    pub fn successes(&self) -> usize {
        self.attempts.iter().filter(|a| a.ok).count()
    }

    /// Median time-to-connect of the successful attempts.
    pub fn median_ms(&self) -> Option<u64> {
        let mut v: Vec<u64> = self.attempts.iter().filter(|a| a.ok).filter_map(|a| a.connect_ms).collect();
        v.sort_unstable();
        v.get(v.len().saturating_sub(1) / 2).copied()
    }

    /// Observed outcome as the theory states it: all attempts connect (true), none (false),
    /// or mixed (None, which never matches a prediction).
    pub fn outcome(&self) -> Option<bool> {
        let d = self.deciding();
        match d.iter().filter(|a| a.ok).count() {
            0 => Some(false),
            n if n == d.len() => Some(true),
            _ => None,
        }
    }
}

fn client_behind(lab: &mut Lab, a: Access) -> Result<ClientId> {
    let r = match a {
        Access::Nat(t) => lab.add_router(RouterSpec::home(t))?,
        Access::DoubleNat => {
            let carrier = lab.add_router(RouterSpec {
                nat: NatType::PortRestrictedCone,
                upstream: None,
                carrier: true,
                wan_firewall: true,
                hairpin: false,
            })?;
            lab.add_router(RouterSpec {
                upstream: Some(carrier),
                ..RouterSpec::home(NatType::PortRestrictedCone)
            })?
        }
    };
    lab.add_client(r)
}

/// `RHP_LAB_VERBOSE=1`: every player's output, and the server's debug log, go to stderr.
fn verbose() -> bool {
    std::env::var("RHP_LAB_VERBOSE").is_ok_and(|v| v == "1")
}

const PLAYERS: [&str; 4] = ["alice", "bob", "carol", "dave"];

/// What the host prints (stderr) once the server has created its session.
const SESSION_CREATED: &str = "in the session";

/// Builds the lab for `scenario` under `cond`, checks the impairment, starts the rendezvous
/// server and runs `cfg.attempts` sessions; the lab is torn down when this returns.
pub fn run_cell(cfg: &RunConfig, scenario: &Scenario, cond: LinkCondition) -> Result<CellResult> {
    let t0 = Instant::now();
    let mut lab = Lab::new(&cfg.helper)?;
    lab.start_echo()?;
    let clients: Vec<ClientId> = match scenario {
        Scenario::Pair(a, b) => vec![client_behind(&mut lab, *a)?, client_behind(&mut lab, *b)?],
        Scenario::SameNat(t) => {
            let r = lab.add_router(RouterSpec::home(*t))?;
            vec![lab.add_client(r)?, lab.add_client(r)?]
        }
        Scenario::Group(v) => v.iter().map(|a| client_behind(&mut lab, *a)).collect::<Result<_>>()?,
        Scenario::RouterRace => {
            let spec = RouterSpec { wan_firewall: false, ..RouterSpec::home(NatType::PortRestrictedCone) };
            let a = lab.add_router(spec.clone())?;
            let b = lab.add_router(spec)?;
            vec![lab.add_client(a)?, lab.add_client(b)?]
        }
    };
    if clients.len() > PLAYERS.len() {
        return Err(LabError::Check("at most 4 players".into()));
    }
    if cond != LinkCondition::CLEAN {
        for c in &clients {
            lab.impair(*c, cond)?;
        }
    }
    // Measure the condition on every client's link before trusting it.
    let measured: Vec<PingStats> = std::thread::scope(|s| {
        let hs: Vec<_> = clients.iter().map(|c| s.spawn(|| lab.ping(*c, cfg.check_pings, 5))).collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(LabError::Check("ping thread panicked".into()))))
            .collect::<Result<Vec<_>>>()
    })?;
    for (c, m) in clients.iter().zip(&measured) {
        cond.check(m).map_err(|e| LabError::Check(format!("client {c} of {}: {e}", scenario.label())))?;
    }
    let server = SocketAddrV4::new(SERVER_ADDR, RENDEZVOUS_PORT).to_string();
    let (prog, args): (String, Vec<String>) = match &cfg.driver {
        Driver::Probe => (
            cfg.helper.to_string_lossy().into_owned(),
            vec!["rendezvous".into(), "--bind".into(), server.clone()],
        ),
        Driver::Product { bin, .. } => (
            bin.to_string_lossy().into_owned(),
            vec![
                "serve".into(),
                "--bind".into(),
                SERVER_ADDR.to_string(),
                "--port".into(),
                RENDEZVOUS_PORT.to_string(),
                "--no-log-file".into(),
            ],
        ),
    };
    let mut args = args;
    if verbose() && matches!(cfg.driver, Driver::Product { .. }) {
        args.extend(["--log-level".into(), "debug".into()]);
    }
    lab.spawn_in_server("server", &prog, &args)?
        .wait_for_line("listening on udp://", Duration::from_secs(10))?;
    let mut attempts = Vec::new();
    for i in 0..cfg.attempts {
        lab.reset_nat_state()?;
        attempts.push(run_attempt(cfg, &lab, &clients, i, &server)?);
    }
    if verbose() {
        let log = lab.server_log().join("\n");
        eprintln!("[lab] server log of {} [{}]:\n{log}", scenario.label(), cond.label());
    }
    Ok(CellResult {
        scenario: scenario.clone(),
        condition: cond,
        attempts,
        measured,
        elapsed: t0.elapsed(),
        rerun: Vec::new(),
    })
}

fn player_args(
    driver: &Driver,
    session: &str,
    idx: usize,
    n: usize,
    server: &str,
) -> (Option<String>, Vec<String>) {
    let name = PLAYERS[idx].to_string();
    match driver {
        Driver::Probe => (None, {
            let v = ["punch", "--server", server, "--session", session, "--name", &name];
            let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
            v.extend(["--players".into(), n.to_string(), "--timeout-ms".into(), "3000".into()]);
            v
        }),
        Driver::Product { bin, client_args } => {
            let mut v: Vec<String> =
                vec![if idx == 0 { "host" } else { "join" }.into(), session.into(), name.clone()];
            if idx == 0 {
                v.extend(["--max".into(), n.to_string(), "--start-when".into(), n.to_string()]);
            }
            v.extend(["--server".into(), server.into(), "--send".into(), format!("hello-from-{name}")]);
            v.extend(["--expect".into(), (n - 1).to_string()]);
            v.extend(client_args.iter().cloned());
            (Some(bin.to_string_lossy().into_owned()), v)
        }
    }
}

fn run_attempt(cfg: &RunConfig, lab: &Lab, clients: &[ClientId], i: usize, server: &str) -> Result<Attempt> {
    let nonce = (std::process::id() as u64 ^ Instant::now().elapsed().as_nanos() as u64 ^ i as u64) % 100_000;
    let session = format!("m{i}n{nonce}");
    let mut procs: Vec<Proc> = Vec::new();
    for (idx, c) in clients.iter().enumerate() {
        let (prog, args) = player_args(&cfg.driver, &session, idx, clients.len(), server);
        let prog = prog.unwrap_or_else(|| cfg.helper.to_string_lossy().into_owned());
        let ns = &lab.client(*c)?.ns;
        let mut p = ns.spawn_in(PLAYERS[idx], &prog, &args, Some(lab.workdir()))?;
        if idx == 0 {
            // Joining a session that does not exist yet is refused: let the host create it
            // first (its `h:` may be lost on a lossy link). Bounded; on a timeout the attempt
            // goes on and fails visibly.
            let _ = p.wait_for_line(SESSION_CREATED, Duration::from_secs(8));
        }
        procs.push(p);
    }
    let deadline = Instant::now() + cfg.attempt_timeout;
    let n = clients.len();
    let product = matches!(cfg.driver, Driver::Product { .. });
    // Once a player has failed the attempt has failed: stop waiting for the others (1 s grace).
    // Once every player has printed its full success (all peers connected, every peer's
    // message received), the product's 2 s settle time is not waited for.
    while Instant::now() < deadline {
        let codes: Vec<Option<Option<i32>>> = procs.iter_mut().map(Proc::try_code).collect();
        if codes.iter().all(Option::is_some) {
            break;
        }
        let all_reported = procs.iter().enumerate().zip(&codes).all(|((i, p), c)| {
            *c == Some(Some(0)) || (c.is_none() && reported_success(&p.stdout_lines(), i, n))
        });
        if product && all_reported {
            break;
        }
        if codes.iter().any(|c| matches!(c, Some(code) if *code != Some(0))) {
            std::thread::sleep(Duration::from_secs(1));
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut ok = true;
    let mut connect_ms: Option<u64> = Some(0);
    let mut detail = String::new();
    let mut log = Vec::new();
    for (idx, p) in procs.into_iter().enumerate() {
        let f = p.finish(Duration::from_millis(100));
        log.extend(f.stdout.iter().map(|l| format!("{}> {l}", PLAYERS[idx])));
        if verbose() {
            log.extend(f.stderr.iter().map(|l| format!("{}! {l}", PLAYERS[idx])));
        }
        let done = f.stdout.iter().rev().find(|l| l.starts_with("punch-done")).cloned();
        let ms: Option<u64> = done.as_deref().and_then(|l| fields(l).get("after_start_ms")?.parse().ok());
        let killed_after_success = product && f.code.is_none() && reported_success(&f.stdout, idx, n);
        if f.code != Some(0) && !killed_after_success {
            ok = false;
            let failed: Vec<&str> =
                f.stdout.iter().filter(|l| l.starts_with("failed")).map(String::as_str).collect();
            let last_err = f.stderr.last().map(String::as_str).unwrap_or("");
            let _ = write!(detail, "{}: exit {:?} {} {}; ", PLAYERS[idx], f.code, failed.join(" "), last_err);
        }
        connect_ms = match (connect_ms, ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    }
    if verbose() {
        eprintln!("[lab] attempt {session}: ok={ok}\n{}", log.join("\n"));
    }
    Ok(Attempt { ok, connect_ms: if ok { connect_ms } else { None }, detail, log })
}

/// Did player `me` of `n` print everything a successful script-mode run prints: `punch-done
/// connected=k/k` with k = n-1, and a `<peer>: <text>` line from every other player?
fn reported_success(stdout: &[String], me: usize, n: usize) -> bool {
    let want = n.saturating_sub(1);
    let punched = stdout.iter().any(|l| {
        l.starts_with("punch-done")
            && fields(l).get("connected").is_some_and(|c| *c == format!("{want}/{want}").as_str())
    });
    let heard_all = PLAYERS[..n]
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != me)
        .all(|(_, p)| stdout.iter().any(|l| l.starts_with(&format!("{p}: "))));
    punched && heard_all
}

/// Runs every (scenario, condition) with `cfg.jobs` labs at once. Progress goes to stderr.
pub fn run_all(cfg: &RunConfig, cells: &[(Scenario, LinkCondition)]) -> Vec<Result<CellResult>> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Result<CellResult>>>> = Mutex::new((0..cells.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..cfg.jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((sc, cond)) = cells.get(i) else { break };
                let r = run_cell(cfg, sc, *cond);
                match &r {
                    Ok(c) => eprintln!(
                        "[lab] {:<45} {:<32} {}/{} ({:.1} s)",
                        sc.label(),
                        cond.label(),
                        c.successes(),
                        c.attempts.len(),
                        c.elapsed.as_secs_f64()
                    ),
                    Err(e) => eprintln!("[lab] {:<45} {:<32} LAB ERROR: {e}", sc.label(), cond.label()),
                }
                if let Ok(mut o) = out.lock() {
                    o[i] = Some(r);
                }
            });
        }
    });
    out.into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(LabError::Check("cell not run".into()))))
        .collect()
}

/// Every cell whose outcome differs from the theory, as one line each.
pub fn mismatches(results: &[CellResult], m: ClientModel) -> Vec<String> {
    results
        .iter()
        .filter(|r| r.scenario.asserted() && r.outcome() != Some(expected(&r.scenario, m)))
        .map(|r| {
            let why: Vec<&str> =
                r.attempts.iter().map(|a| a.detail.as_str()).filter(|d| !d.is_empty()).collect();
            format!(
                "{} [{}]: {}/{} connected, expected {}; {}",
                r.scenario.label(),
                r.condition.label(),
                r.successes(),
                r.attempts.len(),
                if expected(&r.scenario, m) { "all" } else { "none" },
                why.join(" ")
            )
        })
        .collect()
}

fn cell_text(r: Option<&CellResult>, m: ClientModel) -> String {
    let Some(r) = r else { return "—".into() };
    let (s, n) = (r.successes(), r.attempts.len());
    let mark = match (r.outcome(), r.rerun.is_empty()) {
        (Some(true), true) => "✅",
        (Some(false), true) => "❌",
        _ => "⚠️",
    };
    let time = r.median_ms().map(|t| format!(" · {t} ms")).unwrap_or_default();
    let rerun = if r.rerun.is_empty() {
        String::new()
    } else {
        format!(", rerun {}/{}", r.rerun.iter().filter(|a| a.ok).count(), r.rerun.len())
    };
    let surprise = match (r.scenario.asserted(), r.outcome() == Some(expected(&r.scenario, m))) {
        (false, _) => " (not asserted)",
        (true, true) => "",
        (true, false) => " ❗",
    };
    format!("{mark} {s}/{n}{time}{rerun}{surprise}")
}

fn measured_summary(results: &[&CellResult]) -> String {
    let mut rtts: Vec<f64> = Vec::new();
    let (mut sent, mut got) = (0u64, 0u64);
    for r in results {
        for m in &r.measured {
            rtts.push(m.median_rtt_ms());
            sent += m.sent as u64;
            got += m.received as u64;
        }
    }
    rtts.sort_by(|a, b| a.total_cmp(b));
    let med = rtts.get(rtts.len() / 2).copied().unwrap_or(f64::NAN);
    let loss = if sent == 0 { 0.0 } else { 100.0 * (1.0 - got as f64 / sent as f64) };
    format!(
        "measured in every lab, client → server round trip through one impaired link: median {med:.1} ms, \
         {loss:.1}% of {sent} probes lost"
    )
}

/// The Markdown report: one NAT × NAT table per condition, then the other scenarios.
pub fn report(results: &[CellResult], m: ClientModel, meta: &str) -> String {
    let mut conds: Vec<LinkCondition> = Vec::new();
    for r in results {
        if !conds.contains(&r.condition) {
            conds.push(r.condition);
        }
    }
    let mut s = String::new();
    let _ = writeln!(s, "# Connectivity matrix (NAT lab)\n");
    let _ = writeln!(s, "{meta}\n");
    let _ = writeln!(
        s,
        "Cell: successful sessions / attempts · median time from the host's start until every player \
         was connected. ✅ all connected, ❌ none, ⚠️ some. A cell that differs from what the \
         theory predicts for the current client is run again, up to twice (\"rerun k/n\" is the \
         last rerun); ❗ = it still differed, and the lab test fails on it.\n"
    );
    for c in &conds {
        let here: Vec<&CellResult> = results.iter().filter(|r| r.condition == *c).collect();
        let find = |a: Access, b: Access| {
            here.iter()
                .find(|r| r.scenario == Scenario::Pair(a, b) || r.scenario == Scenario::Pair(b, a))
                .copied()
        };
        let _ = writeln!(s, "## {}\n", c.label());
        let _ = writeln!(s, "{}\n", measured_summary(&here));
        let mut head = String::from("| |");
        let mut rule = String::from("|---|");
        for b in Access::ALL {
            let _ = write!(head, " {} |", b.name());
            rule.push_str("---|");
        }
        let _ = writeln!(s, "{head}\n{rule}");
        for a in Access::ALL {
            let _ = write!(s, "| **{}** |", a.name());
            for b in Access::ALL {
                let _ = write!(s, " {} |", cell_text(find(a, b), m));
            }
            s.push('\n');
        }
        let others: Vec<&&CellResult> =
            here.iter().filter(|r| !matches!(r.scenario, Scenario::Pair(..))).collect();
        if !others.is_empty() {
            let _ = writeln!(s, "\n| other scenario | result |\n|---|---|");
            for r in others {
                let _ = writeln!(s, "| {} | {} |", r.scenario.label(), cell_text(Some(r), m));
            }
        }
        s.push('\n');
    }
    s.push_str(THEORY);
    s
}

/// The reasoning behind the expected outcomes, appended to the report.
const THEORY: &str = "## Why these outcomes

- Two endpoint-independent mappings (every cone type, port-shift, double NAT) always connect: each side's first packet to the other's server-observed endpoint opens its own NAT for exactly that endpoint, and the other side sends from it.
- A symmetric NAT sends to each peer from a new public port that the server never saw. A port-restricted, port-shift or double NAT filters by address *and* port, so it drops those packets: those pairs, and symmetric × symmetric, fail (they need port prediction or a relay).
- Full and restricted cone let packets in from the symmetric side's new port (restricted: because it has already sent to that address). The client answers where a peer's datagram really came from, so full/restricted cone × symmetric connect.
- Same NAT: the router's NAT loopback turns each side's packets to the other's public endpoint around; with endpoint-independent mapping that is two cones.
- Router race (home routers without the WAN firewall): a punch that arrives before the local client's own first packet is recorded by conntrack as a flow to the router itself; the client's packet then leaves from a new port that the peer filters out. The current client does not recover; the cell is shown but not asserted because the race is occasionally won.

";

/// Finds the product binary: `$RHP_BIN`, else `rabid-hole-punch` next to the running executable
/// (or one directory up, for test executables in `deps/`), else `$CARGO_TARGET_DIR/debug`, else the
/// workspace's `target/debug`.
pub fn find_product_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("RHP_BIN") {
        return Ok(PathBuf::from(p));
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            candidates.push(dir.join("rabid-hole-punch"));
            if let Some(up) = dir.parent() {
                candidates.push(up.join("rabid-hole-punch"));
            }
        }
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(Path::new(&t).join("debug/rabid-hole-punch"));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/rabid-hole-punch"));
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        LabError::Check(
            "rabid-hole-punch binary not found: run `cargo build -p rabid-hole-punch` (or set RHP_BIN)"
                .into(),
        )
    })
}

/// The current client's model, as measured: the real client answers peers where their datagrams
/// come from (so a full or restricted cone connects to a symmetric NAT), and does not recover
/// from the router race (0 of 10 attempts did).
pub const CURRENT_CLIENT: ClientModel = ClientModel { answers_source: true, survives_router_race: false };

/// Arguments of `rhp-lab matrix`.
#[derive(clap::Args, Debug, Clone)]
pub struct MatrixArgs {
    /// Path of the rabid-hole-punch binary (default: found next to rhp-lab, or in target/debug).
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// Run the lab's own probe client instead of the product (checks the lab itself).
    #[arg(long)]
    pub probe: bool,
    /// Attempts per cell.
    #[arg(long, default_value_t = 3)]
    pub attempts: usize,
    /// Labs at once.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Peer timeout given to the clients (s).
    #[arg(long, default_value_t = 3)]
    pub peer_timeout_s: u64,
    /// Only the clean condition.
    #[arg(long)]
    pub clean_only: bool,
    /// Only scenarios whose label contains this text (e.g. "symmetric").
    #[arg(long)]
    pub only: Option<String>,
    /// Write the Markdown report here too (it is always printed).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The standard cells: every scenario under clean and 10% loss + 50 ms.
pub fn standard_cells(clean_only: bool) -> Vec<(Scenario, LinkCondition)> {
    let conds: &[LinkCondition] =
        if clean_only { &[LinkCondition::CLEAN] } else { &[LinkCondition::CLEAN, LinkCondition::LOSSY] };
    conds.iter().flat_map(|c| scenarios().into_iter().map(move |s| (s, *c))).collect()
}

/// How many times a cell that differs from the theory is run again before it counts as changed.
pub const RERUNS: usize = 2;

/// Runs the matrix, prints (and writes) the report. Ok(false) when a cell differs from the
/// theory or a lab failed.
pub fn run_and_report(
    cfg: &RunConfig,
    cells: &[(Scenario, LinkCondition)],
    out: Option<&Path>,
) -> Result<bool> {
    crate::netns::preflight().map_err(LabError::Check)?;
    let t0 = Instant::now();
    let mut results = run_all(cfg, cells);
    // A cell that differs from the theory is run again, up to RERUNS times: a real change
    // shows every time, a rare flake (reported below as such) does not fail the run.
    for _ in 0..RERUNS {
        let differs: Vec<usize> = (0..cells.len())
            .filter(|i| {
                matches!(&results[*i], Ok(r) if r.scenario.asserted()
                    && r.outcome() != Some(expected(&r.scenario, CURRENT_CLIENT)))
            })
            .collect();
        if differs.is_empty() {
            break;
        }
        let again: Vec<(Scenario, LinkCondition)> = differs.iter().map(|i| cells[*i].clone()).collect();
        eprintln!("[lab] {} cell(s) differ from the theory: running them again", again.len());
        for (i, r2) in differs.iter().zip(run_all(cfg, &again)) {
            match (&mut results[*i], r2) {
                (Ok(r), Ok(r2)) => r.rerun = r2.attempts,
                (_, Err(e)) => results[*i] = Err(e),
                _ => {}
            }
        }
    }
    let elapsed = t0.elapsed();
    let mut ok_cells = Vec::new();
    let mut lab_errors = Vec::new();
    for (r, (sc, c)) in results.into_iter().zip(cells) {
        match r {
            Ok(r) => ok_cells.push(r),
            Err(e) => lab_errors.push(format!("{} [{}]: {e}", sc.label(), c.label())),
        }
    }
    let client = match &cfg.driver {
        Driver::Probe => "the lab's probe client (`rhp-lab punch`)".to_string(),
        Driver::Product { bin, .. } => {
            let v = sh::run(&bin.to_string_lossy(), &["--version"]).unwrap_or_default();
            format!("`{}`", v.trim())
        }
    };
    let date = sh::run("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default();
    let meta = format!(
        "Regenerate (root, Linux): `cargo build -p rabid-hole-punch -p rhp-lab && \
         target/debug/rhp-lab matrix --out docs/connectivity.md`\n\n\
         Client: {client}. {} attempts per cell, {} labs in parallel, whole run {:.0} s, {}.\n\
         Topology: server on 198.51.100.10, each player behind its own NAT router (public address \
         in 203.0.113.0/24, LAN 10.x); double-nat = a home router behind a carrier NAT (100.64.x); \
         home routers drop new inbound WAN flows to themselves. Impairments are on each client's \
         LAN link, both directions.",
        cfg.attempts,
        cfg.jobs,
        elapsed.as_secs_f64(),
        date.trim()
    );
    let mut text = report(&ok_cells, CURRENT_CLIENT, &meta);
    let mism = mismatches(&ok_cells, CURRENT_CLIENT);
    let flaky: Vec<String> = ok_cells
        .iter()
        .filter(|r| !r.rerun.is_empty() && r.outcome() == Some(expected(&r.scenario, CURRENT_CLIENT)))
        .map(|r| {
            let why: Vec<&str> =
                r.attempts.iter().map(|a| a.detail.as_str()).filter(|d| !d.is_empty()).collect();
            format!(
                "flaky, matched on rerun: {} [{}]: first {}/{}; {}",
                r.scenario.label(),
                r.condition.label(),
                r.successes(),
                r.attempts.len(),
                why.join(" ")
            )
        })
        .collect();
    if !lab_errors.is_empty() || !mism.is_empty() || !flaky.is_empty() {
        let _ = writeln!(text, "## Problems\n");
        for l in lab_errors.iter().chain(&mism).chain(&flaky) {
            let _ = writeln!(text, "- {l}");
        }
    }
    println!("{text}");
    if let Some(p) = out {
        std::fs::write(p, &text)?;
        eprintln!("[lab] report written to {}", p.display());
    }
    Ok(lab_errors.is_empty() && mism.is_empty())
}

/// `rhp-lab matrix`.
pub fn main(a: &MatrixArgs, helper: PathBuf) -> Result<bool> {
    let driver = if a.probe {
        Driver::Probe
    } else {
        let bin = match &a.bin {
            Some(b) => b.clone(),
            None => find_product_bin()?,
        };
        Driver::product(bin, a.peer_timeout_s)
    };
    let cfg = RunConfig {
        helper,
        driver,
        attempts: a.attempts,
        jobs: a.jobs,
        attempt_timeout: Duration::from_secs(a.peer_timeout_s + 25),
        check_pings: 100,
    };
    let mut cells = standard_cells(a.clean_only);
    if let Some(only) = &a.only {
        cells.retain(|(s, _)| s.label().contains(only.as_str()));
    }
    run_and_report(&cfg, &cells, a.out.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use NatType::*;

    #[test]
    fn theory_table() {
        let m = CURRENT_CLIENT;
        let sym = Access::Nat(Symmetric);
        for a in Access::ALL {
            if a != sym {
                for b in Access::ALL.into_iter().filter(|b| *b != sym) {
                    assert!(pair_connects(a, b, m), "cone pair {a:?} {b:?}");
                }
            }
        }
        assert!(!pair_connects(sym, sym, m));
        assert!(!pair_connects(sym, Access::Nat(PortRestrictedCone), m));
        assert!(!pair_connects(Access::Nat(PortShiftCone), sym, m));
        assert!(!pair_connects(Access::DoubleNat, sym, m));
        assert!(pair_connects(Access::Nat(FullCone), sym, m));
        assert!(pair_connects(sym, Access::Nat(RestrictedCone), m));
        let plain = ClientModel { answers_source: false, survives_router_race: false };
        assert!(!pair_connects(Access::Nat(FullCone), sym, plain));
    }

    #[test]
    fn success_is_read_from_the_contract_lines() {
        let out = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let good = out(&[
            "connected peer=bob addr=1.2.3.4:5 after_start_ms=3",
            "punch-done connected=1/1 after_start_ms=3",
            "bob: hi",
        ]);
        assert!(reported_success(&good, 0, 2));
        assert!(!reported_success(&good[..2], 0, 2), "no message from bob yet");
        let partial = out(&["punch-done connected=1/2 after_start_ms=9", "bob: hi", "carol: hi"]);
        assert!(!reported_success(&partial, 0, 3));
    }

    #[test]
    fn scenario_list_covers_every_unordered_pair() {
        let s = scenarios();
        assert_eq!(s.iter().filter(|x| matches!(x, Scenario::Pair(..))).count(), 21);
        assert!(s.contains(&Scenario::SameNat(PortRestrictedCone)));
        assert!(s.iter().any(|x| matches!(x, Scenario::Group(v) if v.len() == 4)));
        assert!(s.contains(&Scenario::RouterRace) && !Scenario::RouterRace.asserted());
    }
}
