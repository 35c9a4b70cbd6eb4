//! The matrix's Markdown report: a NAT × NAT grid per link condition, the other scenarios, the
//! detail of every cell with a destination-dependent side (success rate, median / p95 time, share
//! within 5 s, methods, birthday probes), the family rows (a table per family setting: method
//! and family of the final path, clean and lossy, first-path and direct-path times), the
//! two-node rows beside the same cells on one node, the theory, and the problems.

use crate::cell::{path_family_name, CellResult};
use crate::family::Families;
use crate::impair::LinkCondition;
use crate::nat::{Mapping, NatType};
use crate::scenario::{Access, Scenario};
use crate::theory::{self, ClientModel};
use std::fmt::Write as _;

/// Every cell whose outcome differs from the theory, as one line each.
pub fn mismatches(results: &[CellResult], m: ClientModel) -> Vec<String> {
    results
        .iter()
        .filter(|r| r.matches(m) == Some(false))
        .map(|r| {
            let why: Vec<&str> =
                r.deciding().iter().map(|a| a.detail.as_str()).filter(|d| !d.is_empty()).collect();
            let want = match theory::expected_cell(&r.cell(), m) {
                Some(e) if e.connects && r.family == Families::V4 => {
                    let ms: Vec<&str> = e.methods.iter().map(|x| x.name()).collect();
                    format!("≥ 95% by {}", ms.join("/"))
                }
                Some(e) if e.connects => {
                    format!("{} {}", if e.every { "all" } else { "≥ 95%" }, expectation_text(&e))
                }
                _ => "none".into(),
            };
            let over = if r.family == Families::V4 {
                String::new()
            } else {
                format!(" over {}", r.family_summary())
            };
            format!(
                "{} [{}]: {}/{} connected ({}{over}), expected {want}; {}",
                r.cell().label(),
                r.condition.label(),
                r.deciding().iter().filter(|a| a.ok).count(),
                r.deciding().len(),
                r.method_summary(),
                why.join(" ")
            )
        })
        .collect()
}

/// Cells that differed first and matched on a rerun.
pub fn flaky(results: &[CellResult], m: ClientModel) -> Vec<String> {
    results
        .iter()
        .filter(|r| !r.rerun.is_empty() && r.matches(m) == Some(true))
        .map(|r| {
            let why: Vec<&str> =
                r.attempts.iter().map(|a| a.detail.as_str()).filter(|d| !d.is_empty()).collect();
            format!(
                "flaky, matched on rerun: {} [{}]: first {}/{}; {}",
                r.cell().label(),
                r.condition.label(),
                r.successes(),
                r.attempts.len(),
                why.join(" ")
            )
        })
        .collect()
}

