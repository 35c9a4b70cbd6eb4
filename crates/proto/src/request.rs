//! Requests a client sends the rendezvous server: `h c p s y k x`, and the extensions `e r q u v`
//! that only our clients send, borrowed from the datagram.
//!
//! Parsing follows the original server: the type is split off at the first `:`, a datagram without
//! any `:` is invalid, an unknown type is [`ParseError::UnknownType`], and a known type whose fields
//! break the (anchored) grammar is [`ParseError::Invalid`].

use crate::name::{is_nat_desc, is_password, is_player_name, is_session_name, parse_max_players};
use crate::{ParseError, MAX_REQUEST_LEN};
use std::fmt;

/// Hex digits of the token in `v:` (48 bits).
pub const ALSO_TOKEN_LEN: usize = 12;

/// `[0-9a-f]{12}`: a `v:` token.
pub fn is_also_token(s: &str) -> bool {
    s.len() == ALSO_TOKEN_LEN && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// One request to the server. Names borrow from the datagram and are already validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// `h:S:P:MAX[:PASS]`: create session `S` with host `P`.
    Host {
        /// Session name.
        session: &'a str,
        /// Host's player name.
        player: &'a str,
        /// Most players, 2..=12.
        max_players: u8,
        /// Optional password.
        password: Option<&'a str>,
    },
    /// `c:S:P[:PASS]`: join session `S` as `P`.
    Connect {
        /// Session name.
        session: &'a str,
        /// Player name.
        player: &'a str,
        /// Optional password.
        password: Option<&'a str>,
    },
    /// `p:S:P`: keep `P` alive.
    Ping {
        /// Session name.
        session: &'a str,
        /// Player name.
        player: &'a str,
    },
    /// `s:S:P`: the host starts the session.
    Start {
        /// Session name.
        session: &'a str,
        /// Player name (the original does not check it; the sender's address decides).
        player: &'a str,
    },
    /// `y:S:P`: the player has the start message; stop resending it.
    Confirm {
        /// Session name.
        session: &'a str,
        /// Player name.
        player: &'a str,
    },
    /// `k:S:VICTIM`: the host kicks a player.
    Kick {
        /// Session name.
        session: &'a str,
        /// The player to remove.
        victim: &'a str,
    },
    /// `x:S:P`: the player leaves the session.
    Exit {
        /// Session name.
        session: &'a str,
        /// Player name.
        player: &'a str,
    },
    /// `e:S:P:D` (extension, only our clients send it): the player's NAT descriptor `D`
    /// (`[a-z0-9+-]{1,14}`, opaque to the server). Answered with `n:`, like a ping otherwise.
    Ext {
        /// Session name.
        session: &'a str,
        /// Player name.
        player: &'a str,
        /// The NAT descriptor.
        nat: &'a str,
    },
    /// `r:S:P` (extension, only our clients send it): the player asks for the relay. Checked like a
    /// ping; when the session starts, each player that asked gets a grant (`r:<token>:...`) before
    /// its start message.
    Relay {
        /// Session name.
        session: &'a str,
        /// Player name.
        player: &'a str,
    },
    /// `q:S:P` (extension, only our clients send it): keep the player's address private. Checked
    /// like a ping; implies the relay (`r:`). Every other player's start message lists it with
    /// [`crate::relay::PRIVATE_PLACEHOLDER`] in place of its address, and it is left out of `n:`.
    /// A server without the relay refuses it (`error:invalid_request`) and drops the player.
    Private {
        /// Session name.
        session: &'a str,
        /// Player name.
        player: &'a str,
    },
    /// `v:S:P` and `v:S:P:<token>` (extension, only our clients send them): a player announces
    /// its address in the other address family (a dual-stack client talks to the server over
    /// both), in two steps that prove the sender of the second reads what reaches the player:
    /// 1. from the player's session address, `v:S:P`: the server answers there `v:<token>`, a token
    ///    bound to session, player and that address (only whoever reads the player's datagrams
    ///    gets it); nothing is stored;
    /// 2. from the other-family address, `v:S:P:<token>`: with a valid token, the server keeps
    ///    the source address as the player's other address and answers `v:ok` there; other players
    ///    of ours find it in their start message. Unchecked steps are dropped without an answer.
    ///
    /// Nobody but the player can so make its peers greet an address of its choosing (a spoofed
    /// second step needs the token, which only the player's session address received); the
    /// player itself could name a third party's address, which is no more than spoofing its
    /// whole join from there already allows (the peers' greetings are bounded either way).
    Also {
        /// Session name.
        session: &'a str,
        /// Player name.
        player: &'a str,
        /// Step 2's token; `None` for step 1.
        token: Option<&'a str>,
    },
    /// `u:S:NAME` (extension, only our clients send it): the host lifts the ban a kick put on
    /// `NAME` (and on its network), so it may join again. Checked like `k:` (the host's address).
    Unban {
        /// Session name.
        session: &'a str,
        /// The kicked player to let back.
        player: &'a str,
    },
}

