//! NAT behaviours as data (RFC 4787 terms), and the nftables ruleset that builds each one.

use std::fmt;
use std::net::Ipv4Addr;

/// How a NAT picks the public endpoint of an outbound flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mapping {
    /// Same public ip:port for every destination ("cone").
    EndpointIndependent,
    /// A new public port for every destination ("symmetric").
    AddressAndPortDependent,
}

/// Which unsolicited inbound packets reach the inside host through an existing mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Filtering {
    /// Anyone may send to the mapping (full cone).
    EndpointIndependent,
    /// Any port of an address the inside host has sent to (restricted cone).
    AddressDependent,
    /// Only the exact ip:port the inside host has sent to (port-restricted cone, symmetric).
    AddressAndPortDependent,
}

/// How the public port relates to the inside host's port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortAlloc {
    /// Keep the inside port when free.
    Preserve,
    /// Public port = inside port XOR this value (a fixed shift, the same for every destination).
    Xor(u16),
    /// A random port for every new flow.
    Random,
    /// Every new flow through the router gets the next port of one counter (sequential
    /// allocation, step 1): predictable from two consecutive mappings.
    Sequential,
    /// The first flow of an inside ip:port keeps its port; every later flow of it gets a random
    /// one (port-preserving symmetric).
    PreserveThenRandom,
}

/// First port of a [`PortAlloc::Sequential`] router's counter.
pub const SEQUENTIAL_FIRST_PORT: u16 = 30000;
/// Ports the counter cycles through before it wraps (every attempt flushes conntrack, so a
/// reused port never clashes with a live flow).
pub const SEQUENTIAL_SPAN: u16 = 1024;

