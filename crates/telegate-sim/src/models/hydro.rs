//! Rain gauges, river gauges and landslide stations: all driven by the
//! site's rain, so a storm shows in the gauge, then in the river a few
//! hours later, then in the slope's soil water and tilt.

use super::{Env, round_to};
use crate::fields::Writer;
use crate::params::RiverStation;
use crate::rng::{Draw, Rng};

pub(super) const RAIN_FIELDS: &[&str] = &["rain_mm", "interval_s", "bucket_mm", "tips_total", "air_temp_c"];
pub(super) const RIVER_FIELDS: &[&str] = &["stage_m", "water_temp_c", "mode"];
pub(super) const LANDSLIDE_FIELDS: &[&str] = &[
    "tilt_x_deg",
    "tilt_y_deg",
    "displacement_mm",
    "soil_moisture_pct",
    "soil_saturation_pct",
    "pore_pressure_kpa",
];

/// Interval of a reading in seconds: the model time since the last one
/// (the first reading assumes the normal 10-minute cadence).
fn interval_s(env: &Env<'_>) -> f64 {
    if env.dt_h > 0.0 {
        (env.dt_h * 3600.0).round().max(1.0)
    } else {
        600.0
    }
}

/// A tipping-bucket gauge: whole tips of 0.2 or 0.5 mm, a cumulative tip
/// counter, and faster reports while it rains (10 min, 5 min, 2 min in bursts).
#[derive(Debug)]
pub(super) struct Rain {
    bucket_mm: f64,
    catch: f64,
    residual_mm: f64,
    tips_total: u64,
    last_total_mm: Option<f64>,
    has_temp: bool,
    rate_mm_h: f64,
}

impl Rain {
    pub(super) fn new(rng: &mut Rng) -> Self {
        Self {
            bucket_mm: if rng.chance(0.5) { 0.2 } else { 0.5 },
            catch: rng.uniform(0.95, 1.05),
            residual_mm: 0.0,
            tips_total: rng.uniform(1_000.0, 50_000.0) as u64,
            last_total_mm: None,
            has_temp: rng.chance(0.7),
            rate_mm_h: 0.0,
        }
    }

    pub(super) fn cadence_s(&self) -> f64 {
        match self.rate_mm_h {
            r if r >= 20.0 => 120.0,
            r if r > 0.0 => 300.0,
            _ => 600.0,
        }
    }

    pub(super) fn write(&mut self, env: &Env<'_>, w: &mut Writer<'_>, _rng: &mut Rng) {
        let total = env.weather.rain_total_mm();
        let fallen = (total - self.last_total_mm.unwrap_or(total)).max(0.0);
        self.last_total_mm = Some(total);
        self.rate_mm_h = env.weather.rain_mm_h();
        self.residual_mm += fallen * self.catch;
        let tips = (self.residual_mm / self.bucket_mm + 1e-9).floor().max(0.0);
        self.residual_mm -= tips * self.bucket_mm;
        self.tips_total += tips as u64;
        w.num("rain_mm", round_to(tips * self.bucket_mm, 0.1));
        w.num("interval_s", interval_s(env));
        w.num("bucket_mm", self.bucket_mm);
        w.num("tips_total", self.tips_total as f64);
        if self.has_temp {
            w.num("air_temp_c", round_to(env.weather.air_temp_c(&env.local), 0.1));
        }
    }
}

/// A river gauge: stage above the station datum from the site's runoff
/// (a two-store cascade, so it rises hours after the rain and recedes
/// slowly, plus seasonal baseflow), flood mode above the station's watch
/// level (reports every 5 min instead of 10).
#[derive(Debug)]
pub(super) struct River {
    base_m: f64,
    flood_mode_m: f64,
    flood: bool,
    has_temp: bool,
}

impl River {
    pub(super) fn new(station: &RiverStation, rng: &mut Rng) -> Self {
        let offset = rng.uniform(-0.2, 0.2);
        Self {
            base_m: station.base_stage_m + offset,
            flood_mode_m: station.flood_mode_m,
            flood: false,
            has_temp: rng.chance(0.6),
        }
    }

