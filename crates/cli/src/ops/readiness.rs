//! Readiness: named checks that must all pass for `/readyz` to answer 200: flags set from where
//! they are known (the UDP sockets are bound), and probes asked at each request, which say why
//! they fail (a cluster node's store is reachable).

use std::sync::atomic::{AtomicBool, Ordering};

/// A check asked at each request: `None` when it passes, else why not.
pub type Probe = Box<dyn Fn() -> Option<String> + Send + Sync>;

/// The checks behind `/readyz`.
pub struct Readiness {
    checks: Vec<(&'static str, AtomicBool)>,
    probes: Vec<(&'static str, Probe)>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let probes: Vec<&str> = self.probes.iter().map(|(n, _)| *n).collect();
        f.debug_struct("Readiness").field("checks", &self.checks).field("probes", &probes).finish()
    }
}

/// The check that the UDP sockets are bound.
pub const SOCKETS: &str = "udp_sockets_bound";

/// The check that a cluster node's store answers.
pub const CLUSTER_STORE: &str = "cluster_store_reachable";

impl Readiness {
    /// Every check named, none passed yet.
    pub fn new(names: &[&'static str]) -> Readiness {
        Readiness { checks: names.iter().map(|n| (*n, AtomicBool::new(false))).collect(), probes: Vec::new() }
    }

    /// Adds the probe `name`.
    pub fn with_probe(mut self, name: &'static str, probe: Probe) -> Readiness {
        self.probes.push((name, probe));
        self
    }

    /// Marks check `name` as passed (or not). Unknown names are ignored.
    pub fn set(&self, name: &str, ok: bool) {
        if let Some((_, flag)) = self.checks.iter().find(|(n, _)| *n == name) {
            flag.store(ok, Ordering::Release);
        }
    }

    /// Whether every check passes, and a line per check (`name ok|failing`, a failing probe's
    /// reason after it: `name failing: why`).
    pub fn report(&self) -> (bool, String) {
        let mut all = true;
        let mut text = String::new();
        for (name, flag) in &self.checks {
            let ok = flag.load(Ordering::Acquire);
            all &= ok;
            text.push_str(name);
            text.push_str(if ok { " ok\n" } else { " failing\n" });
        }
        for (name, probe) in &self.probes {
            text.push_str(name);
            match probe() {
                None => text.push_str(" ok\n"),
                Some(why) => {
                    all = false;
                    text.push_str(" failing: ");
                    text.push_str(&why.replace('\n', " "));
                    text.push('\n');
                }
            }
        }
        (all, text)
    }
}
