//! Hand-written payloads, one per wire or mapping rule. Each asserts that
//! both paths agree (`assert_same`) and what they agree on, so a rule both
//! paths got wrong the same way would still show.

use telegate_model::{RejectReason, TopicFields};

use super::support::{DEVICE, NOW_NS, Outcome, assert_same, builtin, extra};
use crate::{Limits, TranscodeScratch, sample};

/// A protobuf writer for payloads `DynamicMessage` would never produce.
#[derive(Default, Clone)]
struct W(Vec<u8>);

impl W {
    fn key(mut self, field: u32, wire: u8) -> Self {
        varint(&mut self.0, (u64::from(field) << 3) | u64::from(wire));
        self
    }
    fn varint(self, field: u32, v: u64) -> Self {
        let mut w = self.key(field, 0);
        varint(&mut w.0, v);
        w
    }
    fn double(self, field: u32, x: f64) -> Self {
        let mut w = self.key(field, 1);
        w.0.extend_from_slice(&x.to_le_bytes());
        w
    }
    fn bytes(self, field: u32, b: &[u8]) -> Self {
        let mut w = self.key(field, 2);
        varint(&mut w.0, b.len() as u64);
        w.0.extend_from_slice(b);
        w
    }
    fn msg(self, field: u32, m: W) -> Self {
        self.bytes(field, &m.0)
    }
    fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

const SECS: i64 = NOW_NS / 1_000_000_000 - 60;

/// A river_level sample: time, seq, stage, mode normal.
fn river(stage: f64) -> W {
    river_at(stage, SECS)
}

fn river_at(stage: f64, secs: i64) -> W {
    W::default()
        .msg(1, W::default().varint(1, secs as u64).varint(2, 5))
        .varint(2, 7)
        .double(3, stage)
        .varint(5, 1)
}

fn river_batch(samples: &[W]) -> Vec<u8> {
    let mut b = W::default().bytes(1, DEVICE.as_bytes());
    for s in samples {
        b = b.msg(2, s.clone());
    }
    b.0
}

fn lines(o: &Outcome) -> &str {
    match o {
        Outcome::Lines { lines, .. } => lines,
        Outcome::Refused(r) => panic!("refused: {r}"),
    }
}

fn refused(o: &Outcome) -> RejectReason {
    o.reason().unwrap_or_else(|| panic!("accepted: {o:?}"))
}

#[test]
fn valid_samples_of_every_builtin_type_give_the_same_lines() {
    let reg = builtin();
    for schema in reg.schemas() {
        for n in [1u64, 3] {
            let samples = (0..n)
                .map(|i| sample::valid_sample(&schema.sample, NOW_NS - (n - i) as i64 * 1_000_000_000, i + 1))
                .collect();
            let payload = sample::batch(&schema.message, DEVICE, samples);
            let out = assert_same(&reg, &schema.sensor_type, &payload);
            let text = lines(&out);
            assert_eq!(text.lines().count(), n as usize, "{text}");
            assert!(
                text.starts_with(&format!("{},device_id=dev-01,", schema.measurement)),
                "{text}"
            );
        }
    }
}

#[test]
fn singular_fields_keep_the_last_value_and_timestamps_merge() {
    let reg = builtin();
    let s = W::default()
        .msg(1, W::default().varint(1, SECS as u64))
        .double(3, 1.5)
        .varint(5, 2)
        .double(3, 2.25)
        .msg(1, W::default().varint(2, 42));
    let out = assert_same(&reg, "river_level", &river_batch(&[s]));
    let expected = format!(
        "river_level,device_id=dev-01,site=ma-lu-thang seq=0i,stage_m=2.25,mode=\"flood\" {}\n",
        SECS * 1_000_000_000 + 42
    );
    assert_eq!(lines(&out), expected);
}

#[test]
fn repeated_values_arrive_packed_unpacked_and_split() {
    let reg = builtin();
    let mut packed = Vec::new();
    for x in [10.5f64, 11.0] {
        packed.extend_from_slice(&x.to_le_bytes());
    }
    let s = W::default()
        .msg(1, W::default().varint(1, SECS as u64))
        .bytes(3, b"in-1")
        .varint(4, 3)
        .bytes(5, &packed)
        .double(6, 30.0)
        .double(5, 8.5)
        .varint(7, 2)
        .bytes(5, &[]);
    let out = assert_same(&reg, "weighbridge", &river_batch(&[s]));
    let text = lines(&out);
    assert!(
        text.contains("axle_loads_t_1=10.5,axle_loads_t_2=11,axle_loads_t_3=8.5,gross_t=30"),
        "{text}"
    );
    assert!(
        text.starts_with("weighbridge,device_id=dev-01,lane=in-1,site=ma-lu-thang seq=0i,"),
        "{text}"
    );
}

#[test]
fn unknown_fields_of_every_wire_type_are_skipped() {
    let reg = builtin();
    let unknowns = W::default()
        .varint(90, 1)
        .double(91, 2.0)
        .bytes(92, b"??")
        .raw(&[0xed, 0x05, 1, 2, 3, 4]) // field 93, fixed32
        .raw(&[0xf3, 0x05, 0x08, 0x01, 0xf4, 0x05]); // field 94, a group holding a varint
    let s = river(3.0).raw(&unknowns.0).msg(1, W::default().raw(&unknowns.0));
    let payload = W::default().raw(&unknowns.0).raw(&river_batch(&[s])).0;
    let out = assert_same(&reg, "river_level", &payload);
    assert!(lines(&out).contains("stage_m=3,"));
}

#[test]
fn known_fields_with_the_wrong_wire_type_are_malformed() {
    let reg = builtin();
    for bad in [
        W::default().varint(3, 5),       // a double as a varint
        W::default().bytes(5, &[1]),     // an enum as bytes (not repeated: no packing)
        W::default().double(1, 1.0),     // the Timestamp as a fixed64
        W::default().raw(&[0x1b, 0x1c]), // stage_m as a group
    ] {
        let s = river(1.0).raw(&bad.0);
        assert_eq!(
            refused(&assert_same(&reg, "river_level", &river_batch(&[s]))),
            RejectReason::MalformedProtobuf
        );
    }
    // The samples field itself as a varint; a string that is not UTF-8.
    let payload = W::default().bytes(1, DEVICE.as_bytes()).varint(2, 1).0;
    assert_eq!(
        refused(&assert_same(&reg, "river_level", &payload)),
        RejectReason::MalformedProtobuf
    );
    let payload = W::default().bytes(1, &[0xc3, 0x28]).msg(2, river(1.0)).0;
    assert_eq!(
        refused(&assert_same(&reg, "river_level", &payload)),
        RejectReason::MalformedProtobuf
    );
}

/// `depth` unknown groups (field 50) nested inside each other.
fn nested_groups(depth: usize) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(std::iter::repeat_n([0x93, 0x03], depth).flatten());
    out.extend(std::iter::repeat_n([0x94, 0x03], depth).flatten());
    out
}

