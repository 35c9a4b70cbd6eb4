//! `rhp-bench relay`: the server's relay against the echo floors, in one run. Each target (the
//! naive echo, the batched echo, the server) runs as its own process; the relay workers
//! ([`crate::relay_worker`]) make pairs of players (against the server: a session of 2 each, both
//! asking for the relay with `r:` and reading their grants) and send game-sized frames through
//! the target in round trips of two passes each: closed loop (a window of round trips per pair at
//! all times) and fixed rate (every player sends `--pps` frames a second). The targets' CPU time
//! comes from /proc; the figures are printed with their ratios to the floors.

use crate::coord::Fields;
use crate::coord::{measured, median, merged_hist, ms, num, ratio, spawn_workers, sum};
use crate::relay_worker::{PAYLOAD_HEAD, PAYLOAD_MAX};
use crate::target::{spawn_target, TargetSpec};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// The server's relay caps for the benchmark: far above what the loader can send per player, no
/// server-wide cap, no idle drop during the run (`--relay-rate 0` would turn the relay off). The
/// per-IP cap stays at its default unless the players share addresses (`--shared-ips`: then
/// [`SHARED_FLAGS`] lift it).
pub const RELAY_FLAGS: [&str; 8] = [
    "--relay-rate",
    "1000000000",
    "--relay-burst",
    "1000000000",
    "--relay-server-rate",
    "0",
    "--relay-idle-s",
    "3600",
];

/// With `--shared-ips`: the loader's players share two addresses, so no per-IP relay cap.
pub const SHARED_FLAGS: [&str; 2] = ["--relay-max-per-ip", "0"];

/// Flags of `rhp-bench relay`.
#[derive(Debug, Clone, clap::Args)]
pub struct RelayArgs {
    /// Pairs of players (against the server: one session of 2 each, both relayed).
    #[arg(long, default_value_t = 200)]
    pub pairs: u32,
    /// Payload sizes in bytes, comma-separated. A relay frame adds 11 bytes on the way in and 3
    /// on the way out; the echoes get and return the same 11 + payload bytes.
    #[arg(long, value_delimiter = ',', default_value = "200,1200")]
    pub sizes: Vec<usize>,
    /// Targets in order: `naive`, `batch` (the echo floors), `rhp` (the server's relay).
    #[arg(long, value_delimiter = ',', default_value = "naive,batch,rhp")]
    pub targets: Vec<String>,
    /// Phases in order: closed (closed loop), rate (fixed rate).
    #[arg(long, value_delimiter = ',', default_value = "closed,rate")]
    pub phases: Vec<String>,
    /// Runs of every target, interleaved; the summary takes each figure's median.
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Seconds per phase.
    #[arg(long, default_value_t = 5)]
    pub secs: u64,
    /// Closed loop: round trips under way per pair at all times (1 to 64).
    #[arg(long, default_value_t = 2)]
    pub window: usize,
    /// Fixed rate: frames per second each player sends (A starts round trips at this rate, B
    /// sends each back), so the target passes 2 x pairs x pps frames a second.
    #[arg(long, default_value_t = 60)]
    pub pps: u64,
    /// A round trip unfinished this long is counted lost.
    #[arg(long, default_value_t = 200)]
    pub loss_timeout_ms: u64,
    /// Set-up pace: sessions per second over all workers.
    #[arg(long, default_value_t = 2000)]
    pub setup_rate: u64,
    /// Worker processes (each with its own loopback address).
    #[arg(long, default_value_t = 2)]
    pub workers: u32,
    /// Nice value for the targets (see `run --target-nice`).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub target_nice: i32,
    /// The server binary (default: `rabid-hole-punch` next to this one).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// More server flags, after the relay caps (e.g. `--io-batch 1`).
    #[arg(long, allow_hyphen_values = true)]
    pub server_flags: Option<String>,
    /// The old shape: the players of a worker share one loopback address, loopback is exempt
    /// from the budget and the per-IP caps are lifted. By default every player binds its own
    /// loopback address and the server budgets loopback (`--reflection-loopback`, default per-IP
    /// caps), as on the internet; the echo floors see the same addresses.
    #[arg(long)]
    pub shared_ips: bool,
}

