//! The lab topology: an "internet" router namespace, a server namespace on public documentation
//! addresses, NAT routers (each a namespace with a WAN veth and a LAN bridge), clients behind them.
//!
//! ```text
//!  server 198.51.100.10/.11, 192.0.2.10, 2001:db8::10
//!     |
//!  internet ── r1 wan 203.0.113.6/30 ── [lan 10.1.0.1/24] ── client 10.1.0.2
//!           ── r2 wan 203.0.113.10/30 ─ [lan 100.64.2.1/24] ── r3 wan 100.64.2.2 ── [lan 10.3.0.1/24] ── client
//! ```
//! IPv6 (documentation prefix `2001:db8::/32`, no NAT): the server segment is 2001:db8::/64;
//! a router k on the internet has its WAN in 2001:db8:ffff:k::/64 and is routed 2001:db8:k::/48,
//! its LAN is 2001:db8:k::/64; a router j behind it gets 2001:db8:k:j::/64. A router gives its
//! LAN IPv6 only if its [`Family`] says so, and forwards it through its stateful firewall
//! (see [`crate::nat::RouterRules`]). The internet and the server always have both families.
//!
//! Everything is created inside namespaces the lab owns; nothing is added to the host's namespace.

use crate::family::Family;
use crate::impair::LinkCondition;
use crate::nat::{NatType, RouterRules, LAN_IF, WAN_IF};
use crate::netns::{self, Netns};
use crate::probe::PingStats;
use crate::sh::{LabError, Proc, Result};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Rendezvous server address (the product's `serve` binds here).
pub const SERVER_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
/// Second server address (mapping probe: same public port towards both?).
pub const SERVER_ADDR2: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 11);
/// Third server address, in another documentation range (filtering probe: a never-contacted host).
pub const SERVER_ADDR3: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// The server's IPv6 address.
pub const SERVER_ADDR6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10);
/// The internet router's address on the server segment (the server's IPv6 gateway).
const INET_ADDR6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

/// Port of the rendezvous server (the product's `serve`) on [`SERVER_ADDR`].
pub const RENDEZVOUS_PORT: u16 = 7000;
/// Port of the lab's echo/classifier service on every server address.
pub const ECHO_PORT: u16 = 3478;
/// A second echo port on [`SERVER_ADDR`] (filtering probe: same host, other port).
pub const ECHO_PORT2: u16 = 3479;

/// The client's interface (towards its router).
pub const CLIENT_IF: &str = "eth0";

/// Index of a router in a [`Lab`].
pub type RouterId = usize;
/// Index of a client in a [`Lab`].
pub type ClientId = usize;

/// What to build for one router.
#[derive(Clone, Debug)]
pub struct RouterSpec {
    /// NAT behaviour.
    pub nat: NatType,
    /// `None`: on the internet. `Some(r)`: behind router `r` (double NAT).
    pub upstream: Option<RouterId>,
    /// A carrier NAT: its LAN is 100.64.k.0/24 (shared address space) instead of 10.k.0.0/24.
    pub carrier: bool,
    /// Drop new inbound WAN flows to the router itself (on by default; off = router race).
    pub wan_firewall: bool,
    /// NAT loopback for peers behind the same router.
    pub hairpin: bool,
    /// What the router gives its LAN: IPv4 behind its NAT, IPv6 behind its firewall, or both.
    pub family: Family,
}

impl RouterSpec {
    /// A home router of type `nat` on the internet, firewall on, hairpin on.
    pub fn home(nat: NatType) -> RouterSpec {
        RouterSpec {
            nat,
            upstream: None,
            carrier: false,
            wan_firewall: true,
            hairpin: true,
            family: Family::V4,
        }
    }
}

/// A NAT router in the lab.
pub struct Router {
    /// Its namespace.
    pub ns: Netns,
    /// Its behaviour.
    pub spec: RouterSpec,
    /// Public (WAN) address.
    pub wan_addr: Ipv4Addr,
    /// The LAN's IPv6 /64 (its first four groups), if the router gives IPv6.
    pub lan6: Option<[u16; 4]>,
    lan_base: [u8; 3],
    next_host: u8,
    lan_loss: bool,
}

