//! The engine: routes points to rules, keeps one state machine per (rule,
//! series), and runs the wall-clock timers on [`Engine::tick`].
//!
//! It is synchronous and owns its state, so the caller runs it on one task
//! fed by a bounded channel and passes the wall time in (`now_ns`): tests
//! drive time by hand, and the engine never reads a clock itself.

use std::collections::HashMap;

use telegate_model::Point;

use crate::combined::{self, ComponentChange};
use crate::config::AlertConfig;
use crate::device::{DeviceRecord, DeviceRegistry};
use crate::flap::Admit;
use crate::machine::{Phase, Step};
use crate::rule::{Kind, Rule};
use crate::series::SeriesKey;
use crate::state::SeriesState;
use crate::transition::{ActiveAlert, Numbers, Transition, alert_id, flap_message, render, thresholds};
use crate::{deadman, evaluate};

/// The alert rules engine. See the crate docs for states and time.
#[derive(Debug)]
pub struct Engine {
    pub(crate) config: AlertConfig,
    /// measurement → indices of the rules that select it.
    by_measurement: HashMap<String, Vec<usize>>,
    /// Rules with no measurement (device-wide deadman): see every point.
    any_measurement: Vec<usize>,
    /// rule → the combined rules listing it in `all_of`.
    dependents: Vec<Vec<usize>>,
    /// Per rule (same index as `config.rules`): its series.
    pub(crate) series: Vec<HashMap<SeriesKey, SeriesState>>,
    /// Every device seen, saved with the state.
    pub(crate) devices: DeviceRegistry,
    /// Wall time of the first call since start or restore. Wall-clock timers
    /// (deadman silence, `for` extrapolation) do not count time before it:
    /// while the gateway was down, devices were not silent, we were deaf.
    epoch_ns: Option<i64>,
}

impl Engine {
    pub fn new(config: AlertConfig) -> Engine {
        let mut by_measurement: HashMap<String, Vec<usize>> = HashMap::new();
        let mut any_measurement = Vec::new();
        let mut dependents = vec![Vec::new(); config.rules.len()];
        for (i, rule) in config.rules.iter().enumerate() {
            match (&rule.kind, &rule.selector.measurement) {
                (Kind::Combined { all_of }, _) => {
                    for &c in all_of {
                        dependents[c].push(i);
                    }
                }
                (_, Some(m)) => by_measurement.entry(m.clone()).or_default().push(i),
                (_, None) => any_measurement.push(i),
            }
        }
        let series = vec![HashMap::new(); config.rules.len()];
        Engine {
            config,
            by_measurement,
            any_measurement,
            dependents,
            series,
            devices: DeviceRegistry::default(),
            epoch_ns: None,
        }
    }

    /// The rules in force.
    pub fn config(&self) -> &AlertConfig {
        &self.config
    }

    /// Swap in new rules (a reload), keeping the state of every rule whose
    /// id, kind and grouping are unchanged; see [`Engine::restore`].
    pub fn reload(&mut self, config: AlertConfig) {
        let epoch = self.epoch_ns;
        *self = Engine::restore(config, self.snapshot());
        self.epoch_ns = epoch;
    }

    fn epoch(&mut self, now_ns: i64) -> i64 {
        *self.epoch_ns.get_or_insert(now_ns)
    }

    /// Feed one decoded reading; `now_ns` is the wall time. Returns the
    /// transitions it caused (usually none).
    pub fn observe(&mut self, point: &Point, now_ns: i64) -> Vec<Transition> {
        let mut out = Vec::new();
        self.observe_into(point, now_ns, &mut out);
        out
    }

    /// [`Engine::observe`] appending to a caller's buffer (no allocation when
    /// nothing changes).
    pub fn observe_into(&mut self, point: &Point, now_ns: i64, out: &mut Vec<Transition>) {
        let first = out.len();
        self.observe_point(point, now_ns, out);
        if now_ns.saturating_sub(point.time_ns) > crate::transition::LATE_NS {
            for t in &mut out[first..] {
                t.late = true;
            }
        }
    }

