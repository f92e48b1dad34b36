//! Registry and decoding tests against schemas compiled at run time.

use std::collections::BTreeMap;
use std::path::Path;

use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor, Value};
use telegate_model::{FieldValue, RejectReason, TopicFields};

use crate::{Limits, Registry, SchemaError};

const NOW_NS: i64 = 1_764_383_400_000_000_000; // 2025-11-29T02:30:00Z
const RIVER: &str = include_str!("../../../proto/telegate/v1/river_level.proto");

fn write_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, src) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, src).unwrap();
    }
    dir
}

fn river_registry() -> (tempfile::TempDir, Registry) {
    let dir = write_dir(&[("telegate/v1/river_level.proto", RIVER)]);
    let reg = Registry::load(dir.path(), &BTreeMap::new()).unwrap();
    (dir, reg)
}

fn sample(desc: &MessageDescriptor, time_ns: i64, seq: u64, stage: f64) -> DynamicMessage {
    let mut s = DynamicMessage::new(desc.clone());
    let ts_desc = desc.get_field_by_name("time").unwrap().kind();
    let mut ts = DynamicMessage::new(ts_desc.as_message().unwrap().clone());
    ts.set_field_by_name("seconds", Value::I64(time_ns.div_euclid(1_000_000_000)));
    ts.set_field_by_name("nanos", Value::I32(time_ns.rem_euclid(1_000_000_000) as i32));
    s.set_field_by_name("time", Value::Message(ts));
    s.set_field_by_name("seq", Value::U64(seq));
    s.set_field_by_name("stage_m", Value::F64(stage));
    s.set_field_by_name("mode", Value::EnumNumber(1));
    s
}

fn batch(reg: &Registry, device: &str, samples: Vec<DynamicMessage>) -> Vec<u8> {
    let schema = reg.get("river_level").unwrap();
    let mut b = DynamicMessage::new(schema.message.clone());
    b.set_field_by_name("device_id", Value::String(device.into()));
    b.set_field_by_name(
        "samples",
        Value::List(samples.into_iter().map(Value::Message).collect()),
    );
    b.encode_to_vec()
}

const ORIGIN: TopicFields<'static> = TopicFields {
    site: "muong-te",
    device_id: "rl-001",
    sensor_type: "river_level",
};

fn decode(
    reg: &Registry,
    origin: &TopicFields<'_>,
    payload: &[u8],
) -> Result<Vec<telegate_model::Point>, telegate_model::Rejection> {
    let mut out = Vec::new();
    reg.decode(origin, payload, NOW_NS, &Limits::default(), &mut out)
        .map(|()| out)
}

#[test]
fn decodes_a_batch_into_one_point_per_sample_at_device_time() {
    let (_d, reg) = river_registry();
    let desc = reg.get("river_level").unwrap().sample.clone();
    let t1 = NOW_NS - 3 * 3600 * 1_000_000_000;
    let payload = batch(
        &reg,
        "rl-001",
        vec![
            sample(&desc, t1, 41, 285.4),
            sample(&desc, t1 + 600_000_000_123, 42, 285.5),
        ],
    );
    let points = decode(&reg, &ORIGIN, &payload).unwrap();
    assert_eq!(points.len(), 2);
    let p = &points[1];
    assert_eq!(&*p.measurement, "river_level");
    assert_eq!(p.time_ns, t1 + 600_000_000_123);
    let tags: Vec<(&str, &str)> = p.tags.iter().map(|(k, v)| (&**k, v.as_str())).collect();
    assert_eq!(tags, [("device_id", "rl-001"), ("site", "muong-te")]);
    let fields: Vec<(&str, &FieldValue)> = p.fields.iter().map(|(k, v)| (&**k, v)).collect();
    assert_eq!(
        fields,
        [
            ("seq", &FieldValue::Int(42)),
            ("stage_m", &FieldValue::Float(285.5)),
            ("mode", &FieldValue::Str("normal".into()))
        ],
        "unset optional water_temp_c must not be written"
    );
}

fn expect_reject(reg: &Registry, origin: &TopicFields<'_>, payload: &[u8], reason: RejectReason, needle: &str) {
    let mut out = Vec::new();
    let err = reg
        .decode(origin, payload, NOW_NS, &Limits::default(), &mut out)
        .unwrap_err();
    assert_eq!(err.reason, reason, "{err}");
    assert!(err.detail.contains(needle), "detail `{}` lacks `{needle}`", err.detail);
    assert!(out.is_empty(), "a rejected message must leave no points");
}

