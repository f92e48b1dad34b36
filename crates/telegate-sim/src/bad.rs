//! Deliberately bad messages, one class per rejection reason the gateway
//! can give a device's message, so a demo exercises every dead-letter path.
//!
//! Which classes a sensor type can carry is found by building each class
//! for it and running the result through the registry's own decoder when
//! the fleet is created: the simulator never labels a message with a reason
//! the gateway would not give.

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, Value};
use telegate_model::{RejectReason, TopicFields};
use telegate_schema::{Limits, Registry};

use crate::fields::{TypePlan, is_float, is_numeric};

/// A kind of deliberately bad message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BadClass {
    /// Not valid protobuf: the last sample is cut off mid-upload.
    Malformed,
    /// Published under a sensor type the registry does not know.
    UnknownType,
    /// A value outside its `buf.validate` range (a glitching sensor).
    OutOfRange,
    /// A float value that is NaN (a failed ADC read).
    NotANumber,
    /// A sample time far ahead of the gateway clock (clock set a year ahead).
    FutureTimestamp,
    /// A sample time decades old (real-time clock reset after a power loss).
    AncientTimestamp,
    /// A payload larger than the gateway's limit (a firmware debug dump).
    Oversized,
    /// The payload names another device than the topic (a cloned config).
    SpoofedDeviceId,
}

impl BadClass {
    /// Every class, in the order the fleet cycles through them.
    pub const ALL: [BadClass; 8] = [
        BadClass::Malformed,
        BadClass::UnknownType,
        BadClass::OutOfRange,
        BadClass::NotANumber,
        BadClass::FutureTimestamp,
        BadClass::AncientTimestamp,
        BadClass::Oversized,
        BadClass::SpoofedDeviceId,
    ];

