//! The amplification budget ([`crate::budget`]).

use crate::budget::*;
use crate::netkey::NetKey;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn cfg() -> BudgetConfig {
    BudgetConfig { factor: 3, window: Duration::from_secs(8), max_tracked: 2, limit_loopback: false }
}

fn a(n: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, n], 4000))
}

/// `n` bytes from `from`, which then joins a session (as `h:`/`c:` do).
fn join(b: &mut Budget, t: Instant, from: SocketAddr, n: usize) {
    b.received(t, from, n);
    b.joined(t, from);
    b.forget_transient();
}

#[test]
fn three_times_what_was_received_then_nothing() {
    let t0 = Instant::now();
    let mut b = Budget::new(cfg());
    assert!(!b.allows(t0, a(1), 1), "nothing received, nothing allowed");
    join(&mut b, t0, a(1), 12);
    assert!(b.spend(t0, a(1), 24));
    assert!(!b.spend(t0, a(1), 13));
    assert!(b.spend(t0, a(1), 12));
    // Another port of the same IP shares the account.
    assert!(!b.spend(t0, SocketAddr::from(([10, 0, 0, 1], 9)), 1));
    assert_eq!(b.withheld(), 2);
}

#[test]
fn credit_and_spending_roll_off_after_the_window() {
    let t0 = Instant::now();
    let mut b = Budget::new(cfg());
    join(&mut b, t0, a(1), 12);
    assert!(b.spend(t0, a(1), 36));
    let later = t0 + Duration::from_secs(9);
    assert!(!b.allows(later, a(1), 1));
    b.received(later, a(1), 4);
    assert!(b.spend(later, a(1), 12), "old spending no longer counts");
    // A member's account stays, whatever the time.
    b.maybe_sweep(t0 + Duration::from_secs(30));
    assert_eq!(b.tracked(), 1);
    // Its last membership ended: it lingers one window, then goes.
    let end = t0 + Duration::from_secs(30);
    b.left(a(1));
    b.maybe_sweep(end + Duration::from_secs(7));
    assert_eq!(b.tracked(), 1);
    b.maybe_sweep(end + Duration::from_secs(8));
    assert_eq!(b.tracked(), 0);
}

#[test]
fn every_member_is_tracked_and_strangers_get_one_datagram() {
    let t0 = Instant::now();
    let mut b = Budget::new(cfg());
    // Far more members than max_tracked (which only bounds the lingering accounts).
    for i in 0..200u8 {
        join(&mut b, t0, a(i), 12);
    }
    assert_eq!(b.tracked(), 200);
    assert!((0..200u8).all(|i| b.spend(t0, a(i), 36)));
    // Junk from a stranger only ever gets its own datagram's credit, once.
    let stranger = SocketAddr::from(([192, 0, 2, 1], 1));
    b.received(t0, stranger, 12);
    assert!(b.spend(t0, stranger, 36));
    assert!(!b.spend(t0, stranger, 1));
    b.received(t0, a(1), 1);
    assert!(!b.allows(t0, stranger, 1), "its credit was for the reply to its datagram only");
    assert_eq!(b.tracked(), 200);
    // Two memberships of one IP: the account stays until both ended.
    b.joined(t0, a(7));
    b.left(a(7));
    assert_eq!(b.get(a(7).ip()).map(|a| a.members), Some(1));
    // Leaving members: at most max_tracked (2) linger, the others go at once.
    for i in 0..5u8 {
        b.left(a(i));
    }
    assert_eq!(b.tracked(), 197);
    assert!(b.allows(t0, a(0), 0) && b.allows(t0, a(1), 0) && !b.allows(t0, a(2), 0));
}

#[test]
fn an_ip_with_more_players_than_a_u16_counts_them_all() {
    let t0 = Instant::now();
    let mut b = Budget::new(cfg());
    for _ in 0..70_000 {
        b.joined(t0, a(1));
    }
    for _ in 0..69_999 {
        b.left(a(1));
    }
    assert_eq!(b.get(a(1).ip()).map(|a| a.members), Some(1));
    b.left(a(1));
    assert_eq!(b.get(a(1).ip()).map(|a| a.members), Some(0), "lingers");
    assert!(b.overflow.is_empty());
}

#[test]
fn accounts_roll_through_hours_of_slots() {
    let t0 = Instant::now();
    let mut b = Budget::new(cfg());
    b.maybe_sweep(t0);
    join(&mut b, t0, a(1), 100);
    let mut t = t0;
    // 2 s slots: a ping every hour for 60 hours (past 2^16 slots), credit never carried over.
    for _ in 0..60 {
        t += Duration::from_secs(3600);
        b.maybe_sweep(t);
        assert!(!b.allows(t, a(1), 1), "old credit rolled off");
        b.received(t, a(1), 10);
        assert!(b.spend(t, a(1), 30) && !b.spend(t, a(1), 1));
    }
    // And after days without any event at all.
    t += Duration::from_secs(5 * 86_400);
    b.maybe_sweep(t);
    assert!(!b.allows(t, a(1), 1));
}

#[test]
fn players_per_network_are_counted_once_whatever_the_address() {
    let t0 = Instant::now();
    let mut b = Budget::new(cfg());
    let net = |a: SocketAddr| NetKey::of(a.ip());
    let v6 = |s: &str| SocketAddr::new(s.parse().unwrap(), 7);
    let lo = SocketAddr::from(([127, 0, 0, 1], 5));
    // Budgeted IPv4: its account's count, nothing aside.
    b.joined(t0, a(1));
    b.joined(t0, a(1));
    assert_eq!((b.players(net(a(1))), b.aside.len()), (2, 0));
    // IPv6: one account per address, one count per /64.
    b.joined(t0, v6("2001:db8::1"));
    b.joined(t0, v6("2001:db8::2"));
    assert_eq!(b.players(net(v6("2001:db8::99"))), 2);
    // Exempt loopback: counted aside, no account.
    b.joined(t0, lo);
    assert_eq!((b.players(net(lo)), b.tracked()), (1, 3));
    assert_eq!(b.players_total(), 5);
    // After a reconfiguration that budgets loopback, its player still leaves the count.
    b.reconfigure(BudgetConfig { limit_loopback: true, ..cfg() });
    b.left(lo);
    b.left(v6("2001:db8::2"));
    b.left(a(1));
    assert_eq!((b.players(net(lo)), b.players(net(v6("2001:db8::1"))), b.players(net(a(1)))), (0, 1, 1));
    assert_eq!(b.players_total(), 2);
    // Off: everything aside.
    let mut off = Budget::new(BudgetConfig { factor: 0, ..cfg() });
    off.joined(t0, a(2));
    assert_eq!((off.players(net(a(2))), off.tracked()), (1, 0));
    off.left(a(2));
    assert_eq!(off.players_total(), 0);
}

#[test]
fn loopback_is_exempt_unless_asked_and_zero_is_off() {
    let t0 = Instant::now();
    let lo = SocketAddr::from(([127, 0, 0, 1], 5));
    let mut b = Budget::new(cfg());
    assert!(b.spend(t0, lo, 1000));
    b.joined(t0, lo);
    assert_eq!(b.tracked(), 0);
    let mut b = Budget::new(BudgetConfig { limit_loopback: true, ..cfg() });
    assert!(!b.spend(t0, lo, 1));
    let mut b = Budget::new(BudgetConfig { factor: 0, ..cfg() });
    assert!(b.spend(t0, a(1), 1_000_000));
}
