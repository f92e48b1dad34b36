//! One sample → one line of line protocol, with the mapping checks of the
//! dynamic path in its order: the sample's time (missing, unrepresentable,
//! outside the window), uint64 values above `i64::MAX` in column order, a
//! sample with no value at all, then tag values ending in a backslash (in
//! the order the dynamic path builds its tag vector). Only then is anything
//! written, so a refused sample leaves `out` as it was.

use telegate_lp as lp;
use telegate_model::{Rejection, TopicFields};

use super::Transcoder;
use super::parse::{Item, Scratch};
use super::plan::{EnumName, Scalar, Slot, TagSource, Target, TimePlan, ValuePlan};
use crate::decode::Window;
use crate::rejections;

/// What one tag writes: its text as the dynamic path renders it.
enum TagText<'a> {
    Empty,
    /// A string from the payload or the topic, escaped when written.
    Raw(&'a [u8]),
    Name(&'a EnumName),
    Int(i64),
    UInt(u64),
    Bool(bool),
    F32(f32),
    F64(f64),
}

impl TagText<'_> {
    fn ends_with_backslash(&self) -> bool {
        match self {
            TagText::Raw(b) => b.ends_with(b"\\"),
            TagText::Name(n) => n.raw.ends_with('\\'),
            _ => false,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            TagText::Empty => {}
            TagText::Raw(b) => lp::escape_tag_value(out, b),
            TagText::Name(n) => out.extend_from_slice(&n.tag),
            TagText::Int(v) => lp::push_i64(out, *v),
            TagText::UInt(v) => lp::push_u64(out, *v),
            TagText::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            TagText::F32(x) => lp::push_f32(out, *x),
            TagText::F64(x) => lp::push_f64(out, *x),
        }
    }
}

fn text<'a>(v: Scalar, names: Option<&'a super::plan::EnumNames>, payload: &'a [u8]) -> TagText<'a> {
    match v {
        Scalar::Str(a, b) => match payload.get(a as usize..b as usize) {
            Some(s) if !s.is_empty() => TagText::Raw(s),
            _ => TagText::Empty,
        },
        Scalar::Enum(n) => match names.and_then(|names| names.get(n)) {
            Some(name) if name.raw.is_empty() => TagText::Empty,
            Some(name) => TagText::Name(name),
            None => TagText::Int(i64::from(n)),
        },
        Scalar::Bool(b) => TagText::Bool(b),
        Scalar::I32(x) => TagText::Int(i64::from(x)),
        Scalar::I64(x) => TagText::Int(x),
        Scalar::U32(x) => TagText::UInt(u64::from(x)),
        Scalar::U64(x) => TagText::UInt(x),
        Scalar::F32(x) => TagText::F32(x),
        Scalar::F64(x) => TagText::F64(x),
    }
}

fn tag_text<'a>(
    source: &'a TagSource,
    origin: &TopicFields<'a>,
    payload: &'a [u8],
    batch: &[Slot],
    sample: &[Slot],
) -> TagText<'a> {
    match source {
        TagSource::TopicDevice => TagText::Raw(origin.device_id.as_bytes()),
        TagSource::TopicSite if origin.site.is_empty() => TagText::Empty,
        TagSource::TopicSite => TagText::Raw(origin.site.as_bytes()),
        TagSource::Batch { slot, names } => match slot_value(batch, *slot) {
            Some(sl) => text(sl.value, names.as_deref(), payload),
            None => TagText::Empty,
        },
        TagSource::Sample { slot, names } => match slot_value(sample, *slot) {
            Some(sl) => text(sl.value, names.as_deref(), payload),
            None => TagText::Empty,
        },
    }
}

fn slot_value(slots: &[Slot], slot: u16) -> Option<Slot> {
    slots.get(usize::from(slot)).copied()
}

/// The items of one repeated field, in wire order.
fn list_items(items: &[Item], list: u16) -> impl Iterator<Item = Scalar> + '_ {
    items.iter().filter(move |it| it.list == list).map(|it| it.value)
}

fn sample_time(t: &Transcoder, i: usize, slots: &[Slot]) -> Result<i64, Rejection> {
    let missing = || rejections::no_time(i, &t.time_field);
    match t.time {
        TimePlan::Timestamp { slot } => {
            let Some(Slot {
                set: true,
                value: Scalar::I64(secs),
            }) = slot_value(slots, slot)
            else {
                return Err(missing());
            };
            let nanos = match slot_value(slots, slot + 1) {
                Some(Slot {
                    value: Scalar::I32(n), ..
                }) => n,
                _ => 0,
            };
            rejections::timestamp_ns(i, &t.time_field, secs, nanos)
        }
        TimePlan::Integer { slot, nanos_per_unit } => {
            let raw = match slot_value(slots, slot).map(|s| s.value) {
                Some(Scalar::I64(x)) => i128::from(x),
                Some(Scalar::U64(x)) => i128::from(x),
                Some(Scalar::I32(x)) => i128::from(x),
                Some(Scalar::U32(x)) => i128::from(x),
                _ => return Err(missing()),
            };
            if raw == 0 {
                return Err(missing());
            }
            rejections::influx_time(i, &t.time_field, raw * i128::from(nanos_per_unit), || raw.to_string())
        }
    }
}

