//! A log-linear histogram of microseconds: exact below 32, then 16 buckets per power of two (about
//! 6% wide), so merging workers' histograms and reading p50/p99 is cheap and bounded in size.

/// Buckets: enough for any `u64`.
pub(crate) const BUCKETS: usize = 1024;

/// Counts of values by bucket, plus the exact count, sum and max.
#[derive(Debug, Clone)]
pub struct Hist {
    counts: Vec<u64>,
    /// Values recorded.
    pub count: u64,
    /// Their sum.
    pub sum: u64,
    /// The largest.
    pub max: u64,
}

impl Default for Hist {
    fn default() -> Hist {
        Hist { counts: vec![0; BUCKETS], count: 0, sum: 0, max: 0 }
    }
}

pub(crate) fn index(v: u64) -> usize {
    if v < 32 {
        return v as usize;
    }
    let e = 63 - u64::from(v.leading_zeros());
    let shift = e - 4;
    ((e - 4) * 16 + (v >> shift)) as usize
}

/// The middle of bucket `i`.
pub(crate) fn value(i: usize) -> u64 {
    if i < 32 {
        return i as u64;
    }
    let e = (i / 16) as u64 + 3;
    let m = (i % 16) as u64 + 16;
    let shift = e - 4;
    (m << shift) + (1u64 << shift) / 2
}

impl Hist {
    /// Records one value.
    pub fn record(&mut self, v: u64) {
        let i = index(v).min(BUCKETS - 1);
        self.counts[i] += 1;
        self.count += 1;
        self.sum = self.sum.saturating_add(v);
        self.max = self.max.max(v);
    }

    /// Adds `other`'s values.
    pub fn merge(&mut self, other: &Hist) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.count += other.count;
        self.sum = self.sum.saturating_add(other.sum);
        self.max = self.max.max(other.max);
    }

    /// The value at quantile `q` (0..=1), to about 6%; 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return value(i).min(self.max);
            }
        }
        self.max
    }

    /// How many values are at most `limit` (bucket precision).
    pub fn count_at_most(&self, limit: u64) -> u64 {
        let last = index(limit);
        self.counts.iter().take(last + 1).sum()
    }

    /// One-line text form: `count,sum,max` then `index:count` pairs.
    pub fn encode(&self) -> String {
        let mut s = format!("{},{},{}", self.count, self.sum, self.max);
        for (i, c) in self.counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            s.push_str(&format!(";{i}:{c}"));
        }
        s
    }

    /// Parses [`Hist::encode`]'s form.
    pub fn decode(s: &str) -> Option<Hist> {
        let mut h = Hist::default();
        let mut parts = s.split(';');
        let mut head = parts.next()?.split(',');
        h.count = head.next()?.parse().ok()?;
        h.sum = head.next()?.parse().ok()?;
        h.max = head.next()?.parse().ok()?;
        for p in parts {
            let (i, c) = p.split_once(':')?;
            let i: usize = i.parse().ok()?;
            *h.counts.get_mut(i)? = c.parse().ok()?;
        }
        Some(h)
    }
}
