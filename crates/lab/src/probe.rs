//! The lab's own small UDP programs, run inside namespaces through the `rhp-lab` helper binary:
//! an echo/classifier service, a round-trip prober, a NAT classifier, and plain UDP greetings
//! (for the firewall tests). They measure the lab (its links, its NATs, its firewalls);
//! rendezvous and punching are only ever the product's.
//!
//! Every loop here is bounded by a deadline.

use crate::nat::Filtering;
use crate::sh::{LabError, Result};
use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Round trips measured by [`ping`].
#[derive(Clone, Debug, PartialEq)]
pub struct PingStats {
    /// Datagrams sent.
    pub sent: u32,
    /// Echoes received.
    pub received: u32,
    /// Round trip of each echo, µs.
    pub rtts_us: Vec<u64>,
}

impl PingStats {
    /// Fraction of round trips lost.
    pub fn loss(&self) -> f64 {
        if self.sent == 0 {
            return 1.0;
        }
        1.0 - self.received as f64 / self.sent as f64
    }

    /// Median round trip in ms (infinite when nothing came back).
    pub fn median_rtt_ms(&self) -> f64 {
        let mut v = self.rtts_us.clone();
        v.sort_unstable();
        match v.get(v.len() / 2) {
            Some(us) => *us as f64 / 1000.0,
            None => f64::INFINITY,
        }
    }

    /// One line: `ping sent=N received=M rtts_us=a,b,c`.
    pub fn render(&self) -> String {
        let rtts: Vec<String> = self.rtts_us.iter().map(u64::to_string).collect();
        format!("ping sent={} received={} rtts_us={}", self.sent, self.received, rtts.join(","))
    }

    /// Parses [`PingStats::render`]'s line (anywhere in `out`).
    pub fn parse(out: &str) -> Option<PingStats> {
        let line = out.lines().find(|l| l.starts_with("ping "))?;
        let f = fields(line);
        let rtts_us = match f.get("rtts_us") {
            Some(s) if !s.is_empty() => s.split(',').map(|x| x.parse().ok()).collect::<Option<Vec<u64>>>()?,
            _ => Vec::new(),
        };
        Some(PingStats {
            sent: f.get("sent")?.parse().ok()?,
            received: f.get("received")?.parse().ok()?,
            rtts_us,
        })
    }
}

/// `key=value` fields of a line.
pub fn fields(line: &str) -> HashMap<&str, &str> {
    line.split_whitespace().filter_map(|w| w.split_once('=')).collect()
}

/// Echo/classifier service on several sockets (one thread each) for at most `max_life`:
/// - `ping …` is echoed back as is;
/// - `map` is answered `obs <source ip:port>`;
/// - `poke` makes every OTHER socket send `poked <its address>` to the source.
pub fn echo_service(binds: &[SocketAddr], max_life: Duration) -> Result<()> {
    let mut socks = Vec::new();
    for b in binds {
        let s = UdpSocket::bind(b)?;
        s.set_read_timeout(Some(Duration::from_millis(200)))?;
        socks.push(s);
    }
    let socks = Arc::new(socks);
    println!("ready");
    let end = Instant::now() + max_life;
    let mut threads = Vec::new();
    for i in 0..socks.len() {
        let socks = socks.clone();
        threads.push(std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while Instant::now() < end {
                let (n, from) = match socks[i].recv_from(&mut buf) {
                    Ok(x) => x,
                    Err(_) => continue,
                };
                let msg = &buf[..n];
                if msg.starts_with(b"ping") {
                    let _ = socks[i].send_to(msg, from);
                } else if msg == b"map" {
                    let _ = socks[i].send_to(format!("obs {from}").as_bytes(), from);
                } else if msg == b"poke" {
                    for (j, s) in socks.iter().enumerate() {
                        if j != i {
                            if let Ok(me) = s.local_addr() {
                                let _ = s.send_to(format!("poked {me}").as_bytes(), from);
                            }
                        }
                    }
                }
            }
        }));
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

