//! Validated rules: what [`crate::AlertConfig`] produces and the engine runs.
//!
//! Everything here has been checked (levels ordered, clear levels on the
//! right side, durations positive, templates known), so the engine never
//! re-validates on the hot path. Fields are crate-private: rules are built
//! only from a config file, so an invalid rule cannot exist.

use serde::{Deserialize, Serialize};

use crate::series::Grouping;
use crate::template::Template;

/// How urgent an alert is; outputs route on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Which side of a level is the alarming one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Above,
    Below,
    Outside,
}

/// When one level starts and when it clears again. The gap between the two
/// is the hysteresis that stops a value hovering at a threshold from
/// flapping.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bounds {
    /// Starts at `value >= threshold`, clears at `value < clear`.
    Above { threshold: f64, clear: f64 },
    /// Starts at `value <= threshold`, clears at `value > clear`.
    Below { threshold: f64, clear: f64 },
    /// Starts at `value <= low || value >= high`; clears once
    /// `clear_low < value < clear_high`.
    Outside {
        low: f64,
        high: f64,
        clear_low: f64,
        clear_high: f64,
    },
    /// State, deadman and combined rules: the condition is a yes/no decided
    /// by the rule kind, so the single level has no numbers.
    Flag,
}

/// One named level of a rule (e.g. BĐ II at one river station).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Level {
    pub(crate) name: String,
    pub(crate) severity: Severity,
    pub(crate) bounds: Bounds,
}

impl Level {
    /// The value crosses into this level.
    pub(crate) fn starts(&self, v: f64) -> bool {
        match self.bounds {
            Bounds::Above { threshold, .. } => v >= threshold,
            Bounds::Below { threshold, .. } => v <= threshold,
            Bounds::Outside { low, high, .. } => v <= low || v >= high,
            Bounds::Flag => false,
        }
    }

    /// The value has not yet cleared this level (used once it is held).
    pub(crate) fn holds(&self, v: f64) -> bool {
        match self.bounds {
            Bounds::Above { clear, .. } => v >= clear,
            Bounds::Below { clear, .. } => v <= clear,
            Bounds::Outside {
                clear_low, clear_high, ..
            } => v <= clear_low || v >= clear_high,
            Bounds::Flag => false,
        }
    }

    /// The threshold reported with a value: for `outside`, the side the
    /// value is on.
    pub(crate) fn threshold_for(&self, v: Option<f64>) -> Option<f64> {
        match self.bounds {
            Bounds::Above { threshold, .. } | Bounds::Below { threshold, .. } => Some(threshold),
            Bounds::Outside { low, high, .. } => match v {
                Some(v) if v <= (low + high) / 2.0 => Some(low),
                _ => Some(high),
            },
            Bounds::Flag => None,
        }
    }

    /// The clear level reported in messages.
    pub(crate) fn clear_for(&self, v: Option<f64>) -> Option<f64> {
        match self.bounds {
            Bounds::Above { clear, .. } | Bounds::Below { clear, .. } => Some(clear),
            Bounds::Outside {
                low,
                high,
                clear_low,
                clear_high,
            } => match v {
                Some(v) if v <= (low + high) / 2.0 => Some(clear_low),
                _ => Some(clear_high),
            },
            Bounds::Flag => None,
        }
    }
}

/// How a value rule turns samples into the number compared with its levels.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Calc {
    /// The sample's own value.
    Last,
    /// Sum of the samples in `(t - window, t]` (rain per 1 h / 3 h / 24 h).
    Sum { window_ns: i64, min_samples: usize },
    /// Mean of the samples in `(t - window, t]` (PM2.5 over 24 h).
    Mean { window_ns: i64, min_samples: usize },
    /// Slope between the oldest and newest sample in `[t - window, t]`,
    /// expressed per `per` (cm per hour, degrees per hour). Not judged
    /// until those two samples are at least `min_span` apart, so two
    /// readings seconds apart are never extrapolated to an hour.
    Rate {
        window_ns: i64,
        per_ns: i64,
        min_span_ns: i64,
    },
}

impl Calc {
    /// How far back samples are kept: 0 for [`Calc::Last`].
    pub(crate) fn window_ns(&self) -> i64 {
        match *self {
            Calc::Last => 0,
            Calc::Sum { window_ns, .. } | Calc::Mean { window_ns, .. } | Calc::Rate { window_ns, .. } => window_ns,
        }
    }
}

/// A value a `state` rule compares a field with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expected {
    Bool(bool),
    Str(String),
    Int(i64),
    Float(f64),
}

