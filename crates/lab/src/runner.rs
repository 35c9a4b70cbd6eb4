//! The runner: one lab per cell (built over the cell's families, its links measured, the server
//! started on the families the cell needs), N attempts in it (every player started with the
//! server's addresses in its network's families, waited for with a bound, its output read),
//! several labs at once.

use crate::cell::{Attempt, CellResult};
use crate::family::{Families, Family};
use crate::impair::LinkCondition;
use crate::nat::NatType;
use crate::output::{self, direct_ms, methods_reported, reported_success};
use crate::probe::{fields, PingStats};
use crate::scenario::{Access, Cell, Scenario};
use crate::sh::{self, LabError, Proc, Result};
use crate::theory::{self, CURRENT_CLIENT};
use crate::topo::{
    ClientId, Lab, RouterSpec, ECHO_PORT, RENDEZVOUS_PORT, SERVER_ADDR, SERVER_ADDR2, SERVER_ADDR6,
};
use rhp_client::Method;
use std::fmt::Write as _;
use std::net::{SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The product the players and the server run: the real `rabid-hole-punch` binary (`serve`,
/// `host`, `join`).
#[derive(Clone, Debug)]
pub struct Product {
    /// Path of the binary.
    pub bin: PathBuf,
    /// Extra arguments for `host`/`join` (e.g. `--peer-timeout-s 6`).
    pub client_args: Vec<String>,
}

impl Product {
    /// The real binary, with the timeouts its `host --help` says it supports.
    pub fn new(bin: PathBuf, peer_timeout_s: u64) -> Product {
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
        Product { bin, client_args }
    }

    /// The binary's path as a program to spawn.
    fn program(&self) -> String {
        self.bin.to_string_lossy().into_owned()
    }
}

/// How to run the matrix.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The `rhp-lab` helper binary.
    pub helper: PathBuf,
    /// The binary under test.
    pub product: Product,
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

/// A home router of type `t` giving its LAN `family`.
fn home(t: NatType, family: Family) -> RouterSpec {
    RouterSpec { family, ..RouterSpec::home(t) }
}

fn client_behind(lab: &mut Lab, a: Access, family: Family) -> Result<ClientId> {
    let r = match a {
        Access::Nat(t) => lab.add_router(home(t, family))?,
        Access::DoubleNat => {
            let carrier = lab.add_router(RouterSpec {
                carrier: true,
                hairpin: false,
                ..home(NatType::PortRestrictedCone, family)
            })?;
            lab.add_router(RouterSpec {
                upstream: Some(carrier),
                ..home(NatType::PortRestrictedCone, family)
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

/// The server's rendezvous address(es) a player on a `family` network is given (`--server`):
/// IPv4, IPv6 (bracketed), or both, comma-separated (the dual-stack client's form).
pub fn server_arg(family: Family) -> String {
    let v4 = SocketAddr::from(SocketAddrV4::new(SERVER_ADDR, RENDEZVOUS_PORT));
    let v6 = SocketAddr::new(SERVER_ADDR6.into(), RENDEZVOUS_PORT);
    match family {
        Family::V4 => v4.to_string(),
        Family::V6 => v6.to_string(),
        Family::Dual => format!("{v4},{v6}"),
    }
}

/// The server's `--bind`: its IPv4 address when every player is IPv4-only (the IPv4 matrix, as
/// it always was), else the one dual-stack socket (`::`).
pub fn server_bind(family: Families) -> String {
    if family.any_v6() {
        "::".into()
    } else {
        SERVER_ADDR.to_string()
    }
}

/// `serve` on `bind`, the rendezvous port, no log file.
fn serve_args(bind: &str) -> Vec<String> {
    ["serve", "--bind", bind, "--port", &RENDEZVOUS_PORT.to_string(), "--no-log-file"]
        .map(String::from)
        .to_vec()
}

/// The second node's rendezvous address, where a two-node cell's joiners go (IPv4).
fn node2_arg() -> String {
    SocketAddrV4::new(SERVER_ADDR2, RENDEZVOUS_PORT).to_string()
}

/// The store's port, on the server namespace's own loopback (each lab has its own).
const STORE_PORT: u16 = 6379;

/// The nodes' cluster port (node-to-node frames), on each node's own address.
const CLUSTER_PORT: u16 = 57800;

/// A two-node cluster in the server namespace, as the README's "Running several nodes" runs
/// one: a Redis store (nothing on disk) on the namespace's loopback, node 1 on [`SERVER_ADDR`]
/// and node 2 on [`SERVER_ADDR2`] (each with its STUN alternate port, frames between them on
/// their own addresses, one cluster secret). Returns once each node has seen the other's
/// heartbeat (its "frames at" line), so a join through node 2 finds node 1 at once.
fn start_two_nodes(lab: &mut Lab, product: &Product) -> Result<()> {
    let redis = which("redis-server").ok_or_else(|| {
        LabError::Check("two-node cells need redis-server (Debian: apt-get install redis-server)".into())
    })?;
    let store_args: Vec<String> = [
        "--port",
        &STORE_PORT.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "no",
    ]
    .map(String::from)
    .to_vec();
    lab.spawn_in_server("store", &redis, &store_args)?
        .wait_for_line("Ready to accept connections", Duration::from_secs(10))?;
    let secret = lab.workdir().join("cluster.secret");
    std::fs::write(&secret, "lab-cluster-secret-32-bytes-long!")
        .map_err(|e| LabError::Check(format!("cannot write {}: {e}", secret.display())))?;
    let mut started = Vec::new();
    for (id, addr) in [(1u8, SERVER_ADDR), (2, SERVER_ADDR2)] {
        let mut args = serve_args(&addr.to_string());
        args.extend([
            "--cluster-store".into(),
            format!("redis://127.0.0.1:{STORE_PORT}"),
            "--node-id".into(),
            id.to_string(),
            "--cluster-bind".into(),
            SocketAddrV4::new(addr, CLUSTER_PORT).to_string(),
            "--cluster-secret-file".into(),
            secret.to_string_lossy().into_owned(),
        ]);
        if verbose() {
            args.extend(["--log-level".into(), "debug".into()]);
        }
        let label = format!("server{id}");
        lab.spawn_in_server(&label, &product.program(), &args)?
            .wait_for_line("listening on udp://", Duration::from_secs(10))?;
        started.push(label);
    }
    for label in started {
        lab.server_proc(&label)?.wait_for_line("frames at udp://", Duration::from_secs(10))?;
    }
    Ok(())
}

/// The path of `program` on `PATH`.
fn which(program: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .map(|p| p.to_string_lossy().into_owned())
}

/// Builds the lab for the cell (its scenario over its players' families), checks the impairment
/// on every family a client has, starts the rendezvous server and runs `cfg.attempts` sessions;
/// the lab is torn down when this returns.
pub fn run_cell(cfg: &RunConfig, cell: &Cell) -> Result<CellResult> {
    let (scenario, cond, family) = (&cell.scenario, cell.condition, cell.family);
    let t0 = Instant::now();
    let mut lab = Lab::new(&cfg.helper)?;
    lab.start_echo()?;
    let clients: Vec<ClientId> = match scenario {
        Scenario::Pair(a, b) => {
            vec![client_behind(&mut lab, *a, family.of(0))?, client_behind(&mut lab, *b, family.of(1))?]
        }
        Scenario::SameNat(t) => {
            let r = lab.add_router(home(*t, family.of(0)))?;
            vec![lab.add_client(r)?, lab.add_client(r)?]
        }
        Scenario::Group(v) => v
            .iter()
            .enumerate()
            .map(|(i, a)| client_behind(&mut lab, *a, family.of(i)))
            .collect::<Result<_>>()?,
        Scenario::RouterRace => {
            let spec = |f| RouterSpec { wan_firewall: false, ..home(NatType::PortRestrictedCone, f) };
            let a = lab.add_router(spec(family.of(0)))?;
            let b = lab.add_router(spec(family.of(1)))?;
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
    // Measure the condition on every client's link, in each family it has, before trusting it.
    let echo4 = SocketAddr::from(SocketAddrV4::new(SERVER_ADDR, ECHO_PORT));
    let echo6 = SocketAddr::new(SERVER_ADDR6.into(), ECHO_PORT);
    let probes: Vec<(ClientId, SocketAddr)> = clients
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            let f = family.of(i);
            [(f.has_v4(), echo4), (f.has_v6(), echo6)].into_iter().filter(|(on, _)| *on).map(|(_, e)| (*c, e))
        })
        .collect();
    let measured: Vec<PingStats> = std::thread::scope(|s| {
        let hs: Vec<_> =
            probes.iter().map(|(c, e)| s.spawn(|| lab.ping_to(*c, *e, cfg.check_pings, 5))).collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(LabError::Check("ping thread panicked".into()))))
            .collect::<Result<Vec<_>>>()
    })?;
    for ((c, e), m) in probes.iter().zip(&measured) {
        // A 4σ band over ~100 round trips, checked on every link of every cell: a sample far out
        // in the tail turns up about once a run, so a miss is measured again, and only a second
        // miss (an impairment that really is wrong) fails the cell.
        let checked = cond.check(m).or_else(|first| {
            let again = lab.ping_to(*c, *e, cfg.check_pings, 5)?;
            cond.check(&again).map_err(|second| LabError::Check(format!("{first}; measured again: {second}")))
        });
        checked.map_err(|err| LabError::Check(format!("client {c} of {} to {e}: {err}", cell.label())))?;
    }
    let servers: Vec<String> = (0..clients.len())
        .map(|i| if cell.nodes > 1 && i > 0 { node2_arg() } else { server_arg(family.of(i)) })
        .collect();
    if cell.nodes > 1 {
        start_two_nodes(&mut lab, &cfg.product)?;
    } else {
        let mut args = serve_args(&server_bind(family));
        if verbose() {
            args.extend(["--log-level".into(), "debug".into()]);
        }
        lab.spawn_in_server("server", &cfg.product.program(), &args)?
            .wait_for_line("listening on udp://", Duration::from_secs(10))?;
    }
    let mut attempts = Vec::new();
    // Cells expected to fail (and the unasserted router race) cost a whole peer timeout per
    // attempt: they get fewer.
    let expected = theory::expected_cell(cell, CURRENT_CLIENT);
    let n = match &expected {
        Some(e) if e.connects => cfg.attempts,
        _ => cfg.fail_attempts.min(cfg.attempts),
    };
    // A pair that can connect directly may be on the relay first: the attempt waits until every
    // player reports a direct path to every peer (bounded by the attempt's timeout).
    let wait_direct = expected.is_some_and(|e| e.methods.iter().any(|m| *m != Method::Relay));
    for i in 0..n {
        lab.reset_nat_state()?;
        attempts.push(run_attempt(cfg, &lab, &clients, i, &servers, wait_direct)?);
    }
    if verbose() {
        let log = lab.server_log().join("\n");
        eprintln!("[lab] server log of {} [{}]:\n{log}", cell.label(), cond.label());
    }
    Ok(CellResult {
        scenario: scenario.clone(),
        condition: cond,
        family,
        nodes: cell.nodes,
        attempts,
        measured,
        elapsed: t0.elapsed(),
        rerun: Vec::new(),
    })
}

/// The arguments of player `idx` of `n`: the host (`idx` 0) creates the session, the others
/// join it; each sends one message and expects one from every other player.
fn player_args(product: &Product, session: &str, idx: usize, n: usize, server: &str) -> Vec<String> {
    let name = PLAYERS[idx].to_string();
    let mut v: Vec<String> =
        vec![if idx == 0 { "host" } else { "join" }.into(), session.into(), name.clone()];
    if idx == 0 {
        v.extend(["--max".into(), n.to_string(), "--start-when".into(), n.to_string()]);
    }
    v.extend(["--server".into(), server.into(), "--send".into(), format!("hello-from-{name}")]);
    v.extend(["--expect".into(), (n - 1).to_string()]);
    v.extend(product.client_args.iter().cloned());
    v
}

fn run_attempt(
    cfg: &RunConfig,
    lab: &Lab,
    clients: &[ClientId],
    i: usize,
    servers: &[String],
    wait_direct: bool,
) -> Result<Attempt> {
    let nonce = (std::process::id() as u64 ^ Instant::now().elapsed().as_nanos() as u64 ^ i as u64) % 100_000;
    let session = format!("m{i}n{nonce}");
    let mut procs: Vec<Proc> = Vec::new();
    for (idx, c) in clients.iter().enumerate() {
        let args = player_args(&cfg.product, &session, idx, clients.len(), &servers[idx]);
        let prog = cfg.product.program();
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
    // Once a player has failed the attempt has failed: stop waiting for the others (1 s grace).
    // Once every player has printed its full success (all peers connected, every peer's
    // message received), the product's 2 s settle time is not waited for.
    while Instant::now() < deadline {
        let codes: Vec<Option<Option<i32>>> = procs.iter_mut().map(Proc::try_code).collect();
        if codes.iter().all(Option::is_some) {
            break;
        }
        let all_reported = procs.iter().enumerate().zip(&codes).all(|((i, p), c)| {
            *c == Some(Some(0)) || (c.is_none() && reported_success(&p.stdout_lines(), &PLAYERS[..n], i))
        });
        let direct = || procs.iter().all(|p| methods_reported(&p.stdout_lines()).0 != Some(Method::Relay));
        if all_reported && (!wait_direct || direct()) {
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
    let mut path_family: Option<Family> = None;
    let mut paths_v6_v4 = (0, 0);
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
        for p in output::final_paths(&f.stdout) {
            match p {
                Family::V6 => paths_v6_v4.0 += 1,
                _ => paths_v6_v4.1 += 1,
            }
        }
        path_family = match (path_family, output::path_family(&f.stdout)) {
            (Some(a), Some(b)) => Some(output::combine(a, b)),
            (a, b) => a.or(b),
        };
        let (m, p) = methods_reported(&f.stdout);
        method = method.max(m);
        probes = probes.max(p);
        let done = f.stdout.iter().rev().find(|l| l.starts_with("punch-done")).cloned();
        let ms: Option<u64> = done.as_deref().and_then(|l| fields(l).get("after_start_ms")?.parse().ok());
        // Stopped by us once it had reported everything (143: it left on our SIGTERM).
        let stopped = f.code.is_none() || f.code == Some(STOPPED_CODE);
        let killed_after_success = stopped && reported_success(&f.stdout, &PLAYERS[..n], idx);
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
    Ok(Attempt {
        ok,
        connect_ms: if ok { connect_ms } else { None },
        method,
        probes,
        direct_ms,
        path_family,
        paths_v6_v4,
        detail,
        log,
    })
}

/// Runs every cell with `cfg.jobs` labs at once. Progress goes to stderr.
pub fn run_all(cfg: &RunConfig, cells: &[Cell]) -> Vec<Result<CellResult>> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Result<CellResult>>>> = Mutex::new((0..cells.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..cfg.jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(cell) = cells.get(i) else { break };
                let r = run_cell(cfg, cell);
                let (sc, cond) = (cell, cell.condition);
                match &r {
                    Ok(c) => eprintln!(
                        "[lab] {:<45} {:<32} {}/{} {}{} ({:.1} s)",
                        sc.label(),
                        cond.label(),
                        c.successes(),
                        c.attempts.len(),
                        c.method_summary(),
                        if c.family == Families::V4 {
                            String::new()
                        } else {
                            format!(" over {}", c.family_summary())
                        },
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