/// Sends `count` pings `interval` apart and collects echoes until 600 ms after the last send.
pub fn ping(server: SocketAddr, count: u32, interval: Duration) -> Result<PingStats> {
    let sock = UdpSocket::bind(any_port(server))?;
    let rx = sock.try_clone()?;
    rx.set_read_timeout(Some(Duration::from_millis(20)))?;
    let start = Instant::now();
    let stop = start + interval * count + Duration::from_millis(600);
    let receiver = std::thread::spawn(move || {
        let mut got: HashMap<u32, Instant> = HashMap::new();
        let mut buf = [0u8; 1500];
        while Instant::now() < stop {
            if let Ok((n, _)) = rx.recv_from(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]);
                if let Some(seq) = text.strip_prefix("ping ").and_then(|s| s.parse().ok()) {
                    got.entry(seq).or_insert_with(Instant::now);
                }
            }
        }
        got
    });
    let mut sent_at = Vec::new();
    for seq in 0..count {
        let due = start + interval * seq;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        sent_at.push(Instant::now());
        sock.send_to(format!("ping {seq}").as_bytes(), server)?;
    }
    let got = receiver.join().map_err(|_| LabError::Check("ping receiver panicked".into()))?;
    let mut rtts_us = Vec::new();
    for (seq, t) in &got {
        if let Some(s) = sent_at.get(*seq as usize) {
            rtts_us.push(t.saturating_duration_since(*s).as_micros() as u64);
        }
    }
    Ok(PingStats { sent: count, received: rtts_us.len() as u32, rtts_us })
}

/// The unspecified address of `to`'s family, any port.
fn any_port(to: SocketAddr) -> SocketAddr {
    match to {
        SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
    }
}

/// Sends `req` to `to` (up to 5 times, 300 ms apart) until a reply starting with `want` arrives.
fn ask(sock: &UdpSocket, to: SocketAddr, req: &[u8], want: &str) -> Result<String> {
    sock.set_read_timeout(Some(Duration::from_millis(300)))?;
    let mut buf = [0u8; 1500];
    for _ in 0..5 {
        sock.send_to(req, to)?;
        let until = Instant::now() + Duration::from_millis(300);
        while Instant::now() < until {
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                if let Some(rest) = text.strip_prefix(want) {
                    return Ok(rest.trim().to_string());
                }
            }
        }
    }
    Err(LabError::Check(format!("no `{want}` reply from {to}")))
}

/// What the classifier saw from behind a NAT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classification {
    /// The local (inside) port of the mapping probe socket.
    pub local_port: u16,
    /// Public endpoint seen by server address 1.
    pub mapped1: SocketAddr,
    /// Public endpoint seen by server address 2 (same socket).
    pub mapped2: SocketAddr,
    /// Sources whose unsolicited `poked` datagrams got in (filtering probe, fresh socket).
    pub poked_from: Vec<SocketAddr>,
}

impl Classification {
    /// Endpoint-independent mapping: same public endpoint towards both server addresses.
    pub fn endpoint_independent_mapping(&self) -> bool {
        self.mapped1 == self.mapped2
    }

    /// Filtering, from which unsolicited sources got in. `contacted` is the server endpoint the
    /// filtering socket had sent to.
    pub fn filtering(&self, contacted: SocketAddr) -> Filtering {
        if self.poked_from.iter().any(|a| a.ip() != contacted.ip()) {
            Filtering::EndpointIndependent
        } else if self.poked_from.iter().any(|a| a.ip() == contacted.ip() && a.port() != contacted.port()) {
            Filtering::AddressDependent
        } else {
            Filtering::AddressAndPortDependent
        }
    }

    /// One line for the helper's stdout.
    pub fn render(&self) -> String {
        let p: Vec<String> = self.poked_from.iter().map(|a| a.to_string()).collect();
        format!(
            "classify local_port={} mapped1={} mapped2={} poked={}",
            self.local_port,
            self.mapped1,
            self.mapped2,
            p.join(",")
        )
    }

    /// Parses [`Classification::render`]'s line.
    pub fn parse(out: &str) -> Option<Classification> {
        let line = out.lines().find(|l| l.starts_with("classify "))?;
        let f = fields(line);
        let poked_from = match f.get("poked") {
            Some(s) if !s.is_empty() => s.split(',').map(|x| x.parse().ok()).collect::<Option<Vec<_>>>()?,
            _ => Vec::new(),
        };
        Some(Classification {
            local_port: f.get("local_port")?.parse().ok()?,
            mapped1: f.get("mapped1")?.parse().ok()?,
            mapped2: f.get("mapped2")?.parse().ok()?,
            poked_from,
        })
    }
}

