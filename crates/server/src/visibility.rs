//! Which other players a player's start message lists, by address family (IPv4 or IPv6, as the
//! server saw each player) and by whether the player showed it is ours: it sent `e:`, or `r:` /
//! `q:` to a relaying server (the Godot plugin sends none of them; our client sends `r:` from its
//! first ping, `e:` once its NAT is classified).
//!
//! The server sees one address per player, in one family. The rule, symmetric so that two players
//! either both know each other or neither does:
//! - two of our players always see each other: an IPv6 address is written in brackets
//!   (`Name:[2001:db8::1]:port`), which our parser reads; between families the relay (which
//!   listens on both, on by default in our client) carries them until a direct path is found;
//! - otherwise (at least one of the two is a Godot peer, or one of ours that has not shown it by
//!   the start) they see each other only if both are on IPv4. The Godot plugin splits `s:` on
//!   `:`, so IPv6 text would break its parser; and it has no relay, so a peer it cannot be told
//!   about is one it cannot reach. Such a peer is left out of its list: the Godot peer greets and confirms
//!   only the peers it was given, as if the left-out one were not in the session (a Godot host
//!   finishes without it: a missing `y:` is no error for the plugin), and the left-out player does
//!   not list it either, so it never sends it a greeting or `c:` under an unknown name (which would
//!   put the plugin in an index error on every tick).
//!
//! A player whose list would then be empty, or (not being the host) would lack the host, cannot
//! be bridged: a player takes the first entry as the host, so a list without the real host
//! would make it follow the wrong one. Instead of `s:` it gets an error in every start round:
//! a Godot peer `error:session_non_existent` (the closest code it knows: the session it could
//! join is gone, and the plugin fails with it at once), ours `error:no_common_family`.

use crate::session::{Player, Session};
use rhp_proto::ErrorCode;

/// Whether `p` talks to the server over IPv4 (an IPv4-mapped address counts as IPv4).
fn on_v4(p: &Player) -> bool {
    p.addr().ip().to_canonical().is_ipv4()
}

/// Whether `p` showed it is ours (sent `e:`, or `r:`/`q:` that the relay took): only such a
/// player may be sent IPv6 text.
pub(crate) fn ours(p: &Player) -> bool {
    p.nat.is_some() || p.relay_wanted() || p.private()
}

/// Whether `receiver`'s start message lists `peer` (and, symmetrically, `peer`'s lists `receiver`).
pub(crate) fn sees(receiver: &Player, peer: &Player) -> bool {
    (ours(receiver) && ours(peer)) || (on_v4(receiver) && on_v4(peer))
}

/// The error player `index` gets instead of its start message when its list cannot be bridged
/// (see the module comment), or `None` when it gets `s:`.
pub(crate) fn unbridged(session: &Session, index: usize) -> Option<ErrorCode> {
    let me = session.players.get(index)?;
    let sees_at = |i: usize| i != index && session.players.get(i).is_some_and(|p| sees(me, p));
    let sees_someone = (0..session.players.len()).any(sees_at);
    let sees_host = index == 0 || sees_at(0);
    if sees_someone && sees_host {
        None
    } else if ours(me) {
        Some(ErrorCode::NoCommonFamily)
    } else {
        Some(ErrorCode::SessionNonExistent)
    }
}
