//! Named network namespaces (`ip netns`), one RAII guard each.
//!
//! Names are `rhplab-<pid>-<lab>-<role>`: the PID of the process that made them lets a later run
//! sweep what a killed run left behind ([`sweep_stale`]) without touching a lab that is still running
//! in another process; `<lab>` keeps labs of one process apart, so labs run in parallel.

use crate::sh::{self, LabError, Proc, Result};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

/// Prefix of every namespace this lab creates.
pub const PREFIX: &str = "rhplab-";

static NEXT_LAB: AtomicU32 = AtomicU32::new(1);

/// A fresh prefix `rhplab-<pid>-<n>-` for one lab.
pub fn unique_prefix() -> String {
    format!("{PREFIX}{}-{}-", std::process::id(), NEXT_LAB.fetch_add(1, Ordering::Relaxed))
}

/// A network namespace, deleted on drop after every process in it was killed by PID.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates the namespace (`ip netns add`) and brings its loopback up.
    pub fn create(name: &str) -> Result<Netns> {
        sh::run("ip", &["netns", "add", name])?;
        let ns = Netns { name: name.to_string() };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Its name, as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n <ns> args…`
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut v = vec!["-n", &self.name];
        v.extend_from_slice(args);
        sh::run("ip", &v)
    }

    /// Runs `program args…` inside the namespace, bounded by [`sh::CMD_TIMEOUT`].
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<String> {
        self.exec_stdin(program, args, None)
    }

    /// Like [`Netns::exec`] with text on stdin.
    pub fn exec_stdin(&self, program: &str, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let mut v = vec!["netns", "exec", &self.name, program];
        v.extend_from_slice(args);
        sh::run_with("ip", &v, stdin, sh::CMD_TIMEOUT)
    }

    /// Loads an nftables ruleset (`nft -f -`) in the namespace.
    pub fn nft(&self, ruleset: &str) -> Result<()> {
        self.exec_stdin("nft", &["-f", "-"], Some(ruleset)).map(|_| ())
    }

    /// Sets a sysctl inside the namespace (net.* sysctls are per namespace). Written through
    /// /proc/sys, so the `sysctl` program (procps) is not needed.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
            || !value.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(LabError::Check(format!("bad sysctl {key}={value}")));
        }
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        self.exec("sh", &["-c", &format!("echo {value} > {path}")]).map(|_| ())
    }

    /// Starts a long-running process inside the namespace. `ip netns exec` execs the program in
    /// place, so the guard's PID is the program's own.
    pub fn spawn(&self, label: &str, program: &str, args: &[String]) -> Result<Proc> {
        self.spawn_in(label, program, args, None)
    }

    /// [`Netns::spawn`] with a working directory.
    pub fn spawn_in(&self, label: &str, program: &str, args: &[String], cwd: Option<&Path>) -> Result<Proc> {
        let mut v = vec!["netns".to_string(), "exec".into(), self.name.clone(), program.into()];
        v.extend(args.iter().cloned());
        Proc::spawn(&format!("{label}@{}", self.name), "ip", &v, cwd)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        remove(&self.name);
    }
}

/// PIDs of the processes inside a namespace.
fn pids(name: &str) -> Vec<i32> {
    sh::run("ip", &["netns", "pids", name])
        .map(|out| out.split_whitespace().filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_default()
}

/// Kills every process in the (lab-owned) namespace by PID, then deletes it. Bounded.
fn remove(name: &str) {
    for _ in 0..50 {
        let left = pids(name);
        if left.is_empty() {
            break;
        }
        for pid in left {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = sh::run("ip", &["netns", "del", name]);
}

fn pid_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Deletes lab namespaces whose creating process is gone (left by a killed run). Returns how many.
pub fn sweep_stale() -> Result<usize> {
    let list = sh::run("ip", &["netns", "list"])?;
    let mut n = 0;
    for line in list.lines() {
        let Some(name) = line.split_whitespace().next() else { continue };
        let Some(rest) = name.strip_prefix(PREFIX) else { continue };
        let owner: Option<i32> = rest.split('-').next().and_then(|p| p.parse().ok());
        if owner.is_some_and(pid_alive) {
            continue;
        }
        remove(name);
        n += 1;
    }
    Ok(n)
}

/// Checks that this machine can run a lab: root, `ip netns`, `nft`, `conntrack`, `iptables`.
/// The error is a one-line reason.
pub fn preflight() -> std::result::Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not root (the NAT lab needs root for network namespaces)".into());
    }
    for (prog, arg) in [("nft", "--version"), ("conntrack", "--version"), ("iptables", "--version")] {
        sh::run(prog, &[arg]).map_err(|e| format!("`{prog}` unusable ({e}); apt-get install {prog}"))?;
    }
    let name = format!("{}preflight", unique_prefix());
    let ns = Netns::create(&name).map_err(|e: LabError| format!("`ip netns` unusable: {e}"))?;
    ns.nft("table inet rhplab_probe { }").map_err(|e| format!("nftables unusable in a namespace: {e}"))?;
    Ok(())
}
