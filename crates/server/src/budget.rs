//! The anti-reflection budget: the server never sends an IP address more than `factor` times the
//! bytes it received from that address over the recent window. Node-local, keyed by IP.
//!
//! Why: the server answers datagrams whose source nobody checked, so any reply can be aimed at a
//! victim. Counting what each address sent us and what we sent it caps what a spoofer can make us
//! send anyone at `factor` × what the spoofer sent (QUIC's rule for unvalidated addresses).
//!
//! How:
//! - One [`Account`] per IP: bytes received and bytes sent in `SLOTS` time slots covering the
//!   window (a slot is `window / SLOTS`). A datagram of `n` bytes may go to an address only if
//!   `sent + n <= factor × received`, both summed over the window. Old slots roll off, credit and
//!   spending alike.
//! - Keyed by IP, not ip:port: the victim of reflection is a host and its link. Players behind one
//!   NAT pool their credit, which is the same ratio.
//! - Bounded: at most `max_tracked` accounts. An account whose slots are all old is empty and is
//!   dropped by a sweep (at most once per slot). An address gets an account only once it is a
//!   member of a session (it created or joined one, or a request of a member came from it);
//!   anything else, junk or spoofed requests about sessions it is not in, only credits an existing
//!   account or a one-datagram account (its own datagram's credit, for the reply to that
//!   datagram). When the table is full a new member is not tracked either. So every failure mode
//!   sends less, never more ("fails closed").
//! - Loopback sources (127/8, ::1) are exempt unless `limit_loopback`: no third party can be
//!   reached through them (the kernel drops loopback sources arriving from outside).
//! - `factor == 0` switches the budget off (the original's behaviour).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Slots per window.
const SLOTS: usize = 4;

/// Settings of the budget (a part of [`crate::Config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetConfig {
    /// At most this many bytes sent per byte received, per address over the window; 0 = off.
    pub factor: u32,
    /// How far back received and sent bytes count.
    pub window: Duration,
    /// Most addresses tracked at once.
    pub max_tracked: usize,
    /// Budget loopback sources too (tests and local measurements); by default they are exempt.
    pub limit_loopback: bool,
}

impl Default for BudgetConfig {
    fn default() -> BudgetConfig {
        BudgetConfig {
            factor: 3,
            window: Duration::from_secs(10),
            max_tracked: 65_536,
            limit_loopback: false,
        }
    }
}

/// Bytes received and sent by one address, per slot.
#[derive(Debug, Clone, Default)]
struct Account {
    /// The slot number (time since the epoch / slot length) `recv[slot % SLOTS]` belongs to.
    slot: u64,
    recv: [u64; SLOTS],
    sent: [u64; SLOTS],
}

impl Account {
    /// Brings the account to slot `now`, clearing the slots that rolled off.
    fn roll(&mut self, now: u64) {
        if now <= self.slot {
            return;
        }
        let gap = (now - self.slot).min(SLOTS as u64);
        for s in 0..gap {
            let i = ((self.slot + 1 + s) % SLOTS as u64) as usize;
            self.recv[i] = 0;
            self.sent[i] = 0;
        }
        self.slot = now;
    }

    fn index(&self) -> usize {
        (self.slot % SLOTS as u64) as usize
    }

    /// Bytes still allowed: `factor × received − sent` over the window.
    fn left(&self, factor: u32) -> u64 {
        let recv: u64 = self.recv.iter().sum();
        let sent: u64 = self.sent.iter().sum();
        (recv.saturating_mul(u64::from(factor))).saturating_sub(sent)
    }

    /// Whether every slot is older than the window at slot `now` (nothing counts any more).
    fn is_expired(&self, now: u64) -> bool {
        now >= self.slot + SLOTS as u64
    }
}

/// The budget of every address the server talks to.
#[derive(Debug)]
pub(crate) struct Budget {
    config: BudgetConfig,
    /// The instant slot 0 starts at: the first `now` the budget saw.
    epoch: Option<Instant>,
    accounts: HashMap<IpAddr, Account>,
    /// The untracked sender of the datagram being handled (table full): its one-datagram credit.
    transient: Option<(IpAddr, Account)>,
    /// The slot of the last sweep.
    swept: u64,
    /// Datagrams held back (not sent) so far, for the logs and tests.
    withheld: u64,
    /// Bytes of the datagrams held back so far.
    withheld_bytes: u64,
}

