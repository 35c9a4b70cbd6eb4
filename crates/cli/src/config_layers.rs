//! Where each `serve` setting comes from: flags, then the environment (`RHP_<FLAG>`), then the
//! `--config` TOML file, then the defaults. Works from the clap definition of the flags alone (any
//! flag added to `serve` is a file key and an environment variable at once), checks a file's
//! values with the flag's own parser (so a range is written once), and prints the result as TOML.
//!
//! How: clap's `env` feature gives flags > environment > default; [`clap::ArgMatches::value_source`]
//! says which settings are still defaults, and the file's entries for those become flags placed
//! before the user's own, parsed again in one go. The file key of `--create-rate` is `create-rate`
//! in the table of its help heading (`[caps]`, see [`table_of`]).

use crate::config_file::{self, Entry, FileValue};
use crate::headings::{BUDGET, CAPS, CONFIG, LOGGING, NAT, SOCKET, TIMERS};
use crate::serve_args::ServeArgs;
use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, CommandFactory, FromArgMatches, Parser};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Parses just `serve`'s flags.
#[derive(Parser, Debug)]
#[command(name = "serve", bin_name = "rabid-hole-punch serve", about = "Run the rendezvous server.")]
pub struct ServeOnly {
    #[command(flatten)]
    pub args: ServeArgs,
}

/// Flags that are about the configuration itself: no file key.
const NOT_IN_FILE: [&str; 4] = ["config", "print-config", "help", "version"];

/// Placeholders of flags whose value is a number (a TOML integer in the file).
const NUMBERS: [&str; 5] = ["N", "MS", "S", "BYTES", "PORT"];

/// The file table of a help heading.
pub fn table_of(heading: Option<&str>) -> String {
    let known = [
        (SOCKET, "socket"),
        (TIMERS, "timers"),
        (BUDGET, "budget"),
        (CAPS, "caps"),
        (NAT, "nat"),
        (LOGGING, "logging"),
        (CONFIG, "config"),
    ];
    match heading {
        Some(h) => known.iter().find(|(k, _)| *k == h).map(|(_, t)| t.to_string()).unwrap_or_else(|| {
            // A heading added later: its first word.
            h.split(|c: char| !c.is_ascii_alphanumeric()).next().unwrap_or(h).to_ascii_lowercase()
        }),
        None => "serve".to_string(),
    }
}

/// The environment variable of a flag: `--create-rate` → `RHP_CREATE_RATE`.
pub fn env_name(long: &str) -> String {
    format!("RHP_{}", long.to_ascii_uppercase().replace('-', "_"))
}

/// Whether `arg` is a setting (has a long name and is not about the configuration itself).
fn is_setting(arg: &Arg) -> bool {
    arg.get_long().is_some_and(|l| !NOT_IN_FILE.contains(&l))
}

/// `serve`'s command without environment variables (to check one value on its own).
fn plain_command() -> clap::Command {
    ServeOnly::command()
}

/// `serve`'s command: every setting (and `--config`) also read from `RHP_<FLAG>`.
pub fn command() -> clap::Command {
    plain_command().mut_args(|arg| match arg.get_long() {
        Some(long) if long != "print-config" && long != "help" && long != "version" => {
            let name = env_name(long);
            arg.env(name).hide_env(true)
        }
        _ => arg,
    })
}

/// The effective configuration and where it came from.
#[derive(Debug)]
pub struct Resolved {
    /// The settings.
    pub args: ServeArgs,
    /// The configuration as TOML (what `--print-config` prints).
    pub toml: String,
    /// `RHP_*` variables that set nothing (a typo, most likely): to be warned about.
    pub unknown_env: Vec<String>,
}

/// `RHP_*` variables of the project's other tools, which `serve` does not warn about.
const OTHER_TOOLS_ENV: [&str; 3] = ["RHP_BIN", "RHP_LAB_VERBOSE", "RHP_BENCH_RUNS"];

/// The `RHP_*` variables in the environment that are no `serve` setting.
fn unknown_env() -> Vec<String> {
    let cmd = plain_command();
    let known: Vec<String> = cmd.get_arguments().filter_map(|a| a.get_long()).map(env_name).collect();
    let mut unknown: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("RHP_") && !known.contains(k) && !OTHER_TOOLS_ENV.contains(&k.as_str()))
        .collect();
    unknown.sort();
    unknown
}

