//! What a client sends the server (`rhp_proto::request`): the grammar, its limit, round trips.

use proptest::prelude::*;
use rhp_proto::request::*;
use rhp_proto::{ParseError, MAX_REQUEST_LEN};

fn p(s: &str) -> Result<Request<'_>, ParseError> {
    Request::parse(s.as_bytes())
}

#[test]
fn parses_every_request_of_the_readme() {
    assert_eq!(
        p("h:NiceRoom:Alice:4:Pass"),
        Ok(Request::Host { session: "NiceRoom", player: "Alice", max_players: 4, password: Some("Pass") })
    );
    assert_eq!(
        p("h:NiceRoom:Alice:4"),
        Ok(Request::Host { session: "NiceRoom", player: "Alice", max_players: 4, password: None })
    );
    assert_eq!(
        p("c:NiceRoom:Bob:Pass"),
        Ok(Request::Connect { session: "NiceRoom", player: "Bob", password: Some("Pass") })
    );
    assert_eq!(
        p("c:NiceRoom:Bob"),
        Ok(Request::Connect { session: "NiceRoom", player: "Bob", password: None })
    );
    assert_eq!(p("p:NiceRoom:Alice"), Ok(Request::Ping { session: "NiceRoom", player: "Alice" }));
    assert_eq!(p("s:NiceRoom:Alice"), Ok(Request::Start { session: "NiceRoom", player: "Alice" }));
    assert_eq!(p("y:NiceRoom:Alice"), Ok(Request::Confirm { session: "NiceRoom", player: "Alice" }));
    assert_eq!(p("k:NiceRoom:Bob"), Ok(Request::Kick { session: "NiceRoom", victim: "Bob" }));
    assert_eq!(p("x:NiceRoom:Carol"), Ok(Request::Exit { session: "NiceRoom", player: "Carol" }));
    assert_eq!(p("r:NiceRoom:Carol"), Ok(Request::Relay { session: "NiceRoom", player: "Carol" }));
    assert_eq!(p("u:NiceRoom:Carol"), Ok(Request::Unban { session: "NiceRoom", player: "Carol" }));
    assert_eq!(p("q:NiceRoom:Carol"), Ok(Request::Private { session: "NiceRoom", player: "Carol" }));
    assert_eq!(
        p("e:NiceRoom:Carol:cone+4"),
        Ok(Request::Ext { session: "NiceRoom", player: "Carol", nat: "cone+4" })
    );
}

#[test]
fn rejects_what_the_grammar_rejects() {
    for bad in [
        "",
        "h",
        "hello",
        "h:",
        "h:S",
        "h:S:P",
        "h:S:P:1",
        "h:S:P:13",
        "h:S:P:04",
        "h:S:P:4:",
        "h:S:P:4:pw:extra",
        "h:S:P:4:p-w",
        "h:S:abcdefghijklm:4",
        "h:abcdefghijk:P:4",
        "c:S",
        "c:S:P:",
        "c:S:P:pw:x",
        "p:S:P:",
        "p:S:P:x",
        "p::P",
        "p:S:",
        "p:S:P\n",
        "s:S",
        "k:S:P:Q",
        "x:S:Pé",
        "e:S:P",
        "e:S:P:",
        "e:S:P:Cone",
        "e:S:P:a:b",
        "e:S:P:abcdefghijklmno",
        "e::P:x",
        "r:S",
        "r:S:P:x",
        "u:S",
        "u:S:P:x",
        "u:S:P-",
    ] {
        assert_eq!(p(bad), Err(ParseError::Invalid), "{bad:?}");
    }
    assert_eq!(Request::parse(b"p:S:\xff"), Err(ParseError::Invalid));
    assert_eq!(Request::parse(&[b'p'; 42]), Err(ParseError::Invalid));
}

#[test]
fn unknown_types_are_told_apart() {
    for unknown in ["z:foo", "error:x", "i:Alice", "g:a:1:2", ":x", "hh:S:P"] {
        assert_eq!(p(unknown), Err(ParseError::UnknownType), "{unknown:?}");
    }
}

#[test]
fn the_longest_valid_request_fits_the_limit() {
    let longest = "h:abcdefghij:abcdefghijkl:12:abcdefghijkl";
    assert_eq!(longest.len(), MAX_REQUEST_LEN);
    assert!(p(longest).is_ok());
    let longest_ext = "e:abcdefghij:abcdefghijkl:abcdefghijklmn";
    assert!(longest_ext.len() <= MAX_REQUEST_LEN);
    assert!(p(longest_ext).is_ok());
}

proptest! {
    #[test]
    fn never_panics_and_round_trips(data in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(req) = Request::parse(&data) {
            prop_assert_eq!(req.to_bytes(), data);
        }
    }

    #[test]
    fn valid_requests_round_trip(
        kind in 0..11usize,
        session in "[A-Za-z0-9]{1,10}",
        player in "[A-Za-z0-9]{1,12}",
        nat in "[a-z0-9+-]{1,14}",
        max in 2u8..=12,
        pw in proptest::option::of("[A-Za-z0-9]{1,12}"),
    ) {
        let pw = pw.as_deref();
        let req = match kind {
            0 => Request::Host { session: &session, player: &player, max_players: max, password: pw },
            1 => Request::Connect { session: &session, player: &player, password: pw },
            2 => Request::Ping { session: &session, player: &player },
            3 => Request::Start { session: &session, player: &player },
            4 => Request::Confirm { session: &session, player: &player },
            5 => Request::Kick { session: &session, victim: &player },
            6 => Request::Ext { session: &session, player: &player, nat: &nat },
            7 => Request::Relay { session: &session, player: &player },
            8 => Request::Unban { session: &session, player: &player },
            9 => Request::Private { session: &session, player: &player },
            _ => Request::Exit { session: &session, player: &player },
        };
        let bytes = req.to_bytes();
        prop_assert_eq!(Request::parse(&bytes), Ok(req));
    }
}
