//! A fixed-bucket latency histogram updated with relaxed atomics, so a
//! stage (the writer, for each request to the database) records every
//! duration without a lock and `/metrics` reads it at any time.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds in seconds, Prometheus-style (`le`); the last bucket is +Inf.
pub const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Debug, Default)]
pub struct Histogram {
    /// Per bucket, not cumulative; index `BUCKETS.len()` is +Inf.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

/// A consistent-enough copy for rendering (cumulative counts).
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// `(le, cumulative count)`; the last is `(+Inf, count)`.
    pub buckets: Vec<(f64, u64)>,
    pub sum_seconds: f64,
    pub count: u64,
}

impl Histogram {
    pub fn record(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BUCKETS.iter().position(|&le| secs <= le).unwrap_or(BUCKETS.len());
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_micros
            .fetch_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX), Relaxed);
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut total = 0;
        let mut buckets = Vec::with_capacity(BUCKETS.len() + 1);
        for (i, c) in self.counts.iter().enumerate() {
            total += c.load(Relaxed);
            buckets.push((BUCKETS.get(i).copied().unwrap_or(f64::INFINITY), total));
        }
        HistogramSnapshot {
            buckets,
            sum_seconds: self.sum_micros.load(Relaxed) as f64 / 1e6,
            count: total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_inf_counts_everything() {
        let h = Histogram::default();
        h.record(Duration::from_millis(3));
        h.record(Duration::from_millis(80));
        h.record(Duration::from_secs(60));
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.buckets[0], (0.005, 1));
        assert_eq!(s.buckets[4], (0.1, 2));
        assert_eq!(s.buckets.last().copied(), Some((f64::INFINITY, 3)));
        assert!((s.sum_seconds - 60.083).abs() < 1e-6, "{}", s.sum_seconds);
    }
}
