//! Air quality and weather at a station (usually the gate).

use super::{Env, round_to};
use crate::fields::Writer;
use crate::rng::{Draw, Rng};

pub(super) const AIR_FIELDS: &[&str] = &[
    "pm2_5_ugm3",
    "pm10_ugm3",
    "no2_ugm3",
    "so2_ugm3",
    "o3_ugm3",
    "co_ugm3",
    "air_temp_c",
    "humidity_pct",
    "pressure_hpa",
];

/// PM2.5 with a 5-35 µg/m³ baseline, worse in the February-April burning
/// season, in the morning inversion and at idling truck queues, washed out
/// by rain; gases on stations that measure them (NO2 and CO with traffic,
/// O3 with afternoon sun).
#[derive(Debug)]
pub(super) struct Air {
    base_pm25: f64,
    gases: [bool; 4],
    has_barometer: bool,
}

/// Particulates by month: burning season February-April, clean rainy season.
const PM_SEASON: [f64; 12] = [1.3, 2.0, 2.4, 1.8, 1.0, 0.7, 0.6, 0.6, 0.7, 0.9, 1.1, 1.3];

impl Air {
    pub(super) fn new(rng: &mut Rng) -> Self {
        Self {
            base_pm25: rng.uniform(10.0, 16.0),
            gases: [rng.chance(0.5), rng.chance(0.3), rng.chance(0.5), rng.chance(0.4)],
            has_barometer: rng.chance(0.6),
        }
    }

    pub(super) fn write(&mut self, env: &Env<'_>, w: &mut Writer<'_>, rng: &mut Rng) {
        let l = &env.local;
        let weather = env.weather;
        let morning = 1.0 + 0.6 * l.bump(7.5, 1.5) + 0.3 * l.bump(19.5, 2.0);
        let traffic = if env.gate_site {
            env.gate.activity
        } else {
            0.1 * (l.bump(7.5, 1.5) + l.bump(17.5, 1.5))
        };
        let washout = if weather.raining() { 0.5 } else { 1.0 };
        let season = PM_SEASON[l.month - 1];
        let pm25 = (self.base_pm25 * season * morning * weather.haze() * washout + 15.0 * traffic)
            * (1.0 + 0.08 * rng.normal());
        let dust = if weather.raining() { 0.0 } else { 10.0 * traffic };
        let pm10 = pm25 * rng.uniform(1.5, 1.8) + dust;
        let sun = weather.irradiance(l);
        w.num("pm2_5_ugm3", round_to(pm25.max(1.0), 0.1));
        w.num("pm10_ugm3", round_to(pm10.max(2.0), 0.1));
        let [no2, so2, o3, co] = self.gases;
        if no2 {
            w.num(
                "no2_ugm3",
                round_to(8.0 + 40.0 * traffic + 10.0 * (morning - 1.0) + 2.0 * rng.normal(), 0.1),
            );
        }
        if so2 {
            w.num("so2_ugm3", round_to(5.0 + 4.0 * season * morning + rng.normal(), 0.1));
        }
        if o3 {
            w.num("o3_ugm3", round_to(20.0 + 80.0 * sun + 3.0 * rng.normal(), 0.1));
        }
        if co {
            w.num(
                "co_ugm3",
                round_to(400.0 + 1500.0 * traffic + 200.0 * season + 50.0 * rng.normal(), 1.0),
            );
        }
        w.num("air_temp_c", round_to(weather.air_temp_c(l) + 0.2 * rng.normal(), 0.1));
        w.num("humidity_pct", round_to(weather.humidity_pct(l) + rng.normal(), 0.1));
        if self.has_barometer {
            w.num("pressure_hpa", round_to(weather.pressure_hpa(l), 0.1));
        }
    }
}
