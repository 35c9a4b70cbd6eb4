//! What a NAT does to a socket's mapping, as this client learns it (see [`crate::classify`]) and as
//! it tells the server and the peers (the `e:`/`n:` descriptor token).
//!
//! Token grammar (`[a-z0-9+-]{1,14}`): `e` endpoint-independent mapping (a cone: one public port
//! for every destination), `s<last>+<step>` / `s<last>-<step>` a mapping that changes per
//! destination by a fixed step from the last public port seen, `r` a mapping that changes at
//! random, `u` unknown (no STUN answer).

use std::fmt;

/// How a NAT maps one socket towards different destinations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NatKind {
    /// The same public port towards every destination (cone NATs, no NAT at all): easy.
    Independent,
    /// A new public port per destination, each `step` after the previous; `last` is the last
    /// public port seen: predictable.
    Predictable {
        /// The last public port seen.
        last: u16,
        /// The fixed difference between consecutive new mappings (never 0).
        step: i16,
    },
    /// A new public port per destination, at random: hard.
    Random,
    /// Not known (the server answered no STUN request).
    Unknown,
}

impl NatKind {
    /// True for a mapping no one can predict: the birthday path's hard side.
    pub fn is_hard(self) -> bool {
        self == NatKind::Random
    }

    /// Short name for people and logs.
    pub fn name(self) -> &'static str {
        match self {
            NatKind::Independent => "independent",
            NatKind::Predictable { .. } => "predictable",
            NatKind::Random => "random",
            NatKind::Unknown => "unknown",
        }
    }

    /// The descriptor token sent in `e:`.
    pub fn token(self) -> String {
        match self {
            NatKind::Independent => "e".into(),
            NatKind::Predictable { last, step } if step < 0 => format!("s{last}-{}", step.unsigned_abs()),
            NatKind::Predictable { last, step } => format!("s{last}+{step}"),
            NatKind::Random => "r".into(),
            NatKind::Unknown => "u".into(),
        }
    }

    /// Reads a descriptor token (from `n:`); `None` for anything else.
    pub fn from_token(token: &str) -> Option<NatKind> {
        match token {
            "e" => Some(NatKind::Independent),
            "r" => Some(NatKind::Random),
            "u" => Some(NatKind::Unknown),
            _ => {
                let body = token.strip_prefix('s')?;
                let (split, negative) = match (body.find('+'), body.find('-')) {
                    (Some(i), None) => (i, false),
                    (None, Some(i)) => (i, true),
                    _ => return None,
                };
                let last: u16 = body.get(..split)?.parse().ok()?;
                let magnitude: i16 = body.get(split + 1..)?.parse().ok()?;
                let step = if negative { -magnitude } else { magnitude };
                (step != 0 && last != 0).then_some(NatKind::Predictable { last, step })
            }
        }
    }

    /// The `i`-th port after `last` for a predictable mapping (`i` from 1), if it is a port.
    pub fn predicted_port(last: u16, step: i16, i: u16) -> Option<u16> {
        let p = i64::from(last) + i64::from(step) * i64::from(i);
        u16::try_from(p).ok().filter(|p| *p != 0)
    }
}

impl fmt::Display for NatKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NatKind::Predictable { last, step } => write!(f, "predictable (step {step:+}, last port {last})"),
            other => f.write_str(other.name()),
        }
    }
}