impl<'a> Request<'a> {
    /// Parses one datagram. Never panics, whatever the bytes.
    pub fn parse(data: &'a [u8]) -> Result<Request<'a>, ParseError> {
        if data.len() > MAX_REQUEST_LEN {
            return Err(ParseError::Invalid);
        }
        let text = std::str::from_utf8(data).map_err(|_| ParseError::Invalid)?;
        let (kind, body) = text.split_once(':').ok_or(ParseError::Invalid)?;
        let mut fields = [""; 4];
        let n = split_fields(body, &mut fields);
        let two = |n: usize| -> Result<(&'a str, &'a str), ParseError> {
            if n == 2 && is_session_name(fields[0]) && is_player_name(fields[1]) {
                Ok((fields[0], fields[1]))
            } else {
                Err(ParseError::Invalid)
            }
        };
        match kind {
            "h" => {
                if !(n == 3 || n == 4) {
                    return Err(ParseError::Invalid);
                }
                let (session, player) = two(2)?;
                let max_players = parse_max_players(fields[2]).ok_or(ParseError::Invalid)?;
                let password = optional_password(n == 4, fields[3])?;
                Ok(Request::Host { session, player, max_players, password })
            }
            "c" => {
                if !(n == 2 || n == 3) {
                    return Err(ParseError::Invalid);
                }
                let (session, player) = two(2)?;
                let password = optional_password(n == 3, fields[2])?;
                Ok(Request::Connect { session, player, password })
            }
            "p" => two(n).map(|(session, player)| Request::Ping { session, player }),
            "s" => two(n).map(|(session, player)| Request::Start { session, player }),
            "y" => two(n).map(|(session, player)| Request::Confirm { session, player }),
            "k" => two(n).map(|(session, victim)| Request::Kick { session, victim }),
            "x" => two(n).map(|(session, player)| Request::Exit { session, player }),
            "r" => two(n).map(|(session, player)| Request::Relay { session, player }),
            "u" => two(n).map(|(session, player)| Request::Unban { session, player }),
            "q" => two(n).map(|(session, player)| Request::Private { session, player }),
            "v" => match n {
                2 => two(n).map(|(session, player)| Request::Also { session, player, token: None }),
                3 if is_also_token(fields[2]) => {
                    two(2).map(|(session, player)| Request::Also { session, player, token: Some(fields[2]) })
                }
                _ => Err(ParseError::Invalid),
            },
            "e" => {
                if n != 3 || !is_nat_desc(fields[2]) {
                    return Err(ParseError::Invalid);
                }
                let (session, player) = two(2)?;
                Ok(Request::Ext { session, player, nat: fields[2] })
            }
            _ => Err(ParseError::UnknownType),
        }
    }

    /// The session the request names.
    pub fn session(&self) -> &'a str {
        match *self {
            Request::Host { session, .. }
            | Request::Connect { session, .. }
            | Request::Ping { session, .. }
            | Request::Start { session, .. }
            | Request::Confirm { session, .. }
            | Request::Kick { session, .. }
            | Request::Exit { session, .. }
            | Request::Ext { session, .. }
            | Request::Relay { session, .. }
            | Request::Private { session, .. }
            | Request::Unban { session, .. }
            | Request::Also { session, .. } => session,
        }
    }

    /// Appends the request's wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{self}");
    }

    /// The request's wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAX_REQUEST_LEN);
        self.write_to(&mut out);
        out
    }
}

/// Splits `body` on `:` into `out`; returns how many fields there are, or `out.len() + 1` when
/// there are more than fit (so any count check fails).
fn split_fields<'a>(body: &'a str, out: &mut [&'a str; 4]) -> usize {
    let mut n = 0;
    for field in body.split(':') {
        if n == out.len() {
            return out.len() + 1;
        }
        out[n] = field;
        n += 1;
    }
    n
}

fn optional_password(present: bool, field: &str) -> Result<Option<&str>, ParseError> {
    match present {
        false => Ok(None),
        true if is_password(field) => Ok(Some(field)),
        true => Err(ParseError::Invalid),
    }
}

impl fmt::Display for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Request::Host { session, player, max_players, password } => {
                write!(f, "h:{session}:{player}:{max_players}")?;
                if let Some(p) = password {
                    write!(f, ":{p}")?;
                }
                Ok(())
            }
            Request::Connect { session, player, password } => {
                write!(f, "c:{session}:{player}")?;
                if let Some(p) = password {
                    write!(f, ":{p}")?;
                }
                Ok(())
            }
            Request::Ping { session, player } => write!(f, "p:{session}:{player}"),
            Request::Start { session, player } => write!(f, "s:{session}:{player}"),
            Request::Confirm { session, player } => write!(f, "y:{session}:{player}"),
            Request::Kick { session, victim } => write!(f, "k:{session}:{victim}"),
            Request::Exit { session, player } => write!(f, "x:{session}:{player}"),
            Request::Ext { session, player, nat } => write!(f, "e:{session}:{player}:{nat}"),
            Request::Relay { session, player } => write!(f, "r:{session}:{player}"),
            Request::Private { session, player } => write!(f, "q:{session}:{player}"),
            Request::Unban { session, player } => write!(f, "u:{session}:{player}"),
            Request::Also { session, player, token: None } => write!(f, "v:{session}:{player}"),
            Request::Also { session, player, token: Some(token) } => {
                write!(f, "v:{session}:{player}:{token}")
            }
        }
    }
}
