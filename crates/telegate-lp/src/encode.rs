//! [`Point`]s as lines: the dynamic path's encoder (the transcoder writes
//! the same bytes from wire data with the same primitives).

use bytes::Bytes;
use telegate_model::{FieldValue, Point};
use thiserror::Error;

use crate::escape::{escape_key, escape_measurement, escape_tag_value, push_string_value};
use crate::number::{push_f64, push_i64, push_u64};

/// A point that cannot be expressed in line protocol.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EncodeError {
    #[error("{what} is empty")]
    EmptyName { what: &'static str },
    #[error("point of `{measurement}` has no fields")]
    NoFields { measurement: String },
    #[error("a name or tag value ends with a backslash, which line protocol cannot carry")]
    TrailingBackslash,
    #[error("field `{field}` is NaN or infinite; InfluxDB cannot store it")]
    NonFinite { field: String },
}

/// Append `p` as one line (with trailing newline) to `out`. Tags with an empty
/// value are left out (line protocol cannot express them). On error `out` is
/// left as it was.
pub fn encode_point(p: &Point, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    if p.measurement.is_empty() {
        return Err(EncodeError::EmptyName { what: "measurement" });
    }
    if p.fields.is_empty() {
        return Err(EncodeError::NoFields {
            measurement: p.measurement.to_string(),
        });
    }
    let start = out.len();
    let result = encode_unchecked(p, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Encode `points` as one message's lines. On error nothing is returned: a
/// point line protocol cannot carry makes the whole message unwritable.
pub fn encode_points(points: &[Point]) -> Result<Bytes, EncodeError> {
    let mut out = Vec::with_capacity(points.len() * 160);
    for p in points {
        encode_point(p, &mut out)?;
    }
    Ok(Bytes::from(out))
}

fn encode_unchecked(p: &Point, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let trailing = |s: &str| s.ends_with('\\');
    if trailing(&p.measurement)
        || p.tags.iter().any(|(k, v)| trailing(k) || trailing(v))
        || p.fields.iter().any(|(k, _)| trailing(k))
    {
        return Err(EncodeError::TrailingBackslash);
    }
    escape_measurement(out, p.measurement.as_bytes());
    for (k, v) in &p.tags {
        if v.is_empty() {
            continue;
        }
        if k.is_empty() {
            return Err(EncodeError::EmptyName { what: "tag key" });
        }
        out.push(b',');
        escape_key(out, k.as_bytes());
        out.push(b'=');
        escape_tag_value(out, v.as_bytes());
    }
    for (i, (k, v)) in p.fields.iter().enumerate() {
        if k.is_empty() {
            return Err(EncodeError::EmptyName { what: "field key" });
        }
        out.push(if i == 0 { b' ' } else { b',' });
        escape_key(out, k.as_bytes());
        out.push(b'=');
        match v {
            FieldValue::Float(x) => {
                if !x.is_finite() {
                    return Err(EncodeError::NonFinite { field: k.to_string() });
                }
                push_f64(out, *x);
            }
            FieldValue::Int(x) => {
                push_i64(out, *x);
                out.push(b'i');
            }
            FieldValue::UInt(x) => {
                push_u64(out, *x);
                out.push(b'u');
            }
            FieldValue::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            FieldValue::Str(s) => push_string_value(out, s.as_bytes()),
        }
    }
    out.push(b' ');
    push_i64(out, p.time_ns);
    out.push(b'\n');
    Ok(())
}
