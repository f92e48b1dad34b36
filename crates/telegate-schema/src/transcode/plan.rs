//! Compiling a [`SensorSchema`] into a transcoding plan: which wire field
//! goes to which slot, what each column writes, in which order, with every
//! name escaped once.
//!
//! The plan accepts only what it can reproduce exactly; everything else is
//! [`Unsupported`] and the type stays on the dynamic path. Refused: proto2
//! and editions files (closed enums, defaults, groups, required), real
//! oneofs (setting one member clears the others), extensions, map fields,
//! message fields other than the samples and a `google.protobuf.Timestamp`
//! time, and any `buf.validate` rule outside the subset in `rules.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use prost_protovalidate_types::MessageConstraintsExt as _;
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor, Syntax};
use telegate_lp as lp;

use super::rules::{self, Check};
pub(crate) use super::scalar::{Scalar, ScalarKind, Slot};
use super::wire::TOP_LEVEL_BUDGET;
use super::{Transcoder, Unsupported};
use crate::mapping::{Column, ColumnRole, SensorSchema, TimeSource, ValueType};

/// Declared field numbers up to this get a direct dispatch table.
const MAX_DISPATCH_NUMBER: u32 = 4096;

/// What reading one declared field does.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Action {
    /// Last one wins.
    Scalar { kind: ScalarKind, slot: u16 },
    /// Items are appended, packed or not, wherever they appear.
    List { kind: ScalarKind, list: u16 },
    /// A `google.protobuf.Timestamp`, merged: `seconds` at `slot`, `nanos` at `slot + 1`.
    Timestamp { slot: u16 },
    /// One more sample message.
    Samples,
}

/// Where a field's value lives after reading.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    Slot(u16),
    List(u16),
}

/// How one message (batch or sample) is read.
#[derive(Debug)]
pub(crate) struct MessagePlan {
    /// Field number → index + 1 into `actions`; 0 or out of range: unknown field.
    dispatch: Vec<u8>,
    actions: Vec<(u32, Action)>,
    /// Every slot's value before reading: unset, the kind's default.
    pub(crate) defaults: Vec<Slot>,
    /// Prost's recursion budget for unknown groups in this message.
    pub(crate) budget: u32,
}

impl MessagePlan {
    #[inline]
    pub(crate) fn action(&self, number: u32) -> Option<(u32, Action)> {
        let i = *self.dispatch.get(number as usize)?;
        self.actions.get(usize::from(i).checked_sub(1)?).copied()
    }
}

/// One tag of every point, in key order.
#[derive(Debug)]
pub(crate) struct TagPlan {
    /// `,key=` with the key escaped.
    pub(crate) prefix: Box<[u8]>,
    pub(crate) source: TagSource,
    /// Its tag key, for the trailing-backslash rejection.
    pub(crate) key: Arc<str>,
}

#[derive(Debug)]
pub(crate) enum TagSource {
    TopicDevice,
    TopicSite,
    Batch { slot: u16, names: Option<Arc<EnumNames>> },
    Sample { slot: u16, names: Option<Arc<EnumNames>> },
}

/// One value column, in column order.
#[derive(Debug)]
pub(crate) struct ValuePlan {
    pub(crate) target: Target,
    /// Proto3 `optional`: written only when present on the wire.
    pub(crate) presence: bool,
    pub(crate) is_enum: bool,
    /// The escaped field key (`name`; list items append `_1`, `_2`…).
    pub(crate) key: Box<[u8]>,
    pub(crate) names: Option<Arc<EnumNames>>,
    /// The protobuf field name, for rejection details.
    pub(crate) field: Arc<str>,
}

/// Enum value names, written as tags or as string fields.
#[derive(Debug)]
pub(crate) struct EnumNames {
    by_number: Vec<(i32, EnumName)>,
}

#[derive(Debug)]
pub(crate) struct EnumName {
    pub(crate) raw: Arc<str>,
    /// Escaped as a tag value.
    pub(crate) tag: Box<[u8]>,
    /// Quoted and escaped as a string field value.
    pub(crate) field: Box<[u8]>,
}

