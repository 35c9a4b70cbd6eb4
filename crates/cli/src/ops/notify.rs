//! The service manager's protocol (sd_notify, through the `sd-notify` crate): READY=1 once the
//! sockets are bound, WATCHDOG=1 from the engine loop while it turns (when systemd set
//! `WATCHDOG_USEC`), STOPPING=1 on shutdown. Without `NOTIFY_SOCKET` every call does nothing.

use rhp_server::shell::monitor::Watchdog;
use sd_notify::NotifyState;
use std::time::Duration;
use tracing::{debug, info};

/// Tells the service manager the server is ready, with a status line.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tells the service manager the server is stopping.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// The watchdog the engine loop feeds, if the service manager asked for one: WATCHDOG=1 every
/// half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3) advises.
pub fn watchdog() -> Option<Watchdog> {
    let period = sd_notify::watchdog_enabled()?;
    let interval = (period / 2).max(Duration::from_millis(10));
    info!("systemd watchdog: {period:?}; WATCHDOG=1 every {interval:?} from the engine loop");
    Some(Watchdog { interval, ping: Box::new(|| send(&[NotifyState::Watchdog])) })
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        debug!("sd_notify failed: {e}");
    }
}
