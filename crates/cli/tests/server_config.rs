//! Black-box: where `serve` takes its settings from. Flags beat `RHP_*` environment variables,
//! which beat the `--config` TOML file, which beats the defaults, for every key; `--print-config`
//! prints a file `--config` reads back to the same settings; the shipped example file is the
//! defaults; a bad file or variable stops the server before it binds anything, naming the file,
//! the line and the key.

mod support;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::{free_udp_port, temp_dir};

fn run(args: &[&str], cwd: &Path) -> (Option<i32>, String, String) {
    support::run_env(args, &[], cwd)
}

/// One key of `--print-config`: its table, its value as written and where it came from.
#[derive(Debug, Clone, PartialEq)]
struct Setting {
    table: String,
    value: String,
    source: String,
}

/// `--print-config`'s output as key -> setting.
fn parse_printed(toml: &str) -> BTreeMap<String, Setting> {
    let mut table = String::new();
    let mut out = BTreeMap::new();
    for line in toml.lines() {
        let line = line.trim();
        if let Some(t) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            table = t.to_string();
        } else if !line.starts_with('#') && line.contains(" = ") {
            let (key, rest) = line.split_once(" = ").expect("key = value");
            let (value, source) = rest.split_once("  # ").unwrap_or((rest, ""));
            out.insert(
                key.to_string(),
                Setting { table: table.clone(), value: value.to_string(), source: source.to_string() },
            );
        }
    }
    out
}

fn print_config(args: &[&str], env: &[(String, String)], cwd: &Path) -> BTreeMap<String, Setting> {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    all.push("--print-config");
    let (code, out, err) = support::run_env(&all, env, cwd);
    assert_eq!(code, Some(0), "{all:?}: {err}");
    let printed = parse_printed(&out);
    assert!(printed.len() > 30, "{out}");
    printed
}

/// Three distinct valid values for a key (its default, as printed, gives the type and the range).
fn values(key: &str, default: &str) -> Option<[String; 3]> {
    let three = |a: &str, b: &str, c: &str| Some([a.to_string(), b.to_string(), c.to_string()]);
    match key {
        "bind" => three("\"127.0.0.1\"", "\"127.0.0.2\"", "\"127.0.0.3\""),
        "log-level" => three("\"warn\"", "\"error\"", "\"debug\""),
        "log-file" => three("\"a.log\"", "\"b.log\"", "\"c.log\""),
        // Switches: a flag can only turn them on, so they are tested on their own.
        _ if default == "false" => None,
        // Another string setting: which values are valid is its own business.
        _ if default.starts_with('"') => None,
        _ => {
            let d: u64 = default.parse().unwrap_or_else(|_| panic!("{key} = {default}: not a number"));
            // Small values stay in every range (start-rounds <= 1000, io-batch <= 1024).
            let base = if d > 1000 { d } else { d.max(1) };
            Some([1, 2, 3].map(|k| (base + k).to_string()))
        }
    }
}

/// The flag/variable form of a printed value.
fn bare(value: &str) -> String {
    value.trim_matches('"').to_string()
}

fn env_name(key: &str) -> String {
    format!("RHP_{}", key.to_uppercase().replace('-', "_"))
}

