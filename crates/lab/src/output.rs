//! Reading the product client's stdout: the `connected`/`upgraded` lines (each peer's final
//! path, its `method=` and birthday `probes=`, when it went direct, the family of its `addr=`),
//! and whether a player printed everything a successful script-mode run prints (`punch-done`,
//! every peer's message).

use crate::family::Family;
use crate::probe::fields;
use rhp_client::Method;
use std::net::SocketAddr;

/// The client's `method=` word read back ([`Method::name`]).
pub fn parse_method(word: &str) -> Option<Method> {
    [Method::Plain, Method::Predicted, Method::Birthday, Method::Relay].into_iter().find(|m| m.name() == word)
}

/// The strongest final method of a player's peers (each peer's last `connected` or `upgraded`
/// line; `relay` above every direct one, so a pair left on the relay shows), and the most
/// birthday probes it reported. A line without a known `method=` word counts as no method.
pub fn methods_reported(stdout: &[String]) -> (Option<Method>, Option<u32>) {
    let mut last: Vec<(&str, Option<Method>)> = Vec::new();
    let mut probes = None;
    for l in stdout.iter().filter(|l| l.starts_with("connected ") || l.starts_with("upgraded ")) {
        let kv = fields(l);
        let m = kv.get("method").and_then(|x| parse_method(x));
        let peer = kv.get("peer").copied().unwrap_or("");
        match last.iter_mut().find(|(p, _)| *p == peer) {
            Some(slot) => slot.1 = m,
            None => last.push((peer, m)),
        }
        probes = probes.max(kv.get("probes").and_then(|x| x.parse::<u32>().ok()));
    }
    (last.into_iter().map(|(_, m)| m).max().flatten(), probes)
}

/// When a player's last peer got its final direct path (`after_start_ms` of each peer's last
/// `connected`/`upgraded` line, the largest), if every peer ended on a direct path.
pub fn direct_ms(stdout: &[String]) -> Option<u64> {
    let mut last: Vec<(String, Option<Method>, Option<u64>)> = Vec::new();
    for l in stdout.iter().filter(|l| l.starts_with("connected ") || l.starts_with("upgraded ")) {
        let kv = fields(l);
        let m = kv.get("method").and_then(|x| parse_method(x));
        let t = kv.get("after_start_ms").and_then(|x| x.parse().ok());
        let peer = kv.get("peer").copied().unwrap_or("").to_string();
        match last.iter_mut().find(|(p, _, _)| *p == peer) {
            Some(slot) => (slot.1, slot.2) = (m, t),
            None => last.push((peer, m, t)),
        }
    }
    if last.is_empty() || last.iter().any(|(_, m, _)| *m == Some(Method::Relay)) {
        return None;
    }
    last.iter().map(|(_, _, t)| *t).collect::<Option<Vec<u64>>>()?.into_iter().max()
}

/// The family of an `addr=` value (`1.2.3.4:5`, `[2001:db8::1]:5`; an IPv4-mapped IPv6
/// address counts as IPv4).
pub fn addr_family(addr: &str) -> Option<Family> {
    let a: SocketAddr = addr.parse().ok()?;
    Some(if a.ip().to_canonical().is_ipv4() { Family::V4 } else { Family::V6 })
}

/// The family of a player's final paths (each peer's last `connected`/`upgraded` line with an
/// `addr=`): [`Family::V4`] or [`Family::V6`] if all agree, [`Family::Dual`] if not, `None` if
/// no line had a readable address.
pub fn path_family(stdout: &[String]) -> Option<Family> {
    final_paths(stdout).into_iter().reduce(combine)
}

/// The family of a player's final path to each peer (its last `connected`/`upgraded` line for
/// that peer), for the peers whose line had a readable `addr=`.
pub fn final_paths(stdout: &[String]) -> Vec<Family> {
    let mut last: Vec<(&str, Option<Family>)> = Vec::new();
    for l in stdout.iter().filter(|l| l.starts_with("connected ") || l.starts_with("upgraded ")) {
        let kv = fields(l);
        let f = kv.get("addr").and_then(|x| addr_family(x));
        let peer = kv.get("peer").copied().unwrap_or("");
        match last.iter_mut().find(|(p, _)| *p == peer) {
            Some(slot) => slot.1 = f,
            None => last.push((peer, f)),
        }
    }
    last.into_iter().filter_map(|(_, f)| f).collect()
}

/// Two path families as one: the same, or [`Family::Dual`] (some on each).
pub fn combine(a: Family, b: Family) -> Family {
    if a == b {
        a
    } else {
        Family::Dual
    }
}

/// Did player `me` of the session `players` print everything a successful script-mode run
/// prints: `punch-done connected=k/k` with k = the other players, and a `<peer>: <text>` line
/// from each of them?
pub fn reported_success(stdout: &[String], players: &[&str], me: usize) -> bool {
    let want = players.len().saturating_sub(1);
    let punched = stdout.iter().any(|l| {
        l.starts_with("punch-done")
            && fields(l).get("connected").is_some_and(|c| *c == format!("{want}/{want}").as_str())
    });
    let heard_all = players
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != me)
        .all(|(_, p)| stdout.iter().any(|l| l.starts_with(&format!("{p}: "))));
    punched && heard_all
}
