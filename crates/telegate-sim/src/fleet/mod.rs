//! The fleet: devices, sites, the pacing clock and the scheduler.
//!
//! Message `n` is due at `start_ns + n / rate`. Each message goes to the
//! online device whose turn it is: a weighted round-robin (stride
//! scheduling) where a device's share is inversely proportional to its
//! cadence, so a river in flood mode or a rain gauge in a burst reports more
//! often while the fleet's rate stays fixed. Devices out of coverage leave
//! the rotation, keep logging samples at their usual interval, and upload
//! them as one late batch when they return.

mod schedule;
mod setup;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use prost_reflect::DynamicMessage;

use crate::bad::{self, BadClass, BadInput, BadTargets};
use crate::clock::NS_PER_H;
use crate::config::FleetConfig;
use crate::fields::{TypePlan, Writer};
use crate::gate::GateTraffic;
use crate::models::{DeviceModel, Env};
use crate::params::FieldParams;
use crate::rng::Rng;
use crate::weather::SiteWeather;

/// Stream kinds (see [`stream`]).
const SITE_STREAM: u64 = 1;
const DEVICE_STREAM: u64 = 2;
/// Scheduler passes are in model milliseconds of cadence.
const STRIDE_PER_S: f64 = 1000.0;

/// One message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimMessage {
    /// Rendered from the configured topic pattern.
    pub topic: String,
    /// The protobuf batch (or, for some bad classes, deliberately not one).
    pub payload: Vec<u8>,
    /// When to send it (Unix ns): `start_ns + n / rate`. Also the time of the
    /// newest sample in a good message.
    pub at_ns: i64,
    /// Whether the gateway should accept it.
    pub kind: MessageKind,
    /// The device in the topic.
    pub device_id: String,
    /// The sensor type in the topic (for [`BadClass::UnknownType`], one the
    /// registry does not know).
    pub sensor_type: String,
}

/// Whether a message should be accepted, and if not, why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Accepted by the gateway; one point per sample (1, or more for a late
    /// batch after a coverage gap).
    Good { samples: usize },
    /// Rejected with [`BadClass::expected_reason`].
    Bad(BadClass),
}

#[derive(Debug)]
struct Site {
    name: String,
    weather: SiteWeather,
    gate: GateTraffic,
    gate_site: bool,
}

#[derive(Debug, Clone, Copy)]
enum Link {
    Online,
    /// Out of coverage until `until_ns`; logs a sample every `every_ns`.
    Silent {
        until_ns: i64,
        next_log_ns: i64,
        every_ns: i64,
    },
}

#[derive(Debug)]
struct Device {
    id: String,
    /// Another device id of the same type (for the spoofed class).
    other_id: String,
    site: usize,
    plan: usize,
    seq: u64,
    last_model_ns: Option<i64>,
    last_dt_h: f64,
    rng: Rng,
    model: DeviceModel,
    poor_coverage: bool,
    link: Link,
    buffer: VecDeque<DynamicMessage>,
    /// The last sample's time in units of the type's time field: the next
    /// sample is stamped at least one unit later.
    last_time_unit: Option<i64>,
}

/// A simulated fleet; [`Fleet::next_message`] yields its traffic.
pub struct Fleet {
    config: FleetConfig,
    params: FieldParams,
    plans: Vec<TypePlan>,
    targets: Vec<BadTargets>,
    skipped: Vec<(String, String)>,
    sites: Vec<Site>,
    devices: Vec<Device>,
    queue: BinaryHeap<Reverse<(u64, usize)>>,
    vtime: u64,
    silent: Vec<usize>,
    n: u64,
    step_ns: f64,
    bad_acc: f64,
    bad_next: usize,
    bad_classes: Vec<BadClass>,
    /// For each class, a device whose type can carry it.
    bad_fallback: [Option<usize>; 8],
    unknown_type: String,
    /// Scripted messages ([`Fleet::play`]), sent when their time comes.
    script: VecDeque<SimMessage>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("devices", &self.devices.len())
            .field("sensor_types", &self.sensor_types())
            .field("sites", &self.config.sites)
            .field("messages", &self.n)
            .field("silent", &self.silent.len())
            .finish_non_exhaustive()
    }
}

impl Fleet {
    /// The configuration the fleet was built with.
    pub fn config(&self) -> &FleetConfig {
        &self.config
    }

    /// The simulated sensor types, in registry order.
    pub fn sensor_types(&self) -> Vec<&str> {
        self.plans.iter().map(TypePlan::sensor_type).collect()
    }

    /// Types of the registry the simulator leaves out, with the reason
    /// (even a mid-range sample of them is rejected).
    pub fn skipped_types(&self) -> &[(String, String)] {
        &self.skipped
    }

    /// The bad classes this registry supports, in the order they cycle.
    pub fn bad_classes(&self) -> &[BadClass] {
        &self.bad_classes
    }

    /// `(device id, site, sensor type)` of every device.
    pub fn devices(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.devices.iter().map(|d| {
            (
                d.id.as_str(),
                self.sites[d.site].name.as_str(),
                self.plans[d.plan].sensor_type(),
            )
        })
    }

    /// Messages produced so far.
    pub fn produced(&self) -> u64 {
        self.n
    }

    fn at_ns(&self, n: u64) -> i64 {
        self.config
            .start_ns
            .saturating_add((n as f64 * self.step_ns).round() as i64)
    }

    fn model_ns(&self, ts_ns: i64) -> i64 {
        let since = ts_ns.saturating_sub(self.config.start_ns) as f64 * self.config.speed;
        self.config.start_ns.saturating_add(since as i64)
    }