impl Budget {
    pub(crate) fn new(config: BudgetConfig) -> Budget {
        Budget {
            config,
            epoch: None,
            accounts: HashMap::new(),
            transient: None,
            swept: 0,
            withheld: 0,
            withheld_bytes: 0,
        }
    }

    /// Takes new settings. A new window changes what a slot means, so the accounts start afresh
    /// (a member's next datagram opens its account again); otherwise they are kept.
    pub(crate) fn reconfigure(&mut self, config: BudgetConfig) {
        if config.window != self.config.window {
            self.accounts.clear();
            self.transient = None;
            self.epoch = None;
            self.swept = 0;
        }
        self.config = config;
    }

    fn slot_len(&self) -> Duration {
        (self.config.window / SLOTS as u32).max(Duration::from_millis(1))
    }

    fn slot(&mut self, now: Instant) -> u64 {
        let epoch = *self.epoch.get_or_insert(now);
        let since = now.saturating_duration_since(epoch);
        (since.as_nanos() / self.slot_len().as_nanos().max(1)) as u64
    }

    /// Whether datagrams to `addr` are budgeted at all.
    pub(crate) fn applies_to(&self, addr: SocketAddr) -> bool {
        if self.config.factor == 0 {
            return false;
        }
        let ip = addr.ip().to_canonical();
        self.config.limit_loopback || !ip.is_loopback()
    }

    /// Counts `n` bytes received from `from`. `open` says whether the datagram may open an account
    /// (a valid request); otherwise it only credits an existing one, or the one-datagram account.
    pub(crate) fn received(&mut self, now: Instant, from: SocketAddr, n: usize, open: bool) {
        self.transient = None;
        if !self.applies_to(from) {
            return;
        }
        let slot = self.slot(now);
        let ip = from.ip().to_canonical();
        if !self.accounts.contains_key(&ip) && open && self.accounts.len() >= self.config.max_tracked {
            self.sweep(slot);
        }
        let tracked = self.accounts.contains_key(&ip);
        let account = if tracked || (open && self.accounts.len() < self.config.max_tracked) {
            self.accounts.entry(ip).or_insert_with(|| Account { slot, ..Account::default() })
        } else {
            let a = self.transient.insert((ip, Account { slot, ..Account::default() }));
            &mut a.1
        };
        account.roll(slot);
        let i = account.index();
        account.recv[i] = account.recv[i].saturating_add(n as u64);
    }

    /// Whether `n` more bytes may go to `to` now.
    pub(crate) fn allows(&mut self, now: Instant, to: SocketAddr, n: usize) -> bool {
        if !self.applies_to(to) {
            return true;
        }
        let slot = self.slot(now);
        let factor = self.config.factor;
        self.account(to.ip().to_canonical()).is_some_and(|a| {
            a.roll(slot);
            a.left(factor) >= n as u64
        })
    }

    /// Takes `n` bytes to `to` from its budget if it has them; false (and nothing spent) if not.
    pub(crate) fn spend(&mut self, now: Instant, to: SocketAddr, n: usize) -> bool {
        if !self.applies_to(to) {
            return true;
        }
        if !self.allows(now, to, n) {
            self.withheld += 1;
            self.withheld_bytes += n as u64;
            return false;
        }
        if let Some(a) = self.account(to.ip().to_canonical()) {
            let i = a.index();
            a.sent[i] = a.sent[i].saturating_add(n as u64);
        }
        true
    }

    fn account(&mut self, ip: IpAddr) -> Option<&mut Account> {
        if let Some(a) = self.accounts.get_mut(&ip) {
            return Some(a);
        }
        match &mut self.transient {
            Some((t, a)) if *t == ip => Some(a),
            _ => None,
        }
    }

    /// Drops accounts with nothing left in the window, at most once per slot (or when forced by a
    /// full table, also at most once per slot).
    pub(crate) fn maybe_sweep(&mut self, now: Instant) {
        if self.accounts.is_empty() {
            return;
        }
        let slot = self.slot(now);
        self.sweep(slot);
    }

    fn sweep(&mut self, slot: u64) {
        if slot <= self.swept && self.swept != 0 {
            return;
        }
        self.swept = slot.max(1);
        self.accounts.retain(|_, a| !a.is_expired(slot));
        if self.accounts.capacity() > 64 && self.accounts.len() < self.accounts.capacity() / 4 {
            self.accounts.shrink_to(self.accounts.len() * 2);
        }
    }

