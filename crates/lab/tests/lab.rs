//! NAT lab tests. They need root, `ip netns`, nft, conntrack and iptables. In CI (`CI=true`) a lab
//! that cannot start fails; by hand without root each test skips with a one-line reason.

use rhp_lab::impair::LinkCondition;
use rhp_lab::matrix::{self, Access, Driver, RunConfig, Scenario};
use rhp_lab::nat::{Filtering, Mapping, NatType, PortAlloc};
use rhp_lab::netns;
use rhp_lab::probe::Classification;
use rhp_lab::topo::{Lab, RouterSpec, ECHO_PORT, SERVER_ADDR, SERVER_ADDR2};
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

fn run_matrix(driver: Driver, attempts: usize, cells: &[(Scenario, LinkCondition)], out: &str) -> bool {
    let cfg = RunConfig {
        helper: helper(),
        driver,
        attempts,
        fail_attempts: 3,
        jobs: 4,
        attempt_timeout: Duration::from_secs(35),
        check_pings: 100,
    };
    // The report also goes to cargo's scratch directory for integration tests.
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(out);
    matrix::run_and_report(&cfg, cells, Some(&target)).expect("matrix")
}

/// The lab's own probe client across every NAT pair (clean): checks the lab and the theory
/// together, independently of the product.
#[test]
fn probe_matrix_matches_theory() {
    if !lab_ready("probe_matrix_matches_theory") {
        return;
    }
    let cells = matrix::standard_cells(true);
    assert!(
        run_matrix(Driver::Probe, 1, &cells, "lab-probe-connectivity.md"),
        "probe matrix differs from theory"
    );
}

/// The real `serve`/`host`/`join` across every NAT pair, clean and 10% loss + 50 ms, 20 attempts
/// per cell expected to connect (3 per cell expected to fail): every cell must match the theory
/// for the current client, method included (plain, predicted, birthday), with at least 19 of 20.
#[test]
fn product_matrix_matches_theory() {
    if !lab_ready("product_matrix_matches_theory") {
        return;
    }
    let bin = match matrix::find_product_bin() {
        Ok(b) => b,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("{e}"),
        Err(e) => {
            skip("product_matrix_matches_theory", &e.to_string());
            return;
        }
    };
    let t0 = Instant::now();
    let ok = run_matrix(Driver::product(bin, 6), 20, &matrix::standard_cells(false), "lab-connectivity.md");
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
    let bin = match matrix::find_product_bin() {
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
    let server = format!("{SERVER_ADDR}:{}", matrix::RENDEZVOUS_PORT);
    let args: Vec<String> = ["serve", "--bind", &SERVER_ADDR.to_string(), "--port", "7000", "--no-log-file"]
        .map(String::from)
        .to_vec();
    lab.spawn_in_server("server", &bin, &args)
        .expect("server")
        .wait_for_line("listening on udp://", Duration::from_secs(10))
        .expect("server up");
    for (access, c) in clients {
        let ns = &lab.client(c).expect("client").ns;
        let p = ns.spawn("nat", &bin, &["nat".into(), "--server".into(), server.clone()]).expect("spawn nat");
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