#[test]
fn nested_unknown_groups_hit_prost_s_recursion_limit_at_the_same_depth() {
    let reg = builtin();
    // Budgets: 100 at the top, 99 in a sample, 98 in its Timestamp.
    for (depth, ok) in [(100, true), (101, false)] {
        let payload = W::default()
            .raw(&nested_groups(depth))
            .raw(&river_batch(&[river(1.0)]))
            .0;
        assert_eq!(
            assert_same(&reg, "river_level", &payload).reason().is_none(),
            ok,
            "top level, depth {depth}"
        );
    }
    for (depth, ok) in [(99, true), (100, false)] {
        let payload = river_batch(&[river(1.0).raw(&nested_groups(depth))]);
        assert_eq!(
            assert_same(&reg, "river_level", &payload).reason().is_none(),
            ok,
            "sample, depth {depth}"
        );
    }
    for (depth, ok) in [(98, true), (99, false)] {
        let s = river(1.0).msg(1, W::default().raw(&nested_groups(depth)));
        assert_eq!(
            assert_same(&reg, "river_level", &river_batch(&[s])).reason().is_none(),
            ok,
            "timestamp, depth {depth}"
        );
    }
}

#[test]
fn enums_outside_the_definition() {
    let reg = builtin();
    // defined_only: refused by the rules.
    let s = river(1.0).varint(5, 7);
    assert_eq!(
        refused(&assert_same(&reg, "river_level", &river_batch(&[s]))),
        RejectReason::ConstraintViolated
    );
    // No rule: written as the number, as a string field and as a tag.
    let reg = extra();
    let s = W::default()
        .msg(1, W::default().varint(1, SECS as u64))
        .varint(22, 9)
        .varint(17, 1)
        .varint(14, u64::MAX); // -1 in a repeated enum with defined_only items
    let payload = W::default().bytes(1, DEVICE.as_bytes()).msg(2, s.clone()).0;
    assert_eq!(
        refused(&assert_same(&reg, "kitchen_sink", &payload)),
        RejectReason::ConstraintViolated
    );
    let s = W::default()
        .msg(1, W::default().varint(1, SECS as u64))
        .varint(22, 9)
        .varint(4, 0x80);
    let payload = W::default().bytes(1, DEVICE.as_bytes()).varint(4, 9).msg(2, s).0;
    let out = assert_same(&reg, "kitchen_sink", &payload);
    assert!(lines(&out).contains("opt_level=\"9\""), "{}", lines(&out));
    assert!(
        lines(&out).contains(",site=ma-lu-thang,site_level=9 temp=0,"),
        "{}",
        lines(&out)
    );
}

