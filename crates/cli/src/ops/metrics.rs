//! The Prometheus exposition: an engine [`Snapshot`], the process's figures and the kernel's
//! receive drops, encoded by `prometheus-client` at scrape time, in OpenMetrics text for a scraper
//! that asks for it (Prometheus does) and in the classic text format (0.0.4) otherwise (curl,
//! promtool). Nothing is counted here: every value was counted where it happened and is only read.

use super::process::{KernelDrops, ProcessStats};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use rhp_cluster_shell::Seen;
use rhp_server::stats::{CAPS, ERROR_CODES, REQUEST_KINDS, START_BUCKETS};
use rhp_server::Snapshot;
use std::fmt;

/// The two text formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text.
    OpenMetrics,
    /// The classic Prometheus text format, version 0.0.4.
    Classic,
}

impl Format {
    /// OpenMetrics if the `Accept` header names it, else the classic format.
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Classic,
        }
    }

    /// The `Content-Type` of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Classic => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        }
    }
}

/// What one scrape shows.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    /// The engine's counters; `None` if the loop did not answer in time (then only the process is
    /// shown, and `rhp_engine_up` is 0).
    pub engine: Option<Snapshot>,
    /// The process's figures (from /proc; absent elsewhere).
    pub process: Option<ProcessStats>,
    /// Datagrams the kernel dropped on our sockets (main, alternate), if it can be read.
    pub drops: KernelDrops,
    /// A cluster node's state (`None` for a single node: no `rhp_cluster_*` metric then).
    pub cluster: Option<Seen>,
}

/// The exposition of `scrape` in `format`.
pub fn render(scrape: Scrape, format: Format) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    let mut out = String::with_capacity(16 * 1024);
    match format {
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry)?,
        Format::Classic => prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?,
    }
    Ok(out)
}

/// A few helpers over [`DescriptorEncoder`] for constant values.
struct Out<'a, 'b>(&'a mut DescriptorEncoder<'b>);

impl Out<'_, '_> {
    fn counter(&mut self, name: &str, help: &str, unit: Option<Unit>, v: u64) -> fmt::Result {
        let e = self.0.encode_descriptor(name, help, unit.as_ref(), MetricType::Counter)?;
        ConstCounter::new(v).encode(e)
    }

    fn gauge<N: prometheus_client::encoding::EncodeGaugeValue>(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        v: N,
    ) -> fmt::Result {
        let e = self.0.encode_descriptor(name, help, unit.as_ref(), MetricType::Gauge)?;
        ConstGauge::new(v).encode(e)
    }

    /// A counter family with one label.
    fn counters(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        label: &str,
        values: &[(&str, u64)],
    ) -> fmt::Result {
        let mut e = self.0.encode_descriptor(name, help, unit.as_ref(), MetricType::Counter)?;
        for (value, n) in values {
            let labels = [(label, *value)];
            ConstCounter::new(*n).encode(e.encode_family(&labels)?)?;
        }
        Ok(())
    }

