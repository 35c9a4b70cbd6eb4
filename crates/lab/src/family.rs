//! Which IP families a player's network gives it: IPv4 only (every cell until issue 18), IPv6
//! only, or both. IPv4 goes through the router's NAT; IPv6 is routed (documentation prefix
//! `2001:db8::/32`) through the router's stateful firewall, with no NAT.

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