impl Router {
    fn rules(spec: &RouterSpec, wan_addr: Ipv4Addr, lan_base: [u8; 3]) -> RouterRules {
        let [a, b, c] = lan_base;
        RouterRules {
            nat: spec.nat,
            wan_addr,
            lan_cidr: format!("{a}.{b}.{c}.0/24"),
            wan_firewall: spec.wan_firewall,
            hairpin: spec.hairpin,
        }
    }

    fn lan_gw(&self) -> Ipv4Addr {
        let [a, b, c] = self.lan_base;
        Ipv4Addr::new(a, b, c, 1)
    }
    fn next_lan_addr(&mut self) -> Result<Ipv4Addr> {
        let [a, b, c] = self.lan_base;
        if self.next_host >= 250 {
            return Err(LabError::Check("LAN full".into()));
        }
        self.next_host += 1;
        Ok(Ipv4Addr::new(a, b, c, self.next_host))
    }

    /// Host `h` of the LAN's IPv6 /64 (1 is the router), if the router gives IPv6.
    fn lan6_addr(&self, h: u8) -> Option<Ipv6Addr> {
        let [a, b, c, d] = self.lan6?;
        Some(Ipv6Addr::new(a, b, c, d, 0, 0, 0, h.into()))
    }
}

/// A client host behind a router.
pub struct Client {
    /// Its namespace.
    pub ns: Netns,
    /// Its LAN IPv4 address (`None`: an IPv6-only network).
    pub addr: Option<Ipv4Addr>,
    /// Its global IPv6 address (`None`: an IPv4-only network).
    pub addr6: Option<Ipv6Addr>,
    /// The router it sits behind.
    pub router: RouterId,
    delay: Option<Proc>,
}

/// One lab: dropped, it kills its processes by PID and deletes its namespaces.
pub struct Lab {
    // Field order is drop order: processes first, then namespaces (leaves before the core).
    procs: Vec<Proc>,
    /// Clients, by [`ClientId`].
    pub clients: Vec<Client>,
    /// Routers, by [`RouterId`].
    pub routers: Vec<Router>,
    /// The server namespace (all server addresses).
    pub server: Netns,
    inet: Netns,
    prefix: String,
    helper: PathBuf,
    workdir: PathBuf,
}

impl Lab {
    /// Sweeps namespaces left by dead runs, then builds the internet and server namespaces.
    /// `helper` is the `rhp-lab` binary (echo, ping, classify, delay line).
    pub fn new(helper: &Path) -> Result<Lab> {
        netns::sweep_stale()?;
        let prefix = netns::unique_prefix();
        let inet = namespace(&format!("{prefix}inet"))?;
        let server = namespace(&format!("{prefix}srv"))?;
        let workdir = std::env::temp_dir().join(prefix.trim_end_matches('-'));
        std::fs::create_dir_all(&workdir)?;
        let lab = Lab {
            procs: Vec::new(),
            clients: Vec::new(),
            routers: Vec::new(),
            server,
            inet,
            prefix,
            helper: helper.to_path_buf(),
            workdir,
        };
        lab.inet.sysctl("net.ipv4.ip_forward", "1")?;
        veth(&lab.inet, "srv", &lab.server, "eth0")?;
        lab.inet.ip(&["addr", "add", "198.51.100.1/24", "dev", "srv"])?;
        lab.inet.ip(&["addr", "add", "192.0.2.1/24", "dev", "srv"])?;
        for a in [SERVER_ADDR, SERVER_ADDR2] {
            lab.server.ip(&["addr", "add", &format!("{a}/24"), "dev", "eth0"])?;
        }
        lab.server.ip(&["addr", "add", &format!("{SERVER_ADDR3}/24"), "dev", "eth0"])?;
        lab.server.ip(&["route", "add", "default", "via", "198.51.100.1"])?;
        lab.inet.sysctl("net.ipv6.conf.all.forwarding", "1")?;
        lab.inet.ip(&["-6", "addr", "add", &format!("{INET_ADDR6}/64"), "dev", "srv"])?;
        lab.server.ip(&["-6", "addr", "add", &format!("{SERVER_ADDR6}/64"), "dev", "eth0"])?;
        lab.server.ip(&["-6", "route", "add", "default", "via", &INET_ADDR6.to_string()])?;
        Ok(lab)
    }

