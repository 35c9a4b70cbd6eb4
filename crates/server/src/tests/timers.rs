//! The timer heap ([`crate::timers`]): order, due entries only, compaction, entry size.

use super::util::{ms, t0};
use crate::timers::{Entry, Kind, Timers};
use rhp_proto::ErrorCode;

fn repeat(left: u32) -> Kind {
    Kind::ErrorRepeat { to: "127.0.0.1:1".parse().unwrap(), code: ErrorCode::PlayerTimeout, left }
}

#[test]
fn pops_in_deadline_order_and_only_when_due() {
    let t0 = t0();
    let mut t = Timers::default();
    t.push(t0 + ms(30), repeat(3));
    t.push(t0 + ms(10), repeat(1));
    t.push(t0 + ms(10), repeat(2));
    assert_eq!(t.next_deadline(), Some(t0 + ms(10)));
    assert!(t.pop_due(t0).is_none());
    let due: Vec<Kind> = std::iter::from_fn(|| t.pop_due(t0 + ms(20)).map(|(_, _, k)| k)).collect();
    assert_eq!(due, vec![repeat(1), repeat(2)]);
    assert_eq!(t.len(), 1);
    // An entry is 40 bytes: the deadline, the sequence number and a 24-byte kind.
    assert_eq!(std::mem::size_of::<Entry>(), 40);
}

#[test]
fn compaction_keeps_only_live_entries() {
    let t0 = t0();
    let mut t = Timers::default();
    for i in 0..100 {
        t.push(t0, repeat(i));
    }
    t.note_stale(90);
    assert!(t.wants_compaction());
    t.compact(|_, k| matches!(k, Kind::ErrorRepeat { left, .. } if *left < 10));
    assert_eq!(t.len(), 10);
    assert!(!t.wants_compaction());
}
