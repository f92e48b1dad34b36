//! What the engine reports: [`Transition`]s (changes, re-notifications) and
//! [`ActiveAlert`]s (what is firing now). Both serialize to JSON for the
//! outputs and the API that come later.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::machine::{AlertState, Change, Step};
use crate::rule::{Kind, Rule, Severity};
use crate::series::SeriesKey;
use crate::template::RenderCtx;

/// One state change of one alert (or a re-notification).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    /// Stable for the whole episode (pending → firing → resolved) and across
    /// restarts: a hash of rule id, series and the event time the episode
    /// began. Outputs use it to thread or de-duplicate notifications.
    pub alert_id: String,
    pub rule_id: String,
    pub rule_name: String,
    /// The level after the change; for `resolved`/`cancelled`, the level left.
    pub level: String,
    /// The level before an escalation or de-escalation.
    pub previous_level: Option<String>,
    pub severity: Severity,
    pub series: SeriesKey,
    pub from: AlertState,
    pub to: AlertState,
    pub change: Change,
    /// The number compared with the level (a stage, a 24 h sum, a rate; for
    /// a deadman the silence in seconds). `None` for state and combined rules.
    pub value: Option<f64>,
    /// The level's threshold on the side the value is on (deadman: the
    /// silence limit in seconds).
    pub threshold: Option<f64>,
    /// Combined rules: each component rule's value for this group.
    pub values: BTreeMap<String, f64>,
    /// Device time the change happened at (see the crate docs).
    pub event_time_ns: i64,
    /// Device time the episode began (left `ok`): the same for every
    /// transition of one `alert_id`.
    pub episode_start_ns: i64,
    /// Wall time the engine decided it.
    pub evaluated_at_ns: i64,
    /// Caused by a reading that arrived more than [`LATE_NS`] after its
    /// event time (a backfilled batch after a coverage gap): the console
    /// marks it, because it sorts by event time, not arrival.
    pub late: bool,
    pub message: String,
    /// Set by the gateway, never by the engine: the id of the operator
    /// silence that covers this transition. A silenced transition is still
    /// recorded (the `alerts` measurement, the console) but notifying
    /// outputs skip it ([`Transition::notifies`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silenced_by: Option<String>,
}

impl Transition {
    /// Whether notifying outputs (MQTT, webhook, e-mail…) deliver it: the
    /// one place that decision is made, so every output agrees.
    pub fn notifies(&self) -> bool {
        self.silenced_by.is_none()
    }
}

/// A transition caused by a reading older than this on arrival is `late`.
pub const LATE_NS: i64 = 5 * 60 * 1_000_000_000;

/// A firing alert, as listed by [`crate::Engine::firing`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActiveAlert {
    pub alert_id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub level: String,
    pub severity: Severity,
    pub series: SeriesKey,
    /// Event time the current level was entered (fired, escalated or
    /// de-escalated to it): a BĐ II → BĐ III escalation resets it.
    pub since_ns: i64,
    /// Event time the episode began (left ok).
    pub episode_start_ns: i64,
    /// Event time it fired.
    pub fired_ns: i64,
    /// Wall time of the last notification.
    pub last_notified_ns: i64,
    /// The series reached its rule's flap limit: listed once, at the most
    /// severe level seen while flapping, until it settles.
    pub flapping: bool,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub message: String,
}

/// The numbers a transition reports besides its state.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Numbers<'a> {
    pub(crate) value: Option<f64>,
    /// Deadman only: the limit in seconds (value rules take it from the level).
    pub(crate) limit: Option<f64>,
    pub(crate) components: &'a [(String, f64)],
}

/// The level's threshold and clear level for `value`, or the deadman limit.
pub(crate) fn thresholds(rule: &Rule, level: usize, n: &Numbers<'_>) -> (Option<f64>, Option<f64>) {
    match (&rule.kind, rule.levels.get(level)) {
        (Kind::Deadman { .. }, _) => (n.limit, None),
        (_, Some(l)) => (l.threshold_for(n.value), l.clear_for(n.value)),
        (_, None) => (None, None),
    }
}

