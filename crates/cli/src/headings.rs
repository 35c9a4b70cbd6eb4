//! The headings of `serve --help`, in the README's order; each is also a table of the `--config`
//! file (see [`crate::config_layers::table_of`]). Shared by the flags ([`crate::serve_args`],
//! [`crate::ops`]) and the config file's layers.

pub const SOCKET: &str = "Socket";
pub const TIMERS: &str = "Protocol timers (the original server's values)";
pub const BUDGET: &str = "Anti-reflection budget (never send an address much more than it sent)";
pub const CAPS: &str = "Caps (per source IP and in total)";
pub const NAT: &str = "NAT traversal and relay";
pub const LOGGING: &str = "Logging";
pub const METRICS: &str = "Metrics and health";
pub const CLUSTER: &str = "Cluster (several nodes sharing session names through Redis/Valkey)";
pub const CONFIG: &str = "Configuration";
