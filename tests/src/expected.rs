//! What a sample must look like once stored: each field's expected column
//! and value as InfluxDB's (or VictoriaMetrics') JSON renders it.

use prost_reflect::{DynamicMessage, Kind, ReflectMessage as _, Value};

/// A stored value as InfluxDB's JSON renders it, plus its field type.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    Float(f64),
    Int(i64),
    Bool(bool),
    Str(String),
    /// An enum: the stored string must be this value name's suffix, lower case.
    EnumName(String),
}

impl Expected {
    pub fn influx_type(&self) -> &'static str {
        match self {
            Expected::Float(_) => "float",
            Expected::Int(_) => "integer",
            Expected::Bool(_) => "boolean",
            Expected::Str(_) | Expected::EnumName(_) => "string",
        }
    }

    pub fn matches(&self, got: &serde_json::Value) -> bool {
        match self {
            Expected::Float(x) => got.as_f64() == Some(*x),
            Expected::Int(x) => got.as_i64() == Some(*x),
            Expected::Bool(b) => got.as_bool() == Some(*b),
            Expected::Str(s) => got.as_str() == Some(s),
            Expected::EnumName(full) => got
                .as_str()
                .is_some_and(|g| !g.is_empty() && full.to_lowercase().ends_with(&format!("_{g}"))),
        }
    }
}

fn expected(kind: &Kind, v: &Value) -> Expected {
    match v {
        Value::F64(x) => Expected::Float(*x),
        Value::F32(x) => Expected::Float(f64::from(*x)),
        Value::I32(x) => Expected::Int(i64::from(*x)),
        Value::I64(x) => Expected::Int(*x),
        Value::U32(x) => Expected::Int(i64::from(*x)),
        Value::U64(x) => Expected::Int(*x as i64),
        Value::Bool(b) => Expected::Bool(*b),
        Value::String(s) => Expected::Str(s.clone()),
        Value::EnumNumber(n) => match kind {
            Kind::Enum(e) => Expected::EnumName(e.get_value(*n).map(|v| v.name().to_owned()).unwrap_or_default()),
            _ => Expected::Int(i64::from(*n)),
        },
        other => panic!("unexpected value {other:?}"),
    }
}

/// Column name → expected stored value, for every non-time field of a sample
/// (`name_1`, `name_2`, … for repeated ones).
pub fn expected_columns(sample: &DynamicMessage) -> Vec<(String, Expected)> {
    let mut out = Vec::new();
    for field in sample.descriptor().fields() {
        if field.name() == "time" {
            continue;
        }
        let v = sample.get_field(&field);
        match &*v {
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    out.push((format!("{}_{}", field.name(), i + 1), expected(&field.kind(), item)));
                }
            }
            item => out.push((field.name().to_owned(), expected(&field.kind(), item))),
        }
    }
    out
}
