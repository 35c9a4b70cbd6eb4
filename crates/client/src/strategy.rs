//! Which direct method to use with one peer, from both sides' NAT kinds, and the method a
//! connection is reported with.
//!
//! | us \ peer      | independent     | predictable        | random          | unknown / none |
//! |----------------|-----------------|--------------------|-----------------|----------------|
//! | independent    | plain           | predict the peer   | birthday (easy) | plain          |
//! | predictable    | plain (*)       | predict, lockstep  | plain (**)      | plain          |
//! | random         | birthday (hard) | plain (**)         | plain (**)      | plain          |
//! | unknown        | plain           | plain              | plain           | plain          |
//!
//! (*) the peer predicts us: reported as `predicted`. (**) both sides hard: no direct method
//! works in reasonable time; left to the relay. A peer without a descriptor (a Godot client, or
//! a client that did not classify) only ever gets plain punching.

use crate::nat_kind::NatKind;
use std::fmt;

/// How a direct path to a peer was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// Greetings to the reported port and its ±8 window (the Godot plugin's way).
    Plain,
    /// Greetings to the ports a fixed-step mapping will use next.
    Predicted,
    /// Many sockets on the hard side, random probes from the easy side.
    Birthday,
    /// Through the rendezvous server's relay (no direct path yet).
    Relay,
}

impl Method {
    /// Stable token for machine-readable output.
    pub fn name(self) -> &'static str {
        match self {
            Method::Plain => "plain",
            Method::Predicted => "predicted",
            Method::Birthday => "birthday",
            Method::Relay => "relay",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What we do towards one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Plain punching only.
    Plain,
    /// Plain punching; the peer predicts our next mappings.
    PredictedByPeer,
    /// Greet the peer's predicted ports (`lockstep`: only those, in order, so both sides'
    /// sequential NATs allocate in step).
    PredictPeer { last: u16, step: i16, lockstep: bool },
    /// We are the hard side: open K sockets that greet the peer.
    BirthdayHard,
    /// We are the easy side: probe random ports of the peer's IP.
    BirthdayEasy,
}

impl Plan {
    /// The plan for a peer, from our kind and the peer's (None: it announced none).
    pub(crate) fn choose(me: Option<NatKind>, peer: Option<NatKind>) -> Plan {
        use NatKind::*;
        match (me, peer) {
            (Some(Independent), Some(Predictable { last, step })) => {
                Plan::PredictPeer { last, step, lockstep: false }
            }
            (Some(Predictable { .. }), Some(Predictable { last, step })) => {
                Plan::PredictPeer { last, step, lockstep: true }
            }
            (Some(Predictable { .. }), Some(Independent)) => Plan::PredictedByPeer,
            (Some(Independent), Some(Random)) => Plan::BirthdayEasy,
            (Some(Random), Some(Independent)) => Plan::BirthdayHard,
            _ => Plan::Plain,
        }
    }
}
