//! `--stream PPS:BYTES:SECS` (script mode): a steady game-like stream to every peer over the
//! mesh's paths (direct or relayed), and what arrived of the peers' streams: loss and one-way
//! latency. Both players run on the same clock in the NAT lab, so one-way latency is the send
//! time carried in the datagram subtracted from the arrival time (across machines it is only as
//! good as their clock sync).
//!
//! Datagram: `t:<seq>:<unix micros>:` padded with `.` to BYTES. One line per peer at the end:
//! `stream peer=<p> sent=<n> received=<m> loss_pct=<x> p50_ms=<a> p99_ms=<b> path=<direct|relay>`.

use rhp_client::{ClientError, Mesh, Path};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Most datagrams per second, bytes per datagram and seconds a stream may ask for.
const MAX_PPS: u32 = 1000;
const MAX_BYTES: usize = 1200;
const MAX_SECS: u32 = 3600;
/// After our stream ends, the peers' streams (which may have started later: each player starts
/// once its own `--expect` is met) are received until none came for this long…
const QUIET: Duration = Duration::from_millis(1500);
/// …or at most this long.
const DRAIN_MAX: Duration = Duration::from_secs(10);

/// A stream's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream {
    /// Datagrams per second to each peer.
    pub pps: u32,
    /// Bytes per datagram.
    pub bytes: usize,
    /// How long it runs.
    pub secs: u32,
}

/// Parses `PPS:BYTES:SECS`.
pub fn parse(s: &str) -> Result<Stream, String> {
    let bad = || {
        format!("{s:?}: expected PPS:BYTES:SECS, e.g. 30:200:30 (pps 1-{MAX_PPS}, bytes 32-{MAX_BYTES}, secs 1-{MAX_SECS})")
    };
    let v: Vec<&str> = s.split(':').collect();
    let [pps, bytes, secs] = v.as_slice() else { return Err(bad()) };
    let pps: u32 = pps.parse().map_err(|_| bad())?;
    let bytes: usize = bytes.parse().map_err(|_| bad())?;
    let secs: u32 = secs.parse().map_err(|_| bad())?;
    if !(1..=MAX_PPS).contains(&pps) || !(32..=MAX_BYTES).contains(&bytes) || !(1..=MAX_SECS).contains(&secs)
    {
        return Err(bad());
    }
    Ok(Stream { pps, bytes, secs })
}

fn unix_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

pub(crate) fn datagram(seq: u64, bytes: usize) -> Vec<u8> {
    let mut d = format!("t:{seq}:{}:", unix_micros()).into_bytes();
    d.resize(bytes.max(d.len()), b'.');
    d
}

/// Stream datagrams that arrived before our own stream began (a peer whose `--expect` was met
/// first starts first): `(peer, one-way latency in µs)`, taken when they arrived.
pub type Early = Vec<(String, u64)>;

/// Keeps `data` in `early` if it is a stream datagram; true when it was one (and is not a
/// message of the script's exchange).
pub fn stash(early: &mut Early, peer: &str, data: &[u8]) -> bool {
    match read(data) {
        Some((_, lat)) => {
            if early.len() < usize::try_from(MAX_PPS * MAX_SECS).unwrap_or(usize::MAX) {
                early.push((peer.to_owned(), lat));
            }
            true
        }
        None => false,
    }
}

/// `(seq, one-way latency in µs)` of a stream datagram.
pub(crate) fn read(data: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(data.strip_prefix(b"t:")?).ok()?;
    let mut f = text.split(':');
    let seq = f.next()?.parse().ok()?;
    let sent: u64 = f.next()?.parse().ok()?;
    Some((seq, unix_micros().saturating_sub(sent)))
}

#[derive(Default)]
struct Received {
    count: u64,
    latencies_us: Vec<u64>,
}

fn pct(v: &[u64], p: usize) -> f64 {
    let rank = (v.len() * p).div_ceil(100).max(1);
    v.get(rank - 1).map_or(f64::NAN, |us| *us as f64 / 1000.0)
}

/// Runs the stream to every reachable peer and prints one line per peer. Peers keep being
/// answered meanwhile (the mesh is driven while it waits).
pub async fn run(mesh: &mut Mesh, s: Stream, early: Early) -> Result<(), ClientError> {
    let peers: Vec<String> = mesh.connected().into_iter().map(|p| p.name).collect();
    eprintln!(
        "streaming {} datagrams/s of {} bytes to {} peer(s) for {} s",
        s.pps,
        s.bytes,
        peers.len(),
        s.secs
    );
    let every = Duration::from_secs(1) / s.pps;
    let total = u64::from(s.pps) * u64::from(s.secs);
    let start = Instant::now();
    let end = start + Duration::from_secs(u64::from(s.secs));
    let mut got: BTreeMap<String, Received> = BTreeMap::new();
    for (peer, lat) in early {
        let e = got.entry(peer).or_default();
        e.count += 1;
        e.latencies_us.push(lat);
    }
    let mut seq = 0u64;
    let mut next = start;
    let mut last_heard = start;
    // The path each peer's stream took (a peer that finished first and left has none at the end).
    let mut paths: BTreeMap<String, &'static str> = BTreeMap::new();
    loop {
        let now = Instant::now();
        if seq < total && now >= next {
            for p in mesh.peers() {
                if let Some(name) = path_name(p.path()) {
                    paths.insert(p.name, name);
                }
            }
            let d = datagram(seq, s.bytes);
            for p in &peers {
                // A peer whose path is gone for the moment loses this one, like UDP would.
                let _ = mesh.send(p, &d).await;
            }
            seq += 1;
            next += every;
            continue;
        }
        let drain_until = (end.max(last_heard) + QUIET).min(end + DRAIN_MAX);
        if seq >= total && now >= drain_until {
            break;
        }
        let wake = if seq < total { next } else { drain_until };
        if let Ok(r) = tokio::time::timeout_at(wake, mesh.recv()).await {
            let (peer, data) = r?;
            if let Some((_, lat)) = read(&data) {
                last_heard = Instant::now();
                let e = got.entry(peer).or_default();
                e.count += 1;
                e.latencies_us.push(lat);
            }
        }
    }
    for p in mesh.peers() {
        let mut r = got.remove(&p.name).unwrap_or_default();
        r.latencies_us.sort_unstable();
        let loss = 100.0 * (1.0 - r.count as f64 / total as f64);
        let path = path_name(p.path()).or_else(|| paths.get(&p.name).copied()).unwrap_or("none");
        println!(
            "stream peer={} sent={total} received={} loss_pct={loss:.1} p50_ms={:.1} p99_ms={:.1} path={path}",
            p.name,
            r.count,
            pct(&r.latencies_us, 50),
            pct(&r.latencies_us, 99)
        );
    }
    Ok(())
}

/// `relay` or `direct`; None without a path.
fn path_name(path: Option<Path>) -> Option<&'static str> {
    match path? {
        Path::Relay => Some("relay"),
        Path::Direct(..) => Some("direct"),
    }
}
