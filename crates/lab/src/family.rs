//! Which IP families a player's network gives it: IPv4 only (the IPv4 matrix), IPv6 only, or
//! both ([`Family`]), and the families of a cell's players ([`Families`]: the same for all, or
//! the host's and the others'). IPv4 goes through the router's NAT; IPv6 is routed
//! (documentation prefix `2001:db8::/32`) through the router's stateful firewall, with no NAT.
//! [`Family::V4`] and [`Family::V6`] also name the family a path ended on.

use std::fmt;

/// The IP families of a player's network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4 behind the NAT only (the lab before IPv6).
    #[default]
    V4,
    /// IPv6 behind the stateful firewall only.
    V6,
    /// Both: IPv4 behind the NAT, IPv6 behind the firewall.
    Dual,
}

impl Family {
    /// Every family, in report order.
    pub const ALL: [Family; 3] = [Family::V4, Family::V6, Family::Dual];

    /// Short stable name.
    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
            Family::Dual => "dual-stack",
        }
    }

    /// Parses [`Family::name`].
    pub fn parse(s: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.name() == s)
    }

    /// The network gives IPv4 (behind the NAT).
    pub fn has_v4(self) -> bool {
        self != Family::V6
    }

    /// The network gives IPv6 (behind the firewall).
    pub fn has_v6(self) -> bool {
        self != Family::V4
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The families of a cell's players: the host's, and every other player's (a cell with one
/// IPv4-only side against dual-stack sides, or the same family for everyone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Families {
    /// The host's (player 0) network.
    pub host: Family,
    /// Every other player's network.
    pub others: Family,
}

impl Families {
    /// Every player's network gives `f`.
    pub const fn all(f: Family) -> Families {
        Families { host: f, others: f }
    }

    /// IPv4 only for every player (the IPv4 matrix).
    pub const V4: Families = Families::all(Family::V4);

    /// The family of player `idx`'s network (0: the host).
    pub fn of(self, idx: usize) -> Family {
        if idx == 0 {
            self.host
        } else {
            self.others
        }
    }

    /// Some player's network gives IPv6.
    pub fn any_v6(self) -> bool {
        self.host.has_v6() || self.others.has_v6()
    }

    /// The families the host and another player have in common: (IPv4, IPv6). Two other
    /// players share all of theirs.
    pub fn common(self) -> (bool, bool) {
        let (h, o) = (self.host, self.others);
        (h.has_v4() && o.has_v4(), h.has_v6() && o.has_v6())
    }

    /// Stable name: the family (`dual-stack`), or the host's and the others' (`ipv4 × dual-stack`).
    pub fn name(self) -> String {
        if self.host == self.others {
            self.host.name().into()
        } else {
            format!("{} × {}", self.host, self.others)
        }
    }
}

impl fmt::Display for Families {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}