#[test]
fn each_rejection_class_has_its_reason() {
    let (_d, reg) = river_registry();
    let desc = reg.get("river_level").unwrap().sample.clone();
    let ok = |stage| sample(&desc, NOW_NS - 1_000_000_000, 1, stage);

    expect_reject(
        &reg,
        &ORIGIN,
        b"\xff\xff\xff not protobuf",
        RejectReason::MalformedProtobuf,
        "RiverLevelBatch",
    );
    let unknown = TopicFields {
        sensor_type: "tide_gauge",
        ..ORIGIN
    };
    expect_reject(
        &reg,
        &unknown,
        &batch(&reg, "rl-001", vec![ok(1.0)]),
        RejectReason::UnknownSensorType,
        "tide_gauge",
    );
    expect_reject(
        &reg,
        &ORIGIN,
        &batch(&reg, "rl-001", vec![ok(1.0), ok(9000.0)]),
        RejectReason::ConstraintViolated,
        "samples[1].stage_m",
    );
    expect_reject(
        &reg,
        &ORIGIN,
        &batch(&reg, "rl-001", vec![ok(f64::NAN)]),
        RejectReason::NonFiniteValue,
        "samples[0].stage_m",
    );
    expect_reject(
        &reg,
        &ORIGIN,
        &batch(&reg, "rl-001", vec![ok(f64::INFINITY)]),
        RejectReason::NonFiniteValue,
        "NaN or infinite",
    );
    expect_reject(
        &reg,
        &ORIGIN,
        &batch(&reg, "rl-666", vec![ok(1.0)]),
        RejectReason::DeviceIdMismatch,
        "rl-666",
    );

    let mut no_time = ok(1.0);
    no_time.clear_field_by_name("time");
    expect_reject(
        &reg,
        &ORIGIN,
        &batch(&reg, "rl-001", vec![no_time]),
        RejectReason::MissingField,
        "time",
    );
    expect_reject(
        &reg,
        &ORIGIN,
        &batch(&reg, "rl-001", vec![]),
        RejectReason::ConstraintViolated,
        "samples",
    );

    let future = sample(&desc, NOW_NS + 3600 * 1_000_000_000, 1, 1.0);
    expect_reject(
        &reg,
        &ORIGIN,
        &batch(&reg, "rl-001", vec![future]),
        RejectReason::TimestampInFuture,
        "ahead",
    );
    let old = sample(&desc, NOW_NS - 30 * 24 * 3600 * 1_000_000_000, 1, 1.0);
    expect_reject(
        &reg,
        &ORIGIN,
        &batch(&reg, "rl-001", vec![ok(1.0), old]),
        RejectReason::TimestampTooOld,
        "samples[1]",
    );

    let big = vec![0u8; Limits::default().max_payload_bytes + 1];
    expect_reject(&reg, &ORIGIN, &big, RejectReason::PayloadTooLarge, "limit");
}

#[test]
fn schema_errors_name_the_file_and_field() {
    let bytes_field = r#"syntax = "proto3";
package x.v1;
import "google/protobuf/timestamp.proto";
import "telegate/v1/options.proto";
message Batch {
  option (telegate.v1.sensor) = { type: "blob" };
  string device_id = 1;
  repeated Sample samples = 2;
}
message Sample {
  google.protobuf.Timestamp time = 1;
  bytes raw = 2;
}
"#;
    let dir = write_dir(&[("x/blob.proto", bytes_field)]);
    let err = Registry::load(dir.path(), &BTreeMap::new()).unwrap_err();
    assert!(
        matches!(&err, SchemaError::BadField { field, location, .. } if field == "raw" && location.ends_with("x/blob.proto:12:3")),
        "{err}"
    );

    let syntax = "syntax = \"proto3\";\nmessage A {\n  double x = 1\n}\n";
    let dir = write_dir(&[("broken.proto", syntax)]);
    let err = Registry::load(dir.path(), &BTreeMap::new()).unwrap_err().to_string();
    assert!(err.contains("broken.proto") && err.contains(":4:"), "{err}");

    let dir = write_dir(&[
        ("a.proto", RIVER),
        ("b.proto", &RIVER.replace("package telegate.v1;", "package other.v1;")),
    ]);
    let err = Registry::load(dir.path(), &BTreeMap::new()).unwrap_err();
    assert!(matches!(err, SchemaError::DuplicateSensorType { .. }), "{err}");

    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        Registry::load(empty.path(), &BTreeMap::new()),
        Err(SchemaError::NoProtoFiles { .. })
    ));
}

