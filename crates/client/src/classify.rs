//! NAT classification, sans-IO: STUN Binding requests from two sockets to the server's two ports,
//! and what the four mapped addresses say about the NAT.
//!
//! Probes, in this order (the order new mappings are made matters for a sequential NAT):
//! 0. main socket → server port (the same 5-tuple as the `h:`/`c:` sent just before, so the
//!    mapping the peers are told about),
//! 1. main socket → alternate port,
//! 2. probe socket → server port, 3. probe socket → alternate port (sent once the driver opened
//!    the probe socket; only needed when 0 and 1 differ).
//!
//! Verdict: 0 and 1 on the same public port → [`NatKind::Independent`]. Otherwise the four
//! mapped ports in port order: evenly spaced → [`NatKind::Predictable`]
//! (last = the port of probe 3); anything else → [`NatKind::Random`]. No answer to probe 0 after
//! every retransmission → [`NatKind::Unknown`] (a server without STUN, such as the original).
//! Whether the NAT kept the socket's own port is reported beside it.

use crate::config::NatConfig;
use crate::nat_kind::NatKind;
pub use crate::nat_report::NatReport;
use crate::outbox::Outbox;
use crate::rng::Rng;
use rhp_io::SocketId;
use rhp_proto::stun;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Largest |step| taken as a fixed allocation step rather than chance.
const MAX_STEP: i32 = 1000;

#[derive(Debug, Clone)]
struct Probe {
    via: SocketId,
    to: SocketAddr,
    txid: [u8; 12],
    sent: u32,
    next_at: Option<Instant>,
    mapped: Option<SocketAddr>,
}

/// The classification state machine.
#[derive(Debug)]
pub(crate) struct Classifier {
    probes: Vec<Probe>,
    probe_socket: SocketId,
    /// The server's second STUN port.
    alt: SocketAddr,
    probe_open: bool,
    main_local: Option<u16>,
    rto: Duration,
    tries: u32,
    report: Option<NatReport>,
}

impl Classifier {
    /// Sends probes 0 and 1 now and asks the driver for the probe socket.
    pub(crate) fn new(
        server: SocketAddr,
        probe_socket: SocketId,
        nat: &NatConfig,
        rng: &mut Rng,
        now: Instant,
        out: &mut Outbox,
    ) -> Classifier {
        let (alt, rto, tries) = (nat.alt_addr(server), nat.stun_rto, nat.stun_tries);
        let mut probe = |via, to| {
            let mut txid = [0u8; 12];
            rng.fill(&mut txid);
            Probe { via, to, txid, sent: 0, next_at: None, mapped: None }
        };
        let probes = vec![
            probe(SocketId::MAIN, server),
            probe(SocketId::MAIN, alt),
            probe(probe_socket, server),
            probe(probe_socket, alt),
        ];
        let mut c = Classifier {
            probes,
            probe_socket,
            alt,
            probe_open: false,
            main_local: None,
            rto,
            tries: tries.max(1),
            report: None,
        };
        c.send(0, now, out);
        c.send(1, now, out);
        out.socket(crate::outbox::SocketOp::Open(probe_socket));
        c
    }

    /// The result, once there is one.
    pub(crate) fn report(&self) -> Option<&NatReport> {
        self.report.as_ref()
    }

    /// The driver bound a socket (`local_port` None: it could not).
    pub(crate) fn opened(&mut self, id: SocketId, local_port: Option<u16>, now: Instant, out: &mut Outbox) {
        if id == SocketId::MAIN {
            self.main_local = local_port;
            if let Some(r) = &mut self.report {
                r.local_port = local_port;
                r.preserves_port = preserves(r.public, local_port);
            }
            return;
        }
        if id != self.probe_socket || self.report.is_some() {
            return;
        }
        if local_port.is_none() {
            // No probe socket: decide from probes 0 and 1 alone.
            self.probes.truncate(2);
            self.decide_if_ready(out);
            return;
        }
        self.probe_open = true;
        self.send(2, now, out);
        self.send(3, now, out);
    }

    /// A datagram that may be a STUN answer; true when it answered one of our probes.
    pub(crate) fn handle_datagram(
        &mut self,
        via: SocketId,
        from: SocketAddr,
        data: &[u8],
        out: &mut Outbox,
    ) -> bool {
        if !stun::is_stun(data) {
            return false;
        }
        let Ok((txid, mapped)) = stun::parse_binding_response(data) else { return false };
        let Some(p) = self.probes.iter_mut().find(|p| p.txid == txid && p.via == via && p.to == from) else {
            return false;
        };
        if p.mapped.is_none() {
            p.mapped = Some(mapped);
            p.next_at = None;
        }
        self.decide_if_ready(out);
        true
    }

