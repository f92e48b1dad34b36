//! Arbitrary payloads for any sensor schema, written as wire bytes directly
//! (not through `DynamicMessage`, which would only ever produce canonical
//! encodings).
//!
//! A payload is a batch in one of three moods — clean (every value inside
//! its rules), dirty (one value in twenty from the edge pool) or wild (two
//! in five) — with the structure varied in every mood: fields absent,
//! repeated (last one wins), in any order, repeated values packed or not and
//! split across the message, Timestamps merged from two occurrences, unknown
//! fields of every wire type (groups too). Edge values: NaN, infinities,
//! bounds and one past them, type extremes, uint64 above `i64::MAX`,
//! undefined enum numbers, empty, over-long, trailing-backslash and invalid
//! UTF-8 strings, foreign device ids, times outside the window or not
//! representable, and (wild) wrong wire types. On top, one payload in ten is
//! truncated, bit-flipped, extended with garbage or replaced by random bytes.

use proptest::prelude::*;
use proptest::sample::Index;
use prost_reflect::{FieldDescriptor, Kind};

use super::support::{DEVICE, NOW_NS};
use super::values::{CLEAN, DIRTY, Mood, Val, WILD, number_val, occurrence, scalar, varint, with_mood};
use crate::mapping::{SensorSchema, TimeSource};

/// How many times a singular field appears: mostly once, sometimes not or twice.
fn times() -> impl Strategy<Value = usize> {
    prop_oneof![1 => Just(0usize), 8 => Just(1), 1 => Just(2)]
}

/// Every occurrence of one field, encoded.
fn field_occurrences(field: &FieldDescriptor, mood: Mood) -> BoxedStrategy<Vec<Vec<u8>>> {
    let number = field.number();
    if field.is_list() {
        let item = scalar(field, mood);
        let packable = !matches!(field.kind(), Kind::String | Kind::Bytes);
        let one = (proptest::collection::vec(item, 0..4), any::<bool>()).prop_map(move |(items, packed)| {
            if packed && packable {
                let mut body = Vec::new();
                items.iter().for_each(|v| v.write_value(&mut body));
                vec![occurrence(number, &Val::Len(body))]
            } else {
                items.iter().map(|v| occurrence(number, v)).collect()
            }
        });
        return proptest::collection::vec(one, 0..3)
            .prop_map(|chunks| chunks.into_iter().flatten().collect())
            .boxed();
    }
    let value = scalar(field, mood);
    times()
        .prop_flat_map(move |n| proptest::collection::vec(value.clone(), n))
        .prop_map(move |vals| vals.iter().map(|v| occurrence(number, v)).collect())
        .boxed()
}

/// Unknown fields of every wire type, groups (sometimes nested) included.
fn unknown() -> BoxedStrategy<Vec<u8>> {
    let number = prop_oneof![Just(99u32), Just(500), Just(4097), Just(536_870_911)];
    let value = prop_oneof![
        any::<u64>().prop_map(Val::Varint),
        any::<u64>().prop_map(Val::I64),
        any::<u32>().prop_map(Val::I32),
        proptest::collection::vec(any::<u8>(), 0..6).prop_map(Val::Len),
    ];
    prop_oneof![
        3 => (number.clone(), value).prop_map(|(n, v)| occurrence(n, &v)),
        1 => (number, 1usize..4).prop_map(|(n, depth)| {
            let mut out = Vec::new();
            for _ in 0..depth {
                varint(&mut out, (u64::from(n) << 3) | 3);
            }
            out.extend(occurrence(7, &Val::Varint(1)));
            for _ in 0..depth {
                varint(&mut out, (u64::from(n) << 3) | 4);
            }
            out
        }),
    ]
    .boxed()
}

fn some_unknown() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop_oneof![4 => Just(Vec::new()), 1 => proptest::collection::vec(unknown(), 1..3)]
}

/// A Timestamp: seconds and nanos each absent, once or twice, plus unknowns.
fn timestamp(mood: Mood) -> BoxedStrategy<Val> {
    const DAY: i64 = 86_400;
    let now = NOW_NS / 1_000_000_000;
    let valid_secs = (now - 6 * DAY..now + 240).prop_map(|s| Val::Varint(s as u64)).boxed();
    let edge_secs = prop_oneof![
        (now - 40 * DAY..now - 7 * DAY - 1).prop_map(|s| Val::Varint(s as u64)),
        (now + 301..now + 400 * DAY).prop_map(|s| Val::Varint(s as u64)),
        proptest::sample::select(vec![0i64, -1, i64::MAX, i64::MIN, i64::MAX / 1_000_000_000 + 1])
            .prop_map(|s| Val::Varint(s as u64)),
    ]
    .boxed();
    let valid_nanos = (0i32..1_000_000_000).prop_map(|n| Val::Varint(n as i64 as u64)).boxed();
    let edge_nanos = proptest::sample::select(vec![-1i32, 1_000_000_000, i32::MAX, i32::MIN])
        .prop_map(|n| Val::Varint(n as i64 as u64))
        .boxed();
    let secs = with_mood(valid_secs, edge_secs, mood);
    let nanos = with_mood(valid_nanos, edge_nanos, mood);
    let part = move |number: u32, v: BoxedStrategy<Val>| {
        times().prop_flat_map(move |n| {
            proptest::collection::vec(v.clone(), n)
                .prop_map(move |vs| vs.iter().map(|v| occurrence(number, v)).collect::<Vec<_>>())
        })
    };
    (part(1, secs), part(2, nanos), some_unknown())
        .prop_flat_map(|(s, n, u)| Just(s.into_iter().chain(n).chain(u).collect::<Vec<_>>()).prop_shuffle())
        .prop_map(|chunks| Val::Len(chunks.concat()))
        .boxed()
}

