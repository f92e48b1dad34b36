//! Per-device value models, chosen by sensor type name.
//!
//! Each built-in type has a physical model (see the submodules); every
//! device also carries a battery and a radio, so power and signal fields
//! look the same whichever message they appear in. Fields a model does not
//! know (an integrator's new type, or a field added to a built-in schema)
//! are filled by name where the name says what they are (`*_temp_c`,
//! `humidity_pct`, `battery_v`…) and otherwise by a bounded random walk.

mod air;
mod gate;
mod hydro;
mod power;

use std::collections::BTreeMap;

use prost_reflect::{Kind, Value};
use telegate_schema::sample;

use crate::clock::Local;
use crate::fields::{SampleField, Writer, is_numeric};
use crate::gate::GateNow;
use crate::params::RiverStation;
use crate::rng::{Draw, Rng, ou_step};
use crate::weather::SiteWeather;

pub(crate) use power::{Power, Radio};

/// Which model a sensor type gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ModelKind {
    River,
    Rain,
    Landslide,
    Lane,
    Weighbridge,
    Barrier,
    Air,
    Health,
    Generic,
}

impl ModelKind {
    pub(crate) fn of(sensor_type: &str) -> Self {
        match sensor_type {
            "river_level" => Self::River,
            "rain_gauge" => Self::Rain,
            "landslide" => Self::Landslide,
            "lane_counter" => Self::Lane,
            "weighbridge" => Self::Weighbridge,
            "gate_barrier" => Self::Barrier,
            "air_quality" => Self::Air,
            "device_health" => Self::Health,
            _ => Self::Generic,
        }
    }

    /// Devices of these types stand at the border gate.
    pub(crate) fn at_gate(self) -> bool {
        matches!(self, Self::Lane | Self::Weighbridge | Self::Barrier)
    }
}

/// What a device sees when it takes a reading.
#[derive(Debug)]
pub(crate) struct Env<'a> {
    pub(crate) model_ns: i64,
    pub(crate) local: Local,
    /// Model hours since this device's previous reading.
    pub(crate) dt_h: f64,
    pub(crate) weather: &'a SiteWeather,
    pub(crate) gate: GateNow,
    /// The site has a gate (truck queues matter for air quality).
    pub(crate) gate_site: bool,
    /// The device is out of coverage (it logs, and its radio shows it).
    pub(crate) silent: bool,
}

/// How a new device is set up.
#[derive(Debug)]
pub(crate) struct Setup {
    pub(crate) kind: ModelKind,
    /// Index of the device among devices of its type.
    pub(crate) nth: usize,
    /// Devices of the same type at the same site (lanes share the traffic).
    pub(crate) same_at_site: usize,
    pub(crate) river: RiverStation,
    pub(crate) poor_coverage: bool,
    pub(crate) model_ns: i64,
}

#[derive(Debug)]
enum State {
    River(hydro::River),
    Rain(hydro::Rain),
    Landslide(hydro::Landslide),
    Lane(gate::Lane),
    Weighbridge(gate::Weighbridge),
    Barrier(gate::Barrier),
    Air(air::Air),
    Health(power::Health),
    Generic,
}

/// Field names each model sets (or deliberately leaves unset).
fn known(kind: ModelKind) -> &'static [&'static str] {
    match kind {
        ModelKind::River => hydro::RIVER_FIELDS,
        ModelKind::Rain => hydro::RAIN_FIELDS,
        ModelKind::Landslide => hydro::LANDSLIDE_FIELDS,
        ModelKind::Lane => gate::LANE_FIELDS,
        ModelKind::Weighbridge => gate::WEIGHBRIDGE_FIELDS,
        ModelKind::Barrier => gate::BARRIER_FIELDS,
        ModelKind::Air => air::AIR_FIELDS,
        ModelKind::Health => power::HEALTH_FIELDS,
        ModelKind::Generic => &[],
    }
}

/// One device's physical state.
#[derive(Debug)]
pub(crate) struct DeviceModel {
    kind: ModelKind,
    pub(crate) power: Power,
    pub(crate) radio: Radio,
    state: State,
    lane: String,
    /// Random-walk position of fields no model knows, by field number.
    walks: BTreeMap<u32, f64>,
}

const LANES: [&str; 4] = ["in-1", "out-1", "in-2", "out-2"];

impl DeviceModel {
    pub(crate) fn new(setup: &Setup, rng: &mut Rng) -> Self {
        let lane = LANES[setup.nth % LANES.len()].to_owned();
        let state = match setup.kind {
            ModelKind::River => State::River(hydro::River::new(&setup.river, rng)),
            ModelKind::Rain => State::Rain(hydro::Rain::new(rng)),
            ModelKind::Landslide => State::Landslide(hydro::Landslide::new(rng)),
            ModelKind::Lane => State::Lane(gate::Lane::new(setup.same_at_site)),
            ModelKind::Weighbridge => State::Weighbridge(gate::Weighbridge::new(rng, setup.same_at_site)),
            ModelKind::Barrier => State::Barrier(gate::Barrier::new(rng, setup.same_at_site)),
            ModelKind::Air => State::Air(air::Air::new(rng)),
            ModelKind::Health => State::Health(power::Health::new(rng)),
            ModelKind::Generic => State::Generic,
        };
        Self {
            kind: setup.kind,
            power: Power::new(rng, setup.model_ns),
            radio: Radio::new(rng, setup.poor_coverage),
            state,
            lane,
            walks: BTreeMap::new(),
        }
    }

