//! Border-gate traffic: arrivals by hour, following the gate's opening hours.
//!
//! Ma Lù Thàng sees 20-80 trucks a day, bunched at opening: trucks queue
//! from early morning, the lanes clear them while the gate is open, and the
//! lanes idle at night. Lane counters, weighbridges, barriers and the air
//! station at the gate all read the same traffic.

use crate::clock::Local;
use crate::params::GateParams;
use crate::rng::{Draw, stream};

/// Stream kind for the per-day traffic totals.
const DAY_STREAM: u64 = 7;
/// Trucks start arriving (and queueing) from this local hour.
const FIRST_ARRIVALS_HOUR: f64 = 5.0;

/// Traffic at a gate at one moment, in vehicles per hour.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GateNow {
    pub(crate) open: bool,
    /// Heavy vehicles arriving (trucks and container trucks).
    pub(crate) heavy_h: f64,
    pub(crate) container_share: f64,
    pub(crate) cars_h: f64,
    pub(crate) motorbikes_h: f64,
    pub(crate) buses_h: f64,
    /// Trucks a lane clears per hour while open.
    pub(crate) cleared_per_lane_h: f64,
    /// 0..1: how busy (and how many engines idle) right now.
    pub(crate) activity: f64,
}

#[derive(Debug)]
pub(crate) struct GateTraffic {
    params: GateParams,
    seed: u64,
    site: u64,
    heavy_norm: f64,
    light_norm: f64,
    day: Option<(i64, [f64; 4])>,
}

impl GateTraffic {
    pub(crate) fn new(params: &GateParams, seed: u64, site: usize) -> Self {
        let mut g = Self {
            params: params.clone(),
            seed,
            site: site as u64,
            heavy_norm: 1.0,
            light_norm: 1.0,
            day: None,
        };
        // Normalise the hourly profiles so a day integrates to the daily totals.
        let (mut heavy, mut light) = (0.0, 0.0);
        for minute in 0..1440 {
            let l = Local {
                hour: f64::from(minute) / 60.0,
                day_of_year: 0.0,
                month: 1,
                day: 0,
            };
            heavy += g.heavy_profile(&l) / 60.0;
            light += g.light_profile(&l) / 60.0;
        }
        g.heavy_norm = heavy.max(1e-9);
        g.light_norm = light.max(1e-9);
        g
    }

    pub(crate) fn is_open(&self, l: &Local) -> bool {
        (self.params.open_hour..self.params.close_hour).contains(&l.hour)
    }

    /// Trucks arrive from early morning (and wait), most just after opening,
    /// a second wave after lunch, none in the last hour or at night.
    fn heavy_profile(&self, l: &Local) -> f64 {
        if !(FIRST_ARRIVALS_HOUR..self.params.close_hour - 1.0).contains(&l.hour) {
            return 0.0;
        }
        0.3 + 2.5 * l.bump(self.params.open_hour + 0.5, 1.0) + 0.8 * l.bump(13.5, 1.5)
    }

    /// Cars, buses and motorbikes only cross while the gate is open.
    fn light_profile(&self, l: &Local) -> f64 {
        if !self.is_open(l) {
            return 0.0;
        }
        1.0 + 1.5 * l.bump(self.params.open_hour + 1.0, 1.2) + 0.7 * l.bump(16.0, 1.5)
    }

    /// The day's totals (trucks, cars, motorbikes, buses), drawn once per day.
    fn totals(&mut self, day: i64) -> [f64; 4] {
        if let Some((d, t)) = self.day
            && d == day
        {
            return t;
        }
        let mut rng = stream(self.seed, DAY_STREAM, (self.site << 40) ^ day as u64);
        let p = &self.params;
        let t = [
            rng.uniform(p.trucks_per_day.0, p.trucks_per_day.1),
            rng.uniform(p.cars_per_day.0, p.cars_per_day.1),
            rng.uniform(p.motorbikes_per_day.0, p.motorbikes_per_day.1),
            rng.uniform(p.buses_per_day.0, p.buses_per_day.1),
        ];
        self.day = Some((day, t));
        t
    }

    pub(crate) fn now(&mut self, l: &Local) -> GateNow {
        let [trucks, cars, motorbikes, buses] = self.totals(l.day);
        let heavy = self.heavy_profile(l) / self.heavy_norm;
        let light = self.light_profile(l) / self.light_norm;
        let open = self.is_open(l);
        let heavy_h = trucks * heavy;
        let cars_h = cars * light;
        let motorbikes_h = motorbikes * light;
        let buses_h = buses * light;
        let waiting = if open { 0.0 } else { heavy_h * 0.5 };
        GateNow {
            open,
            heavy_h,
            container_share: self.params.container_share,
            cars_h,
            motorbikes_h,
            buses_h,
            cleared_per_lane_h: self.params.trucks_cleared_per_lane_hour,
            activity: ((heavy_h + waiting + 0.3 * cars_h + 0.1 * motorbikes_h) / 15.0).clamp(0.0, 1.0),
        }
    }
}