    /// The `rhp-lab` helper binary this lab runs inside its namespaces.
    pub fn helper(&self) -> &Path {
        &self.helper
    }

    /// A scratch directory for this lab (working directory of the processes it runs).
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// Adds a NAT router.
    pub fn add_router(&mut self, spec: RouterSpec) -> Result<RouterId> {
        let k = self.routers.len() + 1;
        if k > 60 {
            return Err(LabError::Check("too many routers".into()));
        }
        let kb = k as u8;
        let ns = namespace(&format!("{}r{k}", self.prefix))?;
        ns.sysctl("net.ipv4.ip_forward", "1")?;
        let wan_addr = match spec.upstream {
            None => {
                veth(&self.inet, &format!("r{k}"), &ns, WAN_IF)?;
                let base = 4 * kb;
                self.inet.ip(&[
                    "addr",
                    "add",
                    &format!("203.0.113.{}/30", base + 1),
                    "dev",
                    &format!("r{k}"),
                ])?;
                let wan = Ipv4Addr::new(203, 0, 113, base + 2);
                ns.ip(&["addr", "add", &format!("{wan}/30"), "dev", WAN_IF])?;
                ns.ip(&["route", "add", "default", "via", &format!("203.0.113.{}", base + 1)])?;
                wan
            }
            Some(u) => {
                let up = self.routers.get_mut(u).ok_or_else(|| LabError::Check(format!("no router {u}")))?;
                let wan = up.next_lan_addr()?;
                let port = format!("d{k}");
                veth(&up.ns, &port, &ns, WAN_IF)?;
                up.ns.ip(&["link", "set", &port, "master", LAN_IF])?;
                ns.ip(&["addr", "add", &format!("{wan}/24"), "dev", WAN_IF])?;
                ns.ip(&["route", "add", "default", "via", &up.lan_gw().to_string()])?;
                wan
            }
        };
        let lan_base = if spec.carrier { [100, 64, kb] } else { [10, kb, 0] };
        ns.ip(&["link", "add", LAN_IF, "type", "bridge"])?;
        ns.ip(&["link", "set", LAN_IF, "up"])?;
        let [a, b, c] = lan_base;
        ns.ip(&["addr", "add", &format!("{a}.{b}.{c}.1/24"), "dev", LAN_IF])?;
        let rules = Router::rules(&spec, wan_addr, lan_base);
        ns.nft(&rules.ruleset())?;
        let lan6 = if spec.family.has_v6() { Some(self.route_v6(&ns, &spec, k)?) } else { None };
        self.routers.push(Router { ns, spec, wan_addr, lan6, lan_base, next_host: 1, lan_loss: false });
        Ok(k - 1)
    }

