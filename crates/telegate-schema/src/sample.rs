//! Valid sample payloads built from the schemas themselves: every value is
//! the midpoint of its `buf.validate` range. The simulator, `schema
//! describe` and the tests use these, so they follow the `.proto` files
//! (including ones an integrator adds) instead of hard-coding them.

use prost::Message as _;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage as _, Value};

use crate::mapping::{SensorSchema, TimeSource};

/// The field's `buf.validate.field` rules, if it has any.
pub fn rules(field: &FieldDescriptor) -> Option<DynamicMessage> {
    let ext = field.parent_pool().get_extension_by_name("buf.validate.field")?;
    let opts = field.options();
    if !opts.has_extension(&ext) {
        return None;
    }
    opts.get_extension(&ext).as_message().cloned()
}

/// The `buf.validate` rule group of a numeric kind (`double`, `uint32`…).
pub fn kind_rule_name(kind: &Kind) -> Option<&'static str> {
    Some(match kind {
        Kind::Double => "double",
        Kind::Float => "float",
        Kind::Int32 => "int32",
        Kind::Int64 => "int64",
        Kind::Uint32 => "uint32",
        Kind::Uint64 => "uint64",
        Kind::Sint32 => "sint32",
        Kind::Sint64 => "sint64",
        Kind::Fixed32 => "fixed32",
        Kind::Fixed64 => "fixed64",
        Kind::Sfixed32 => "sfixed32",
        Kind::Sfixed64 => "sfixed64",
        _ => return None,
    })
}

/// A numeric value as f64 (rule bounds and field values of any numeric kind).
pub fn as_f64(v: &Value) -> Option<f64> {
    Some(match v {
        Value::F64(x) => *x,
        Value::F32(x) => f64::from(*x),
        Value::I32(x) => f64::from(*x),
        Value::I64(x) => *x as f64,
        Value::U32(x) => f64::from(*x),
        Value::U64(x) => *x as f64,
        _ => return None,
    })
}

/// (lower, upper) bounds of a numeric field from its rules (scalar or repeated items).
pub fn bounds(field: &FieldDescriptor) -> (Option<f64>, Option<f64>) {
    let Some(mut r) = rules(field) else { return (None, None) };
    if field.is_list() {
        let items = r
            .get_field_by_name("repeated")
            .and_then(|v| v.as_message().cloned())
            .and_then(|rep| rep.get_field_by_name("items").and_then(|v| v.as_message().cloned()));
        match items {
            Some(items) => r = items,
            None => return (None, None),
        }
    }
    let Some(name) = kind_rule_name(&field.kind()) else {
        return (None, None);
    };
    let Some(typed) = r.get_field_by_name(name).and_then(|v| v.as_message().cloned()) else {
        return (None, None);
    };
    let get = |n: &str| {
        let fd = typed.descriptor().get_field_by_name(n)?;
        typed.has_field(&fd).then(|| as_f64(&typed.get_field(&fd))).flatten()
    };
    (get("gte").or_else(|| get("gt")), get("lte").or_else(|| get("lt")))
}

/// `x` as a value of the field's numeric kind (rounded for integers).
pub fn number(kind: &Kind, x: f64) -> Value {
    match kind {
        Kind::Double => Value::F64(x),
        Kind::Float => Value::F32(x as f32),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(x.round() as i32),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(x.round() as i64),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(x.round().max(0.0) as u32),
        _ => Value::U64(x.round().max(0.0) as u64),
    }
}

/// A short string the field's `string` rules accept (const, `in`, length,
/// pattern, prefix, suffix, contains), trying a few plausible shapes.
pub fn valid_string(field: &FieldDescriptor) -> String {
    const FALLBACK: &str = "in-1";
    let Some(mut r) = rules(field) else {
        return FALLBACK.into();
    };
    if field.is_list() {
        match r
            .get_field_by_name("repeated")
            .and_then(|v| v.as_message().cloned())
            .and_then(|rep| rep.get_field_by_name("items").and_then(|v| v.as_message().cloned()))
        {
            Some(items) => r = items,
            None => return FALLBACK.into(),
        }
    }
    let Some(sr) = r.get_field_by_name("string").and_then(|v| v.as_message().cloned()) else {
        return FALLBACK.into();
    };
    let get = |n: &str| {
        let fd = sr.descriptor().get_field_by_name(n)?;
        sr.has_field(&fd).then(|| sr.get_field(&fd).into_owned())
    };
    let text = |n: &str| get(n).and_then(|v| v.as_str().map(str::to_owned));
    if let Some(c) = text("const") {
        return c;
    }
    if let Some(first) = get("in").and_then(|v| {
        v.as_list()
            .and_then(|l| l.first().and_then(|x| x.as_str().map(str::to_owned)))
    }) {
        return first;
    }
    let min = get("min_len").and_then(|v| v.as_u64()).unwrap_or(0) as usize;
    let max = get("max_len").and_then(|v| v.as_u64()).unwrap_or(u64::MAX) as usize;
    let pattern = text("pattern").and_then(|p| regex::Regex::new(&p).ok());
    let (prefix, suffix, contains) = (
        text("prefix").unwrap_or_default(),
        text("suffix").unwrap_or_default(),
        text("contains").unwrap_or_default(),
    );
    let bases = [
        "in-1", "a1", "a", "1", "A1", "x", "abc", "dev-01", "in_1", "A", "0", "ab12",
    ];
    let pads = ["", "0", "00000000", "aaaaaaaa"];
    for base in bases {
        for pad in pads {
            let s = format!("{prefix}{contains}{base}{pad}{suffix}");
            let len = s.chars().count();
            if len >= min && len <= max && pattern.as_ref().is_none_or(|p| p.is_match(&s)) {
                return s;
            }
        }
    }
    FALLBACK.into()
}

