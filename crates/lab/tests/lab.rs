//! NAT lab tests. They need root, `ip netns`, nft, conntrack and iptables. In CI (`CI=true`) a lab
//! that cannot start fails; by hand without root each test skips with a one-line reason.

use rhp_lab::family::Family;
use rhp_lab::impair::LinkCondition;
use rhp_lab::matrix;
use rhp_lab::nat::{Filtering, Mapping, NatType, PortAlloc};
use rhp_lab::netns;
use rhp_lab::probe::{Classification, Heard};
use rhp_lab::product_bin::find_product_bin;
use rhp_lab::runner::{Product, RunConfig};
use rhp_lab::scenario::{self, Access, Cell};
use rhp_lab::topo::{Lab, RouterSpec, ECHO_PORT, RENDEZVOUS_PORT, SERVER_ADDR, SERVER_ADDR2, SERVER_ADDR6};
use std::net::{SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn helper() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rhp-lab"))
}

/// `true` if the lab can run here; otherwise skips (by hand) or panics (CI).
fn lab_ready(test: &str) -> bool {
    match netns::preflight() {
        Ok(()) => true,
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: the NAT lab cannot start in CI: {why}")
        }
        Err(why) => {
            skip(test, &why);
            false
        }
    }
}

/// One line on the real stderr (not captured by the test harness), so a skip is always seen.
fn skip(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{test}: skipped: {why}");
}

fn s1() -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(SERVER_ADDR, ECHO_PORT))
}

fn classify_behind(access: Access) -> Classification {
    let mut lab = Lab::new(&helper()).expect("lab");
    lab.start_echo().expect("echo");
    let r = match access {
        Access::Nat(t) => lab.add_router(RouterSpec::home(t)).expect("router"),
        Access::DoubleNat => {
            let cg = lab
                .add_router(RouterSpec { carrier: true, ..RouterSpec::home(NatType::PortRestrictedCone) })
                .expect("carrier");
            lab.add_router(RouterSpec { upstream: Some(cg), ..RouterSpec::home(NatType::PortRestrictedCone) })
                .expect("home")
        }
    };
    let c = lab.add_client(r).expect("client");
    let s2 = SocketAddrV4::new(SERVER_ADDR2, ECHO_PORT).to_string();
    let args: Vec<String> = ["classify", "--s1", &s1().to_string(), "--s2", &s2].map(String::from).to_vec();
    let out = lab.run_helper(c, &args, Duration::from_secs(15)).expect("classify");
    Classification::parse(&out).expect("classify output")
}

/// Every NAT type is built as named: the classifier probe sees its mapping, port allocation and
/// filtering.
#[test]
fn nat_types_behave_as_named() {
    if !lab_ready("nat_types_behave_as_named") {
        return;
    }
    for access in Access::ALL {
        let c = classify_behind(access);
        eprintln!("{:<16} {}", access.name(), c.render());
        let eim = c.endpoint_independent_mapping();
        assert_eq!(eim, access.mapping() == Mapping::EndpointIndependent, "{access:?} mapping: {c:?}");
        assert_eq!(c.filtering(s1()), access.filtering(), "{access:?} filtering: {c:?}");
        let public_port = c.mapped1.port();
        match access {
            Access::Nat(t) => match t.port_alloc() {
                PortAlloc::Preserve => assert_eq!(public_port, c.local_port, "{t}: port kept"),
                PortAlloc::Xor(x) => {
                    assert_eq!(public_port, c.local_port ^ x, "{t}: port shifted");
                    assert_ne!(public_port, c.local_port);
                }
                PortAlloc::Random => assert_ne!(c.mapped1.port(), c.mapped2.port(), "{t}: new port per dest"),
                PortAlloc::Sequential => {
                    assert_eq!(c.mapped2.port(), c.mapped1.port().wrapping_add(1), "{t}: next port per dest")
                }
                PortAlloc::PreserveThenRandom => {
                    assert_eq!(public_port, c.local_port, "{t}: first destination keeps the port");
                    assert_ne!(c.mapped2.port(), c.mapped1.port(), "{t}: new port for the next");
                }
            },
            Access::DoubleNat => {
                assert_eq!(public_port, c.local_port, "double NAT keeps the port through both");
                assert!(c.mapped1.ip().to_string().starts_with("203.0.113."), "outer public address");
            }
        }
    }
    // The filtering the data promises is also what each type's name says.
    assert_eq!(Access::Nat(NatType::FullCone).filtering(), Filtering::EndpointIndependent);
}

