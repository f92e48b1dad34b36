//! Good messages are accepted and bad ones rejected for exactly their reason.

use std::collections::{BTreeMap, BTreeSet};

use telegate_schema::Registry;

use super::{BUILTIN, HOUR_NS, START_NS, config, decode, field, text};
use crate::{BadClass, CoverageParams, FieldParams, Fleet, FleetConfig, MessageKind, dry_run};

#[test]
fn every_bad_class_is_rejected_with_its_expected_reason() {
    let cfg = config(24, 1.0);
    let mut fleet = Fleet::new(&BUILTIN, cfg.clone()).unwrap();
    assert_eq!(
        fleet.bad_classes(),
        BadClass::ALL,
        "the built-in types support every class"
    );
    let mut seen = BTreeMap::new();
    for msg in dry_run(&mut fleet, 8 * 6) {
        let MessageKind::Bad(class) = msg.kind else {
            panic!("bad_ratio 1 must make every message bad: {:?}", msg.kind)
        };
        let err = decode(&BUILTIN, &cfg, &msg).expect_err(class.label());
        assert_eq!(err.reason, class.expected_reason(), "{class}: {err}");
        *seen.entry(class).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 8, "{seen:?}");
    assert!(seen.values().all(|&n| n == 6), "classes cycle evenly: {seen:?}");
}

/// A few hundred messages at speed 60 from 07:00 local (the gate opens),
/// continued until every type has published (a weighbridge only reports
/// when a truck arrives).
#[test]
fn good_messages_decode_with_one_point_per_sample_for_every_type() {
    let cfg = FleetConfig {
        start_ns: START_NS - 5 * HOUR_NS / 2,
        ..config(24, 0.0)
    };
    assert_eq!(cfg.speed, 60.0);
    let mut fleet = Fleet::new(&BUILTIN, cfg.clone()).unwrap();
    assert!(fleet.skipped_types().is_empty(), "{:?}", fleet.skipped_types());
    let all: BTreeSet<&str> = BUILTIN.schemas().map(|s| &*s.sensor_type).collect();
    assert_eq!(fleet.sensor_types().into_iter().collect::<BTreeSet<_>>(), all);
    let mut types = BTreeSet::new();
    for n in 0..5000 {
        if n >= 400 && types.len() == all.len() {
            break;
        }
        let msg = fleet.next_message();
        let MessageKind::Good { samples } = msg.kind else {
            panic!("no bad messages at bad_ratio 0")
        };
        let points = decode(&BUILTIN, &cfg, &msg).unwrap_or_else(|r| panic!("message {n} {}: {r}", msg.topic));
        assert_eq!(points.len(), samples, "{}", msg.topic);
        assert_eq!(
            points.last().map(|p| p.time_ns),
            Some(msg.at_ns),
            "newest sample is stamped at_ns"
        );
        assert!(msg.payload.len() <= cfg.max_payload_bytes);
        types.insert(msg.sensor_type.clone());
    }
    assert_eq!(types.len(), all.len(), "every type published: {types:?}");
}

#[test]
fn mixed_traffic_keeps_the_bad_ratio_exactly() {
    let cfg = config(16, 0.25);
    let mut fleet = Fleet::new(&BUILTIN, cfg.clone()).unwrap();
    let msgs = dry_run(&mut fleet, 400);
    let bad = msgs.iter().filter(|m| matches!(m.kind, MessageKind::Bad(_))).count();
    assert_eq!(bad, 100);
    for msg in &msgs {
        match (msg.kind, decode(&BUILTIN, &cfg, msg)) {
            (MessageKind::Good { samples }, Ok(points)) => assert_eq!(points.len(), samples),
            (MessageKind::Bad(class), Err(r)) => assert_eq!(r.reason, class.expected_reason()),
            (kind, result) => panic!("{kind:?} {}: {result:?}", msg.topic),
        }
    }
}

/// Coverage gaps: devices leave, log, and come back with one late batch of
/// past samples that the gateway accepts; per device, sample times and
/// sequence numbers only go forward.
#[test]
fn coverage_gaps_end_in_late_batches_the_gateway_accepts() {
    let params = FieldParams {
        coverage: CoverageParams {
            poor_share: 1.0,
            poor_hours_between_gaps: 1.0,
            mean_gap_hours: 1.5,
            long_gap_share: 0.2,
            long_gap_hours: (3.0, 6.0),
            ..FieldParams::default().coverage
        },
        ..FieldParams::default()
    };
    let cfg = config(24, 0.0);
    let mut fleet = Fleet::with_params(&BUILTIN, cfg.clone(), params).unwrap();
    let mut late = 0;
    let mut last: BTreeMap<String, (i64, f64)> = BTreeMap::new();
    for msg in dry_run(&mut fleet, 3000) {
        let MessageKind::Good { samples } = msg.kind else {
            unreachable!()
        };
        let points = decode(&BUILTIN, &cfg, &msg).unwrap_or_else(|r| panic!("{}: {r}", msg.topic));
        assert_eq!(points.len(), samples);
        if samples > 1 {
            late += 1;
            assert!(points[0].time_ns < msg.at_ns, "late samples are in the past");
            assert!(msg.at_ns - points[0].time_ns < 7 * 24 * HOUR_NS);
        }
        for p in &points {
            let seq = field(p, "seq").unwrap();
            if let Some((t, s)) = last.get(&msg.device_id) {
                assert!(p.time_ns > *t && seq > *s, "{}: time and seq go forward", msg.device_id);
            }
            last.insert(msg.device_id.clone(), (p.time_ns, seq));
        }
    }
    assert!(late >= 10, "only {late} late batches");
}

