//! The connectivity matrix: scenarios (pairs of access types, same NAT, a 4-player group), the
//! outcome theory predicts for each, a runner that builds one lab per scenario and condition and
//! runs N attempts in it, and the Markdown report.

use crate::impair::LinkCondition;
use crate::nat::{Filtering, Mapping, NatType};
use crate::probe::{fields, PingStats};
use crate::report;
use crate::sh::{self, LabError, Proc, Result};
use crate::theory::{self, ClientModel, Method, CURRENT_CLIENT, PROBE_CLIENT};
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
    pub const ALL: [Access; 8] = [
        Access::Nat(NatType::FullCone),
        Access::Nat(NatType::RestrictedCone),
        Access::Nat(NatType::PortRestrictedCone),
        Access::Nat(NatType::PortShiftCone),
        Access::DoubleNat,
        Access::Nat(NatType::Symmetric),
        Access::Nat(NatType::SymmetricSequential),
        Access::Nat(NatType::SymmetricPreserving),
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

/// The standard scenario list: every unordered pair of [`Access::ALL`] (same type included),
/// two players behind one port-restricted NAT, the router race, and a 4-player session across
/// mixed NATs (one of them symmetric: its pairs need plain, predicted-free and birthday paths).
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
        Access::Nat(NatType::Symmetric),
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
        // after it keeps the client's own default. A script exits once its messages are in, so
        // it is held up as long as the peer phase lasts: a relayed pair's direct path (which
        // the lab waits for) may come later; the lab stops the players once it has what it
        // waits for.
        for flag in ["--peer-timeout-s", "--hold-s"] {
            if help.contains(flag) {
                client_args.push(flag.to_string());
                client_args.push(peer_timeout_s.to_string());
            }
        }
        Driver::Product { bin, client_args }
    }

    /// What the theory assumes of this client.
    pub fn model(&self) -> ClientModel {
        match self {
            Driver::Probe => PROBE_CLIENT,
            Driver::Product { .. } => CURRENT_CLIENT,
        }
    }
}

