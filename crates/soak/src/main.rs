//! `rhp-soak`: runs the server binary on loopback and keeps players churning against it; see the
//! library docs. Exit 0 when the run ends with zero sessions and players and a flat RSS.
//!
//! `rhp-soak --server target/release/rabid-hole-punch [--secs 600] [--players 3000]
//!  [--report-every 10] [-- extra serve flags]`

use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let mut config = rhp_soak::SoakConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |what: &str| args.next().ok_or_else(|| format!("{a} needs {what}"));
        let parsed: Result<(), String> = match a.as_str() {
            "--server" => value("a path").map(|v| config.server_bin = v.into()),
            "--secs" => {
                value("seconds").and_then(|v| v.parse().map_err(|e| format!("--secs: {e}"))).map(|s| {
                    config.load_for = Duration::from_secs(s);
                })
            }
            "--players" => {
                value("a number").and_then(|v| v.parse().map_err(|e| format!("--players: {e}"))).map(|n| {
                    config.players = n;
                })
            }
            "--report-every" => value("seconds")
                .and_then(|v| v.parse().map_err(|e| format!("--report-every: {e}")))
                .map(|s| config.report_every = Duration::from_secs(s)),
            "--" => {
                config.serve_flags.extend(args.by_ref());
                Ok(())
            }
            "-h" | "--help" => {
                println!(
                    "usage: rhp-soak --server PATH [--secs 600] [--players 3000] [--report-every 10] [-- serve flags]"
                );
                return ExitCode::SUCCESS;
            }
            other => Err(format!("unknown argument {other:?} (try --help)")),
        };
        if let Err(e) = parsed {
            eprintln!("rhp-soak: {e}");
            return ExitCode::from(2);
        }
    }
    match rhp_soak::run(&config) {
        Ok(report) => {
            println!("{}", report.summary());
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("rhp-soak: {e}");
            ExitCode::from(2)
        }
    }
}