/// Figures of one phase of one target at one size.
#[derive(Debug, Clone, Default)]
struct Fig {
    /// Frames through the target per second while the phase ran (each pass counts).
    pps: f64,
    /// Payload bytes through it per second.
    bytes_s: f64,
    cpu_us: f64,
    loader_cpu_us: f64,
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
    sent: u64,
    arrived: u64,
    short8: u64,
    bad: u64,
    refused: u64,
    other: u64,
    lost: u64,
    round_trips: u64,
    drops: u64,
    send_err: u64,
    lag_max_us: u64,
}

fn fig(r: &[Fields], size: usize, cpu: u64, loader_cpu: u64, drops: u64) -> Fig {
    let elapsed = r.iter().map(|f| num(f, "elapsed_us")).max().unwrap_or(1).max(1);
    let passes = sum(r, "passes");
    let sent = sum(r, "sent");
    // Per frame the target got (sent, less what its kernel dropped), forwarded or not.
    let handled = sent.saturating_sub(drops);
    let per = |c: u64| if handled > 0 { c as f64 / handled as f64 } else { f64::NAN };
    let h = merged_hist(r);
    let pps = passes as f64 * 1e6 / elapsed as f64;
    Fig {
        pps,
        bytes_s: pps * size as f64,
        cpu_us: per(cpu),
        loader_cpu_us: per(loader_cpu),
        p50_us: h.quantile(0.5) as f64,
        p99_us: h.quantile(0.99) as f64,
        max_us: h.max as f64,
        sent,
        arrived: sum(r, "arrived"),
        short8: sum(r, "short8"),
        bad: sum(r, "bad"),
        refused: sum(r, "refused"),
        other: sum(r, "other"),
        lost: sum(r, "lost"),
        round_trips: sum(r, "rt_ok"),
        drops,
        send_err: sum(r, "send_err"),
        lag_max_us: r.iter().map(|f| num(f, "lag_max_us")).max().unwrap_or(0),
    }
}

/// (size, phase, target) → the figures of each run.
type Results = BTreeMap<(usize, String, String), Vec<Fig>>;

impl RelayArgs {
    fn server_bin(&self) -> PathBuf {
        self.server_bin
            .clone()
            .unwrap_or_else(|| std::env::current_exe().unwrap_or_default().with_file_name("rabid-hole-punch"))
    }

    fn sizes(&self) -> Vec<usize> {
        self.sizes.iter().map(|&s| s.clamp(PAYLOAD_HEAD, PAYLOAD_MAX)).collect()
    }

