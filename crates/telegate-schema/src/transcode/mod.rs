//! Protobuf wire bytes → InfluxDB line protocol, without a `DynamicMessage`.
//!
//! The dynamic path decodes a payload into a `prost_reflect::DynamicMessage`,
//! lets `prost-protovalidate` copy and walk it, maps it to `Point`s and
//! encodes those: a third of its instructions build, copy and drop the
//! message. A [`Transcoder`] is compiled from a [`SensorSchema`] when the
//! registry loads (so hot reload recompiles it with the schemas) and does the
//! same work from the wire bytes: it reads every field into reused slots
//! (`parse`), runs the schema's `buf.validate` rules compiled into direct
//! checks (`rules`, `validate`), and writes each sample's line into the
//! caller's buffer (`emit`, with `telegate-lp`'s escaping and number
//! formatting) with names escaped once at load time.
//!
//! It must be indistinguishable from the dynamic path: the same lines byte
//! for byte, and for every refused payload the same [`RejectReason`] after
//! the same checks in the same order (malformed, device id, non-finite,
//! rules, empty batch or device, then per sample: time, window, integer
//! range, no values, tags). Details are the same text too, except for
//! malformed payloads, whose detail names the byte offset instead of
//! prost's error. What the plan cannot reproduce exactly is [`Unsupported`]
//! and that type stays on the dynamic path.
//!
//! [`RejectReason`]: telegate_model::RejectReason

mod emit;
mod parse;
mod pattern;
mod plan;
mod rules;
mod scalar;
mod validate;
mod wire;

#[cfg(test)]
mod tests;

use prost_reflect::{FieldDescriptor, MessageDescriptor};
use telegate_model::{RejectReason, Rejection, TopicFields};
use thiserror::Error;

use crate::decode::Window;
use crate::mapping::SensorSchema;
use crate::rejections;

use self::plan::{MessagePlan, Scalar, TagPlan, TimePlan, ValuePlan};
use self::rules::Check;
use self::validate::{Explain, Found};

/// Why a sensor type has no transcoder and uses the dynamic path.
#[derive(Debug, Clone, Error)]
#[error("{element}: {problem}")]
pub struct Unsupported {
    /// The message or field (full protobuf name) the plan cannot handle.
    pub element: String,
    pub problem: String,
}

impl Unsupported {
    pub(crate) fn field(field: &FieldDescriptor, problem: &str) -> Self {
        Self {
            element: field.full_name().to_owned(),
            problem: problem.to_owned(),
        }
    }

    pub(crate) fn message(message: &MessageDescriptor, problem: &str) -> Self {
        Self {
            element: message.full_name().to_owned(),
            problem: problem.to_owned(),
        }
    }
}

/// A sensor type's wire → line-protocol plan, compiled from its descriptors.
#[derive(Debug)]
pub struct Transcoder {
    batch_name: String,
    /// For naming the field of a malformed payload (`wire_path`).
    batch_desc: MessageDescriptor,
    batch: MessagePlan,
    sample: MessagePlan,
    device_slot: u16,
    device_field: Box<str>,
    samples_field: Box<str>,
    time_field: Box<str>,
    time: TimePlan,
    batch_checks: Vec<Check>,
    sample_checks: Vec<Check>,
    /// The escaped measurement name.
    measurement: Box<[u8]>,
    /// In the dynamic path's tag-vector order; `tag_order` sorts them by key.
    tags: Vec<TagPlan>,
    tag_order: Vec<usize>,
    values: Vec<ValuePlan>,
}

/// Buffers a decode stage keeps between messages, so that transcoding
/// allocates nothing once they have grown to the largest batch seen.
#[derive(Debug, Default)]
pub struct TranscodeScratch {
    inner: parse::Scratch,
}

/// Whether the transcoder runs the schema's `buf.validate` rules. Only
/// benchmarks turn them off, to measure what they cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rules {
    Check,
    #[cfg_attr(not(feature = "bench-internals"), allow(dead_code))]
    Skip,
}

impl Transcoder {
    pub(crate) fn compile(schema: &SensorSchema) -> Result<Self, Unsupported> {
        plan::compile(schema)
    }

    /// Check `payload` and append one line per sample to `out`; returns the
    /// number of points. On rejection `out` is left as it was.
    pub(crate) fn transcode(
        &self,
        origin: &TopicFields<'_>,
        payload: &[u8],
        window: Window,
        rules: Rules,
        scratch: &mut TranscodeScratch,
        out: &mut Vec<u8>,
    ) -> Result<usize, Rejection> {
        let s = &mut scratch.inner;
        parse::batch(self, payload, s).map_err(|e| {
            let problem = crate::wire_path::locate(&self.batch_desc, payload).unwrap_or_else(|| e.to_string());
            Rejection::new(
                RejectReason::MalformedProtobuf,
                format!("not a valid {} ({} bytes): {problem}", self.batch_name, payload.len()),
            )
        })?;
        let s = &scratch.inner;
        let device = match s.batch.get(usize::from(self.device_slot)).map(|slot| slot.value) {
            Some(Scalar::Str(a, b)) => payload.get(a as usize..b as usize).unwrap_or_default(),
            _ => &[],
        };
        if !device.is_empty() && device != origin.device_id.as_bytes() {
            // Checked as UTF-8 when read.
            let device = std::str::from_utf8(device).unwrap_or_default();
            return Err(rejections::device_mismatch(device, origin.device_id));
        }
        self.check_finite(s)?;
        if rules == Rules::Check && validate::validate(self, payload, s, &mut Found::default()) {
            let mut explain = Explain::default();
            validate::validate(self, payload, s, &mut explain);
            return Err(explain.into_rejection());
        }
        if s.sample_count() == 0 {
            return Err(rejections::no_samples(&self.samples_field));
        }
        if device.is_empty() {
            return Err(rejections::empty_device(&self.device_field));
        }
        let start = out.len();
        for i in 0..s.sample_count() {
            if let Err(rejection) = emit::sample(self, origin, payload, s, i, window, out) {
                out.truncate(start);
                return Err(rejection);
            }
        }
        Ok(s.sample_count())
    }

    /// NaN and infinities in float value columns, before the rules (whose
    /// ranges would report them as merely out of range).
    fn check_finite(&self, s: &parse::Scratch) -> Result<(), Rejection> {
        let finite = |v: Scalar| match v {
            Scalar::F64(x) => x.is_finite(),
            Scalar::F32(x) => x.is_finite(),
            _ => true,
        };
        for i in 0..s.sample_count() {
            let (slots, items) = s.sample(i, self.sample.defaults.len());
            for v in self.values.iter() {
                match v.target {
                    plan::Target::Slot(slot) => {
                        if slots.get(usize::from(slot)).is_some_and(|sl| !finite(sl.value)) {
                            return Err(rejections::non_finite(i, &v.field, ""));
                        }
                    }
                    plan::Target::List(list) => {
                        let mut mine = items.iter().filter(|it| it.list == list);
                        if let Some(j) = mine.position(|it| !finite(it.value)) {
                            return Err(rejections::non_finite(i, &v.field, &format!("[{j}]")));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