#[test]
fn optional_values_are_written_when_present_even_at_zero() {
    let reg = builtin();
    let out = assert_same(&reg, "river_level", &river_batch(&[river(1.0).double(4, 0.0)]));
    assert!(lines(&out).contains(",water_temp_c=0,"), "{}", lines(&out));
    let out = assert_same(&reg, "river_level", &river_batch(&[river(1.0)]));
    assert!(!lines(&out).contains("water_temp_c"), "{}", lines(&out));
}

#[test]
fn uint64_values_above_i64_max_are_refused_after_the_rules() {
    let reg = extra();
    let s = W::default()
        .msg(1, W::default().varint(1, SECS as u64))
        .varint(10, u64::MAX);
    let payload = W::default().bytes(1, DEVICE.as_bytes()).msg(2, s).0;
    let out = assert_same(&reg, "kitchen_sink", &payload);
    assert_eq!(refused(&out), RejectReason::ConstraintViolated);
}

#[test]
fn tag_values_are_escaped_and_trailing_backslashes_refused() {
    let reg = extra();
    let sample = |zone: &[u8]| {
        W::default()
            .msg(1, W::default().varint(1, SECS as u64))
            .bytes(16, zone)
            .double(1000, 1.25)
    };
    let payload = W::default()
        .bytes(1, DEVICE.as_bytes())
        .bytes(3, b"v 1,x=\"y\"")
        .msg(2, sample(b"a b,c=d\\e\tf"))
        .0;
    let out = assert_same(&reg, "kitchen_sink", &payload);
    let text = lines(&out);
    assert!(
        text.starts_with("kitchen\\ sink\\,m,device_id=dev-01,firmware=v\\ 1\\,x\\=\"y\","),
        "{text}"
    );
    assert!(text.contains(",zone=a\\ b\\,c\\=d\\\\e\\ f "), "{text}");
    assert!(text.contains("far\\,away=1.25"), "{text}");
    let payload = W::default().bytes(1, DEVICE.as_bytes()).msg(2, sample(b"x\\")).0;
    assert_eq!(
        refused(&assert_same(&reg, "kitchen_sink", &payload)),
        RejectReason::ConstraintViolated
    );
}

