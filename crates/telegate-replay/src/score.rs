//! Alerts against the ground truth, per rule.
//!
//! Matching (documented in `docs/alerts.md`, "Replay"):
//!
//! - A truth event belongs to every notifying rule that would keep a series
//!   for it ([`AlertConfig::selects`]) and has a level of the event's name.
//! - A rule's series is **at** a level from the transition that entered it
//!   (`fired`, `escalated`, `deescalated`) until the next one or `resolved`
//!   / `cancelled`. Times are event times, except for deadman rules and
//!   `offline` events: the gateway's clock (arrival), because silence is
//!   judged there.
//! - An event is **detected** when a series of its device (or group) is at
//!   its level or a more severe one at some point of the event's window:
//!   from one reporting interval before it started (noise may cross
//!   first) to its end plus the rule's `for` plus one interval. **Delay** =
//!   detection − (start + the rule's `for`): `for` is a wait the rule asks
//!   for on purpose (for a combined rule, plus its components' longest
//!   `for`); an alert already at the level when the window opens counts as
//!   delay 0. The budget is the device's reporting interval at the start.
//! - An alert entering a level is **spurious** when no event of that rule,
//!   series and level has it inside its window. Hysteresis makes alerts
//!   resolve after the truth ends: resolutions are not judged.
//! - A **flap** is a `flapping` transition, or an alert that fired again
//!   (from ok) inside the window of an event it had already detected.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use telegate_alert::{AlertConfig, Change, Rule, Transition};
use telegate_sim::scenario::TruthEvent;

use crate::run::{ReplayOptions, Replayed};

/// One rule's score.
#[derive(Debug, Clone, Serialize)]
pub struct RuleScore {
    pub rule_id: String,
    pub kind: String,
    /// Truth events that belong to the rule.
    pub events: usize,
    pub detected: usize,
    pub missed: usize,
    pub spurious: usize,
    pub flaps: usize,
    /// Longest detection delay, seconds (negative: before the truth, by noise).
    pub max_delay_s: Option<f64>,
    pub mean_delay_s: Option<f64>,
    /// Detections later than one reporting interval.
    pub over_budget: usize,
}

/// An event a rule did not report.
#[derive(Debug, Clone, Serialize)]
pub struct Miss {
    pub rule_id: String,
    pub level: String,
    pub what: String,
    pub start_ns: i64,
}

/// An alert no event explains.
#[derive(Debug, Clone, Serialize)]
pub struct Spurious {
    pub rule_id: String,
    pub site: String,
    pub level: String,
    pub message: String,
    pub at_ns: i64,
}

/// A slow detection.
#[derive(Debug, Clone, Serialize)]
pub struct Late {
    pub rule_id: String,
    pub level: String,
    pub what: String,
    pub delay_s: f64,
    pub budget_s: f64,
}

/// The whole result.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub days: u32,
    pub seed: u64,
    pub sites: Vec<String>,
    pub readings: usize,
    pub messages: usize,
    pub rejected: Vec<String>,
    pub transitions: usize,
    pub truth_events: usize,
    pub rules: Vec<RuleScore>,
    pub misses: Vec<Miss>,
    pub spurious: Vec<Spurious>,
    pub late: Vec<Late>,
    /// Spurious alerts per site.
    pub spurious_per_site: BTreeMap<String, usize>,
    /// Truth events no notifying rule reports (`what`, level).
    pub unreported: Vec<(String, String)>,
}

impl Report {
    pub fn missed(&self) -> usize {
        self.rules.iter().map(|r| r.missed).sum()
    }
    pub fn flaps(&self) -> usize {
        self.rules.iter().map(|r| r.flaps).sum()
    }
    /// The worst site's spurious alerts per 30 days.
    pub fn spurious_per_site_month(&self) -> f64 {
        let worst = self.spurious_per_site.values().copied().max().unwrap_or(0);
        worst as f64 * 30.0 / f64::from(self.days.max(1))
    }
}

/// One entry of a series' timeline: at `at`, the series entered `level`
/// (an index into the rule's levels) or left every level (`None`).
#[derive(Debug, Clone)]
struct Step<'a> {
    at: i64,
    level: Option<usize>,
    t: &'a Transition,
    index: usize,
}

fn on_arrival(rule: &Rule) -> bool {
    rule.kind() == "deadman"
}

fn timeline<'a>(rule: &Rule, ts: &[(usize, &'a Transition)]) -> Vec<Step<'a>> {
    let names: Vec<&str> = rule.level_names().collect();
    let mut out = Vec::new();
    for &(index, t) in ts {
        let at = if on_arrival(rule) {
            t.evaluated_at_ns
        } else {
            t.event_time_ns
        };
        let level = match t.change {
            Change::Fired | Change::Escalated | Change::Deescalated => names.iter().position(|n| *n == t.level),
            Change::Resolved | Change::Cancelled | Change::Flapping | Change::Settled => None,
            _ => continue,
        };
        out.push(Step { at, level, t, index });
    }
    out
}

fn matches(t: &Transition, e: &TruthEvent) -> bool {
    e.tags.iter().all(|(k, v)| t.series.tag(k) == Some(v.as_str()))
}