/// What a rule watches.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// threshold, sum, mean, rate: a number compared with ordered levels.
    Value {
        field: String,
        calc: Calc,
        direction: Direction,
    },
    /// Every listed field equals its value (tamper = true).
    State { when: Vec<(String, Expected)> },
    /// No reading received for longer than cadence × factor (wall time).
    Deadman {
        cadence_ns: i64,
        factor: f64,
        mode_field: Option<String>,
        /// Cadence per mode value (e.g. "flood" → 5 min).
        mode_cadence: Vec<(String, i64)>,
    },
    /// Every listed rule is firing for the same group (site or label).
    Combined { all_of: Vec<usize> },
}

/// Which points a rule looks at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Selector {
    pub(crate) measurement: Option<String>,
    /// Tag (or device label) → accepted values; all keys must match.
    pub(crate) tags: Vec<(String, Vec<String>)>,
}

impl Selector {
    pub(crate) fn matches(&self, tags: &[(&str, &str)]) -> bool {
        self.tags.iter().all(|(k, accepted)| {
            tags.iter()
                .find(|(tk, _)| tk == k)
                .is_some_and(|(_, v)| accepted.iter().any(|a| a == v))
        })
    }
}

/// One validated alert rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) kind_name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) selector: Selector,
    /// How points split into series (one state machine each).
    pub(crate) grouping: Grouping,
    /// Least to most severe.
    pub(crate) levels: Vec<Level>,
    pub(crate) for_ns: i64,
    /// 0 = never re-notify.
    pub(crate) renotify_ns: i64,
    /// `flap_limit` / `flap_window`; `None` = no limiter.
    pub(crate) flap: Option<crate::flap::FlapLimit>,
    /// `false`: the rule only feeds combined rules; its transitions are not
    /// reported and it is not listed by [`crate::Engine::firing`].
    pub(crate) notify: bool,
    pub(crate) message: Template,
    pub(crate) resolved_message: Template,
    pub(crate) decimals: usize,
}

impl Rule {
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The `kind` key of the config: threshold, sum, mean, rate, state,
    /// deadman or combined.
    pub fn kind(&self) -> &'static str {
        self.kind_name
    }
    /// The measurement the rule reads points of: `None` for a rule that
    /// reads every measurement (a device-wide deadman) and for combined
    /// rules, which read their components' state rather than points. Lets
    /// the gateway skip parsing lines no rule looks at.
    pub fn measurement(&self) -> Option<&str> {
        self.selector.measurement.as_deref()
    }
    /// Level names, least to most severe.
    pub fn level_names(&self) -> impl Iterator<Item = &str> {
        self.levels.iter().map(|l| l.name.as_str())
    }
    /// `for`: how long the condition must hold (event time) before firing, ns.
    pub fn for_ns(&self) -> i64 {
        self.for_ns
    }
    /// `false` for a rule that only feeds combined rules (`notify = false`):
    /// its transitions are not reported.
    pub fn notifies(&self) -> bool {
        self.notify
    }
    /// The field a value rule (threshold, sum, mean, rate) reads.
    pub fn field(&self) -> Option<&str> {
        match &self.kind {
            Kind::Value { field, .. } => Some(field),
            _ => None,
        }
    }
    /// The levels as lines on a chart of the field's raw values: for a
    /// `threshold` rule only, whose levels are values of the field itself
    /// (a sum, mean or rate rule judges a number computed from the field,
    /// which a chart of the field does not show). An `outside` level gives
    /// two lines, low and high. Least to most severe.
    pub fn level_lines(&self) -> Vec<LevelLine> {
        let Kind::Value { calc: Calc::Last, .. } = &self.kind else {
            return Vec::new();
        };
        let line = |l: &Level, value: f64, clear: f64| LevelLine {
            name: l.name.clone(),
            severity: l.severity,
            value,
            clear,
        };
        let mut out = Vec::new();
        for l in &self.levels {
            match l.bounds {
                Bounds::Above { threshold, clear } | Bounds::Below { threshold, clear } => {
                    out.push(line(l, threshold, clear));
                }
                Bounds::Outside {
                    low,
                    high,
                    clear_low,
                    clear_high,
                } => {
                    out.push(line(l, low, clear_low));
                    out.push(line(l, high, clear_high));
                }
                Bounds::Flag => {}
            }
        }
        out
    }
}

/// One level of a threshold rule as a line on a chart (BĐ II at 288.50 m).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelLine {
    pub name: String,
    pub severity: Severity,
    /// The threshold: the level starts here.
    pub value: f64,
    /// Where it clears again (hysteresis).
    pub clear: f64,
}