    pub(super) fn cadence_s(&self) -> f64 {
        if self.flood { 300.0 } else { 600.0 }
    }

    pub(super) fn write(&mut self, env: &Env<'_>, w: &mut Writer<'_>, rng: &mut Rng) {
        let (fast, slow) = env.weather.runoff_mm_h();
        let stage = self.base_m + 0.4 * fast + 5.0 * slow + 0.004 * rng.normal();
        if stage >= self.flood_mode_m {
            self.flood = true;
        } else if stage < self.flood_mode_m - 0.3 {
            self.flood = false;
        }
        w.num("stage_m", round_to(stage, 0.01));
        w.choice("mode", if self.flood { "flood" } else { "normal" });
        if self.has_temp {
            w.num("water_temp_c", round_to(env.weather.water_temp_c(&env.local), 0.1));
        }
    }
}

/// A landslide station: soil water from the site's soil store; tilt and
/// displacement creep slowly and accelerate once the soil is above 80 % of
/// saturation (FIELD: caution 0.01 °/h, warning 0.1 °/h; > 2 mm/day watch,
/// > 10 mm/day warning). Reports every 10 min, every 2 min once triggered.
#[derive(Debug)]
pub(super) struct Landslide {
    tilt: (f64, f64),
    direction: (f64, f64),
    displacement_mm: f64,
    porosity_pct: f64,
    susceptibility: f64,
    has_piezometer: bool,
    triggered: bool,
}

impl Landslide {
    pub(super) fn new(rng: &mut Rng) -> Self {
        let angle = rng.uniform(0.0, std::f64::consts::TAU);
        Self {
            tilt: (rng.uniform(-1.5, 1.5), rng.uniform(-1.5, 1.5)),
            direction: (angle.cos(), angle.sin()),
            displacement_mm: rng.uniform(-5.0, 20.0),
            porosity_pct: rng.uniform(40.0, 48.0),
            susceptibility: rng.uniform(0.5, 2.0),
            has_piezometer: rng.chance(0.5),
            triggered: false,
        }
    }

    pub(super) fn cadence_s(&self) -> f64 {
        if self.triggered { 120.0 } else { 600.0 }
    }

    pub(super) fn write(&mut self, env: &Env<'_>, w: &mut Writer<'_>, rng: &mut Rng) {
        let sat = env.weather.soil_saturation().clamp(0.0, 1.0);
        let wet = ((sat - 0.8) / 0.2).max(0.0).powi(2);
        let tilt_rate = (0.0003 + 0.04 * wet) * self.susceptibility;
        let creep_mm_day = (0.05 + 12.0 * wet) * self.susceptibility;
        let dt_h = env.dt_h.max(0.0);
        self.tilt.0 += self.direction.0 * tilt_rate * dt_h;
        self.tilt.1 += self.direction.1 * tilt_rate * dt_h;
        self.displacement_mm += creep_mm_day * dt_h / 24.0;
        self.triggered = tilt_rate >= 0.01 || sat >= 0.85;
        w.num("tilt_x_deg", round_to(self.tilt.0 + 0.001 * rng.normal(), 0.0001));
        w.num("tilt_y_deg", round_to(self.tilt.1 + 0.001 * rng.normal(), 0.0001));
        w.num(
            "displacement_mm",
            round_to(self.displacement_mm + 0.05 * rng.normal(), 0.01),
        );
        w.num(
            "soil_moisture_pct",
            round_to(sat * self.porosity_pct + 0.3 * rng.normal(), 0.1),
        );
        w.num("soil_saturation_pct", round_to(sat * 100.0 + 0.5 * rng.normal(), 0.1));
        if self.has_piezometer {
            // Suction when dry, positive pore pressure as the slope saturates.
            w.num(
                "pore_pressure_kpa",
                round_to(-30.0 + 90.0 * sat.powi(4) + rng.normal(), 0.1),
            );
        }
    }
}