#[test]
fn type_map_adds_messages_without_the_option_and_integer_times() {
    let plain = r#"syntax = "proto3";
package vendor.v1;
import "telegate/v1/options.proto";
message Up {
  string device_id = 1;
  string firmware = 3;
  repeated Reading samples = 2;
}
message Reading {
  int64 ts = 1 [(telegate.v1.field) = { role: ROLE_TIME, unit: "s" }];
  float level = 2 [(telegate.v1.field).name = "level_cm"];
  repeated uint32 counts = 3;
  string lane = 4 [(telegate.v1.field).role = ROLE_TAG];
}
"#;
    let dir = write_dir(&[("vendor.proto", plain)]);
    let map = BTreeMap::from([("siren".to_owned(), "vendor.v1.Up".to_owned())]);
    let reg = Registry::load(dir.path(), &map).unwrap();
    let schema = reg.get("siren").unwrap();
    assert_eq!(schema.tag_keys(), ["device_id", "firmware", "lane", "site"]);
    let mut r = DynamicMessage::new(schema.sample.clone());
    r.set_field_by_name("ts", Value::I64(NOW_NS / 1_000_000_000));
    r.set_field_by_name("level", Value::F32(12.5));
    r.set_field_by_name("counts", Value::List(vec![Value::U32(3), Value::U32(4)]));
    r.set_field_by_name("lane", Value::String("in-1".into()));
    let mut b = DynamicMessage::new(schema.message.clone());
    b.set_field_by_name("device_id", Value::String("s-1".into()));
    b.set_field_by_name("firmware", Value::String("1.2".into()));
    b.set_field_by_name("samples", Value::List(vec![Value::Message(r)]));
    let origin = TopicFields {
        site: "",
        device_id: "s-1",
        sensor_type: "siren",
    };
    let points = decode(&reg, &origin, &b.encode_to_vec()).unwrap();
    let p = &points[0];
    assert_eq!(p.time_ns, NOW_NS);
    assert_eq!(&*p.measurement, "siren");
    let names: Vec<&str> = p.fields.iter().map(|(k, _)| &**k).collect();
    assert_eq!(names, ["level_cm", "counts_1", "counts_2"]);
    assert_eq!(
        p.tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        ["device_id=s-1", "firmware=1.2", "lane=in-1"]
    );
}

#[test]
fn the_repository_schemas_all_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let reg = Registry::load(&dir, &BTreeMap::new()).unwrap();
    let builtin = Registry::builtin(&BTreeMap::new()).unwrap();
    let types: Vec<&str> = reg.schemas().map(|s| &*s.sensor_type).collect();
    let builtin_types: Vec<&str> = builtin.schemas().map(|s| &*s.sensor_type).collect();
    assert_eq!(
        types, builtin_types,
        "every file in proto/ must be listed in embedded.rs"
    );
    for t in [
        "river_level",
        "rain_gauge",
        "landslide",
        "lane_counter",
        "weighbridge",
        "gate_barrier",
        "air_quality",
        "device_health",
    ] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    /// Compiled once: the property is about decoding, not loading.
    static REGISTRY: std::sync::LazyLock<Registry> = std::sync::LazyLock::new(|| river_registry().1);

    proptest! {

        /// Any bytes, and any corruption of a valid payload, give points or a
        /// rejection — never a panic, never a half-filled output.
        #[test]
        fn arbitrary_and_mutated_payloads(
            random in proptest::collection::vec(any::<u8>(), 0..512),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let reg = &*REGISTRY;
            let mut out = Vec::new();
            if reg.decode(&ORIGIN, &random, NOW_NS, &Limits::default(), &mut out).is_err() {
                prop_assert!(out.is_empty());
            }
            let desc = reg.get("river_level").unwrap().sample.clone();
            let mut valid = batch(reg, "rl-001", vec![sample(&desc, NOW_NS - 1_000_000_000, 1, 2.0), sample(&desc, NOW_NS - 2_000_000_000, 2, 3.0)]);
            for (i, b) in &flips {
                let at = i.index(valid.len());
                valid[at] ^= b;
            }
            valid.truncate(cut.index(valid.len() + 1));
            out.clear();
            match reg.decode(&ORIGIN, &valid, NOW_NS, &Limits::default(), &mut out) {
                Ok(()) => prop_assert!(out.len() <= 2),
                Err(r) => { prop_assert!(out.is_empty()); prop_assert!(!r.detail.is_empty()); }
            }
        }
    }
}

/// Issue 16: a `buf.validate` rule of the wrong type on a sample field
/// (`double` rules on a `float`) used to load fine and then reject every
/// reading with "compilation error"; it must fail at load, naming the file.
#[test]
fn a_rule_of_the_wrong_type_on_a_sample_field_fails_at_load() {
    let wrong = r#"syntax = "proto3";
package x.v1;
import "google/protobuf/timestamp.proto";
import "buf/validate/validate.proto";
import "telegate/v1/options.proto";
message Batch {
  option (telegate.v1.sensor) = { type: "probe" };
  string device_id = 1;
  repeated Sample samples = 2;
}
message Sample {
  google.protobuf.Timestamp time = 1;
  float temp_c = 2 [(buf.validate.field).double = { gte: -40, lte: 85 }];
}
"#;
    let dir = write_dir(&[("x/probe.proto", wrong)]);
    let err = telegate_model::error_chain(&Registry::load(dir.path(), &BTreeMap::new()).unwrap_err());
    assert!(
        err.contains("x/probe.proto") && err.contains("cannot be compiled") && err.contains("float"),
        "{err}"
    );
    // The same with the rule of the field's own type loads.
    let right = wrong.replace(".double = {", ".float = {");
    let dir = write_dir(&[("x/probe.proto", right.as_str())]);
    Registry::load(dir.path(), &BTreeMap::new()).unwrap();
}
