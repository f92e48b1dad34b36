//! A sensor type compiled from its descriptors: which field is what, decided
//! once at load time so decoding only follows the plan.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

use prost::Message as _;

use crate::error::SchemaError;
use crate::location::Locator;
use crate::options::{OptionReader, Role};
use crate::transcode::{Transcoder, Unsupported};
use crate::warning::SchemaWarning;

/// Tag keys every point gets from the topic; schema columns may not reuse them.
pub(crate) const DEVICE_TAG: &str = "device_id";
pub(crate) const SITE_TAG: &str = "site";
const RESERVED: [&str; 3] = [DEVICE_TAG, SITE_TAG, "time"];
/// Names for repeated values (`axle_loads_t_1`…) are precomputed up to this index.
const PRECOMPUTED_INDEXES: usize = 16;

/// The InfluxDB type a protobuf field is written as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueType {
    Float,
    Int,
    /// uint64/fixed64: written as an integer, rejected above `i64::MAX`.
    UInt,
    Bool,
    Str,
    /// Written as a string: the value's name without the enum-type prefix, lower case.
    Enum(Arc<HashMap<i32, Arc<str>>>),
}

impl ValueType {
    /// The InfluxDB field type name, as `SHOW FIELD KEYS` prints it.
    pub fn influx_type(&self) -> &'static str {
        match self {
            ValueType::Float => "float",
            ValueType::Int | ValueType::UInt => "integer",
            ValueType::Bool => "boolean",
            ValueType::Str | ValueType::Enum(_) => "string",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnRole {
    Tag,
    Value,
}

/// One protobuf field written as a tag or a field.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: Arc<str>,
    pub role: ColumnRole,
    pub unit: String,
    pub value_type: ValueType,
    pub(crate) field: FieldDescriptor,
    /// `name_1`, `name_2`… for repeated values.
    pub(crate) indexed: Vec<Arc<str>>,
}

impl Column {
    pub fn is_repeated(&self) -> bool {
        self.field.is_list()
    }

    /// The protobuf field, e.g. to show its validation rules.
    pub fn field(&self) -> &FieldDescriptor {
        &self.field
    }

    pub(crate) fn indexed_name(&self, i: usize) -> Arc<str> {
        self.indexed
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("{}_{}", self.name, i + 1).into())
    }
}

/// Where a sample's device time comes from.
#[derive(Debug, Clone)]
pub enum TimeSource {
    Timestamp {
        field: FieldDescriptor,
    },
    /// An integer count of `unit`s since the Unix epoch (any integer kind,
    /// 32 or 64 bits).
    Integer {
        field: FieldDescriptor,
        nanos_per_unit: i64,
        /// `s`, `ms`, `us` or `ns`.
        unit: &'static str,
    },
}

impl TimeSource {
    pub fn field_name(&self) -> &str {
        match self {
            TimeSource::Timestamp { field } | TimeSource::Integer { field, .. } => field.name(),
        }
    }

    /// The field's type and, for an integer, its unit: shown by `check` and
    /// `describe`, e.g. `google.protobuf.Timestamp` or `uint32, seconds (s)`.
    pub fn kind_and_unit(&self) -> String {
        match self {
            TimeSource::Timestamp { .. } => "google.protobuf.Timestamp".to_owned(),
            TimeSource::Integer { field, unit, .. } => {
                let name = match *unit {
                    "s" => "seconds",
                    "ms" => "milliseconds",
                    "us" => "microseconds",
                    _ => "nanoseconds",
                };
                let kind = format!("{:?}", field.kind()).to_lowercase();
                format!("{kind}, {name} since 1970-01-01T00:00:00Z ({unit})")
            }
        }
    }
}

/// One sensor type: its batch message and how a sample becomes a point.
#[derive(Debug, Clone)]
pub struct SensorSchema {
    pub sensor_type: Arc<str>,
    pub measurement: Arc<str>,
    pub description: String,
    /// The `.proto` file that defines the batch message.
    pub file: String,
    pub message: MessageDescriptor,
    pub(crate) device_id: FieldDescriptor,
    pub(crate) samples: FieldDescriptor,
    pub sample: MessageDescriptor,
    /// Batch-level scalars, written as tags of every sample's point.
    pub batch_tags: Vec<Column>,
    pub time: TimeSource,
    /// Sample-level tags and values, in field-number order.
    pub columns: Vec<Column>,
    pub(crate) device_tag: Arc<str>,
    pub(crate) site_tag: Arc<str>,
    /// The wire → line-protocol plan, or why this type uses the dynamic path.
    pub(crate) transcoder: Result<Arc<Transcoder>, Unsupported>,
    /// What the type's mapping does that may surprise (the registry collects them).
    pub(crate) warnings: Vec<SchemaWarning>,
    /// The batch and sample descriptors (options included, source positions
    /// not): equal fingerprints mean a reload changed nothing of the type.
    pub(crate) fingerprint: Vec<u8>,
}