    /// One target: start it and the workers, set up (server), every size and phase.
    fn run_target(&self, name: &str, out: &mut Results) -> Result<(), String> {
        let relay = match name {
            "naive" | "batch" => false,
            "rhp" => true,
            other => return Err(format!("unknown target {other} (naive, batch, rhp)")),
        };
        let mut flags: Vec<String> = RELAY_FLAGS.iter().map(|s| s.to_string()).collect();
        if self.shared_ips {
            flags.extend(SHARED_FLAGS.iter().map(|s| s.to_string()));
        }
        flags.extend(self.server_flags.iter().flat_map(|f| f.split_whitespace().map(String::from)));
        let phases = (self.sizes.len() * self.phases.len()) as u64;
        let spec = TargetSpec {
            name,
            server_bin: self.server_bin(),
            server_flags: flags,
            max_secs: phases * (self.secs + 5) + 120,
            nice: self.target_nice,
            // Relay frames are outside the budget; the set-up (h:, c:, r:, s:) is budgeted.
            shared_ips: self.shared_ips,
        };
        let target = spawn_target(&spec)?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let count = self.workers.clamp(1, 8);
        let pairs = self.pairs.clamp(1, 20_000);
        let cmds = (0..count)
            .map(|w| {
                let (first, last) = (pairs * w / count, pairs * (w + 1) / count);
                let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 2, (w + 1) as u8));
                let mut c = Command::new(&exe);
                c.args(["relay-worker", "--target", &target.addr.to_string(), "--bind-ip", &ip.to_string()]);
                c.args(["--first-pair", &first.to_string(), "--pairs", &(last - first).to_string()]);
                c.args(["--loss-timeout-ms", &self.loss_timeout_ms.to_string()]);
                c.args(["--max-secs", &spec.max_secs.to_string()]);
                if relay {
                    c.arg("--relay");
                }
                if !self.shared_ips {
                    c.arg("--own-ips");
                }
                c
            })
            .collect();
        let mut workers = spawn_workers(cmds)?;
        if relay {
            let r = workers.phase(
                &format!("setup {}", (self.setup_rate / u64::from(count)).max(1)),
                Duration::from_secs(60 + u64::from(pairs) * 4 / self.setup_rate.max(1)),
            )?;
            let ready = sum(&r, "ready");
            let secs = r.iter().map(|f| num(f, "setup_us")).max().unwrap_or(0) as f64 / 1e6;
            println!(
                "relay setup: {ready} of {pairs} pairs relayed (both grants and start messages) in {secs:.2} s; \
                 retries {}, errors {}, bad grants {}, refusals {}",
                sum(&r, "retries"),
                sum(&r, "errors"),
                sum(&r, "bad_grants"),
                sum(&r, "refused")
            );
            if ready == 0 {
                return Err("no pair got its relay grants".into());
            }
        }
        let wait = Duration::from_secs(self.secs + 30);
        for size in self.sizes() {
            for phase in &self.phases {
                let cmd = match phase.as_str() {
                    "closed" => format!("closed {} {size} {}", self.secs * 1000, self.window.clamp(1, 64)),
                    "rate" => format!("rate {} {size} {}", self.secs * 1000, self.pps.max(1)),
                    other => return Err(format!("unknown phase {other} (closed, rate)")),
                };
                let (r, cpu, lcpu, drops) = measured(&mut workers, &target, &cmd, wait)?;
                let f = fig(&r, size, cpu, lcpu, drops);
                print_fig(size, phase, name, &f);
                out.entry((size, phase.clone(), name.to_string())).or_default().push(f);
            }
        }
        Ok(())
    }
}

fn print_fig(size: usize, phase: &str, target: &str, f: &Fig) {
    let shorter =
        if target == "rhp" { format!(", {} 8 B shorter than sent", f.short8) } else { String::new() };
    println!(
        "{size:>5} B {target:<6} {phase:<7} {:>8.0} pkt/s {:>7.2} MB/s  cpu {:.2} us/pkt (loader {:.2})  \
         rtt p50 {} p99 {} max {} ms  frames {} sent, {} arrived right{shorter}; bad {} lost {} refused {} \
         other {} drops {} send errors {}{}",
        f.pps,
        f.bytes_s / 1e6,
        f.cpu_us,
        f.loader_cpu_us,
        ms(f.p50_us as u64),
        ms(f.p99_us as u64),
        ms(f.max_us as u64),
        f.sent,
        f.arrived,
        f.bad,
        f.lost,
        f.refused,
        f.other,
        f.drops,
        f.send_err,
        if f.lag_max_us > 0 { format!("  loader lag max {} ms", ms(f.lag_max_us)) } else { String::new() }
    );
}