    fn observe_point(&mut self, point: &Point, now_ns: i64, out: &mut Vec<Transition>) {
        // Starts the wall-clock timers' count on the first call.
        self.epoch(now_ns);
        self.devices.observe(point, now_ns);
        let Engine {
            config,
            by_measurement,
            any_measurement,
            dependents,
            series,
            ..
        } = self;
        let mut tags: Vec<(&str, &str)> = point.tags.iter().map(|(k, v)| (&**k, v.as_str())).collect();
        let device = tags.iter().find(|(k, _)| *k == "device_id").map(|(_, v)| *v);
        if let Some(labels) = device.and_then(|d| config.labels.get(d)) {
            for (k, v) in labels {
                if !tags.iter().any(|(tk, _)| tk == k) {
                    tags.push((k, v));
                }
            }
        }
        let measurement: &str = &point.measurement;
        let candidates = by_measurement.get(measurement).into_iter().flatten();
        let mut changes = Vec::new();
        for &ri in candidates.chain(any_measurement.iter()) {
            let rule = &config.rules[ri];
            if !rule.selector.matches(&tags) {
                continue;
            }
            let in_key = rule.selector.measurement.as_ref().map(|_| measurement);
            let Some(key) = SeriesKey::build(in_key, &tags, &rule.grouping) else {
                continue;
            };
            let states = &mut series[ri];
            if !states.contains_key(&key) {
                states.insert(key.clone(), SeriesState::new(now_ns));
            }
            let Some(st) = states.get_mut(&key) else { continue };
            let step = match &rule.kind {
                Kind::Value { field, calc, .. } => evaluate::value(rule, field, calc, st, point, now_ns),
                Kind::State { when } => evaluate::state(rule, when, st, point, now_ns),
                Kind::Deadman { .. } => deadman::observe(rule, st, point, now_ns),
                Kind::Combined { .. } => None,
            };
            if let Some(at) = st.watermark_ns {
                settle(rule, &key, st, at, now_ns, out);
            }
            if let Some(step) = step {
                report(rule, &key, st, &step, now_ns, out);
                if !dependents[ri].is_empty() {
                    changes.push(ComponentChange {
                        rule: ri,
                        series: key,
                        event_ns: step.event_ns,
                    });
                }
            }
        }
        combined::propagate(config, dependents, series, &changes, now_ns, out);
    }

    /// Run the wall-clock timers: deadman silence, `for` durations that run
    /// out with no new data, re-notifications. Call it every second or so.
    pub fn tick(&mut self, now_ns: i64) -> Vec<Transition> {
        let mut out = Vec::new();
        self.tick_into(now_ns, &mut out);
        out
    }

    /// [`Engine::tick`] appending to a caller's buffer.
    pub fn tick_into(&mut self, now_ns: i64, out: &mut Vec<Transition>) {
        let epoch = self.epoch(now_ns);
        let mut changes = Vec::new();
        // Components first, so combined rules see this tick's changes.
        for combined_pass in [false, true] {
            for ri in 0..self.config.rules.len() {
                let rule = &self.config.rules[ri];
                if matches!(rule.kind, Kind::Combined { .. }) != combined_pass {
                    continue;
                }
                let mut stepped: Vec<(SeriesKey, Vec<Transition>, Option<i64>)> = Vec::new();
                for (key, st) in self.series[ri].iter_mut() {
                    let step = match rule.kind {
                        Kind::Deadman { .. } => deadman::tick(rule, st, now_ns, epoch),
                        _ => st
                            .estimated_event_ns(now_ns, epoch)
                            .and_then(|est| st.phase.elapse(est, now_ns, rule.for_ns)),
                    };
                    let step = step.or_else(|| {
                        let at = st.watermark_ns.unwrap_or(0);
                        st.phase.renotify(now_ns, rule.renotify_ns, at)
                    });
                    let mut ts = Vec::new();
                    if let Some(step) = &step {
                        report(rule, key, st, step, now_ns, &mut ts);
                    }
                    if let Some(est) = st.estimated_event_ns(now_ns, epoch) {
                        settle(rule, key, st, est, now_ns, &mut ts);
                    }
                    if step.is_some() || !ts.is_empty() {
                        stepped.push((key.clone(), ts, step.map(|s| s.event_ns)));
                    }
                }
                // HashMap order is random; report in series order.
                stepped.sort_by(|a, b| a.0.cmp(&b.0));
                for (key, ts, event_ns) in stepped {
                    out.extend(ts);
                    if let Some(event_ns) = event_ns
                        && !combined_pass
                        && !self.dependents[ri].is_empty()
                    {
                        changes.push(ComponentChange {
                            rule: ri,
                            series: key,
                            event_ns,
                        });
                    }
                }
            }
            if !combined_pass {
                combined::propagate(&self.config, &self.dependents, &mut self.series, &changes, now_ns, out);
            }
        }
    }

    /// Every device seen (restored ones included), by id.
    pub fn devices(&self) -> impl Iterator<Item = &DeviceRecord> {
        self.devices.devices.values()
    }

    /// New devices not registered because the registry is full.
    /// How many devices the registry holds.
    pub fn device_count(&self) -> usize {
        self.devices.devices.len()
    }

    pub fn devices_refused(&self) -> u64 {
        self.devices.refused
    }

