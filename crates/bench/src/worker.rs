//! One load-generating process: a slice of the sessions, one UDP socket per player (bound to its
//! own loopback address, or with --own-ips each player to an address of its own; connected to the
//! target), one thread on an epoll loop (mio). The
//! coordinator drives it with one command line per phase on stdin and reads one `result` line per
//! phase from stdout.
//!
//! Replies are matched to requests per player, oldest first (the protocol has no request ids). A
//! ping unanswered after the loss timeout is counted lost and, closed-loop, replaced at once, so a
//! lost reply costs one player one slot for that long and never stalls the others.

use crate::hist::Hist;
use rhp_server::shell::batch::{RecvBatch, SendBatch};
use std::collections::VecDeque;
use std::io::{self, BufRead, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// What a worker is given on its command line.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    /// The target (server or echo).
    #[arg(long)]
    pub target: SocketAddr,
    /// Local address its players' sockets bind to (one loopback address per worker, so that each
    /// has the whole ephemeral port range); unused with --own-ips.
    #[arg(long)]
    pub bind_ip: IpAddr,
    /// Each player binds to its own loopback address, [`player_ip`] of its number over all
    /// workers (Linux accepts a bind to any 127/8 address), as real players each have their own.
    #[arg(long)]
    pub own_ips: bool,
    /// First session number.
    #[arg(long)]
    pub first_session: u32,
    /// Sessions of this worker.
    #[arg(long)]
    pub sessions: u32,
    /// Players per session (the host included).
    #[arg(long)]
    pub per_session: u32,
    /// The target is an echo: no set-up, a reply is right when it equals the request.
    #[arg(long)]
    pub echo: bool,
    /// A request unanswered this long is counted lost.
    #[arg(long, default_value_t = 200)]
    pub loss_timeout_ms: u64,
    /// The worker exits by itself after this long, whatever happens.
    #[arg(long, default_value_t = 900)]
    pub max_secs: u64,
}

/// Player `n`'s own loopback address (counting over all workers): 127.16.0.1 onwards, 2²⁰
/// addresses before 127.32/11.
pub fn player_ip(n: u32) -> IpAddr {
    IpAddr::V4(std::net::Ipv4Addr::from(0x7f10_0001u32.wrapping_add(n)))
}

struct Player {
    sock: mio::net::UdpSocket,
    fd: RawFd,
    port: u16,
    host: bool,
    join: Box<[u8]>,
    ping: Box<[u8]>,
    start: Box<[u8]>,
    confirm: Box<[u8]>,
    /// Send times (µs since the worker's epoch) of unanswered pings, oldest first.
    out: VecDeque<u64>,
    joined: bool,
    last_sent: u64,
    got_start: bool,
}

struct Worker {
    args: WorkerArgs,
    players: Vec<Player>,
    poll: mio::Poll,
    events: mio::Events,
    rx: RecvBatch,
    tx: SendBatch,
    epoch: Instant,
    loss_us: u64,
}

/// Runs a worker until `quit`, end of input or `max_secs`.
pub fn run(args: WorkerArgs) -> io::Result<()> {
    let max = Duration::from_secs(args.max_secs);
    std::thread::spawn(move || {
        std::thread::sleep(max);
        eprintln!("rhp-bench worker: {} s passed, exiting", max.as_secs());
        std::process::exit(2);
    });
    raise_fd_limit();
    let mut w = Worker::new(args)?;
    let mut out = io::stdout();
    writeln!(out, "ready players={}", w.players.len())?;
    out.flush()?;
    for line in io::stdin().lock().lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| words.get(i).and_then(|w| w.parse::<u64>().ok()).unwrap_or(0);
        let result = match words.first().copied() {
            Some("setup") => w.setup(num(1)),
            Some("closed") => w.closed(num(1), num(2).max(1) as usize, num(3).max(1) as usize),
            Some("rate") => w.rate(num(1), num(2).max(1)),
            Some("storm") => w.storm(num(1), num(2).max(1), num(3) != 0),
            Some("quit") | None => break,
            Some(other) => format!("error unknown command {other}"),
        };
        writeln!(out, "result {result}")?;
        out.flush()?;
    }
    Ok(())
}

