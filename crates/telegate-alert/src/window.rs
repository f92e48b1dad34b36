//! Event-time sample windows for sum, mean and rate rules.
//!
//! Samples are kept sorted by device time with one sample per timestamp, so
//! a redelivered reading (same time) replaces itself instead of counting
//! twice, and an out-of-order sample slots into place. Appending in order is
//! O(1); an out-of-order insert is O(log n) plus a shift. Aggregates are
//! recomputed over the window on each evaluation (1,440 one-minute samples
//! in a day: about a microsecond) rather than kept as running sums, which
//! would drift and would need undoing for replaced samples.

use std::collections::VecDeque;

use crate::rule::Calc;

/// Hard cap per series, so a device with a runaway clock or cadence cannot
/// grow memory without bound; the oldest samples go first.
pub(crate) const MAX_SAMPLES: usize = 20_000;

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Window {
    /// (device time ns, value), strictly increasing in time.
    samples: VecDeque<(i64, f64)>,
}

impl Window {
    pub(crate) fn from_samples(mut samples: Vec<(i64, f64)>) -> Window {
        samples.sort_by_key(|s| s.0);
        samples.dedup_by_key(|s| s.0);
        let mut w = Window {
            samples: samples.into(),
        };
        w.cap();
        w
    }

    pub(crate) fn samples(&self) -> impl Iterator<Item = (i64, f64)> + '_ {
        self.samples.iter().copied()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.samples.len()
    }

    /// Insert or replace the sample at `t`; `false` when nothing changed (a
    /// duplicate of a sample already held).
    pub(crate) fn insert(&mut self, t: i64, v: f64) -> bool {
        if self.samples.back().is_none_or(|&(last, _)| last < t) {
            self.samples.push_back((t, v));
            self.cap();
            return true;
        }
        match self.samples.binary_search_by_key(&t, |s| s.0) {
            Ok(i) => {
                let same = self.samples[i].1.to_bits() == v.to_bits();
                self.samples[i].1 = v;
                !same
            }
            Err(i) => {
                self.samples.insert(i, (t, v));
                self.cap();
                true
            }
        }
    }

    /// Drop samples older than `cutoff` (kept: `t >= cutoff`).
    pub(crate) fn evict_before(&mut self, cutoff: i64) {
        while self.samples.front().is_some_and(|&(t, _)| t < cutoff) {
            self.samples.pop_front();
        }
    }

    fn cap(&mut self) {
        while self.samples.len() > MAX_SAMPLES {
            self.samples.pop_front();
        }
    }

    /// The aggregate `calc` asks for, as of event time `at`; `None` when the
    /// window holds too little to judge (fewer than `min_samples`, or fewer
    /// than two samples `min_span` apart for a rate).
    pub(crate) fn aggregate(&self, calc: &Calc, at: i64) -> Option<f64> {
        match *calc {
            Calc::Last => self.samples.back().map(|s| s.1),
            Calc::Sum { window_ns, min_samples } => {
                let (sum, n) = self.sum_in(at - window_ns, at);
                (n >= min_samples).then_some(sum)
            }
            Calc::Mean { window_ns, min_samples } => {
                let (sum, n) = self.sum_in(at - window_ns, at);
                (n >= min_samples.max(1)).then(|| sum / n as f64)
            }
            Calc::Rate {
                window_ns,
                per_ns,
                min_span_ns,
            } => {
                // Over the real span of the samples, never the nominal window.
                let mut inside = self.samples.iter().filter(|&&(t, _)| t >= at - window_ns && t <= at);
                let (t0, v0) = *inside.next()?;
                let (t1, v1) = *inside.next_back()?;
                let span = t1 - t0;
                (span > 0 && span >= min_span_ns).then(|| (v1 - v0) / span as f64 * per_ns as f64)
            }
        }
    }

    /// Sum and count of samples with `after < t <= upto`: a rain sample
    /// covers the interval ending at its time, so the one exactly at the
    /// window's start belongs to the previous window.
    fn sum_in(&self, after: i64, upto: i64) -> (f64, usize) {
        self.samples
            .iter()
            .filter(|&&(t, _)| t > after && t <= upto)
            .fold((0.0, 0), |(s, n), &(_, v)| (s + v, n + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000_000;

    #[test]
    fn sum_excludes_the_sample_at_the_window_start() {
        let mut w = Window::default();
        for i in 0..=6 {
            w.insert(i * 10 * MIN, 1.5);
        }
        let calc = Calc::Sum {
            window_ns: 60 * MIN,
            min_samples: 1,
        };
        // (0, 60 min]: samples at 10..=60 min.
        assert_eq!(w.aggregate(&calc, 60 * MIN), Some(9.0));
    }

    #[test]
    fn duplicates_replace_and_late_samples_slot_in() {
        let mut w = Window::default();
        assert!(w.insert(10, 1.0));
        assert!(w.insert(30, 3.0));
        assert!(!w.insert(30, 3.0), "a redelivered sample changes nothing");
        assert!(w.insert(20, 2.0));
        assert!(w.insert(20, 2.5), "a corrected value replaces the old one");
        assert_eq!(w.samples().collect::<Vec<_>>(), vec![(10, 1.0), (20, 2.5), (30, 3.0)]);
        w.evict_before(20);
        assert_eq!(w.len(), 2);
    }

    #[test]
    fn mean_needs_min_samples() {
        let mut w = Window::default();
        w.insert(MIN, 40.0);
        w.insert(2 * MIN, 60.0);
        let strict = Calc::Mean {
            window_ns: 10 * MIN,
            min_samples: 3,
        };
        assert_eq!(w.aggregate(&strict, 2 * MIN), None);
        w.insert(3 * MIN, 80.0);
        assert_eq!(w.aggregate(&strict, 3 * MIN), Some(60.0));
    }

    #[test]
    fn rate_is_the_slope_per_unit_over_the_window() {
        let mut w = Window::default();
        // 285.00 m, then +0.25 m over 10 minutes.
        w.insert(0, 285.0);
        w.insert(5 * MIN, 285.1);
        w.insert(10 * MIN, 285.25);
        let per_hour = Calc::Rate {
            window_ns: 10 * MIN,
            per_ns: 60 * MIN,
            min_span_ns: 10 * MIN,
        };
        let r = w.aggregate(&per_hour, 10 * MIN).unwrap();
        assert!((r - 1.5).abs() < 1e-9, "{r}");
        let one = Window::from_samples(vec![(0, 1.0)]);
        assert_eq!(one.aggregate(&per_hour, 0), None);
    }

    #[test]
    fn rate_is_over_the_real_span_and_waits_for_the_minimum_span() {
        let calc = Calc::Rate {
            window_ns: 30 * MIN,
            per_ns: 60 * MIN,
            min_span_ns: 20 * MIN,
        };
        let mut w = Window::default();
        // Two readings 10 s apart, 3 cm up: 10.8 m/h if extrapolated.
        w.insert(0, 285.00);
        w.insert(10 * 1_000_000_000, 285.03);
        assert_eq!(
            w.aggregate(&calc, 10 * 1_000_000_000),
            None,
            "10 s < min_span: not judged"
        );
        w.insert(19 * MIN, 285.10);
        assert_eq!(w.aggregate(&calc, 19 * MIN), None, "19 min < min_span");
        w.insert(20 * MIN, 285.10);
        // 0.10 m over the real 20 minutes, not over the 30-minute window.
        let r = w.aggregate(&calc, 20 * MIN).unwrap();
        assert!((r - 0.30).abs() < 1e-9, "{r}");
        // Once the first samples leave the window the span is measured from
        // the oldest one still inside it: window [10, 40] min, oldest at
        // 19 min, so 0.03 m over 21 minutes.
        w.insert(40 * MIN, 285.13);
        let r = w.aggregate(&calc, 40 * MIN).unwrap();
        let expected = 0.03 / 21.0 * 60.0;
        assert!((r - expected).abs() < 1e-9, "{r} vs {expected}");
    }

    #[test]
    fn size_is_capped() {
        let mut w = Window::default();
        for i in 0..(MAX_SAMPLES as i64 + 10) {
            w.insert(i, 1.0);
        }
        assert_eq!(w.len(), MAX_SAMPLES);
        assert_eq!(w.samples().next(), Some((10, 1.0)));
    }
}
