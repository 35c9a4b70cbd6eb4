//! The anti-reflection budget: the server never sends an IP address more than `factor` times the
//! bytes it received from that address over the recent window. Node-local, keyed by IP.
//!
//! Why: the server answers datagrams whose source nobody checked, so any reply can be aimed at a
//! victim. Counting what each address sent us and what we sent it caps what a spoofer can make us
//! send anyone at `factor` × what the spoofer sent (QUIC's rule for unvalidated addresses).
//!
//! How:
//! - One [`Account`] per IP: the net credit (`factor ×` bytes received − bytes sent) of each of
//!   `SLOTS` time slots covering the window (a slot is `window / SLOTS`, at least 250 ms). A
//!   datagram of `n` bytes may go to an address only if its credit summed over the window is at
//!   least `n`. Old slots roll off, credit and spending alike. See [`crate::accounts`] for the
//!   compact table (about 31 bytes an address at a million).
//! - Keyed by IP, not ip:port: the victim of reflection is a host and its link. Players behind one
//!   NAT pool their credit, which is the same ratio.
//! - Who has an account: every IP that is the address of a player of a live session, always (a
//!   count of its memberships; bounded by the player cap, so every honest player's start message
//!   can be paid by its own pings). When its last membership ends the account lingers one window
//!   (the errors that follow a leave or a timeout are paid by its old credit) and is then dropped;
//!   at most `max_tracked` accounts linger at once, beyond that one is dropped at once (its late
//!   errors are not sent). Anything else, junk or spoofed requests about sessions the sender is
//!   not in, only credits an existing account or a one-datagram account (its own datagram's
//!   credit, for the reply to that datagram). So every failure mode sends less, never more
//!   ("fails closed").
//! - Loopback sources (127/8, ::1) are exempt unless `limit_loopback`: no third party can be
//!   reached through them (the kernel drops loopback sources arriving from outside).
//! - `factor == 0` switches the budget off (the original's behaviour).
//!
//! The memberships are also what `--max-players-per-ip` caps: [`Budget::players`] gives the live
//! players behind a network (an IPv4 address, an IPv6 /64: [`NetKey`]). For a budgeted IPv4
//! address that is its account's count, so a million players on their own addresses pay for one
//! table, not two; the players the accounts do not count (IPv6, whose /64 holds many accounts;
//! exempt addresses; an account the full table could not make) are counted aside, per network.

