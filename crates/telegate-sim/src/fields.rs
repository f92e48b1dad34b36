//! Reflection over one sensor type: which fields exist, their `buf.validate`
//! ranges, and how to build and encode samples and batches.
//!
//! Everything is looked up by name at run time so a schema the simulator
//! has never seen still gets valid payloads, and a model never sets a field
//! the schema lacks or a value outside its rules.

use std::collections::BTreeMap;
use std::sync::Arc;

use prost::Message as _;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, ReflectMessage as _, Value};
use telegate_schema::{SensorSchema, TimeSource, sample};

/// `(telegate.v1.field).role` values (see options.proto).
const ROLE_AUTO: i32 = 0;
const ROLE_DEVICE_ID: i32 = 4;
const ROLE_SAMPLES: i32 = 5;
const ROLE_IGNORE: i32 = 6;
/// Most samples in one late batch (the gateway accepts up to the schema's
/// `max_items`; smaller batches keep payloads well under the size limit).
const MAX_BATCH: usize = 250;

pub(crate) fn is_numeric(kind: &Kind) -> bool {
    sample::kind_rule_name(kind).is_some()
}

pub(crate) fn is_float(kind: &Kind) -> bool {
    matches!(kind, Kind::Double | Kind::Float)
}

fn message_field(msg: &DynamicMessage, name: &str) -> Option<DynamicMessage> {
    let fd = msg.descriptor().get_field_by_name(name)?;
    if !msg.has_field(&fd) {
        return None;
    }
    msg.get_field(&fd).as_message().cloned()
}

fn number_field(msg: &DynamicMessage, name: &str) -> Option<f64> {
    let fd = msg.descriptor().get_field_by_name(name)?;
    if !msg.has_field(&fd) {
        return None;
    }
    sample::as_f64(&msg.get_field(&fd))
}

/// What `buf.validate` allows for a numeric field (or for the items of a
/// repeated one), with exclusive bounds kept exclusive.
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldRange {
    lo: Option<(f64, bool)>,
    hi: Option<(f64, bool)>,
    exact: Option<f64>,
    choices: Vec<f64>,
    pub(crate) min_items: usize,
    pub(crate) max_items: Option<usize>,
}

impl FieldRange {
    pub(crate) fn of(field: &FieldDescriptor) -> Self {
        let mut range = Self::default();
        let Some(mut rules) = sample::rules(field) else {
            return range;
        };
        if field.is_list() {
            let Some(rep) = message_field(&rules, "repeated") else {
                return range;
            };
            range.min_items = number_field(&rep, "min_items").map_or(0, |n| n as usize);
            range.max_items = number_field(&rep, "max_items").map(|n| n as usize);
            match message_field(&rep, "items") {
                Some(items) => rules = items,
                None => return range,
            }
        }
        let Some(typed) = sample::kind_rule_name(&field.kind()).and_then(|n| message_field(&rules, n)) else {
            return range;
        };
        range.lo = number_field(&typed, "gte")
            .map(|x| (x, false))
            .or_else(|| number_field(&typed, "gt").map(|x| (x, true)));
        range.hi = number_field(&typed, "lte")
            .map(|x| (x, false))
            .or_else(|| number_field(&typed, "lt").map(|x| (x, true)));
        range.exact = number_field(&typed, "const");
        if let Some(list) = typed.get_field_by_name("in")
            && let Some(items) = list.as_list()
        {
            range.choices = items.iter().filter_map(sample::as_f64).collect();
        }
        range
    }

    /// Lowest and highest allowed value for `kind` (exclusive bounds nudged inside).
    pub(crate) fn limits(&self, kind: &Kind) -> (f64, f64) {
        let integer = !is_float(kind);
        let (kind_lo, kind_hi) = match kind {
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => (f64::from(i32::MIN), f64::from(i32::MAX)),
            Kind::Uint32 | Kind::Fixed32 => (0.0, f64::from(u32::MAX)),
            Kind::Uint64 | Kind::Fixed64 => (0.0, 9.0e18),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => (-9.0e18, 9.0e18),
            Kind::Float => (-3.0e38, 3.0e38),
            _ => (-1e300, 1e300),
        };
        let nudge = |x: f64| (x.abs().max(1.0)) * 1e-6;
        let lo = match self.lo {
            Some((x, true)) if integer => x.floor() + 1.0,
            Some((x, false)) if integer => x.ceil(),
            Some((x, true)) => x + nudge(x),
            Some((x, false)) => x,
            None => kind_lo,
        };
        let hi = match self.hi {
            Some((x, true)) if integer => x.ceil() - 1.0,
            Some((x, false)) if integer => x.floor(),
            Some((x, true)) => x - nudge(x),
            Some((x, false)) => x,
            None => kind_hi,
        };
        (lo.max(kind_lo), hi.min(kind_hi).max(lo.max(kind_lo)))
    }

