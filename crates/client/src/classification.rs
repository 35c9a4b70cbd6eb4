//! NAT classification as a component of the engine: the [`Classifier`] (STUN to the server's
//! two ports, from the main socket and a probe socket it asks the driver for) while joining, and
//! its result reported once ([`Event::Nat`]). Off for a private client (it never announces a
//! descriptor, and never tries a direct path) and when the configuration says so.
//!
//! It answers "when do you next need me?" with [`Classification::poll_timeout`].

use crate::classify::Classifier;
use crate::config::Config;
use crate::events::Event;
use crate::nat_kind::NatKind;
use crate::nat_report::NatReport;
use crate::outbox::Outbox;
use crate::rng::Rng;
use crate::sockets::PROBE;
use rhp_io::SocketId;
use std::net::SocketAddr;
use std::time::Instant;

/// Our NAT's classification, and whether it was reported.
#[derive(Debug)]
pub(crate) struct Classification {
    classifier: Option<Classifier>,
    /// The result went out as [`Event::Nat`].
    reported: bool,
}

impl Classification {
    /// Sends the first probes now (if classification is on).
    pub(crate) fn new(config: &Config, rng: &mut Rng, now: Instant, out: &mut Outbox) -> Classification {
        let classifier = (config.nat.classify && !config.nat.private)
            .then(|| Classifier::new(config.server, PROBE, &config.nat, rng, now, out));
        Classification { classifier, reported: false }
    }

    /// The result, once there is one.
    pub(crate) fn report(&self) -> Option<&NatReport> {
        self.classifier.as_ref().and_then(Classifier::report)
    }

    /// Our kind, once classified.
    pub(crate) fn kind(&self) -> Option<NatKind> {
        self.report().map(|r| r.kind)
    }

    /// The driver bound a socket.
    pub(crate) fn opened(&mut self, id: SocketId, local_port: Option<u16>, now: Instant, out: &mut Outbox) {
        if let Some(c) = &mut self.classifier {
            c.opened(id, local_port, now, out);
        }
    }

    /// A STUN answer to one of our probes: true when it was one.
    pub(crate) fn handle_datagram(
        &mut self,
        via: SocketId,
        from: SocketAddr,
        data: &[u8],
        out: &mut Outbox,
    ) -> bool {
        self.classifier.as_mut().is_some_and(|c| c.handle_datagram(via, from, data, out))
    }

    /// Retransmissions and giving up.
    pub(crate) fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) {
        if let Some(c) = &mut self.classifier {
            c.handle_timeout(now, out);
        }
    }

    /// Reports a fresh result once. "Unknown" means nothing while the server has not answered
    /// at all (`server_answered`): no conclusion then.
    pub(crate) fn report_once(&mut self, server_answered: bool, out: &mut Outbox) {
        let Some(report) = self.classifier.as_ref().and_then(Classifier::report) else { return };
        if !self.reported && (report.kind != NatKind::Unknown || server_answered) {
            self.reported = true;
            tracing::debug!(kind = %report.kind, public = ?report.public, "NAT classified");
            out.event(Event::Nat(report.clone()));
        }
    }

    /// When the classification next needs to run.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.classifier.as_ref().and_then(Classifier::poll_timeout)
    }
}