fn raise_fd_limit() {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit read and write one valid rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn ok_reply(echo: bool, p: &Player, data: &[u8]) -> bool {
    if echo {
        data == &p.ping[..]
    } else {
        data.starts_with(b"i:")
    }
}

impl Worker {
    fn new(args: WorkerArgs) -> io::Result<Worker> {
        let poll = mio::Poll::new()?;
        let mut players = Vec::new();
        for s in args.first_session..args.first_session + args.sessions {
            for k in 0..args.per_session {
                let ip = if args.own_ips { player_ip(s * args.per_session + k) } else { args.bind_ip };
                let std_sock = std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?;
                std_sock.connect(args.target)?;
                std_sock.set_nonblocking(true)?;
                let port = std_sock.local_addr()?.port();
                let mut sock = mio::net::UdpSocket::from_std(std_sock);
                poll.registry().register(&mut sock, mio::Token(players.len()), mio::Interest::READABLE)?;
                let host = k == 0;
                let join = if host {
                    format!("h:S{s}:P{k}:{}", args.per_session.clamp(2, 12))
                } else {
                    format!("c:S{s}:P{k}")
                };
                players.push(Player {
                    fd: sock.as_raw_fd(),
                    sock,
                    port,
                    host,
                    join: join.into_bytes().into(),
                    ping: format!("p:S{s}:P{k}").into_bytes().into(),
                    start: format!("s:S{s}:P{k}").into_bytes().into(),
                    confirm: format!("y:S{s}:P{k}").into_bytes().into(),
                    out: VecDeque::with_capacity(8),
                    joined: false,
                    last_sent: 0,
                    got_start: false,
                });
            }
        }
        let loss_us = args.loss_timeout_ms * 1000;
        Ok(Worker {
            args,
            players,
            poll,
            events: mio::Events::with_capacity(1024),
            rx: RecvBatch::new(64, 2048),
            tx: SendBatch::new(64, 64),
            epoch: Instant::now(),
            loss_us,
        })
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// Waits up to `us` microseconds for readable sockets; their tokens are in `self.events`.
    fn wait(&mut self, us: u64) {
        let _ = self.poll.poll(&mut self.events, Some(Duration::from_micros(us)));
    }

    fn tokens(&self) -> Vec<usize> {
        self.events.iter().map(|e| e.token().0).collect()
    }

    /// Every datagram waiting on player `i`'s socket, handed to `f` with the time of receipt.
    fn drain(&mut self, i: usize, mut f: impl FnMut(&mut Player, &[u8], u64)) {
        let now = self.now();
        let Some(p) = self.players.get_mut(i) else { return };
        // A short batch means the queue was empty: the next arrival raises a new edge, so no
        // extra call just to see EAGAIN.
        while let Ok(n) = self.rx.recv(p.fd) {
            for k in 0..n {
                if let Some((data, _)) = self.rx.get(k) {
                    f(p, data, now);
                }
            }
            if n < self.rx.capacity() {
                break;
            }
        }
    }

    /// Discards whatever is waiting on any socket.
    fn drain_all(&mut self) {
        for i in 0..self.players.len() {
            self.drain(i, |_, _, _| {});
        }
    }

    /// Sends `n` pings from player `i` in one system call; returns how many went.
    fn send_pings(&mut self, i: usize, n: usize) -> usize {
        let now = self.now();
        let Some(p) = self.players.get_mut(i) else { return 0 };
        for _ in 0..n {
            self.tx.push(None, &p.ping);
        }
        let sent = self.tx.send(p.fd).unwrap_or(0);
        while !self.tx.is_empty() {
            self.tx.skip_front();
        }
        for _ in 0..sent {
            p.out.push_back(now);
        }
        sent
    }

    fn send_one(p: &mut Player, data: &[u8], now: u64) -> bool {
        p.last_sent = now;
        p.sock.send(data).is_ok()
    }

    /// Host and join every session, paced at `rate` requests per second; retries unanswered ones.
    fn setup(&mut self, rate: u64) -> String {
        if self.args.echo {
            return "joined=0 players=0 setup_us=0 retries=0 errors=0".into();
        }
        let rate = rate.max(1);
        let n = self.players.len() as u64;
        let start = self.now();
        let deadline = start + 20_000_000 + n * 2_000_000 / rate;
        let (mut k, mut retries, mut errors, mut joined) = (0u64, 0u64, 0u64, 0u64);
        let mut next_scan = start;
        while joined < n && self.now() < deadline {
            let t = self.now();
            let due = ((t - start) as u128 * rate as u128 / 1_000_000) as u64 + 1;
            while k < due.min(n) {
                let p = &mut self.players[k as usize];
                Self::send_one(p, &p.join.clone(), t);
                k += 1;
            }
            if t >= next_scan {
                next_scan = t + 50_000;
                for p in self.players.iter_mut().take(k as usize) {
                    if !p.joined && t.saturating_sub(p.last_sent) > 500_000 {
                        let join = p.join.clone();
                        Self::send_one(p, &join, t);
                        retries += 1;
                    }
                }
            }
            self.wait(1000);
            for i in self.tokens() {
                self.drain(i, |p, data, _| {
                    if data.starts_with(b"i:") {
                        if !p.joined {
                            p.joined = true;
                            joined += 1;
                        }
                    } else if data.starts_with(b"error:session_non_existent") {
                        p.last_sent = 0; // retry at the next scan
                    } else {
                        errors += 1;
                    }
                });
            }
        }
        let setup_us = self.now() - start;
        self.settle(300_000);
        format!("joined={joined} players={n} setup_us={setup_us} retries={retries} errors={errors}")
    }

    /// Receives and discards for `us` microseconds (the tail of a phase).
    fn settle(&mut self, us: u64) {
        let end = self.now() + us;
        while self.now() < end {
            self.wait(5000);
            for i in self.tokens() {
                self.drain(i, |_, _, _| {});
            }
        }
        self.drain_all();
    }

    /// Closed loop: `inflight` pings outstanding at all times, sent `window` at a time from one
    /// player (one sendmmsg); a player whose window is answered hands over to the next in turn,
    /// so every player takes part. Runs `ms` milliseconds.
    fn closed(&mut self, ms: u64, window: usize, inflight: usize) -> String {
        self.drain_all();
        let echo = self.args.echo;
        let loss_us = self.loss_us;
        let n = self.players.len();
        let mut hist = Hist::default();
        let (mut sent, mut ok, mut wrong, mut lost) = (0u64, 0u64, 0u64, 0u64);
        let mut outstanding = 0usize;
        let mut cursor = 0usize;
        for p in &mut self.players {
            p.out.clear();
        }
        let start = self.now();
        let end = start + ms * 1000;
        let mut next_scan = start + 20_000;
        loop {
            // Refill: the next idle players in turn, `window` pings each.
            let mut tries = 0;
            while outstanding + window <= inflight.max(window) && tries < n {
                let i = cursor % n;
                cursor += 1;
                tries += 1;
                if self.players[i].out.is_empty() {
                    let got = self.send_pings(i, window);
                    sent += got as u64;
                    outstanding += got;
                }
            }
            let t = self.now();
            if t >= end {
                break;
            }
            self.wait((end - t).min(5000));
            for i in self.tokens() {
                let mut answered = 0usize;
                self.drain(i, |p, data, now| {
                    let Some(at) = p.out.pop_front() else { return }; // a reply to a ping counted lost
                    hist.record(now.saturating_sub(at));
                    if ok_reply(echo, p, data) {
                        ok += 1;
                    } else {
                        wrong += 1;
                    }
                    answered += 1;
                });
                outstanding = outstanding.saturating_sub(answered);
            }
            let t = self.now();
            if t >= next_scan {
                next_scan = t + 20_000;
                for p in &mut self.players {
                    while p.out.front().is_some_and(|&at| t.saturating_sub(at) > loss_us) {
                        p.out.pop_front();
                        lost += 1;
                        outstanding = outstanding.saturating_sub(1);
                    }
                }
            }
        }
        let elapsed = self.now() - start;
        let in_phase = ok;
        let (late_ok, late_lost) = self.collect_tail(&mut hist, echo);
        lost += late_lost;
        format!(
            "sent={sent} ok={in_phase} late={late_ok} wrong={wrong} lost={lost} elapsed_us={elapsed} hist={}",
            hist.encode()
        )
    }

    /// After a phase: waits for replies still in flight (recording them), then counts the rest lost.
    fn collect_tail(&mut self, hist: &mut Hist, echo: bool) -> (u64, u64) {
        let end = self.now() + self.loss_us;
        let mut late = 0;
        while self.now() < end && self.players.iter().any(|p| !p.out.is_empty()) {
            self.wait(5000);
            for i in self.tokens() {
                self.drain(i, |p, data, now| {
                    if let Some(at) = p.out.pop_front() {
                        hist.record(now.saturating_sub(at));
                        if ok_reply(echo, p, data) {
                            late += 1;
                        }
                    }
                });
            }
        }
        let mut lost = 0;
        for p in &mut self.players {
            lost += p.out.len() as u64;
            p.out.clear();
        }
        self.drain_all();
        (late, lost)
    }

    /// Fixed rate: every player pings once per `interval_ms`, the players' pings spread evenly.
    fn rate(&mut self, ms: u64, interval_ms: u64) -> String {
        self.drain_all();
        let echo = self.args.echo;
        let loss_us = self.loss_us;
        let n = self.players.len() as u64;
        let interval = interval_ms * 1000;
        let mut hist = Hist::default();
        let (mut sent, mut ok, mut wrong, mut lost, mut lag_max, mut k) =
            (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
        let start = self.now();
        let end = start + ms * 1000;
        loop {
            let t = self.now();
            if t >= end || n == 0 {
                break;
            }
            let due = ((t - start) as u128 * n as u128 / interval as u128) as u64 + 1;
            while k < due {
                let sched = start + (k as u128 * interval as u128 / n as u128) as u64;
                lag_max = lag_max.max(t.saturating_sub(sched));
                let p = &mut self.players[(k % n) as usize];
                while p.out.front().is_some_and(|&at| t.saturating_sub(at) > loss_us) {
                    p.out.pop_front();
                    lost += 1;
                }
                let ping = p.ping.clone();
                if Self::send_one(p, &ping, t) {
                    p.out.push_back(t);
                    sent += 1;
                }
                k += 1;
            }
            let next = start + (k as u128 * interval as u128 / n as u128) as u64;
            let t = self.now();
            self.wait(next.saturating_sub(t).min(end.saturating_sub(t)).max(1));
            for i in self.tokens() {
                self.drain(i, |p, data, now| {
                    let Some(at) = p.out.pop_front() else { return };
                    hist.record(now.saturating_sub(at));
                    if ok_reply(echo, p, data) {
                        ok += 1;
                    } else {
                        wrong += 1;
                    }
                });
            }
        }
        let elapsed = self.now() - start;
        let (late, late_lost) = self.collect_tail(&mut hist, echo);
        lost += late_lost;
        format!(
            "sent={sent} ok={ok} late={late} wrong={wrong} lost={lost} elapsed_us={elapsed} lag_max_us={lag_max} hist={}",
            hist.encode()
        )
    }

    /// Start storm: every host sends `s:` at once (again every `interval_ms` until its own `s:`
    /// comes), the others keep pinging every `interval_ms` like the Godot plugin if `pings`; each
    /// player answers its
    /// first `s:` with `y:`. Runs until every player has its `s:` or `ms` pass.
    fn storm(&mut self, ms: u64, interval_ms: u64, pings: bool) -> String {
        self.drain_all();
        if self.args.echo {
            return "players=0 got=0 wrong=0 errors=0 confirms=0 elapsed_us=0 hist=0,0,0".into();
        }
        let n = self.players.len() as u64;
        let interval = interval_ms * 1000;
        let mut hist = Hist::default();
        let (mut got, mut wrong, mut errors, mut confirms, mut k) = (0u64, 0u64, 0u64, 0u64, 0u64);
        for p in &mut self.players {
            p.got_start = false;
            p.out.clear();
        }
        let start = self.now();
        for p in self.players.iter_mut().filter(|p| p.host) {
            let s = p.start.clone();
            Self::send_one(p, &s, start);
        }
        let end = start + ms * 1000;
        while got < n {
            let t = self.now();
            if t >= end {
                break;
            }
            let due = ((t - start) as u128 * n as u128 / interval as u128) as u64 + 1;
            while k < due {
                let p = &mut self.players[(k % n) as usize];
                k += 1;
                if p.got_start {
                    continue;
                }
                if p.host {
                    if t.saturating_sub(p.last_sent) >= interval {
                        let s = p.start.clone();
                        Self::send_one(p, &s, t);
                    }
                } else if pings {
                    let ping = p.ping.clone();
                    Self::send_one(p, &ping, t);
                }
            }
            let next = start + (k as u128 * interval as u128 / n as u128) as u64;
            let t = self.now();
            self.wait(next.saturating_sub(t).min(end.saturating_sub(t)).clamp(1, 5000));
            for i in self.tokens() {
                self.drain(i, |p, data, now| {
                    if let Some(rest) = data.strip_prefix(b"s:") {
                        if p.got_start {
                            return;
                        }
                        let port = rest.split(|&b| b == b':').next().unwrap_or_default();
                        if port != p.port.to_string().as_bytes() {
                            wrong += 1;
                        }
                        p.got_start = true;
                        got += 1;
                        hist.record(now.saturating_sub(start));
                        let y = p.confirm.clone();
                        if Self::send_one(p, &y, now) {
                            confirms += 1;
                        }
                    } else if data.starts_with(b"error:") {
                        errors += 1;
                    }
                });
            }
        }
        let elapsed = self.now() - start;
        self.settle(200_000);
        format!(
            "players={n} got={got} wrong={wrong} errors={errors} confirms={confirms} elapsed_us={elapsed} hist={}",
            hist.encode()
        )
    }
}
