//! Readiness: named checks that must all pass for `/readyz` to answer 200. Today one: the UDP
//! sockets are bound. The seam for later ones (the cluster store is reachable): add a check and
//! set it from wherever that is known.

use std::sync::atomic::{AtomicBool, Ordering};

/// The checks behind `/readyz`.
#[derive(Debug)]
pub struct Readiness {
    checks: Vec<(&'static str, AtomicBool)>,
}

/// The check that the UDP sockets are bound.
pub const SOCKETS: &str = "udp_sockets_bound";

impl Readiness {
    /// Every check named, none passed yet.
    pub fn new(names: &[&'static str]) -> Readiness {
        Readiness { checks: names.iter().map(|n| (*n, AtomicBool::new(false))).collect() }
    }

    /// Marks check `name` as passed (or not). Unknown names are ignored.
    pub fn set(&self, name: &str, ok: bool) {
        if let Some((_, flag)) = self.checks.iter().find(|(n, _)| *n == name) {
            flag.store(ok, Ordering::Release);
        }
    }

    /// Whether every check passes, and a line per check (`name ok|failing`).
    pub fn report(&self) -> (bool, String) {
        let mut all = true;
        let mut text = String::new();
        for (name, flag) in &self.checks {
            let ok = flag.load(Ordering::Acquire);
            all &= ok;
            text.push_str(name);
            text.push_str(if ok { " ok\n" } else { " failing\n" });
        }
        (all, text)
    }
}
