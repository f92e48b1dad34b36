//! The property: for any payload, the transcoder gives exactly what the
//! dynamic path gives — the same lines and point count, or the same
//! rejection (reason and detail; malformed payloads: reason only).
//!
//! One test per sensor type, so nextest spreads them over the cores. Each
//! also counts its outcomes and asserts the generator reached the
//! rejections that type can produce and accepted a fair share, so a
//! generator that only ever produces garbage cannot pass for a proof.
//! `TELEGATE_TRANSCODE_CASES` overrides the number of cases.

use std::cell::RefCell;
use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use telegate_model::RejectReason;

use super::generate;
use super::support::{builtin, difference, dynamic, extra, origin, transcoded};
use crate::{Limits, Registry, TranscodeScratch, ValueType};

fn cases(default: u32) -> u32 {
    std::env::var("TELEGATE_TRANSCODE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Debug, Default)]
struct Coverage {
    total: u32,
    accepted: u32,
    points: usize,
    refused: BTreeMap<RejectReason, u32>,
}

/// Run `cases` generated payloads of `sensor_type` through both paths.
fn check(reg: &Registry, sensor_type: &str, cases: u32) -> Coverage {
    let Some(schema) = reg.get(sensor_type) else {
        panic!("no sensor type {sensor_type}");
    };
    let name = schema.message.full_name().to_owned();
    // One payload in ten against a 48-byte limit: payload_too_large.
    let strategy = (
        generate::payloads(schema),
        prop_oneof![9 => Just(false), 1 => Just(true)],
    );
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let coverage = RefCell::new(Coverage::default());
    // Reused across cases, as the decode stage reuses it across messages.
    let scratch = RefCell::new(TranscodeScratch::default());
    let result = runner.run(&strategy, |(payload, small_limit)| {
        let limits = Limits {
            max_payload_bytes: if small_limit {
                48
            } else {
                Limits::default().max_payload_bytes
            },
            ..Limits::default()
        };
        let origin = origin(sensor_type);
        let d = dynamic(reg, &origin, &payload, &limits);
        let t = transcoded(reg, &origin, &payload, &limits, &mut scratch.borrow_mut())
            .ok_or_else(|| TestCaseError::fail(format!("{sensor_type} has no transcoder")))?;
        if let Some(diff) = difference(&d, &t, &name, payload.len()) {
            return Err(TestCaseError::fail(format!(
                "{sensor_type}, payload {payload:02x?}\n{diff}"
            )));
        }
        let mut c = coverage.borrow_mut();
        c.total += 1;
        match &d {
            super::support::Outcome::Lines { points, .. } => {
                c.accepted += 1;
                c.points += points;
            }
            super::support::Outcome::Refused(r) => *c.refused.entry(r.reason).or_default() += 1,
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let c = coverage.into_inner();
    eprintln!(
        "{sensor_type}: {} cases, {} accepted ({} points), refused {:?}",
        c.total,
        c.accepted,
        c.points,
        c.refused.iter().map(|(r, n)| format!("{r}={n}")).collect::<Vec<_>>()
    );
    c
}

fn assert_covers(c: &Coverage, sensor_type: &str, reasons: &[RejectReason]) {
    assert!(
        c.accepted * 10 >= c.total,
        "{sensor_type}: only {} of {} payloads accepted; the generator is too wild",
        c.accepted,
        c.total
    );
    for r in reasons {
        assert!(
            c.refused.contains_key(r),
            "{sensor_type}: no payload was refused as {r}: {c:?}"
        );
    }
}

/// Every reason a built-in type can give (`non_finite_value` only with
/// float values). `constraint_violated` also covers uint64 counters above
/// `i64::MAX`, which the edge pool produces.
const BUILTIN_REASONS: &[RejectReason] = &[
    RejectReason::PayloadTooLarge,
    RejectReason::MalformedProtobuf,
    RejectReason::MissingField,
    RejectReason::ConstraintViolated,
    RejectReason::NonFiniteValue,
    RejectReason::TimestampInFuture,
    RejectReason::TimestampTooOld,
    RejectReason::DeviceIdMismatch,
];

macro_rules! builtin_type {
    ($($test:ident => $sensor:literal),* $(,)?) => {$(
        #[test]
        fn $test() {
            static REGISTRY: std::sync::LazyLock<Registry> = std::sync::LazyLock::new(builtin);
            let c = check(&REGISTRY, $sensor, cases(4000));
            let has_floats = REGISTRY
                .get($sensor)
                .is_some_and(|s| s.value_columns().any(|c| c.value_type == ValueType::Float));
            let reasons: Vec<RejectReason> = BUILTIN_REASONS
                .iter()
                .copied()
                .filter(|r| has_floats || *r != RejectReason::NonFiniteValue)
                .collect();
            assert_covers(&c, $sensor, &reasons);
        }
    )*};
}

builtin_type! {
    air_quality_matches_dynamic_path => "air_quality",
    device_health_matches_dynamic_path => "device_health",
    gate_barrier_matches_dynamic_path => "gate_barrier",
    landslide_matches_dynamic_path => "landslide",
    lane_counter_matches_dynamic_path => "lane_counter",
    rain_gauge_matches_dynamic_path => "rain_gauge",
    river_level_matches_dynamic_path => "river_level",
    weighbridge_matches_dynamic_path => "weighbridge",
}

#[test]
fn kitchen_sink_matches_dynamic_path() {
    let c = check(&extra(), "kitchen_sink", cases(8000));
    assert_covers(
        &c,
        "kitchen_sink",
        &[
            RejectReason::MalformedProtobuf,
            RejectReason::MissingField,
            RejectReason::ConstraintViolated,
            RejectReason::NonFiniteValue,
            RejectReason::TimestampInFuture,
            RejectReason::TimestampTooOld,
            RejectReason::DeviceIdMismatch,
        ],
    );
}

#[test]
fn integer_time_types_match_dynamic_path() {
    let reg = extra();
    for sensor_type in ["siren", "siren_us", "siren_u32", "siren_sf32"] {
        let c = check(&reg, sensor_type, cases(3000));
        assert_covers(
            &c,
            sensor_type,
            &[
                RejectReason::MalformedProtobuf,
                RejectReason::MissingField,
                RejectReason::TimestampInFuture,
                RejectReason::TimestampTooOld,
                RejectReason::DeviceIdMismatch,
            ],
        );
    }
}