    /// Retransmissions and giving up.
    pub(crate) fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) {
        if self.report.is_some() {
            return;
        }
        for i in 0..self.probes.len() {
            let p = &self.probes[i];
            if p.mapped.is_none() && p.next_at.is_some_and(|t| now >= t) {
                self.send(i, now, out);
            }
        }
        self.decide_if_ready(out);
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if self.report.is_some() {
            return None;
        }
        self.probes.iter().filter(|p| p.mapped.is_none()).filter_map(|p| p.next_at).min()
    }

    fn send(&mut self, i: usize, now: Instant, out: &mut Outbox) {
        let Some(p) = self.probes.get_mut(i) else { return };
        if p.sent >= self.tries {
            p.next_at = None;
            return;
        }
        let mut data = Vec::with_capacity(20);
        stun::write_binding_request(p.txid, &mut data);
        out.send_via(p.via, p.to, data);
        p.sent += 1;
        // After the last try, wait one more interval for its answer.
        p.next_at = Some(now + self.rto);
    }

    /// A probe that can still be answered: not answered, and either waiting for its socket or
    /// with a retransmission or its last wait still ahead.
    fn pending(&self, i: usize) -> bool {
        let Some(p) = self.probes.get(i) else { return false };
        p.mapped.is_none() && ((p.via == self.probe_socket && !self.probe_open) || p.next_at.is_some())
    }

    fn decide_if_ready(&mut self, out: &mut Outbox) {
        if self.report.is_some() {
            return;
        }
        let mapped = |i: usize| self.probes.get(i).and_then(|p| p.mapped);
        let kind = match (mapped(0), mapped(1)) {
            (Some(a), Some(b)) if a.port() == b.port() => Some(NatKind::Independent),
            (Some(_), Some(_)) => {
                if self.pending(2) || self.pending(3) {
                    None
                } else {
                    Some(sequence_kind(&[mapped(0), mapped(1), mapped(2), mapped(3)]))
                }
            }
            (None, _) if !self.pending(0) => Some(NatKind::Unknown),
            (Some(_), None) if !self.pending(1) => Some(NatKind::Unknown),
            _ => None,
        };
        let Some(kind) = kind else { return };
        let public = mapped(0);
        let samples = self.probes.iter().filter_map(|p| p.mapped.map(|m| (p.via, p.to, m))).collect();
        self.report = Some(NatReport {
            kind,
            public,
            local_port: self.main_local,
            preserves_port: preserves(public, self.main_local),
            samples,
            alt: self.alt,
        });
        out.socket(crate::outbox::SocketOp::Close(self.probe_socket));
    }
}

fn preserves(public: Option<SocketAddr>, local: Option<u16>) -> Option<bool> {
    Some(public?.port() == local?)
}

/// Predictable when the mapped ports of probes 0..3 (all answered), in port order, are evenly
/// spaced: a sequential NAT hands out consecutive ports, but the order it allocates them in is
/// the order the flows' first packets reached it (the `h:`/`c:` and the probe socket race, and a
/// probe lost before the NAT takes its port later), not the order of the probes. The step's sign
/// is the probes' direction when they are monotonic, else upwards (by far the common allocator);
/// `last` is the port furthest that way, the one the next mapping follows.
fn sequence_kind(mapped: &[Option<SocketAddr>; 4]) -> NatKind {
    let ports: Option<Vec<i32>> = mapped.iter().map(|m| m.map(|a| i32::from(a.port()))).collect();
    let Some(ports) = ports else { return NatKind::Random };
    let mut sorted = ports.clone();
    sorted.sort_unstable();
    let gaps: Vec<i32> = sorted.windows(2).map(|w| w[1] - w[0]).collect();
    let gap = gaps[0];
    if gap == 0 || gap > MAX_STEP || gaps.iter().any(|g| *g != gap) {
        return NatKind::Random;
    }
    let descending = ports.windows(2).all(|w| w[1] < w[0]);
    let (step, last) = if descending { (-gap, sorted[0]) } else { (gap, sorted[3]) };
    match (i16::try_from(step), u16::try_from(last)) {
        (Ok(step), Ok(last)) if last != 0 => NatKind::Predictable { last, step },
        _ => NatKind::Random,
    }
}
