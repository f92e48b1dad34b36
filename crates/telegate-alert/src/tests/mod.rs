//! Engine scenarios with a mock clock: every rule kind, time semantics,
//! restarts and reloads. Helpers here; scenarios in the sibling files.

use std::sync::Arc;

use telegate_model::{FieldValue, Point};

use crate::{AlertConfig, AlertState, Change, Engine, Transition};

mod combined;
mod deadman;
mod example;
mod flap;
mod restart;
mod state_rules;
mod threshold;
mod windows;

pub(crate) const S: i64 = 1_000_000_000;
pub(crate) const MIN: i64 = 60 * S;
pub(crate) const H: i64 = 60 * MIN;
/// 2025-06-15 12:00 UTC: rainy season.
pub(crate) const T0: i64 = 1_749_988_800 * S;

/// The injected wall clock: tests move it by hand.
#[derive(Debug)]
pub(crate) struct MockClock {
    pub(crate) now: i64,
}

impl MockClock {
    pub(crate) fn at(now: i64) -> MockClock {
        MockClock { now }
    }
    pub(crate) fn advance(&mut self, d: i64) -> i64 {
        self.now += d;
        self.now
    }
}

pub(crate) fn config(text: &str) -> AlertConfig {
    match AlertConfig::from_toml_str(text, "test.toml") {
        Ok(c) => c,
        Err(e) => panic!("test config does not parse: {e}"),
    }
}

pub(crate) fn engine(text: &str) -> Engine {
    Engine::new(config(text))
}

/// A point of `measurement` from `device` at `site`, device time `t`.
pub(crate) fn point(measurement: &str, device: &str, site: &str, t: i64, fields: &[(&str, FieldValue)]) -> Point {
    Point {
        measurement: Arc::from(measurement),
        tags: vec![
            (Arc::from("device_id"), device.to_owned()),
            (Arc::from("site"), site.to_owned()),
        ],
        fields: fields.iter().map(|(k, v)| (Arc::from(*k), v.clone())).collect(),
        time_ns: t,
    }
}

pub(crate) fn stage(device: &str, site: &str, t: i64, m: f64) -> Point {
    point("river_level", device, site, t, &[("stage_m", FieldValue::Float(m))])
}

pub(crate) fn stage_mode(device: &str, site: &str, t: i64, m: f64, mode: &str) -> Point {
    point(
        "river_level",
        device,
        site,
        t,
        &[
            ("stage_m", FieldValue::Float(m)),
            ("mode", FieldValue::Str(mode.to_owned())),
        ],
    )
}

pub(crate) fn rain(device: &str, site: &str, t: i64, mm: f64) -> Point {
    point("rain_gauge", device, site, t, &[("rain_mm", FieldValue::Float(mm))])
}

/// (rule id, change, level) of each transition: what most assertions need.
pub(crate) fn summary(ts: &[Transition]) -> Vec<(String, Change, String)> {
    ts.iter()
        .map(|t| (t.rule_id.clone(), t.change, t.level.clone()))
        .collect()
}

pub(crate) fn one(ts: &[Transition]) -> &Transition {
    assert_eq!(ts.len(), 1, "expected exactly one transition, got {:#?}", summary(ts));
    &ts[0]
}

pub(crate) fn fired(ts: &[Transition]) -> usize {
    ts.iter()
        .filter(|t| t.to == AlertState::Firing && t.from != AlertState::Firing)
        .count()
}

/// Flood levels for one station, used by several scenarios.
pub(crate) const FLOOD: &str = r#"
[[rule]]
id = "flood"
name = "Flood alarm"
kind = "threshold"
measurement = "river_level"
field = "stage_m"
match = { site = "muong-te" }
message = "{device_id} at {site}: stage {value} m ≥ {level_name} ({threshold} m)"

[[rule.level]]
name = "BĐ I"
severity = "info"
threshold = 287.0
clear = 286.8

[[rule.level]]
name = "BĐ II"
severity = "warning"
threshold = 288.5
clear = 288.3

[[rule.level]]
name = "BĐ III"
severity = "critical"
threshold = 290.0
clear = 289.8
"#;

/// The engine runs on a tokio task of its own.
#[test]
fn engine_and_outputs_can_move_between_threads() {
    fn send<T: Send + Sync>() {}
    send::<Engine>();
    send::<Transition>();
    send::<crate::Snapshot>();
}
