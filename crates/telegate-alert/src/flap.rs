//! The per-series flap limiter.
//!
//! Hysteresis and `for` keep most rules steady, but a rule whose value
//! really oscillates (a displacement sensor's noise around its watch level)
//! would still notify on every swing. With `flap_limit = N` and
//! `flap_window = T` on a rule (or in `[defaults]`), the N-th time a series
//! leaves `ok` within T of event time is reported as one `flapping`
//! transition instead; after that nothing of the series is reported until
//! its state machine has gone T of event time without a change. Then it is
//! reported `settled` (back to `ok`), followed by `fired` when the alert
//! is on at that moment. The state machine itself keeps running, so
//! combined rules and the settle decision see the real condition.

use std::collections::VecDeque;

use crate::machine::{AlertState, Change, Phase, Step};

/// A rule's limit: `limit` episodes begun within `window_ns` of event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlapLimit {
    pub(crate) limit: usize,
    pub(crate) window_ns: i64,
}

/// A series that is flapping now.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Flapping {
    /// Event time it started flapping: the flapping episode's alert id.
    pub(crate) since_ns: i64,
    /// Event time of the newest state change while flapping.
    pub(crate) last_change_ns: i64,
    /// Most severe level seen while flapping.
    pub(crate) level: usize,
}

/// What a series remembers for the limiter.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FlapGuard {
    /// Event times the series left `ok`, within the rule's window.
    pub(crate) starts: VecDeque<i64>,
    pub(crate) flapping: Option<Flapping>,
}

/// What to do with one step of the state machine.
#[derive(Debug, PartialEq)]
pub(crate) enum Admit {
    /// Report it as it is.
    Report,
    /// Report nothing: the series is flapping.
    Quiet,
    /// Report this `flapping` step instead.
    Flapping(Step),
}

impl FlapGuard {
    /// Pass one step through the limiter.
    pub(crate) fn admit(&mut self, limit: Option<FlapLimit>, step: &Step) -> Admit {
        let Some(limit) = limit.filter(|l| l.limit > 0) else {
            return Admit::Report;
        };
        if let Some(f) = &mut self.flapping {
            if step.change != Change::Renotified {
                f.last_change_ns = f.last_change_ns.max(step.event_ns);
                f.level = f.level.max(step.level);
            }
            return Admit::Quiet;
        }
        if step.from != AlertState::Ok {
            return Admit::Report;
        }
        self.starts.push_back(step.event_ns);
        while self
            .starts
            .front()
            .is_some_and(|&t| t <= step.event_ns.saturating_sub(limit.window_ns))
        {
            self.starts.pop_front();
        }
        if self.starts.len() < limit.limit {
            return Admit::Report;
        }
        self.starts.clear();
        self.flapping = Some(Flapping {
            since_ns: step.event_ns,
            last_change_ns: step.event_ns,
            level: step.level,
        });
        Admit::Flapping(Step {
            from: AlertState::Ok,
            to: AlertState::Flapping,
            change: Change::Flapping,
            level: step.level,
            previous_level: None,
            episode_ns: step.event_ns,
            event_ns: step.event_ns,
        })
    }

    /// At event time `at`, a flapping series whose machine has not changed
    /// for the window settles: `settled` (flapping → ok), then `fired` when
    /// the machine is firing now, so receivers learn the true state.
    pub(crate) fn settle(&mut self, limit: Option<FlapLimit>, phase: &Phase, at: i64) -> Vec<Step> {
        let (Some(limit), Some(f)) = (limit, &self.flapping) else {
            return Vec::new();
        };
        if at.saturating_sub(f.last_change_ns) < limit.window_ns {
            return Vec::new();
        }
        let event_ns = f.last_change_ns.saturating_add(limit.window_ns);
        let mut steps = vec![Step {
            from: AlertState::Flapping,
            to: AlertState::Ok,
            change: Change::Settled,
            level: f.level,
            previous_level: None,
            episode_ns: f.since_ns,
            event_ns,
        }];
        self.flapping = None;
        if let Phase::Firing { level, episode_ns, .. } = *phase {
            steps.push(Step {
                from: AlertState::Ok,
                to: AlertState::Firing,
                change: Change::Fired,
                level,
                previous_level: None,
                episode_ns,
                event_ns,
            });
        }
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000_000;
    const LIMIT: Option<FlapLimit> = Some(FlapLimit {
        limit: 3,
        window_ns: 60 * MIN,
    });

    fn start(t: i64) -> Step {
        Step {
            from: AlertState::Ok,
            to: AlertState::Firing,
            change: Change::Fired,
            level: 0,
            previous_level: None,
            episode_ns: t,
            event_ns: t,
        }
    }

    fn end(t: i64) -> Step {
        Step {
            from: AlertState::Firing,
            to: AlertState::Resolved,
            change: Change::Resolved,
            level: 0,
            previous_level: None,
            episode_ns: t,
            event_ns: t,
        }
    }

    #[test]
    fn the_third_start_within_the_window_becomes_one_flapping_step() {
        let mut g = FlapGuard::default();
        assert_eq!(g.admit(LIMIT, &start(0)), Admit::Report);
        assert_eq!(g.admit(LIMIT, &end(5 * MIN)), Admit::Report);
        assert_eq!(g.admit(LIMIT, &start(10 * MIN)), Admit::Report);
        assert_eq!(g.admit(LIMIT, &end(15 * MIN)), Admit::Report);
        let Admit::Flapping(s) = g.admit(LIMIT, &start(20 * MIN)) else {
            panic!("third start in an hour must flap");
        };
        assert_eq!((s.change, s.to, s.event_ns), (Change::Flapping, AlertState::Flapping, 20 * MIN));
        // Quiet from now on, however many swings.
        for i in 0..20 {
            assert_eq!(g.admit(LIMIT, &end(21 * MIN + i * MIN)), Admit::Quiet);
        }
    }

    #[test]
    fn starts_older_than_the_window_do_not_count() {
        let mut g = FlapGuard::default();
        for t in [0, 61 * MIN, 122 * MIN, 183 * MIN] {
            assert_eq!(g.admit(LIMIT, &start(t)), Admit::Report, "start at {t}");
            assert_eq!(g.admit(LIMIT, &end(t + MIN)), Admit::Report);
        }
        assert_eq!(g.admit(None, &start(200 * MIN)), Admit::Report, "no limit");
    }

    #[test]
    fn settles_after_a_window_without_change_and_reports_the_true_state() {
        let mut g = FlapGuard::default();
        for t in [0, 10, 20] {
            g.admit(LIMIT, &start(t * MIN));
            g.admit(LIMIT, &end(t * MIN + MIN));
        }
        assert!(g.flapping.is_some());
        let last = 21 * MIN;
        assert!(g.settle(LIMIT, &Phase::Ok, last + 59 * MIN).is_empty(), "not steady for 1 h yet");
        let steps = g.settle(LIMIT, &Phase::Ok, last + 60 * MIN);
        assert_eq!(steps.len(), 1);
        assert_eq!((steps[0].change, steps[0].from, steps[0].to), (Change::Settled, AlertState::Flapping, AlertState::Ok));
        assert_eq!(steps[0].event_ns, last + 60 * MIN);
        assert_eq!(g.flapping, None);
        assert!(g.settle(LIMIT, &Phase::Ok, last + 120 * MIN).is_empty(), "settled once");
    }
}