/// How to run the matrix.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The `rhp-lab` helper binary.
    pub helper: PathBuf,
    /// Client program.
    pub driver: Driver,
    /// Attempts per cell expected to connect.
    pub attempts: usize,
    /// Attempts per cell expected to fail (each costs a whole peer timeout).
    pub fail_attempts: usize,
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
    /// The strongest method any player reported in its `connected` lines.
    pub method: Option<Method>,
    /// Birthday probes the easy side had sent when it connected (`probes=`), if it reported any.
    pub probes: Option<u32>,
    /// Time from the start until every player had a direct path to every peer (None: some
    /// pair stayed on the relay, or the attempt failed).
    pub direct_ms: Option<u64>,
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

    /// The `p`-th percentile (nearest rank) of the successful attempts' time to connect.
    pub fn percentile_ms(&self, p: usize) -> Option<u64> {
        let mut v: Vec<u64> = self.attempts.iter().filter(|a| a.ok).filter_map(|a| a.connect_ms).collect();
        v.sort_unstable();
        let rank = (v.len() * p).div_ceil(100).max(1);
        v.get(rank - 1).copied()
    }

    /// The `p`-th percentile (nearest rank) of the time until every pair had a direct path,
    /// over the attempts that ended all-direct.
    pub fn direct_percentile_ms(&self, p: usize) -> Option<u64> {
        let mut v: Vec<u64> = self.attempts.iter().filter_map(|a| a.direct_ms).collect();
        v.sort_unstable();
        let rank = (v.len() * p).div_ceil(100).max(1);
        v.get(rank - 1).copied()
    }

    /// Birthday probes of the successful attempts that reported them, sorted.
    pub fn probes(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.attempts.iter().filter(|a| a.ok).filter_map(|a| a.probes).collect();
        v.sort_unstable();
        v
    }

    /// The method most successful attempts used.
    pub fn dominant_method(&self) -> Option<Method> {
        Method::ALL
            .into_iter()
            .map(|m| (self.attempts.iter().filter(|a| a.ok && a.method == Some(m)).count(), m))
            .filter(|(n, _)| *n > 0)
            .max_by_key(|(n, _)| *n)
            .map(|(_, m)| m)
    }

    /// How many successful attempts used each method, e.g. `birthday 19, plain 1`.
    pub fn method_summary(&self) -> String {
        report::method_counts(self.attempts.iter().filter(|a| a.ok).filter_map(|a| a.method))
    }

    /// Does the observed outcome match the theory for client `m`? `None`: not asserted.
    ///
    /// Expected to connect: at least 95% of the deciding attempts connect by a method the theory
    /// expects (19 of 20: the direct methods for a pair that can connect directly; the odd one
    /// may have ended on the relay, or on a path no one expects, such as a random port landing in
    /// the ±8 window). With a client that falls back to the relay, every attempt must connect.
    /// Expected to fail: none connects.
    pub fn matches(&self, m: ClientModel) -> Option<bool> {
        let want = theory::expected(&self.scenario, m)?;
        let d = self.deciding();
        let ok = d.iter().filter(|a| a.ok).count();
        if !want.connects {
            return Some(ok == 0);
        }
        let by_expected =
            d.iter().filter(|a| a.ok && a.method.is_some_and(|x| want.methods.contains(&x))).count();
        let all_connect = !m.relay || ok == d.len();
        Some(by_expected * 100 >= d.len() * 95 && all_connect)
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

/// The product's exit code when a signal stopped it (it left the relay first).
const STOPPED_CODE: i32 = 143;

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
    // Cells expected to fail (and the unasserted router race) cost a whole peer timeout per
    // attempt: they get fewer.
    let n = match theory::expected(scenario, cfg.driver.model()) {
        Some(e) if e.connects => cfg.attempts,
        _ => cfg.fail_attempts.min(cfg.attempts),
    };
    // A pair that can connect directly may be on the relay first: the attempt waits until every
    // player reports a direct path to every peer (bounded by the attempt's timeout).
    let wait_direct = theory::expected(scenario, cfg.driver.model())
        .is_some_and(|e| e.methods.iter().any(|m| *m != Method::Relay));
    for i in 0..n {
        lab.reset_nat_state()?;
        attempts.push(run_attempt(cfg, &lab, &clients, i, &server, wait_direct)?);
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

fn run_attempt(
    cfg: &RunConfig,
    lab: &Lab,
    clients: &[ClientId],
    i: usize,
    server: &str,
    wait_direct: bool,
) -> Result<Attempt> {
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
        let direct = || procs.iter().all(|p| methods_reported(&p.stdout_lines()).0 != Some(Method::Relay));
        if product && all_reported && (!wait_direct || direct()) {
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
    let (mut method, mut probes): (Option<Method>, Option<u32>) = (None, None);
    let mut direct: Option<u64> = Some(0);
    let mut detail = String::new();
    let mut log = Vec::new();
    for (idx, p) in procs.into_iter().enumerate() {
        let f = p.terminate(Duration::from_millis(300));
        log.extend(f.stdout.iter().map(|l| format!("{}> {l}", PLAYERS[idx])));
        if verbose() {
            log.extend(f.stderr.iter().map(|l| format!("{}! {l}", PLAYERS[idx])));
        }
        direct = match (direct, direct_ms(&f.stdout)) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        let (m, p) = methods_reported(&f.stdout);
        method = method.max(m);
        probes = probes.max(p);
        let done = f.stdout.iter().rev().find(|l| l.starts_with("punch-done")).cloned();
        let ms: Option<u64> = done.as_deref().and_then(|l| fields(l).get("after_start_ms")?.parse().ok());
        // Stopped by us once it had reported everything (143: it left on our SIGTERM).
        let stopped = f.code.is_none() || f.code == Some(STOPPED_CODE);
        let killed_after_success = product && stopped && reported_success(&f.stdout, idx, n);
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
    let direct_ms = if ok { direct } else { None };
    Ok(Attempt { ok, connect_ms: if ok { connect_ms } else { None }, method, probes, direct_ms, detail, log })
}

/// The strongest final method of a player's peers (each peer's last `connected` or `upgraded`
/// line; `relay` above every direct one, so a pair left on the relay shows), and the most
/// birthday probes it reported. The lab's probe client prints no `method=`: it punches plainly.
fn methods_reported(stdout: &[String]) -> (Option<Method>, Option<u32>) {
    let mut last: Vec<(&str, Option<Method>)> = Vec::new();
    let mut probes = None;
    for l in stdout.iter().filter(|l| l.starts_with("connected ") || l.starts_with("upgraded ")) {
        let kv = fields(l);
        let m = kv.get("method").map_or(Some(Method::Plain), |x| Method::parse(x));
        let peer = kv.get("peer").copied().unwrap_or("");
        match last.iter_mut().find(|(p, _)| *p == peer) {
            Some(slot) => slot.1 = m,
            None => last.push((peer, m)),
        }
        probes = probes.max(kv.get("probes").and_then(|x| x.parse::<u32>().ok()));
    }
    (last.into_iter().map(|(_, m)| m).max().flatten(), probes)
}

/// When a player's last peer got its final direct path (`after_start_ms` of each peer's last
/// `connected`/`upgraded` line, the largest), if every peer ended on a direct path.
fn direct_ms(stdout: &[String]) -> Option<u64> {
    let mut last: Vec<(String, Option<Method>, Option<u64>)> = Vec::new();
    for l in stdout.iter().filter(|l| l.starts_with("connected ") || l.starts_with("upgraded ")) {
        let kv = fields(l);
        let m = kv.get("method").map_or(Some(Method::Plain), |x| Method::parse(x));
        let t = kv.get("after_start_ms").and_then(|x| x.parse().ok());
        let peer = kv.get("peer").copied().unwrap_or("").to_string();
        match last.iter_mut().find(|(p, _, _)| *p == peer) {
            Some(slot) => (slot.1, slot.2) = (m, t),
            None => last.push((peer, m, t)),
        }
    }
    if last.is_empty() || last.iter().any(|(_, m, _)| *m == Some(Method::Relay)) {
        return None;
    }
    last.iter().map(|(_, _, t)| *t).collect::<Option<Vec<u64>>>()?.into_iter().max()
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
                        "[lab] {:<45} {:<32} {}/{} {} ({:.1} s)",
                        sc.label(),
                        cond.label(),
                        c.successes(),
                        c.attempts.len(),
                        c.method_summary(),
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

/// Arguments of `rhp-lab matrix`.
#[derive(clap::Args, Debug, Clone)]
pub struct MatrixArgs {
    /// Path of the rabid-hole-punch binary (default: found next to rhp-lab, or in target/debug).
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// Run the lab's own probe client instead of the product (checks the lab itself).
    #[arg(long)]
    pub probe: bool,
    /// Attempts per cell expected to connect (the documented matrix uses 20).
    #[arg(long, default_value_t = 3)]
    pub attempts: usize,
    /// Attempts per cell expected to fail (each waits out the peer timeout).
    #[arg(long, default_value_t = 3)]
    pub fail_attempts: usize,
    /// Labs at once (they mostly wait on timers and delay lines, not on the CPU).
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Peer timeout given to the clients (s): how long direct attempts run before a pair stays on
    /// the relay (the birthday path's goal is 5 s at 10% loss; a group has several such pairs).
    #[arg(long, default_value_t = 10)]
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
pub const RERUNS: usize = 3;

/// Runs the matrix, prints (and writes) the report. Ok(false) when a cell differs from the
/// theory or a lab failed.
pub fn run_and_report(
    cfg: &RunConfig,
    cells: &[(Scenario, LinkCondition)],
    out: Option<&Path>,
) -> Result<bool> {
    crate::netns::preflight().map_err(LabError::Check)?;
    let model = cfg.driver.model();
    let t0 = Instant::now();
    let mut results = run_all(cfg, cells);
    // A cell that differs from the theory is run again, up to RERUNS times: a real change
    // shows every time, a rare flake (reported below as such) does not fail the run.
    for _ in 0..RERUNS {
        let differs: Vec<usize> = (0..cells.len())
            .filter(|i| matches!(&results[*i], Ok(r) if r.matches(model) == Some(false)))
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
         target/debug/rhp-lab matrix --attempts 20 --out docs/connectivity.md`\n\n\
         Client: {client}. {} attempts per cell ({} where the theory expects failure), {} labs in \
         parallel, whole run {:.0} s, {}.\n\
         Topology: server on 198.51.100.10, each player behind its own NAT router (public address \
         in 203.0.113.0/24, LAN 10.x); double-nat = a home router behind a carrier NAT (100.64.x); \
         home routers drop new inbound WAN flows to themselves. Impairments are on each client's \
         LAN link, both directions.",
        cfg.attempts,
        cfg.fail_attempts.min(cfg.attempts),
        cfg.jobs,
        elapsed.as_secs_f64(),
        date.trim()
    );
    let mut text = report::report(&ok_cells, model, &meta);
    let mism = report::mismatches(&ok_cells, model);
    let flaky = report::flaky(&ok_cells, model);
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
        fail_attempts: a.fail_attempts,
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
    use crate::theory::Method;
    use NatType::*;

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
    fn methods_and_probes_are_read_from_connected_lines() {
        let out = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let easy = out(&[
            "connected peer=bob addr=1.2.3.4:5 after_start_ms=3 method=plain",
            "connected peer=carol addr=1.2.3.5:9 after_start_ms=300 method=birthday probes=211",
            "punch-done connected=2/2 after_start_ms=300",
        ]);
        assert_eq!(methods_reported(&easy), (Some(Method::Birthday), Some(211)));
        let probe_client = out(&["connected peer=bob addr=1.2.3.4:5 after_start_ms=3"]);
        assert_eq!(methods_reported(&probe_client), (Some(Method::Plain), None));
        assert_eq!(methods_reported(&out(&["failed peer=bob reason=no_reply"])), (None, None));
        let upgraded = out(&[
            "connected peer=bob addr=198.51.100.10:7000 after_start_ms=1 method=relay",
            "connected peer=carol addr=198.51.100.10:7000 after_start_ms=1 method=relay",
            "upgraded peer=bob addr=1.2.3.4:5 after_start_ms=300 method=birthday",
        ]);
        assert_eq!(methods_reported(&upgraded).0, Some(Method::Relay), "carol is still relayed");
        assert_eq!(direct_ms(&upgraded), None);
        assert_eq!(direct_ms(&[upgraded[0].clone(), upgraded[2].clone()]), Some(300));
        assert_eq!(direct_ms(&easy), Some(300));
        assert_eq!(methods_reported(&upgraded[..1]).0, Some(Method::Relay));
        assert_eq!(methods_reported(&[upgraded[0].clone(), upgraded[2].clone()]).0, Some(Method::Birthday));
    }

    fn cell(scenario: Scenario, results: &[(bool, Method)]) -> CellResult {
        let attempts = results
            .iter()
            .map(|(ok, m)| Attempt {
                ok: *ok,
                connect_ms: ok.then_some(10),
                method: ok.then_some(*m),
                probes: None,
                direct_ms: None,
                detail: String::new(),
                log: Vec::new(),
            })
            .collect();
        CellResult {
            scenario,
            condition: LinkCondition::CLEAN,
            attempts,
            measured: Vec::new(),
            elapsed: Duration::ZERO,
            rerun: Vec::new(),
        }
    }

    #[test]
    fn a_cell_matches_with_19_of_20_by_an_expected_method() {
        let m = CURRENT_CLIENT;
        let hard = Scenario::Pair(Access::Nat(PortRestrictedCone), Access::Nat(Symmetric));
        let direct_only = ClientModel { relay: false, ..m };
        let mut v = vec![(true, Method::Birthday); 19];
        v.push((false, Method::Birthday));
        assert_eq!(cell(hard.clone(), &v).matches(direct_only), Some(true));
        assert_eq!(cell(hard.clone(), &v).matches(m), Some(false), "with the relay, all 20");
        v[0].0 = false;
        assert_eq!(cell(hard.clone(), &v).matches(direct_only), Some(false), "18/20 is not enough");
        let mut plain = vec![(true, Method::Birthday); 20];
        plain[3].1 = Method::Plain;
        assert_eq!(cell(hard.clone(), &plain).matches(m), Some(true), "one odd attempt of 20");
        plain[4].1 = Method::Plain;
        assert_eq!(
            cell(hard, &plain).matches(m),
            Some(false),
            "plain cannot pass port-restricted × symmetric"
        );
        let both = Scenario::Pair(Access::Nat(Symmetric), Access::Nat(SymmetricPreserving));
        let direct_only = ClientModel { relay: false, ..m };
        assert_eq!(cell(both.clone(), &[(false, Method::Plain); 3]).matches(direct_only), Some(true));
        assert_eq!(
            cell(both.clone(), &[(true, Method::Plain), (false, Method::Plain)]).matches(direct_only),
            Some(false)
        );
        // With the relay: every attempt connects, by the relay.
        assert_eq!(cell(both.clone(), &[(true, Method::Relay); 20]).matches(m), Some(true));
        let mut one_lost = vec![(true, Method::Relay); 20];
        one_lost[7].0 = false;
        assert_eq!(cell(both, &one_lost).matches(m), Some(false), "20 of 20 with the relay");
        // A direct-capable pair may end on the relay in one attempt of 20, not in two.
        let hard = Scenario::Pair(Access::Nat(PortRestrictedCone), Access::Nat(Symmetric));
        let mut v = vec![(true, Method::Birthday); 20];
        v[2].1 = Method::Relay;
        assert_eq!(cell(hard.clone(), &v).matches(m), Some(true));
        v[3].1 = Method::Relay;
        assert_eq!(
            cell(hard, &v).matches(m),
            Some(false),
            "pairs that can connect directly do not stay relayed"
        );
        assert_eq!(cell(Scenario::RouterRace, &[(false, Method::Plain)]).matches(m), None);
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut c = cell(Scenario::SameNat(PortRestrictedCone), &[(true, Method::Plain); 20]);
        for (i, a) in c.attempts.iter_mut().enumerate() {
            a.connect_ms = Some(i as u64 + 1);
        }
        assert_eq!(c.percentile_ms(50), Some(10));
        assert_eq!(c.percentile_ms(95), Some(19));
        assert_eq!(c.percentile_ms(100), Some(20));
    }

    #[test]
    fn scenario_list_covers_every_unordered_pair() {
        let s = scenarios();
        assert_eq!(s.iter().filter(|x| matches!(x, Scenario::Pair(..))).count(), 36);
        assert!(s.contains(&Scenario::SameNat(PortRestrictedCone)));
        assert!(s.iter().any(|x| matches!(x, Scenario::Group(v) if v.len() == 4)));
        assert!(s.contains(&Scenario::RouterRace));
    }
}