impl EnumNames {
    fn new(names: &HashMap<i32, Arc<str>>) -> Self {
        let mut by_number: Vec<(i32, EnumName)> = names
            .iter()
            .map(|(&n, raw)| {
                let mut tag = Vec::new();
                lp::escape_tag_value(&mut tag, raw.as_bytes());
                let mut field = Vec::new();
                lp::push_string_value(&mut field, raw.as_bytes());
                let name = EnumName {
                    raw: raw.clone(),
                    tag: tag.into(),
                    field: field.into(),
                };
                (n, name)
            })
            .collect();
        by_number.sort_unstable_by_key(|(n, _)| *n);
        Self { by_number }
    }

    pub(crate) fn get(&self, n: i32) -> Option<&EnumName> {
        let i = self.by_number.binary_search_by_key(&n, |(k, _)| *k).ok()?;
        self.by_number.get(i).map(|(_, name)| name)
    }
}

/// Where a sample's time comes from.
#[derive(Debug)]
pub(crate) enum TimePlan {
    Timestamp { slot: u16 },
    Integer { slot: u16, nanos_per_unit: i64 },
}

/// Builds one message's dispatch and slots.
struct Builder<'a> {
    message: &'a MessageDescriptor,
    actions: Vec<(u32, Action)>,
    defaults: Vec<Slot>,
    lists: u16,
    targets: HashMap<u32, Target>,
}

impl<'a> Builder<'a> {
    fn new(message: &'a MessageDescriptor) -> Result<Self, Unsupported> {
        let err = |problem: &str| Err(Unsupported::message(message, problem));
        if message.parent_file().syntax() != Syntax::Proto3 {
            return err("only proto3 files are transcoded");
        }
        if message.oneofs().any(|o| !o.is_synthetic()) {
            return err("oneof fields are not transcoded");
        }
        if message.extensions().len() > 0 {
            return err("messages with extensions are not transcoded");
        }
        if message.fields().any(|f| f.number() > MAX_DISPATCH_NUMBER) {
            return err("field numbers above 4096 are not transcoded");
        }
        match message.message_constraints() {
            Ok(None) => {}
            Ok(Some(r)) if r.cel.is_empty() && r.cel_expression.is_empty() && r.oneof.is_empty() => {}
            Ok(Some(_)) => return err("message-level buf.validate rules are not transcoded"),
            Err(e) => return Err(Unsupported::message(message, &format!("buf.validate.message: {e}"))),
        }
        Ok(Self {
            message,
            actions: Vec::new(),
            defaults: Vec::new(),
            lists: 0,
            targets: HashMap::new(),
        })
    }

    fn next_slot(&self) -> Result<u16, Unsupported> {
        u16::try_from(self.defaults.len()).map_err(|_| Unsupported::message(self.message, "too many fields"))
    }

    /// A scalar or repeated scalar field of any role.
    fn field(&mut self, field: &FieldDescriptor) -> Result<Target, Unsupported> {
        if field.is_map() || field.is_group() {
            return Err(Unsupported::field(field, "map and group fields are not transcoded"));
        }
        let kind = ScalarKind::of(&field.kind()).ok_or_else(|| {
            Unsupported::field(
                field,
                "message fields other than the samples and a Timestamp time are not transcoded",
            )
        })?;
        let target = if field.is_list() {
            let list = self.lists;
            self.lists += 1;
            self.actions.push((field.number(), Action::List { kind, list }));
            Target::List(list)
        } else {
            let slot = self.next_slot()?;
            self.defaults.push(Slot {
                set: false,
                value: kind.default_value(),
            });
            self.actions.push((field.number(), Action::Scalar { kind, slot }));
            Target::Slot(slot)
        };
        self.targets.insert(field.number(), target);
        Ok(target)
    }

