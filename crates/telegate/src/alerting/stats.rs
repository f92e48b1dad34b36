//! Counters of the alert path, and their `/metrics` families.
//!
//! Everything an operator needs to see that alerting keeps up: what was
//! evaluated, what changed, what was skipped because a queue was full (the
//! evaluator's or an output's), and what each output delivered or failed.
//! Each family is declared once: a plain counter with its field in
//! [`AlertStats`], a labelled one in the `families!` list below.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::metrics::{ExtraMetrics, Rows, families};

/// The outputs, as metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    Mqtt,
    Influx,
    Webhook,
    /// `[alerts.oncall]`: a second webhook that receives escalations only.
    Oncall,
    /// `[alerts.email]`: SMTP.
    Email,
}

impl OutputKind {
    pub const ALL: [OutputKind; 5] = [
        OutputKind::Mqtt,
        OutputKind::Influx,
        OutputKind::Webhook,
        OutputKind::Oncall,
        OutputKind::Email,
    ];

    pub fn label(self) -> &'static str {
        match self {
            OutputKind::Mqtt => "mqtt",
            OutputKind::Influx => "influx",
            OutputKind::Webhook => "webhook",
            OutputKind::Oncall => "oncall",
            OutputKind::Email => "email",
        }
    }

    /// Records every transition (silenced ones too) rather than notifying
    /// anyone: see [`super::outputs::delivers`].
    pub fn records(self) -> bool {
        matches!(self, OutputKind::Influx)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Per-output counters.
#[derive(Debug, Default)]
pub struct OutputStats {
    /// Transitions the destination confirmed.
    pub delivered: AtomicU64,
    /// Failed attempts (each retry counts).
    pub errors: AtomicU64,
    /// Transitions given up on: queue full, refused for good, or too many attempts.
    pub dropped: AtomicU64,
    /// Transitions waiting in the output's queue (or being retried).
    pub depth: AtomicU64,
}

telegate_model::stats! {
    /// The alert path's counters; the labelled families (by rule, by
    /// queue, by output) are written by hand below.
    pub struct AlertStats {
        counter evaluated: "telegate_alert_evaluated_total" "Points evaluated by the alert rules.",
        /// The engine's list.
        gauge firing: "telegate_alert_firing" "Alerts firing now.",
        counter reload_failures: "telegate_alert_reload_failures_total"
            "Alert rules or [alerts] reloads refused (the rules in service stay in service).",
        /// Messages the evaluator's queue had no room for (skipped by alerting only).
        pub queue_dropped: AtomicU64,
        /// Messages waiting for the evaluator.
        pub queue_depth: AtomicU64,
        /// Lines the evaluator could not parse back (a bug if ever non-zero).
        pub parse_errors: AtomicU64,
        /// (rule, state the transition went to) → count.
        transitions: Mutex<BTreeMap<(String, &'static str), u64>>,
        outputs: [OutputStats; OutputKind::ALL.len()],
    }
}

impl AlertStats {
    pub fn output(&self, kind: OutputKind) -> &OutputStats {
        &self.outputs[kind.index()]
    }

    pub fn transition(&self, rule: &str, to: &'static str) {
        let mut t = self.transitions.lock().unwrap_or_else(|e| e.into_inner());
        match t.get_mut(&(rule.to_owned(), to)) {
            Some(n) => *n += 1,
            None => {
                t.insert((rule.to_owned(), to), 1);
            }
        }
    }

    /// Transitions counted so far, by (rule, to).
    pub fn transitions(&self) -> BTreeMap<(String, &'static str), u64> {
        self.transitions.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// One row per queue: the evaluator's, then each output's.
fn by_queue(
    s: &AlertStats,
    evaluator: u64,
    get: impl Fn(&OutputStats) -> u64,
) -> Rows<impl Iterator<Item = ([&'static str; 1], u64)>> {
    let outputs = OutputKind::ALL
        .into_iter()
        .map(move |k| ([k.label()], get(s.output(k))));
    Rows(std::iter::once((["evaluator"], evaluator)).chain(outputs))
}

/// One row per output.
fn by_output(
    s: &AlertStats,
    get: impl Fn(&OutputStats) -> u64,
) -> Rows<impl Iterator<Item = ([&'static str; 1], u64)>> {
    Rows(
        OutputKind::ALL
            .into_iter()
            .map(move |k| ([k.label()], get(s.output(k)))),
    )
}

families! {
    /// The alert path's families, appended to `/metrics` when alerting is on.
    pub const NAMES;
    fn render_alerts(s: &AlertStats);
    group AlertStats => s;
    counter "telegate_alert_transitions_total" ["rule", "to"] "Alert transitions, by rule and the state entered."
        => Rows(s.transitions().into_iter().map(|((rule, to), n)| ([rule, to.to_owned()], n)));
    counter "telegate_alert_queue_dropped_total" ["queue"] "Skipped because a queue was full: messages not evaluated (queue=\"evaluator\") or transitions not sent (queue=output)."
        => by_queue(s, s.queue_dropped.load(Relaxed), |o| o.dropped.load(Relaxed));
    gauge "telegate_alert_queue_depth" ["queue"] "Waiting in an alert queue: messages for the evaluator, transitions for an output."
        => by_queue(s, s.queue_depth.load(Relaxed), |o| o.depth.load(Relaxed));
    counter "telegate_alert_output_errors_total" ["output"] "Failed delivery attempts of alert transitions, by output (each retry counts)."
        => by_output(s, |o| o.errors.load(Relaxed));
    counter "telegate_alert_delivered_total" ["output"] "Alert transitions delivered, by output."
        => by_output(s, |o| o.delivered.load(Relaxed));
}

impl ExtraMetrics for AlertStats {
    fn render(&self, out: &mut String) {
        render_alerts(out, self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_with_labels() {
        let s = AlertStats::default();
        s.evaluated.fetch_add(3, Relaxed);
        s.transition("flood \"x\"", "firing");
        s.transition("flood \"x\"", "firing");
        s.output(OutputKind::Webhook).errors.fetch_add(2, Relaxed);
        let mut page = String::new();
        s.render(&mut page);
        assert!(page.contains("telegate_alert_evaluated_total 3\n"), "{page}");
        assert!(
            page.contains("telegate_alert_transitions_total{rule=\"flood \\\"x\\\"\",to=\"firing\"} 2\n"),
            "{page}"
        );
        assert!(
            page.contains("telegate_alert_output_errors_total{output=\"webhook\"} 2\n"),
            "{page}"
        );
        assert!(
            page.contains("telegate_alert_queue_dropped_total{queue=\"evaluator\"} 0\n"),
            "{page}"
        );
    }
}
