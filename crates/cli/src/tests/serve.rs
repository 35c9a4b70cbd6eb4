//! Serving ([`crate::serve`]): the legacy command line and the flags that become a config.

use crate::config_layers::ServeOnly;
use crate::serve::*;
use clap::Parser;
use rhp_server::config::RelayConfig;
use rhp_server::Config;
use std::ffi::OsString;
use std::time::Duration;
use tracing_subscriber::filter::LevelFilter;

fn argv(a: &[&str]) -> Vec<OsString> {
    a.iter().map(OsString::from).collect()
}

#[test]
fn legacy_form_is_recognised() {
    let legacy = |a: &[&str]| {
        let flags = legacy_args(&argv(a)).expect("legacy form");
        ServeOnly::try_parse_from(std::iter::once(OsString::from("serve")).chain(flags)).expect("flags").args
    };
    let a = legacy(&["rhp", "4000"]);
    assert_eq!((a.port, a.log_level, a.no_log_file), (4000, LevelFilter::INFO, false));
    let a = legacy(&["rhp", "4000", "DEBUG"]);
    assert_eq!(a.log_level, LevelFilter::DEBUG);
    assert_eq!(a.config(), Config::default());
    for other in [
        &["rhp"][..],
        &["rhp", "serve"],
        &["rhp", "4000", "debug"],
        &["rhp", "40a"],
        &["rhp", "4000", "DEBUG", "x"],
    ] {
        assert!(legacy_args(&argv(other)).is_none(), "{other:?}");
    }
}

#[test]
fn zero_factor_and_no_caps_are_the_original() {
    let flags = [
        "serve",
        "--max-players-per-ip",
        "0",
        "--reflection-factor",
        "0",
        "--create-rate",
        "0",
        "--max-sessions-per-ip",
        "0",
        "--max-players",
        "0",
        "--guess-rate",
        "0",
    ];
    let a = ServeOnly::try_parse_from(flags).expect("flags parse").args;
    assert_eq!(a.config(), Config::original());
}

#[test]
fn alt_port_defaults_to_the_next_port_and_zero_is_off() {
    let parse = |flags: &[&str]| ServeOnly::try_parse_from(flags).expect("flags parse").args;
    let alt_port = |a: &ServeArgs| alt_port(a, a.port);
    assert_eq!(alt_port(&parse(&["serve"])), Some(57776));
    assert_eq!(alt_port(&parse(&["serve", "--port", "4000"])), Some(4001));
    assert_eq!(alt_port(&parse(&["serve", "--port", "65535"])), None);
    assert_eq!(alt_port(&parse(&["serve", "--port", "0"])), Some(0));
    assert_eq!(alt_port(&parse(&["serve", "--alt-port", "0"])), None);
    assert_eq!(alt_port(&parse(&["serve", "--alt-port", "5000"])), Some(5000));
    let legacy = legacy_args(&argv(&["rhp", "4000"])).expect("legacy");
    let legacy =
        ServeOnly::try_parse_from(std::iter::once(OsString::from("serve")).chain(legacy)).expect("flags");
    assert_eq!(alt_port(&legacy.args), Some(4001));
}

#[test]
fn relay_flags_set_the_relay_and_no_relay_turns_it_off() {
    let parse = |flags: &[&str]| ServeOnly::try_parse_from(flags).expect("flags parse").args.config();
    assert_eq!(parse(&["serve"]).relay, RelayConfig::default());
    let relay = RelayConfig::default();
    assert_eq!(
        (relay.player_rate, relay.player_burst, relay.max_per_ip, relay.server_rate, relay.max_sessions),
        (131_072, 262_144, 32, 64 << 20, 100_000)
    );
    assert_eq!((relay.lifetime, relay.idle), (Duration::from_secs(14_400), Duration::from_secs(60)));
    assert!(relay.is_on());
    assert!(!parse(&["serve", "--no-relay"]).relay.is_on());
    assert!(!parse(&["serve", "--relay-rate", "0"]).relay.is_on());
    let c = parse(&[
        "serve",
        "--relay-rate",
        "1000",
        "--relay-burst",
        "4096",
        "--relay-lifetime-s",
        "30",
        "--relay-idle-s",
        "5",
        "--relay-max-per-ip",
        "2",
        "--relay-server-rate",
        "0",
        "--relay-max-sessions",
        "7",
    ])
    .relay;
    assert_eq!(
        c,
        RelayConfig {
            enabled: true,
            player_rate: 1000,
            player_burst: 4096,
            lifetime: Duration::from_secs(30),
            idle: Duration::from_secs(5),
            max_per_ip: 2,
            server_rate: 0,
            max_sessions: 7,
        }
    );
    assert!(ServeOnly::try_parse_from(["serve", "--relay-idle-s", "0"]).is_err());
    assert!(ServeOnly::try_parse_from(["serve", "--relay-burst", "100"]).is_err());
}

#[test]
fn default_flags_are_the_original_timers() {
    let a = ServeOnly::try_parse_from(["serve"]).expect("defaults parse").args;
    assert_eq!(a.config(), Config::default());
    assert_eq!(a.port, 57775);
}
