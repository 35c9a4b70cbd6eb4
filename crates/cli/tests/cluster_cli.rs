//! Black-box, cluster mode's settings: refused input exits 2 before anything is bound, with a
//! message naming the flag; a store that is unreachable at start is no error (the node serves,
//! `/readyz` says why); the settings are flags, `RHP_*` variables and `[cluster]` file keys.

mod support;
use std::time::Duration;
use support::cluster::redis::free_port;
use support::{ops, run_env, temp_dir, Server};

fn refused(args: &[&str], needle: &str) {
    let dir = temp_dir("cluster-cli");
    let mut all = vec!["serve", "--bind", "127.0.0.1", "--port", "0", "--no-log-file", "--metrics", "off"];
    all.extend_from_slice(args);
    let (code, _, err) = run_env(&all, &[], &dir);
    assert_eq!(code, Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: expected {needle:?} in {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_cluster_settings_are_refused_with_the_reason() {
    let dir = temp_dir("cluster-secret");
    let short = dir.join("short.secret");
    std::fs::write(&short, "tiny\n").unwrap();
    let good = dir.join("good.secret");
    std::fs::write(&good, "0123456789abcdef0123456789abcdef").unwrap();
    let (short, good) = (short.to_string_lossy().into_owned(), good.to_string_lossy().into_owned());
    let store = ["--cluster-store", "redis://127.0.0.1:1"];
    refused(&["--node-id", "1"], "--node-id is a cluster setting: it needs --cluster-store");
    refused(&store, "--cluster-store needs --node-id");
    refused(&[&store[..], &["--node-id", "1"]].concat(), "--cluster-store needs --cluster-bind");
    let base = [&store[..], &["--node-id", "1", "--cluster-bind", "127.0.0.1:0"]].concat();
    refused(&base, "--cluster-store needs --cluster-secret-file");
    refused(
        &[&base[..], &["--cluster-secret-file", "/nonexistent/secret"]].concat(),
        "cannot read the cluster secret file",
    );
    refused(&[&base[..], &["--cluster-secret-file", &short]].concat(), "at least 16 are needed");
    refused(
        &[
            "--cluster-store",
            "nonsense://x",
            "--node-id",
            "1",
            "--cluster-bind",
            "127.0.0.1:0",
            "--cluster-secret-file",
            &good,
        ],
        "is not valid",
    );
    refused(
        &[&store[..], &["--node-id", "1", "--cluster-bind", "0.0.0.0:0", "--cluster-secret-file", &good]]
            .concat(),
        "give --advertise",
    );
    refused(
        &[
            &base[..],
            &[
                "--cluster-secret-file",
                &good,
                "--cluster-claim-ttl-ms",
                "1000",
                "--cluster-refresh-ms",
                "1000",
            ],
        ]
        .concat(),
        "must be shorter than the claim's TTL",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unreachable_store_at_start_is_not_fatal_and_readyz_says_why() {
    let dir = temp_dir("cluster-down");
    let secret = dir.join("s");
    std::fs::write(&secret, "0123456789abcdef0123456789abcdef").unwrap();
    let url = format!("redis://127.0.0.1:{}", free_port());
    let secret = secret.to_string_lossy().into_owned();
    // Set through the environment and the file, as every other setting.
    let file = dir.join("c.toml");
    std::fs::write(&file, format!("[cluster]\nnode-id = 7\ncluster-secret-file = {secret:?}\n")).unwrap();
    let file = file.to_string_lossy().into_owned();
    let srv = Server::start_args_env(
        &[
            "serve",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--no-log-file",
            "--metrics",
            "127.0.0.1:0",
            "--config",
            &file,
        ],
        &dir,
        &[
            ("RHP_CLUSTER_STORE", &url),
            ("RHP_CLUSTER_BIND", "127.0.0.1:0"),
            ("RHP_CLUSTER_STORE_TIMEOUT_MS", "200"),
        ],
    );
    let line = srv.wait_log("metrics on http://", Duration::from_secs(10)).expect("metrics line");
    assert!(srv.wait_log("cluster node 7", Duration::from_secs(5)).is_some());
    let metrics = ops::metrics_addr(&line);
    let (code, body) =
        ops::poll_get(metrics, "/readyz", Duration::from_secs(5), |c, _| c == 503).expect("readyz");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("cluster_store_reachable failing: cluster store unreachable"), "{body}");
    assert!(body.contains("udp_sockets_bound ok"), "{body}");
    // It serves: what needs the store is refused with a code a Godot peer knows.
    srv.peer().ask("h:Room:Alice:4", "error:too_many_sessions");
    let _ = std::fs::remove_dir_all(&dir);
}
