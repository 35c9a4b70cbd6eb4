//! The container image: the shipped `Dockerfile` builds (on a Debian base made here with
//! debootstrap, since no image can be pulled), runs the server as a non-root user with the UDP
//! ports and the metrics port exposed, reports healthy through its `healthcheck` command, serves a
//! 2-player session of our clients on loopback (`--network host`), and ends cleanly (exit 0, no
//! SIGKILL) on `docker stop`. The test uses a running dockerd, or starts its own
//! (`--bridge=none --iptables=false`) and stops it by PID. Needs root, docker.io and debootstrap
//! (scripts/test installs them); skips without them, except under CI=true.

mod support;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::ops::{have, is_root, skip_unless};
use support::player::Player;

/// The local base image the test makes (kept by dockerd between runs).
const BASE: &str = "rhp-test-base:bookworm";
/// The image under test.
const IMAGE: &str = "rhp-test-image:ops";

/// Runs `docker ARGS`; stdout on success, `Err(stdout + stderr)` otherwise.
fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker").args(args).output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!("docker {args:?}: {stdout}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// A dockerd this test started: stopped by its PID when dropped.
struct Daemon(Option<Child>);

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let end = Instant::now() + Duration::from_secs(20);
            while Instant::now() < end {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The running dockerd, or one started here (bounded wait until it answers).
fn daemon(dir: &Path) -> Daemon {
    if docker(&["info"]).is_ok() {
        return Daemon(None);
    }
    let log = std::fs::File::create(dir.join("dockerd.log")).expect("dockerd log");
    let child = Command::new("dockerd")
        .args(["--bridge=none", "--iptables=false"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start dockerd");
    let d = Daemon(Some(child));
    let end = Instant::now() + Duration::from_secs(60);
    while docker(&["info"]).is_err() {
        assert!(
            Instant::now() < end,
            "dockerd did not answer within 60 s: {:?}",
            std::fs::read_to_string(dir.join("dockerd.log"))
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    d
}

/// Makes the base image from Debian's mirror unless dockerd has it already.
fn base_image(dir: &Path) {
    if docker(&["image", "inspect", BASE]).is_ok() {
        return;
    }
    let root = dir.join("rootfs");
    let status = Command::new("timeout")
        .args(["900", "debootstrap", "--variant=minbase", "bookworm"])
        .arg(&root)
        .stdout(Stdio::null())
        .status()
        .expect("run debootstrap");
    assert!(status.success(), "debootstrap failed");
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .expect("tar");
    let import = Command::new("docker")
        .args(["import", "-", BASE])
        .stdin(tar.stdout.take().expect("tar stdout"))
        .output()
        .expect("docker import");
    assert!(tar.wait().is_ok_and(|s| s.success()), "tar of the base failed");
    assert!(import.status.success(), "docker import: {}", String::from_utf8_lossy(&import.stderr));
    let _ = std::fs::remove_dir_all(&root);
}

/// A container removed when dropped.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
    }
}

fn free_udp_port() -> u16 {
    support::free_udp_port()
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[test]
fn the_image_builds_runs_healthy_serves_a_session_and_stops_cleanly() {
    let ok = is_root() && have("dockerd") && have("docker") && have("debootstrap");
    if skip_unless(ok, "root with docker.io and debootstrap") {
        return;
    }
    let dir = support::temp_dir("container");
    let _daemon = daemon(&dir);
    base_image(&dir);

    // A build context with just the Dockerfile and the binary under test where it expects it.
    let ctx = dir.join("context");
    let bin_dir: PathBuf = ctx.join("target/release");
    std::fs::create_dir_all(&bin_dir).expect("context dir");
    let dockerfile = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Dockerfile");
    std::fs::copy(&dockerfile, ctx.join("Dockerfile")).expect("copy Dockerfile");
    std::fs::copy(support::BIN, bin_dir.join("rabid-hole-punch")).expect("copy binary");
    let ctx_str = ctx.to_str().expect("utf-8 path");
    docker(&["build", "--build-arg", &format!("BASE={BASE}"), "-t", IMAGE, ctx_str]).expect("docker build");

    // What the image says about itself.
    let user = docker(&["image", "inspect", "-f", "{{.Config.User}}", IMAGE]).expect("inspect");
    assert_eq!(user.trim(), "10001:10001", "runs as a non-root user");
    let health =
        docker(&["image", "inspect", "-f", "{{json .Config.Healthcheck.Test}}", IMAGE]).expect("inspect");
    assert!(health.contains("healthcheck") && health.contains("127.0.0.1:9775"), "HEALTHCHECK: {health}");
    let ports = docker(&["image", "inspect", "-f", "{{json .Config.ExposedPorts}}", IMAGE]).expect("inspect");
    for p in ["57775/udp", "57776/udp", "9775/tcp"] {
        assert!(ports.contains(p), "{p} exposed: {ports}");
    }

    // Run it on the host's network (loopback), on free ports; the health check is the image's
    // command aimed at the metrics port of this run.
    let (port, alt, metrics) = (free_udp_port(), free_udp_port(), free_tcp_port());
    let name = format!("rhp-test-{}", std::process::id());
    let health_cmd = format!("/usr/local/bin/rabid-hole-punch healthcheck --addr 127.0.0.1:{metrics}");
    let id = docker(&[
        "run",
        "-d",
        "--network",
        "host",
        "--name",
        &name,
        "--health-cmd",
        &health_cmd,
        "--health-interval",
        "1s",
        "--health-start-period",
        "1s",
        IMAGE,
        "serve",
        "--bind",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--alt-port",
        &alt.to_string(),
        "--no-log-file",
        "--metrics",
        &format!("127.0.0.1:{metrics}"),
    ])
    .expect("docker run");
    let container = Container(id.trim().to_owned());
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let status = docker(&["inspect", "-f", "{{.State.Health.Status}}", &container.0]).unwrap_or_default();
        if status.trim() == "healthy" {
            break;
        }
        assert!(
            Instant::now() < end,
            "not healthy within 60 s ({status}): {:?}",
            docker(&["logs", &container.0])
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let uid = docker(&["exec", &container.0, "/bin/sh", "-c", "id -u"]).unwrap_or_default();
    assert_eq!(uid.trim(), "10001", "the server runs as uid 10001");

    // A 2-player session of our clients against it.
    let server: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let alt_flag = alt.to_string();
    let flags = |msg: &'static str| ["--send", msg, "--expect", "1", "--alt-port", alt_flag.as_str()];
    let mut alice = Player::host(server, "Dock", "Alice", 2, &flags("hello-from-Alice"));
    // Bob joins once the session exists (his c: must not overtake Alice's h:).
    assert!(alice.wait_stderr("in the session", Duration::from_secs(10)), "{}", alice.dump());
    let mut bob = Player::join(server, "Dock", "Bob", &flags("hello-from-Bob"));
    assert_eq!(alice.wait(Duration::from_secs(30)), Some(0), "{}", alice.dump());
    assert_eq!(bob.wait(Duration::from_secs(30)), Some(0), "{}", bob.dump());
    let metrics_addr: std::net::SocketAddr = ([127, 0, 0, 1], metrics).into();
    let (_, body) = support::ops::get(metrics_addr, "/metrics").expect("metrics from the container");
    let m = support::ops::samples(&body);
    assert_eq!(m.get("rhp_requests_total{kind=\"host\"}"), Some(&1.0), "{body}");

    // docker stop: SIGTERM, a clean exit well before the 10 s after which docker kills.
    let t0 = Instant::now();
    docker(&["stop", "-t", "10", &container.0]).expect("docker stop");
    let took = t0.elapsed();
    let code = docker(&["inspect", "-f", "{{.State.ExitCode}}", &container.0]).expect("inspect");
    assert_eq!(code.trim(), "0", "exit code after docker stop");
    assert!(took < Duration::from_secs(8), "stopped in {took:?}");
    let logs = Command::new("docker").args(["logs", &container.0]).output().expect("docker logs");
    let logs = String::from_utf8_lossy(&logs.stderr);
    assert!(logs.contains("SIGTERM received") && logs.contains("stopped"), "{logs}");
    drop(container);
    let _ = docker(&["image", "rm", "-f", IMAGE]);
    let _ = std::fs::remove_dir_all(&dir);
}
