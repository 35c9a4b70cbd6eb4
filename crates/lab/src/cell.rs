//! One cell's results: every attempt's outcome ([`Attempt`]), the cell ([`CellResult`]) with its
//! statistics, and whether it matches what the theory expects.

use crate::family::{Families, Family};
use crate::impair::LinkCondition;
use crate::probe::PingStats;
use crate::scenario::{Cell, Scenario};
use crate::theory::{self, ClientModel};
use rhp_client::Method;
use std::time::Duration;

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
    /// The family of every pair's final path (the `addr=` of each player's last `connected` /
    /// `upgraded` line per peer): [`Family::V4`], [`Family::V6`], or [`Family::Dual`] when
    /// they differ; `None` when no line had an address.
    pub path_family: Option<Family>,
    /// Every player's final path to each peer, by family: (over IPv6, over IPv4).
    pub paths_v6_v4: (u32, u32),
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
    /// The IP families of the players' networks.
    pub family: Families,
    /// Server nodes the players were spread over (1: one `serve`).
    pub nodes: u8,
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

    /// The cell this is the result of.
    pub fn cell(&self) -> Cell {
        Cell {
            scenario: self.scenario.clone(),
            condition: self.condition,
            family: self.family,
            nodes: self.nodes,
        }
    }

    /// How many successful attempts ended on each path family, e.g. `ipv6 19, ipv4 1`
    /// (`mixed`: the players' final paths were not all on one family, e.g. one player kept
    /// IPv4 to its peer and the peer kept IPv6).
    pub fn family_summary(&self) -> String {
        let fams: Vec<Family> = self.attempts.iter().filter(|a| a.ok).filter_map(|a| a.path_family).collect();
        let v: Vec<String> = [Family::V6, Family::V4, Family::Dual]
            .into_iter()
            .map(|f| (f, fams.iter().filter(|x| **x == f).count()))
            .filter(|(_, n)| *n > 0)
            .map(|(f, n)| format!("{} {n}", path_family_name(f)))
            .collect();
        if v.is_empty() {
            "—".into()
        } else {
            v.join(", ")
        }
    }

    /// Every player's final path to each peer over the successful attempts, by family: (over
    /// IPv6, over IPv4). A pair counts twice, once from each side.
    pub fn paths_v6_v4(&self) -> (u32, u32) {
        self.attempts
            .iter()
            .filter(|a| a.ok)
            .fold((0, 0), |(x, y), a| (x + a.paths_v6_v4.0, y + a.paths_v6_v4.1))
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

    /// The method most successful attempts used (the strongest of those tied).
    pub fn dominant_method(&self) -> Option<Method> {
        let used: Vec<Method> = self.attempts.iter().filter(|a| a.ok).filter_map(|a| a.method).collect();
        used.iter().map(|m| (used.iter().filter(|x| *x == m).count(), *m)).max().map(|(_, m)| m)
    }

    /// How many successful attempts used each method, e.g. `birthday 19, plain 1`.
    pub fn method_summary(&self) -> String {
        method_counts(self.attempts.iter().filter(|a| a.ok).filter_map(|a| a.method))
    }

    /// Does the observed outcome match the theory for client `m`? `None`: not asserted.
    ///
    /// Expected to connect: at least 95% of the deciding attempts connect by a method the theory
    /// expects, over a family it expects (19 of 20: the direct methods for a pair that can
    /// connect directly; the odd one may have ended on the relay, or on a path no one expects,
    /// such as a random port landing in the ±8 window); every attempt where the theory says so
    /// (IPv6). With a client that falls back to the relay, every attempt must connect.
    /// Expected to fail: none connects.
    pub fn matches(&self, m: ClientModel) -> Option<bool> {
        let want = theory::expected_cell(&self.cell(), m)?;
        let d = self.deciding();
        let ok = d.iter().filter(|a| a.ok).count();
        if !want.connects {
            return Some(ok == 0);
        }
        let by_expected = d
            .iter()
            .filter(|a| a.ok && a.method.is_some_and(|x| want.methods.contains(&x)))
            .filter(|a| a.path_family.is_some_and(|f| want.families.contains(&f)))
            .count();
        let all_connect = !m.relay || ok == d.len();
        let share = if want.every { 100 } else { 95 };
        Some(by_expected * 100 >= d.len() * share && all_connect)
    }
}

/// A path family's name: `ipv4`, `ipv6`, or `mixed` ([`Family::Dual`]: paths on both).
pub fn path_family_name(f: Family) -> &'static str {
    match f {
        Family::Dual => "mixed",
        f => f.name(),
    }
}

/// `method` counts of a set of attempts, e.g. `birthday 19, plain 1`.
pub fn method_counts(methods: impl Iterator<Item = Method>) -> String {
    let mut counts: Vec<(Method, usize)> = Vec::new();
    for x in methods {
        match counts.iter_mut().find(|(y, _)| *y == x) {
            Some((_, n)) => *n += 1,
            None => counts.push((x, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let v: Vec<String> = counts.iter().map(|(x, n)| format!("{x} {n}")).collect();
    if v.is_empty() {
        "—".into()
    } else {
        v.join(", ")
    }
}
