//! The `v:` extension (a player's address in the other family): both request steps and both
//! answers parse, render back byte for byte, and refuse what is malformed.

use proptest::prelude::*;
use rhp_proto::reply::{write_also_token, ALSO_OK};
use rhp_proto::request::ALSO_TOKEN_LEN;
use rhp_proto::{ParseError, Reply, Request, MAX_REQUEST_LEN};

fn req(s: &str) -> Result<Request<'_>, ParseError> {
    Request::parse(s.as_bytes())
}

#[test]
fn both_steps_parse() {
    assert_eq!(req("v:S:Bob"), Ok(Request::Also { session: "S", player: "Bob", token: None }));
    assert_eq!(
        req("v:S:Bob:0123456789ab"),
        Ok(Request::Also { session: "S", player: "Bob", token: Some("0123456789ab") })
    );
    let longest = "v:abcdefghij:abcdefghijkl:0123456789ab";
    assert!(longest.len() <= MAX_REQUEST_LEN);
    assert!(req(longest).is_ok());
}

#[test]
fn malformed_steps_are_refused() {
    for bad in [
        "v:S",
        "v:S:Bob:",
        "v:S:Bob:0123456789AB", // upper-case hex
        "v:S:Bob:0123456789a",  // 11 digits
        "v:S:Bob:0123456789abc",
        "v:S:Bob:0123456789ab:x",
        "v:S:B-b",
        "v:S-:Bob",
    ] {
        assert_eq!(req(bad), Err(ParseError::Invalid), "{bad:?}");
    }
}

#[test]
fn answers_parse() {
    let mut out = Vec::new();
    write_also_token(&mut out, "00ff00ff00ff");
    assert_eq!(out, b"v:00ff00ff00ff");
    assert_eq!(Reply::parse(&out), Ok(Reply::AlsoToken("00ff00ff00ff".into())));
    assert_eq!(Reply::parse(ALSO_OK), Ok(Reply::AlsoOk));
    for bad in ["v:00ff00ff00f", "v:nope", "v:", "v:00FF00FF00FF"] {
        assert_eq!(Reply::parse(bad.as_bytes()), Err(ParseError::Invalid), "{bad:?}");
    }
}

#[test]
fn the_answer_to_step_one_is_no_longer_than_the_request() {
    // Step 1 comes from a member's address; its answer never amplifies it.
    let mut answer = Vec::new();
    write_also_token(&mut answer, &"f".repeat(ALSO_TOKEN_LEN));
    assert!(answer.len() <= "v:S:P".len() * 3);
}

proptest! {
    #[test]
    fn every_step_and_answer_round_trips(
        session in "[A-Za-z0-9]{1,10}",
        player in "[A-Za-z0-9]{1,12}",
        token in "[0-9a-f]{12}",
    ) {
        for step in [
            Request::Also { session: &session, player: &player, token: None },
            Request::Also { session: &session, player: &player, token: Some(&token) },
        ] {
            let bytes = step.to_bytes();
            prop_assert_eq!(Request::parse(&bytes), Ok(step));
        }
        let mut answer = Vec::new();
        write_also_token(&mut answer, &token);
        prop_assert_eq!(Reply::parse(&answer), Ok(Reply::AlsoToken(token.clone())));
    }
}