/// Why a configuration is refused.
#[derive(Debug)]
pub enum ConfigError {
    /// A flag or an environment variable (clap's own message and exit code).
    Clap(clap::Error),
    /// The file, or an environment variable named in the message.
    Message(String),
}

/// Resolves `serve`'s settings from `user_args` (what follows `serve`), the environment and the
/// file named by `--config`/`RHP_CONFIG`.
pub fn resolve(user_args: &[OsString]) -> Result<Resolved, ConfigError> {
    let argv = |before: &[OsString]| -> Vec<OsString> {
        std::iter::once(OsString::from("serve"))
            .chain(before.iter().cloned())
            .chain(user_args.iter().cloned())
            .collect()
    };
    let first = match command().try_get_matches_from(argv(&[])) {
        Ok(m) => m,
        // --help and --version are not errors to explain.
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            return Err(ConfigError::Clap(e))
        }
        Err(e) => return Err(env_error().map_or(ConfigError::Clap(e), ConfigError::Message)),
    };
    let mut file_args = Vec::new();
    if let Some(path) = first.get_one::<PathBuf>("config") {
        let entries = config_file::read(path).map_err(ConfigError::Message)?;
        let cmd = plain_command();
        for entry in &entries {
            let where_ = format!("config file {}, line {}", path.display(), entry.line);
            let arg = find_arg(&cmd, entry).map_err(|e| ConfigError::Message(format!("{where_}: {e}")))?;
            let flag = flag_args(arg, entry).map_err(|e| ConfigError::Message(format!("{where_}: {e}")))?;
            // Check the value with the flag's own parser, alone.
            if let Err(e) = plain_command().try_get_matches_from(argv_of(&flag)) {
                return Err(ConfigError::Message(format!(
                    "{where_}: key `{}`: {}",
                    entry.key,
                    first_line(&e)
                )));
            }
            let id = arg.get_id().as_str();
            let overridden = matches!(
                first.value_source(id),
                Some(ValueSource::CommandLine) | Some(ValueSource::EnvVariable)
            );
            if !overridden {
                file_args.extend(flag);
            }
        }
    }
    let matches = command().try_get_matches_from(argv(&file_args)).map_err(ConfigError::Clap)?;
    let args = ServeOnly::from_arg_matches(&matches).map_err(ConfigError::Clap)?.args;
    let toml = render(&command(), &matches, &first, !file_args.is_empty());
    Ok(Resolved { args, toml, unknown_env: unknown_env() })
}

/// `["serve", flag...]`.
fn argv_of(flag: &[OsString]) -> Vec<OsString> {
    std::iter::once(OsString::from("serve")).chain(flag.iter().cloned()).collect()
}

/// A clap error's first line, without `error: `.
fn first_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let line = text.lines().next().unwrap_or("").trim();
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

/// The flag an entry sets, or why none.
fn find_arg<'a>(cmd: &'a clap::Command, entry: &Entry) -> Result<&'a Arg, String> {
    let found = cmd.get_arguments().find(|a| is_setting(a) && a.get_long() == Some(entry.key.as_str()));
    let shown = match &entry.table {
        Some(t) => format!("[{t}] {}", entry.key),
        None => entry.key.clone(),
    };
    match found {
        Some(arg) => {
            let table = table_of(arg.get_help_heading());
            if entry.table.as_deref() == Some(table.as_str()) {
                Ok(arg)
            } else {
                Err(format!("unknown key `{shown}`: `{}` belongs in the table [{table}]", entry.key))
            }
        }
        None => {
            let tables: Vec<String> = cmd
                .get_arguments()
                .filter(|a| is_setting(a))
                .map(|a| table_of(a.get_help_heading()))
                .collect();
            match &entry.table {
                Some(t) if !tables.contains(t) => Err(format!(
                    "unknown table [{t}] (key `{}`); the tables are {}",
                    entry.key,
                    dedup(tables).iter().map(|t| format!("[{t}]")).collect::<Vec<_>>().join(" ")
                )),
                _ => Err(format!(
                    "unknown key `{shown}` (`rabid-hole-punch serve --help` lists every setting)"
                )),
            }
        }
    }
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = Vec::new();
    v.retain(|t| {
        let new = !seen.contains(t);
        if new {
            seen.push(t.clone());
        }
        new
    });
    v
}