    /// Relative reporting interval in model seconds (FIELD.md cadences): the
    /// scheduler gives a device a share of the fleet's rate inversely
    /// proportional to it, so flood mode and bursts report more often.
    pub(crate) fn cadence_s(&self) -> f64 {
        match &self.state {
            State::River(r) => r.cadence_s(),
            State::Rain(r) => r.cadence_s(),
            State::Landslide(l) => l.cadence_s(),
            State::Lane(_) => 300.0,
            State::Weighbridge(w) => w.cadence_s(),
            State::Barrier(b) => b.cadence_s(),
            State::Air(_) => 600.0,
            State::Health(_) => 900.0,
            State::Generic => 600.0,
        }
    }

    /// Event-driven devices (a weighbridge weighs trucks) only have a
    /// reading when something happened; they pass their turn otherwise.
    pub(crate) fn event_driven(&self) -> bool {
        matches!(self.state, State::Weighbridge(_))
    }

    /// Whether an event-driven device has something to report at `model_ns`.
    pub(crate) fn ready(&mut self, gate: &GateNow, model_ns: i64, rng: &mut Rng) -> bool {
        match &mut self.state {
            State::Weighbridge(w) => w.ready(gate, model_ns, rng),
            _ => true,
        }
    }

    /// Advance the device to `env` and write one reading into `w`.
    pub(crate) fn read(&mut self, env: &Env<'_>, w: &mut Writer<'_>, rng: &mut Rng) {
        self.power.advance(env, rng);
        self.radio.advance(env, rng);
        match &mut self.state {
            State::River(m) => m.write(env, w, rng),
            State::Rain(m) => m.write(env, w, rng),
            State::Landslide(m) => m.write(env, w, rng),
            State::Lane(m) => m.write(env, w, rng, &self.lane),
            State::Weighbridge(m) => m.write(env, w, rng, &self.lane),
            State::Barrier(m) => m.write(env, w, rng, &self.lane),
            State::Air(m) => m.write(env, w, rng),
            State::Health(m) => m.write(env, w, rng, &self.power, &self.radio),
            State::Generic => {}
        }
        let known = known(self.kind);
        let plan = w.plan;
        for f in plan.fields.iter().filter(|f| f.modelled) {
            if known.contains(&f.desc.name()) || w.is_set(&f.desc) {
                continue;
            }
            self.fill(f, env, w, rng);
        }
    }

    /// A field no model sets: by what its name says, else a random walk.
    fn fill(&mut self, f: &SampleField, env: &Env<'_>, w: &mut Writer<'_>, rng: &mut Rng) {
        let name = f.desc.name();
        let kind = f.desc.kind();
        match &kind {
            Kind::Bool => {
                let b = if name == "charging" {
                    self.power.charging()
                } else {
                    rng.chance(0.01)
                };
                w.flag(name, b);
            }
            Kind::String if name == "lane" => w.text(name, &self.lane),
            k if is_numeric(k) => {
                let x = match self.semantic(name, env) {
                    Some(x) => x,
                    None => self.walk(f, env, rng),
                };
                if f.desc.is_list() {
                    let jitter = f.range.span(k, x) * 0.01;
                    w.nums(name, &[x, x + jitter * rng.normal()]);
                } else {
                    w.num(name, x);
                }
            }
            _ if f.desc.is_list() => {
                let v = sample::valid_value(&f.desc);
                w.set_raw(&f.desc, Value::List(vec![v]));
            }
            _ => w.set_raw(&f.desc, sample::valid_value(&f.desc)),
        }
    }

    fn semantic(&self, name: &str, env: &Env<'_>) -> Option<f64> {
        let l = &env.local;
        let weather = env.weather;
        Some(match name {
            n if n.ends_with("temp_c") && (n.contains("cpu") || n.contains("board") || n.contains("device")) => {
                self.power.cpu_temp_c(env)
            }
            n if n.ends_with("temp_c") && n.contains("water") => weather.water_temp_c(l),
            n if n.ends_with("temp_c") => weather.air_temp_c(l),
            n if n.contains("humidity") => weather.humidity_pct(l),
            "pressure_hpa" => weather.pressure_hpa(l),
            "battery_v" => self.power.battery_v(),
            "battery_pct" => self.power.soc_pct(),
            "solar_v" => self.power.solar_v(),
            "rsrp_dbm" => self.radio.rsrp,
            "rsrq_db" => self.radio.rsrq,
            "sinr_db" => self.radio.sinr,
            "uptime_s" => self.power.uptime_s(env.model_ns),
            "rain_mm_h" | "rain_rate_mm_h" => weather.rain_mm_h(),
            "soil_saturation_pct" => weather.soil_saturation() * 100.0,
            _ => return None,
        })
    }

    /// Bounded mean-reverting walk around the middle of the field's range;
    /// unbounded `*_total` counters only grow.
    fn walk(&mut self, f: &SampleField, env: &Env<'_>, rng: &mut Rng) -> f64 {
        let kind = f.desc.kind();
        let center = f.range.center(&kind);
        let span = f.range.span(&kind, center);
        let number = f.desc.number();
        let counter = f.desc.name().ends_with("_total") && f.range.bounded().1.is_none();
        let x = match self.walks.get(&number) {
            None => center + if counter { 0.0 } else { span * 0.2 * (rng.unit() - 0.5) },
            Some(&x) if counter => x + rng.poisson(env.dt_h * 30.0) as f64,
            Some(&x) => ou_step(x, center, span * 0.1, 12.0, env.dt_h.max(1e-6), rng),
        };
        let (lo, hi) = f.range.limits(&kind);
        let x = x.clamp(lo, hi);
        self.walks.insert(number, x);
        x
    }
}

/// Round to `step` (e.g. 0.01 for centimetres), dividing last so the
/// result is the nearest double to the decimal (1.41, not 1.4100000000000001).
pub(crate) fn round_to(x: f64, step: f64) -> f64 {
    let per_unit = (1.0 / step).round().max(1.0);
    (x * per_unit).round() / per_unit
}
