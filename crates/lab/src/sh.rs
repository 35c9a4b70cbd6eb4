//! Running programs: every call is bounded in time, and every spawned process is owned by a guard
//! ([`Proc`]) that kills it by PID when dropped (also when a test panics).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Everything that can go wrong while building or driving a lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A program ran but failed, or did not finish in time.
    #[error("`{cmd}` failed: {msg}")]
    Command {
        /// The command line, for the message.
        cmd: String,
        /// What went wrong (exit status and stderr, or the timeout).
        msg: String,
    },
    /// An I/O error talking to a process or a file.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A condition the lab checks (an impairment not in effect, a probe that saw nothing...).
    #[error("{0}")]
    Check(String),
}

/// Result alias of the lab.
pub type Result<T> = std::result::Result<T, LabError>;

/// Upper bound for one short administrative command (`ip`, `nft`, `conntrack`...).
pub const CMD_TIMEOUT: Duration = Duration::from_secs(15);

/// Polling step for bounded waits.
const POLL: Duration = Duration::from_millis(5);

fn describe(program: &str, args: &[&str]) -> String {
    let mut s = program.to_string();
    for a in args {
        s.push(' ');
        s.push_str(a);
    }
    s
}

/// Runs `program args…` to completion within `timeout`, feeding `stdin` if given; returns stdout.
/// A non-zero exit is an error carrying stderr.
pub fn run_with(program: &str, args: &[&str], stdin: Option<&str>, timeout: Duration) -> Result<String> {
    let cmd = describe(program, args);
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| LabError::Command { cmd: cmd.clone(), msg: format!("cannot start: {e}") })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())?;
    }
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = wait_bounded(&mut child, timeout);
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    match status {
        Some(st) if st.success() => Ok(stdout),
        Some(st) => Err(LabError::Command { cmd, msg: format!("{st}: {}", stderr.trim()) }),
        None => Err(LabError::Command { cmd, msg: format!("no exit within {timeout:?}, killed") }),
    }
}

/// [`run_with`] with [`CMD_TIMEOUT`] and no stdin.
pub fn run(program: &str, args: &[&str]) -> Result<String> {
    run_with(program, args, None, CMD_TIMEOUT)
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_string(&mut s);
        }
        s
    })
}

/// Waits for `child` at most `timeout`; kills it (SIGKILL by PID) and reaps it if it is still running.
/// Returns the exit status if it exited by itself.
pub fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return Some(st),
            Ok(None) if Instant::now() < deadline => thread::sleep(POLL),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

type Lines = Arc<Mutex<Vec<String>>>;

fn collect_lines<R: Read + Send + 'static>(pipe: Option<R>, sink: Lines) -> Option<thread::JoinHandle<()>> {
    let p = pipe?;
    Some(thread::spawn(move || {
        for line in BufReader::new(p).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut v) = sink.lock() {
                v.push(line);
            }
        }
    }))
}

/// How a spawned process ended.
#[derive(Debug, Clone)]
pub struct Finished {
    /// `Some(code)` if it exited by itself (None: killed at the deadline or by a signal).
    pub code: Option<i32>,
    /// Its stdout, line by line.
    pub stdout: Vec<String>,
    /// Its stderr, line by line.
    pub stderr: Vec<String>,
}

/// A running process, killed by PID on drop. Stdout and stderr are collected line by line.
pub struct Proc {
    label: String,
    child: Option<Child>,
    stdout: Lines,
    stderr: Lines,
    readers: Vec<thread::JoinHandle<()>>,
}

impl Proc {
    /// Starts `program args…` (stdin closed).
    pub fn spawn(label: &str, program: &str, args: &[String], cwd: Option<&Path>) -> Result<Proc> {
        let mut cmd = Command::new(program);
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        let mut child = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| LabError::Command { cmd: label.to_string(), msg: format!("cannot start: {e}") })?;
        let stdout: Lines = Arc::default();
        let stderr: Lines = Arc::default();
        let readers = [
            collect_lines(child.stdout.take(), stdout.clone()),
            collect_lines(child.stderr.take(), stderr.clone()),
        ]
        .into_iter()
        .flatten()
        .collect();
        Ok(Proc { label: label.to_string(), child: Some(child), stdout, stderr, readers })
    }

    /// The label given at spawn (`name@namespace`).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The PID, while the process is owned.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Waits until a line on stdout or stderr contains `needle`; returns that line.
    /// Fails at `timeout` or when the process exits first.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            for lines in [&self.stdout, &self.stderr] {
                if let Some(l) =
                    lines.lock().ok().and_then(|v| v.iter().find(|l| l.contains(needle)).cloned())
                {
                    return Ok(l);
                }
            }
            let exited = match self.child.as_mut() {
                Some(c) => c.try_wait().ok().flatten().is_some(),
                None => true,
            };
            if exited || Instant::now() >= deadline {
                let why = if exited { "exited" } else { "timed out" };
                return Err(LabError::Check(format!(
                    "{}: {why} before printing `{needle}`; stderr: {}",
                    self.label,
                    self.snapshot(&self.stderr).join(" | ")
                )));
            }
            thread::sleep(POLL);
        }
    }

    /// Stdout lines so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.snapshot(&self.stdout)
    }

    /// Stderr lines so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.snapshot(&self.stderr)
    }

    /// `Some(code)` once the process has exited (`code` is None when a signal ended it).
    pub fn try_code(&mut self) -> Option<Option<i32>> {
        let c = self.child.as_mut()?;
        c.try_wait().ok().flatten().map(|st| st.code())
    }

    fn snapshot(&self, l: &Lines) -> Vec<String> {
        l.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Asks the process to stop (SIGTERM by PID: the product then gives its relay slot back),
    /// gives it `grace`, then [`Proc::finish`]es it (SIGKILL if still running).
    pub fn terminate(self, grace: Duration) -> Finished {
        if let Some(pid) = self.child.as_ref().map(|c| c.id()).and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: kill(2) with a PID this guard spawned and has not reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        self.finish(grace)
    }

    /// Waits at most `timeout` for the process to exit (killing it then), and returns its output.
    pub fn finish(mut self, timeout: Duration) -> Finished {
        let code = match self.child.as_mut() {
            Some(c) => wait_bounded(c, timeout).and_then(|st| st.code()),
            None => None,
        };
        self.child = None;
        // The reader threads end at EOF, right after exit; wait for them, boundedly.
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.readers.iter().any(|r| !r.is_finished()) && Instant::now() < deadline {
            thread::sleep(POLL);
        }
        Finished { code, stdout: self.snapshot(&self.stdout), stderr: self.snapshot(&self.stderr) }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // Child::kill sends SIGKILL to this PID only.
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