struct Ctx<'a> {
    message: &'a MessageDescriptor,
    loc: &'a Locator,
}

impl Ctx<'_> {
    fn field_err(&self, field: &FieldDescriptor, problem: impl Into<String>) -> SchemaError {
        SchemaError::BadField {
            message: self.message.full_name().to_owned(),
            field: field.name().to_owned(),
            location: self.loc.field(field),
            problem: problem.into(),
        }
    }

    fn msg_err(&self, problem: impl Into<String>) -> SchemaError {
        SchemaError::BadMapping {
            message: self.message.full_name().to_owned(),
            location: self.loc.message(self.message),
            problem: problem.into(),
        }
    }
}

/// What a reload compares: the batch and sample messages, the enums their
/// fields use, and the option-derived names.
fn fingerprint(batch: &MessageDescriptor, sample: &MessageDescriptor, measurement: &str) -> Vec<u8> {
    // The descriptor protos drop custom options (buf.validate rules, our
    // annotations): those are compared through the options messages.
    let mut out = measurement.as_bytes().to_vec();
    for m in [batch, sample] {
        out.extend(m.descriptor_proto().encode_to_vec());
        out.extend(m.options().encode_to_vec());
        for f in m.fields() {
            out.extend(f.options().encode_to_vec());
            if let Kind::Enum(e) = f.kind() {
                out.extend(e.enum_descriptor_proto().encode_to_vec());
            }
        }
    }
    out
}

fn screaming_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    let mut prev_lower = false;
    for c in camel.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn value_type(kind: &Kind) -> Option<ValueType> {
    Some(match kind {
        Kind::Double | Kind::Float => ValueType::Float,
        Kind::Int32 | Kind::Int64 | Kind::Sint32 | Kind::Sint64 | Kind::Sfixed32 | Kind::Sfixed64 => ValueType::Int,
        Kind::Uint32 | Kind::Fixed32 => ValueType::Int,
        Kind::Uint64 | Kind::Fixed64 => ValueType::UInt,
        Kind::Bool => ValueType::Bool,
        Kind::String => ValueType::Str,
        Kind::Enum(e) => {
            let prefix = format!("{}_", screaming_snake(e.name()));
            let names = e
                .values()
                .map(|v| {
                    let n = v.name();
                    let short = n.strip_prefix(&prefix).unwrap_or(n).to_ascii_lowercase();
                    (v.number(), Arc::from(short))
                })
                .collect();
            ValueType::Enum(Arc::new(names))
        }
        Kind::Bytes | Kind::Message(_) => return None,
    })
}

/// Nanoseconds per unit, and the unit's canonical name (no unit: ms).
fn time_unit_nanos(unit: &str) -> Option<(i64, &'static str)> {
    Some(match unit {
        "" | "ms" => (1_000_000, "ms"),
        "s" => (1_000_000_000, "s"),
        "us" => (1_000, "us"),
        "ns" => (1, "ns"),
        _ => return None,
    })
}

fn column(
    ctx: &Ctx<'_>,
    field: &FieldDescriptor,
    role: ColumnRole,
    opt_name: String,
    unit: String,
) -> Result<Column, SchemaError> {
    if field.is_map() {
        return Err(ctx.field_err(field, "map fields are not supported; use a nested sample per key"));
    }
    let value_type = value_type(&field.kind()).ok_or_else(|| {
        ctx.field_err(
            field,
            "only scalar, string and enum fields can be tags or values (bytes and messages cannot)",
        )
    })?;
    if role == ColumnRole::Tag && field.is_list() {
        return Err(ctx.field_err(field, "a repeated field cannot be a tag"));
    }
    let name: Arc<str> = if opt_name.is_empty() {
        field.name().into()
    } else {
        opt_name.into()
    };
    if RESERVED.contains(&&*name) {
        return Err(ctx.field_err(field, format!("column name `{name}` is reserved (device_id and site come from the topic); set (telegate.v1.field).name")));
    }
    let indexed = if field.is_list() {
        (1..=PRECOMPUTED_INDEXES)
            .map(|i| Arc::from(format!("{name}_{i}")))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Column {
        name,
        role,
        unit,
        value_type,
        field: field.clone(),
        indexed,
    })
}