    /// Take a device out of service: forget it, and drop its deadman series
    /// so its silence is never reported again. A firing deadman of it is
    /// resolved (appended to `out`, message "decommissioned"). `false` when
    /// no such device is known.
    pub fn decommission(&mut self, device_id: &str, now_ns: i64, out: &mut Vec<Transition>) -> bool {
        let known = self.devices.devices.remove(device_id).is_some();
        let mut found = known;
        for (rule, states) in self.config.rules.iter().zip(self.series.iter_mut()) {
            if !matches!(rule.kind, Kind::Deadman { .. }) {
                continue;
            }
            let keys: Vec<SeriesKey> = states
                .keys()
                .filter(|k| k.device_id.as_deref() == Some(device_id))
                .cloned()
                .collect();
            for key in keys {
                found = true;
                let Some(st) = states.remove(&key) else { continue };
                if let Phase::Firing { level, episode_ns, .. } = st.phase
                    && rule.notify
                {
                    let step = Step {
                        from: crate::AlertState::Firing,
                        to: crate::AlertState::Resolved,
                        change: crate::Change::Resolved,
                        level,
                        previous_level: None,
                        episode_ns,
                        event_ns: st.watermark_ns.unwrap_or(episode_ns),
                    };
                    let mut t = Transition::new(rule, &key, &step, &numbers(rule, &st), now_ns);
                    t.message = format!("{device_id} decommissioned: {} cleared", rule.name);
                    out.push(t);
                }
            }
        }
        found
    }

    /// The alerts firing now (rules with `notify = false` are left out),
    /// most severe first, then the most recent level change first.
    pub fn firing(&self) -> Vec<ActiveAlert> {
        let mut alerts = Vec::new();
        for (rule, states) in self.config.rules.iter().zip(&self.series) {
            if !rule.notify {
                continue;
            }
            for (key, st) in states {
                if let Some(f) = &st.flap.flapping {
                    let n = numbers(rule, st);
                    alerts.push(ActiveAlert {
                        alert_id: alert_id(&rule.id, key, f.since_ns),
                        rule_id: rule.id.clone(),
                        rule_name: rule.name.clone(),
                        level: rule.levels[f.level].name.clone(),
                        severity: rule.levels[f.level].severity,
                        series: key.clone(),
                        since_ns: f.since_ns,
                        episode_start_ns: f.since_ns,
                        fired_ns: f.since_ns,
                        last_notified_ns: 0,
                        flapping: true,
                        value: n.value,
                        threshold: thresholds(rule, f.level, &n).0,
                        message: flap_message(rule, key, false),
                    });
                    continue;
                }
                let Phase::Firing {
                    level,
                    episode_ns,
                    fired_ns,
                    level_since_ns,
                    notified_wall_ns,
                    ..
                } = st.phase
                else {
                    continue;
                };
                let n = numbers(rule, st);
                alerts.push(ActiveAlert {
                    alert_id: alert_id(&rule.id, key, episode_ns),
                    rule_id: rule.id.clone(),
                    rule_name: rule.name.clone(),
                    level: rule.levels[level].name.clone(),
                    severity: rule.levels[level].severity,
                    series: key.clone(),
                    since_ns: level_since_ns,
                    episode_start_ns: episode_ns,
                    fired_ns,
                    last_notified_ns: notified_wall_ns,
                    flapping: false,
                    value: n.value,
                    threshold: thresholds(rule, level, &n).0,
                    message: render(rule, key, level, false, &n),
                });
            }
        }
        alerts.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| b.since_ns.cmp(&a.since_ns))
                .then_with(|| a.rule_id.cmp(&b.rule_id))
                .then_with(|| a.series.cmp(&b.series))
        });
        alerts
    }
}

fn numbers<'a>(rule: &Rule, st: &'a SeriesState) -> Numbers<'a> {
    Numbers {
        value: st.value,
        limit: deadman::limit_ns(rule, st).map(|ns| ns as f64 / 1e9),
        components: &st.components,
    }
}

/// Report a step, through the series' flap limiter.
fn report(rule: &Rule, key: &SeriesKey, st: &mut SeriesState, step: &Step, now_ns: i64, out: &mut Vec<Transition>) {
    if !rule.notify {
        return;
    }
    match st.flap.admit(rule.flap, step) {
        Admit::Report => out.push(Transition::new(rule, key, step, &numbers(rule, st), now_ns)),
        Admit::Quiet => {}
        Admit::Flapping(flap) => out.push(Transition::new(rule, key, &flap, &numbers(rule, st), now_ns)),
    }
}

/// A flapping series that has been steady for the flap window at event
/// time `at` settles (and reports its true state).
fn settle(rule: &Rule, key: &SeriesKey, st: &mut SeriesState, at: i64, now_ns: i64, out: &mut Vec<Transition>) {
    if st.flap.flapping.is_none() {
        return;
    }
    for step in st.flap.settle(rule.flap, &st.phase, at) {
        if rule.notify {
            out.push(Transition::new(rule, key, &step, &numbers(rule, st), now_ns));
        }
    }
}