    /// Stable snake_case label (report keys, logs).
    pub fn label(self) -> &'static str {
        match self {
            BadClass::Malformed => "malformed",
            BadClass::UnknownType => "unknown_type",
            BadClass::OutOfRange => "out_of_range",
            BadClass::NotANumber => "not_a_number",
            BadClass::FutureTimestamp => "future_timestamp",
            BadClass::AncientTimestamp => "ancient_timestamp",
            BadClass::Oversized => "oversized",
            BadClass::SpoofedDeviceId => "spoofed_device_id",
        }
    }

    /// The reason the gateway gives when it rejects a message of this class.
    pub fn expected_reason(self) -> RejectReason {
        match self {
            BadClass::Malformed => RejectReason::MalformedProtobuf,
            BadClass::UnknownType => RejectReason::UnknownSensorType,
            BadClass::OutOfRange => RejectReason::ConstraintViolated,
            BadClass::NotANumber => RejectReason::NonFiniteValue,
            BadClass::FutureTimestamp => RejectReason::TimestampInFuture,
            BadClass::AncientTimestamp => RejectReason::TimestampTooOld,
            BadClass::Oversized => RejectReason::PayloadTooLarge,
            BadClass::SpoofedDeviceId => RejectReason::DeviceIdMismatch,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for BadClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

const DAY_NS: i64 = 86_400 * 1_000_000_000;
/// 2000-01-01T00:00:00Z, where many real-time clocks restart.
const RTC_RESET_NS: i64 = 946_684_800 * 1_000_000_000;

/// How one sensor type carries each class (found by probing).
#[derive(Debug, Clone, Default)]
pub(crate) struct BadTargets {
    supported: [bool; 8],
    out_of_range: Option<(FieldDescriptor, Value)>,
    nan: Option<FieldDescriptor>,
}

impl BadTargets {
    pub(crate) fn supports(&self, class: BadClass) -> bool {
        self.supported[class.index()]
    }
}

/// Everything needed to build one bad message.
#[derive(Debug)]
pub(crate) struct BadInput<'a> {
    pub(crate) plan: &'a TypePlan,
    pub(crate) targets: &'a BadTargets,
    pub(crate) device_id: &'a str,
    /// Another plausible device id, for the spoofed class.
    pub(crate) other_id: &'a str,
    pub(crate) unknown_type: &'a str,
    pub(crate) at_ns: i64,
    pub(crate) max_payload_bytes: usize,
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// `(sensor type for the topic, payload)` of `class` around a real `sample`.
pub(crate) fn build(class: BadClass, input: &BadInput<'_>, mut sample: DynamicMessage) -> (String, Vec<u8>) {
    let plan = input.plan;
    let own_type = plan.sensor_type().to_owned();
    let at = input.at_ns;
    match class {
        BadClass::Malformed => {
            let mut p = plan.encode(input.device_id, &[sample]);
            // Another sample entry whose length runs past the end of the payload.
            varint(u64::from(plan.samples_field_number()) << 3 | 2, &mut p);
            varint(1951, &mut p);
            p.extend_from_slice(b"\x0a\x0c\x08");
            (own_type, p)
        }
        BadClass::UnknownType => (input.unknown_type.to_owned(), plan.encode(input.device_id, &[sample])),
        BadClass::OutOfRange => {
            if let Some((f, v)) = &input.targets.out_of_range {
                let _ = sample.try_set_field(f, v.clone());
            }
            (own_type, plan.encode(input.device_id, &[sample]))
        }
        BadClass::NotANumber => {
            if let Some(f) = &input.targets.nan {
                let nan = if f.kind() == Kind::Float {
                    Value::F32(f32::NAN)
                } else {
                    Value::F64(f64::NAN)
                };
                let _ = sample.try_set_field(f, nan);
            }
            (own_type, plan.encode(input.device_id, &[sample]))
        }
        BadClass::FutureTimestamp => {
            plan.set_time(&mut sample, at.saturating_add(400 * DAY_NS));
            (own_type, plan.encode(input.device_id, &[sample]))
        }
        BadClass::AncientTimestamp => {
            plan.set_time(&mut sample, RTC_RESET_NS.min(at.saturating_sub(3650 * DAY_NS)));
            (own_type, plan.encode(input.device_id, &[sample]))
        }
        BadClass::Oversized => {
            let mut p = plan.encode(input.device_id, &[sample]);
            let pad = (input.max_payload_bytes + 1024).saturating_sub(p.len());
            varint(u64::from(plan.unused_batch_field_number()) << 3 | 2, &mut p);
            varint(pad as u64, &mut p);
            p.extend(b"telegate-sim debug dump;".iter().copied().cycle().take(pad));
            (own_type, p)
        }
        BadClass::SpoofedDeviceId => (own_type, plan.encode(input.other_id, &[sample])),
    }
}

/// A value just outside `field`'s range, if one is representable.
fn outside(field: &FieldDescriptor, plan: &TypePlan) -> Option<Value> {
    let sf = plan.field(field.name())?;
    let kind = field.kind();
    let (lo, hi) = sf.range.bounded();
    let width = match (lo, hi) {
        (Some(lo), Some(hi)) => (hi - lo).abs().max(1.0),
        _ => 1.0,
    };
    let candidates = [hi.map(|h| h + width * 0.5 + 1.0), lo.map(|l| l - width * 0.5 - 1.0)];
    candidates.into_iter().flatten().find_map(|x| {
        let v = telegate_schema::sample::number(&kind, x);
        let back = match &v {
            Value::F64(y) => *y,
            Value::F32(y) => f64::from(*y),
            Value::I32(y) => f64::from(*y),
            Value::I64(y) => *y as f64,
            Value::U32(y) => f64::from(*y),
            Value::U64(y) => *y as f64,
            _ => return None,
        };
        let out = hi.is_some_and(|h| back > h) || lo.is_some_and(|l| back < l);
        out.then_some(v)
    })
}

/// Context of a probe: the registry and a made-up device.
#[derive(Debug)]
pub(crate) struct Probe<'a> {
    pub(crate) registry: &'a Registry,
    pub(crate) site: &'a str,
    pub(crate) unknown_type: &'a str,
    pub(crate) at_ns: i64,
    pub(crate) max_payload_bytes: usize,
}

impl Probe<'_> {
    fn decode(&self, device_id: &str, sensor_type: &str, payload: &[u8]) -> Result<(), RejectReason> {
        let origin = TopicFields {
            site: self.site,
            device_id,
            sensor_type,
        };
        let limits = Limits {
            max_payload_bytes: self.max_payload_bytes,
            ..Limits::default()
        };
        let mut out = Vec::new();
        self.registry
            .decode(&origin, payload, self.at_ns, &limits, &mut out)
            .map_err(|r| r.reason)
    }

    /// Which classes `plan` can carry, tried with the device ids the fleet
    /// will use (`ids`: one device and another of the same type); an error
    /// says why even a valid sample of it is refused (the type is then left
    /// out).
    pub(crate) fn run(
        &self,
        plan: &TypePlan,
        baseline: &DynamicMessage,
        ids: (&str, &str),
    ) -> Result<BadTargets, String> {
        let (id, _) = ids;
        let decode = |sensor_type: &str, payload: &[u8]| self.decode(id, sensor_type, payload);
        decode(plan.sensor_type(), &plan.encode(id, std::slice::from_ref(baseline)))
            .map_err(|r| format!("a valid-looking sample is rejected as {r}"))?;
        let mut targets = BadTargets::default();
        let candidates = plan.fields.iter().filter(|f| f.modelled && !f.desc.is_list());
        for f in candidates.clone().filter(|f| is_numeric(&f.desc.kind())) {
            let Some(v) = outside(&f.desc, plan) else { continue };
            let mut s = baseline.clone();
            let _ = s.try_set_field(&f.desc, v.clone());
            if decode(plan.sensor_type(), &plan.encode(id, &[s])) == Err(RejectReason::ConstraintViolated) {
                targets.out_of_range = Some((f.desc.clone(), v));
                break;
            }
        }
        for f in candidates.filter(|f| is_float(&f.desc.kind())) {
            let probe = BadTargets {
                nan: Some(f.desc.clone()),
                ..BadTargets::default()
            };
            let (_, p) = build(BadClass::NotANumber, &self.input(plan, &probe, ids), baseline.clone());
            if decode(plan.sensor_type(), &p) == Err(RejectReason::NonFiniteValue) {
                targets.nan = Some(f.desc.clone());
                break;
            }
        }
        for class in BadClass::ALL {
            let (sensor_type, payload) = build(class, &self.input(plan, &targets, ids), baseline.clone());
            targets.supported[class.index()] = decode(&sensor_type, &payload) == Err(class.expected_reason());
        }
        Ok(targets)
    }

    fn input<'a>(&'a self, plan: &'a TypePlan, targets: &'a BadTargets, ids: (&'a str, &'a str)) -> BadInput<'a> {
        BadInput {
            plan,
            targets,
            device_id: ids.0,
            other_id: ids.1,
            unknown_type: self.unknown_type,
            at_ns: self.at_ns,
            max_payload_bytes: self.max_payload_bytes,
        }
    }
}