impl SensorSchema {
    pub(crate) fn compile(
        sensor_type: &str,
        measurement: &str,
        description: &str,
        message: &MessageDescriptor,
        options: &OptionReader,
        loc: &Locator,
    ) -> Result<Self, SchemaError> {
        let ctx = Ctx { message, loc };
        let mut device_id = None;
        let mut samples = None;
        let mut batch_tags = Vec::new();
        for field in message.fields() {
            let opt = options.field(&field);
            let role = match opt.role {
                Role::Auto if field.name() == "device_id" => Role::DeviceId,
                Role::Auto if field.name() == "samples" => Role::Samples,
                Role::Auto => Role::Tag,
                r => r,
            };
            match role {
                Role::DeviceId => {
                    if field.kind() != Kind::String || field.is_list() {
                        return Err(ctx.field_err(&field, "the device id must be a single string field"));
                    }
                    if device_id.replace(field.clone()).is_some() {
                        return Err(ctx.msg_err("more than one device id field"));
                    }
                }
                Role::Samples => {
                    if !field.is_list() || !matches!(field.kind(), Kind::Message(_)) {
                        return Err(ctx.field_err(&field, "the samples field must be `repeated` of a message type"));
                    }
                    if samples.replace(field.clone()).is_some() {
                        return Err(ctx.msg_err("more than one samples field"));
                    }
                }
                Role::Tag | Role::Value => batch_tags.push(column(&ctx, &field, ColumnRole::Tag, opt.name, opt.unit)?),
                Role::Ignore => {}
                Role::Time | Role::Auto => {
                    return Err(ctx.field_err(&field, "a time field belongs in the sample message, not the batch"));
                }
            }
        }
        let device_id = device_id.ok_or_else(|| {
            ctx.msg_err("no device id field: name one `device_id` or mark it (telegate.v1.field).role = ROLE_DEVICE_ID")
        })?;
        let samples = samples.ok_or_else(|| {
            ctx.msg_err("no samples field: name one `samples` or mark it (telegate.v1.field).role = ROLE_SAMPLES")
        })?;
        let Kind::Message(sample) = samples.kind() else {
            return Err(ctx.field_err(&samples, "the samples field must be of a message type"));
        };
        let mut warnings = Vec::new();
        let (time, columns) = Self::compile_sample(&sample, options, loc, &mut warnings)?;

        let mut names = BTreeSet::new();
        for c in batch_tags.iter().chain(&columns) {
            if !names.insert(c.name.clone()) {
                return Err(ctx.msg_err(format!(
                    "column name `{}` is used twice (tags and fields share one namespace in InfluxDB)",
                    c.name
                )));
            }
        }
        let measurement: Arc<str> = if measurement.is_empty() {
            sensor_type.into()
        } else {
            measurement.into()
        };
        let mut schema = Self {
            sensor_type: sensor_type.into(),
            fingerprint: fingerprint(message, &sample, &measurement),
            measurement,
            description: description.to_owned(),
            file: message.parent_file().name().to_owned(),
            message: message.clone(),
            device_id,
            samples,
            sample,
            batch_tags,
            time,
            columns,
            device_tag: DEVICE_TAG.into(),
            site_tag: SITE_TAG.into(),
            transcoder: Err(Unsupported {
                element: message.full_name().to_owned(),
                problem: "not compiled yet".to_owned(),
            }),
            warnings,
        };
        schema.transcoder = Transcoder::compile(&schema).map(Arc::new);
        Ok(schema)
    }

