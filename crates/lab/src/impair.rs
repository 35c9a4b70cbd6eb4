//! Link impairments without netem: loss by an nftables `numgen` drop rule, delay by an NFQUEUE
//! delay line (a user-space program holds each packet, then accepts it). The lab measures every
//! impairment before trusting it (see [`LinkCondition::check`]).

use crate::probe::PingStats;
use crate::sh::{LabError, Result};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A condition applied to each client's link (both directions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkCondition {
    /// Drop probability per packet and direction, in 1/1000.
    pub loss_permille: u32,
    /// One-way delay added per direction, in ms.
    pub delay_ms: u32,
}

impl LinkCondition {
    /// No impairment.
    pub const CLEAN: LinkCondition = LinkCondition { loss_permille: 0, delay_ms: 0 };
    /// 10% loss and 50 ms one-way delay, each direction.
    pub const LOSSY: LinkCondition = LinkCondition { loss_permille: 100, delay_ms: 50 };

    /// Human label, e.g. "clean" or "10% loss + 50 ms one-way delay".
    pub fn label(&self) -> String {
        if *self == Self::CLEAN {
            return "clean".into();
        }
        let pct = self.loss_permille as f64 / 10.0;
        format!("{pct}% loss + {} ms one-way delay", self.delay_ms)
    }

    /// Short stable name for the command line.
    pub fn name(&self) -> String {
        if *self == Self::CLEAN {
            "clean".into()
        } else {
            format!("loss{}-delay{}", self.loss_permille / 10, self.delay_ms)
        }
    }

    /// nft ruleset dropping `loss_permille`/1000 of the packets arriving on `dev`, before
    /// conntrack sees them (as a lossy link would). IPv6 neighbour discovery is spared, as ARP
    /// is for IPv4 (not IP, so never seen here): the impairment is the same on both families'
    /// datagrams, not a neighbour cache that stays unresolved for seconds.
    pub fn loss_ruleset(&self, dev: &str) -> String {
        let p = self.loss_permille;
        format!(
            "table inet lab_impair {{\n  chain ingress {{\n    \
             type filter hook prerouting priority -400; policy accept;\n    \
             icmpv6 type {{ {ND_TYPES} }} accept\n    \
             iifname \"{dev}\" numgen random mod 1000 < {p} drop\n  }}\n}}\n"
        )
    }

    /// Expected round-trip loss through ONE impaired client link (both directions impaired).
    pub fn expected_rtt_loss(&self) -> f64 {
        let p = self.loss_permille as f64 / 1000.0;
        1.0 - (1.0 - p) * (1.0 - p)
    }

    /// Checks a ping measured from behind ONE impaired link against this condition: the median
    /// round trip must show the delay (twice the one-way delay, within [-10%, +60 ms]), and the
    /// loss must be plausible for the configured rate (a binomial band wide enough for `sent`).
    /// An impairment that silently does nothing fails here.
    pub fn check(&self, stats: &PingStats) -> Result<()> {
        let want_rtt = 2.0 * self.delay_ms as f64;
        let rtt = stats.median_rtt_ms();
        if rtt < want_rtt * 0.9 || rtt > want_rtt + 60.0 {
            return Err(LabError::Check(format!(
                "delay not in effect: median round trip {rtt:.1} ms, want ≈{want_rtt:.0} ms ({})",
                self.label()
            )));
        }
        let want = self.expected_rtt_loss();
        let got = stats.loss();
        let n = stats.sent.max(1) as f64;
        let sd = (want * (1.0 - want) / n).sqrt();
        let (lo, hi) = if want == 0.0 { (0.0, 0.02) } else { ((want - 4.0 * sd).max(0.0), want + 4.0 * sd) };
        if got < lo || got > hi || (want > 0.0 && stats.received == stats.sent) {
            return Err(LabError::Check(format!(
                "loss not as configured: {:.1}% of {} round trips lost, want {:.1}% (band {:.1}–{:.1}%) ({})",
                got * 100.0,
                stats.sent,
                want * 100.0,
                lo * 100.0,
                hi * 100.0,
                self.label()
            )));
        }
        Ok(())
    }
}

/// The ICMPv6 neighbour discovery messages (nft names) that no impairment touches.
pub const ND_TYPES: &str = "nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert";

/// The ICMPv6 neighbour discovery messages (ip6tables names) the delay line lets pass at once.
pub const ND_TYPES_IP6TABLES: [&str; 2] = ["neighbour-solicitation", "neighbour-advertisement"];

/// Arguments of the helper's delay line subcommand.
pub fn delay_line_args(queue: u16, delay_ms: u32) -> Vec<String> {
    vec![
        "delay".into(),
        "--queue".into(),
        queue.to_string(),
        "--delay-ms".into(),
        delay_ms.to_string(),
        "--max-s".into(),
        "900".into(),
    ]
}

/// The delay line: binds NFQUEUE `queue` in the current namespace and accepts every packet
/// `delay` after it arrived (FIFO, so order is kept). Prints `ready` once bound. Runs for at most
/// `max_life`, then exits (a lab that died cannot leave it running for ever).
pub fn run_delay_line(queue: u16, delay: Duration, max_life: Duration) -> Result<()> {
    let mut q = nfq::Queue::open()?;
    q.bind(queue)?;
    q.set_queue_max_len(queue, 4096)?;
    q.set_nonblocking(true);
    println!("ready queue={queue} delay_ms={}", delay.as_millis());
    let end = Instant::now() + max_life;
    let mut held: VecDeque<(Instant, nfq::Message)> = VecDeque::new();
    while Instant::now() < end {
        let mut got = false;
        loop {
            match q.recv() {
                Ok(mut msg) => {
                    msg.set_verdict(nfq::Verdict::Accept);
                    held.push_back((Instant::now() + delay, msg));
                    got = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => break,
                Err(e) => return Err(e.into()),
            }
        }
        let now = Instant::now();
        while held.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, msg)) = held.pop_front() {
                q.verdict(msg)?;
            }
        }
        if !got {
            let nap = held
                .front()
                .map(|(t, _)| t.saturating_duration_since(now))
                .unwrap_or(Duration::from_millis(1))
                .min(Duration::from_millis(1));
            std::thread::sleep(nap);
        }
    }
    Ok(())
}
