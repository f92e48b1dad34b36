//! Readings to the protobuf batches a device sends, through the same
//! reflection-built plans as the fleet, so they follow the `.proto` files.

use std::collections::HashMap;

use telegate_model::TopicPattern;
use telegate_schema::Registry;

use super::reading::{Reading, Val};
use crate::config::SimError;
use crate::fields::{TypePlan, Writer};
use crate::fleet::{MessageKind, SimMessage};

/// Encodes [`Reading`]s of the registry's sensor types.
#[derive(Debug)]
pub struct Encoder {
    plans: HashMap<String, TypePlan>,
    pattern: TopicPattern,
    seq: HashMap<String, u64>,
}

impl Encoder {
    /// Plans for every sensor type of `registry` that can be simulated.
    pub fn new(registry: &Registry, pattern: TopicPattern) -> Result<Encoder, SimError> {
        let mut plans = HashMap::new();
        for schema in registry.schemas() {
            if let Ok(plan) = TypePlan::new(schema) {
                plans.insert(schema.sensor_type.to_string(), plan);
            }
        }
        if plans.is_empty() {
            return Err(SimError::NoSensorTypes("the registry has no usable type".into()));
        }
        Ok(Encoder {
            plans,
            pattern,
            seq: HashMap::new(),
        })
    }

    /// One batch of `readings`, all of one device and sensor type (the
    /// first's), stamped to be sent at `at_ns`. Fields a reading leaves out
    /// hold a valid mid-range value. `None` when the type is not in the
    /// registry or `readings` is empty.
    pub fn encode(&mut self, readings: &[Reading], at_ns: i64) -> Option<SimMessage> {
        let first = readings.first()?;
        let plan = self.plans.get(first.sensor_type)?;
        let seq = self.seq.entry(first.device_id.clone()).or_insert(1);
        let mut samples = Vec::with_capacity(readings.len());
        for r in readings {
            *seq += 1;
            let mut w = Writer::new(plan, plan.baseline(r.time_ns, *seq));
            for (name, v) in &r.values {
                match v {
                    Val::Num(x) => w.num(name, *x),
                    Val::Choice(c) => w.choice(name, c),
                    Val::Flag(b) => w.flag(name, *b),
                    Val::Text(t) => w.text(name, t),
                }
            }
            samples.push(w.msg);
        }
        Some(SimMessage {
            topic: self.pattern.render(&first.site, &first.device_id, first.sensor_type),
            payload: plan.encode(&first.device_id, &samples),
            at_ns,
            kind: MessageKind::Good { samples: samples.len() },
            device_id: first.device_id.clone(),
            sensor_type: first.sensor_type.to_owned(),
        })
    }
}
