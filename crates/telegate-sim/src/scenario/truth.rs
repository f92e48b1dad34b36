//! Ground truth: what really happened, in the vocabulary operators alarm in.

/// One injected (or naturally occurring) event: the true signal of a device
/// (or of a group, for a landslide warning) was at or past an official
/// level from `start_ns` to `end_ns`.
///
/// Levels nest: a river at BĐ III is also past BĐ II and BĐ I, so a flood to
/// BĐ III yields three events. `level` is the name operators use (the level
/// names of `config/alerts.example.toml`); `tags` say whose event it is:
/// `device_id` and `site` for a device's signal, the group (`site`, or a
/// label such as `slope`) for a combined condition.
#[derive(Debug, Clone, PartialEq)]
pub struct TruthEvent {
    /// Sensor type whose readings show it; `None` for a condition over
    /// several devices (heavy rain on saturated soil).
    pub measurement: Option<String>,
    /// `device_id`, `site` (device events) or the group's tags.
    pub tags: Vec<(String, String)>,
    /// Official level name (`BĐ II`, `risk level 1`, `offline`...).
    pub level: String,
    /// What happened, for humans.
    pub what: String,
    /// The true signal reached the level (event time; for `offline`, the
    /// time the third report was missed).
    pub start_ns: i64,
    /// It left the level again (equal to `start_ns` for one weighing).
    pub end_ns: i64,
    /// The device's reporting interval when the event started: the
    /// detection-delay budget.
    pub interval_ns: i64,
    /// `offline`: judged on the gateway's clock (arrival), not event time.
    pub on_arrival_clock: bool,
}

impl TruthEvent {
    /// A tag of the event.
    pub fn tag(&self, name: &str) -> Option<&str> {
        self.tags.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Intervals where `holds(t)` on a 1-minute grid over `[from, to)`, each
/// started at the first minute it holds and ended at the last.
pub(crate) fn intervals(from: i64, to: i64, step: i64, mut holds: impl FnMut(i64) -> bool) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut open: Option<i64> = None;
    let mut t = from;
    let mut last = from;
    while t < to {
        match (holds(t), open) {
            (true, None) => open = Some(t),
            (false, Some(s)) => {
                out.push((s, last));
                open = None;
            }
            _ => {}
        }
        last = t;
        t += step;
    }
    if let Some(s) = open {
        out.push((s, last));
    }
    out
}