/// The time field's occurrences: a Timestamp, or an integer in its unit.
fn time_occurrences(schema: &SensorSchema, mood: Mood) -> BoxedStrategy<Vec<Vec<u8>>> {
    match &schema.time {
        TimeSource::Timestamp { field } => {
            let number = field.number();
            let ts = timestamp(mood);
            prop_oneof![1 => Just(0usize), 14 => Just(1), 1 => Just(2)]
                .prop_flat_map(move |n| proptest::collection::vec(ts.clone(), n))
                .prop_map(move |vs| vs.iter().map(|v| occurrence(number, v)).collect())
                .boxed()
        }
        TimeSource::Integer {
            field, nanos_per_unit, ..
        } => {
            let (number, kind, unit) = (field.number(), field.kind(), *nanos_per_unit);
            let now = i128::from(NOW_NS / unit);
            let day = i128::from(86_400_000_000_000 / unit);
            let valid = (now - 6 * day..now + day / 1000).prop_map({
                let kind = kind.clone();
                move |t| number_val(&kind, 0.0, t)
            });
            let edge = proptest::sample::select(vec![0i128, now - 30 * day, now + 30 * day, i128::from(i64::MAX), -1])
                .prop_map(move |t| number_val(&kind, 0.0, t));
            let v = with_mood(valid.boxed(), edge.boxed(), mood);
            times()
                .prop_flat_map(move |n| proptest::collection::vec(v.clone(), n))
                .prop_map(move |vs| vs.iter().map(|v| occurrence(number, v)).collect())
                .boxed()
        }
    }
}

/// One sample message's bytes.
fn sample_message(schema: &SensorSchema, mood: Mood) -> BoxedStrategy<Vec<u8>> {
    let time_number = schema.time.field_name().to_owned();
    let mut parts: Vec<BoxedStrategy<Vec<Vec<u8>>>> = vec![time_occurrences(schema, mood)];
    for field in schema.sample.fields().filter(|f| f.name() != time_number) {
        parts.push(field_occurrences(&field, mood));
    }
    parts.push(some_unknown().boxed());
    shuffled(parts)
}

fn shuffled(parts: Vec<BoxedStrategy<Vec<Vec<u8>>>>) -> BoxedStrategy<Vec<u8>> {
    parts
        .prop_flat_map(|chunks| Just(chunks.into_iter().flatten().collect::<Vec<_>>()).prop_shuffle())
        .prop_map(|chunks| chunks.concat())
        .boxed()
}

fn device_id(field: &FieldDescriptor, mood: Mood) -> BoxedStrategy<Vec<Vec<u8>>> {
    let number = field.number();
    let valid = Just(Val::Len(DEVICE.as_bytes().to_vec())).boxed();
    let edge = prop_oneof![
        proptest::sample::select(vec!["", "dev-02", "dev 01", "dev-01\\", "DEV-01"])
            .prop_map(|s| Val::Len(s.as_bytes().to_vec())),
        Just(Val::Len(vec![0xc3, 0x28])),
        Just(Val::Len(vec![b'd'; 100])),
    ]
    .boxed();
    let v = with_mood(valid, edge, mood);
    times()
        .prop_flat_map(move |n| proptest::collection::vec(v.clone(), n))
        .prop_map(move |vs| vs.iter().map(|v| occurrence(number, v)).collect())
        .boxed()
}

fn batch_message(schema: &SensorSchema, mood: Mood) -> BoxedStrategy<Vec<u8>> {
    let samples_number = schema.samples_field().number();
    let sample = sample_message(schema, mood);
    let count = prop_oneof![1 => Just(0usize), 8 => Just(1), 3 => Just(2), 1 => Just(3)];
    let samples = count
        .prop_flat_map(move |n| proptest::collection::vec(sample.clone(), n))
        .prop_map(move |ss| {
            ss.iter()
                .map(|s| occurrence(samples_number, &Val::Len(s.clone())))
                .collect()
        })
        .boxed();
    let mut parts = vec![samples, device_id(schema.device_id_field(), mood)];
    let skip = [samples_number, schema.device_id_field().number()];
    for field in schema.message.fields().filter(|f| !skip.contains(&f.number())) {
        parts.push(field_occurrences(&field, mood));
    }
    parts.push(some_unknown().boxed());
    shuffled(parts)
}

/// Byte-level damage on top of an encoded batch.
fn damaged(payload: BoxedStrategy<Vec<u8>>) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        90 => payload.clone(),
        4 => (payload.clone(), any::<Index>()).prop_map(|(mut p, at)| {
            p.truncate(at.index(p.len() + 1));
            p
        }),
        3 => (payload.clone(), proptest::collection::vec((any::<Index>(), 1u8..), 1..4)).prop_map(|(mut p, flips)| {
            for (at, x) in flips {
                if !p.is_empty() {
                    let i = at.index(p.len());
                    p[i] ^= x;
                }
            }
            p
        }),
        2 => (payload, proptest::collection::vec(any::<u8>(), 1..6)).prop_map(|(mut p, tail)| {
            p.extend(tail);
            p
        }),
        1 => proptest::collection::vec(any::<u8>(), 0..64),
    ]
    .boxed()
}

/// Payloads for `schema`'s batch message, in every mood, sometimes damaged.
pub(super) fn payloads(schema: &SensorSchema) -> BoxedStrategy<Vec<u8>> {
    let moods = prop_oneof![
        4 => batch_message(schema, CLEAN),
        4 => batch_message(schema, DIRTY),
        2 => batch_message(schema, WILD),
    ];
    damaged(moods.boxed())
}