/// The impairment is really in effect (measured), and a clean link is really clean.
#[test]
fn impairments_are_measured_in_effect() {
    if !lab_ready("impairments_are_measured_in_effect") {
        return;
    }
    let mut lab = Lab::new(&helper()).expect("lab");
    lab.start_echo().expect("echo");
    let clean_r = lab.add_router(RouterSpec::home(NatType::PortRestrictedCone)).expect("router");
    let bad_r = lab.add_router(RouterSpec::home(NatType::PortRestrictedCone)).expect("router");
    let clean = lab.add_client(clean_r).expect("client");
    let bad = lab.add_client(bad_r).expect("client");
    lab.impair(bad, LinkCondition::LOSSY).expect("impair");
    let (c, b) = std::thread::scope(|s| {
        let c = s.spawn(|| lab.ping(clean, 300, 5));
        let b = s.spawn(|| lab.ping(bad, 300, 5));
        (c.join().expect("join").expect("ping"), b.join().expect("join").expect("ping"))
    });
    eprintln!("clean: median {:.2} ms loss {:.1}%", c.median_rtt_ms(), c.loss() * 100.0);
    eprintln!("lossy: median {:.2} ms loss {:.1}%", b.median_rtt_ms(), b.loss() * 100.0);
    LinkCondition::CLEAN.check(&c).expect("clean link is clean");
    LinkCondition::LOSSY.check(&b).expect("10% loss + 50 ms is in effect");
    // The clean link does not carry the other's impairment, and the check tells them apart.
    assert!(LinkCondition::LOSSY.check(&c).is_err());
}

/// A dual-stack client's impairment is in effect in both families (the delay line also queues
/// IPv6; the loss table is `inet`), measured from its first datagram on, as the matrix's check is
/// (IPv6 neighbour discovery, spared, resolves at once).
#[test]
fn impairments_are_measured_in_effect_over_ipv6_too() {
    if !lab_ready("impairments_are_measured_in_effect_over_ipv6_too") {
        return;
    }
    let mut lab = Lab::new(&helper()).expect("lab");
    lab.start_echo().expect("echo");
    let dual = RouterSpec { family: Family::Dual, ..RouterSpec::home(NatType::Symmetric) };
    let r = lab.add_router(dual).expect("router");
    let c = lab.add_client(r).expect("client");
    lab.impair(c, LinkCondition::LOSSY).expect("impair");
    let echo6 = SocketAddr::new(SERVER_ADDR6.into(), ECHO_PORT);
    let (p6, p4) = std::thread::scope(|s| {
        let p6 = s.spawn(|| lab.ping_to(c, echo6, 300, 5));
        let p4 = s.spawn(|| lab.ping(c, 300, 5));
        (p6.join().expect("join").expect("ping"), p4.join().expect("join").expect("ping"))
    });
    eprintln!("ipv6: median {:.2} ms loss {:.1}%", p6.median_rtt_ms(), p6.loss() * 100.0);
    eprintln!("ipv4: median {:.2} ms loss {:.1}%", p4.median_rtt_ms(), p4.loss() * 100.0);
    LinkCondition::LOSSY.check(&p6).expect("10% loss + 50 ms in effect over IPv6");
    LinkCondition::LOSSY.check(&p4).expect("10% loss + 50 ms in effect over IPv4");
}