    pub(crate) fn bounded(&self) -> (Option<f64>, Option<f64>) {
        (self.lo.map(|b| b.0), self.hi.map(|b| b.0))
    }

    /// A typical value: the middle of the range.
    pub(crate) fn center(&self, kind: &Kind) -> f64 {
        let (lo, hi) = self.limits(kind);
        match self.bounded() {
            (Some(_), Some(_)) => lo + (hi - lo) / 2.0,
            (Some(_), None) => lo + 1.0,
            (None, Some(_)) => hi.min(0.0) - if hi <= 0.0 { 1.0 } else { 0.0 },
            (None, None) => 3.0,
        }
    }

    /// Width used to scale random walks.
    pub(crate) fn span(&self, kind: &Kind, around: f64) -> f64 {
        match self.bounded() {
            (Some(_), Some(_)) => {
                let (lo, hi) = self.limits(kind);
                hi - lo
            }
            _ => around.abs().max(10.0),
        }
    }

    /// `x` as a valid value of the field.
    pub(crate) fn clamp(&self, kind: &Kind, x: f64) -> Value {
        if let Some(c) = self.exact {
            return sample::number(kind, c);
        }
        if !self.choices.is_empty() {
            let nearest = self
                .choices
                .iter()
                .copied()
                .min_by(|a, b| (a - x).abs().total_cmp(&(b - x).abs()))
                .unwrap_or(x);
            return sample::number(kind, nearest);
        }
        let x = if x.is_finite() { x } else { self.center(kind) };
        let (lo, hi) = self.limits(kind);
        let x = if is_float(kind) { x } else { x.round() };
        sample::number(kind, x.clamp(lo, hi))
    }
}

/// One field of the sample message and how to fill it.
#[derive(Debug, Clone)]
pub(crate) struct SampleField {
    pub(crate) desc: FieldDescriptor,
    pub(crate) range: FieldRange,
    /// Time, seq and ignored fields are not values to model.
    pub(crate) modelled: bool,
}

/// A compiled sensor type, ready to build payloads.
#[derive(Debug)]
pub(crate) struct TypePlan {
    pub(crate) schema: Arc<SensorSchema>,
    device_id: FieldDescriptor,
    samples: FieldDescriptor,
    seq: Option<FieldDescriptor>,
    pub(crate) fields: Vec<SampleField>,
    index: BTreeMap<String, usize>,
    batch_extras: Vec<(FieldDescriptor, Value)>,
    /// Most samples per message.
    pub(crate) max_batch: usize,
}

fn role(field: &FieldDescriptor) -> i32 {
    let Some(ext) = field.parent_pool().get_extension_by_name("telegate.v1.field") else {
        return ROLE_AUTO;
    };
    let opts = field.options();
    if !opts.has_extension(&ext) {
        return ROLE_AUTO;
    }
    let opt = opts.get_extension(&ext);
    opt.as_message()
        .and_then(|m| m.get_field_by_name("role").and_then(|v| v.as_enum_number()))
        .unwrap_or(ROLE_AUTO)
}

