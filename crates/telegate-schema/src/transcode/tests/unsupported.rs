//! Which types get a plan, and what happens to the others.

use prost_reflect::{DynamicMessage, Value};
use telegate_model::TopicFields;

use super::support::{DEVICE, NOW_NS, builtin, extra, registry_of};
use crate::{Limits, TranscodeScratch, sample};

#[test]
fn every_builtin_type_has_a_transcoder() {
    let reg = builtin();
    let mut n = 0;
    for schema in reg.schemas() {
        if let Err(e) = schema.transcoder() {
            panic!("{} falls back to the dynamic path: {e}", schema.sensor_type);
        }
        n += 1;
    }
    assert_eq!(n, 8, "the built-in types");
    let extra = extra();
    for t in ["kitchen_sink", "siren", "siren_us"] {
        let schema = extra.get(t).unwrap_or_else(|| panic!("{t} missing"));
        if let Err(e) = schema.transcoder() {
            panic!("{t}: {e}");
        }
    }
}

const HEADER: &str = r#"syntax = "proto3";
package fb.v1;
import "buf/validate/validate.proto";
import "google/protobuf/timestamp.proto";
import "telegate/v1/options.proto";
message Batch {
  option (telegate.v1.sensor) = { type: "fb" };
  string device_id = 1;
  repeated Sample samples = 2;
}
"#;

/// A sample message with one extra construct the plan does not support.
fn schema_with(sample_body: &str, extra_messages: &str) -> String {
    format!(
        "{HEADER}message Sample {{\n  google.protobuf.Timestamp time = 1;\n  double v = 2;\n{sample_body}\n}}\n{extra_messages}"
    )
}

#[test]
fn unsupported_constructs_fall_back_to_the_dynamic_path() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "oneof",
            "  oneof pick { double a = 3; int32 b = 4; }",
            "",
            "fb.v1.Sample",
        ),
        (
            "map",
            "  map<string, int32> m = 3 [(telegate.v1.field).role = ROLE_IGNORE];",
            "",
            "fb.v1.Sample.m",
        ),
        (
            "nested message",
            "  Inner inner = 3 [(telegate.v1.field).role = ROLE_IGNORE];",
            "message Inner { int32 x = 1; }",
            "fb.v1.Sample.inner",
        ),
        (
            "string in",
            "  string s = 3 [(buf.validate.field).string = {in: [\"a\", \"b\"]}];",
            "",
            "fb.v1.Sample.s",
        ),
        (
            "repeated.unique",
            "  repeated int32 r = 3 [(buf.validate.field).repeated.unique = true];",
            "",
            "fb.v1.Sample.r",
        ),
        (
            "timestamp rule",
            "  google.protobuf.Timestamp t2 = 3 [(telegate.v1.field).role = ROLE_IGNORE, (buf.validate.field).timestamp.lt_now = true];",
            "",
            "fb.v1.Sample.t2",
        ),
        (
            "ignore",
            "  int32 i = 3 [(buf.validate.field).ignore = IGNORE_ALWAYS, (buf.validate.field).int32.gt = 5];",
            "",
            "fb.v1.Sample.i",
        ),
        (
            "required without presence",
            "  int32 r = 3 [(buf.validate.field).required = true];",
            "",
            "fb.v1.Sample.r",
        ),
        (
            "well-known string rule",
            "  string e = 3 [(buf.validate.field).string.email = true];",
            "",
            "fb.v1.Sample.e",
        ),
    ];
    for (what, body, extra_messages, element) in cases {
        let src = schema_with(body, extra_messages);
        let reg = match registry_of(&[("fb.proto", &src)], &[]) {
            Ok(r) => r,
            Err(e) => panic!("{what}: the schema must load (the validator accepts it): {e}"),
        };
        let Some(schema) = reg.get("fb") else {
            panic!("{what}: no type")
        };
        match schema.transcoder() {
            Ok(_) => panic!("{what}: compiled a plan for an unsupported construct"),
            Err(e) => assert_eq!(e.element, *element, "{what}: {e}"),
        }
        // The type keeps working, through the dynamic path.
        let mut one = DynamicMessage::new(schema.sample.clone());
        one.set_field_by_name("time", timestamp_of(&schema.sample, NOW_NS - 1_000_000_000));
        one.set_field_by_name("v", Value::F64(2.5));
        let payload = sample::batch(&schema.message, DEVICE, vec![one]);
        let origin = TopicFields {
            site: "s",
            device_id: DEVICE,
            sensor_type: "fb",
        };
        let mut out = Vec::new();
        let r = reg.transcode(
            &origin,
            &payload,
            NOW_NS,
            &Limits::default(),
            &mut TranscodeScratch::default(),
            &mut out,
        );
        assert_eq!(r, Ok(None), "{what}");
        assert!(out.is_empty(), "{what}");
        let mut points = Vec::new();
        let decoded = reg.decode(&origin, &payload, NOW_NS, &Limits::default(), &mut points);
        match *what {
            // Their rules refuse the default value of the extra field.
            "string in" | "required without presence" | "well-known string rule" => {
                assert!(decoded.is_err(), "{what}: {points:?}")
            }
            _ => assert_eq!(decoded.map(|()| points.len()), Ok(1), "{what}"),
        }
    }
}

fn timestamp_of(sample: &prost_reflect::MessageDescriptor, time_ns: i64) -> Value {
    match sample.get_field_by_name("time") {
        Some(f) => crate::sample::timestamp(&f, time_ns),
        None => Value::I64(time_ns),
    }
}

#[test]
fn proto2_files_fall_back() {
    let src = r#"syntax = "proto2";
package p2.v1;
import "google/protobuf/timestamp.proto";
import "telegate/v1/options.proto";
message Batch {
  option (telegate.v1.sensor) = { type: "p2" };
  optional string device_id = 1;
  repeated Sample samples = 2;
}
message Sample {
  optional google.protobuf.Timestamp time = 1;
  optional double v = 2 [default = 1.5];
}
"#;
    let reg = registry_of(&[("p2.proto", src)], &[]).unwrap_or_else(|e| panic!("{e}"));
    let schema = reg.get("p2").unwrap_or_else(|| panic!("p2 missing"));
    let err = schema.transcoder().map(|_| ()).unwrap_err();
    assert!(err.problem.contains("proto3"), "{err}");
}
