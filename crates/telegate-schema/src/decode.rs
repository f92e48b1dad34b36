//! Payload → points, following a compiled [`SensorSchema`].
//!
//! Checks run cheapest and most precise first: decode, spoofed device id,
//! non-finite numbers (before `buf.validate`, whose range rules would report a
//! NaN as merely out of range), the schema's own rules, then each sample's
//! time window. A message is accepted or rejected whole: if any sample fails,
//! nothing of it is written.

use std::fmt::Write as _;

use prost_protovalidate::{Error as ValidateError, Validator};
use prost_reflect::{DynamicMessage, Value};
use telegate_model::{FieldValue, Point, RejectReason, Rejection, TopicFields};

use crate::limits::Limits;
use crate::mapping::{Column, ColumnRole, SensorSchema, TimeSource, ValueType};
use crate::rejections;

/// The gateway clock and the accepted time window, in Unix nanoseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) now_ns: i64,
    pub(crate) earliest_ns: i64,
    pub(crate) latest_ns: i64,
}

impl Window {
    pub(crate) fn new(now_ns: i64, limits: &Limits) -> Self {
        let nanos = |d: std::time::Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        Self {
            now_ns,
            earliest_ns: now_ns.saturating_sub(nanos(limits.max_age)),
            latest_ns: now_ns.saturating_add(nanos(limits.max_future)),
        }
    }
}

fn violation_detail(err: &ValidateError) -> Rejection {
    match err {
        ValidateError::Validation(v) => {
            let violations = v.violations();
            let missing = violations.iter().any(|v| v.rule_id() == "required");
            let mut detail = String::new();
            for (i, v) in violations.iter().take(3).enumerate() {
                if i > 0 {
                    detail.push_str("; ");
                }
                let _ = write!(detail, "{}: {} [{}]", v.field_path(), v.message(), v.rule_id());
            }
            if violations.len() > 3 {
                let _ = write!(detail, "; and {} more", violations.len() - 3);
            }
            let reason = if missing {
                RejectReason::MissingField
            } else {
                RejectReason::ConstraintViolated
            };
            Rejection::new(reason, detail)
        }
        other => Rejection::new(RejectReason::ConstraintViolated, format!("validator error: {other}")),
    }
}