/// A value inside the field's rules (the midpoint of its range).
pub fn valid_value(field: &FieldDescriptor) -> Value {
    let kind = field.kind();
    match &kind {
        Kind::Bool => Value::Bool(true),
        Kind::String => Value::String(valid_string(field)),
        Kind::Enum(e) => Value::EnumNumber(e.values().map(|v| v.number()).find(|&n| n != 0).unwrap_or(0)),
        _ => {
            let (lo, hi) = bounds(field);
            let x = match (lo, hi) {
                (Some(lo), Some(hi)) => lo + (hi - lo) / 2.0,
                (Some(lo), None) => lo + 1.0,
                (None, Some(hi)) => hi.min(0.0) - if hi <= 0.0 { 1.0 } else { 0.0 },
                (None, None) => 3.0,
            };
            number(&kind, x)
        }
    }
}

/// Set a google.protobuf.Timestamp field (an integer field gets
/// milliseconds, in its own kind; [`time_value`] knows the unit).
pub fn timestamp(field: &FieldDescriptor, time_ns: i64) -> Value {
    let Kind::Message(desc) = field.kind() else {
        return integer(&field.kind(), time_ns.div_euclid(1_000_000));
    };
    let mut ts = DynamicMessage::new(desc);
    ts.set_field_by_name("seconds", Value::I64(time_ns.div_euclid(1_000_000_000)));
    ts.set_field_by_name("nanos", Value::I32(time_ns.rem_euclid(1_000_000_000) as i32));
    Value::Message(ts)
}

/// `x` as a value of an integer kind, saturating at its bounds.
fn integer(kind: &Kind, x: i64) -> Value {
    match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(x.clamp(i32::MIN.into(), i32::MAX.into()) as i32),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(x.clamp(0, u32::MAX.into()) as u32),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(x.max(0) as u64),
        _ => Value::I64(x),
    }
}

/// The value of a schema's time field for `time_ns`: a Timestamp, or an
/// integer of the field's kind counting its unit.
pub fn time_value(time: &TimeSource, time_ns: i64) -> Value {
    match time {
        TimeSource::Timestamp { field } => timestamp(field, time_ns),
        TimeSource::Integer {
            field, nanos_per_unit, ..
        } => integer(&field.kind(), time_ns.div_euclid((*nanos_per_unit).max(1))),
    }
}

/// A sample of `schema` where every field holds a valid value, its time
/// field (whatever its name, kind and unit) set to `time_ns`.
pub fn valid_schema_sample(schema: &SensorSchema, time_ns: i64, seq: u64) -> DynamicMessage {
    let mut s = valid_sample(&schema.sample, time_ns, seq);
    let field = match &schema.time {
        TimeSource::Timestamp { field } | TimeSource::Integer { field, .. } => field,
    };
    let _ = s.try_set_field(field, time_value(&schema.time, time_ns));
    s
}

/// A sample where every field holds a valid value.
pub fn valid_sample(desc: &MessageDescriptor, time_ns: i64, seq: u64) -> DynamicMessage {
    let mut s = DynamicMessage::new(desc.clone());
    for field in desc.fields() {
        let v = match field.name() {
            "time" => timestamp(&field, time_ns),
            "seq" => Value::U64(seq),
            _ if field.is_list() => Value::List(vec![valid_value(&field), valid_value(&field)]),
            _ => valid_value(&field),
        };
        // A field named like ours but of another type keeps its default.
        let _ = s.try_set_field(&field, v);
    }
    s
}

/// The first numeric field with an upper bound, for out-of-range tests.
pub fn bounded_field(desc: &MessageDescriptor) -> Option<(FieldDescriptor, f64)> {
    desc.fields().filter(|f| !f.is_list()).find_map(|f| {
        let (_, hi) = bounds(&f);
        hi.filter(|_| matches!(f.kind(), Kind::Double | Kind::Float))
            .map(|hi| (f, hi))
    })
}

/// The first double/float field (for NaN tests).
pub fn float_field(desc: &MessageDescriptor) -> Option<FieldDescriptor> {
    desc.fields()
        .find(|f| !f.is_list() && matches!(f.kind(), Kind::Double | Kind::Float))
}

/// Encode a batch of `samples` for `device`.
pub fn batch(batch_desc: &MessageDescriptor, device: &str, samples: Vec<DynamicMessage>) -> Vec<u8> {
    let mut b = DynamicMessage::new(batch_desc.clone());
    b.set_field_by_name("device_id", Value::String(device.into()));
    b.set_field_by_name(
        "samples",
        Value::List(samples.into_iter().map(Value::Message).collect()),
    );
    b.encode_to_vec()
}

/// The sample message of a batch message.
pub fn sample_desc(batch_desc: &MessageDescriptor) -> MessageDescriptor {
    match batch_desc.get_field_by_name("samples").map(|f| f.kind()) {
        Some(Kind::Message(m)) => m,
        _ => batch_desc.clone(),
    }
}
