//! The `error:` codes (`rhp_proto::error_code`): names, wire form, the seed README.

use rhp_proto::error_code::*;

#[test]
fn codes_round_trip_and_match_the_seed_readme() {
    for c in ErrorCode::EVERY {
        assert_eq!(ErrorCode::from_code(c.as_str()), Some(c));
        assert_eq!(c.wire(), format!("error:{}", c.as_str()));
    }
    assert_eq!(ErrorCode::OnlyOnePlayerInSession.wire(), "error:only_one_player_in_session");
    assert_eq!(ErrorCode::from_code("nope"), None);
    assert_eq!(ErrorCode::from_code("too_many_requests"), Some(ErrorCode::TooManyRequests));
    assert!(ErrorCode::LIMITS.iter().all(|c| !ErrorCode::ALL.contains(c)));
}