fn median_fig(figs: &[Fig]) -> Fig {
    let m = |f: fn(&Fig) -> f64| median(figs.iter().map(f).collect());
    let mu = |f: fn(&Fig) -> u64| median(figs.iter().map(|x| f(x) as f64).collect()) as u64;
    Fig {
        pps: m(|f| f.pps),
        bytes_s: m(|f| f.bytes_s),
        cpu_us: m(|f| f.cpu_us),
        loader_cpu_us: m(|f| f.loader_cpu_us),
        p50_us: m(|f| f.p50_us),
        p99_us: m(|f| f.p99_us),
        max_us: m(|f| f.max_us),
        sent: mu(|f| f.sent),
        arrived: mu(|f| f.arrived),
        short8: mu(|f| f.short8),
        bad: mu(|f| f.bad),
        refused: mu(|f| f.refused),
        other: mu(|f| f.other),
        lost: mu(|f| f.lost),
        round_trips: mu(|f| f.round_trips),
        drops: mu(|f| f.drops),
        send_err: mu(|f| f.send_err),
        lag_max_us: mu(|f| f.lag_max_us),
    }
}

/// Runs the relay benchmark and prints it.
pub fn run(args: RelayArgs) {
    println!(
        "rhp-bench relay: {} pairs, payloads {:?} B, {} s phases; closed loop {} round trips per pair, \
         fixed rate {} frames/s per player; a round trip = 2 passes through the target; loss timeout {} ms",
        args.pairs,
        args.sizes(),
        args.secs,
        args.window,
        args.pps,
        args.loss_timeout_ms
    );
    let shape = if args.shared_ips {
        format!(
            "the players of a worker on one address, loopback exempt from the budget, {}",
            SHARED_FLAGS.join(" ")
        )
    } else {
        "every player on its own loopback address (127.16.0.1 on), the budget applied (--reflection-loopback), \
         default per-IP caps"
            .to_string()
    };
    println!("server: {} {}; {shape}", args.server_bin().display(), RELAY_FLAGS.join(" "));
    let mut results = Results::new();
    for _ in 0..args.repeat.max(1) {
        for name in &args.targets {
            if let Err(e) = args.run_target(name, &mut results) {
                eprintln!("  relay bench, {name}: {e}");
            }
        }
    }
    let get = |size: usize, phase: &str, t: &str| {
        results.get(&(size, phase.to_string(), t.to_string())).map(|v| median_fig(v))
    };
    if args.repeat > 1 {
        println!("medians of {} runs:", args.repeat);
        for ((size, phase, t), v) in &results {
            print_fig(*size, phase, t, &median_fig(v));
        }
    }
    for size in args.sizes() {
        for phase in &args.phases {
            let Some(ours) = get(size, phase, "rhp") else { continue };
            for floor in ["naive", "batch"] {
                let Some(e) = get(size, phase, floor) else { continue };
                let thr = ours.pps / e.pps;
                let cap = e.cpu_us / ours.cpu_us;
                let goal = |x: f64| match x {
                    x if !x.is_finite() => "-",
                    x if x >= 0.8 => "met",
                    _ => "NOT met",
                };
                // Closed loop, the round trips queue (Little's law): only the fixed rate's
                // latency says what the relay adds.
                let added = if phase == "rate" {
                    format!(", added per pass p50 {:+.1} us", (ours.p50_us - e.p50_us) / 2.0)
                } else {
                    String::new()
                };
                println!(
                    "{size:>5} B relay vs {floor:<5} {phase:<7} pkt/s {} (goal >= 0.80x: {}); cpu/pkt {} \
                     (one core's capacity {}: {}); rtt p50 {} p99 {} ({} / {} vs {} / {} ms{added})",
                    ratio(ours.pps, e.pps),
                    goal(thr),
                    ratio(ours.cpu_us, e.cpu_us),
                    ratio(e.cpu_us, ours.cpu_us),
                    goal(cap),
                    ratio(ours.p50_us, e.p50_us),
                    ratio(ours.p99_us, e.p99_us),
                    ms(ours.p50_us as u64),
                    ms(ours.p99_us as u64),
                    ms(e.p50_us as u64),
                    ms(e.p99_us as u64),
                );
            }
        }
    }
}
