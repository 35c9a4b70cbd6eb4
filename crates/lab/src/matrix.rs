//! `rhp-lab matrix`: its arguments, and the run itself: every cell through the runner, cells
//! that differ from the theory run again, then the report (printed, and written if asked).

use crate::family::{Families, Family};
use crate::product_bin::find_product_bin;
use crate::report;
use crate::runner::{run_all, Product, RunConfig};
use crate::scenario::{family_cells, node_cells, standard_cells, Cell};
use crate::sh::{self, LabError, Result};
use crate::theory::CURRENT_CLIENT;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Arguments of `rhp-lab matrix`.
#[derive(clap::Args, Debug, Clone)]
pub struct MatrixArgs {
    /// Path of the rabid-hole-punch binary (default: found next to rhp-lab, or in target/debug).
    #[arg(long)]
    pub bin: Option<PathBuf>,
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
    /// Only cells whose label contains this text (e.g. "symmetric", "[ipv6]", "dual-stack").
    #[arg(long)]
    pub only: Option<String>,
    /// Instead of the documented matrix (every IPv4 scenario, then the family rows: IPv6 only,
    /// dual stack, IPv4 only against dual stack, then the two-node rows), every IPv4 scenario
    /// with every player's network giving this family: `ipv4`, `ipv6`, `dual-stack`.
    #[arg(long, value_parser = parse_family)]
    pub family: Option<Family>,
    /// Write the Markdown report here too (it is always printed).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// How many times a cell that differs from the theory is run again before it counts as changed.
pub const RERUNS: usize = 3;

/// Runs the matrix, prints (and writes) the report. Ok(false) when a cell differs from the
/// theory or a lab failed.
pub fn run_and_report(cfg: &RunConfig, cells: &[Cell], out: Option<&Path>) -> Result<bool> {
    crate::netns::preflight().map_err(LabError::Check)?;
    let model = CURRENT_CLIENT;
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
        let again: Vec<Cell> = differs.iter().map(|i| cells[*i].clone()).collect();
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
    for (r, cell) in results.into_iter().zip(cells) {
        match r {
            Ok(r) => ok_cells.push(r),
            Err(e) => lab_errors.push(format!("{} [{}]: {e}", cell.label(), cell.condition.label())),
        }
    }
    let version = sh::run(&cfg.product.bin.to_string_lossy(), &["--version"]).unwrap_or_default();
    let client = format!("`{}`", version.trim());
    let date = sh::run("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default();
    let meta = format!(
        "Regenerate (root, Linux): `cargo build -p rabid-hole-punch -p rhp-lab && \
         target/debug/rhp-lab matrix --attempts 20 --out docs/connectivity.md`\n\n\
         Client: {client}. {} attempts per cell ({} where the theory expects failure), {} labs in \
         parallel, whole run {:.0} s, {}.\n\
         Topology: server on 198.51.100.10, each player behind its own NAT router (public address \
         in 203.0.113.0/24, LAN 10.x); double-nat = a home router behind a carrier NAT (100.64.x); \
         home routers drop new inbound WAN flows to themselves. Impairments are on each client's \
         LAN link, both directions. IPv6 (family rows): the server also on 2001:db8::10 (one \
         dual-stack socket), no NAT, each router a stateful firewall (only what answers a flow \
         from inside gets in); players get the server's address in each family their network has. \
         Two nodes (two-node rows): a second `serve` on 198.51.100.11, both sharing a Redis store \
         in the server's namespace; the host on the first, the other players on the second.",
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
    let bin = match &a.bin {
        Some(b) => b.clone(),
        None => find_product_bin()?,
    };
    let cfg = RunConfig {
        helper,
        product: Product::new(bin, a.peer_timeout_s),
        attempts: a.attempts,
        fail_attempts: a.fail_attempts,
        jobs: a.jobs,
        attempt_timeout: Duration::from_secs(a.peer_timeout_s + 25),
        check_pings: 100,
    };
    let mut cells = standard_cells(a.clean_only);
    match a.family {
        Some(f) => cells.iter_mut().for_each(|c| c.family = Families::all(f)),
        None => {
            cells.extend(family_cells(a.clean_only));
            cells.extend(node_cells(a.clean_only));
        }
    }
    if let Some(only) = &a.only {
        cells.retain(|c| c.label().contains(only.as_str()));
    }
    run_and_report(&cfg, &cells, a.out.as_deref())
}

fn parse_family(s: &str) -> std::result::Result<Family, String> {
    let names: Vec<&str> = Family::ALL.iter().map(|f| f.name()).collect();
    Family::parse(s).ok_or_else(|| format!("one of {}", names.join(", ")))
}
