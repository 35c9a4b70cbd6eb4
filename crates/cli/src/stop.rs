//! How a `host`/`join` run ends: one set of exit codes for every phase, and the signals.
//!
//! The first SIGINT (Ctrl-C) or SIGTERM asks the run to leave cleanly (the server told, the
//! relay slot given back, within [`LEAVE_WITHIN`]); a second one ends the process at once.

use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::watch;

/// The longest a clean exit waits for the server's or the relay's side of it.
pub const LEAVE_WITHIN: Duration = Duration::from_millis(150);

/// Why a run ended, and its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// A chosen end: `/exit`, end of input (Ctrl-D), a script whose expectation was met. Exit 0.
    Chosen,
    /// A failure: an error, a refusal, a kick, a timeout, peers that never connected. Exit 1.
    Failure,
    /// Bad flags or settings. Exit 2.
    Usage,
    /// SIGINT (Ctrl-C). Exit 130.
    Interrupted,
    /// SIGTERM. Exit 143.
    Terminated,
}

impl End {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            End::Chosen => 0,
            End::Failure => 1,
            End::Usage => 2,
            End::Interrupted => 130,
            End::Terminated => 143,
        }
    }
}

impl From<End> for ExitCode {
    fn from(end: End) -> ExitCode {
        ExitCode::from(end.code())
    }
}

/// The first stop signal, as an async wait; a second signal exits the process at once.
#[derive(Debug, Clone)]
pub struct Signals {
    rx: watch::Receiver<Option<End>>,
}

impl Signals {
    /// Installs the SIGINT and SIGTERM handlers (call inside the runtime).
    pub fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let (tx, rx) = watch::channel(None);
        tokio::spawn(async move {
            loop {
                let end = tokio::select! {
                    Some(()) = int.recv() => End::Interrupted,
                    Some(()) = term.recv() => End::Terminated,
                    else => return,
                };
                if tx.borrow().is_some() {
                    eprintln!("stopping now");
                    std::process::exit(i32::from(end.code()));
                }
                let _ = tx.send(Some(end));
            }
        });
        Ok(Signals { rx })
    }

    /// Waits for the first signal (at once if it came already).
    pub async fn first(&mut self) -> End {
        match self.rx.wait_for(Option::is_some).await {
            Ok(end) => end.unwrap_or(End::Interrupted),
            // The handler task is gone (the runtime is shutting down): never.
            Err(_) => std::future::pending().await,
        }
    }
}
