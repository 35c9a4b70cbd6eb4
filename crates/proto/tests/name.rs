//! The grammar of names, passwords and the max-players field (`rhp_proto::name`).

use rhp_proto::name::*;

#[test]
fn names_follow_the_grammar() {
    assert!(is_session_name("NiceRoom"));
    assert!(is_session_name("a123456789"));
    assert!(!is_session_name("a1234567890"));
    assert!(!is_session_name(""));
    assert!(!is_session_name("Nice Room"));
    assert!(!is_session_name("Nicé"));
    assert!(is_player_name("abcdefghijkl"));
    assert!(!is_player_name("abcdefghijklm"));
    assert!(!is_password("pa-ss"));
    assert!(is_nat_desc("cone+p4-1"));
    assert!(is_nat_desc("abcdefghijklmn"));
    assert!(!is_nat_desc("abcdefghijklmno"));
    assert!(!is_nat_desc(""));
    assert!(!is_nat_desc("Cone"));
    assert!(!is_nat_desc("a:b"));
    assert!(!is_nat_desc("a_b"));
}

#[test]
fn max_players_is_2_to_12_without_leading_zeros() {
    assert_eq!(parse_max_players("2"), Some(2));
    assert_eq!(parse_max_players("12"), Some(12));
    for bad in ["1", "13", "02", "+4", "", " 4", "4 ", "0", "100"] {
        assert_eq!(parse_max_players(bad), None, "{bad:?}");
    }
}