    fn timestamp(&mut self, field: &FieldDescriptor) -> Result<u16, Unsupported> {
        let Kind::Message(ts) = field.kind() else {
            return Err(Unsupported::field(field, "not a message"));
        };
        let shape = |n: &str, number: u32, kind: Kind| {
            ts.get_field_by_name(n)
                .is_some_and(|f| f.number() == number && f.kind() == kind && !f.is_list())
        };
        if ts.fields().len() != 2 || !shape("seconds", 1, Kind::Int64) || !shape("nanos", 2, Kind::Int32) {
            return Err(Unsupported::field(field, "unexpected google.protobuf.Timestamp layout"));
        }
        let slot = self.next_slot()?;
        self.defaults.push(Slot {
            set: false,
            value: Scalar::I64(0),
        });
        self.defaults.push(Slot {
            set: false,
            value: Scalar::I32(0),
        });
        self.actions.push((field.number(), Action::Timestamp { slot }));
        self.targets.insert(field.number(), Target::Slot(slot));
        Ok(slot)
    }

    fn finish(mut self, budget: u32) -> (MessagePlan, HashMap<u32, Target>) {
        self.actions.sort_unstable_by_key(|(n, _)| *n);
        let max = self.actions.last().map_or(0, |(n, _)| *n as usize);
        let mut dispatch = vec![0u8; max + 1];
        for (i, (n, _)) in self.actions.iter().enumerate() {
            // At most 255 declared fields: checked by `compile`.
            dispatch[*n as usize] = u8::try_from(i + 1).unwrap_or(0);
        }
        let plan = MessagePlan {
            dispatch,
            actions: self.actions,
            defaults: self.defaults,
            budget,
        };
        (plan, self.targets)
    }
}

fn escaped(
    name: &str,
    what: &str,
    owner: &MessageDescriptor,
    escape: fn(&mut Vec<u8>, &[u8]),
) -> Result<Box<[u8]>, Unsupported> {
    // The dynamic path refuses every point whose names end in a backslash or
    // are empty; such a type is left to it.
    if name.is_empty() || name.ends_with('\\') {
        return Err(Unsupported::message(
            owner,
            &format!("{what} `{name}` cannot be written as line protocol"),
        ));
    }
    let mut out = Vec::new();
    escape(&mut out, name.as_bytes());
    Ok(out.into())
}

fn names_of(col: &Column) -> Option<Arc<EnumNames>> {
    match &col.value_type {
        ValueType::Enum(names) => Some(Arc::new(EnumNames::new(names))),
        _ => None,
    }
}

fn target_of(targets: &HashMap<u32, Target>, col: &Column, owner: &MessageDescriptor) -> Result<Target, Unsupported> {
    targets
        .get(&col.field.number())
        .copied()
        .ok_or_else(|| Unsupported::message(owner, &format!("column `{}` has no field", col.name)))
}

fn slot_of(targets: &HashMap<u32, Target>, col: &Column, owner: &MessageDescriptor) -> Result<u16, Unsupported> {
    match target_of(targets, col, owner)? {
        Target::Slot(s) => Ok(s),
        Target::List(_) => Err(Unsupported::field(&col.field, "a repeated field cannot be a tag")),
    }
}