/// Compare `replayed`'s transitions with its truth.
pub fn score(rules: &AlertConfig, replayed: &Replayed, options: &ReplayOptions) -> Report {
    let truth = &replayed.scenario.truth;
    let mut report = Report {
        days: options.days.max(6),
        seed: options.seed,
        sites: replayed.scenario.sites.clone(),
        readings: replayed.scenario.readings.len(),
        messages: replayed.messages,
        rejected: replayed.rejected.clone(),
        transitions: replayed.transitions.len(),
        truth_events: truth.len(),
        rules: Vec::new(),
        misses: Vec::new(),
        spurious: Vec::new(),
        late: Vec::new(),
        spurious_per_site: replayed.scenario.sites.iter().map(|s| (s.clone(), 0)).collect(),
        unreported: Vec::new(),
    };
    let mut owned = vec![false; truth.len()];
    for rule in rules.rules().iter().filter(|r| r.notifies()) {
        let hold = rules.hold_ns(rule);
        let names: Vec<&str> = rule.level_names().collect();
        let mine: Vec<(usize, &Transition)> = replayed
            .transitions
            .iter()
            .enumerate()
            .filter(|(_, t)| t.rule_id == rule.id())
            .collect();
        let steps = timeline(rule, &mine);
        let events: Vec<(usize, &TruthEvent)> = truth
            .iter()
            .enumerate()
            .filter(|(_, e)| names.contains(&e.level.as_str()))
            .filter(|(_, e)| {
                let tags: Vec<(&str, &str)> = e.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                rules.selects(rule, e.measurement.as_deref(), &tags)
            })
            .collect();
        let window = |e: &TruthEvent| (e.start_ns - e.interval_ns, e.end_ns + hold + e.interval_ns);
        let mut score = RuleScore {
            rule_id: rule.id().to_owned(),
            kind: rule.kind().to_owned(),
            events: events.len(),
            detected: 0,
            missed: 0,
            spurious: 0,
            flaps: mine.iter().filter(|(_, t)| t.change == Change::Flapping).count(),
            max_delay_s: None,
            mean_delay_s: None,
            over_budget: 0,
        };
        let mut delays = Vec::new();
        let mut refires = BTreeSet::new();
        for &(ei, e) in &events {
            owned[ei] = true;
            let Some(want) = names.iter().position(|n| *n == e.level) else {
                continue;
            };
            let (from, to) = window(e);
            let series: Vec<&Step<'_>> = steps.iter().filter(|s| matches(s.t, e)).collect();
            let before = series.iter().rev().find(|s| s.at <= from).and_then(|s| s.level);
            let detected_at = if before.is_some_and(|l| l >= want) {
                Some(e.start_ns + hold)
            } else {
                series
                    .iter()
                    .find(|s| s.at > from && s.at <= to && s.level.is_some_and(|l| l >= want))
                    .map(|s| s.at)
            };
            match detected_at {
                Some(at) => {
                    score.detected += 1;
                    let delay = at - (e.start_ns + hold);
                    delays.push(delay);
                    if delay > e.interval_ns {
                        score.over_budget += 1;
                        report.late.push(Late {
                            rule_id: rule.id().to_owned(),
                            level: e.level.clone(),
                            what: e.what.clone(),
                            delay_s: delay as f64 / 1e9,
                            budget_s: e.interval_ns as f64 / 1e9,
                        });
                    }
                    // Fired again (from ok) during the same event.
                    for s in series.iter().filter(|s| s.at > at && s.at <= e.end_ns + hold) {
                        if s.t.change == Change::Fired {
                            refires.insert(s.index);
                        }
                    }
                }
                None => {
                    score.missed += 1;
                    report.misses.push(Miss {
                        rule_id: rule.id().to_owned(),
                        level: e.level.clone(),
                        what: e.what.clone(),
                        start_ns: e.start_ns,
                    });
                }
            }
        }
        score.flaps += refires.len();
        for s in &steps {
            let Some(level) = s.level else { continue };
            let explained = events.iter().any(|(_, e)| {
                let (from, to) = window(e);
                e.level == names[level] && matches(s.t, e) && (from..=to).contains(&s.at)
            });
            if !explained {
                score.spurious += 1;
                let site =
                    s.t.series
                        .site
                        .clone()
                        .or_else(|| s.t.series.tags.values().next().cloned())
                        .unwrap_or_else(|| "-".into());
                *report.spurious_per_site.entry(site.clone()).or_default() += 1;
                report.spurious.push(Spurious {
                    rule_id: rule.id().to_owned(),
                    site,
                    level: names[level].to_owned(),
                    message: s.t.message.clone(),
                    at_ns: s.at,
                });
            }
        }
        if !delays.is_empty() {
            score.max_delay_s = delays.iter().max().map(|&d| d as f64 / 1e9);
            score.mean_delay_s = Some(delays.iter().sum::<i64>() as f64 / delays.len() as f64 / 1e9);
        }
        report.rules.push(score);
    }
    report.unreported = truth
        .iter()
        .zip(&owned)
        .filter(|(_, o)| !**o)
        .map(|(e, _)| (e.what.clone(), e.level.clone()))
        .collect();
    report
}