    /// Addresses tracked.
    pub(crate) fn tracked(&self) -> usize {
        self.accounts.len()
    }

    /// Datagrams held back so far.
    pub(crate) fn withheld(&self) -> u64 {
        self.withheld
    }

    /// Bytes of the datagrams held back so far.
    pub(crate) fn withheld_bytes(&self) -> u64 {
        self.withheld_bytes
    }

    /// Makes the untracked sender of the datagram being handled a tracked address (it is, or just
    /// became, a member of a session), if the table has room. Until then its credit is the
    /// one-datagram account, so spoofed requests that concern no session of theirs cannot fill the
    /// table.
    pub(crate) fn promote(&mut self, now: Instant, from: SocketAddr) {
        let ip = from.ip().to_canonical();
        if !matches!(&self.transient, Some((t, _)) if *t == ip) {
            return;
        }
        if self.accounts.len() >= self.config.max_tracked {
            let slot = self.slot(now);
            self.sweep(slot);
            if self.accounts.len() >= self.config.max_tracked {
                return;
            }
        }
        if let Some((ip, account)) = self.transient.take() {
            self.accounts.insert(ip, account);
        }
    }

    /// Forgets the one-datagram account (the datagram it was for has been handled).
    pub(crate) fn forget_transient(&mut self) {
        self.transient = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BudgetConfig {
        BudgetConfig { factor: 3, window: Duration::from_secs(8), max_tracked: 2, limit_loopback: false }
    }

    fn a(n: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, n], 4000))
    }

    #[test]
    fn three_times_what_was_received_then_nothing() {
        let t0 = Instant::now();
        let mut b = Budget::new(cfg());
        assert!(!b.allows(t0, a(1), 1), "nothing received, nothing allowed");
        b.received(t0, a(1), 10, true);
        assert!(b.spend(t0, a(1), 20));
        assert!(!b.spend(t0, a(1), 11));
        assert!(b.spend(t0, a(1), 10));
        // Another port of the same IP shares the account.
        assert!(!b.spend(t0, SocketAddr::from(([10, 0, 0, 1], 9)), 1));
        assert_eq!(b.withheld(), 2);
    }

    #[test]
    fn credit_and_spending_roll_off_after_the_window() {
        let t0 = Instant::now();
        let mut b = Budget::new(cfg());
        b.received(t0, a(1), 10, true);
        assert!(b.spend(t0, a(1), 30));
        let later = t0 + Duration::from_secs(9);
        assert!(!b.allows(later, a(1), 1));
        b.received(later, a(1), 1, true);
        assert!(b.spend(later, a(1), 3), "old spending no longer counts");
        b.maybe_sweep(t0 + Duration::from_secs(30));
        assert_eq!(b.tracked(), 0);
    }

    #[test]
    fn full_table_fails_closed() {
        let t0 = Instant::now();
        let mut b = Budget::new(cfg());
        b.received(t0, a(1), 10, true);
        b.received(t0, a(2), 10, true);
        // Junk from an unknown source never opens an account.
        b.received(t0, a(4), 10, false);
        assert_eq!(b.tracked(), 2);
        b.received(t0, a(3), 10, true);
        assert_eq!(b.tracked(), 2);
        // The untracked sender may get 3x its own datagram, once, and only until the next one.
        assert!(b.spend(t0, a(3), 30));
        assert!(!b.spend(t0, a(3), 1));
        b.received(t0, a(1), 1, true);
        assert!(!b.allows(t0, a(3), 1));
        assert!(b.spend(t0, a(1), 33));
    }

    #[test]
    fn loopback_is_exempt_unless_asked_and_zero_is_off() {
        let t0 = Instant::now();
        let lo = SocketAddr::from(([127, 0, 0, 1], 5));
        let mut b = Budget::new(cfg());
        assert!(b.spend(t0, lo, 1000));
        let mut b = Budget::new(BudgetConfig { limit_loopback: true, ..cfg() });
        assert!(!b.spend(t0, lo, 1));
        let mut b = Budget::new(BudgetConfig { factor: 0, ..cfg() });
        assert!(b.spend(t0, a(1), 1_000_000));
    }
}
