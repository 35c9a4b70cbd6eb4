//! Per-network byte accounts and their table ([`crate::accounts`]).

use crate::accounts::*;

#[test]
fn an_account_is_16_bytes_and_nets_sum_over_the_window() {
    assert_eq!(std::mem::size_of::<Account>(), 16);
    assert_eq!(std::mem::size_of::<Keyed<u32>>(), 20);
    let mut a = Account::new(0);
    a.credit(30);
    assert!(a.debit(20));
    a.roll(1);
    assert!(!a.debit(11));
    assert!(a.debit(10));
    a.roll(4);
    a.credit(3);
    assert!(!a.allows(1), "slot 0's credit rolled off, slot 1's spending still counts");
    a.roll(5);
    a.credit(3);
    assert!(a.allows(6) && !a.allows(7), "slot 1's spending rolled off: slots 4 and 5 credit 3 each");
    // Any gap of SLOTS or more clears everything.
    a.roll(5 + 100);
    assert!(!a.allows(1));
    // Credit beyond the counter is cut; spending beyond it refused.
    a.credit(u64::MAX);
    a.credit(u64::MAX);
    assert!(a.allows(NET_MAX as u64) && !a.allows(NET_MAX as u64 + 1));
    assert!(a.debit(NET_MAX as u64));
    a.roll(106);
    a.credit(100);
    assert!(a.debit(100));
    assert_eq!(get24(set24(-5)), -5);
    assert_eq!(get24(set24(i32::MIN)), NET_MIN);
}

#[test]
fn table_keeps_one_entry_per_key_through_removals() {
    let mut t: Table<u32> = Table::default();
    for k in 0..1000u32 {
        if let Some(a) = t.get_or_insert(k, || Account::new(k)) {
            a.members = k as u16;
        }
    }
    for k in (0..1000u32).step_by(3) {
        assert_eq!(t.remove(k).map(|a| a.members), Some(k as u16));
    }
    assert_eq!(t.len(), 1000 - 334);
    for k in 0..1000u32 {
        assert_eq!(t.get(k).map(|a| a.members), (k % 3 != 0).then_some(k as u16));
    }
    assert!(t.remove(3).is_none());
}