fn tag_value(col: &Column, v: &Value) -> Option<String> {
    let s = match (v, &col.value_type) {
        (Value::EnumNumber(n), ValueType::Enum(names)) => names.get(n).map_or_else(|| n.to_string(), |s| s.to_string()),
        (Value::String(s), _) => s.clone(),
        (Value::Bool(b), _) => b.to_string(),
        (Value::I32(n), _) => n.to_string(),
        (Value::I64(n), _) => n.to_string(),
        (Value::U32(n), _) => n.to_string(),
        (Value::U64(n), _) => n.to_string(),
        (Value::F32(n), _) => n.to_string(),
        (Value::F64(n), _) => n.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

fn field_value(col: &Column, v: &Value, path: impl Fn() -> String) -> Result<FieldValue, Rejection> {
    Ok(match v {
        Value::F64(x) => FieldValue::Float(*x),
        Value::F32(x) => FieldValue::Float(f64::from(*x)),
        Value::I32(x) => FieldValue::Int(i64::from(*x)),
        Value::I64(x) => FieldValue::Int(*x),
        Value::U32(x) => FieldValue::Int(i64::from(*x)),
        Value::U64(x) => FieldValue::Int(i64::try_from(*x).map_err(|_| rejections::too_large_integer(&path(), *x))?),
        Value::Bool(b) => FieldValue::Bool(*b),
        Value::String(s) => FieldValue::Str(s.clone()),
        Value::EnumNumber(n) => match &col.value_type {
            ValueType::Enum(names) => FieldValue::Str(names.get(n).map_or_else(|| n.to_string(), |s| s.to_string())),
            _ => FieldValue::Int(i64::from(*n)),
        },
        _ => {
            return Err(Rejection::new(
                RejectReason::MalformedProtobuf,
                format!("{}: unsupported value type", path()),
            ));
        }
    })
}

fn is_finite(v: &Value) -> bool {
    match v {
        Value::F64(x) => x.is_finite(),
        Value::F32(x) => x.is_finite(),
        _ => true,
    }
}

impl SensorSchema {
    /// Decode only (no checks): for `telegate decode` and tests.
    pub fn decode_message(&self, payload: &[u8]) -> Result<DynamicMessage, Rejection> {
        DynamicMessage::decode(self.message.clone(), payload).map_err(|e| {
            let problem = crate::wire_path::locate(&self.message, payload).unwrap_or_else(|| e.to_string());
            Rejection::new(
                RejectReason::MalformedProtobuf,
                format!(
                    "not a valid {} ({} bytes): {problem}",
                    self.message.full_name(),
                    payload.len()
                ),
            )
        })
    }

    pub(crate) fn decode_into(
        &self,
        validator: &Validator,
        origin: &TopicFields<'_>,
        payload: &[u8],
        window: Window,
        out: &mut Vec<Point>,
    ) -> Result<(), Rejection> {
        let msg = self.decode_message(payload)?;
        self.check_message(validator, origin, &msg)?;
        let start = out.len();
        let result = self.map_samples(origin, &msg, window, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Every check that does not depend on the clock.
    pub fn check_message(
        &self,
        validator: &Validator,
        origin: &TopicFields<'_>,
        msg: &DynamicMessage,
    ) -> Result<(), Rejection> {
        let device = msg.get_field(&self.device_id);
        let device = device.as_str().unwrap_or_default();
        if !device.is_empty() && device != origin.device_id {
            return Err(rejections::device_mismatch(device, origin.device_id));
        }
        let samples = msg.get_field(&self.samples);
        let samples = samples.as_list().unwrap_or_default();
        for (i, sample) in samples.iter().enumerate() {
            let Some(sample) = sample.as_message() else { continue };
            for col in self.value_columns().filter(|c| c.value_type == ValueType::Float) {
                let v = sample.get_field(&col.field);
                let bad = match &*v {
                    Value::List(items) => items.iter().position(|x| !is_finite(x)).map(|j| format!("[{j}]")),
                    x => (!is_finite(x)).then(String::new),
                };
                if let Some(index) = bad {
                    return Err(rejections::non_finite(i, col.field.name(), &index));
                }
            }
        }
        validator.validate(msg).map_err(|e| violation_detail(&e))?;
        if samples.is_empty() {
            return Err(rejections::no_samples(self.samples.name()));
        }
        if device.is_empty() {
            return Err(rejections::empty_device(self.device_id.name()));
        }
        Ok(())
    }

    fn sample_time(&self, i: usize, sample: &DynamicMessage) -> Result<i64, Rejection> {
        let missing = || rejections::no_time(i, self.time.field_name());
        match &self.time {
            TimeSource::Timestamp { field } => {
                if !sample.has_field(field) {
                    return Err(missing());
                }
                let ts = sample.get_field(field);
                let Some(ts) = ts.as_message() else {
                    return Err(missing());
                };
                let secs = ts.get_field_by_name("seconds").and_then(|v| v.as_i64()).unwrap_or(0);
                let nanos = ts.get_field_by_name("nanos").and_then(|v| v.as_i32()).unwrap_or(0);
                rejections::timestamp_ns(i, self.time.field_name(), secs, nanos)
            }
            TimeSource::Integer {
                field, nanos_per_unit, ..
            } => {
                let raw = match &*sample.get_field(field) {
                    Value::I64(x) => i128::from(*x),
                    Value::U64(x) => i128::from(*x),
                    Value::I32(x) => i128::from(*x),
                    Value::U32(x) => i128::from(*x),
                    _ => return Err(missing()),
                };
                if raw == 0 {
                    return Err(missing());
                }
                rejections::influx_time(i, self.time.field_name(), raw * i128::from(*nanos_per_unit), || {
                    raw.to_string()
                })
            }
        }
    }

    fn map_samples(
        &self,
        origin: &TopicFields<'_>,
        msg: &DynamicMessage,
        window: Window,
        out: &mut Vec<Point>,
    ) -> Result<(), Rejection> {
        let mut base_tags = Vec::with_capacity(2 + self.batch_tags.len());
        base_tags.push((self.device_tag.clone(), origin.device_id.to_owned()));
        if !origin.site.is_empty() {
            base_tags.push((self.site_tag.clone(), origin.site.to_owned()));
        }
        for col in &self.batch_tags {
            if let Some(v) = tag_value(col, &msg.get_field(&col.field)) {
                base_tags.push((col.name.clone(), v));
            }
        }
        let samples = msg.get_field(&self.samples);
        for (i, sample) in samples.as_list().unwrap_or_default().iter().enumerate() {
            let Some(sample) = sample.as_message() else { continue };
            let time_ns = self.sample_time(i, sample)?;
            rejections::check_window(i, time_ns, window)?;
            let mut tags = base_tags.clone();
            let mut fields = Vec::with_capacity(self.columns.len());
            for col in &self.columns {
                let v = sample.get_field(&col.field);
                match col.role {
                    ColumnRole::Tag => {
                        if let Some(t) = tag_value(col, &v) {
                            tags.push((col.name.clone(), t));
                        }
                    }
                    ColumnRole::Value => {
                        if col.field.supports_presence() && !sample.has_field(&col.field) {
                            continue;
                        }
                        // An enum at 0 is proto3's "unset" (…_UNSPECIFIED): nothing to write.
                        if matches!((&*v, &col.value_type), (Value::EnumNumber(0), ValueType::Enum(_))) {
                            continue;
                        }
                        let path = || format!("samples[{i}].{}", col.field.name());
                        match &*v {
                            Value::List(items) => {
                                for (j, item) in items.iter().enumerate() {
                                    fields.push((col.indexed_name(j), field_value(col, item, path)?));
                                }
                            }
                            x => fields.push((col.name.clone(), field_value(col, x, path)?)),
                        }
                    }
                }
            }
            if fields.is_empty() {
                return Err(rejections::no_values(i));
            }
            if let Some((k, _)) = tags.iter().find(|(_, v)| v.ends_with('\\')) {
                return Err(rejections::trailing_backslash(i, k));
            }
            tags.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            out.push(Point {
                measurement: self.measurement.clone(),
                tags,
                fields,
                time_ns,
            });
        }
        Ok(())
    }
}
