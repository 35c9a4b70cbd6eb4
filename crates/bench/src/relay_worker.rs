//! One relay load process (`rhp-bench relay` starts it): a slice of the pairs, two UDP sockets per
//! pair (players A and B, bound to this worker's loopback address, connected to the target), one
//! thread on an epoll loop (mio). Driven like [`crate::worker`]: one command line per phase on
//! stdin, one `result` line per phase on stdout.
//!
//! A round trip is two passes through the target. Against the server: A sends a relay data frame
//! for B (hop 0), the relay forwards it to B's socket, B sends it back for A (hop 1), the relay
//! forwards it to A. Against an echo the same frame bytes go out and come back to A's socket,
//! which sends them again (hop 1). So both do the same work per round trip (two target passes, two
//! loader wake-ups, four system calls on each side), and their round-trip times compare directly.
//!
//! The payload (`size` bytes): sequence number (8, LE), send time in µs (8), hop (1), then filler
//! derived from the sequence number, so every arrival is checked byte for byte.

use crate::hist::Hist;
use rhp_proto::relay::{FromServer, Grant, ToServer, TO_HEADER};
use rhp_server::shell::batch::{RecvBatch, SendBatch};
use std::collections::VecDeque;
use std::io::{self, BufRead, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// Bytes of the payload before the filler.
pub const PAYLOAD_HEAD: usize = 17;
/// Largest payload (the server forwards frames of up to 2,048 bytes).
pub const PAYLOAD_MAX: usize = 2000;

/// What a relay worker is given on its command line.
#[derive(Debug, Clone, clap::Args)]
pub struct RelayWorkerArgs {
    /// The target (server or echo).
    #[arg(long)]
    pub target: SocketAddr,
    /// Local address its sockets bind to (unless `--own-ips`).
    #[arg(long)]
    pub bind_ip: IpAddr,
    /// Every player binds its own loopback address (pair k's players: `127.16.0.1 + 2k` and the
    /// next), as players behind their own routers are seen on the internet.
    #[arg(long)]
    pub own_ips: bool,
    /// First pair number (pairs are numbered over all workers; pair k's session is `R<k>`).
    #[arg(long)]
    pub first_pair: u32,
    /// Pairs of this worker.
    #[arg(long)]
    pub pairs: u32,
    /// The target is the server: set the pairs up as sessions with relay grants and send relay
    /// frames with their tokens (else an echo: no set-up, token 0).
    #[arg(long)]
    pub relay: bool,
    /// A round trip unfinished this long is counted lost.
    #[arg(long, default_value_t = 200)]
    pub loss_timeout_ms: u64,
    /// The worker exits by itself after this long, whatever happens.
    #[arg(long, default_value_t = 900)]
    pub max_secs: u64,
}

struct Side {
    sock: mio::net::UdpSocket,
    fd: RawFd,
    /// Relay token (0 against an echo).
    token: u64,
    /// The other member's index in the grant.
    to: u8,
    joined: bool,
    granted: bool,
    started: bool,
    last_sent: Option<u64>,
}

struct Pair {
    session: String,
    /// A (the host) and B.
    sides: [Side; 2],
    /// Round trips under way: (sequence number, send time), oldest first.
    out: VecDeque<(u64, u64)>,
    r_sent: Option<u64>,
    s_sent: Option<u64>,
}

impl Pair {
    fn ready(&self) -> bool {
        self.sides.iter().all(|s| s.granted && s.started)
    }
}

const NAMES: [&str; 2] = ["A", "B"];

/// The counts of one phase.
#[derive(Debug, Default)]
struct Counts {
    /// Frames sent (both hops).
    sent: u64,
    /// Frames that came back right (payload checked), phase and tail.
    arrived: u64,
    /// Of those, while the phase ran.
    passes: u64,
    /// Frames with a wrong payload, length or socket.
    bad: u64,
    /// Relay only: arrived frames exactly 8 bytes shorter than the frame that carried them.
    short8: u64,
    /// Refusal frames from the relay.
    refused: u64,
    /// Anything else (start rounds of the set-up, …).
    other: u64,
    /// Round trips started, finished, finished after being counted lost, lost.
    started: u64,
    rt_ok: u64,
    rt_late: u64,
    lost: u64,
    send_err: u64,
}

struct Worker {
    args: WorkerConfig,
    pairs: Vec<Pair>,
    poll: mio::Poll,
    events: mio::Events,
    rx: RecvBatch,
    tx: SendBatch,
    epoch: Instant,
    next_seq: u64,
    payload: Vec<u8>,
    frame: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct WorkerConfig {
    relay: bool,
    loss_us: u64,
}

/// Runs a relay worker until `quit`, end of input or `max_secs`.
pub fn run(args: RelayWorkerArgs) -> io::Result<()> {
    let max = Duration::from_secs(args.max_secs);
    std::thread::spawn(move || {
        std::thread::sleep(max);
        eprintln!("rhp-bench relay worker: {} s passed, exiting", max.as_secs());
        std::process::exit(2);
    });
    let mut w = Worker::new(&args)?;
    let mut out = io::stdout();
    writeln!(out, "ready pairs={}", w.pairs.len())?;
    out.flush()?;
    for line in io::stdin().lock().lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| words.get(i).and_then(|w| w.parse::<u64>().ok()).unwrap_or(0);
        let result = match words.first().copied() {
            Some("setup") => w.setup(num(1).max(1)),
            Some("closed") => w.phase(num(1), num(2) as usize, Load::Closed(num(3).clamp(1, 64) as usize)),
            Some("rate") => w.phase(num(1), num(2) as usize, Load::Rate(num(3).clamp(1, 100_000))),
            Some("quit") | None => break,
            Some(other) => format!("error unknown command {other}"),
        };
        writeln!(out, "result {result}")?;
        out.flush()?;
    }
    Ok(())
}

/// How a phase loads the target.
#[derive(Debug, Clone, Copy)]
enum Load {
    /// This many round trips under way per pair at all times.
    Closed(usize),
    /// Each pair starts this many round trips per second (each player sends as many frames).
    Rate(u64),
}

/// Filler byte `i` of sequence number `seq`'s payload.
fn fill(seq: u64, i: usize) -> u8 {
    ((seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8) ^ (i as u8)
}

/// Writes a payload of `size` bytes (at least [`PAYLOAD_HEAD`]).
pub fn write_payload(out: &mut Vec<u8>, seq: u64, at_us: u64, hop: u8, size: usize) {
    out.clear();
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&at_us.to_le_bytes());
    out.push(hop);
    out.extend((PAYLOAD_HEAD..size.max(PAYLOAD_HEAD)).map(|i| fill(seq, i)));
}

/// (sequence number, send time, hop) of a payload of `size` bytes, if every byte is right.
pub fn check_payload(p: &[u8], size: usize) -> Option<(u64, u64, u8)> {
    if p.len() != size || size < PAYLOAD_HEAD {
        return None;
    }
    let seq = u64::from_le_bytes(p.get(0..8)?.try_into().ok()?);
    let at = u64::from_le_bytes(p.get(8..16)?.try_into().ok()?);
    let hop = *p.get(16)?;
    let filler_ok = p.iter().enumerate().skip(PAYLOAD_HEAD).all(|(i, &b)| b == fill(seq, i));
    (hop <= 1 && filler_ok).then_some((seq, at, hop))
}

impl Worker {
    fn new(args: &RelayWorkerArgs) -> io::Result<Worker> {
        let poll = mio::Poll::new()?;
        let mut pairs = Vec::new();
        for k in args.first_pair..args.first_pair + args.pairs {
            let side = |slot: usize| -> io::Result<Side> {
                let ip = if args.own_ips {
                    crate::worker::player_ip(k * 2 + slot as u32 % 2)
                } else {
                    args.bind_ip
                };
                let std_sock = std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?;
                std_sock.connect(args.target)?;
                std_sock.set_nonblocking(true)?;
                let mut sock = mio::net::UdpSocket::from_std(std_sock);
                poll.registry().register(&mut sock, mio::Token(slot), mio::Interest::READABLE)?;
                Ok(Side {
                    fd: sock.as_raw_fd(),
                    sock,
                    token: 0,
                    to: 0,
                    joined: false,
                    granted: !args.relay,
                    started: !args.relay,
                    last_sent: None,
                })
            };
            let n = pairs.len() * 2;
            let sides = [side(n)?, side(n + 1)?];
            pairs.push(Pair {
                session: format!("R{k}"),
                sides,
                out: VecDeque::with_capacity(64),
                r_sent: None,
                s_sent: None,
            });
        }
        Ok(Worker {
            args: WorkerConfig { relay: args.relay, loss_us: args.loss_timeout_ms * 1000 },
            pairs,
            poll,
            events: mio::Events::with_capacity(1024),
            rx: RecvBatch::new(64, 2048),
            tx: SendBatch::new(64, 2048),
            epoch: Instant::now(),
            next_seq: 1,
            payload: Vec::with_capacity(2048),
            frame: Vec::with_capacity(2048),
        })
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn wait(&mut self, us: u64) -> Vec<usize> {
        let _ = self.poll.poll(&mut self.events, Some(Duration::from_micros(us)));
        self.events.iter().map(|e| e.token().0).collect()
    }

    fn send_text(side: &mut Side, text: &str, now: u64) {
        side.last_sent = Some(now);
        let _ = side.sock.send(text.as_bytes());
    }

    /// Hosts and joins every pair's session (`h:`, `c:`), asks for the relay from both (`r:`),
    /// starts it (`s:`) and reads both grants, `rate` sessions per second; retries what goes
    /// unanswered. Bounded in time.
    fn setup(&mut self, rate: u64) -> String {
        if !self.args.relay {
            return "pairs=0 ready=0 setup_us=0 retries=0 errors=0 bad_grants=0 refused=0".into();
        }
        let n = self.pairs.len() as u64;
        let start = self.now();
        let deadline = start + 20_000_000 + n * 4_000_000 / rate;
        let (mut active, mut retries, mut errors, mut bad_grants, mut refused) =
            (0u64, 0u64, 0u64, 0u64, 0u64);
        let mut next_scan = start;
        loop {
            let t = self.now();
            let ready = self.pairs.iter().filter(|p| p.ready()).count() as u64;
            if ready == n || t >= deadline {
                break;
            }
            active = active.max((((t - start) as u128 * rate as u128 / 1_000_000) as u64 + 1).min(n));
            if t >= next_scan {
                next_scan = t + 5_000;
                for p in self.pairs.iter_mut().take(active as usize) {
                    retries += Self::step(p, t);
                }
            }
            for tok in self.wait(2_000) {
                let (pi, si) = (tok / 2, tok % 2);
                let Some(p) = self.pairs.get_mut(pi) else { continue };
                let side = &mut p.sides[si];
                while let Ok(k) = self.rx.recv(side.fd) {
                    for i in 0..k {
                        let Some((data, _)) = self.rx.get(i) else { continue };
                        if data.starts_with(b"i:") {
                            side.joined = true;
                        } else if data.starts_with(b"r:") {
                            match Grant::parse(data) {
                                Ok(g) => {
                                    let me = g.members.iter().position(|m| m == NAMES[si]);
                                    let peer = g.members.iter().position(|m| m == NAMES[1 - si]);
                                    if let (Some(_), Some(peer)) = (me, peer) {
                                        side.token = g.token;
                                        side.to = peer as u8;
                                        side.granted = true;
                                    } else {
                                        bad_grants += 1;
                                    }
                                }
                                Err(_) => bad_grants += 1,
                            }
                        } else if data.starts_with(b"s:") {
                            side.started = true;
                        } else if data.starts_with(b"error:session_non_existent") && si == 1 && !side.joined {
                            side.last_sent = None; // the host's h: not through yet: join again
                        } else if matches!(FromServer::parse(data), Ok(FromServer::Refused(_))) {
                            refused += 1;
                        } else {
                            errors += 1;
                        }
                    }
                    if k < self.rx.capacity() {
                        break;
                    }
                }
            }
        }
        let setup_us = self.now() - start;
        let ready = self.pairs.iter().filter(|p| p.ready()).count();
        // Let the remaining start rounds (8 × 100 ms by default) go by before any phase.
        self.settle(1_000_000);
        format!(
            "pairs={n} ready={ready} setup_us={setup_us} retries={retries} errors={errors} \
             bad_grants={bad_grants} refused={refused}"
        )
    }

    /// One set-up step of pair `p` at `t`; returns the retries it sent.
    fn step(p: &mut Pair, t: u64) -> u64 {
        let s = p.session.clone();
        let stale = |side: &Side, us: u64| side.last_sent.is_none_or(|at| t.saturating_sub(at) >= us);
        let [a, b] = &mut p.sides;
        if !a.joined {
            if stale(a, 500_000) {
                let retry = u64::from(a.last_sent.is_some());
                Self::send_text(a, &format!("h:{s}:A:2"), t);
                return retry;
            }
        } else if !b.joined {
            if stale(b, 500_000) {
                let retry = u64::from(b.last_sent.is_some());
                Self::send_text(b, &format!("c:{s}:B"), t);
                return retry;
            }
        } else if p.r_sent.is_none() {
            Self::send_text(a, &format!("r:{s}:A"), t);
            Self::send_text(b, &format!("r:{s}:B"), t);
            p.r_sent = Some(t);
        } else if p.s_sent.is_none() {
            // Both r: are in the server's queue before the s: (same thread, same destination);
            // a short pause anyway.
            if p.r_sent.is_some_and(|r| t.saturating_sub(r) >= 10_000) {
                Self::send_text(a, &format!("s:{s}:A"), t);
                p.s_sent = Some(t);
            }
        } else if p.s_sent.is_some_and(|at| t.saturating_sub(at) >= 300_000) {
            // In a starting session r: is answered with the start message and its grant.
            let mut retries = 0;
            for (side, name) in [(a, "A"), (b, "B")] {
                if !(side.granted && side.started) {
                    Self::send_text(side, &format!("r:{s}:{name}"), t);
                    retries += 1;
                }
            }
            p.s_sent = Some(t);
            return retries;
        }
        0
    }

    /// Receives and discards for `us` microseconds.
    fn settle(&mut self, us: u64) {
        let end = self.now() + us;
        while self.now() < end {
            for tok in self.wait(5_000) {
                self.drain_discard(tok);
            }
        }
        for tok in 0..self.pairs.len() * 2 {
            self.drain_discard(tok);
        }
    }

    fn drain_discard(&mut self, tok: usize) {
        let Some(side) = self.pairs.get(tok / 2).map(|p| &p.sides[tok % 2]) else { return };
        while let Ok(k) = self.rx.recv(side.fd) {
            if k < self.rx.capacity() {
                break;
            }
        }
    }

    /// Queues a data frame from `side` of `pair` (on `self.tx`, for that side's socket); a full
    /// batch is sent first (counted in `c`).
    fn push_frame(&mut self, pair: usize, side: usize, c: &mut Counts) {
        let s = &self.pairs[pair].sides[side];
        self.frame.clear();
        ToServer::Data { token: s.token, to: s.to, payload: &self.payload }.write_to(&mut self.frame);
        if !self.tx.push(None, &self.frame) {
            // The batch is full: send what is queued first.
            let fd = s.fd;
            c.send_err += self.flush_tx(fd, &mut c.sent);
            self.tx.push(None, &self.frame);
        }
    }

    /// Starts a round trip from pair `pair`'s A (queued on `self.tx`).
    fn start_round_trip(&mut self, pair: usize, size: usize, now: u64, c: &mut Counts) {
        let seq = self.next_seq;
        self.next_seq += 1;
        write_payload(&mut self.payload, seq, now, 0, size);
        self.push_frame(pair, 0, c);
        self.pairs[pair].out.push_back((seq, now));
        c.started += 1;
    }

    /// Sends everything queued on `self.tx` from `fd`; adds what went to `sent`.
    fn flush_tx(&mut self, fd: RawFd, sent: &mut u64) -> u64 {
        let mut errs = 0;
        let mut tries = 0;
        while !self.tx.is_empty() && tries < 1000 {
            tries += 1;
            match self.tx.send(fd) {
                Ok(k) => *sent += k as u64,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => crate::echo::wait(fd, libc::POLLOUT),
                Err(_) => {
                    self.tx.skip_front();
                    errs += 1;
                }
            }
        }
        while !self.tx.is_empty() {
            self.tx.skip_front();
            errs += 1;
        }
        errs
    }

    /// Everything waiting on socket `tok`: checks each frame, bounces hop 0 back from the same
    /// socket, finishes round trips at hop 1 (and, closed loop, starts the next one).
    fn on_readable(
        &mut self,
        tok: usize,
        size: usize,
        running: bool,
        refill: bool,
        c: &mut Counts,
        h: &mut Hist,
    ) {
        let (pi, si) = (tok / 2, tok % 2);
        let Some(fd) = self.pairs.get(pi).map(|p| p.sides[si].fd) else { return };
        let relay = self.args.relay;
        loop {
            let now = self.now();
            let Ok(k) = self.rx.recv(fd) else { break };
            for i in 0..k {
                let Some((data, _)) = self.rx.get(i) else { continue };
                let payload = if relay {
                    match FromServer::parse(data) {
                        Ok(FromServer::Data { from, payload }) => {
                            if from != self.pairs[pi].sides[si].to {
                                c.bad += 1;
                                continue;
                            }
                            payload
                        }
                        Ok(FromServer::Refused(_)) => {
                            c.refused += 1;
                            continue;
                        }
                        _ => {
                            c.other += 1;
                            continue;
                        }
                    }
                } else {
                    match ToServer::parse(data) {
                        Ok(ToServer::Data { payload, .. }) => payload,
                        _ => {
                            c.other += 1;
                            continue;
                        }
                    }
                };
                let Some((seq, at, hop)) = check_payload(payload, size) else {
                    c.bad += 1;
                    continue;
                };
                // Through the relay hop 0 lands on B, hop 1 on A; an echo returns both to A.
                let want_side = if relay { 1 - usize::from(hop) } else { 0 };
                if si != want_side {
                    c.bad += 1;
                    continue;
                }
                c.arrived += 1;
                // What we sent was TO_HEADER + size bytes.
                if relay && data.len() + 8 == TO_HEADER + size {
                    c.short8 += 1;
                }
                if running {
                    c.passes += 1;
                }
                if hop == 0 {
                    self.payload.clear();
                    self.payload.extend_from_slice(payload);
                    self.payload[16] = 1;
                    self.push_frame(pi, si, c);
                    continue;
                }
                let out = &mut self.pairs[pi].out;
                match out.iter().position(|&(s, _)| s == seq) {
                    Some(pos) => {
                        out.remove(pos);
                        c.rt_ok += 1;
                        h.record(now.saturating_sub(at));
                        if refill {
                            self.start_round_trip(pi, size, now, c);
                        }
                    }
                    None => c.rt_late += 1,
                }
            }
            c.send_err += self.flush_tx(fd, &mut c.sent);
            if k < self.rx.capacity() {
                break;
            }
        }
    }

    /// One closed-loop or fixed-rate phase of `ms` milliseconds with `size`-byte payloads, then
    /// its tail (round trips under way finish or are counted lost).
    fn phase(&mut self, ms: u64, size: usize, load: Load) -> String {
        let size = size.clamp(PAYLOAD_HEAD, PAYLOAD_MAX);
        for tok in 0..self.pairs.len() * 2 {
            self.drain_discard(tok);
        }
        let active: Vec<usize> = (0..self.pairs.len()).filter(|&i| self.pairs[i].ready()).collect();
        let n = active.len() as u64;
        let loss_us = self.args.loss_us;
        let mut c = Counts::default();
        let mut h = Hist::default();
        let mut lag_max = 0u64;
        for p in &mut self.pairs {
            p.out.clear();
        }
        let start = self.now();
        let end = start + ms * 1000;
        if let Load::Closed(window) = load {
            for &pi in &active {
                for _ in 0..window {
                    self.start_round_trip(pi, size, start, &mut c);
                }
                let fd = self.pairs[pi].sides[0].fd;
                c.send_err += self.flush_tx(fd, &mut c.sent);
            }
        }
        let mut k = 0u64; // fixed rate: round trips started so far
        let mut next_scan = start + 20_000;
        loop {
            let t = self.now();
            if t >= end || n == 0 {
                break;
            }
            let mut wait_us = (end - t).min(5_000);
            if let Load::Rate(pps) = load {
                let per_s = n * pps;
                let due = ((t - start) as u128 * per_s as u128 / 1_000_000) as u64 + 1;
                while k < due {
                    let sched = start + (k as u128 * 1_000_000 / per_s as u128) as u64;
                    lag_max = lag_max.max(t.saturating_sub(sched));
                    let pi = active[(k % n) as usize];
                    self.start_round_trip(pi, size, t, &mut c);
                    let fd = self.pairs[pi].sides[0].fd;
                    c.send_err += self.flush_tx(fd, &mut c.sent);
                    k += 1;
                }
                let next = start + (k as u128 * 1_000_000 / per_s as u128) as u64;
                wait_us = wait_us.min(next.saturating_sub(self.now()).max(1));
            }
            let refill = matches!(load, Load::Closed(_));
            for tok in self.wait(wait_us) {
                self.on_readable(tok, size, true, refill, &mut c, &mut h);
            }
            let t = self.now();
            if t >= next_scan {
                next_scan = t + 20_000;
                for &pi in &active {
                    let mut expired = 0;
                    while self.pairs[pi].out.front().is_some_and(|&(_, at)| t.saturating_sub(at) > loss_us) {
                        self.pairs[pi].out.pop_front();
                        expired += 1;
                    }
                    c.lost += expired;
                    if refill && expired > 0 {
                        for _ in 0..expired {
                            self.start_round_trip(pi, size, t, &mut c);
                        }
                        let fd = self.pairs[pi].sides[0].fd;
                        c.send_err += self.flush_tx(fd, &mut c.sent);
                    }
                }
            }
        }
        let elapsed = self.now() - start;
        // Tail: no new round trips; bounce and finish the ones under way.
        let tail_end = self.now() + loss_us;
        while self.now() < tail_end && self.pairs.iter().any(|p| !p.out.is_empty()) {
            for tok in self.wait(5_000) {
                self.on_readable(tok, size, false, false, &mut c, &mut h);
            }
        }
        for p in &mut self.pairs {
            c.lost += p.out.len() as u64;
            p.out.clear();
        }
        // Stragglers (a hop-0 frame still bouncing) must not leak into the next phase.
        self.settle(20_000);
        format!(
            "pairs={n} sent={} arrived={} passes={} bad={} short8={} refused={} other={} started={} rt_ok={} \
             rt_late={} lost={} send_err={} elapsed_us={elapsed} lag_max_us={lag_max} hist={}",
            c.sent,
            c.arrived,
            c.passes,
            c.bad,
            c.short8,
            c.refused,
            c.other,
            c.started,
            c.rt_ok,
            c.rt_late,
            c.lost,
            c.send_err,
            h.encode()
        )
    }
}
