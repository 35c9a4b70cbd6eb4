//! `rhp-lab`: a small internet made of Linux network namespaces with kernel NATs (nftables),
//! in which the real `rabid-hole-punch` server and clients run.
//!
//! # Layout
//! - [`sh`]: bounded command runs and the process guard (kill by PID on drop).
//! - [`netns`]: namespace guard, stale sweep, preflight check.
//! - [`nat`]: NAT behaviours as data and the nftables ruleset of each.
//! - [`topo`]: the [`topo::Lab`]: internet, server, routers, clients.
//! - [`impair`]: loss (nft `numgen`) and delay (NFQUEUE delay line), and their measurement check.
//! - [`probe`]: the lab's own UDP programs (echo, ping, classifier, mini rendezvous + punch).
//! - [`theory`]: what each scenario should do for a client of given capabilities.
//! - [`matrix`]: scenarios, the runner, and per-cell results.
//! - [`report`]: the Markdown report of a matrix run.
//!
//! Needs root (or a private user namespace), `ip`, `nft`, `conntrack` and `iptables` (NFQUEUE).

pub mod impair;
pub mod matrix;
pub mod nat;
pub mod netns;
pub mod probe;
pub mod report;
pub mod sh;
pub mod theory;
pub mod topo;

pub use sh::{LabError, Result};