    /// A gauge family with one label.
    fn gauges(&mut self, name: &str, help: &str, label: &str, values: &[(&str, u64)]) -> fmt::Result {
        let mut e = self.0.encode_descriptor(name, help, None, MetricType::Gauge)?;
        for (value, n) in values {
            let labels = [(label, *value)];
            ConstGauge::new(*n).encode(e.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let mut o = Out(&mut encoder);
        let version = [("version", env!("CARGO_PKG_VERSION"))];
        let e = o.0.encode_descriptor("rhp_build", "The server's version.", None, MetricType::Info)?;
        prometheus_client::metrics::info::Info::new(version).encode(e)?;
        o.gauge(
            "rhp_engine_up",
            "1 if the engine loop answered this scrape, 0 if it did not in time.",
            None,
            u64::from(self.engine.is_some()),
        )?;
        if let Some(s) = &self.engine {
            engine(&mut o, s)?;
        }
        let drops: Vec<(&str, u64)> = [("main", self.drops.main), ("alt", self.drops.alt)]
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect();
        if !drops.is_empty() {
            o.counters(
                "rhp_kernel_receive_drops",
                "Datagrams the kernel dropped on our UDP sockets (receive queue full), by socket.",
                None,
                "socket",
                &drops,
            )?;
        }
        if let Some(c) = &self.cluster {
            cluster(&mut o, c)?;
        }
        if let Some(p) = &self.process {
            process(&mut o, p)?;
        }
        Ok(())
    }
}

fn engine(o: &mut Out<'_, '_>, s: &Snapshot) -> fmt::Result {
    o.gauges(
        "rhp_sessions",
        "Sessions held, by phase (open: accepting joins; starting: sending start messages).",
        "phase",
        &[("open", s.sessions_open as u64), ("starting", s.sessions_starting as u64)],
    )?;
    o.gauge("rhp_players", "Players held over all sessions.", None, s.players as u64)?;
    o.counter(
        "rhp_datagrams_received",
        "Datagrams received on both ports (requests, STUN, relay frames).",
        None,
        s.datagrams_in,
    )?;
    o.counter("rhp_received", "Bytes of the datagrams received.", Some(Unit::Bytes), s.bytes_in)?;
    o.counter(
        "rhp_datagrams_sent",
        "Datagrams handed to the sockets to send, from both ports.",
        None,
        s.datagrams_out,
    )?;
    o.counter("rhp_sent", "Bytes of the datagrams sent.", Some(Unit::Bytes), s.bytes_out)?;
    let kinds: Vec<(&str, u64)> = REQUEST_KINDS.iter().copied().zip(s.requests).collect();
    o.counters(
        "rhp_requests",
        "Text datagrams by request kind (nat: e:, relay: r:, private: q:, also: v:; invalid: malformed; unknown: unknown type).",
        None,
        "kind",
        &kinds,
    )?;
    let codes: Vec<(&str, u64)> = ERROR_CODES.iter().map(|c| c.as_str()).zip(s.errors).collect();
    o.counters("rhp_error_replies", "error: replies sent, by code.", None, "code", &codes)?;
    let caps: Vec<(&str, u64)> = CAPS.iter().copied().zip(s.refusals).collect();
    o.counters("rhp_refusals", "h:/c: requests refused by a cap, by cap.", None, "cap", &caps)?;
    o.counters(
        "rhp_stun_requests",
        "STUN datagrams received, by port (main, alternate).",
        None,
        "port",
        &[("main", s.stun[0]), ("alt", s.stun[1])],
    )?;
    o.counter(
        "rhp_budget_held_back_datagrams",
        "Datagrams the anti-reflection budget held back (not sent, or sent later).",
        None,
        s.budget_held_back,
    )?;
    o.counter(
        "rhp_budget_held_back",
        "Bytes of the datagrams the budget held back.",
        Some(Unit::Bytes),
        s.budget_held_back_bytes,
    )?;
    o.gauges(
        "rhp_tracked_ips",
        "Addresses each per-IP table tracks (budget: addresses; rate_limiter and sessions_per_ip: IPs).",
        "table",
        &[
            ("budget", s.budget_tracked as u64),
            ("rate_limiter", s.rate_tracked as u64),
            ("sessions_per_ip", s.per_ip_tracked as u64),
            ("password_guard", s.guard.networks_tracked as u64),
        ],
    )?;
    o.gauge("rhp_timers", "Entries in the timer queue (live or stale).", None, s.timers as u64)?;
    o.counter(
        "rhp_also_dropped",
        "v: requests dropped without an answer (unchecked, or the answer did not fit the budget).",
        None,
        s.also_dropped,
    )?;
    o.gauge(
        "rhp_also_addresses",
        "Players' proven addresses in the other family (v:) held.",
        None,
        s.also_held as u64,
    )?;
    o.counter("rhp_password_failures", "Password checks that failed.", None, s.guard.failed_checks)?;
    o.counter(
        "rhp_password_guesses_refused",
        "Password guesses refused unchecked by the guard (per network and per session limits).",
        None,
        s.guard.refused_unchecked,
    )?;
    o.counter(
        "rhp_banned_joins_refused",
        "Joins refused because a kick keeps the player out.",
        None,
        s.guard.refused_banned,
    )?;
    relay(o, s)?;
    let mut buckets: Vec<(f64, u64)> = START_BUCKETS.iter().copied().zip(s.start.buckets).collect();
    buckets.push((f64::INFINITY, s.start.buckets[START_BUCKETS.len()]));
    let e = o.0.encode_descriptor(
        "rhp_start_duration",
        "Time from a host's s: to the first round of start messages (every player's), in seconds.",
        Some(&Unit::Seconds),
        MetricType::Histogram,
    )?;
    let mut e = e;
    e.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
        s.start.sum_seconds,
        s.start.count,
        &buckets,
        None,
    )
}

/// The process's figures, under the names every Prometheus client library uses.
fn process(o: &mut Out<'_, '_>, p: &ProcessStats) -> fmt::Result {
    let e = o.0.encode_descriptor(
        "process_cpu",
        "Total user and system CPU time spent in seconds.",
        Some(&Unit::Seconds),
        MetricType::Counter,
    )?;
    ConstCounter::new(p.cpu_seconds).encode(e)?;
    o.gauge(
        "process_resident_memory",
        "Resident memory size in bytes.",
        Some(Unit::Bytes),
        p.resident_bytes,
    )?;
    o.gauge("process_virtual_memory", "Virtual memory size in bytes.", Some(Unit::Bytes), p.virtual_bytes)?;
    o.gauge("process_open_fds", "Number of open file descriptors.", None, p.open_fds)?;
    if let Some(max) = p.max_fds {
        o.gauge("process_max_fds", "Maximum number of open file descriptors.", None, max)?;
    }
    o.gauge(
        "process_start_time",
        "Start time of the process since unix epoch in seconds.",
        Some(Unit::Seconds),
        p.start_time_seconds,
    )
}

fn relay(o: &mut Out<'_, '_>, s: &Snapshot) -> fmt::Result {
    let r = &s.relay;
    o.gauge("rhp_relay_sessions", "Relayed sessions alive.", None, r.sessions_live as u64)?;
    o.counter("rhp_relay_sessions_created", "Relayed sessions created.", None, r.sessions_created)?;
    o.gauge("rhp_relay_members", "Relay members alive (tokens that count).", None, r.members_live as u64)?;
    o.counter("rhp_relay_grants", "Relay grants made (tokens handed out).", None, r.grants)?;
    o.counter("rhp_relay_frames_received", "Relay frames received.", None, r.frames_in)?;
    o.counter("rhp_relay_received", "Bytes of the relay frames received.", Some(Unit::Bytes), r.bytes_in)?;
    o.counter("rhp_relay_frames_forwarded", "Relay data frames forwarded.", None, r.frames_forwarded)?;
    o.counter(
        "rhp_relay_forwarded",
        "Bytes of the relay frames forwarded (as sent).",
        Some(Unit::Bytes),
        r.bytes_forwarded,
    )?;
    o.counter(
        "rhp_relay_frames_dropped",
        "Relay frames dropped without a word (malformed, unknown token).",
        None,
        r.frames_dropped,
    )?;
    o.counter("rhp_relay_binds", "Relay binds answered.", None, r.binds)?;
    o.counter("rhp_relay_rebinds", "Relay members that moved to a new address.", None, r.rebinds)?;
    o.counter("rhp_relay_leaves", "Relay members that left.", None, r.leaves)?;
    o.counters(
        "rhp_relay_refusals",
        "Relay frames or grants refused, by reason.",
        None,
        "reason",
        &[
            ("player_rate", r.refused_player_rate),
            ("lifetime", r.refused_lifetime),
            ("per_ip", r.refused_per_ip),
            ("server_rate", r.refused_server_rate),
            ("no_such_member", r.refused_no_such_member),
        ],
    )
}

/// A cluster node's figures (issue 19), from its [`rhp_cluster::NodeStatus`].
fn cluster(o: &mut Out<'_, '_>, seen: &Seen) -> fmt::Result {
    let Some(s) = &seen.status else { return Ok(()) };
    o.gauge(
        "rhp_cluster_store_up",
        "1 while the cluster store answers in time, 0 from a missed deadline until it answers again.",
        None,
        u64::from(s.store_up),
    )?;
    o.gauge(
        "rhp_cluster_owned_names",
        "Session names this node owns (claimed in the store).",
        None,
        s.owned as u64,
    )?;
    o.gauge(
        "rhp_cluster_cached_names",
        "Session names cached as owned by another node.",
        None,
        s.cached as u64,
    )?;
    o.gauges(
        "rhp_cluster_routes",
        "Players served through two nodes, by side (entry: this node forwards them to the owner; owner: their datagrams come through another node).",
        "side",
        &[("entry", s.entry_routes as u64), ("owner", s.remote_routes as u64)],
    )?;
    o.gauge(
        "rhp_cluster_held_names",
        "Session names whose datagrams wait for the store.",
        None,
        s.held_names as u64,
    )?;
    o.gauge(
        "rhp_cluster_store_in_flight",
        "Store requests waiting for their answer.",
        None,
        s.store_inflight as u64,
    )?;
    o.counter(
        "rhp_cluster_store_requests",
        "Store requests made (claims, refreshes, releases, lookups, heartbeats, live-node queries).",
        None,
        s.store_requests,
    )?;
    let ops: Vec<(&str, u64)> =
        rhp_cluster_shell::view::STORE_OPS.iter().copied().zip(seen.store_ops).collect();
    o.counters(
        "rhp_cluster_store_operations",
        "Store operations started, by kind (claim, refresh, release, lookup, heartbeat, nodes: the live-nodes query).",
        None,
        "op",
        &ops,
    )?;
    o.counter(
        "rhp_cluster_store_timeouts",
        "Store requests that missed their deadline.",
        None,
        s.store_timeouts,
    )?;
    o.counter(
        "rhp_cluster_store_errors",
        "Store commands that failed or did not answer in time.",
        None,
        seen.store_errors,
    )?;
    o.counter(
        "rhp_cluster_store_refusals",
        "Datagrams refused with an error because the store was unreachable.",
        None,
        s.refused_store,
    )?;
    o.counters(
        "rhp_cluster_frames",
        "Frames between nodes, by direction (bad: no valid frame from a known node).",
        None,
        "direction",
        &[("sent", s.frames_out), ("received", s.frames_in), ("bad", s.frames_bad)],
    )?;
    o.counter(
        "rhp_cluster_dropped",
        "Datagrams dropped by the cluster's rules (hold full, store request rate spent, a second hop).",
        None,
        s.dropped,
    )?;
    o.counter(
        "rhp_cluster_bounced",
        "Forwarded datagrams a former owner bounced (a stale cache entry here).",
        None,
        s.bounced,
    )?;
    o.counter(
        "rhp_cluster_claims_lost",
        "Owned names found claimed by another node on refresh (after a store outage).",
        None,
        s.claims_lost,
    )?;
    o.gauge(
        "rhp_cluster_peers_dead",
        "Peers whose heartbeat the store no longer has.",
        None,
        s.peers_dead as u64,
    )
}