    fn compile_sample(
        sample: &MessageDescriptor,
        options: &OptionReader,
        loc: &Locator,
        warnings: &mut Vec<SchemaWarning>,
    ) -> Result<(TimeSource, Vec<Column>), SchemaError> {
        let ctx = Ctx { message: sample, loc };
        let mut time = None;
        let mut columns = Vec::new();
        for field in sample.fields() {
            let opt = options.field(&field);
            let role = match opt.role {
                Role::Auto if field.name() == "time" => Role::Time,
                Role::Auto => Role::Value,
                r => r,
            };
            match role {
                Role::Time => {
                    let source = match field.kind() {
                        _ if field.is_list() => return Err(ctx.field_err(&field, "the time field cannot be repeated")),
                        Kind::Message(m) if m.full_name() == "google.protobuf.Timestamp" => {
                            TimeSource::Timestamp { field: field.clone() }
                        }
                        Kind::Int64
                        | Kind::Uint64
                        | Kind::Sint64
                        | Kind::Fixed64
                        | Kind::Sfixed64
                        | Kind::Int32
                        | Kind::Uint32
                        | Kind::Sint32
                        | Kind::Fixed32
                        | Kind::Sfixed32 => {
                            let (nanos_per_unit, unit) = time_unit_nanos(&opt.unit).ok_or_else(|| {
                                ctx.field_err(
                                    &field,
                                    format!(
                                        "time unit `{}` is not one of s, ms, us, ns; set (telegate.v1.field).unit = \"s\" (or ms, us, ns)",
                                        opt.unit
                                    ),
                                )
                            })?;
                            if opt.unit.is_empty() {
                                warnings.push(SchemaWarning::new(
                                    loc.field(&field),
                                    format!(
                                        "{}.{}: integer time without a unit is read as milliseconds",
                                        sample.full_name(),
                                        field.name()
                                    ),
                                    "say which unit the device counts in: [(telegate.v1.field).unit = \"s\"] (or \"ms\", \"us\", \"ns\")",
                                ));
                            }
                            TimeSource::Integer {
                                field: field.clone(),
                                nanos_per_unit,
                                unit,
                            }
                        }
                        _ => {
                            return Err(ctx.field_err(
                                &field,
                                "the time field must be google.protobuf.Timestamp or an integer (int32, uint32, int64, uint64, sint*, fixed*, sfixed*) with (telegate.v1.field).unit",
                            ));
                        }
                    };
                    if time.replace(source).is_some() {
                        return Err(ctx.msg_err("more than one time field"));
                    }
                }
                Role::Value => columns.push(column(&ctx, &field, ColumnRole::Value, opt.name, opt.unit)?),
                Role::Tag => columns.push(column(&ctx, &field, ColumnRole::Tag, opt.name, opt.unit)?),
                Role::Ignore => {}
                Role::DeviceId | Role::Samples | Role::Auto => {
                    return Err(ctx.field_err(&field, "device id and samples roles belong in the batch message"));
                }
            }
        }
        let time = time.ok_or_else(|| {
            ctx.msg_err("no time field: name one `time` or mark it (telegate.v1.field).role = ROLE_TIME")
        })?;
        if !columns.iter().any(|c| c.role == ColumnRole::Value) {
            return Err(ctx.msg_err("a sample needs at least one value field (InfluxDB points need a field)"));
        }
        Ok((time, columns))
    }

    /// Tag keys of every point, sorted (device_id and site from the topic included).
    pub fn tag_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = [DEVICE_TAG, SITE_TAG]
            .into_iter()
            .chain(
                self.batch_tags
                    .iter()
                    .chain(&self.columns)
                    .filter(|c| c.role == ColumnRole::Tag)
                    .map(|c| &*c.name),
            )
            .collect();
        keys.sort_unstable();
        keys
    }

    /// The batch field holding the device id (checked against the topic).
    pub fn device_id_field(&self) -> &FieldDescriptor {
        &self.device_id
    }

    /// The batch field holding the samples.
    pub fn samples_field(&self) -> &FieldDescriptor {
        &self.samples
    }

    /// The compiled wire → line-protocol transcoder, or why this type has
    /// none and is decoded through a `DynamicMessage`.
    pub fn transcoder(&self) -> Result<&Transcoder, &Unsupported> {
        self.transcoder.as_deref()
    }

    pub fn value_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.role == ColumnRole::Value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_prefix_from_type_name() {
        assert_eq!(screaming_snake("BarrierState"), "BARRIER_STATE");
        assert_eq!(screaming_snake("Mode"), "MODE");
        assert_eq!(screaming_snake("Network5g"), "NETWORK5G");
    }
}