/// Whether `arg` is a switch (`--no-relay`): a boolean in the file.
fn is_switch(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::SetTrue)
}

/// Whether `arg` takes a number (a TOML integer in the file).
fn is_number(arg: &Arg) -> bool {
    arg.get_value_names().is_some_and(|n| n.iter().any(|n| NUMBERS.contains(&n.as_str())))
}

/// The command-line form of an entry for `arg`, or a wrong-type error.
fn flag_args(arg: &Arg, entry: &Entry) -> Result<Vec<OsString>, String> {
    let long = arg.get_long().unwrap_or_default();
    let flag = OsString::from(format!("--{long}"));
    let wrong =
        |expected: &str| Err(format!("`{}` must be {expected}, not {}", entry.key, entry.value.type_name()));
    if is_switch(arg) {
        return match entry.value {
            FileValue::Bool(true) => Ok(vec![flag]),
            FileValue::Bool(false) => Ok(vec![]),
            _ => wrong("true or false"),
        };
    }
    let text = match (&entry.value, is_number(arg)) {
        (FileValue::Int(i), true) => i.to_string(),
        (_, true) => return wrong("an integer"),
        (FileValue::Str(s), false) => s.clone(),
        (_, false) => return wrong("a string"),
    };
    // `--flag=value`, so a value starting with `-` is not taken for a flag.
    let mut joined = flag;
    joined.push("=");
    joined.push(text);
    Ok(vec![joined])
}

/// The environment variable whose value is refused, with clap's reason (`None` if none is).
fn env_error() -> Option<String> {
    let cmd = plain_command();
    for arg in cmd.get_arguments().filter(|a| is_setting(a) || a.get_long() == Some("config")) {
        let long = arg.get_long().unwrap_or_default();
        let name = env_name(long);
        let Some(value) = std::env::var_os(&name) else { continue };
        let flag = if is_switch(arg) {
            // clap reads a switch's variable as a boolean.
            match value.to_str() {
                Some("true" | "false" | "1" | "0" | "yes" | "no" | "on" | "off" | "") => continue,
                _ => {
                    return Some(format!("environment variable {name}: must be true or false, not {value:?}"))
                }
            }
        } else {
            let mut f = OsString::from(format!("--{long}="));
            f.push(&value);
            f
        };
        if let Err(e) = plain_command().try_get_matches_from(argv_of(&[flag])) {
            return Some(format!("environment variable {name}: {}", first_line(&e)));
        }
    }
    None
}

/// The settings as a TOML file (`--print-config`): one table per help heading, every key, with
/// where its value came from.
fn render(cmd: &clap::Command, matches: &ArgMatches, first: &ArgMatches, from_file: bool) -> String {
    let mut out = String::from(
        "# rabid-hole-punch serve: the effective configuration (usable as --config).\n\
         # After each value: where it came from (default, file, environment, flag).\n",
    );
    let mut tables: Vec<String> = Vec::new();
    for arg in cmd.get_arguments().filter(|a| is_setting(a)) {
        let t = table_of(arg.get_help_heading());
        if !tables.contains(&t) {
            tables.push(t);
        }
    }
    for table in tables {
        let _ = write!(out, "\n[{table}]\n");
        for arg in cmd.get_arguments().filter(|a| is_setting(a) && table_of(a.get_help_heading()) == table) {
            let id = arg.get_id().as_str();
            let long = arg.get_long().unwrap_or_default();
            let source = match first.value_source(id) {
                Some(ValueSource::CommandLine) => "flag",
                Some(ValueSource::EnvVariable) => "environment",
                _ if from_file && matches.value_source(id) == Some(ValueSource::CommandLine) => "file",
                _ => "default",
            };
            let raw =
                matches.get_raw(id).and_then(|mut v| v.next()).map(|v| v.to_string_lossy().into_owned());
            let value = if is_switch(arg) {
                Some(matches.get_flag(id).to_string())
            } else {
                raw.map(|r| if is_number(arg) && r.parse::<i64>().is_ok() { r } else { quote(&r) })
            };
            match value {
                Some(v) => {
                    let _ = writeln!(out, "{long} = {v}  # {source}");
                }
                None => {
                    let _ = writeln!(out, "# {long} = (not set: see `serve --help`)");
                }
            }
        }
    }
    out
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(q, "\\u{:04X}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}