pub(crate) fn render(rule: &Rule, series: &SeriesKey, level: usize, resolved: bool, n: &Numbers<'_>) -> String {
    let (threshold, clear) = thresholds(rule, level, n);
    let (level_name, severity) = rule
        .levels
        .get(level)
        .map_or(("", ""), |l| (l.name.as_str(), l.severity.as_str()));
    let (field, window_ns) = match &rule.kind {
        Kind::Value { field, calc, .. } => (Some(field.as_str()), Some(calc.window_ns()).filter(|w| *w > 0)),
        _ => (None, None),
    };
    let ctx = RenderCtx {
        series,
        rule_id: &rule.id,
        rule_name: &rule.name,
        field,
        level_name,
        severity,
        value: n.value,
        threshold,
        clear,
        window_ns,
        for_ns: rule.for_ns,
        components: n.components,
        decimals: rule.decimals,
    };
    if resolved {
        rule.resolved_message.render(&ctx)
    } else {
        rule.message.render(&ctx)
    }
}

impl Transition {
    pub(crate) fn new(rule: &Rule, series: &SeriesKey, step: &Step, n: &Numbers<'_>, now_ns: i64) -> Transition {
        let level = rule.levels.get(step.level);
        let resolved = matches!(step.change, Change::Resolved | Change::Cancelled);
        let message = match step.change {
            Change::Flapping | Change::Settled => flap_message(rule, series, step.change == Change::Settled),
            _ => render(rule, series, step.level, resolved, n),
        };
        Transition {
            alert_id: alert_id(&rule.id, series, step.episode_ns),
            rule_id: rule.id.clone(),
            rule_name: rule.name.clone(),
            level: level.map(|l| l.name.clone()).unwrap_or_default(),
            previous_level: step
                .previous_level
                .and_then(|p| rule.levels.get(p))
                .map(|l| l.name.clone()),
            severity: level.map_or(Severity::Info, |l| l.severity),
            series: series.clone(),
            from: step.from,
            to: step.to,
            change: step.change,
            value: n.value,
            threshold: thresholds(rule, step.level, n).0,
            values: n.components.iter().cloned().collect(),
            event_time_ns: step.event_ns,
            episode_start_ns: step.episode_ns,
            evaluated_at_ns: now_ns,
            late: false,
            message,
            silenced_by: None,
        }
    }
}

/// The message of a `flapping` or `settled` transition (rule templates
/// describe a value, not a series that cannot make up its mind).
pub(crate) fn flap_message(rule: &Rule, series: &SeriesKey, settled: bool) -> String {
    let Some(f) = rule.flap else {
        return String::new();
    };
    let window = crate::template::format_duration_ns(f.window_ns);
    if settled {
        format!("{series}: {} steady for {window}, no longer flapping", rule.name)
    } else {
        format!(
            "{series}: {} is flapping ({} alerts within {window}); quiet until steady for {window}",
            rule.name, f.limit
        )
    }
}

/// FNV-1a over rule id, series and episode start: stable across builds and
/// restarts (std's hasher is not guaranteed to be), 16 hex digits.
pub(crate) fn alert_id(rule_id: &str, series: &SeriesKey, episode_ns: i64) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(rule_id.as_bytes());
    eat(&[0]);
    eat(series.to_string().as_bytes());
    eat(&[0]);
    eat(&episode_ns.to_le_bytes());
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_id_is_stable_and_distinguishes_episodes() {
        let key = SeriesKey {
            measurement: Some("river_level".into()),
            device_id: Some("rl-001".into()),
            site: Some("muong-te".into()),
            tags: BTreeMap::new(),
        };
        let a = alert_id("river-bd", &key, 1_000);
        assert_eq!(a, alert_id("river-bd", &key, 1_000));
        assert_eq!(a.len(), 16);
        assert_ne!(a, alert_id("river-bd", &key, 2_000));
        assert_ne!(a, alert_id("river-rate", &key, 1_000));
    }
}
