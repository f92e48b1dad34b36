//! InfluxDB line protocol, written straight into a reused buffer.
//!
//! Escaping follows the line-protocol reference: measurement names escape
//! comma and space; tag keys, tag values and field keys escape comma, equals
//! and space; string field values escape double quote and backslash. A
//! backslash in a name or tag value is doubled; a name or tag value that
//! *ends* in a backslash is refused, because InfluxDB's parsers reject it
//! however it is escaped. Newline, carriage return, tab and NUL cannot be represented in
//! names or tag values (they end the line or the token), so they are written
//! as a space.

use std::io::Write as _;

use telegate_model::{FieldValue, Point};

use crate::error::EncodeError;

fn escape(out: &mut Vec<u8>, s: &str, special: &[u8]) {
    for &b in s.as_bytes() {
        let b = if matches!(b, b'\n' | b'\r' | b'\t' | 0) {
            b' '
        } else {
            b
        };
        if b == b'\\' {
            out.extend_from_slice(b"\\\\");
        } else {
            if special.contains(&b) {
                out.push(b'\\');
            }
            out.push(b);
        }
    }
}

/// Measurement name: escapes comma and space.
pub fn escape_measurement(out: &mut Vec<u8>, s: &str) {
    escape(out, s, b", ");
}

/// Tag key or field key: escapes comma, equals and space.
pub fn escape_key(out: &mut Vec<u8>, s: &str) {
    escape(out, s, b",= ");
}

/// Tag value: escapes comma, equals and space.
pub fn escape_tag_value(out: &mut Vec<u8>, s: &str) {
    escape(out, s, b",= ");
}

/// String field value, with its surrounding double quotes.
pub fn escape_string_value(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
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

fn encode_unchecked(p: &Point, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let trailing = |s: &str| s.ends_with('\\');
    if trailing(&p.measurement)
        || p.tags.iter().any(|(k, v)| trailing(k) || trailing(v))
        || p.fields.iter().any(|(k, _)| trailing(k))
    {
        return Err(EncodeError::TrailingBackslash);
    }
    escape_measurement(out, &p.measurement);
    for (k, v) in &p.tags {
        if v.is_empty() {
            continue;
        }
        if k.is_empty() {
            return Err(EncodeError::EmptyName { what: "tag key" });
        }
        out.push(b',');
        escape_key(out, k);
        out.push(b'=');
        escape_tag_value(out, v);
    }
    for (i, (k, v)) in p.fields.iter().enumerate() {
        if k.is_empty() {
            return Err(EncodeError::EmptyName { what: "field key" });
        }
        out.push(if i == 0 { b' ' } else { b',' });
        escape_key(out, k);
        out.push(b'=');
        // Writing to a Vec cannot fail.
        let _ = match v {
            FieldValue::Float(x) => {
                if !x.is_finite() {
                    return Err(EncodeError::NonFinite { field: k.to_string() });
                }
                write!(out, "{x}")
            }
            FieldValue::Int(x) => write!(out, "{x}i"),
            FieldValue::UInt(x) => write!(out, "{x}u"),
            FieldValue::Bool(b) => {
                out.extend_from_slice(if *b { b"true" } else { b"false" });
                Ok(())
            }
            FieldValue::Str(s) => {
                escape_string_value(out, s);
                Ok(())
            }
        };
    }
    let _ = writeln!(out, " {}", p.time_ns);
    Ok(())
}

mod parse;

pub use parse::{ParseError, measurement_of, parse_line, parse_lines};

#[cfg(test)]
mod tests;