/// Dropping a lab removes its namespaces and kills its processes, also on panic.
#[test]
fn lab_cleans_up_even_on_panic() {
    if !lab_ready("lab_cleans_up_even_on_panic") {
        return;
    }
    let names = std::sync::Mutex::new(Vec::new());
    let pid: std::sync::Mutex<Option<i32>> = std::sync::Mutex::new(None);
    let r = std::panic::catch_unwind(|| {
        let mut lab = Lab::new(&helper()).expect("lab");
        lab.start_echo().expect("echo");
        let r = lab.add_router(RouterSpec::home(NatType::Symmetric)).expect("router");
        let c = lab.add_client(r).expect("client");
        lab.impair(c, LinkCondition::LOSSY).expect("impair");
        names.lock().expect("lock").extend([
            lab.server.name().to_string(),
            lab.routers[0].ns.name().to_string(),
            lab.clients[0].ns.name().to_string(),
        ]);
        let p = std::process::Command::new("ip")
            .args(["netns", "pids", lab.clients[0].ns.name()])
            .output()
            .expect("ip netns pids");
        let first = String::from_utf8_lossy(&p.stdout).split_whitespace().next().and_then(|x| x.parse().ok());
        *pid.lock().expect("lock") = first;
        panic!("deliberate panic inside a lab");
    });
    assert!(r.is_err());
    let list = std::process::Command::new("ip").args(["netns", "list"]).output().expect("ip netns list");
    let list = String::from_utf8_lossy(&list.stdout);
    for n in names.lock().expect("lock").iter() {
        assert!(!list.contains(n.as_str()), "{n} left behind");
    }
    let pid: i32 = pid.lock().expect("lock").expect("delay line pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    assert!(status.is_empty() || status.contains("State:\tZ"), "delay line {pid} still running");
}

/// A namespace left by a dead run (its PID in the name is gone) is swept when a lab starts;
/// one owned by a live process is not.
#[test]
fn stale_namespaces_are_swept() {
    if !lab_ready("stale_namespaces_are_swept") {
        return;
    }
    let mut child = std::process::Command::new("true").spawn().expect("spawn true");
    let dead = child.id();
    child.wait().expect("wait");
    let stale = format!("{}{dead}-1-leftover", netns::PREFIX);
    let live = format!("{}{}-999999-mine", netns::PREFIX, std::process::id());
    for n in [&stale, &live] {
        assert!(std::process::Command::new("ip").args(["netns", "add", n]).status().expect("ip").success());
    }
    let swept = netns::sweep_stale().expect("sweep");
    let list = std::process::Command::new("ip").args(["netns", "list"]).output().expect("ip netns list");
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    let _ = std::process::Command::new("ip").args(["netns", "del", &live]).status();
    assert!(swept >= 1);
    assert!(!list.contains(&stale), "stale namespace left");
    assert!(list.contains(&live), "a live process's namespace was swept");
}

/// IPv6 through routers that give their LANs both families (one client behind a home router,
/// the other behind a home router behind a carrier's): a client's own flow to the server is
/// answered; a datagram the server sends unasked to a client is dropped by the client's router
/// (its stateful firewall); the two clients greeting each other at the same time hear each other
/// both ways, as with NATs. IPv4 keeps working.
#[test]
fn ipv6_firewalls_drop_the_unsolicited_and_pass_simultaneous_greetings() {
    if !lab_ready("ipv6_firewalls_drop_the_unsolicited_and_pass_simultaneous_greetings") {
        return;
    }
    let mut lab = Lab::new(&helper()).expect("lab");
    lab.start_echo().expect("echo");
    let dual = RouterSpec { family: Family::Dual, ..RouterSpec::home(NatType::Symmetric) };
    let ra = lab.add_router(dual.clone()).expect("router");
    // b sits behind a home router behind a carrier's: two firewalls on its side.
    let carrier = lab.add_router(RouterSpec { carrier: true, ..dual.clone() }).expect("carrier");
    let rb = lab.add_router(RouterSpec { upstream: Some(carrier), ..dual }).expect("router");
    let (a, b) = (lab.add_client(ra).expect("client"), lab.add_client(rb).expect("client"));
    let a6 = lab.client(a).expect("a").addr6.expect("a has IPv6");
    let b6 = lab.client(b).expect("b").addr6.expect("b has IPv6");
    let echo6 = SocketAddr::new(SERVER_ADDR6.into(), ECHO_PORT);
    // The path both ways: each client's own flow is answered, over IPv6 and over IPv4.
    for c in [a, b] {
        let p6 = lab.ping_to(c, echo6, 20, 10).expect("ping over IPv6");
        let p4 = lab.ping(c, 20, 10).expect("ping over IPv4");
        assert!(p6.received >= 18 && p4.received >= 18, "client {c}: {p6:?} {p4:?}");
    }
    let greet = |port: u16, peers: &[SocketAddr], count: u32, linger_ms: u32| -> Vec<String> {
        let mut v: Vec<String> = vec!["greet".into(), "--bind".into(), format!("[::]:{port}")];
        for p in peers {
            v.extend(["--peer".into(), p.to_string()]);
        }
        v.extend(["--count".into(), count.to_string(), "--interval-ms".into(), "50".into()]);
        v.extend(["--linger-ms".into(), linger_ms.to_string()]);
        v
    };
    let helper = helper().to_string_lossy().into_owned();
    let heard = |p: rhp_lab::sh::Proc| {
        let f = p.finish(Duration::from_secs(10));
        assert_eq!(f.code, Some(0), "{:?}", f.stderr);
        Heard::parse(&f.stdout.join("\n")).expect("heard line")
    };
    // Unsolicited: the server greets a's port 4000 ten times; a listens and never sends.
    let a_sock = SocketAddr::new(a6.into(), 4000);
    let mut listener =
        lab.client(a).expect("a").ns.spawn("listen", &helper, &greet(4000, &[], 0, 1500)).expect("a");
    listener.wait_for_line("ready", Duration::from_secs(5)).expect("a listens");
    let sender = lab.server.spawn("unasked", &helper, &greet(5000, &[a_sock], 10, 0)).expect("server");
    let sent = heard(sender);
    let got = heard(listener);
    assert_eq!(
        got,
        Heard::default(),
        "nothing unasked gets through a's firewall (the server heard {sent:?})"
    );
    // Simultaneous: a and b greet each other 20 times, starting together.
    let b_sock = SocketAddr::new(b6.into(), 4001);
    let a_sock = SocketAddr::new(a6.into(), 4001);
    let pa =
        lab.client(a).expect("a").ns.spawn("greet-a", &helper, &greet(4001, &[b_sock], 20, 500)).expect("a");
    let pb =
        lab.client(b).expect("b").ns.spawn("greet-b", &helper, &greet(4001, &[a_sock], 20, 500)).expect("b");
    let (ha, hb) = (heard(pa), heard(pb));
    eprintln!("a heard {ha:?}; b heard {hb:?}");
    assert!(ha.from(b_sock) > 0, "a hears b through both firewalls: {ha:?}");
    assert!(hb.from(a_sock) > 0, "b hears a through both firewalls: {hb:?}");
}

fn run_matrix(product: Product, attempts: usize, cells: &[Cell], out: &str) -> bool {
    let cfg = RunConfig {
        helper: helper(),
        product,
        attempts,
        fail_attempts: 3,
        // Labs mostly wait on timers and delay lines: 6 at once fit 2 cores.
        jobs: 6,
        attempt_timeout: Duration::from_secs(35),
        check_pings: 100,
    };
    // The report also goes to cargo's scratch directory for integration tests.
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(out);
    matrix::run_and_report(&cfg, cells, Some(&target)).expect("matrix")
}

/// The real `serve`/`host`/`join` across every NAT pair, clean and 10% loss + 50 ms, 20 attempts
/// per cell expected to connect (3 per cell expected to fail): every cell must match the theory
/// for the current client, method included (plain, predicted, birthday), with at least 19 of 20.
/// The family rows (issue 18: IPv6 only, dual stack, IPv4 only against dual stack) run in the
/// same pool, 20 attempts each too: method and family of the final path asserted, IPv6 rows 20 of
/// 20 (the dual-stack pair with symmetric IPv4 NATs: plain over IPv6, never the relay). The
/// two-node rows (issue 19: host on node 1, joiner on node 2 of a cluster on a real Redis) are
/// asserted as their cells on one node: plain, birthday, relay.
#[test]
fn product_matrix_matches_theory() {
    if !lab_ready("product_matrix_matches_theory") {
        return;
    }
    let bin = match find_product_bin() {
        Ok(b) => b,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("{e}"),
        Err(e) => {
            skip("product_matrix_matches_theory", &e.to_string());
            return;
        }
    };
    let t0 = Instant::now();
    let mut cells = scenario::standard_cells(false);
    cells.extend(scenario::family_cells(false));
    cells.extend(scenario::node_cells(false));
    let ok = run_matrix(Product::new(bin, 10), 20, &cells, "lab-connectivity.md");
    eprintln!("product matrix: {:.0} s", t0.elapsed().as_secs_f64());
    assert!(ok, "a matrix cell differs from the theory (see the report above)");
}

/// The product's own classification (`rabid-hole-punch nat`, STUN to the real server's two
/// ports) behind every NAT type of the lab says what the type is: easy types independent,
/// the sequential NAT predictable with step +1, the random ones random.
#[test]
fn product_classifies_every_nat_type() {
    if !lab_ready("product_classifies_every_nat_type") {
        return;
    }
    let bin = match find_product_bin() {
        Ok(b) => b.to_string_lossy().into_owned(),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("{e}"),
        Err(e) => return skip("product_classifies_every_nat_type", &e.to_string()),
    };
    let mut lab = Lab::new(&helper()).expect("lab");
    let clients: Vec<_> = Access::ALL
        .iter()
        .map(|a| {
            let r = match a {
                Access::Nat(t) => lab.add_router(RouterSpec::home(*t)).expect("router"),
                Access::DoubleNat => {
                    let cg = lab
                        .add_router(RouterSpec {
                            carrier: true,
                            ..RouterSpec::home(NatType::PortRestrictedCone)
                        })
                        .expect("carrier");
                    lab.add_router(RouterSpec {
                        upstream: Some(cg),
                        ..RouterSpec::home(NatType::PortRestrictedCone)
                    })
                    .expect("home")
                }
            };
            (*a, lab.add_client(r).expect("client"))
        })
        .collect();
    let server = format!("{SERVER_ADDR}:{}", RENDEZVOUS_PORT);
    start_product_server(&mut lab, &bin);
    for (access, c) in clients {
        let ns = &lab.client(c).expect("client").ns;
        let p = ns
            .spawn("nat", &bin, &["nat".into(), "--verbose".into(), "--server".into(), server.clone()])
            .expect("spawn nat");
        let f = p.finish(Duration::from_secs(15));
        let line = f.stdout.iter().find(|l| l.starts_with("nat ")).cloned().unwrap_or_default();
        eprintln!("{:<16} {line}", access.name());
        let kv = rhp_lab::probe::fields(&line);
        let want = match access {
            Access::Nat(NatType::SymmetricSequential) => "predictable",
            Access::Nat(NatType::Symmetric | NatType::SymmetricPreserving) => "random",
            _ => "independent",
        };
        assert_eq!(f.code, Some(0), "{access:?}: {:?}", f.stderr);
        assert_eq!(kv.get("mapping").copied(), Some(want), "{access:?}: {line}");
        if want == "predictable" {
            assert_eq!(kv.get("step").copied(), Some("1"), "{access:?}: {line}");
        }
        if matches!(access, Access::Nat(NatType::PortShiftCone | NatType::Symmetric)) {
            assert_eq!(kv.get("preserves").copied(), Some("no"), "{access:?}: {line}");
        }
    }
}

/// Starts the real `serve` on the lab's server address and waits until it listens.
fn start_product_server(lab: &mut Lab, bin: &str) {
    let args: Vec<String> = ["serve", "--bind", &SERVER_ADDR.to_string(), "--port", "7000", "--no-log-file"]
        .map(String::from)
        .to_vec();
    lab.spawn_in_server("server", bin, &args)
        .expect("server")
        .wait_for_line("listening on udp://", Duration::from_secs(10))
        .expect("server up");
}

/// A lab with two clients behind their own routers of types `a` and `b` and the real server.
fn product_pair(
    a: NatType,
    b: NatType,
    cond: LinkCondition,
) -> Option<(Lab, String, [usize; 2], [usize; 2])> {
    let bin = match find_product_bin() {
        Ok(b) => b.to_string_lossy().into_owned(),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("{e}"),
        Err(e) => {
            skip("product pair", &e.to_string());
            return None;
        }
    };
    let mut lab = Lab::new(&helper()).expect("lab");
    let ra = lab.add_router(RouterSpec::home(a)).expect("router");
    let rb = lab.add_router(RouterSpec::home(b)).expect("router");
    let ca = lab.add_client(ra).expect("client");
    let cb = lab.add_client(rb).expect("client");
    if cond != LinkCondition::CLEAN {
        lab.impair(ca, cond).expect("impair");
        lab.impair(cb, cond).expect("impair");
    }
    start_product_server(&mut lab, &bin);
    Some((lab, bin, [ra, rb], [ca, cb]))
}

/// Host `alice` behind client `ca`, `bob` behind `cb`, both in script mode with `extra` flags.
fn spawn_pair(
    lab: &Lab,
    bin: &str,
    c: [usize; 2],
    session: &str,
    extra: &[&str],
) -> (rhp_lab::sh::Proc, rhp_lab::sh::Proc) {
    let server = format!("{SERVER_ADDR}:{}", RENDEZVOUS_PORT);
    let common = |name: &str| -> Vec<String> {
        let mut v: Vec<String> =
            ["--server", &server, "--send", &format!("hello-from-{name}"), "--expect", "1"]
                .map(String::from)
                .to_vec();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let mut host_args: Vec<String> = ["host", session, "alice", "--max", "2"].map(String::from).to_vec();
    host_args.extend(common("alice"));
    let mut join_args: Vec<String> = ["join", session, "bob"].map(String::from).to_vec();
    join_args.extend(common("bob"));
    let mut host = lab.client(c[0]).expect("client").ns.spawn("alice", bin, &host_args).expect("host");
    host.wait_for_line("in the session", Duration::from_secs(8)).expect("session created");
    let join = lab.client(c[1]).expect("client").ns.spawn("bob", bin, &join_args).expect("join");
    (host, join)
}

/// A relayed pair (symmetric × symmetric: no direct path) moves to a direct path once one NAT is
/// switched to full cone mid-session: the relay survives the new mapping (the token re-binds the
/// player's new address), each side learns the other's new public address through the relay,
/// and the background direct attempts connect.
#[test]
fn a_relayed_pair_upgrades_to_direct_when_a_nat_gets_easier() {
    if !lab_ready("a_relayed_pair_upgrades_to_direct_when_a_nat_gets_easier") {
        return;
    }
    let Some((mut lab, bin, r, c)) =
        product_pair(NatType::Symmetric, NatType::Symmetric, LinkCondition::CLEAN)
    else {
        return;
    };
    let (mut alice, mut bob) =
        spawn_pair(&lab, &bin, c, "upgrade1", &["--peer-timeout-s", "3", "--hold-s", "14"]);
    for p in [&mut alice, &mut bob] {
        let line = p.wait_for_line("connected peer=", Duration::from_secs(15)).expect("connected");
        assert!(line.contains("method=relay"), "{line}");
    }
    // The peer phase ends on the relay: no direct path through two symmetric NATs.
    bob.wait_for_line("alice: hello-from-alice", Duration::from_secs(10)).expect("relayed data");
    std::thread::sleep(Duration::from_secs(4));
    assert!(!bob.stdout_lines().iter().any(|l| l.starts_with("upgraded")), "{:?}", bob.stdout_lines());
    let t0 = Instant::now();
    lab.set_nat(r[0], NatType::FullCone).expect("switch alice's NAT");
    let up_a = alice.wait_for_line("upgraded peer=bob", Duration::from_secs(15)).expect("alice upgrades");
    let up_b = bob.wait_for_line("upgraded peer=alice", Duration::from_secs(15)).expect("bob upgrades");
    eprintln!("after the switch ({:.1} s): {up_a} | {up_b}", t0.elapsed().as_secs_f64());
    assert!(up_b.contains("addr=203.0.113."), "{up_b}");
    let fa = alice.finish(Duration::from_secs(30));
    let fb = bob.finish(Duration::from_secs(30));
    assert_eq!((fa.code, fb.code), (Some(0), Some(0)), "{:?} {:?}", fa.stderr, fb.stderr);
}

/// A relayed session (symmetric × symmetric) carries a game-like stream (30 datagrams/s of
/// 200 bytes each way) for 30 s, clean and at 10% loss + 50 ms; loss and one-way latency are
/// reported, and within what the link explains.
#[test]
fn a_relayed_session_carries_a_game_stream_for_30_s() {
    if !lab_ready("a_relayed_session_carries_a_game_stream_for_30_s") {
        return;
    }
    let results: Vec<(LinkCondition, Vec<String>)> = std::thread::scope(|s| {
        let hs: Vec<_> = [LinkCondition::CLEAN, LinkCondition::LOSSY]
            .into_iter()
            .map(|cond| {
                s.spawn(move || {
                    let (lab, bin, _, c) =
                        product_pair(NatType::Symmetric, NatType::SymmetricPreserving, cond)?;
                    let (alice, bob) = spawn_pair(
                        &lab,
                        &bin,
                        c,
                        "stream1",
                        &["--peer-timeout-s", "3", "--stream", "30:200:30"],
                    );
                    let fa = alice.finish(Duration::from_secs(60));
                    let fb = bob.finish(Duration::from_secs(60));
                    assert_eq!((fa.code, fb.code), (Some(0), Some(0)), "{:?} {:?}", fa.stderr, fb.stderr);
                    let lines: Vec<String> = fa
                        .stdout
                        .iter()
                        .chain(&fb.stdout)
                        .filter(|l| l.starts_with("stream "))
                        .cloned()
                        .collect();
                    Some((cond, lines))
                })
            })
            .collect();
        hs.into_iter().filter_map(|h| h.join().expect("join")).collect()
    });
    for (cond, lines) in results {
        assert_eq!(lines.len(), 2, "{cond:?}: {lines:?}");
        for l in &lines {
            eprintln!("[{}] {l}", cond.label());
            let kv = rhp_lab::probe::fields(l);
            assert_eq!(kv.get("path").copied(), Some("relay"), "{l}");
            let loss: f64 = kv.get("loss_pct").and_then(|x| x.parse().ok()).expect("loss");
            let p50: f64 = kv.get("p50_ms").and_then(|x| x.parse().ok()).expect("p50");
            let sent: u64 = kv.get("sent").and_then(|x| x.parse().ok()).expect("sent");
            assert_eq!(sent, 900, "{l}");
            if cond == LinkCondition::CLEAN {
                assert!(loss < 1.0 && p50 < 20.0, "{l}");
            } else {
                // Two impaired links, 10% each: ~19% expected; 100 ms one way (50 ms per link).
                assert!(loss < 35.0 && (90.0..200.0).contains(&p50), "{l}");
            }
        }
    }
}