    /// Also send `messages` (a scripted episode, see
    /// [`demo_episode`](crate::scenario::demo_episode)): each one takes the
    /// place of the fleet's message in the first slot at or after its
    /// `at_ns`.
    pub fn play(&mut self, messages: Vec<SimMessage>) {
        self.script.extend(messages);
        self.script.make_contiguous().sort_by_key(|m| m.at_ns);
    }

    /// The next message. Deterministic for a given registry and config.
    pub fn next_message(&mut self) -> SimMessage {
        let n = self.n;
        self.n += 1;
        let at = self.at_ns(n);
        if self.script.front().is_some_and(|m| m.at_ns <= at)
            && let Some(scripted) = self.script.pop_front()
        {
            return scripted;
        }
        self.log_and_wake(at);
        let idx = self.pick(at);
        let msg = match self.take_bad() {
            Some(class) => self.bad_message(idx, class, at),
            None => self.good_message(idx, at),
        };
        self.after_turn(idx, at);
        msg
    }

    /// One reading of device `idx` stamped `ts_ns` (or, when an integer
    /// time field in whole units would give it the previous sample's time,
    /// one unit after that), advancing its models.
    fn reading(&mut self, idx: usize, ts_ns: i64) -> DynamicMessage {
        let model_ns = self.model_ns(ts_ns);
        let unit_ns = self.plans[self.devices[idx].plan].time_unit().map_or(1, |(ns, ..)| ns);
        let dev = &mut self.devices[idx];
        let mut unit = ts_ns.div_euclid(unit_ns);
        if let Some(last) = dev.last_time_unit
            && unit <= last
        {
            unit = last.saturating_add(1);
        }
        dev.last_time_unit = Some(unit);
        let ts_ns = if unit_ns > 1 {
            unit.saturating_mul(unit_ns)
        } else {
            ts_ns
        };
        let site = &mut self.sites[dev.site];
        site.weather.advance_to(model_ns);
        let local = site.weather.local(model_ns);
        let dt_h = dev
            .last_model_ns
            .map_or(0.0, |p| ((model_ns - p) as f64 / NS_PER_H).max(0.0));
        dev.last_model_ns = Some(model_ns);
        dev.last_dt_h = dt_h;
        let env = Env {
            model_ns,
            local,
            dt_h,
            gate: site.gate.now(&local),
            weather: &site.weather,
            gate_site: site.gate_site,
            silent: matches!(dev.link, Link::Silent { .. }),
        };
        dev.seq += 1;
        let plan = &self.plans[dev.plan];
        let mut w = Writer::new(plan, plan.new_sample(ts_ns, dev.seq));
        dev.model.read(&env, &mut w, &mut dev.rng);
        w.msg
    }

    fn topic(&self, dev: &Device, sensor_type: &str) -> String {
        self.config
            .topic_pattern
            .render(&self.sites[dev.site].name, &dev.id, sensor_type)
    }

    fn good_message(&mut self, idx: usize, at: i64) -> SimMessage {
        let current = self.reading(idx, at);
        let dev = &mut self.devices[idx];
        let plan = &self.plans[dev.plan];
        let mut samples: Vec<DynamicMessage> = if dev.buffer.is_empty() {
            vec![current]
        } else {
            dev.buffer.push_back(current);
            let take = plan.max_batch.min(dev.buffer.len());
            dev.buffer.drain(..take).collect()
        };
        let mut payload = plan.encode(&dev.id, &samples);
        while payload.len() > self.config.max_payload_bytes && samples.len() > 1 {
            let keep = samples.len() / 2;
            for s in samples.drain(keep..).rev() {
                dev.buffer.push_front(s);
            }
            payload = plan.encode(&dev.id, &samples);
        }
        let dev = &self.devices[idx];
        let sensor_type = self.plans[dev.plan].sensor_type().to_owned();
        SimMessage {
            topic: self.topic(dev, &sensor_type),
            payload,
            at_ns: at,
            kind: MessageKind::Good { samples: samples.len() },
            device_id: dev.id.clone(),
            sensor_type,
        }
    }

    fn bad_message(&mut self, idx: usize, class: BadClass, at: i64) -> SimMessage {
        let src = if self.targets[self.devices[idx].plan].supports(class) {
            idx
        } else {
            self.bad_fallback[class.index()].unwrap_or(idx)
        };
        let sample = self.reading(src, at);
        let dev = &self.devices[src];
        let input = BadInput {
            plan: &self.plans[dev.plan],
            targets: &self.targets[dev.plan],
            device_id: &dev.id,
            other_id: &dev.other_id,
            unknown_type: &self.unknown_type,
            at_ns: at,
            max_payload_bytes: self.config.max_payload_bytes,
        };
        let (sensor_type, payload) = bad::build(class, &input, sample);
        SimMessage {
            topic: self.topic(dev, &sensor_type),
            payload,
            at_ns: at,
            kind: MessageKind::Bad(class),
            device_id: dev.id.clone(),
            sensor_type,
        }
    }

    /// Every `1/bad_ratio`-th message is bad, cycling through the classes.
    fn take_bad(&mut self) -> Option<BadClass> {
        if self.bad_classes.is_empty() || self.config.bad_ratio <= 0.0 {
            return None;
        }
        self.bad_acc += self.config.bad_ratio;
        if self.bad_acc < 1.0 - 1e-9 {
            return None;
        }
        self.bad_acc -= 1.0;
        let class = self.bad_classes[self.bad_next % self.bad_classes.len()];
        self.bad_next += 1;
        Some(class)
    }
}
