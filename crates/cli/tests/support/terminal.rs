//! An interactive `rabid-hole-punch host`/`join` in a real pseudo-terminal (rexpect): typed
//! lines, Ctrl-C/Ctrl-D through the terminal's line discipline, signals, and the exit measured
//! from its cause. Every wait is bounded; the child is killed on drop.

use super::BIN;
use rexpect::process::{Signal, WaitStatus};
use rexpect::session::PtySession;
use std::process::Command;
use std::time::{Duration, Instant};

/// One player in a terminal.
pub struct Terminal {
    session: PtySession,
    exit: Option<i32>,
}

impl Terminal {
    /// Starts `rabid-hole-punch <args>` with the terminal as its stdin, stdout and stderr.
    pub fn spawn(args: &[&str]) -> Terminal {
        let mut cmd = Command::new(BIN);
        cmd.args(args);
        let mut session = rexpect::session::spawn_command(cmd, Some(10_000)).expect("spawn in a pty");
        session.process_mut().set_kill_timeout(Some(500));
        Terminal { session, exit: None }
    }

    /// Waits (up to 10 s) for `needle` in its output; panics with what came instead.
    pub fn expect(&mut self, needle: &str) -> String {
        match self.session.exp_string(needle) {
            Ok(before) => before,
            Err(e) => panic!("waiting for {needle:?}: {e}"),
        }
    }

    /// Types `line` and Enter.
    pub fn type_line(&mut self, line: &str) {
        self.session.send_line(line).expect("type into the pty");
    }

    /// Ctrl-`c` (e.g. 'c' for Ctrl-C, 'd' for Ctrl-D), through the terminal.
    pub fn ctrl(&mut self, c: char) {
        self.session.send_control(c).expect("control key into the pty");
    }

    /// Sends `sig` to the process.
    pub fn signal(&mut self, sig: Signal) {
        self.session.process_mut().signal(sig).expect("signal");
    }

    /// Polls until the process exits, at most `within` from `since`: its exit code (128 + n for
    /// a signal) and how long after `since` it was gone; None if it still runs.
    pub fn exited_within(&mut self, since: Instant, within: Duration) -> Option<(i32, Duration)> {
        while since.elapsed() < within {
            if let Some(code) = self.poll_exit() {
                return Some((code, since.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        None
    }

    fn poll_exit(&mut self) -> Option<i32> {
        if self.exit.is_none() {
            self.exit = match self.session.process().status() {
                Some(WaitStatus::Exited(_, code)) => Some(code),
                Some(WaitStatus::Signaled(_, sig, _)) => Some(128 + sig as i32),
                _ => None,
            };
        }
        self.exit
    }

    /// Its output once it has exited (everything not yet consumed by `expect`).
    pub fn rest(&mut self) -> String {
        self.session.exp_eof().unwrap_or_default()
    }
}