/// A file setting every key of `defaults` (but the switches) to its first test value.
fn write_file(dir: &Path, defaults: &BTreeMap<String, Setting>, pick: usize) -> PathBuf {
    let mut by_table: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (key, s) in defaults {
        if let Some(v) = values(key, &s.value) {
            by_table.entry(&s.table).or_default().push(format!("{key} = {}", v[pick]));
        }
    }
    let mut text = String::new();
    for (table, lines) in by_table {
        text.push_str(&format!("[{table}]\n{}\n", lines.join("\n")));
    }
    let path = dir.join("layers.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

#[test]
fn every_key_flag_beats_env_beats_file_beats_default() {
    let dir = temp_dir("cfg-layers");
    let mut defaults = print_config(&[], &[], &dir);
    assert!(defaults.values().all(|s| s.source == "default"), "{defaults:?}");
    // alt-port has no default value (it follows the port): printed as a comment, tested too.
    assert!(!defaults.contains_key("alt-port"));
    let alt = Setting { table: "nat".into(), value: "5000".into(), source: "default".into() };
    defaults.insert("alt-port".into(), alt);
    let file = write_file(&dir, &defaults, 0);
    let file_arg = file.to_string_lossy().into_owned();
    let keys: Vec<(&String, [String; 3])> =
        defaults.iter().filter_map(|(k, s)| values(k, &s.value).map(|v| (k, v))).collect();
    assert!(keys.len() >= 30, "{keys:?}");
    let env: Vec<(String, String)> = keys.iter().map(|(k, v)| (env_name(k), bare(&v[1]))).collect();
    let mut flags: Vec<String> = Vec::new();
    for (k, v) in &keys {
        flags.push(format!("--{k}={}", bare(&v[2])));
    }
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();

    let only_file = print_config(&["--config", &file_arg], &[], &dir);
    let file_env = print_config(&["--config", &file_arg], &env, &dir);
    let mut all_args = vec!["--config", file_arg.as_str()];
    all_args.extend_from_slice(&flags);
    let all = print_config(&all_args, &env, &dir);
    for (key, v) in &keys {
        assert_eq!((&only_file[*key].value, only_file[*key].source.as_str()), (&v[0], "file"), "{key}: file");
        assert_eq!(
            (&file_env[*key].value, file_env[*key].source.as_str()),
            (&v[1], "environment"),
            "{key}: env"
        );
        assert_eq!((&all[*key].value, all[*key].source.as_str()), (&v[2], "flag"), "{key}: flag");
    }
    // The config file itself can come from the environment too.
    let via_env = print_config(&[], &[("RHP_CONFIG".into(), file_arg.clone())], &dir);
    assert_eq!(
        via_env["create-rate"].value,
        keys.iter().find(|(k, _)| *k == "create-rate").expect("key").1[0]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_rhp_variable_that_sets_nothing_is_warned_about() {
    let dir = temp_dir("cfg-typo");
    let env = [("RHP_CREAT_RATE".to_string(), "5".to_string()), ("RHP_BIN".to_string(), "x".to_string())];
    let (code, out, err) = support::run_env(&["serve", "--print-config"], &env, &dir);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("RHP_CREAT_RATE is not a serve setting"), "{err}");
    assert!(!err.contains("RHP_BIN"), "another tool's variable: {err}");
    assert_eq!(parse_printed(&out)["create-rate"].source, "default");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn switches_follow_the_same_order() {
    let dir = temp_dir("cfg-switches");
    let path = dir.join("on.toml");
    std::fs::write(&path, "[nat]\nno-relay = true\n[budget]\nreflection-loopback = true\n").expect("write");
    let file = path.to_string_lossy().into_owned();
    let p = print_config(&["--config", &file], &[], &dir);
    assert_eq!((p["no-relay"].value.as_str(), p["no-relay"].source.as_str()), ("true", "file"));
    assert_eq!(p["reflection-loopback"].value, "true");
    let off = [("RHP_NO_RELAY".to_string(), "false".to_string())];
    let p = print_config(&["--config", &file], &off, &dir);
    assert_eq!((p["no-relay"].value.as_str(), p["no-relay"].source.as_str()), ("false", "environment"));
    let p = print_config(&["--config", &file, "--no-relay"], &off, &dir);
    assert_eq!((p["no-relay"].value.as_str(), p["no-relay"].source.as_str()), ("true", "flag"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn print_config_round_trips_through_config() {
    let dir = temp_dir("cfg-roundtrip");
    let args =
        ["--port", "4000", "--create-rate", "7", "--log-level", "debug", "--no-relay", "--alt-port", "0"];
    let env = [("RHP_RELAY_IDLE_S".to_string(), "9".to_string())];
    let (code, printed, err) =
        support::run_env(&[&["serve"][..], &args, &["--print-config"]].concat(), &env, &dir);
    assert_eq!(code, Some(0), "{err}");
    let path = dir.join("printed.toml");
    std::fs::write(&path, &printed).expect("write");
    let file = path.to_string_lossy().into_owned();
    let (code, again, err) = run(&["serve", "--config", &file, "--print-config"], &dir);
    assert_eq!(code, Some(0), "{err}");
    let strip = |m: BTreeMap<String, Setting>| -> BTreeMap<String, (String, String)> {
        m.into_iter().map(|(k, s)| (k, (s.table, s.value))).collect()
    };
    let (first, second) = (strip(parse_printed(&printed)), strip(parse_printed(&again)));
    assert_eq!(first, second);
    assert_eq!(first["port"].1, "4000");
    assert_eq!(first["relay-idle-s"].1, "9");
    assert_eq!(first["alt-port"].1, "0");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_example_file_sets_every_key_to_its_default() {
    let dir = temp_dir("cfg-example");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/rabid-hole-punch.toml");
    let text = std::fs::read_to_string(&example).expect("config/rabid-hole-punch.toml");
    let file = example.to_string_lossy().into_owned();
    let from_file = print_config(&["--config", &file], &[], &dir);
    let defaults = print_config(&[], &[], &dir);
    let value = |m: &BTreeMap<String, Setting>| -> Vec<(String, String, String)> {
        m.iter().map(|(k, s)| (k.clone(), s.table.clone(), s.value.clone())).collect()
    };
    assert_eq!(value(&from_file), value(&defaults));
    // Every key is in the file (alt-port, whose default is computed, as a comment).
    for key in defaults.keys() {
        let set = text.lines().any(|l| l.starts_with(&format!("{key} = ")));
        let commented = text.lines().any(|l| l.starts_with(&format!("# {key} = ")));
        assert!(set || (key == "alt-port" && commented), "{key} missing from the example file");
    }
    assert!(text.contains("# alt-port = "), "alt-port documented");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `serve` with `config` as its file on a fixed free port; asserts exit 2 before binding and
/// that stderr has every `needle`.
fn refused(name: &str, config: Option<&str>, env: &[(String, String)], needles: &[&str]) {
    let dir = temp_dir("cfg-bad");
    let path = dir.join(name);
    if let Some(text) = config {
        std::fs::write(&path, text).expect("write");
    }
    let file = path.to_string_lossy().into_owned();
    let port = free_udp_port().to_string();
    let (code, out, err) =
        support::run_env(&["serve", "--config", &file, "--bind", "127.0.0.1", "--port", &port], env, &dir);
    assert_eq!(code, Some(2), "{name}: {out}{err}");
    for needle in needles {
        let needle = needle.replace("FILE", &file);
        assert!(err.contains(&needle), "{name}: {needle:?} missing from {err:?}");
    }
    assert!(!err.contains("listening"), "{name}: started: {err}");
    assert!(!dir.join("rabid-hole-punch.log").exists(), "{name}: the log file was opened");
    assert_eq!(err.lines().count(), 1, "{name}: one line: {err}");
    // Nothing was bound: the port is still free.
    assert!(std::net::UdpSocket::bind(format!("127.0.0.1:{port}")).is_ok(), "{name}: port taken");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unknown_key_is_refused_with_file_line_and_key() {
    refused(
        "unknown.toml",
        Some("[caps]\n\ncreate-rat = 5\n"),
        &[],
        &["FILE", "line 3", "create-rat", "unknown key"],
    );
    refused(
        "table.toml",
        Some("[cap]\ncreate-rate = 5\n"),
        &[],
        &["FILE", "line 2", "[cap] create-rate", "[caps]"],
    );
    refused(
        "table2.toml",
        Some("[server]\nspeed = 5\n"),
        &[],
        &["FILE", "line 2", "unknown table [server]", "speed"],
    );
    refused("wrong-table.toml", Some("port = 5000\n"), &[], &["FILE", "line 1", "`port`", "[socket]"]);
}

#[test]
fn a_wrong_type_is_refused_with_file_line_and_key() {
    refused(
        "type.toml",
        Some("# a comment\n[caps]\ncreate-rate = \"fast\"\n"),
        &[],
        &["FILE", "line 3", "create-rate", "must be an integer, not a string"],
    );
    refused(
        "bool.toml",
        Some("[nat]\nno-relay = 1\n"),
        &[],
        &["FILE", "line 2", "no-relay", "true or false"],
    );
    refused("str.toml", Some("[socket]\nbind = 127\n"), &[], &["FILE", "line 2", "bind", "a string"]);
}

#[test]
fn an_out_of_range_value_is_refused_with_file_line_and_key() {
    refused(
        "range.toml",
        Some("[nat]\nrelay-idle-s = 0\n"),
        &[],
        &["FILE", "line 2", "relay-idle-s", "0 is not in 1.."],
    );
    refused("port.toml", Some("[socket]\nport = 70000\n"), &[], &["FILE", "line 2", "port", "70000"]);
    refused("neg.toml", Some("[caps]\nmax-sessions = -1\n"), &[], &["FILE", "line 2", "max-sessions"]);
    refused(
        "level.toml",
        Some("[logging]\nlog-level = \"loud\"\n"),
        &[],
        &["FILE", "line 2", "log-level", "loud"],
    );
}

#[test]
fn a_missing_or_broken_file_and_a_bad_variable_are_refused() {
    refused("absent.toml", None, &[], &["cannot read the config file FILE"]);
    refused("syntax.toml", Some("[caps]\ncreate-rate = = 1\n"), &[], &["FILE", "line 2", "not valid TOML"]);
    let env = [("RHP_CREATE_RATE".to_string(), "lots".to_string())];
    refused("env.toml", Some(""), &env, &["environment variable RHP_CREATE_RATE", "lots"]);
}