const SOIL_PROBE: &str = r#"syntax = "proto3";
package acme.v1;
import "buf/validate/validate.proto";
import "telegate/v1/options.proto";

message SoilProbeUpload {
  option (telegate.v1.sensor) = { type: "soil_probe" };
  string probe = 1 [(telegate.v1.field).role = ROLE_DEVICE_ID];
  repeated Reading readings = 2 [
    (telegate.v1.field).role = ROLE_SAMPLES,
    (buf.validate.field).repeated = {min_items: 1, max_items: 50}
  ];
  string firmware = 3;
}

message Reading {
  int64 ts = 1 [(telegate.v1.field) = { role: ROLE_TIME, unit: "s" }];
  float moisture_pct = 2 [(buf.validate.field).float = {gt: 0, lt: 100}];
  double soil_temp_c = 3 [(buf.validate.field).double = {gte: -10, lte: 60}];
  uint32 ec_us_cm = 4 [(buf.validate.field).uint32 = {gte: 10, lte: 5000}];
  sint32 depth_cm = 5 [(buf.validate.field).sint32 = {in: [10, 30, 60]}];
  uint64 pulses_total = 6;
  bool alarm = 7;
  Quality quality = 8 [(buf.validate.field).enum.defined_only = true];
  repeated double spectrum = 9 [(buf.validate.field).repeated = {
    min_items: 3, max_items: 4, items: {double: {gte: 0, lte: 1}}
  }];

  enum Quality {
    QUALITY_UNSPECIFIED = 0;
    QUALITY_GOOD = 1;
    QUALITY_POOR = 2;
  }
}
"#;

/// A type the simulator has never seen, with a renamed device id and
/// samples field, integer seconds for time, exclusive bounds, an `in` list
/// and a repeated field: valid random walks, and the bad classes still work.
#[test]
fn an_integrator_type_gets_valid_random_walks() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("soil_probe.proto"), SOIL_PROBE).unwrap();
    let reg = Registry::load(dir.path(), &BTreeMap::new()).unwrap();
    // Whole seconds: each of the 3 devices sends every 1.5 s at most.
    let cfg = FleetConfig {
        speed: 600.0,
        rate: 2.0,
        ..config(3, 0.2)
    };
    let mut fleet = Fleet::new(&reg, cfg.clone()).unwrap();
    assert_eq!(fleet.sensor_types(), ["soil_probe"]);
    assert_eq!(fleet.bad_classes(), BadClass::ALL);
    let mut moisture = BTreeSet::new();
    let mut pulses: BTreeMap<String, f64> = BTreeMap::new();
    for msg in dry_run(&mut fleet, 600) {
        let result = decode(&reg, &cfg, &msg);
        let points = match (msg.kind, result) {
            (MessageKind::Good { .. }, Ok(points)) => points,
            (MessageKind::Bad(class), Err(r)) => {
                assert_eq!(r.reason, class.expected_reason(), "{class}");
                continue;
            }
            (kind, result) => panic!("{kind:?}: {result:?}"),
        };
        for p in &points {
            let m = field(p, "moisture_pct").unwrap();
            assert!(m > 0.0 && m < 100.0, "{m}");
            moisture.insert(m.to_bits());
            let t = field(p, "soil_temp_c").unwrap();
            assert!((-10.0..=35.0).contains(&t), "soil_temp_c follows air temperature: {t}");
            assert!([10.0, 30.0, 60.0].contains(&field(p, "depth_cm").unwrap()));
            assert!((10.0..=5000.0).contains(&field(p, "ec_us_cm").unwrap()));
            assert_eq!(text(p, "quality"), Some("good"));
            assert!(field(p, "spectrum_3").is_some() && field(p, "spectrum_5").is_none());
            let total = field(p, "pulses_total").unwrap();
            let before = pulses.insert(msg.device_id.clone(), total).unwrap_or(0.0);
            assert!(total >= before, "a *_total counter never goes down");
            assert!(p.tags.iter().any(|(k, v)| &**k == "firmware" && !v.is_empty()));
        }
    }
    assert!(
        moisture.len() > 50,
        "moisture walks: {} distinct values",
        moisture.len()
    );
}

/// Issue 16: at `--rate 20` a seconds-resolution type stamped several
/// samples of one device with the same second (48 of 60 points
/// overwritten). Such a rate is refused with the highest one that works,
/// and below it no device ever repeats a time.
#[test]
fn a_seconds_resolution_type_never_gets_two_samples_at_one_time() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("soil_probe.proto"), SOIL_PROBE).unwrap();
    let reg = Registry::load(dir.path(), &BTreeMap::new()).unwrap();
    let too_fast = FleetConfig {
        rate: 20.0,
        ..config(4, 0.0)
    };
    let err = Fleet::new(&reg, too_fast).unwrap_err().to_string();
    assert!(
        err.contains("soil_probe") && err.contains("samples[].ts") && err.contains("at most 4 messages/s"),
        "{err}"
    );
    let cfg = FleetConfig {
        rate: 4.0,
        ..config(4, 0.0)
    };
    let mut fleet = Fleet::new(&reg, cfg.clone()).unwrap();
    let mut seen = BTreeSet::new();
    let mut points = 0;
    for msg in dry_run(&mut fleet, 400) {
        for p in decode(&reg, &cfg, &msg).unwrap() {
            assert_eq!(p.time_ns % 1_000_000_000, 0);
            assert!(
                seen.insert((msg.device_id.clone(), p.time_ns)),
                "{} repeats {}",
                msg.device_id,
                p.time_ns
            );
            points += 1;
        }
    }
    assert!(points >= 400, "{points}");
}
