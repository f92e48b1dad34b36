//! Value strategies for the payload generator: one field value (or list
//! item) of any kind, from the pool its rules accept or from the edge pool,
//! encoded for its wire type.

use proptest::prelude::*;
use prost_protovalidate_types::FieldConstraintsExt as _;
use prost_reflect::{FieldDescriptor, Kind};

use crate::sample;

/// A field value, encoded for its wire type.
#[derive(Debug, Clone)]
pub(super) enum Val {
    Varint(u64),
    I64(u64),
    I32(u32),
    Len(Vec<u8>),
}

impl Val {
    pub(super) fn wire(&self) -> u8 {
        match self {
            Val::Varint(_) => 0,
            Val::I64(_) => 1,
            Val::Len(_) => 2,
            Val::I32(_) => 5,
        }
    }

    pub(super) fn write_value(&self, out: &mut Vec<u8>) {
        match self {
            Val::Varint(v) => varint(out, *v),
            Val::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
            Val::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
            Val::Len(b) => {
                varint(out, b.len() as u64);
                out.extend_from_slice(b);
            }
        }
    }
}

pub(super) fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(super) fn occurrence(number: u32, v: &Val) -> Vec<u8> {
    let mut out = Vec::new();
    varint(&mut out, (u64::from(number) << 3) | u64::from(v.wire()));
    v.write_value(&mut out);
    out
}

/// How often a value comes from the edge pool, out of 100.
#[derive(Debug, Clone, Copy)]
pub(super) struct Mood {
    edge: u32,
    wrong_wire: u32,
}

pub(super) const CLEAN: Mood = Mood { edge: 0, wrong_wire: 0 };
pub(super) const DIRTY: Mood = Mood { edge: 5, wrong_wire: 0 };
pub(super) const WILD: Mood = Mood {
    edge: 40,
    wrong_wire: 3,
};

/// A number as the generator thinks of it, converted to the field's kind.
pub(super) fn number_val(kind: &Kind, x: f64, i: i128) -> Val {
    let zigzag = |v: i64| ((v << 1) ^ (v >> 63)) as u64;
    match kind {
        Kind::Double => Val::I64(x.to_bits()),
        Kind::Float => Val::I32((x as f32).to_bits()),
        Kind::Int32 => Val::Varint(i as i32 as i64 as u64),
        Kind::Int64 => Val::Varint(i as i64 as u64),
        Kind::Uint32 => Val::Varint(u64::from(i as u32)),
        Kind::Uint64 => Val::Varint(i as u64),
        Kind::Sint32 => Val::Varint(zigzag(i64::from(i as i32)) & 0xffff_ffff),
        Kind::Sint64 => Val::Varint(zigzag(i as i64)),
        Kind::Fixed32 => Val::I32(i as u32),
        Kind::Fixed64 => Val::I64(i as u64),
        Kind::Sfixed32 => Val::I32(i as i32 as u32),
        Kind::Sfixed64 => Val::I64(i as i64 as u64),
        Kind::Bool => Val::Varint(i as u64),
        _ => Val::Varint(i as i32 as i64 as u64),
    }
}

/// Allowed values of a numeric field's `in` rule (or its items'), as f64.
pub(super) fn in_list(field: &FieldDescriptor) -> Vec<f64> {
    let Some(mut r) = sample::rules(field) else {
        return Vec::new();
    };
    if field.is_list() {
        match r
            .get_field_by_name("repeated")
            .and_then(|v| v.as_message().cloned())
            .and_then(|rep| rep.get_field_by_name("items").and_then(|v| v.as_message().cloned()))
        {
            Some(items) => r = items,
            None => return Vec::new(),
        }
    }
    let Some(typed) = sample::kind_rule_name(&field.kind())
        .and_then(|n| r.get_field_by_name(n))
        .and_then(|v| v.as_message().cloned())
    else {
        return Vec::new();
    };
    typed
        .get_field_by_name("in")
        .and_then(|v| v.as_list().map(|l| l.iter().filter_map(sample::as_f64).collect()))
        .unwrap_or_default()
}

pub(super) fn bool_const(field: &FieldDescriptor) -> Option<bool> {
    match field.field_constraints().ok()??.r#type? {
        prost_protovalidate_types::field_rules::Type::Bool(b) => b.r#const,
        _ => None,
    }
}

/// Values a number field's rules accept.
pub(super) fn valid_number(field: &FieldDescriptor) -> BoxedStrategy<Val> {
    let kind = field.kind();
    let allowed = in_list(field);
    if !allowed.is_empty() {
        return proptest::sample::select(allowed)
            .prop_map(move |x| number_val(&kind, x, x as i128))
            .boxed();
    }
    let (lo, hi) = sample::bounds(field);
    let float = matches!(kind, Kind::Double | Kind::Float);
    let (lo, hi) = match (lo, hi) {
        // An inverted range admits values outside it: pick above the lower bound.
        (Some(l), Some(h)) if l > h => (l + 1.0, l + 1000.0),
        (Some(l), Some(h)) => (l, h),
        (Some(l), None) => (l, l + 1000.0),
        (None, Some(h)) => ((h - 1000.0).max(if float { f64::MIN } else { 0.0 }), h),
        (None, None) if float => (-1000.0, 1000.0),
        (None, None) => (0.0, 100_000.0),
    };
    let (lo_i, hi_i) = (lo.ceil() as i128, hi.floor() as i128);
    (0.0f64..=1.0, 0u32..4, lo_i..=hi_i.max(lo_i))
        .prop_map(move |(t, decimals, i)| {
            let x = lo + (hi - lo) * (0.001 + 0.998 * t);
            let scale = 10f64.powi(decimals as i32);
            let rounded = (x * scale).round() / scale;
            let x = if rounded > lo && rounded < hi { rounded } else { x };
            number_val(&kind, x, i)
        })
        .boxed()
}

