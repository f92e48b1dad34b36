use std::sync::Arc;

use influxdb_line_protocol::{FieldValue as Parsed, parse_lines};
use proptest::prelude::*;
use telegate_model::{FieldValue, Point};

use crate::{encode_point, measurement_of, parse_line};

fn point(measurement: &str, tags: &[(&str, &str)], fields: Vec<(&str, FieldValue)>) -> Point {
    Point {
        measurement: measurement.into(),
        tags: tags.iter().map(|(k, v)| (Arc::from(*k), (*v).to_owned())).collect(),
        fields: fields.into_iter().map(|(k, v)| (Arc::from(k), v)).collect(),
        time_ns: 1_764_383_400_000_000_000,
    }
}

fn encode(p: &Point) -> String {
    let mut out = Vec::new();
    encode_point(p, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn encodes_types_and_escapes() {
    let p = point(
        "river level",
        &[("device_id", "rl,1"), ("site", "muong=te"), ("empty", "")],
        vec![
            ("stage m", FieldValue::Float(285.0)),
            ("seq", FieldValue::Int(-3)),
            ("u", FieldValue::UInt(7)),
            ("ok", FieldValue::Bool(true)),
            ("note", FieldValue::Str(r#"say "hi" \o/"#.into())),
        ],
    );
    assert_eq!(
        encode(&p),
        "river\\ level,device_id=rl\\,1,site=muong\\=te stage\\ m=285,seq=-3i,u=7u,ok=true,note=\"say \\\"hi\\\" \\\\o/\" 1764383400000000000\n"
    );
}

#[test]
fn refuses_what_line_protocol_cannot_hold_and_leaves_buffer_intact() {
    let mut out = b"previous\n".to_vec();
    assert!(encode_point(&point("m", &[], vec![]), &mut out).is_err());
    assert!(
        encode_point(
            &point(
                "m",
                &[("t", "x")],
                vec![("a", FieldValue::Int(1)), ("v", FieldValue::Float(f64::NAN))]
            ),
            &mut out
        )
        .is_err()
    );
    assert!(encode_point(&point("", &[], vec![("v", FieldValue::Int(1))]), &mut out).is_err());
    assert!(
        encode_point(
            &point("m", &[("t", "ends\\")], vec![("v", FieldValue::Int(1))]),
            &mut out
        )
        .is_err()
    );
    assert_eq!(out, b"previous\n");
}

#[test]
fn control_characters_in_names_become_escaped_spaces() {
    let p = point("m", &[("t", "a\nb\tc")], vec![("v", FieldValue::Int(1))]);
    assert_eq!(encode(&p), "m,t=a\\ b\\ c v=1i 1764383400000000000\n");
}

fn name() -> impl Strategy<Value = String> {
    // Any printable text, including every character line protocol escapes.
    proptest::string::string_regex("[a-zA-Z0-9 ,=\"\\\\_.\\-é水]{0,11}[a-zA-Z0-9 ,=\"_.\\-é水]").unwrap()
}

fn field_value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(FieldValue::Float),
        any::<i64>().prop_map(FieldValue::Int),
        any::<u64>().prop_map(FieldValue::UInt),
        any::<bool>().prop_map(FieldValue::Bool),
        proptest::string::string_regex("[ -~é水\n]{0,20}")
            .unwrap()
            .prop_map(FieldValue::Str),
    ]
}

proptest! {
    #[test]
    fn round_trips_through_influxdata_parser(
        measurement in name(),
        tags in proptest::collection::btree_map(name(), name(), 0..4),
        fields in proptest::collection::btree_map(name(), field_value(), 1..5),
        time_ns in any::<i64>(),
    ) {
        let p = Point {
            measurement: measurement.as_str().into(),
            tags: tags.iter().map(|(k, v)| (Arc::from(k.as_str()), v.clone())).collect(),
            fields: fields.iter().map(|(k, v)| (Arc::from(k.as_str()), v.clone())).collect(),
            time_ns,
        };
        let text = encode(&p);
        let lines: Vec<_> = parse_lines(&text).collect();
        prop_assert_eq!(lines.len(), 1, "{}", text);
        let line = lines.into_iter().next().unwrap().map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        prop_assert_eq!(line.series.measurement.to_string(), measurement);
        let parsed_tags: Vec<(String, String)> = line.series.tag_set.iter().flatten().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let want_tags: Vec<(String, String)> = tags.into_iter().collect();
        prop_assert_eq!(parsed_tags, want_tags);
        prop_assert_eq!(line.timestamp, Some(time_ns));
        prop_assert_eq!(line.field_set.len(), fields.len());
        for ((k, v), (pk, pv)) in fields.iter().zip(line.field_set.iter()) {
            prop_assert_eq!(k, &pk.to_string());
            match (v, pv) {
                (FieldValue::Float(a), Parsed::F64(b)) => prop_assert_eq!(a.to_bits(), b.to_bits(), "{}", text),
                (FieldValue::Int(a), Parsed::I64(b)) => prop_assert_eq!(a, b),
                (FieldValue::UInt(a), Parsed::U64(b)) => prop_assert_eq!(a, b),
                (FieldValue::Bool(a), Parsed::Boolean(b)) => prop_assert_eq!(a, b),
                (FieldValue::Str(a), Parsed::String(b)) => prop_assert_eq!(a, &b.to_string()),
                (a, b) => prop_assert!(false, "type changed: {:?} became {:?} in {}", a, b, text),
            }
        }
    }
}

proptest! {
    /// Our parser reads back exactly what the encoder wrote (the alert
    /// evaluator and the status board rely on it).
    #[test]
    fn parse_inverts_encode(
        measurement in name(),
        tags in proptest::collection::vec((name(), name()), 0..4),
        fields in proptest::collection::vec((name(), field_value()), 1..5),
        time_ns in any::<i64>(),
    ) {
        let p = Point {
            measurement: Arc::from(measurement.as_str()),
            tags: tags.into_iter().map(|(k, v)| (Arc::from(k.as_str()), v)).collect(),
            fields: fields.into_iter().map(|(k, v)| (Arc::from(k.as_str()), v)).collect(),
            time_ns,
        };
        let mut out = Vec::new();
        encode_point(&p, &mut out).unwrap();
        let line = out.strip_suffix(b"\n").unwrap();
        let back = parse_line(line, 0).unwrap();
        prop_assert_eq!(&back, &p);
        let m = measurement_of(line);
        prop_assert_eq!(m.as_deref(), Some(&*p.measurement));
    }
}