/// The elements `i : port` of the sequential allocator's map.
fn sequential_ports() -> String {
    (0..SEQUENTIAL_SPAN)
        .map(|i| format!("{i} : {}", SEQUENTIAL_FIRST_PORT + i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The XOR a [`NatType::PortShiftCone`] applies to source ports.
pub const PORT_SHIFT_XOR: u16 = 0x4000;

/// The NAT behaviours the lab builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NatType {
    /// Endpoint-independent mapping and filtering.
    FullCone,
    /// Endpoint-independent mapping, address-dependent filtering.
    RestrictedCone,
    /// Endpoint-independent mapping, address+port-dependent filtering: the typical home router.
    PortRestrictedCone,
    /// Like port-restricted cone, but the public port is never the inside port.
    PortShiftCone,
    /// A random public port per destination, address+port-dependent filtering.
    Symmetric,
    /// A new public port per destination, allocated sequentially (each new flow +1).
    SymmetricSequential,
    /// Port-preserving symmetric: the first destination keeps the inside port, every other
    /// destination gets a random one.
    SymmetricPreserving,
}

impl NatType {
    /// Every type, in report order.
    pub const ALL: [NatType; 7] = [
        NatType::FullCone,
        NatType::RestrictedCone,
        NatType::PortRestrictedCone,
        NatType::PortShiftCone,
        NatType::Symmetric,
        NatType::SymmetricSequential,
        NatType::SymmetricPreserving,
    ];

    /// Short stable name (used on the command line and in reports).
    pub fn name(self) -> &'static str {
        match self {
            NatType::FullCone => "full-cone",
            NatType::RestrictedCone => "restricted",
            NatType::PortRestrictedCone => "port-restricted",
            NatType::PortShiftCone => "port-shift",
            NatType::Symmetric => "symmetric",
            NatType::SymmetricSequential => "symmetric-seq",
            NatType::SymmetricPreserving => "symmetric-pp",
        }
    }

    /// Mapping behaviour.
    pub fn mapping(self) -> Mapping {
        match self {
            NatType::Symmetric | NatType::SymmetricSequential | NatType::SymmetricPreserving => {
                Mapping::AddressAndPortDependent
            }
            _ => Mapping::EndpointIndependent,
        }
    }

    /// Filtering behaviour.
    pub fn filtering(self) -> Filtering {
        match self {
            NatType::FullCone => Filtering::EndpointIndependent,
            NatType::RestrictedCone => Filtering::AddressDependent,
            _ => Filtering::AddressAndPortDependent,
        }
    }

    /// Port allocation.
    pub fn port_alloc(self) -> PortAlloc {
        match self {
            NatType::PortShiftCone => PortAlloc::Xor(PORT_SHIFT_XOR),
            NatType::Symmetric => PortAlloc::Random,
            NatType::SymmetricSequential => PortAlloc::Sequential,
            NatType::SymmetricPreserving => PortAlloc::PreserveThenRandom,
            _ => PortAlloc::Preserve,
        }
    }
}

impl fmt::Display for NatType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a router sits and what it must do besides NAT.
#[derive(Clone, Debug)]
pub struct RouterRules {
    /// The NAT behaviour.
    pub nat: NatType,
    /// The router's public (WAN) address.
    pub wan_addr: Ipv4Addr,
    /// The LAN prefix, e.g. `10.1.0.0/24` (hairpin traffic is recognised by it: the input
    /// interface is not known in the postrouting hook).
    pub lan_cidr: String,
    /// Drop new inbound flows from the WAN addressed to the router itself, as home routers do.
    /// Off reproduces the "router race" (see NAT-LAB-NOTES).
    pub wan_firewall: bool,
    /// NAT loopback: inside hosts reach each other through the public address.
    pub hairpin: bool,
}

// IPv6 is not translated: a router that gives its LAN IPv6 forwards it, and the `lab_fw` table
// is its stateful firewall, as home routers and carriers have: from the WAN only what belongs
// to a flow an inside host opened (established, or related such as its ICMPv6 errors) gets in,
// everything else is dropped. The same simultaneous greetings that open two NATs open two such
// firewalls.

/// Interface names inside a router namespace.
pub const WAN_IF: &str = "wan";
/// The LAN bridge of a router.
pub const LAN_IF: &str = "lan";

impl RouterRules {
    /// The nftables ruleset for this router (tables `lab_nat` and `lab_fw`).
    ///
    /// Endpoint-independent filtering cannot be had from the kernel directly, so (as real cone NATs
    /// do) the router learns, after source NAT, `public port -> inside ip:port` in a dynamic map
    /// (`ct reply proto-dst` is the translated port) and, for restricted cone, which remote address
    /// was contacted from which public port; inbound new flows are then `dnat`ed through that map.
    ///
    /// Sequential allocation is one `numgen inc` counter per router (the nat chain sees only a
    /// flow's first packet); port preservation for the first flow only is a dynamic set of inside
    /// ip:port pairs that already have a mapping.
    pub fn ruleset(&self) -> String {
        let w = self.wan_addr;
        let snat = |m: &str| -> String {
            match self.nat.port_alloc() {
                PortAlloc::Preserve => format!("{m} snat ip to {w}"),
                PortAlloc::Xor(x) => format!("{m} snat ip to {w} : udp sport ^ {x:#06x}"),
                PortAlloc::Random => format!("{m} snat ip to {w} fully-random"),
                // `numgen` yields a host-order number and snat reads the port in network order:
                // a map from counter to port does the conversion.
                PortAlloc::Sequential => format!(
                    "{m} snat ip to {w} : numgen inc mod {SEQUENTIAL_SPAN} map {{ {} }}",
                    sequential_ports()
                ),
                PortAlloc::PreserveThenRandom => format!(
                    "{m} ip saddr . udp sport @mapped snat ip to {w} fully-random\n    \
                     {m} add @mapped {{ ip saddr . udp sport }} snat ip to {w}"
                ),
            }
        };
        let inbound = match self.nat.filtering() {
            Filtering::EndpointIndependent => {
                format!("iifname \"{WAN_IF}\" ip daddr {w} dnat ip to udp dport map @fc")
            }
            Filtering::AddressDependent => format!(
                "iifname \"{WAN_IF}\" ip daddr {w} ip saddr . udp dport @seen dnat ip to udp dport map @fc"
            ),
            Filtering::AddressAndPortDependent => String::new(),
        };
        let hairpin_pre = if self.hairpin {
            format!("iifname \"{LAN_IF}\" ip daddr {w} dnat ip to udp dport map @fc")
        } else {
            String::new()
        };
        let hairpin_post = if self.hairpin {
            snat(&format!("ip saddr {} oifname \"{LAN_IF}\" meta l4proto udp", self.lan_cidr))
        } else {
            String::new()
        };
        let wan_snat = snat(&format!("oifname \"{WAN_IF}\" meta l4proto udp"));
        let fw_input =
            if self.wan_firewall { format!("iifname \"{WAN_IF}\" ct state new drop") } else { String::new() };
        format!(
            r#"table ip lab_nat {{
  map fc {{ type inet_service : ipv4_addr . inet_service; flags dynamic, timeout; timeout 180s; }}
  set seen {{ type ipv4_addr . inet_service; flags dynamic, timeout; timeout 180s; }}
  set mapped {{ type ipv4_addr . inet_service; flags dynamic, timeout; timeout 180s; }}
  chain pre {{
    type nat hook prerouting priority dstnat; policy accept;
    {inbound}
    {hairpin_pre}
  }}
  chain post {{
    type nat hook postrouting priority srcnat; policy accept;
    {hairpin_post}
    {wan_snat}
    oifname "{WAN_IF}" masquerade
  }}
  chain learn {{
    type filter hook postrouting priority srcnat + 10; policy accept;
    oifname "{WAN_IF}" meta l4proto udp ct direction original update @fc {{ ct reply proto-dst : ct original ip saddr . ct original proto-src }}
    oifname "{WAN_IF}" meta l4proto udp ct direction original update @seen {{ ip daddr . ct reply proto-dst }}
  }}
}}
table inet lab_fw {{
  chain input {{
    type filter hook input priority filter; policy accept;
    {fw_input}
  }}
  chain forward {{
    type filter hook forward priority filter; policy accept;
    iifname "{WAN_IF}" meta nfproto ipv6 ct state established,related accept
    iifname "{WAN_IF}" meta nfproto ipv6 drop
    iifname "{WAN_IF}" ct state new ct status dnat accept
    iifname "{WAN_IF}" ct state new drop
  }}
}}
"#
        )
    }

    /// Commands that forget every mapping (conntrack entries and the learned maps), so the next
    /// attempt starts from a router that has seen nothing.
    pub const FLUSH_SETS: &'static str =
        "flush map ip lab_nat fc\nflush set ip lab_nat seen\nflush set ip lab_nat mapped\n";
}