impl TypePlan {
    pub(crate) fn new(schema: &Arc<SensorSchema>) -> Result<Self, String> {
        let batch = &schema.message;
        let mut device_id = None;
        let mut samples = None;
        let mut batch_extras = Vec::new();
        for field in batch.fields() {
            match (role(&field), field.name()) {
                (ROLE_DEVICE_ID, _) | (ROLE_AUTO, "device_id") => device_id = Some(field),
                (ROLE_SAMPLES, _) | (ROLE_AUTO, "samples") => samples = Some(field),
                (ROLE_IGNORE, _) => {}
                _ if field.is_list() || matches!(field.kind(), Kind::Message(_)) => {}
                _ => {
                    let v = match field.kind() {
                        k if is_numeric(&k) => {
                            let range = FieldRange::of(&field);
                            range.clamp(&k, range.center(&k))
                        }
                        _ => sample::valid_value(&field),
                    };
                    batch_extras.push((field, v));
                }
            }
        }
        let device_id = device_id.filter(|f| f.kind() == Kind::String && !f.is_list());
        let device_id = device_id.ok_or("no string device id field in the batch message")?;
        let samples = samples.filter(|f| f.is_list() && matches!(f.kind(), Kind::Message(_)));
        let samples = samples.ok_or("no repeated samples field in the batch message")?;
        let time_field = match &schema.time {
            TimeSource::Timestamp { field } | TimeSource::Integer { field, .. } => field.clone(),
        };
        let seq = schema
            .sample
            .get_field_by_name("seq")
            .filter(|f| is_numeric(&f.kind()) && !f.is_list());
        let mut fields = Vec::new();
        let mut index = BTreeMap::new();
        for desc in schema.sample.fields() {
            let is_time = desc.number() == time_field.number();
            let is_seq = seq.as_ref().is_some_and(|s| s.number() == desc.number());
            let supported = !matches!(desc.kind(), Kind::Message(_) | Kind::Bytes) && !desc.is_map();
            index.insert(desc.name().to_owned(), fields.len());
            fields.push(SampleField {
                range: FieldRange::of(&desc),
                modelled: !is_time && !is_seq && supported && role(&desc) != ROLE_IGNORE,
                desc,
            });
        }
        let per_batch = FieldRange::of(&samples).max_items.unwrap_or(MAX_BATCH);
        Ok(Self {
            schema: schema.clone(),
            device_id,
            samples,
            seq,
            fields,
            index,
            batch_extras,
            max_batch: per_batch.clamp(1, MAX_BATCH),
        })
    }

    pub(crate) fn sensor_type(&self) -> &str {
        &self.schema.sensor_type
    }

    /// An integer time field's unit in ns, its name and the field (`None`
    /// for a Timestamp, which has nanosecond resolution).
    pub(crate) fn time_unit(&self) -> Option<(i64, &'static str, String)> {
        match &self.schema.time {
            TimeSource::Integer {
                field,
                nanos_per_unit,
                unit,
            } if *nanos_per_unit > 1 => Some((*nanos_per_unit, *unit, field.name().to_owned())),
            _ => None,
        }
    }

    pub(crate) fn field(&self, name: &str) -> Option<&SampleField> {
        self.index.get(name).and_then(|&i| self.fields.get(i))
    }

    /// An empty sample with its time and sequence number set.
    pub(crate) fn new_sample(&self, ts_ns: i64, seq: u64) -> DynamicMessage {
        let mut msg = DynamicMessage::new(self.schema.sample.clone());
        self.set_time(&mut msg, ts_ns);
        if let Some(f) = self.seq.as_ref().and_then(|f| self.field(f.name())) {
            let v = f.range.clamp(&f.desc.kind(), seq as f64);
            let _ = msg.try_set_field(&f.desc, v);
        }
        msg
    }

    pub(crate) fn set_time(&self, msg: &mut DynamicMessage, ts_ns: i64) {
        let (field, v) = match &self.schema.time {
            TimeSource::Timestamp { field } => (field, sample::timestamp(field, ts_ns)),
            TimeSource::Integer {
                field, nanos_per_unit, ..
            } => {
                let raw = ts_ns.div_euclid((*nanos_per_unit).max(1));
                let v = match field.kind() {
                    Kind::Uint64 | Kind::Fixed64 => Value::U64(u64::try_from(raw).unwrap_or(0)),
                    // 32-bit times: seconds fit until 2106 (unsigned) or 2038 (signed).
                    Kind::Uint32 | Kind::Fixed32 => Value::U32(u32::try_from(raw).unwrap_or(0)),
                    Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(i32::try_from(raw).unwrap_or(0)),
                    _ => Value::I64(raw),
                };
                (field, v)
            }
        };
        let _ = msg.try_set_field(field, v);
    }

    /// A sample where every modelled field holds the middle of its range
    /// (for probing what the gateway accepts).
    pub(crate) fn baseline(&self, ts_ns: i64, seq: u64) -> DynamicMessage {
        let mut msg = self.new_sample(ts_ns, seq);
        for f in self.fields.iter().filter(|f| f.modelled) {
            let kind = f.desc.kind();
            let v = if is_numeric(&kind) {
                f.range.clamp(&kind, f.range.center(&kind))
            } else {
                sample::valid_value(&f.desc)
            };
            let v = if f.desc.is_list() {
                Value::List(vec![v; f.range.min_items.max(1)])
            } else {
                v
            };
            let _ = msg.try_set_field(&f.desc, v);
        }
        msg
    }

