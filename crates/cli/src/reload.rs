//! SIGHUP for `serve`: read the settings again (the flags and `RHP_*` variables as they were at
//! start, the `--config` file as it is now) and apply what a running server can change: the caps,
//! the anti-reflection budget, the relay's limits, the stats interval and the log level. Sessions
//! and players are kept (the engine takes the new limits between two datagrams, see
//! `rhp_server::Engine::reconfigure`). Sockets, ports and the log file are read at start only: a
//! change to them is logged and ignored; so are the protocol timers (the engine says so). A file
//! that is now refused changes nothing: the running configuration stays whole.

use crate::config_layers::{self, ConfigError};
use crate::logging::LevelHandle;
use rhp_server::Config;
use std::collections::BTreeMap;
use std::ffi::OsString;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{error, info, warn};

/// What a reload compares against and where it sends its results.
pub struct Reloader {
    /// What followed `serve` on the command line.
    pub user_args: Vec<OsString>,
    /// The running settings, `key -> (table, value)`.
    pub running: BTreeMap<String, (String, String)>,
    /// The log level's handle.
    pub level: LevelHandle,
    /// The shell's channel to the engine.
    pub engine: UnboundedSender<Config>,
}

/// `--print-config`'s text as `key -> (table, value)`.
pub fn settings(toml: &str) -> BTreeMap<String, (String, String)> {
    let mut table = String::new();
    let mut out = BTreeMap::new();
    for line in toml.lines().map(str::trim) {
        if let Some(t) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            table = t.to_string();
        } else if let Some((key, rest)) = line.split_once(" = ").filter(|_| !line.starts_with('#')) {
            let value = rest.split_once("  # ").map_or(rest, |(v, _)| v);
            out.insert(key.to_string(), (table.clone(), value.to_string()));
        }
    }
    out
}

/// Whether a running server takes a new value of `key` (in `table`) on SIGHUP. The protocol timers
/// are the engine's to refuse (it logs them).
fn reloadable(table: &str, key: &str) -> Option<bool> {
    match (table, key) {
        ("timers", _) => None,
        ("budget" | "caps", _) => Some(true),
        ("nat", k) => Some(k != "alt-port"),
        ("logging", "log-level" | "stats-interval-s") => Some(true),
        _ => Some(false),
    }
}

impl Reloader {
    /// Waits for SIGHUP and reloads, until the process ends. The handler is installed before this
    /// returns the future (so a SIGHUP right after start is not lost).
    #[cfg(unix)]
    pub fn install(self) -> std::io::Result<impl std::future::Future<Output = ()>> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = signal(SignalKind::hangup())?;
        let mut this = self;
        Ok(async move {
            while hup.recv().await.is_some() {
                this.reload();
            }
        })
    }

    /// Without SIGHUP: nothing to wait for.
    #[cfg(not(unix))]
    pub fn install(self) -> std::io::Result<impl std::future::Future<Output = ()>> {
        drop(self);
        Ok(std::future::pending::<()>())
    }

    /// One reload.
    pub fn reload(&mut self) {
        info!("SIGHUP received: reading the configuration again");
        let resolved = match config_layers::resolve(&self.user_args) {
            Ok(r) => r,
            Err(e) => {
                let why = match e {
                    ConfigError::Clap(e) => e.render().to_string().lines().next().unwrap_or("").to_string(),
                    ConfigError::Message(m) => m,
                };
                error!("configuration not reloaded (the running one is kept): {why}");
                return;
            }
        };
        let new = settings(&resolved.toml);
        let mut changed = Vec::new();
        for (key, (table, value)) in &new {
            let old = self.running.get(key).map(|(_, v)| v.as_str()).unwrap_or("(not set)");
            if old == value {
                continue;
            }
            match reloadable(table, key) {
                Some(true) => {
                    changed.push(format!("{key} {old} -> {value}"));
                    self.running.insert(key.clone(), (table.clone(), value.clone()));
                }
                Some(false) => {
                    warn!(
                        "{key} changed ({old} -> {value}) but is read at start only: ignored until a restart"
                    )
                }
                None => {}
            }
        }
        if let Err(e) = self.level.modify(|level| *level = resolved.args.log_level) {
            warn!("cannot change the log level: {e}");
        }
        if self.engine.send(resolved.args.config()).is_err() {
            warn!("the server loop is gone: limits not changed");
            return;
        }
        if changed.is_empty() {
            info!("configuration reloaded: nothing changed");
        } else {
            info!("configuration reloaded: {}", changed.join(", "));
        }
    }
}
