//! The engine's node-local timer queue: one entry per deadline, in a min-heap, invalidated lazily.
//!
//! Entries name what they are for (a player, a session, a pending error copy) by ids, never by
//! reference. When one fires the engine checks it is still current and re-arms it if the deadline
//! moved (a ping moves a player's deadline without touching the heap). A player's idle check is a
//! virtual entry kept in the player (its deadline and sequence number), a session's lifetime one
//! kept in the session (its creation and id); an open session queues one entry for the earliest of
//! them, so they fire in the order separate entries would, without their memory. So an open
//! session has one entry, a starting one one, a pending error one. Entries of removed players
//! or sessions stay until they fire or until [`Timers::compact`] drops them; compaction runs when
//! removals could have left as many stale entries as live ones, which bounds the heap at about
//! twice the live entries.

use crate::compact::{Addr, SessionName, Tick};
use rhp_proto::ErrorCode;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Instant;

/// What a timer entry is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The earliest check of open session `session`/`session_id` may be due: the one whose
    /// sequence number is the entry's own (handed out with the kind by [`Timers::pop_due`]), its
    /// lifetime if that is the session's id, else the idle check of the player whose `idle_seq` it
    /// is. Those checks are virtual entries kept in the session and its players; the queue holds
    /// one entry for the session's earliest, so they fire in exactly the order separate entries
    /// would. (The sequence number is not repeated here: 8 bytes less per session.)
    SessionCheck { session: SessionName, session_id: u64 },
    /// Starting session `session`/`session_id` is due its next round (or its deletion).
    StartRound { session: SessionName, session_id: u64 },
    /// `left` more copies of `code` are due to `to`.
    ErrorRepeat { to: Addr, code: ErrorCode, left: u32 },
    /// Time to log the counts (one entry, re-armed each time, if stats are on).
    Stats,
    /// Relay session `relay`'s check (its lifetime, its members' silence): one entry per relay
    /// session, re-armed when it fires, never stale (the session is deleted only when it fires).
    RelayCheck { relay: u64 },
}

#[derive(Debug)]
pub(crate) struct Entry {
    at: Tick,
    seq: u64,
    kind: Kind,
}

// Ordered so that the BinaryHeap (a max-heap) pops the earliest deadline first, ties in push order.
impl Ord for Entry {
    fn cmp(&self, other: &Entry) -> Ordering {
        other.at.cmp(&self.at).then_with(|| other.seq.cmp(&self.seq))
    }
}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.seq == other.seq
    }
}
impl Eq for Entry {}

/// The timer queue.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Entry>,
    seq: u64,
    /// Entries that removals may have made stale since the last compaction (an upper bound).
    maybe_stale: usize,
}

impl Timers {
    /// Arms a timer at `at`.
    pub(crate) fn push(&mut self, at: Instant, kind: Kind) {
        self.seq = self.seq.wrapping_add(1);
        self.heap.push(Entry { at: at.into(), seq: self.seq, kind });
    }

    /// Takes the sequence number the next pushed entry would get, for a virtual entry kept
    /// elsewhere and queued later with [`Timers::push_seq`].
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Queues a virtual entry taken with [`Timers::next_seq`], ordered as if pushed then.
    pub(crate) fn push_seq(&mut self, at: Instant, seq: u64, kind: Kind) {
        self.heap.push(Entry { at: at.into(), seq, kind });
    }

    /// The earliest deadline, if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.at.instant())
    }

    /// Removes and returns the earliest entry (its deadline, sequence number and kind) if it is
    /// due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, u64, Kind)> {
        if self.heap.peek()?.at > Tick::from(now) {
            return None;
        }
        let e = self.heap.pop()?;
        Some((e.at.instant(), e.seq, e.kind))
    }

    /// A popped entry turned out stale (its player or session was gone): one stale entry fewer.
    /// Only stale ones count down: counting down on every pop let re-armed live entries (a player's
    /// idle check, every few seconds) hide the stale ones, so 15-minute lifetimes of ended sessions
    /// piled up until they fired.
    pub(crate) fn fired_stale(&mut self) {
        self.maybe_stale = self.maybe_stale.saturating_sub(1);
    }

    /// Notes that `n` entries may have gone stale (their player or session was removed).
    pub(crate) fn note_stale(&mut self, n: usize) {
        self.maybe_stale = self.maybe_stale.saturating_add(n);
    }

    /// Whether enough entries may be stale that [`Timers::compact`] is worth its O(n).
    pub(crate) fn wants_compaction(&self) -> bool {
        self.maybe_stale > 32 && self.maybe_stale * 2 > self.heap.len()
    }

    /// Drops every entry `is_live` (given its sequence number and kind) rejects.
    pub(crate) fn compact(&mut self, mut is_live: impl FnMut(u64, &Kind) -> bool) {
        self.heap.retain(|e| is_live(e.seq, &e.kind));
        self.maybe_stale = 0;
        if self.heap.capacity() > 64 && self.heap.len() < self.heap.capacity() / 4 {
            self.heap.shrink_to(self.heap.len() * 2);
        }
    }

    /// How many entries are queued (live or stale).
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// How many entries `pred` accepts (O(n), for invariant checks).
    pub(crate) fn count(&self, mut pred: impl FnMut(&Kind) -> bool) -> usize {
        self.heap.iter().filter(|e| pred(&e.kind)).count()
    }
}
