//! Weather and hydrology of one site, stepped once per model minute.
//!
//! Shared by every device at the site, so the rain gauge, the river, the
//! landslide station and the air-quality station all see the same storm.
//! The state only depends on the site's own random stream and the model
//! time, never on which devices ask.

use crate::clock::Local;
use crate::params::{FieldParams, SiteClimate};
use crate::rng::{Draw, Rng, ou_step};

const MINUTE_NS: i64 = 60_000_000_000;
const DT_H: f64 = 1.0 / 60.0;
/// Annual rain the event rates below are calibrated for.
const REFERENCE_ANNUAL_MM: f64 = 2500.0;
/// Rain events start at this rate (per hour, at month weight 1) for 2,500 mm a year.
const EVENT_RATE_PER_H: f64 = 0.026;
/// Convective bursts start at this rate per minute of an event (month weight 1).
const BURST_RATE_PER_MIN: f64 = 0.001;
/// Linear reservoirs from rain to river: fast runoff (two stores) and baseflow.
const TAU_FAST1_H: f64 = 1.5;
const TAU_FAST2_H: f64 = 5.0;
const TAU_SLOW_H: f64 = 480.0;
/// Top-metre soil water: saturated, field capacity, wilting (mm).
const SOIL_SATURATED_MM: f64 = 450.0;
const SOIL_FIELD_CAPACITY_MM: f64 = 300.0;
const SOIL_MIN_MM: f64 = 170.0;

#[derive(Debug)]
pub(crate) struct SiteWeather {
    pub(crate) climate: SiteClimate,
    rng: Rng,
    utc_offset_hours: f64,
    month_weights: [f64; 12],
    /// Last model minute stepped.
    minute: i64,
    event_left_min: f64,
    event_mm_h: f64,
    burst_left_min: f64,
    burst_mm_h: f64,
    rain_mm_h: f64,
    rain_total_mm: f64,
    fast1: f64,
    fast2: f64,
    slow: f64,
    q_fast: f64,
    q_slow: f64,
    soil_mm: f64,
    temp_anomaly: f64,
    cloud: f64,
    haze_log: f64,
    pressure_anomaly: f64,
}

impl SiteWeather {
    /// A site at model time `model_ns`, spun up for a day so rivers and soil
    /// are not flat at the start.
    pub(crate) fn new(climate: SiteClimate, params: &FieldParams, mut rng: Rng, model_ns: i64) -> Self {
        let start_minute = model_ns.div_euclid(MINUTE_NS) - 24 * 60;
        let local = Local::at(start_minute * MINUTE_NS, params.utc_offset_hours);
        let w = params.rain_month_weights[local.month - 1];
        let mean_rain_mm_h = climate.annual_rain_mm / 8760.0 * w;
        let q_slow = 0.2 * mean_rain_mm_h;
        let cloud = rng.uniform(0.2, 0.6);
        let mut site = Self {
            climate,
            utc_offset_hours: params.utc_offset_hours,
            month_weights: params.rain_month_weights,
            minute: start_minute,
            event_left_min: 0.0,
            event_mm_h: 0.0,
            burst_left_min: 0.0,
            burst_mm_h: 0.0,
            rain_mm_h: 0.0,
            rain_total_mm: 0.0,
            fast1: 0.0,
            fast2: 0.0,
            slow: q_slow * TAU_SLOW_H,
            q_fast: 0.0,
            q_slow,
            soil_mm: (250.0 + 40.0 * w).min(SOIL_SATURATED_MM * 0.8),
            temp_anomaly: 2.0 * rng.normal(),
            cloud,
            haze_log: 0.3 * rng.normal(),
            pressure_anomaly: 2.0 * rng.normal(),
            rng,
        };
        site.advance_to(model_ns);
        site
    }

    /// Step minute by minute up to `model_ns`. Asking for an earlier time
    /// (a silent device logging) keeps the current state.
    pub(crate) fn advance_to(&mut self, model_ns: i64) {
        let target = model_ns.div_euclid(MINUTE_NS);
        while self.minute < target {
            self.minute += 1;
            self.step();
        }
    }

