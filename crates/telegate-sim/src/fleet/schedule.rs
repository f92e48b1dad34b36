//! Whose turn it is, and coverage gaps: devices leave the rotation, log
//! what they would have sent, and return with a late batch.

use std::cmp::Reverse;

use super::{Device, Fleet, Link, STRIDE_PER_S};
use crate::clock::NS_PER_H;
use crate::rng::Draw;

impl Fleet {
    /// The online device with the lowest pass; if every device is silent,
    /// the one due back first returns early.
    pub(super) fn pick(&mut self, at: i64) -> usize {
        if self.queue.is_empty() {
            let first = self
                .silent
                .iter()
                .copied()
                .enumerate()
                .min_by_key(|&(_, d)| match self.devices[d].link {
                    Link::Silent { until_ns, .. } => until_ns,
                    Link::Online => at,
                });
            if let Some((pos, d)) = first {
                self.silent.remove(pos);
                self.devices[d].link = Link::Online;
                self.queue.push(Reverse((self.vtime, d)));
            }
        }
        // Event-driven devices with nothing to report pass their turn.
        for _ in 0..self.queue.len() {
            let Some(Reverse((pass, idx))) = self.queue.pop() else {
                break;
            };
            self.vtime = pass;
            if self.ready(idx, at) {
                return idx;
            }
            let stride = (self.devices[idx].model.cadence_s() * STRIDE_PER_S) as u64;
            self.queue.push(Reverse((pass.saturating_add(stride), idx)));
        }
        // Nobody has anything to report: the next one reports anyway.
        match self.queue.pop() {
            Some(Reverse((pass, idx))) => {
                self.vtime = pass;
                idx
            }
            None => 0,
        }
    }

    /// Whether device `idx` has a reading at `ts_ns` (always, unless it is
    /// event-driven and nothing happened).
    fn ready(&mut self, idx: usize, ts_ns: i64) -> bool {
        if !self.devices[idx].model.event_driven() {
            return true;
        }
        let model_ns = self.model_ns(ts_ns);
        let dev = &mut self.devices[idx];
        let site = &mut self.sites[dev.site];
        site.weather.advance_to(model_ns);
        let gate = site.gate.now(&site.weather.local(model_ns));
        dev.model.ready(&gate, model_ns, &mut dev.rng)
    }

    /// Back into the rotation, or out of coverage for a while.
    pub(super) fn after_turn(&mut self, idx: usize, at: i64) {
        let cov = &self.params.coverage;
        let dev = &mut self.devices[idx];
        let mean_between = if dev.poor_coverage {
            cov.poor_hours_between_gaps
        } else {
            cov.good_hours_between_gaps
        };
        let p_gap = 1.0 - (-dev.last_dt_h / mean_between.max(1e-9)).exp();
        if dev.rng.chance(p_gap) {
            let gap_h = if dev.poor_coverage && dev.rng.chance(cov.long_gap_share) {
                dev.rng.uniform(cov.long_gap_hours.0, cov.long_gap_hours.1)
            } else {
                dev.rng.exponential(cov.mean_gap_hours).max(0.25)
            };
            let gap_ns = (gap_h * NS_PER_H / self.config.speed).min(cov.max_gap_timestamp_hours * NS_PER_H);
            let every_ns = self.expected_interval_ns(idx);
            self.devices[idx].link = Link::Silent {
                until_ns: at.saturating_add(gap_ns as i64),
                next_log_ns: at.saturating_add(every_ns),
                every_ns,
            };
            let pos = self.silent.partition_point(|&d| d < idx);
            self.silent.insert(pos, idx);
        } else {
            let stride = (dev.model.cadence_s() * STRIDE_PER_S) as u64;
            self.queue.push(Reverse((self.vtime.saturating_add(stride), idx)));
        }
    }

    /// Timestamp interval between a device's readings at its current share.
    pub(super) fn expected_interval_ns(&self, idx: usize) -> i64 {
        let weight = |d: &Device| 1.0 / d.model.cadence_s().max(1.0);
        let total: f64 = self.devices.iter().map(weight).sum();
        let share = weight(&self.devices[idx]) / total.max(1e-12);
        (self.step_ns / share.max(1e-12)).max(self.step_ns) as i64
    }

    /// Silent devices log what is due; those whose gap is over return.
    pub(super) fn log_and_wake(&mut self, at: i64) {
        let cap = self.params.coverage.buffer_samples.max(1);
        let mut i = 0;
        while i < self.silent.len() {
            let idx = self.silent[i];
            while let Link::Silent {
                until_ns,
                next_log_ns,
                every_ns,
            } = self.devices[idx].link
            {
                if next_log_ns > at || next_log_ns >= until_ns {
                    break;
                }
                if self.ready(idx, next_log_ns) {
                    let s = self.reading(idx, next_log_ns);
                    let dev = &mut self.devices[idx];
                    dev.buffer.push_back(s);
                    if dev.buffer.len() > cap {
                        dev.buffer.pop_front();
                    }
                }
                let dev = &mut self.devices[idx];
                dev.link = Link::Silent {
                    until_ns,
                    next_log_ns: next_log_ns.saturating_add(every_ns.max(1)),
                    every_ns,
                };
            }
            match self.devices[idx].link {
                Link::Silent { until_ns, .. } if until_ns <= at => {
                    self.devices[idx].link = Link::Online;
                    self.silent.remove(i);
                    self.queue.push(Reverse((self.vtime, idx)));
                }
                _ => i += 1,
            }
        }
    }
}