pub(crate) fn compile(schema: &SensorSchema) -> Result<Transcoder, Unsupported> {
    for m in [&schema.message, &schema.sample] {
        if m.fields().len() > 255 {
            return Err(Unsupported::message(m, "more than 255 fields"));
        }
    }
    // The batch: device id, samples, batch-level tags and ignored fields.
    let mut batch = Builder::new(&schema.message)?;
    let mut batch_checks: Vec<Check> = Vec::new();
    let mut device_slot = None;
    for field in schema.message.fields() {
        if field.number() == schema.samples.number() {
            batch.actions.push((field.number(), Action::Samples));
            batch_checks.push(rules::samples_check(&field)?);
            continue;
        }
        let target = batch.field(&field)?;
        if field.number() == schema.device_id.number() {
            device_slot = Some(target);
        }
        if let Some(c) = rules::field_check(&field, target)? {
            batch_checks.push(c);
        }
    }
    let Some(Target::Slot(device_slot)) = device_slot else {
        return Err(Unsupported::message(
            &schema.message,
            "the device id is not a singular field",
        ));
    };

    // The sample: time, columns and ignored fields.
    let mut sample = Builder::new(&schema.sample)?;
    let mut sample_checks = Vec::new();
    let time_field = match &schema.time {
        TimeSource::Timestamp { field } | TimeSource::Integer { field, .. } => field.number(),
    };
    let mut time = None;
    for field in schema.sample.fields() {
        let check = if field.number() == time_field {
            match &schema.time {
                TimeSource::Timestamp { .. } => {
                    let slot = sample.timestamp(&field)?;
                    time = Some(TimePlan::Timestamp { slot });
                    rules::message_check(&field, slot)?
                }
                TimeSource::Integer { nanos_per_unit, .. } => {
                    let Target::Slot(slot) = sample.field(&field)? else {
                        return Err(Unsupported::field(&field, "the time field cannot be repeated"));
                    };
                    time = Some(TimePlan::Integer {
                        slot,
                        nanos_per_unit: *nanos_per_unit,
                    });
                    rules::field_check(&field, Target::Slot(slot))?
                }
            }
        } else {
            let target = sample.field(&field)?;
            rules::field_check(&field, target)?
        };
        sample_checks.extend(check);
    }
    let time = time.ok_or_else(|| Unsupported::message(&schema.sample, "no time field"))?;
    let (batch_plan, batch_targets) = batch.finish(TOP_LEVEL_BUDGET);
    let (sample_plan, sample_targets) = sample.finish(TOP_LEVEL_BUDGET - 1);

    // Tags: the dynamic path's vector order is topic device, topic site,
    // batch tags, sample tags; points carry them sorted by key.
    let mut tags = vec![
        TagPlan {
            prefix: Box::default(),
            source: TagSource::TopicDevice,
            key: schema.device_tag.clone(),
        },
        TagPlan {
            prefix: Box::default(),
            source: TagSource::TopicSite,
            key: schema.site_tag.clone(),
        },
    ];
    for col in &schema.batch_tags {
        let slot = slot_of(&batch_targets, col, &schema.message)?;
        tags.push(TagPlan {
            prefix: Box::default(),
            source: TagSource::Batch {
                slot,
                names: names_of(col),
            },
            key: col.name.clone(),
        });
    }
    let mut values = Vec::new();
    for col in &schema.columns {
        match col.role {
            ColumnRole::Tag => {
                let slot = slot_of(&sample_targets, col, &schema.sample)?;
                tags.push(TagPlan {
                    prefix: Box::default(),
                    source: TagSource::Sample {
                        slot,
                        names: names_of(col),
                    },
                    key: col.name.clone(),
                });
            }
            ColumnRole::Value => values.push(ValuePlan {
                target: target_of(&sample_targets, col, &schema.sample)?,
                presence: col.field.supports_presence() && !col.field.is_list(),
                is_enum: matches!(col.value_type, ValueType::Enum(_)),
                key: escaped(&col.name, "field key", &schema.sample, lp::escape_key)?,
                names: names_of(col),
                field: col.field.name().into(),
            }),
        }
    }
    for tag in &mut tags {
        let mut prefix = vec![b','];
        prefix.extend_from_slice(&escaped(&tag.key, "tag key", &schema.message, lp::escape_key)?);
        prefix.push(b'=');
        tag.prefix = prefix.into();
    }
    let mut sorted: Vec<usize> = (0..tags.len()).collect();
    sorted.sort_by(|&a, &b| tags[a].key.cmp(&tags[b].key));
    Ok(Transcoder {
        batch_name: schema.message.full_name().to_owned(),
        batch_desc: schema.message.clone(),
        batch: batch_plan,
        sample: sample_plan,
        device_slot,
        device_field: schema.device_id.name().into(),
        samples_field: schema.samples.name().into(),
        time_field: schema.time.field_name().into(),
        time,
        batch_checks,
        sample_checks,
        measurement: escaped(
            &schema.measurement,
            "measurement",
            &schema.message,
            lp::escape_measurement,
        )?,
        tags,
        tag_order: sorted,
        values,
    })
}
