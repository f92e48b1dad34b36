//! Lane counters, weighbridges and barriers at the border gate, all driven
//! by the gate's traffic ([`GateNow`](crate::gate::GateNow)).

use super::{Env, round_to};
use crate::clock::NS_PER_H;
use crate::fields::Writer;
use crate::gate::GateNow;
use crate::rng::{Draw, Rng};

pub(super) const LANE_FIELDS: &[&str] = &[
    "lane",
    "interval_s",
    "cars",
    "trucks",
    "buses",
    "motorbikes",
    "containers",
    "queue_length_m",
    "queue_vehicles",
    "occupancy_pct",
];
pub(super) const WEIGHBRIDGE_FIELDS: &[&str] = &[
    "lane",
    "axle_count",
    "axle_loads_t",
    "gross_t",
    "axle_config",
    "speed_kmh",
    "load_pct",
];
pub(super) const BARRIER_FIELDS: &[&str] = &[
    "lane",
    "state",
    "vehicle_present",
    "tamper",
    "door_open",
    "cycles_total",
];

/// Metres of queue per waiting truck, per waiting car.
const TRUCK_QUEUE_M: f64 = 17.0;

/// One lane: trucks queue from early morning and are cleared at the lane's
/// rate while the gate is open; light vehicles pass straight through. Busy
/// after opening, zero when closed.
#[derive(Debug)]
pub(super) struct Lane {
    share: f64,
    queue: f64,
}

impl Lane {
    pub(super) fn new(lanes_at_site: usize) -> Self {
        Self {
            share: 1.0 / lanes_at_site.max(1) as f64,
            queue: 0.0,
        }
    }

    pub(super) fn write(&mut self, env: &Env<'_>, w: &mut Writer<'_>, rng: &mut Rng, lane: &str) {
        let g = &env.gate;
        let dt_h = if env.dt_h > 0.0 { env.dt_h } else { 300.0 / 3600.0 };
        let arrived = rng.poisson(g.heavy_h * self.share * dt_h) as f64;
        self.queue += arrived;
        let (mut heavy, mut cars, mut motorbikes, mut buses) = (0.0, 0.0, 0.0, 0.0);
        if g.open {
            heavy = (rng.poisson(g.cleared_per_lane_h * dt_h) as f64).min(self.queue);
            self.queue -= heavy;
            cars = rng.poisson(g.cars_h * self.share * dt_h) as f64;
            motorbikes = rng.poisson(g.motorbikes_h * self.share * dt_h) as f64;
            buses = rng.poisson(g.buses_h * self.share * dt_h) as f64;
        }
        let containers = (0..heavy as u64).filter(|_| rng.chance(g.container_share)).count() as f64;
        let interval = (dt_h * 3600.0).round().max(1.0);
        let busy_s = heavy * 25.0 + cars * 6.0 + motorbikes * 2.0 + buses * 12.0;
        let occupancy = busy_s / interval * 100.0 + if self.queue >= 1.0 { 10.0 } else { 0.0 };
        let waiting_cars = if g.open && cars > 0.0 {
            rng.poisson(0.5) as f64
        } else {
            0.0
        };
        let queue_vehicles = self.queue.floor() + waiting_cars;
        w.text("lane", lane);
        w.num("interval_s", interval);
        w.num("cars", cars);
        w.num("trucks", heavy - containers);
        w.num("containers", containers);
        w.num("buses", buses);
        w.num("motorbikes", motorbikes);
        w.num("queue_vehicles", queue_vehicles);
        w.num(
            "queue_length_m",
            round_to(self.queue.floor() * TRUCK_QUEUE_M + waiting_cars * 6.0, 0.1),
        );
        w.num("occupancy_pct", round_to(occupancy.min(100.0), 0.1));
    }
}

/// Axle configurations: (enum short name, axles, legal gross in t, share of trucks).
/// Legal gross (Circular 07/2010 \[V\]): rigid 2/3/4/5+ axles 16/24/30/34 t,
/// tractor combinations 3/4/5+ axles 26/34/40 t.
const CONFIGS: [(&str, u32, f64, f64); 7] = [
    ("rigid_2_axle", 2, 16.0, 0.25),
    ("rigid_3_axle", 3, 24.0, 0.25),
    ("rigid_4_axle", 4, 30.0, 0.15),
    ("rigid_5_plus", 5, 34.0, 0.05),
    ("tractor_3_axle", 3, 26.0, 0.05),
    ("tractor_4_axle", 4, 34.0, 0.10),
    ("tractor_5_plus", 5, 40.0, 0.15),
];

/// A weighbridge: one weighing per truck, so it only reports when a truck
/// has arrived and the gate is open (it passes its turn otherwise). Loads
/// are mostly legal (empty return trips, loaded trucks at 70-100 % of the
/// limit) with occasional overloads of up to 130 % (warning above 100 %,
/// critical above 110 %).
#[derive(Debug)]
pub(super) struct Weighbridge {
    share: f64,
    in_motion: bool,
    open: bool,
    /// Trucks arrived and not yet weighed.
    waiting: f64,
    last_check_ns: Option<i64>,
}

impl Weighbridge {
    pub(super) fn new(rng: &mut Rng, bridges_at_site: usize) -> Self {
        Self {
            share: 1.0 / bridges_at_site.max(1) as f64,
            in_motion: rng.chance(0.5),
            open: true,
            waiting: 0.0,
            last_check_ns: None,
        }
    }

