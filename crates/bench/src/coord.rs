//! `rhp-bench run`: starts each target (the naive echo, the batched echo, the real server in one
//! or more configurations) as its own process, starts the load workers, drives the phases, reads
//! the targets' CPU time and memory from /proc and prints the figures and their ratios.

use crate::hist::Hist;
use crate::procfs;
use crate::target::{spawn_target, Target, TargetSpec};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Flags of `rhp-bench run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Player counts to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    pub players: Vec<u32>,
    /// Players per session (the host included).
    #[arg(long, default_value_t = 4)]
    pub per_session: u32,
    /// Targets in order: `naive` and `batch` (the echo floors) and server configurations: `rhp`
    /// (default flags), a name given with --variant, or `clusterN` (N = 1…8 nodes in cluster mode
    /// on one Redis, `rhp`'s flags, each worker's sessions on one node; CPU and memory are all
    /// nodes' and the store's).
    #[arg(long, value_delimiter = ',', default_value = "naive,batch,rhp")]
    pub targets: Vec<String>,
    /// A server configuration: `NAME=FLAGS`, e.g. `single=--io-batch 1 --recv-buffer 0`.
    #[arg(long = "variant")]
    pub variants: Vec<String>,
    /// Phases in order: closed (closed-loop pings), rate (fixed rate), storm (start storm; server
    /// targets only, and it ends the sessions).
    #[arg(long, value_delimiter = ',', default_value = "closed,rate,storm")]
    pub phases: Vec<String>,
    /// Runs of every target, interleaved; the summary takes each figure's median over them (the
    /// machine is shared: single runs are noisy).
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Seconds per closed-loop and fixed-rate phase.
    #[arg(long, default_value_t = 5)]
    pub secs: u64,
    /// Closed loop: pings a player sends at once (one sendmmsg) when its turn comes.
    #[arg(long, default_value_t = 4)]
    pub window: usize,
    /// Closed loop: pings outstanding at all times, over all workers (kept below what the
    /// target's receive buffer holds, so the loop measures the server, not a queue).
    #[arg(long, default_value_t = 2048)]
    pub inflight: usize,
    /// Fixed-rate phase and storm: each player pings every this many ms (the Godot plugin: 500).
    #[arg(long, default_value_t = 500)]
    pub ping_interval_ms: u64,
    /// Storm: whether the players keep pinging while they wait for their `s:` (the Godot plugin
    /// does); `--storm-pings false` leaves only the hosts' `s:` and the server's fan-out.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub storm_pings: bool,
    /// Longest a storm runs, in ms.
    #[arg(long, default_value_t = 3000)]
    pub storm_ms: u64,
    /// A request unanswered this long is counted lost.
    #[arg(long, default_value_t = 200)]
    pub loss_timeout_ms: u64,
    /// Set-up pace: h:/c: requests per second over all workers.
    #[arg(long, default_value_t = 20_000)]
    pub setup_rate: u64,
    /// Worker processes (default: 2, or one per 15,000 players).
    #[arg(long)]
    pub workers: Option<u32>,
    /// Nice value for the targets (negative: ahead of the loader's processes, as on a server of
    /// its own; needs root). 0 leaves them equal.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub target_nice: i32,
    /// The server binary (default: `rabid-hole-punch` next to this one).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// The old, not production-shaped mode: the players of a worker share one loopback address,
    /// the server exempts loopback from the anti-reflection budget and lifts the per-IP caps. By
    /// default every player has its own address (127.16.0.1 onwards) and the server runs with
    /// `--reflection-loopback` and its default caps, as on the internet.
    #[arg(long)]
    pub shared_ips: bool,
}

/// The started workers.
pub(crate) struct Workers {
    children: Vec<Child>,
    stdins: Vec<ChildStdin>,
    lines: mpsc::Receiver<(usize, String)>,
}

impl Drop for Workers {
    fn drop(&mut self) {
        for s in &mut self.stdins {
            let _ = writeln!(s, "quit");
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        for c in &mut self.children {
            while Instant::now() < deadline && matches!(c.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub(crate) type Fields = HashMap<String, String>;

pub(crate) fn fields(line: &str) -> Fields {
    line.split_whitespace().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect()
}

pub(crate) fn num(f: &Fields, k: &str) -> u64 {
    f.get(k).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Figures of one closed-loop or fixed-rate phase.
#[derive(Debug, Clone, Default)]
struct Load {
    rps: f64,
    sent: u64,
    answered: u64,
    lost: u64,
    wrong: u64,
    cpu_per_req_us: f64,
    loader_cpu_per_req_us: f64,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
    drops: u64,
    rss: u64,
    lag_max_us: u64,
}

/// Figures of a start storm.
#[derive(Debug, Clone, Default)]
struct Storm {
    players: u64,
    got: u64,
    wrong: u64,
    errors: u64,
    confirms: u64,
    hist: Hist,
    drops: u64,
    cpu_ms: f64,
}

#[derive(Debug, Default)]
struct Row {
    target: String,
    setup: Option<(u64, u64, f64)>,
    closed: Option<Load>,
    rate: Option<Load>,
    storm: Option<Storm>,
    hwm: u64,
}

impl RunArgs {
    fn server_bin(&self) -> PathBuf {
        self.server_bin.clone().unwrap_or_else(|| {
            let me = std::env::current_exe().unwrap_or_default();
            me.with_file_name("rabid-hole-punch")
        })
    }

    fn variant_flags(&self, name: &str) -> Option<Vec<String>> {
        if name == "rhp" {
            return Some(Vec::new());
        }
        self.variants.iter().find_map(|v| {
            let (n, flags) = v.split_once('=')?;
            (n == name).then(|| flags.split_whitespace().map(String::from).collect())
        })
    }

    fn start_target(&self, name: &str) -> Result<Target, String> {
        let flags = match name {
            "naive" | "batch" => Vec::new(),
            _ if crate::cluster::nodes(name).is_some() => Vec::new(),
            server => self.variant_flags(server).ok_or(format!("unknown target {server}"))?,
        };
        let spec = TargetSpec {
            name,
            server_bin: self.server_bin(),
            server_flags: flags,
            max_secs: self.secs * 3 + self.storm_ms / 1000 + 120,
            nice: self.target_nice,
            shared_ips: self.shared_ips,
        };
        match crate::cluster::nodes(name) {
            Some(n) => crate::cluster::spawn(&spec, n),
            None => spawn_target(&spec),
        }
    }

    /// Starts the workers, each with its share of whole sessions, spread over `targets` in turn.
    fn start_workers(&self, targets: &[SocketAddr], players: u32, echo: bool) -> Result<Workers, String> {
        let per = self.per_session.max(1);
        let sessions = players.div_ceil(per);
        let count = self.workers.unwrap_or_else(|| 2.max(players.div_ceil(15_000))).clamp(1, 250);
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut cmds = Vec::new();
        for w in 0..count {
            let first = sessions * w / count;
            let last = sessions * (w + 1) / count;
            let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 1, (w + 1) as u8));
            let target = targets.get(w as usize % targets.len().max(1)).ok_or("no target address")?;
            let mut cmd = Command::new(&exe);
            cmd.args(["worker", "--target", &target.to_string(), "--bind-ip", &ip.to_string()]);
            cmd.args(["--first-session", &first.to_string(), "--sessions", &(last - first).to_string()]);
            cmd.args([
                "--per-session",
                &per.to_string(),
                "--loss-timeout-ms",
                &self.loss_timeout_ms.to_string(),
            ]);
            if echo {
                cmd.arg("--echo");
            }
            if !self.shared_ips {
                cmd.arg("--own-ips");
            }
            cmds.push(cmd);
        }
        spawn_workers(cmds)
    }
}

/// Starts one worker per command (stdin and stdout piped) and waits until each says `ready`.
pub(crate) fn spawn_workers(cmds: Vec<Command>) -> Result<Workers, String> {
    let count = cmds.len();
    let (tx, rx) = mpsc::channel();
    let mut workers = Workers { children: Vec::new(), stdins: Vec::new(), lines: rx };
    for (idx, mut cmd) in cmds.into_iter().enumerate() {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start a worker: {e}"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("worker pipes missing".into());
        };
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send((idx, line)).is_err() {
                    break;
                }
            }
        });
        // Held by `workers` at once, so an early return stops the ones started.
        workers.children.push(child);
        workers.stdins.push(stdin);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ready = 0;
    while ready < count {
        let left = deadline.saturating_duration_since(Instant::now());
        match workers.lines.recv_timeout(left) {
            Ok((_, l)) if l.starts_with("ready") => ready += 1,
            Ok(_) => {}
            Err(_) => return Err(format!("only {ready} of {count} workers ready within 60 s")),
        }
    }
    Ok(workers)
}

impl Workers {
    /// Sends `cmd` to every worker and collects one result line from each.
    pub(crate) fn phase(&mut self, cmd: &str, within: Duration) -> Result<Vec<Fields>, String> {
        for s in &mut self.stdins {
            writeln!(s, "{cmd}").map_err(|e| format!("worker stdin: {e}"))?;
            s.flush().map_err(|e| format!("worker stdin: {e}"))?;
        }
        let mut out = vec![None; self.stdins.len()];
        let deadline = Instant::now() + within;
        while out.iter().any(Option::is_none) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((i, l)) => {
                    if let Some(rest) = l.strip_prefix("result ") {
                        if let Some(slot) = out.get_mut(i) {
                            *slot = Some(fields(rest));
                        }
                    }
                }
                Err(_) => return Err(format!("'{cmd}': workers silent for {within:?}")),
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    pub(crate) fn cpu_us(&self) -> u64 {
        self.children.iter().filter_map(|c| procfs::cpu_us(c.id())).sum()
    }
}

pub(crate) fn merged_hist(results: &[Fields]) -> Hist {
    let mut h = Hist::default();
    for r in results {
        if let Some(x) = r.get("hist").and_then(|s| Hist::decode(s)) {
            h.merge(&x);
        }
    }
    h
}

pub(crate) fn sum(results: &[Fields], k: &str) -> u64 {
    results.iter().map(|r| num(r, k)).sum()
}

/// Runs one phase with CPU accounting of the target and the loader.
pub(crate) fn measured(
    workers: &mut Workers,
    target: &Target,
    cmd: &str,
    within: Duration,
) -> Result<(Vec<Fields>, u64, u64, u64), String> {
    let pids = target.pids();
    let cpu = || -> u64 { pids.iter().filter_map(|p| procfs::cpu_us(*p)).sum() };
    let drops = || -> u64 {
        let v4 = target.addrs.iter().filter_map(|a| match a {
            SocketAddr::V4(a) => Some(*a),
            SocketAddr::V6(_) => None,
        });
        v4.filter_map(procfs::udp_drops).sum()
    };
    let (cpu0, lcpu0, drops0) = (cpu(), workers.cpu_us(), drops());
    let results = workers.phase(cmd, within)?;
    let (cpu1, lcpu1, drops1) = (cpu(), workers.cpu_us(), drops());
    let cpu = cpu1.saturating_sub(cpu0);
    let drops = drops1.saturating_sub(drops0);
    Ok((results, cpu, lcpu1.saturating_sub(lcpu0), drops))
}

fn load(results: &[Fields], cpu: u64, loader_cpu: u64, drops: u64, rss: u64) -> Load {
    let answered = sum(results, "ok") + sum(results, "late") + sum(results, "wrong");
    let in_phase = sum(results, "ok");
    let elapsed = results.iter().map(|r| num(r, "elapsed_us")).max().unwrap_or(1).max(1);
    // Per request the target got (sent, less what its kernel dropped), answered or not.
    let handled = sum(results, "sent").saturating_sub(drops);
    let hist = merged_hist(results);
    let per = |c: u64| if handled > 0 { c as f64 / handled as f64 } else { f64::NAN };
    Load {
        rps: in_phase as f64 * 1e6 / elapsed as f64,
        sent: sum(results, "sent"),
        answered,
        lost: sum(results, "lost"),
        wrong: sum(results, "wrong"),
        cpu_per_req_us: per(cpu),
        loader_cpu_per_req_us: per(loader_cpu),
        p50_us: hist.quantile(0.5),
        p99_us: hist.quantile(0.99),
        max_us: hist.max,
        drops,
        rss,
        lag_max_us: results.iter().map(|r| num(r, "lag_max_us")).max().unwrap_or(0),
    }
}

/// Runs every target at one player count.
fn run_one(args: &RunArgs, players: u32) -> Vec<Row> {
    let mut rows = Vec::new();
    let phase_wait = Duration::from_secs(args.secs + 60);
    for name in &args.targets {
        let mut row = Row { target: name.clone(), ..Row::default() };
        let echo = name == "naive" || name == "batch";
        let result = (|| -> Result<(), String> {
            let target = args.start_target(name)?;
            let mut workers = args.start_workers(&target.addrs, players, echo)?;
            if !echo {
                let setup_wait = Duration::from_secs(90 + u64::from(players) * 3 / args.setup_rate.max(1));
                let r = workers
                    .phase(&format!("setup {}", args.setup_rate / workers.stdins.len() as u64), setup_wait)?;
                let joined = sum(&r, "joined");
                let secs = r.iter().map(|f| num(f, "setup_us")).max().unwrap_or(0) as f64 / 1e6;
                row.setup = Some((joined, sum(&r, "retries"), secs));
                if joined < u64::from(players) {
                    eprintln!("  {name}: only {joined} of {players} players joined");
                }
            }
            for phase in &args.phases {
                match phase.as_str() {
                    "closed" => {
                        let per_worker = args.inflight.div_ceil(workers.stdins.len()).max(1);
                        let cmd = format!("closed {} {} {per_worker}", args.secs * 1000, args.window);
                        let (r, cpu, lcpu, drops) = measured(&mut workers, &target, &cmd, phase_wait)?;
                        let rss = target.status_bytes("VmRSS");
                        row.closed = Some(load(&r, cpu, lcpu, drops, rss));
                    }
                    "rate" => {
                        let cmd = format!("rate {} {}", args.secs * 1000, args.ping_interval_ms);
                        let (r, cpu, lcpu, drops) = measured(&mut workers, &target, &cmd, phase_wait)?;
                        let rss = target.status_bytes("VmRSS");
                        row.rate = Some(load(&r, cpu, lcpu, drops, rss));
                    }
                    "storm" if !echo => {
                        let cmd = format!(
                            "storm {} {} {}",
                            args.storm_ms,
                            args.ping_interval_ms,
                            u8::from(args.storm_pings)
                        );
                        let (r, cpu, _, drops) = measured(&mut workers, &target, &cmd, phase_wait)?;
                        row.storm = Some(Storm {
                            players: sum(&r, "players"),
                            got: sum(&r, "got"),
                            wrong: sum(&r, "wrong"),
                            errors: sum(&r, "errors"),
                            confirms: sum(&r, "confirms"),
                            hist: merged_hist(&r),
                            drops,
                            cpu_ms: cpu as f64 / 1000.0,
                        });
                    }
                    _ => {}
                }
            }
            row.hwm = target.status_bytes("VmHWM");
            Ok(())
        })();
        if let Err(e) = result {
            eprintln!("  {name} at {players} players: {e}");
        }
        print_row(players, &row);
        rows.push(row);
    }
    rows
}

pub(crate) fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn print_row(players: u32, row: &Row) {
    let t = &row.target;
    if let Some((joined, retries, secs)) = row.setup {
        println!("{players:>7} {t:<8} setup   {joined} joined in {secs:.2} s ({retries} retries)");
    }
    for (label, l) in [("closed", &row.closed), ("rate", &row.rate)] {
        if let Some(l) = l {
            println!(
                "{players:>7} {t:<8} {label:<7} {:>9.0} req/s  cpu {:>5.2} us/req (loader {:.2})  p50 {} p99 {} max {} ms  \
                 answered {} of {}  lost {}  wrong {}  drops {}  rss {:.1} MiB{}",
                l.rps,
                l.cpu_per_req_us,
                l.loader_cpu_per_req_us,
                ms(l.p50_us),
                ms(l.p99_us),
                ms(l.max_us),
                l.answered,
                l.sent,
                l.lost,
                l.wrong,
                l.drops,
                l.rss as f64 / (1 << 20) as f64,
                if l.lag_max_us > 0 { format!("  loader lag max {} ms", ms(l.lag_max_us)) } else { String::new() }
            );
        }
    }
    if let Some(s) = &row.storm {
        let pct = |n: u64| if s.players > 0 { 100.0 * n as f64 / s.players as f64 } else { 0.0 };
        println!(
            "{players:>7} {t:<8} storm   {:.2}% got s: ({:.2}% within 1 s, {:.2}% within 3 s); time to s: p50 {} p99 {} \
             max {} ms; {} y: sent; bad s: {}; errors {}; server drops {}; server cpu {:.0} ms",
            pct(s.got),
            pct(s.hist.count_at_most(1_000_000)),
            pct(s.hist.count_at_most(3_000_000)),
            ms(s.hist.quantile(0.5)),
            ms(s.hist.quantile(0.99)),
            ms(s.hist.max),
            s.confirms,
            s.wrong,
            s.errors,
            s.drops,
            s.cpu_ms
        );
    }
}

pub(crate) fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 && a.is_finite() && b.is_finite() {
        format!("{:.2}x", a / b)
    } else {
        "-".into()
    }
}

fn print_ratios(players: u32, rows: &[Row]) {
    let find = |n: &str| rows.iter().find(|r| r.target == n);
    let (naive, batch) = (find("naive"), find("batch"));
    if let Some(b) = batch.and_then(|b| b.closed.as_ref()) {
        println!(
            "{players:>7} loader ceiling (closed loop against the batched echo): {:.0} req/s at {:.2} us loader cpu/req",
            b.rps, b.loader_cpu_per_req_us
        );
    }
    for r in rows.iter().filter(|r| r.target != "naive" && r.target != "batch") {
        for (label, pick) in [("closed", 0), ("rate", 1)] {
            let get = |row: Option<&Row>| {
                row.and_then(|x| if pick == 0 { x.closed.clone() } else { x.rate.clone() })
            };
            let (Some(ours), n, b) = (get(Some(r)), get(naive), get(batch)) else { continue };
            let rps = |l: &Option<Load>| l.as_ref().map_or(f64::NAN, |l| l.rps);
            let cpu = |l: &Option<Load>| l.as_ref().map_or(f64::NAN, |l| l.cpu_per_req_us);
            let p99 = |l: &Option<Load>| l.as_ref().map_or(f64::NAN, |l| l.p99_us as f64);
            let o = Some(ours);
            println!(
                "{players:>7} {:<8} {label:<7} req/s {} of naive, {} of batched; cpu/req {} of naive, {} of batched; \
                 p99 {} of naive, {} of batched",
                r.target,
                ratio(rps(&o), rps(&n)),
                ratio(rps(&o), rps(&b)),
                ratio(cpu(&o), cpu(&n)),
                ratio(cpu(&o), cpu(&b)),
                ratio(p99(&o), p99(&n)),
                ratio(p99(&o), p99(&b)),
            );
        }
    }
}

/// Runs the whole benchmark and prints it.
pub fn run(args: RunArgs) {
    println!(
        "rhp-bench: {} players per session, {} s phases, closed loop {} in flight ({} per player turn), \
         fixed rate 1 ping / {} ms / player, loss timeout {} ms",
        args.per_session, args.secs, args.inflight, args.window, args.ping_interval_ms, args.loss_timeout_ms
    );
    let shape = if args.shared_ips {
        "--shared-ips: a loopback address per worker, loopback exempt from the budget, per-IP creation caps off"
    } else {
        "every player on its own loopback address (127.16.0.1 on), the budget applied (--reflection-loopback), \
         default caps; with the budget a ping is answered i: only when the list changed or every 5 s, so \
         unanswered pings are the server's choice, not losses"
    };
    println!("server: {} (log level warn, player timeout 60 s; {shape})", args.server_bin().display());
    for &players in &args.players {
        let runs: Vec<Vec<Row>> = (0..args.repeat.max(1)).map(|_| run_one(&args, players)).collect();
        let rows = if runs.len() == 1 { runs.into_iter().flatten().collect() } else { medians(&runs) };
        if args.repeat > 1 {
            println!("{players:>7} medians of {} runs:", args.repeat);
            for r in &rows {
                print_row(players, r);
            }
        }
        print_ratios(players, &rows);
    }
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Each figure of each target's closed-loop and fixed-rate phases: its median over the runs.
/// Storms and set-up are taken from the median run by storm completion time.
fn medians(runs: &[Vec<Row>]) -> Vec<Row> {
    let Some(first) = runs.first() else { return Vec::new() };
    first
        .iter()
        .enumerate()
        .map(|(i, r0)| {
            let rows: Vec<&Row> = runs.iter().filter_map(|run| run.get(i)).collect();
            let load = |pick: fn(&Row) -> &Option<Load>| -> Option<Load> {
                let ls: Vec<&Load> = rows.iter().filter_map(|r| pick(r).as_ref()).collect();
                if ls.is_empty() {
                    return None;
                }
                let m = |f: fn(&Load) -> f64| median(ls.iter().map(|l| f(l)).collect());
                Some(Load {
                    rps: m(|l| l.rps),
                    cpu_per_req_us: m(|l| l.cpu_per_req_us),
                    loader_cpu_per_req_us: m(|l| l.loader_cpu_per_req_us),
                    p50_us: m(|l| l.p50_us as f64) as u64,
                    p99_us: m(|l| l.p99_us as f64) as u64,
                    max_us: m(|l| l.max_us as f64) as u64,
                    sent: m(|l| l.sent as f64) as u64,
                    answered: m(|l| l.answered as f64) as u64,
                    lost: m(|l| l.lost as f64) as u64,
                    wrong: m(|l| l.wrong as f64) as u64,
                    drops: m(|l| l.drops as f64) as u64,
                    rss: m(|l| l.rss as f64) as u64,
                    lag_max_us: m(|l| l.lag_max_us as f64) as u64,
                })
            };
            let mut storms: Vec<&Storm> = rows.iter().filter_map(|r| r.storm.as_ref()).collect();
            storms.sort_by_key(|s| s.hist.quantile(0.99));
            Row {
                target: r0.target.clone(),
                setup: r0.setup,
                closed: load(|r| &r.closed),
                rate: load(|r| &r.rate),
                storm: storms.get(storms.len() / 2).map(|s| (*s).clone()),
                hwm: r0.hwm,
            }
        })
        .collect()
}