/// The classifier: mapping probe (one socket, `map` to two server addresses) then filtering
/// probe (a fresh socket contacts `s1` only, asks it to `poke`, and lists what got in).
pub fn classify(s1: SocketAddr, s2: SocketAddr) -> Result<Classification> {
    let sock = UdpSocket::bind("0.0.0.0:0")?;
    let local_port = sock.local_addr()?.port();
    let mapped1: SocketAddr = ask(&sock, s1, b"map", "obs ")?.parse().map_err(|_| bad("obs"))?;
    let mapped2: SocketAddr = ask(&sock, s2, b"map", "obs ")?.parse().map_err(|_| bad("obs"))?;
    let f = UdpSocket::bind("0.0.0.0:0")?;
    ask(&f, s1, b"map", "obs ")?;
    f.set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut poked_from = Vec::new();
    let mut buf = [0u8; 1500];
    // Three pokes in case one is lost, then 600 ms of listening.
    for _ in 0..3 {
        f.send_to(b"poke", s1)?;
        let until = Instant::now() + Duration::from_millis(200);
        while Instant::now() < until {
            match f.recv_from(&mut buf) {
                Ok((n, from)) if buf[..n].starts_with(b"poked") && !poked_from.contains(&from) => {
                    poked_from.push(from)
                }
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    poked_from.sort();
    Ok(Classification { local_port, mapped1, mapped2, poked_from })
}

fn bad(what: &str) -> LabError {
    LabError::Check(format!("malformed `{what}` reply"))
}

/// What [`greet`] heard: each source and how many datagrams came from it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Heard(pub Vec<(SocketAddr, u32)>);

impl Heard {
    /// Datagrams from `from`.
    pub fn from(&self, from: SocketAddr) -> u32 {
        self.0.iter().find(|(a, _)| *a == from).map_or(0, |(_, n)| *n)
    }

    /// One line: `heard from=a,b counts=n,m`.
    pub fn render(&self) -> String {
        let from: Vec<String> = self.0.iter().map(|(a, _)| a.to_string()).collect();
        let counts: Vec<String> = self.0.iter().map(|(_, n)| n.to_string()).collect();
        format!("heard from={} counts={}", from.join(","), counts.join(","))
    }

    /// Parses [`Heard::render`]'s line (anywhere in `out`).
    pub fn parse(out: &str) -> Option<Heard> {
        let line = out.lines().find(|l| l.starts_with("heard "))?;
        let f = fields(line);
        let list = |k: &str| -> Vec<&str> {
            f.get(k).map_or(Vec::new(), |s| s.split(',').filter(|x| !x.is_empty()).collect())
        };
        let from = list("from");
        let counts = list("counts");
        if from.len() != counts.len() {
            return None;
        }
        let pairs = from.iter().zip(&counts).map(|(a, n)| Some((a.parse().ok()?, n.parse().ok()?)));
        Some(Heard(pairs.collect::<Option<Vec<_>>>()?))
    }
}

/// Plain UDP greetings, for the firewall tests: binds `bind`, prints `ready`, sends `greet <i>`
/// to every peer `count` times `interval` apart while listening, then listens `linger` more;
/// returns every source heard from (a greeting is not answered).
pub fn greet(
    bind: SocketAddr,
    peers: &[SocketAddr],
    count: u32,
    interval: Duration,
    linger: Duration,
) -> Result<Heard> {
    let sock = UdpSocket::bind(bind)?;
    sock.set_read_timeout(Some(Duration::from_millis(5)))?;
    println!("ready");
    let start = Instant::now();
    let end = start + interval * count + linger;
    let mut heard: Vec<(SocketAddr, u32)> = Vec::new();
    let mut sent = 0;
    let mut buf = [0u8; 1500];
    while Instant::now() < end {
        if sent < count && Instant::now() >= start + interval * sent {
            for p in peers {
                sock.send_to(format!("greet {sent}").as_bytes(), p)?;
            }
            sent += 1;
        }
        if let Ok((_, from)) = sock.recv_from(&mut buf) {
            match heard.iter_mut().find(|(a, _)| *a == from) {
                Some((_, n)) => *n += 1,
                None => heard.push((from, 1)),
            }
        }
    }
    Ok(Heard(heard))
}