#[test]
fn size_and_type_checks_come_first() {
    let reg = builtin();
    let mut scratch = TranscodeScratch::default();
    let mut out = Vec::new();
    let payload = river_batch(&[river(1.0)]);
    let limits = Limits {
        max_payload_bytes: 8,
        ..Limits::default()
    };
    let origin = TopicFields {
        site: "",
        device_id: DEVICE,
        sensor_type: "river_level",
    };
    let err = reg.transcode(&origin, &payload, NOW_NS, &limits, &mut scratch, &mut out);
    assert_eq!(err.map_err(|r| r.reason), Err(RejectReason::PayloadTooLarge));
    let unknown = TopicFields {
        sensor_type: "tide_gauge",
        ..origin
    };
    let err = reg.transcode(&unknown, &payload, NOW_NS, &Limits::default(), &mut scratch, &mut out);
    assert_eq!(err.map_err(|r| r.reason), Err(RejectReason::UnknownSensorType));
    // No site in the topic: no site tag.
    let ok = reg.transcode(&origin, &payload, NOW_NS, &Limits::default(), &mut scratch, &mut out);
    assert_eq!(ok, Ok(Some(1)));
    assert!(
        out.starts_with(b"river_level,device_id=dev-01 seq=7i"),
        "{}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn batches_at_and_past_max_items() {
    let reg = builtin();
    let distinct = |n: i64| (0..n).map(|i| river_at(1.0, SECS - i)).collect::<Vec<_>>();
    let out = assert_same(&reg, "river_level", &river_batch(&distinct(1000)));
    assert_eq!(lines(&out).lines().count(), 1000);
    let out = assert_same(&reg, "river_level", &river_batch(&distinct(1001)));
    assert_eq!(refused(&out), RejectReason::ConstraintViolated);
    // Past the limit and with a NaN and a bad enum: more than three violations.
    let mut many = vec![river(1.0).varint(5, 9); 4];
    many.push(river(9999.0));
    let out = assert_same(&reg, "river_level", &river_batch(&many));
    match &out {
        Outcome::Refused(r) => assert!(r.detail.contains("; and 2 more"), "{r}"),
        other => panic!("{other:?}"),
    }
}

/// A river sample at `seconds` + `nanos` (nanos written as the int32 varint
/// protobuf uses: negative values sign-extended to 64 bits).
fn river_ts(seconds: i64, nanos: i32) -> W {
    W::default()
        .msg(
            1,
            W::default()
                .varint(1, seconds as u64)
                .varint(2, i64::from(nanos) as u64),
        )
        .varint(2, 7)
        .double(3, 1.0)
        .varint(5, 1)
}

fn refused_with(sample: W) -> (RejectReason, String) {
    let out = assert_same(&builtin(), "river_level", &river_batch(&[sample]));
    match out {
        Outcome::Refused(r) => (r.reason, r.detail),
        other => panic!("accepted: {other:?}"),
    }
}

#[test]
fn timestamps_follow_the_protobuf_spec_and_influxdb_range() {
    // nanos outside 0..=999,999,999: invalid Timestamp, not folded into the time.
    for nanos in [1_000_000_000, -1, i32::MIN, i32::MAX] {
        let (reason, detail) = refused_with(river_ts(SECS, nanos));
        assert_eq!(reason, RejectReason::ConstraintViolated, "{nanos}");
        assert!(detail.contains("nanos") && detail.contains("0..=999999999"), "{detail}");
    }
    assert!(matches!(
        assert_same(&builtin(), "river_level", &river_batch(&[river_ts(SECS, 999_999_999)])),
        Outcome::Lines { .. }
    ));
    // Before InfluxDB's 1677 limit: too old, never "in the future".
    let year_1600 = -11_676_096_000;
    let year_0001 = -62_135_596_800;
    for (seconds, spec_range) in [
        (year_1600, false),
        (year_0001, false),
        (year_0001 - 1, true),
        (i64::MIN, true),
    ] {
        let (reason, detail) = refused_with(river_ts(seconds, 0));
        assert_eq!(reason, RejectReason::TimestampTooOld, "{seconds}: {detail}");
        assert_eq!(detail.contains("google.protobuf.Timestamp"), spec_range, "{detail}");
    }
    // After InfluxDB's 2262 limit and after 9999-12-31.
    let year_9999_end = 253_402_300_799;
    for (seconds, spec_range) in [
        (10_000_000_000, false),
        (year_9999_end, false),
        (year_9999_end + 1, true),
        (i64::MAX, true),
    ] {
        let (reason, detail) = refused_with(river_ts(seconds, 0));
        assert_eq!(reason, RejectReason::TimestampInFuture, "{seconds}: {detail}");
        assert_eq!(detail.contains("google.protobuf.Timestamp"), spec_range, "{detail}");
    }
}

#[test]
fn two_samples_of_one_series_at_one_time_refuse_the_batch() {
    let (reason, detail) = {
        let out = assert_same(
            &builtin(),
            "river_level",
            &river_batch(&[river_ts(SECS, 5), river_ts(SECS - 1, 0), river_ts(SECS, 5)]),
        );
        match out {
            Outcome::Refused(r) => (r.reason, r.detail),
            other => panic!("accepted: {other:?}"),
        }
    };
    assert_eq!(reason, RejectReason::DuplicateSample);
    assert!(detail.starts_with("samples[2] has the series and time"), "{detail}");
    assert!(detail.contains("of samples[0]"), "{detail}");
    // One nanosecond apart: two points.
    let out = assert_same(
        &builtin(),
        "river_level",
        &river_batch(&[river_ts(SECS, 5), river_ts(SECS, 6)]),
    );
    assert_eq!(lines(&out).lines().count(), 2);
}
