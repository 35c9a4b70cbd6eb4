//! `rhp-lab`: a small internet made of Linux network namespaces with kernel NATs (nftables),
//! in which the real `rabid-hole-punch` server and clients run.
//!
//! # Layout
//! - [`sh`]: bounded command runs and the process guard (kill by PID on drop).
//! - [`netns`]: namespace guard, stale sweep, preflight check.
//! - [`nat`]: NAT behaviours as data and the nftables ruleset of each.
//! - [`family`]: IPv4 only, IPv6 only, dual stack: what a player's network gives it.
//! - [`topo`]: the [`topo::Lab`]: internet, server, routers, clients.
//! - [`impair`]: loss (nft `numgen`) and delay (NFQUEUE delay line), and their measurement check.
//! - [`probe`]: the lab's own UDP programs (echo, ping, classifier, greetings): they measure the lab.
//! - [`scenario`]: the scenario model: access types, scenarios, the standard cells.
//! - [`theory`]: what each scenario should do for a client of given capabilities.
//! - [`cell`]: one cell's attempts and whether they match the theory.
//! - [`output`]: reading the product client's stdout lines.
//! - [`product_bin`]: where the `rabid-hole-punch` binary is.
//! - [`runner`]: builds one lab per cell and runs its attempts, several labs at once.
//! - [`report`]: the Markdown report of a matrix run.
//! - [`matrix`]: `rhp-lab matrix`: its arguments, run, reruns, report.
//!
//! Needs root (or a private user namespace), `ip`, `nft`, `conntrack` and `iptables` (NFQUEUE).

pub mod cell;
pub mod family;
pub mod impair;
pub mod matrix;
pub mod nat;
pub mod netns;
pub mod output;
pub mod probe;
pub mod product_bin;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod sh;
pub mod theory;
pub mod topo;

pub use sh::{LabError, Result};