use crate::accounts::{Account, Table, ROLL_EVERY, SLOTS};
use crate::limits::PerIpCount;
use crate::netkey::NetKey;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Settings of the budget (a part of [`crate::Config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetConfig {
    /// At most this many bytes sent per byte received, per address over the window; 0 = off.
    pub factor: u32,
    /// How far back received and sent bytes count.
    pub window: Duration,
    /// Most accounts kept for addresses that are no longer in any session (each for one window
    /// after its last membership ended). The addresses of members are always tracked: they are
    /// bounded by the player cap.
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

/// The budget of every address the server talks to.
#[derive(Debug)]
pub(crate) struct Budget {
    config: BudgetConfig,
    /// The instant slot 0 starts at: the first `now` the budget saw.
    epoch: Option<Instant>,
    v4: Table<u32>,
    v6: Table<u128>,
    /// The sender of the datagram being handled when it has no account: its one-datagram credit.
    transient: Option<(IpAddr, Account)>,
    /// Accounts whose last membership ended, oldest first, with the slot it ended in. An account
    /// may appear twice (it joined again and left again); every lingering account appears.
    lingering: VecDeque<(IpAddr, u32)>,
    /// The latest slot seen (the engine's events come in time order).
    latest: u32,
    /// The slot every account was last rolled to (see [`ROLL_EVERY`]).
    rolled: u32,
    /// Memberships beyond an account's `u16::MAX` (an IP with that many players), per IP.
    pub(crate) overflow: HashMap<IpAddr, u32>,
    /// Players not counted by an IPv4 account, per network ([`NetKey::addr`]).
    pub(crate) aside: PerIpCount,
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
            v4: Table::default(),
            v6: Table::default(),
            transient: None,
            lingering: VecDeque::new(),
            latest: 0,
            rolled: 0,
            overflow: HashMap::new(),
            aside: PerIpCount::default(),
            withheld: 0,
            withheld_bytes: 0,
        }
    }

    /// Takes new settings. A new window changes what a slot means, so the accounts' credit starts
    /// afresh (their memberships stay: every member keeps its account); otherwise they are kept.
    pub(crate) fn reconfigure(&mut self, config: BudgetConfig) {
        if config.window != self.config.window {
            for a in self.v4.accounts_mut().chain(self.v6.accounts_mut()) {
                a.reset(0);
            }
            for entry in &mut self.lingering {
                entry.1 = 0;
            }
            self.transient = None;
            self.epoch = None;
            self.latest = 0;
            self.rolled = 0;
        }
        self.config = config;
    }

    fn slot_len(&self) -> Duration {
        (self.config.window / SLOTS as u32).max(Duration::from_millis(250))
    }

    /// The current slot number (2³² slots of at least 250 ms: 34 years), remembered as the
    /// latest.
    fn slot(&mut self, now: Instant) -> u32 {
        let epoch = *self.epoch.get_or_insert(now);
        let since = now.saturating_duration_since(epoch);
        let slot = u32::try_from(since.as_nanos() / self.slot_len().as_nanos().max(1)).unwrap_or(u32::MAX);
        self.latest = self.latest.max(slot);
        slot
    }

    /// Whether datagrams to `addr` are budgeted at all.
    pub(crate) fn applies_to(&self, addr: SocketAddr) -> bool {
        if self.config.factor == 0 {
            return false;
        }
        let ip = addr.ip().to_canonical();
        self.config.limit_loopback || !ip.is_loopback()
    }

    pub(crate) fn get(&self, ip: IpAddr) -> Option<&Account> {
        match ip {
            IpAddr::V4(a) => self.v4.get(u32::from(a)),
            IpAddr::V6(a) => self.v6.get(u128::from(a)),
        }
    }

    /// `ip`'s account, or the one-datagram account if it is the sender being handled.
    fn account(&mut self, ip: IpAddr) -> Option<&mut Account> {
        let found = match ip {
            IpAddr::V4(a) => self.v4.get_mut(u32::from(a)),
            IpAddr::V6(a) => self.v6.get_mut(u128::from(a)),
        };
        if found.is_some() {
            return found;
        }
        match &mut self.transient {
            Some((t, a)) if *t == ip => Some(a),
            _ => None,
        }
    }

    /// Counts `n` bytes received from `from`: credits its account, or else a one-datagram account
    /// (for the reply to this datagram only).
    pub(crate) fn received(&mut self, now: Instant, from: SocketAddr, n: usize) {
        self.transient = None;
        if !self.applies_to(from) {
            return;
        }
        let slot = self.slot(now);
        let ip = from.ip().to_canonical();
        let credit = (n as u64).saturating_mul(u64::from(self.config.factor));
        let account = match self.account(ip) {
            Some(a) => a,
            None => &mut self.transient.insert((ip, Account::new(slot))).1,
        };
        account.roll(slot);
        account.credit(credit);
    }

    /// Whether `n` more bytes may go to `to` now.
    pub(crate) fn allows(&mut self, now: Instant, to: SocketAddr, n: usize) -> bool {
        if !self.applies_to(to) {
            return true;
        }
        let slot = self.slot(now);
        self.account(to.ip().to_canonical()).is_some_and(|a| {
            a.roll(slot);
            a.allows(n as u64)
        })
    }

    /// Takes `n` bytes to `to` from its budget if it has them; false (and nothing spent) if not.
    pub(crate) fn spend(&mut self, now: Instant, to: SocketAddr, n: usize) -> bool {
        if !self.applies_to(to) {
            return true;
        }
        let slot = self.slot(now);
        let spent = self.account(to.ip().to_canonical()).is_some_and(|a| {
            a.roll(slot);
            a.debit(n as u64)
        });
        if !spent {
            self.withheld += 1;
            self.withheld_bytes += n as u64;
        }
        spent
    }

    /// Live players behind network `net`, over all sessions.
    pub(crate) fn players(&self, net: NetKey) -> u32 {
        let aside = self.aside.get(net.addr());
        let NetKey::V4(a) = net else { return aside };
        let ip = IpAddr::from(std::net::Ipv4Addr::from(a));
        let counted = self.v4.get(a).map_or(0, |a| u32::from(a.members));
        aside + counted + self.overflow.get(&ip).copied().unwrap_or(0)
    }

    /// Live players over all networks (for the engine's checks).
    pub(crate) fn players_total(&self) -> u32 {
        let counted = self.v4.iter().map(|(_, a)| u32::from(a.members)).sum::<u32>();
        let over = self.overflow.iter().filter(|(ip, _)| ip.is_ipv4()).map(|(_, n)| n).sum::<u32>();
        counted + over + self.aside.total()
    }

    /// A player whose address is `addr` joined a session: its IP's account counts one more
    /// membership (made now if it had none, from the sender's one-datagram credit if it is the
    /// sender being handled). Players no IPv4 account counts are counted aside.
    pub(crate) fn joined(&mut self, now: Instant, addr: SocketAddr) {
        if !self.join_account(now, addr) {
            self.aside.add(NetKey::of(addr.ip()).addr());
        }
    }

    /// Counts the membership in `addr`'s account; whether that is where its network's players
    /// are counted (an IPv4 account).
    fn join_account(&mut self, now: Instant, addr: SocketAddr) -> bool {
        if !self.applies_to(addr) {
            return false;
        }
        let slot = self.slot(now);
        let ip = addr.ip().to_canonical();
        let start = match self.transient.take() {
            Some((t, a)) if t == ip => a,
            other => {
                self.transient = other;
                Account::new(slot)
            }
        };
        let account = match ip {
            IpAddr::V4(a) => self.v4.get_or_insert(u32::from(a), || start),
            IpAddr::V6(a) => self.v6.get_or_insert(u128::from(a), || start),
        };
        let Some(a) = account else { return false };
        if a.members == u16::MAX {
            *self.overflow.entry(ip).or_insert(0) += 1;
        } else {
            a.members += 1;
        }
        ip.is_ipv4()
    }

    /// A player whose address is `addr` left its session (exit, kick, timeout, deletion): one
    /// membership less; at none the account lingers one window (from the latest event's slot),
    /// if fewer than `max_tracked` do. The player leaves the count of its network's players where it
    /// was counted (after a reconfiguration that budgets or exempts its address, wherever it is
    /// counted: the total stays exact).
    pub(crate) fn left(&mut self, addr: SocketAddr) {
        let ip = addr.ip().to_canonical();
        let net = NetKey::of(ip).addr();
        let aside_first = !(self.applies_to(addr) && ip.is_ipv4());
        if aside_first && self.aside.get(net) > 0 {
            self.aside.remove(net);
            if ip.is_ipv4() {
                return;
            }
        }
        if !self.leave_account(ip) && !aside_first {
            self.aside.remove(net);
        }
    }

    /// One membership less in `ip`'s account; false if it counted none.
    fn leave_account(&mut self, ip: IpAddr) -> bool {
        let slot = self.latest;
        if let Some(n) = self.overflow.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.overflow.remove(&ip);
            }
            return true;
        }
        // Only a table account counts memberships (never the one-datagram one).
        let found = match ip {
            IpAddr::V4(a) => self.v4.get_mut(u32::from(a)),
            IpAddr::V6(a) => self.v6.get_mut(u128::from(a)),
        };
        let Some(a) = found.filter(|a| a.members > 0) else { return false };
        a.members -= 1;
        if a.members > 0 {
            return true;
        }
        if self.lingering.len() >= self.config.max_tracked {
            self.expire(slot);
        }
        if self.lingering.len() >= self.config.max_tracked {
            // Fails closed: what would still be due to it (a repeated error) is not sent.
            self.remove(ip);
        } else {
            self.lingering.push_back((ip, slot));
        }
        true
    }

    fn remove(&mut self, ip: IpAddr) {
        match ip {
            IpAddr::V4(a) => self.v4.remove(u32::from(a)),
            IpAddr::V6(a) => self.v6.remove(u128::from(a)),
        };
    }

    /// Drops the accounts that have lingered a whole window (and entries of accounts that joined
    /// again).
    fn expire(&mut self, slot: u32) {
        while let Some(&(ip, since)) = self.lingering.front() {
            let members = self.get(ip).map(|a| a.members);
            if members == Some(0) && slot < since.saturating_add(SLOTS as u32) {
                break;
            }
            self.lingering.pop_front();
            if members == Some(0) {
                self.remove(ip);
            }
        }
        if self.lingering.capacity() > 64 && self.lingering.len() < self.lingering.capacity() / 4 {
            self.lingering.shrink_to(self.lingering.len() * 2);
        }
    }

    /// Drops the accounts that have lingered a whole window. O(1) per account dropped.
    /// Also rolls every account to the current slot once per [`ROLL_EVERY`] slots (hours), so
    /// that their 16-bit slot numbers are never ambiguous. Called before every event's use of the
    /// budget.
    pub(crate) fn maybe_sweep(&mut self, now: Instant) {
        let slot = self.slot(now);
        if slot.saturating_sub(self.rolled) >= ROLL_EVERY {
            // Every event since the last roll came within ROLL_EVERY slots of it (else it would
            // have rolled): after 2^15 slots every account has expired.
            let idle = slot - self.rolled >= 1 << 15;
            for a in self.v4.accounts_mut().chain(self.v6.accounts_mut()) {
                if idle {
                    a.reset(slot);
                } else {
                    a.roll(slot);
                }
            }
            self.rolled = slot;
        }
        if self.lingering.is_empty() {
            return;
        }
        self.expire(slot);
    }

    /// Addresses tracked: members' and lingering ones.
    pub(crate) fn tracked(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Datagrams held back so far.
    pub(crate) fn withheld(&self) -> u64 {
        self.withheld
    }

    /// Bytes of the datagrams held back so far.
    pub(crate) fn withheld_bytes(&self) -> u64 {
        self.withheld_bytes
    }

    /// Forgets the one-datagram account (the datagram it was for has been handled).
    pub(crate) fn forget_transient(&mut self) {
        self.transient = None;
    }

    /// Checks the accounts against the players: `members` is the number of players per IP
    /// (budgeted addresses only). Every member IP has an account counting exactly its players,
    /// and at most `max_tracked` accounts have none.
    pub(crate) fn check(&self, members: &HashMap<IpAddr, u32>) -> Result<(), String> {
        for (ip, &n) in members {
            let extra = self.overflow.get(ip).copied().unwrap_or(0);
            let has = self.get(*ip).map_or(0, |a| u32::from(a.members)) + extra;
            if has != n {
                return Err(format!("budget: {ip} has {n} players, its account counts {has}"));
            }
        }
        let accounts = self.v4.iter().map(|(k, a)| (IpAddr::from(std::net::Ipv4Addr::from(k)), a));
        let accounts =
            accounts.chain(self.v6.iter().map(|(k, a)| (IpAddr::from(std::net::Ipv6Addr::from(k)), a)));
        let mut idle = 0;
        for (ip, a) in accounts {
            if a.members == 0 {
                idle += 1;
            } else if !members.contains_key(&ip) {
                return Err(format!("budget: {ip} counts {} players, it has none", a.members));
            }
        }
        if idle > self.config.max_tracked || idle > self.lingering.len() {
            return Err(format!("budget: {idle} lingering accounts, {} queued", self.lingering.len()));
        }
        Ok(())
    }
}
