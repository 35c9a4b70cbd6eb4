//! The punching plan each pair of NAT kinds gets ([`crate::strategy`]).

use crate::nat_kind::NatKind;
use crate::strategy::*;
use NatKind::*;

#[test]
fn the_table_holds() {
    let p = Predictable { last: 40000, step: 1 };
    assert_eq!(Plan::choose(Some(Independent), Some(Independent)), Plan::Plain);
    assert_eq!(Plan::choose(Some(Independent), None), Plan::Plain);
    assert_eq!(Plan::choose(None, Some(Random)), Plan::Plain);
    assert_eq!(
        Plan::choose(Some(Independent), Some(p)),
        Plan::PredictPeer { last: 40000, step: 1, lockstep: false }
    );
    assert_eq!(Plan::choose(Some(p), Some(p)), Plan::PredictPeer { last: 40000, step: 1, lockstep: true });
    assert_eq!(Plan::choose(Some(p), Some(Independent)), Plan::PredictedByPeer);
    assert_eq!(Plan::choose(Some(Independent), Some(Random)), Plan::BirthdayEasy);
    assert_eq!(Plan::choose(Some(Random), Some(Independent)), Plan::BirthdayHard);
    for (a, b) in [(Random, Random), (Random, p), (p, Random), (Unknown, Random), (Random, Unknown)] {
        assert_eq!(Plan::choose(Some(a), Some(b)), Plan::Plain, "{a:?} {b:?}");
    }
}
