//! What the shell's loop shares with the outside: a heartbeat (when the loop last turned, for a
//! health check), snapshots of the engine's counters on request (for metrics, taken between two
//! events, so nothing on the datagram path is counted twice), and a watchdog callback the loop
//! calls while it turns (for a service manager).
//!
//! The loop side is [`Monitor`]; the other side is [`MonitorHandle`], which may live on another
//! thread or runtime. [`Monitor::none`] costs the loop nothing but one branch.

use crate::stats::Snapshot;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// With a monitor, the loop wakes at least this often, even without traffic or timers, so that
/// its heartbeat stays fresh and the watchdog is fed.
pub const TURN_INTERVAL: Duration = Duration::from_millis(200);

/// A request to the loop.
#[derive(Debug)]
pub enum Request {
    /// Reply with the engine's counters.
    Snapshot(oneshot::Sender<Snapshot>),
    /// Block the loop this long (a test hook: makes the loop look stalled to a health check).
    Stall(Duration),
}

/// State shared by both sides.
#[derive(Debug)]
struct Shared {
    epoch: Instant,
    /// Milliseconds since `epoch` when the loop last turned, plus one (0: never).
    last_turn: AtomicU64,
    /// Requests sent and not yet taken, so the loop checks one integer per turn, not the channel.
    pending: AtomicUsize,
}

/// Something the loop calls every `interval` while it turns.
pub struct Watchdog {
    /// How often to call `ping`.
    pub interval: Duration,
    /// The call (e.g. `sd_notify WATCHDOG=1`).
    pub ping: Box<dyn FnMut() + Send>,
}

impl std::fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchdog").field("interval", &self.interval).finish_non_exhaustive()
    }
}

/// The loop's side: owned by the shell's loop.
#[derive(Debug)]
pub struct Monitor {
    inner: Option<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    requests: mpsc::UnboundedReceiver<Request>,
    watchdog: Option<(Watchdog, Instant)>,
}

/// The outside's side: cheap to clone, usable from any thread or runtime.
#[derive(Debug, Clone)]
pub struct MonitorHandle {
    shared: Arc<Shared>,
    requests: mpsc::UnboundedSender<Request>,
}

impl Monitor {
    /// No monitoring: the loop behaves as without one.
    pub fn none() -> Monitor {
        Monitor { inner: None }
    }

    /// A monitor and its handle; `watchdog`, if given, is called from the loop.
    pub fn new(watchdog: Option<Watchdog>) -> (Monitor, MonitorHandle) {
        let shared = Arc::new(Shared {
            epoch: Instant::now(),
            last_turn: AtomicU64::new(0),
            pending: AtomicUsize::new(0),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let watchdog = watchdog.map(|w| (w, Instant::now()));
        let inner = Inner { shared: shared.clone(), requests: rx, watchdog };
        (Monitor { inner: Some(inner) }, MonitorHandle { shared, requests: tx })
    }

    /// The loop turned at `now`: records the heartbeat, feeds the watchdog when due and answers
    /// pending requests with `snapshot`.
    pub fn turn(&mut self, now: Instant, snapshot: impl Fn() -> Snapshot) {
        let Some(inner) = self.inner.as_mut() else { return };
        let ms = now.saturating_duration_since(inner.shared.epoch).as_millis() as u64;
        inner.shared.last_turn.store(ms + 1, Ordering::Relaxed);
        if let Some((w, next)) = inner.watchdog.as_mut() {
            if now >= *next {
                (w.ping)();
                *next = now + w.interval;
            }
        }
        if inner.shared.pending.load(Ordering::Relaxed) != 0 {
            while let Ok(request) = inner.requests.try_recv() {
                inner.shared.pending.fetch_sub(1, Ordering::Relaxed);
                answer(request, &snapshot);
            }
        }
    }

    /// When the loop must wake at the latest, given its own next deadline.
    pub fn wake_by(&self, deadline: Instant, now: Instant) -> Instant {
        match self.inner {
            Some(_) => deadline.min(now + TURN_INTERVAL),
            None => deadline,
        }
    }

    /// Waits for a request (never, without a monitor). Cancel-safe.
    pub async fn request(&mut self) -> Option<Request> {
        match self.inner.as_mut() {
            Some(inner) => {
                let r = inner.requests.recv().await;
                if r.is_some() {
                    inner.shared.pending.fetch_sub(1, Ordering::Relaxed);
                }
                r
            }
            None => std::future::pending().await,
        }
    }
}

/// Answers one request (the loop's side).
pub fn answer(request: Request, snapshot: impl Fn() -> Snapshot) {
    match request {
        Request::Snapshot(reply) => {
            // The asker may have given up waiting; nothing to do then.
            let _ = reply.send(snapshot());
        }
        Request::Stall(d) => {
            tracing::warn!("test hook: the loop stalls for {d:?}");
            std::thread::sleep(d);
        }
    }
}

impl MonitorHandle {
    /// How long ago the loop last turned; `None` if it never did.
    pub fn since_last_turn(&self) -> Option<Duration> {
        let v = self.shared.last_turn.load(Ordering::Relaxed);
        let at = self.shared.epoch + Duration::from_millis(v.checked_sub(1)?);
        Some(Instant::now().saturating_duration_since(at))
    }

    /// The engine's counters, from the loop; `None` if the loop does not answer within `wait`
    /// (stalled or stopped).
    pub async fn snapshot(&self, wait: Duration) -> Option<Snapshot> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Snapshot(tx))?;
        tokio::time::timeout(wait, rx).await.ok()?.ok()
    }

    /// Asks the loop to block for `d` (a test hook). False if the loop is gone.
    pub fn stall(&self, d: Duration) -> bool {
        self.send(Request::Stall(d)).is_some()
    }

    fn send(&self, request: Request) -> Option<()> {
        self.shared.pending.fetch_add(1, Ordering::Relaxed);
        if self.requests.send(request).is_err() {
            self.shared.pending.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(())
    }
}