    /// IPv6 for router `k` (already linked, its LAN bridge up): forwarding on, its WAN address
    /// and default route, the route to its LAN in the router above it, its LAN's /64 on the
    /// bridge. Returns the LAN's /64.
    fn route_v6(&mut self, ns: &Netns, spec: &RouterSpec, k: usize) -> Result<[u16; 4]> {
        let k16 = k as u16;
        ns.sysctl("net.ipv6.conf.all.forwarding", "1")?;
        let lan6 = match spec.upstream {
            None => {
                let link = [0x2001, 0xdb8, 0xffff, k16];
                let (gw, wan) = (v6(link, 1), v6(link, 2));
                self.inet.ip(&["-6", "addr", "add", &format!("{gw}/64"), "dev", &format!("r{k}")])?;
                ns.ip(&["-6", "addr", "add", &format!("{wan}/64"), "dev", WAN_IF])?;
                ns.ip(&["-6", "route", "add", "default", "via", &gw.to_string()])?;
                let routed = format!("2001:db8:{k16:x}::/48");
                self.inet.ip(&["-6", "route", "add", &routed, "via", &wan.to_string()])?;
                [0x2001, 0xdb8, k16, 0]
            }
            Some(u) => {
                let up = self.routers.get_mut(u).ok_or_else(|| LabError::Check(format!("no router {u}")))?;
                let up_lan =
                    up.lan6.ok_or_else(|| LabError::Check(format!("router {u} above has no IPv6")))?;
                // The WAN's host number is the one its IPv4 address got on the LAN above.
                let wan =
                    up.lan6_addr(up.next_host).ok_or_else(|| LabError::Check("no IPv6 above".into()))?;
                let gw = v6(up_lan, 1);
                ns.ip(&["-6", "addr", "add", &format!("{wan}/64"), "dev", WAN_IF])?;
                ns.ip(&["-6", "route", "add", "default", "via", &gw.to_string()])?;
                let lan6 = [up_lan[0], up_lan[1], up_lan[2], k16];
                let routed = format!("{}/64", v6(lan6, 0));
                up.ns.ip(&["-6", "route", "add", &routed, "via", &wan.to_string()])?;
                lan6
            }
        };
        ns.ip(&["-6", "addr", "add", &format!("{}/64", v6(lan6, 1)), "dev", LAN_IF])?;
        Ok(lan6)
    }

    /// Changes a router's NAT behaviour mid-run (as a carrier or a user reconfiguring it would):
    /// its NAT and firewall tables are replaced and its conntrack table flushed, so every flow
    /// through it gets a new mapping. Loss rules stay.
    pub fn set_nat(&mut self, router: RouterId, nat: NatType) -> Result<()> {
        let r = self.routers.get_mut(router).ok_or_else(|| LabError::Check(format!("no router {router}")))?;
        r.spec.nat = nat;
        let rules = Router::rules(&r.spec, r.wan_addr, r.lan_base);
        r.ns.nft(&format!("delete table ip lab_nat\ndelete table inet lab_fw\n{}", rules.ruleset()))?;
        // `conntrack -F` exits non-zero on an empty table on some versions: ignore its status.
        let _ = r.ns.exec("conntrack", &["-F"]);
        Ok(())
    }

    /// Adds a client host on the LAN of `router`.
    pub fn add_client(&mut self, router: RouterId) -> Result<ClientId> {
        let n = self.clients.len() + 1;
        let ns = namespace(&format!("{}c{n}", self.prefix))?;
        let r = self.routers.get_mut(router).ok_or_else(|| LabError::Check(format!("no router {router}")))?;
        let addr = r.next_lan_addr()?;
        let port = format!("c{n}");
        veth(&r.ns, &port, &ns, CLIENT_IF)?;
        r.ns.ip(&["link", "set", &port, "master", LAN_IF])?;
        let family = r.spec.family;
        if family.has_v4() {
            ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", CLIENT_IF])?;
            ns.ip(&["route", "add", "default", "via", &r.lan_gw().to_string()])?;
        }
        let addr6 = r.lan6_addr(r.next_host);
        if let (Some(a6), Some(gw6)) = (addr6, r.lan6_addr(1)) {
            ns.ip(&["-6", "addr", "add", &format!("{a6}/64"), "dev", CLIENT_IF])?;
            ns.ip(&["-6", "route", "add", "default", "via", &gw6.to_string()])?;
        }
        self.clients.push(Client { ns, addr: family.has_v4().then_some(addr), addr6, router, delay: None });
        Ok(n - 1)
    }