/// Whether a singular value column writes a field for this slot.
fn written(v: &ValuePlan, slot: Slot) -> bool {
    // Unset `optional` values and enums at 0 (proto3's "unspecified") are left out.
    let unset = v.presence && !slot.set;
    let unspecified = v.is_enum && slot.value == Scalar::Enum(0);
    !unset && !unspecified
}

/// Check sample `i` and append its line to `out`.
pub(crate) fn sample(
    t: &Transcoder,
    origin: &TopicFields<'_>,
    payload: &[u8],
    s: &Scratch,
    i: usize,
    window: Window,
    out: &mut Vec<u8>,
) -> Result<(), Rejection> {
    let (slots, items) = s.sample(i, t.sample.defaults.len());
    let time_ns = sample_time(t, i, slots)?;
    rejections::check_window(i, time_ns, window)?;

    let mut any_field = false;
    for v in &t.values {
        match v.target {
            Target::Slot(slot) => {
                let Some(slot) = slot_value(slots, slot) else { continue };
                if !written(v, slot) {
                    continue;
                }
                any_field = true;
                if let Scalar::U64(x) = slot.value
                    && x > i64::MAX as u64
                {
                    return Err(rejections::too_large_integer(&format!("samples[{i}].{}", v.field), x));
                }
            }
            Target::List(list) => {
                for value in list_items(items, list) {
                    any_field = true;
                    if let Scalar::U64(x) = value
                        && x > i64::MAX as u64
                    {
                        return Err(rejections::too_large_integer(&format!("samples[{i}].{}", v.field), x));
                    }
                }
            }
        }
    }
    if !any_field {
        return Err(rejections::no_values(i));
    }

    let tag = |source| tag_text(source, origin, payload, &s.batch, slots);
    if let Some(bad) = t.tags.iter().find(|p| tag(&p.source).ends_with_backslash()) {
        return Err(rejections::trailing_backslash(i, &bad.key));
    }

    out.extend_from_slice(&t.measurement);
    for &k in &t.tag_order {
        let Some(p) = t.tags.get(k) else { continue };
        let text = tag(&p.source);
        if !matches!(text, TagText::Empty) {
            out.extend_from_slice(&p.prefix);
            text.write(out);
        }
    }
    let mut sep = b' ';
    for v in &t.values {
        match v.target {
            Target::Slot(slot) => {
                let Some(slot) = slot_value(slots, slot) else { continue };
                if written(v, slot) {
                    out.push(sep);
                    sep = b',';
                    out.extend_from_slice(&v.key);
                    out.push(b'=');
                    field_value(v, slot.value, payload, out);
                }
            }
            Target::List(list) => {
                for (j, value) in list_items(items, list).enumerate() {
                    out.push(sep);
                    sep = b',';
                    // `name_1`…: the suffix needs no escaping.
                    out.extend_from_slice(&v.key);
                    out.push(b'_');
                    lp::push_u64(out, j as u64 + 1);
                    out.push(b'=');
                    field_value(v, value, payload, out);
                }
            }
        }
    }
    out.push(b' ');
    lp::push_i64(out, time_ns);
    out.push(b'\n');
    Ok(())
}

fn field_value(v: &ValuePlan, value: Scalar, payload: &[u8], out: &mut Vec<u8>) {
    match value {
        Scalar::F64(x) => lp::push_f64(out, x),
        Scalar::F32(x) => lp::push_f64(out, f64::from(x)),
        Scalar::I32(x) => {
            lp::push_i64(out, i64::from(x));
            out.push(b'i');
        }
        Scalar::I64(x) => {
            lp::push_i64(out, x);
            out.push(b'i');
        }
        Scalar::U32(x) => {
            lp::push_u64(out, u64::from(x));
            out.push(b'i');
        }
        // Checked against i64::MAX before anything was written.
        Scalar::U64(x) => {
            lp::push_u64(out, x);
            out.push(b'i');
        }
        Scalar::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Scalar::Str(a, b) => lp::push_string_value(out, payload.get(a as usize..b as usize).unwrap_or_default()),
        Scalar::Enum(n) => match v.names.as_ref().and_then(|names| names.get(n)) {
            Some(name) => out.extend_from_slice(&name.field),
            None => {
                out.push(b'"');
                lp::push_i64(out, i64::from(n));
                out.push(b'"');
            }
        },
    }
}