    /// Scheduler weight while trucks cross; rarely asked when closed.
    pub(super) fn cadence_s(&self) -> f64 {
        if self.open { 600.0 } else { 4.0 * 3600.0 }
    }

    /// Whether a truck is waiting to be weighed at `model_ns`.
    pub(super) fn ready(&mut self, gate: &GateNow, model_ns: i64, rng: &mut Rng) -> bool {
        let dt_h = self
            .last_check_ns
            .map_or(0.0, |t| ((model_ns - t) as f64 / NS_PER_H).max(0.0));
        self.last_check_ns = Some(model_ns);
        self.open = gate.open;
        self.waiting += rng.poisson(gate.heavy_h * self.share * dt_h) as f64;
        gate.open && self.waiting >= 1.0
    }

    pub(super) fn write(&mut self, env: &Env<'_>, w: &mut Writer<'_>, rng: &mut Rng, lane: &str) {
        self.open = env.gate.open;
        self.waiting = (self.waiting - 1.0).max(0.0);
        let weights: Vec<f64> = CONFIGS.iter().map(|c| c.3).collect();
        let (config, mut axles, legal, _) = CONFIGS[rng.weighted(&weights)];
        if config == "tractor_5_plus" && rng.chance(0.3) {
            axles = 6;
        }
        let load = match rng.unit() {
            u if u < 0.3 => rng.uniform(0.35, 0.45),
            u if u < 0.9 => rng.uniform(0.7, 1.0),
            _ => rng.uniform(1.0, 1.3),
        };
        let gross = legal * load;
        // The steer axle carries less than the others.
        let shares: Vec<f64> = (0..axles).map(|i| if i == 0 { 0.6 } else { 1.0 }).collect();
        let total: f64 = shares.iter().sum();
        let loads: Vec<f64> = shares
            .iter()
            .map(|s| round_to(gross * s / total * rng.uniform(0.97, 1.03), 0.01))
            .collect();
        w.text("lane", lane);
        w.num("axle_count", f64::from(axles));
        w.nums("axle_loads_t", &loads);
        w.num("gross_t", round_to(loads.iter().sum(), 0.01));
        w.choice("axle_config", config);
        let speed = if self.in_motion { rng.uniform(3.0, 8.0) } else { 0.0 };
        w.num("speed_kmh", round_to(speed, 0.1));
        w.num("load_pct", round_to(load * 100.0, 0.1));
    }
}

/// A barrier: closed outside gate hours; while open it cycles with the
/// traffic. Now and then it sticks open with no vehicle (the > 5 min rule),
/// faults, has its cabinet door open for maintenance, or trips the tamper
/// switch.
#[derive(Debug)]
pub(super) struct Barrier {
    share: f64,
    cycles_total: u64,
    was_open: bool,
    stuck_left: u32,
    fault_left: u32,
    door_left: u32,
    open_gate: bool,
}

impl Barrier {
    pub(super) fn new(rng: &mut Rng, lanes_at_site: usize) -> Self {
        Self {
            share: 1.0 / lanes_at_site.max(1) as f64,
            cycles_total: rng.uniform(10_000.0, 200_000.0) as u64,
            was_open: false,
            stuck_left: 0,
            fault_left: 0,
            door_left: 0,
            open_gate: true,
        }
    }

    /// Every 5 min during gate hours, every 30 min when closed.
    pub(super) fn cadence_s(&self) -> f64 {
        if self.open_gate { 300.0 } else { 1800.0 }
    }

    pub(super) fn write(&mut self, env: &Env<'_>, w: &mut Writer<'_>, rng: &mut Rng, lane: &str) {
        let g = &env.gate;
        self.open_gate = g.open;
        let vehicles_h = (g.heavy_h + g.cars_h + g.buses_h) * self.share;
        let dt_h = env.dt_h.max(0.0);
        if g.open {
            self.cycles_total += rng.poisson(vehicles_h * dt_h);
        }
        for left in [&mut self.stuck_left, &mut self.fault_left, &mut self.door_left] {
            *left = left.saturating_sub(1);
        }
        if g.open && rng.chance(0.003) {
            self.stuck_left = rng.uniform(3.0, 7.0) as u32;
        }
        if rng.chance(0.0005) {
            self.fault_left = rng.uniform(2.0, 6.0) as u32;
        }
        if env.local.daylight() > 0.0 && rng.chance(0.001) {
            self.door_left = rng.uniform(2.0, 5.0) as u32;
        }
        // Share of time a vehicle is at the barrier (about 40 s each).
        let present = g.open && rng.chance((vehicles_h * 40.0 / 3600.0).min(0.9));
        let state = if self.fault_left > 0 {
            "fault"
        } else if self.stuck_left > 0 {
            "open"
        } else if present {
            if rng.chance(0.3) { "opening" } else { "open" }
        } else if self.was_open {
            "closing"
        } else {
            "closed"
        };
        self.was_open = state == "open" || state == "opening";
        w.text("lane", lane);
        w.choice("state", state);
        w.flag("vehicle_present", present && self.stuck_left == 0);
        w.flag("tamper", rng.chance(0.0003));
        w.flag("door_open", self.door_left > 0);
        w.num("cycles_total", self.cycles_total as f64);
    }
}