fn cell_text(r: Option<&CellResult>, m: ClientModel) -> String {
    let Some(r) = r else { return "—".into() };
    let (s, n) = (r.successes(), r.attempts.len());
    let mark = match (r.matches(m), r.successes()) {
        (Some(true), 0) => "❌",
        (Some(true), _) => "✅",
        (None, _) => "·",
        (Some(false), _) => "⚠️",
    };
    let time = r.percentile_ms(50).map(|t| format!(" · {t} ms")).unwrap_or_default();
    let method = r.dominant_method().map(|x| format!(" · {x}")).unwrap_or_default();
    let rerun = if r.rerun.is_empty() {
        String::new()
    } else {
        format!(", rerun {}/{}", r.rerun.iter().filter(|a| a.ok).count(), r.rerun.len())
    };
    let surprise = match r.matches(m) {
        None => " (not asserted)",
        Some(true) => "",
        Some(false) => " ❗",
    };
    format!("{mark} {s}/{n}{time}{method}{rerun}{surprise}")
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

/// Does the scenario have a side whose mapping depends on the destination?
fn has_symmetric_side(s: &Scenario) -> bool {
    match s {
        Scenario::Pair(a, b) => [a, b].iter().any(|x| x.mapping() == Mapping::AddressAndPortDependent),
        Scenario::Group(v) => v.iter().any(|x| x.mapping() == Mapping::AddressAndPortDependent),
        _ => false,
    }
}

fn opt_ms(v: Option<u64>) -> String {
    v.map(|x| format!("{x} ms")).unwrap_or_else(|| "—".into())
}

fn detail_rows(s: &mut String, here: &[&CellResult]) {
    let _ = writeln!(
        s,
        "| cell | connected | first path: median / p95 | direct path: median / p95 | direct within 5 s | final methods | birthday probes: median / p95 / max |\n\
         |---|---|---|---|---|---|---|"
    );
    for r in here.iter().filter(|r| has_symmetric_side(&r.scenario)) {
        let n = r.attempts.len();
        let within = r.attempts.iter().filter(|a| a.ok && a.direct_ms.is_some_and(|t| t <= 5000)).count();
        let probes = r.probes();
        let pct =
            |p: usize| probes.get((probes.len() * p / 100).min(probes.len().saturating_sub(1))).copied();
        let probes = match (pct(50), pct(95), probes.last()) {
            (Some(a), Some(b), Some(c)) => format!("{a} / {b} / {c}"),
            _ => "—".into(),
        };
        let _ = writeln!(
            s,
            "| {} | {}/{n} | {} / {} | {} / {} | {} | {} | {probes} |",
            r.scenario.label(),
            r.successes(),
            opt_ms(r.percentile_ms(50)),
            opt_ms(r.percentile_ms(95)),
            opt_ms(r.direct_percentile_ms(50)),
            opt_ms(r.direct_percentile_ms(95)),
            if within == 0 { "—".into() } else { format!("{:.0}%", 100.0 * within as f64 / n as f64) },
            r.method_summary(),
        );
    }
}

/// The Markdown report: one NAT × NAT table per condition, the other scenarios, the detail of
/// the cells with a symmetric side, then the theory.
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
         had a working path to every other (direct or relayed) · the final method most attempts \
         ended on (the strongest of every pair's last path: plain < predicted < birthday < relay, so \
         `relay` means some pair stayed relayed). ✅ connects as the theory predicts (≥ 95% of attempts, by an \
         expected method), ❌ fails as predicted (no attempt connects). A cell that differs is run \
         again, up to three times (\"rerun k/n\" is the last rerun); ❗ = it still differed, and the lab \
         test fails on it. Cells expected to fail run fewer attempts.\n"
    );
    let _ = writeln!(s, "NAT types:\n");
    for t in NatType::ALL {
        let _ = writeln!(s, "- `{}`: {}", t.name(), theory::describe(t));
    }
    let _ =
        writeln!(s, "- `double-nat`: a port-restricted home router behind a port-restricted carrier NAT\n");
    for c in &conds {
        let here: Vec<&CellResult> = results
            .iter()
            .filter(|r| r.condition == *c && r.family == Families::V4 && r.nodes == 1)
            .collect();
        if here.is_empty() {
            continue;
        }
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
        for (i, a) in Access::ALL.into_iter().enumerate() {
            let _ = write!(s, "| **{}** |", a.name());
            for (j, b) in Access::ALL.into_iter().enumerate() {
                // Each unordered pair once: the upper triangle.
                let text = if j < i { String::new() } else { cell_text(find(a, b), m) };
                let _ = write!(s, " {text} |");
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
        if here.iter().any(|r| has_symmetric_side(&r.scenario)) {
            let _ = writeln!(s, "\n### Cells with a symmetric side, {}\n", c.label());
            detail_rows(&mut s, &here);
        }
        s.push('\n');
    }
    family_section(&mut s, results, m);
    nodes_section(&mut s, results, m);
    s.push_str(theory::THEORY);
    s
}

/// What the theory expects, in words: `plain over ipv6`, `birthday over ipv4`, `plain over ipv6
/// or ipv4 …`.
fn expectation_text(e: &theory::Expectation) -> String {
    let ms: Vec<&str> = e.methods.iter().map(|x| x.name()).collect();
    let fs: Vec<&str> = e.families.iter().map(|x| path_family_name(*x)).collect();
    format!("{} over {}", ms.join("/"), fs.join(" or "))
}

/// The family rows: one table per family setting (IPv6 only, dual stack, IPv4 only against dual
/// stack), one row per scenario and condition.
fn family_section(s: &mut String, results: &[CellResult], m: ClientModel) {
    let rows: Vec<&CellResult> =
        results.iter().filter(|r| r.family != Families::V4 && r.nodes == 1).collect();
    if rows.is_empty() {
        return;
    }
    let mut settings: Vec<Families> = Vec::new();
    for r in &rows {
        if !settings.contains(&r.family) {
            settings.push(r.family);
        }
    }
    let _ = writeln!(
        s,
        "## IPv6 and dual stack\n\n\
         The same product over other families (issue 18). Expected: the method and the family of \
         the final path the theory gives (IPv6 rows: every attempt). Final path family: how many \
         successful attempts ended on each (`mixed`: the two players' final paths to each other \
         were on different families, e.g. one kept IPv4 and the other IPv6); paths kept: every \
         player's final path to its peer, by family, over the successful attempts (a pair counts \
         twice, once from each side). First path: until \
         every player had a path to every other (direct or relayed); direct path: until every \
         pair was direct; median / max over the successful attempts.\n"
    );
    for f in settings {
        let here: Vec<&CellResult> = rows.iter().filter(|r| r.family == f).copied().collect();
        let _ = writeln!(s, "### {f}\n");
        let mut conds: Vec<LinkCondition> = Vec::new();
        for r in &here {
            if !conds.contains(&r.condition) {
                conds.push(r.condition);
            }
        }
        for c in conds {
            let measured: Vec<&CellResult> = here.iter().filter(|r| r.condition == c).copied().collect();
            let _ = writeln!(s, "- {}: {}", c.label(), measured_summary(&measured));
        }
        let _ = writeln!(
            s,
            "\n| pair | expected | condition | result | final methods | final path family | paths kept: IPv6 / IPv4 | first path: median / max | direct path: median / max |\n\
             |---|---|---|---|---|---|---|---|---|"
        );
        for r in here {
            let want = match theory::expected_cell(&r.cell(), m) {
                Some(e) if e.connects => expectation_text(&e),
                Some(_) => "no path".into(),
                None if !m.dual_stack => {
                    "WAITING for the dual-stack client (`client: dual-stack`): not asserted".into()
                }
                None => "not asserted".into(),
            };
            let _ = writeln!(
                s,
                "| {} | {want} | {} | {} | {} | {} | {} / {} | {} / {} | {} / {} |",
                r.scenario.label(),
                r.condition.label(),
                cell_text(Some(r), m),
                r.method_summary(),
                r.family_summary(),
                r.paths_v6_v4().0,
                r.paths_v6_v4().1,
                opt_ms(r.percentile_ms(50)),
                opt_ms(r.percentile_ms(100)),
                opt_ms(r.direct_percentile_ms(50)),
                opt_ms(r.direct_percentile_ms(100)),
            );
        }
        s.push('\n');
    }
}

/// The two-node rows (issue 19): each cell with the host on node 1 and the joiner on node 2,
/// beside the same cell on one node when the run had it.
fn nodes_section(s: &mut String, results: &[CellResult], m: ClientModel) {
    let rows: Vec<&CellResult> = results.iter().filter(|r| r.nodes > 1).collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "## Two server nodes\n\n\
         The same product with the host on one server node and the joiner on another (issue 19): two \
         `serve` processes in the server's namespace (198.51.100.10 and .11) sharing a Redis store, \
         as \"Running several nodes\" in the README runs them. The session lives on node 1; node 2 \
         forwards the joiner's datagrams to it and sends the answers from its own address; the \
         relay runs on node 1, which the joiner's relay frames reach directly. Expected: exactly \
         what the cell gives on one node. First path: until every player had a path to every \
         other; direct path: until every pair was direct; median / max over the successful \
         attempts.\n"
    );
    let _ = writeln!(
        s,
        "| pair | condition | two nodes | final methods | first path: median / max | direct path: median / max | one node |\n\
         |---|---|---|---|---|---|---|"
    );
    for r in rows {
        let one = results.iter().find(|o| {
            o.nodes == 1 && o.scenario == r.scenario && o.condition == r.condition && o.family == r.family
        });
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} / {} | {} / {} | {} |",
            r.scenario.label(),
            r.condition.label(),
            cell_text(Some(r), m),
            r.method_summary(),
            opt_ms(r.percentile_ms(50)),
            opt_ms(r.percentile_ms(100)),
            opt_ms(r.direct_percentile_ms(50)),
            opt_ms(r.direct_percentile_ms(100)),
            cell_text(one, m),
        );
    }
    s.push('\n');
}
