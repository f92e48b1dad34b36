//! Tests: every message the simulator makes is checked by the gateway's own
//! decoder (`Registry::decode`), so "good" and "bad" mean what the gateway
//! will do with them.

mod decode;
mod models;
mod publish;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use telegate_model::{FieldValue, Point, Rejection};
use telegate_schema::{Limits, Registry};

use crate::{FleetConfig, SimMessage};

/// 2025-11-29T02:30:00Z: 09:30 in Lai Châu, gate open.
pub(super) const START_NS: i64 = 1_764_383_400_000_000_000;
pub(super) const HOUR_NS: i64 = 3_600_000_000_000;

pub(super) static BUILTIN: LazyLock<Registry> =
    LazyLock::new(|| Registry::builtin(&BTreeMap::new()).expect("the built-in schemas load"));

pub(super) fn config(devices: usize, bad_ratio: f64) -> FleetConfig {
    FleetConfig {
        devices,
        bad_ratio,
        start_ns: START_NS,
        ..FleetConfig::default()
    }
}

/// What the gateway does with `msg`: its points, or its rejection.
pub(super) fn decode(reg: &Registry, cfg: &FleetConfig, msg: &SimMessage) -> Result<Vec<Point>, Rejection> {
    let origin = cfg
        .topic_pattern
        .parse_topic(&msg.topic)
        .unwrap_or_else(|e| panic!("topic {}: {e}", msg.topic));
    assert_eq!(origin.device_id, msg.device_id);
    assert_eq!(origin.sensor_type, msg.sensor_type);
    let mut out = Vec::new();
    reg.decode(&origin, &msg.payload, msg.at_ns, &Limits::default(), &mut out)
        .map(|()| out)
}

pub(super) fn field(p: &Point, name: &str) -> Option<f64> {
    p.fields.iter().find(|(k, _)| &**k == name).and_then(|(_, v)| match v {
        FieldValue::Float(x) => Some(*x),
        FieldValue::Int(x) => Some(*x as f64),
        FieldValue::UInt(x) => Some(*x as f64),
        FieldValue::Bool(b) => Some(f64::from(u8::from(*b))),
        FieldValue::Str(_) => None,
    })
}

pub(super) fn text<'p>(p: &'p Point, name: &str) -> Option<&'p str> {
    p.fields.iter().find(|(k, _)| &**k == name).and_then(|(_, v)| match v {
        FieldValue::Str(s) => Some(s.as_str()),
        _ => None,
    })
}

/// Local hour (UTC+7) of a point's model time.
pub(super) fn model_hour(cfg: &FleetConfig, time_ns: i64) -> f64 {
    let model = cfg.start_ns + ((time_ns - cfg.start_ns) as f64 * cfg.speed) as i64;
    crate::clock::Local::at(model, 7.0).hour
}
