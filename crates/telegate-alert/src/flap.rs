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
//! is on at that moment. A change to a level more severe than any seen
//! while flapping is always reported, and ends the flapping state. The state machine itself keeps running, so
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
            if step.to == AlertState::Firing && step.level > f.level {
                // A more severe level than the flapping one (BĐ II → BĐ III)
                // is news: report it, and count afresh from here.
                self.flapping = None;
                self.starts.clear();
                return Admit::Report;
            }
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

impl crate::rule::Rule {
    /// Why this rule can flap, for `telegate check`: a value rule with a
    /// level that has no hysteresis (`clear` equal to its threshold), no
    /// `for` and no flap limit fires and resolves on every reading that
    /// hovers at the threshold. `None` when it cannot.
    pub fn flap_risk(&self) -> Option<String> {
        if !matches!(self.kind, crate::rule::Kind::Value { .. }) || self.for_ns > 0 || self.flap.is_some() {
            return None;
        }
        let bare: Vec<&str> =
            self.levels
                .iter()
                .filter(|l| match l.bounds {
                    crate::rule::Bounds::Above { threshold, clear }
                    | crate::rule::Bounds::Below { threshold, clear } => threshold == clear,
                    crate::rule::Bounds::Outside {
                        low,
                        high,
                        clear_low,
                        clear_high,
                    } => low == clear_low || high == clear_high,
                    crate::rule::Bounds::Flag => false,
                })
                .map(|l| l.name.as_str())
                .collect();
        if bare.is_empty() {
            return None;
        }
        Some(format!(
            "can flap: level {} has no clear level and `for` is 0s, so a value hovering at the threshold fires and resolves on every reading; set `clear` (hysteresis), `for`, or `flap_limit`",
            bare.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        ))
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
        assert_eq!(
            (s.change, s.to, s.event_ns),
            (Change::Flapping, AlertState::Flapping, 20 * MIN)
        );
        // Quiet from now on, however many swings.
        for i in 0..20 {
            assert_eq!(g.admit(LIMIT, &end(21 * MIN + i * MIN)), Admit::Quiet);
            assert_eq!(g.admit(LIMIT, &start(21 * MIN + i * MIN)), Admit::Quiet);
        }
        // ... but a more severe level breaks through.
        let worse = Step {
            level: 1,
            ..start(50 * MIN)
        };
        assert_eq!(g.admit(LIMIT, &worse), Admit::Report);
        assert_eq!(g.flapping, None);
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
        assert!(
            g.settle(LIMIT, &Phase::Ok, last + 59 * MIN).is_empty(),
            "not steady for 1 h yet"
        );
        let steps = g.settle(LIMIT, &Phase::Ok, last + 60 * MIN);
        assert_eq!(steps.len(), 1);
        assert_eq!(
            (steps[0].change, steps[0].from, steps[0].to),
            (Change::Settled, AlertState::Flapping, AlertState::Ok)
        );
        assert_eq!(steps[0].event_ns, last + 60 * MIN);
        assert_eq!(g.flapping, None);
        assert!(g.settle(LIMIT, &Phase::Ok, last + 120 * MIN).is_empty(), "settled once");
    }

    fn rule(text: &str) -> crate::rule::Rule {
        match crate::AlertConfig::from_toml_str(text, "t.toml") {
            Ok(c) => c.rules()[0].clone(),
            Err(e) => panic!("{e}"),
        }
    }

    const BARE: &str = r#"
[[rule]]
id = "d"
name = "Displacement"
kind = "rate"
measurement = "landslide"
field = "displacement_mm"
window = "1d"
direction = "outside"

[[rule.level]]
name = "watch"
severity = "warning"
low = -2.0
high = 2.0
"#;

    #[test]
    fn a_level_without_clear_or_for_or_limit_is_a_flap_risk() {
        let risk = rule(BARE).flap_risk().unwrap_or_default();
        assert!(risk.contains("level `watch` has no clear level"), "{risk}");
        let with_clear = BARE.replace("high = 2.0", "high = 2.0\nclear_low = -1.5\nclear_high = 1.5");
        assert_eq!(rule(&with_clear).flap_risk(), None);
        let with_for = BARE.replace("window = \"1d\"", "window = \"1d\"\nfor = \"30m\"");
        assert_eq!(rule(&with_for).flap_risk(), None);
        let limited = BARE.replace("window = \"1d\"", "window = \"1d\"\nflap_limit = 3");
        assert_eq!(rule(&limited).flap_risk(), None);
    }

    #[test]
    fn level_names_cannot_contradict_severities() {
        let text = BARE.replace("name = \"watch\"", "name = \"Critical\"");
        let err = crate::AlertConfig::from_toml_str(&text, "t.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("names severity critical but the level's severity is warning"),
            "{err}"
        );
        assert!(err.contains("t.toml:12"), "{err}");
        let ok = BARE.replace("name = \"watch\"", "name = \"Warning\"");
        assert!(crate::AlertConfig::from_toml_str(&ok, "t.toml").is_ok());
    }
}