    /// Impairs a client's link (both directions) so that the router sees packets just as a slow,
    /// lossy access link would deliver them.
    /// - Delay: an NFQUEUE delay line in the client's namespace (this kernel has no netem), egress
    ///   queued in OUTPUT, ingress in raw PREROUTING, IPv6 too (ip6tables) if the client has it.
    ///   IPv6 neighbour discovery is neither delayed nor dropped (ARP never is: it is not IP). Queueing inside a NAT router instead would
    ///   hold packets between conntrack creation and NAT, and two queued packets of one new flow
    ///   would get two different public ports: an artifact no real router has.
    /// - Loss: nft `numgen` drop rules ahead of conntrack where the packet arrives: in the router
    ///   for the client's egress (the LAN side, every client on it), in the client for its
    ///   ingress. (A drop in the client's own output path would fail `send` with EPERM.)
    pub fn impair(&mut self, client: ClientId, cond: LinkCondition) -> Result<()> {
        let helper = self.helper.to_string_lossy().into_owned();
        let c = self.clients.get_mut(client).ok_or_else(|| LabError::Check(format!("no client {client}")))?;
        if cond.loss_permille > 0 {
            c.ns.nft(&cond.loss_ruleset(CLIENT_IF))?;
            let r = self.routers.get_mut(c.router).ok_or_else(|| LabError::Check("no router".into()))?;
            if !r.lan_loss {
                r.ns.nft(&cond.loss_ruleset(LAN_IF))?;
                r.lan_loss = true;
            }
        }
        if cond.delay_ms > 0 && c.delay.is_none() {
            let args = crate::impair::delay_line_args(0, cond.delay_ms);
            let mut p = c.ns.spawn("delay", &helper, &args)?;
            p.wait_for_line("ready", Duration::from_secs(5))?;
            // One queue for both families (the kernel binds a queue number, not a family).
            // IPv6 neighbour discovery passes at once, as ARP does for IPv4.
            let tools: &[&str] = if c.addr6.is_some() { &["iptables", "ip6tables"] } else { &["iptables"] };
            for tool in tools {
                for (table, chain, dir) in [("mangle", "OUTPUT", "-o"), ("raw", "PREROUTING", "-i")] {
                    if *tool == "ip6tables" {
                        for t in crate::impair::ND_TYPES_IP6TABLES {
                            c.ns.exec(
                                tool,
                                &[
                                    "-t",
                                    table,
                                    "-A",
                                    chain,
                                    dir,
                                    CLIENT_IF,
                                    "-p",
                                    "ipv6-icmp",
                                    "--icmpv6-type",
                                    t,
                                    "-j",
                                    "RETURN",
                                ],
                            )?;
                        }
                    }
                    c.ns.exec(
                        tool,
                        &["-t", table, "-A", chain, dir, CLIENT_IF, "-j", "NFQUEUE", "--queue-num", "0"],
                    )?;
                }
            }
            c.delay = Some(p);
        }
        Ok(())
    }

    /// Forgets all NAT state on every router: conntrack entries and learned maps.
    pub fn reset_nat_state(&self) -> Result<()> {
        for r in &self.routers {
            // `conntrack -F` exits non-zero on an empty table on some versions: ignore its status.
            let _ = r.ns.exec("conntrack", &["-F"]);
            r.ns.nft(RouterRules::FLUSH_SETS)?;
        }
        Ok(())
    }

    /// Starts the lab's echo/classifier service on every server address; kept until the lab drops.
    pub fn start_echo(&mut self) -> Result<()> {
        let binds = [
            SocketAddrV4::new(SERVER_ADDR, ECHO_PORT),
            SocketAddrV4::new(SERVER_ADDR, ECHO_PORT2),
            SocketAddrV4::new(SERVER_ADDR2, ECHO_PORT),
            SocketAddrV4::new(SERVER_ADDR3, ECHO_PORT),
        ]
        .map(SocketAddr::V4);
        let binds = binds.into_iter().chain([SocketAddr::new(SERVER_ADDR6.into(), ECHO_PORT)]);
        let mut args = vec!["echo".to_string(), "--max-s".into(), "900".into()];
        for b in binds {
            args.push("--bind".into());
            args.push(b.to_string());
        }
        let helper = self.helper.to_string_lossy().into_owned();
        let mut p = self.server.spawn("echo", &helper, &args)?;
        p.wait_for_line("ready", Duration::from_secs(5))?;
        self.procs.push(p);
        Ok(())
    }