/// Values just outside or at the edge of anything a number field accepts.
pub(super) fn edge_number(field: &FieldDescriptor) -> BoxedStrategy<Val> {
    let kind = field.kind();
    let (lo, hi) = sample::bounds(field);
    let mut xs = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        1e300,
        13.0,
        666.0,
    ];
    for b in [lo, hi].into_iter().flatten() {
        xs.extend([b, b - 1.0, b + 1.0, b - 1e-9, b + 1e-9]);
    }
    if matches!(kind, Kind::Double | Kind::Float) {
        xs.extend([f64::NAN, f64::INFINITY, f64::NEG_INFINITY]);
    }
    let is: Vec<i128> = vec![
        0,
        -1,
        i128::from(i32::MIN),
        i128::from(i32::MAX),
        i128::from(u32::MAX),
        i128::from(i64::MIN),
        i128::from(i64::MAX),
        i128::from(i64::MAX) + 1,
        i128::from(u64::MAX),
    ];
    let k2 = kind.clone();
    let wire = field_wire(field);
    prop_oneof![
        proptest::sample::select(xs).prop_map(move |x| number_val(&kind, x, x as i128)),
        proptest::sample::select(is).prop_map(move |i| number_val(&k2, i as f64, i)),
        // Any bit pattern of the field's width.
        any::<u64>().prop_map(move |bits| match wire {
            1 => Val::I64(bits),
            5 => Val::I32(bits as u32),
            _ => Val::Varint(bits),
        }),
    ]
    .boxed()
}

pub(super) fn field_wire(field: &FieldDescriptor) -> u8 {
    match field.kind() {
        Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => 1,
        Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => 5,
        Kind::String | Kind::Bytes | Kind::Message(_) => 2,
        _ => 0,
    }
}

/// Strings that need escaping or sit at the edge of the rules.
pub(super) const PLAIN: &[&str] = &[
    "in-1",
    "a b",
    "x,y=z",
    "q\"uote",
    "back\\slash",
    "tab\tnew\nline",
    "ünïcödé",
    "",
    "z",
];
pub(super) const EDGE: &[&str] = &[
    "",
    "x\\",
    "dev-02",
    "dev 01",
    "nbad",
    "a-very-long-value-past-every-limit-0123456789-0123456789-abcdefghij",
];

pub(super) fn string_value(field: &FieldDescriptor, edge: bool) -> BoxedStrategy<Val> {
    let constrained = sample::rules(field).is_some();
    let valid = sample::valid_string(field);
    if !edge {
        return if constrained {
            Just(Val::Len(valid.into_bytes())).boxed()
        } else {
            proptest::sample::select(PLAIN)
                .prop_map(|s| Val::Len(s.as_bytes().to_vec()))
                .boxed()
        };
    }
    prop_oneof![
        proptest::sample::select(EDGE).prop_map(|s| Val::Len(s.as_bytes().to_vec())),
        Just(Val::Len(vec![b'a', 0xff, 0xfe])),
        Just(Val::Len(format!("{valid}\\").into_bytes())),
        "[a-z ,=\\\\\"]{0,12}".prop_map(|s| Val::Len(s.into_bytes())),
    ]
    .boxed()
}

pub(super) fn enum_value(field: &FieldDescriptor, edge: bool) -> BoxedStrategy<Val> {
    let numbers: Vec<i32> = match field.kind() {
        Kind::Enum(e) => e.values().map(|v| v.number()).collect(),
        _ => vec![0],
    };
    if edge {
        proptest::sample::select(vec![-1i32, 7, 99, i32::MAX, i32::MIN])
            .prop_map(|n| Val::Varint(n as i64 as u64))
            .boxed()
    } else {
        proptest::sample::select(numbers)
            .prop_map(|n| Val::Varint(n as i64 as u64))
            .boxed()
    }
}

/// One value of a scalar field (or one item of a repeated one).
pub(super) fn scalar(field: &FieldDescriptor, mood: Mood) -> BoxedStrategy<Val> {
    let (valid, edge) = match field.kind() {
        Kind::String => (string_value(field, false), string_value(field, true)),
        Kind::Bytes => (
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(Val::Len).boxed(),
            Just(Val::Len(vec![0xff])).boxed(),
        ),
        Kind::Enum(_) => (enum_value(field, false), enum_value(field, true)),
        Kind::Bool => {
            let c = bool_const(field);
            let valid = match c {
                Some(c) => Just(Val::Varint(u64::from(c))).boxed(),
                None => (0u64..2).prop_map(Val::Varint).boxed(),
            };
            (
                valid,
                proptest::sample::select(vec![0u64, 1, 2, 255])
                    .prop_map(Val::Varint)
                    .boxed(),
            )
        }
        _ => (valid_number(field), edge_number(field)),
    };
    with_mood(valid, edge, mood)
}

pub(super) fn with_mood(valid: BoxedStrategy<Val>, edge: BoxedStrategy<Val>, mood: Mood) -> BoxedStrategy<Val> {
    let wrong = prop_oneof![
        any::<u64>().prop_map(Val::Varint),
        any::<u64>().prop_map(Val::I64),
        any::<u32>().prop_map(Val::I32),
        proptest::collection::vec(any::<u8>(), 0..6).prop_map(Val::Len),
    ];
    match mood.edge {
        0 => valid,
        e => prop_oneof![
            100 - e - mood.wrong_wire => valid,
            e => edge,
            mood.wrong_wire => wrong,
        ]
        .boxed(),
    }
}