    fn step(&mut self) {
        let local = Local::at(self.minute * MINUTE_NS, self.utc_offset_hours);
        let w = self.month_weights[local.month - 1];
        let scale = self.climate.annual_rain_mm / REFERENCE_ANNUAL_MM;
        let rng = &mut self.rng;

        // Rain: a dry/raining Markov process, with convective bursts inside events.
        if self.event_left_min > 0.0 {
            self.event_left_min -= 1.0;
        } else if rng.chance(EVENT_RATE_PER_H * w * scale * DT_H) {
            self.event_left_min = rng.exponential(150.0).max(20.0);
            self.event_mm_h = rng.lognormal(2.5, 0.8).min(40.0);
        }
        let raining = self.event_left_min > 0.0;
        if self.burst_left_min > 0.0 {
            self.burst_left_min -= 1.0;
        } else if raining && rng.chance(BURST_RATE_PER_MIN * w) {
            // 60-100 mm/h extremes now and then; observed 69 mm in 2 h.
            self.burst_left_min = rng.exponential(40.0).clamp(10.0, 150.0);
            self.burst_mm_h = rng.uniform(25.0, 70.0) * if rng.chance(0.15) { 1.4 } else { 1.0 };
        }
        self.rain_mm_h = if raining {
            self.event_mm_h * rng.uniform(0.6, 1.4)
                + if self.burst_left_min > 0.0 {
                    self.burst_mm_h
                } else {
                    0.0
                }
        } else {
            0.0
        };
        let rain = self.rain_mm_h * DT_H;
        self.rain_total_mm += rain;

        // Runoff rises with soil saturation; the rest soaks in or feeds baseflow.
        let sat = self.soil_mm / SOIL_SATURATED_MM;
        let runoff = 0.15 + 0.6 * sat * sat;
        let quick = rain * runoff;
        let soaked = rain - quick;
        self.fast1 += quick;
        let out1 = self.fast1 * DT_H / TAU_FAST1_H;
        self.fast1 -= out1;
        self.fast2 += out1;
        let out2 = self.fast2 * DT_H / TAU_FAST2_H;
        self.fast2 -= out2;
        self.q_fast = out2 / DT_H;
        self.slow += soaked * 0.3;
        let out_slow = self.slow * DT_H / TAU_SLOW_H;
        self.slow -= out_slow;
        self.q_slow = out_slow / DT_H;
        let drainage = (self.soil_mm - SOIL_FIELD_CAPACITY_MM).max(0.0) * 0.012 * DT_H;
        let evaporation = 0.15 * local.daylight() * DT_H;
        self.soil_mm = (self.soil_mm + soaked * 0.85 - drainage - evaporation).clamp(SOIL_MIN_MM, SOIL_SATURATED_MM);

        // Fronts, cold waves (December-February), clouds, haze, pressure.
        self.temp_anomaly = ou_step(self.temp_anomaly, 0.0, 2.0, 48.0, DT_H, rng);
        if matches!(local.month, 12 | 1 | 2) && rng.chance(DT_H / (20.0 * 24.0)) {
            self.temp_anomaly -= rng.uniform(3.0, 6.0);
        }
        let cloud_target = if raining { 0.95 } else { 0.25 + 0.2 * w.min(2.0) };
        self.cloud = ou_step(self.cloud, cloud_target, 0.12, 3.0, DT_H, rng).clamp(0.0, 1.0);
        self.haze_log = ou_step(self.haze_log, 0.0, 0.35, 12.0, DT_H, rng);
        self.pressure_anomaly = ou_step(self.pressure_anomaly, 0.0, 3.0, 48.0, DT_H, rng);
    }

    pub(crate) fn local(&self, model_ns: i64) -> Local {
        Local::at(model_ns, self.utc_offset_hours)
    }

    /// Rain intensity now (mm/h).
    pub(crate) fn rain_mm_h(&self) -> f64 {
        self.rain_mm_h
    }

    /// Rain fallen since the start (mm), for gauges that difference it.
    pub(crate) fn rain_total_mm(&self) -> f64 {
        self.rain_total_mm
    }

    pub(crate) fn raining(&self) -> bool {
        self.rain_mm_h > 0.0
    }

    /// Catchment outflow: fast runoff and baseflow (mm/h).
    pub(crate) fn runoff_mm_h(&self) -> (f64, f64) {
        (self.q_fast, self.q_slow)
    }

    /// Soil water as a share of saturation, 0..1.
    pub(crate) fn soil_saturation(&self) -> f64 {
        self.soil_mm / SOIL_SATURATED_MM
    }

    /// Multiplier of particulate levels from weather (stagnant air, wind).
    pub(crate) fn haze(&self) -> f64 {
        self.haze_log.exp()
    }

    /// Air temperature: annual mean by altitude, seasonal swing (Sìn Hồ's
    /// January mean 10.2 °C), diurnal cycle with the minimum near dawn and
    /// the maximum mid-afternoon, damped by cloud, plus fronts.
    pub(crate) fn air_temp_c(&self, l: &Local) -> f64 {
        let annual = 24.8 - 0.006 * self.climate.altitude_m;
        let seasonal = 5.5 * l.season();
        let amplitude = (4.5 - 1.0 * (l.season() + 1.0) / 2.0) * (1.0 - 0.6 * self.cloud);
        let rain_cooling = if self.raining() { 1.5 } else { 0.0 };
        annual + seasonal + amplitude * l.diurnal(6.0, 14.5) + self.temp_anomaly - rain_cooling
    }

    /// Relative humidity: 75-95 %, saturated on most nights and in rain.
    pub(crate) fn humidity_pct(&self, l: &Local) -> f64 {
        let base = if l.season() > -0.2 { 88.0 } else { 84.0 };
        let rain = if self.raining() { 10.0 } else { 0.0 };
        (base - 12.0 * l.diurnal(6.0, 14.5) + 5.0 * self.cloud + rain).clamp(30.0, 100.0)
    }

    /// River water: follows the daily mean air temperature with a small swing.
    pub(crate) fn water_temp_c(&self, l: &Local) -> f64 {
        let annual = 24.8 - 0.006 * self.climate.altitude_m;
        annual - 1.5 + 4.5 * l.season() + 0.8 * l.diurnal(7.0, 16.0) + 0.3 * self.temp_anomaly
    }

    /// Station pressure: about 980 hPa in valleys, 850 hPa at 1,500 m.
    pub(crate) fn pressure_hpa(&self, l: &Local) -> f64 {
        1013.0 * (-self.climate.altitude_m / 8434.0).exp() - 2.0 * l.season()
            + self.pressure_anomaly
            + 0.8 * l.bump(10.0, 2.0)
    }

    /// Sunlight reaching a panel, 0..1.
    pub(crate) fn irradiance(&self, l: &Local) -> f64 {
        l.daylight() * (1.0 - 0.7 * self.cloud)
    }
}