    /// Runs the helper in a client's namespace and returns its stdout (bounded by `timeout`).
    pub fn run_helper(&self, client: ClientId, args: &[String], timeout: Duration) -> Result<String> {
        let c = self.client(client)?;
        let helper = self.helper.to_string_lossy().into_owned();
        let p = c.ns.spawn("helper", &helper, args)?;
        let f = p.finish(timeout);
        if f.code != Some(0) {
            return Err(LabError::Check(format!(
                "helper {args:?} in {}: exit {:?}: {}",
                c.ns.name(),
                f.code,
                f.stderr.join(" | ")
            )));
        }
        Ok(f.stdout.join("\n"))
    }

    /// Round trip probe from `client` to the echo service: `count` datagrams, `interval_ms` apart.
    pub fn ping(&self, client: ClientId, count: u32, interval_ms: u64) -> Result<PingStats> {
        self.ping_to(client, SocketAddrV4::new(SERVER_ADDR, ECHO_PORT).into(), count, interval_ms)
    }

    /// Like [`Lab::ping`] to any echo address (e.g. the server's IPv6 one).
    pub fn ping_to(
        &self,
        client: ClientId,
        echo: SocketAddr,
        count: u32,
        interval_ms: u64,
    ) -> Result<PingStats> {
        let args: Vec<String> = vec![
            "ping".into(),
            "--server".into(),
            echo.to_string(),
            "--count".into(),
            count.to_string(),
            "--interval-ms".into(),
            interval_ms.to_string(),
        ];
        let budget = Duration::from_millis(count as u64 * interval_ms + 5_000);
        let out = self.run_helper(client, &args, budget)?;
        PingStats::parse(&out).ok_or_else(|| LabError::Check(format!("unparsable ping output: {out}")))
    }

    /// A client by id.
    pub fn client(&self, id: ClientId) -> Result<&Client> {
        self.clients.get(id).ok_or_else(|| LabError::Check(format!("no client {id}")))
    }

    /// Stderr of every server process started with [`Lab::spawn_in_server`] (`server…`).
    pub fn server_log(&self) -> Vec<String> {
        self.procs.iter().filter(|p| p.label().starts_with("server")).flat_map(Proc::stderr_lines).collect()
    }

    /// The process started in the server namespace as `label` (see [`Lab::spawn_in_server`]).
    pub fn server_proc(&mut self, label: &str) -> Result<&mut Proc> {
        let prefix = format!("{label}@");
        self.procs
            .iter_mut()
            .find(|p| p.label().starts_with(&prefix))
            .ok_or_else(|| LabError::Check(format!("no process {label} in the server namespace")))
    }

    /// Spawns a long-running process in the server namespace, owned by the lab.
    pub fn spawn_in_server(&mut self, label: &str, program: &str, args: &[String]) -> Result<&mut Proc> {
        let p = self.server.spawn(label, program, args)?;
        self.procs.push(p);
        let last = self.procs.len() - 1;
        Ok(&mut self.procs[last])
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.procs.clear();
        for c in &mut self.clients {
            c.delay = None;
        }
        let _ = std::fs::remove_dir_all(&self.workdir);
    }
}

/// A namespace of the lab. Without duplicate address detection on its interfaces (no
/// address of the lab is ever duplicated): an IPv6 address, link-local ones included, is usable
/// at once, instead of staying tentative for seconds (unbindable, and neighbour discovery
/// waiting on it).
fn namespace(name: &str) -> Result<Netns> {
    let ns = Netns::create(name)?;
    ns.sysctl("net.ipv6.conf.all.accept_dad", "0")?;
    ns.sysctl("net.ipv6.conf.default.accept_dad", "0")?;
    Ok(ns)
}

/// Host `h` of an IPv6 /64 given by its first four groups.
fn v6(net: [u16; 4], h: u16) -> Ipv6Addr {
    let [a, b, c, d] = net;
    Ipv6Addr::new(a, b, c, d, 0, 0, 0, h)
}

/// A veth pair created directly inside two namespaces (nothing appears in the host namespace).
fn veth(a: &Netns, a_name: &str, b: &Netns, b_name: &str) -> Result<()> {
    a.ip(&["link", "add", a_name, "type", "veth", "peer", "name", b_name, "netns", b.name()])?;
    a.ip(&["link", "set", a_name, "up"])?;
    b.ip(&["link", "set", b_name, "up"])?;
    Ok(())
}