    /// Encode a batch of `samples` from `device_id`.
    pub(crate) fn encode(&self, device_id: &str, samples: &[DynamicMessage]) -> Vec<u8> {
        let mut b = DynamicMessage::new(self.schema.message.clone());
        let _ = b.try_set_field(&self.device_id, Value::String(device_id.to_owned()));
        for (f, v) in &self.batch_extras {
            let _ = b.try_set_field(f, v.clone());
        }
        let list = samples.iter().cloned().map(Value::Message).collect();
        let _ = b.try_set_field(&self.samples, Value::List(list));
        b.encode_to_vec()
    }

    pub(crate) fn samples_field_number(&self) -> u32 {
        self.samples.number()
    }

    /// A field number the batch message does not use (for padding).
    pub(crate) fn unused_batch_field_number(&self) -> u32 {
        let max = self.schema.message.fields().map(|f| f.number()).max().unwrap_or(0);
        let n = max + 1;
        // 19000-19999 are reserved by protobuf.
        if (19_000..20_000).contains(&n) { 20_000 } else { n }
    }
}

/// Sets fields of one sample by name, clamped to the schema's rules; names
/// the schema lacks are skipped, so models survive schema changes.
#[derive(Debug)]
pub(crate) struct Writer<'a> {
    pub(crate) msg: DynamicMessage,
    pub(crate) plan: &'a TypePlan,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(plan: &'a TypePlan, msg: DynamicMessage) -> Self {
        Self { msg, plan }
    }

    fn scalar(&self, name: &str) -> Option<&'a SampleField> {
        self.plan.field(name).filter(|f| f.modelled && !f.desc.is_list())
    }

    pub(crate) fn num(&mut self, name: &str, x: f64) {
        if let Some(f) = self.scalar(name) {
            let kind = f.desc.kind();
            if is_numeric(&kind) {
                let _ = self.msg.try_set_field(&f.desc, f.range.clamp(&kind, x));
            }
        }
    }

    pub(crate) fn nums(&mut self, name: &str, xs: &[f64]) {
        let Some(f) = self.plan.field(name).filter(|f| f.modelled && f.desc.is_list()) else {
            return;
        };
        let kind = f.desc.kind();
        if !is_numeric(&kind) {
            return;
        }
        let max = f.range.max_items.unwrap_or(usize::MAX);
        let mut items: Vec<Value> = xs.iter().take(max).map(|&x| f.range.clamp(&kind, x)).collect();
        while items.len() < f.range.min_items {
            items.push(f.range.clamp(&kind, f.range.center(&kind)));
        }
        let _ = self.msg.try_set_field(&f.desc, Value::List(items));
    }

    pub(crate) fn flag(&mut self, name: &str, b: bool) {
        if let Some(f) = self.scalar(name).filter(|f| f.desc.kind() == Kind::Bool) {
            let _ = self.msg.try_set_field(&f.desc, Value::Bool(b));
        }
    }

    pub(crate) fn text(&mut self, name: &str, s: &str) {
        if let Some(f) = self.scalar(name).filter(|f| f.desc.kind() == Kind::String) {
            let _ = self.msg.try_set_field(&f.desc, Value::String(s.to_owned()));
        }
    }

    /// Set an enum by its short name (`flood` for `MODE_FLOOD`).
    pub(crate) fn choice(&mut self, name: &str, short: &str) {
        let Some(f) = self.scalar(name) else { return };
        let Kind::Enum(e) = f.desc.kind() else { return };
        let suffix = format!("_{}", short.to_ascii_uppercase());
        if let Some(v) = e.values().find(|v| v.name().ends_with(&suffix) || v.name() == short) {
            let _ = self.msg.try_set_field(&f.desc, Value::EnumNumber(v.number()));
        }
    }

    pub(crate) fn is_set(&self, field: &FieldDescriptor) -> bool {
        self.msg.has_field(field)
    }

    pub(crate) fn set_raw(&mut self, field: &FieldDescriptor, v: Value) {
        let _ = self.msg.try_set_field(field, v);
    }
}
