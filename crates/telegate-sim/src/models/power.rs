//! Solar batteries and the 4G/5G radio of every device, and the
//! device-health heartbeat that reports them.

use super::{Env, round_to};
use crate::fields::Writer;
use crate::rng::{Draw, Rng, ou_step};

pub(super) const HEALTH_FIELDS: &[&str] = &[
    "battery_v",
    "battery_pct",
    "solar_v",
    "charging",
    "rsrp_dbm",
    "rsrq_db",
    "sinr_db",
    "network",
    "uptime_s",
    "cpu_temp_c",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chemistry {
    /// 12 V lead-acid: 11.8 cut-off, 12.7 full, 14.4-14.8 charging, 13.5 float.
    LeadAcid,
    /// 12.8 V LiFePO4: 12.0 cut-off, 12.8 low, 13.6 full, 14.6 charging.
    LiFePo4,
    /// 3.7 V Li-ion logger: 3.0 cut-off, 3.7 low, 4.2 full.
    LiIon,
}

/// A battery charged by a solar panel: it drains at night and charges by
/// day, less under cloud, and browns out (rebooting) if it runs flat.
#[derive(Debug)]
pub(crate) struct Power {
    chemistry: Chemistry,
    soc: f64,
    load_pct_h: f64,
    charge_pct_h: f64,
    panel_oc_v: f64,
    irradiance: f64,
    charging: bool,
    boot_model_ns: i64,
    browned_out: bool,
}

impl Power {
    pub(crate) fn new(rng: &mut Rng, model_ns: i64) -> Self {
        let chemistry = match rng.unit() {
            u if u < 0.6 => Chemistry::LeadAcid,
            u if u < 0.85 => Chemistry::LiFePo4,
            _ => Chemistry::LiIon,
        };
        let logger = chemistry == Chemistry::LiIon;
        Self {
            chemistry,
            soc: rng.uniform(0.6, 0.95),
            load_pct_h: if logger { 1.5 } else { 0.9 },
            charge_pct_h: if logger { 9.0 } else { 12.0 },
            // A 36-cell panel shows ≈ 21-22 V open circuit; loggers have a 6 V panel.
            panel_oc_v: if logger { 7.0 } else { rng.uniform(21.0, 22.0) },
            irradiance: 0.0,
            charging: false,
            boot_model_ns: model_ns - (rng.uniform(0.0, 30.0) * 86_400e9) as i64,
            browned_out: false,
        }
    }

    pub(super) fn advance(&mut self, env: &Env<'_>, rng: &mut Rng) {
        let dt_h = env.dt_h.max(0.0);
        self.irradiance = env.weather.irradiance(&env.local);
        let charge = self.irradiance * self.charge_pct_h;
        self.soc = (self.soc + (charge - self.load_pct_h) * dt_h / 100.0).clamp(0.0, 1.0);
        self.charging = self.irradiance > 0.03 && self.soc < 0.995;
        if self.soc <= 0.0 {
            self.browned_out = true;
        } else if self.browned_out && self.soc > 0.05 {
            self.browned_out = false;
            self.boot_model_ns = env.model_ns;
        }
        // A watchdog reset about once a month.
        if rng.chance(dt_h / (30.0 * 24.0)) {
            self.boot_model_ns = env.model_ns;
        }
    }

    pub(crate) fn charging(&self) -> bool {
        self.charging
    }

    pub(crate) fn soc_pct(&self) -> f64 {
        round_to(self.soc * 100.0, 0.1)
    }

    fn rest_v(&self) -> f64 {
        let s = self.soc;
        match self.chemistry {
            Chemistry::LeadAcid => 11.8 + 0.9 * s,
            Chemistry::LiFePo4 if s < 0.2 => 12.0 + 0.8 * s / 0.2,
            Chemistry::LiFePo4 => 12.8 + 0.8 * (s - 0.2) / 0.8,
            Chemistry::LiIon if s < 0.1 => 3.0 + 5.0 * s,
            Chemistry::LiIon if s < 0.3 => 3.5 + (s - 0.1),
            Chemistry::LiIon => 3.7 + 0.5 * (s - 0.3) / 0.7,
        }
    }

    pub(crate) fn battery_v(&self) -> f64 {
        let v = match (self.chemistry, self.charging) {
            (Chemistry::LeadAcid, true) if self.soc < 0.95 => 14.4 + 0.4 * self.soc,
            (Chemistry::LeadAcid, true) => 13.5,
            (Chemistry::LiFePo4, true) if self.soc < 0.98 => 14.4 + 0.2 * self.soc,
            (Chemistry::LiFePo4, true) => 13.6,
            (Chemistry::LiIon, true) => (self.rest_v() + 0.1).min(4.2),
            (_, false) => self.rest_v() - if self.irradiance > 0.0 { 0.0 } else { 0.02 },
        };
        round_to(v, 0.01)
    }

    /// Panel voltage: open circuit by day, pulled towards the battery while
    /// bulk charging, 0 at night.
    pub(crate) fn solar_v(&self) -> f64 {
        if self.irradiance < 0.005 {
            return 0.0;
        }
        let v = if self.charging && self.soc < 0.95 {
            self.battery_v() + 0.6
        } else {
            self.panel_oc_v * (0.85 + 0.15 * (self.irradiance * 5.0).min(1.0))
        };
        round_to(v, 0.01)
    }

    pub(crate) fn uptime_s(&self, model_ns: i64) -> f64 {
        ((model_ns - self.boot_model_ns) as f64 / 1e9).max(0.0).round()
    }

    /// Board temperature: air plus electronics, plus sun on the enclosure.
    pub(crate) fn cpu_temp_c(&self, env: &Env<'_>) -> f64 {
        round_to(env.weather.air_temp_c(&env.local) + 6.0 + 12.0 * self.irradiance, 0.1)
    }
}

/// LTE signal: a per-device level (poor in border villages) with slow
/// fading, rain fade, and no service during coverage gaps.
#[derive(Debug)]
pub(crate) struct Radio {
    base_rsrp: f64,
    fade: f64,
    five_g: bool,
    poor: bool,
    pub(crate) rsrp: f64,
    pub(crate) rsrq: f64,
    pub(crate) sinr: f64,
    pub(crate) network: &'static str,
}

impl Radio {
    pub(crate) fn new(rng: &mut Rng, poor: bool) -> Self {
        let base_rsrp = if poor {
            -103.0 + 4.0 * rng.normal()
        } else {
            -86.0 + 6.0 * rng.normal()
        };
        Self {
            base_rsrp,
            fade: 0.0,
            five_g: !poor && base_rsrp > -85.0 && rng.chance(0.3),
            poor,
            rsrp: base_rsrp,
            rsrq: -10.0,
            sinr: 15.0,
            network: "4g",
        }
    }

    pub(super) fn advance(&mut self, env: &Env<'_>, rng: &mut Rng) {
        self.fade = ou_step(self.fade, 0.0, 3.0, 1.0, env.dt_h.max(1e-6), rng);
        let rain_fade = 2.0 * (env.weather.rain_mm_h() / 20.0).min(1.0);
        self.rsrp = if env.silent {
            -122.0 + 2.0 * rng.normal()
        } else {
            self.base_rsrp + self.fade - rain_fade
        };
        self.rsrq = (-7.0 + 0.25 * (self.rsrp + 80.0) + rng.normal()).clamp(-30.0, -3.0);
        self.sinr = (22.0 + 0.6 * (self.rsrp + 80.0) + 1.5 * rng.normal()).clamp(-20.0, 40.0);
        self.network = match self.rsrp {
            r if r < -120.0 => "none",
            r if r < -112.0 => {
                if self.poor {
                    "2g"
                } else {
                    "3g"
                }
            }
            _ if self.five_g => "5g",
            _ => "4g",
        };
        self.rsrp = round_to(self.rsrp, 1.0);
        self.rsrq = round_to(self.rsrq, 0.5);
        self.sinr = round_to(self.sinr, 0.1);
    }
}

/// The heartbeat: reports the device's battery and radio.
#[derive(Debug)]
pub(super) struct Health {
    has_fuel_gauge: bool,
    has_cpu_temp: bool,
}

impl Health {
    pub(super) fn new(rng: &mut Rng) -> Self {
        Self {
            has_fuel_gauge: rng.chance(0.5),
            has_cpu_temp: rng.chance(0.7),
        }
    }

    pub(super) fn write(&mut self, env: &Env<'_>, w: &mut Writer<'_>, _rng: &mut Rng, power: &Power, radio: &Radio) {
        w.num("battery_v", power.battery_v());
        if self.has_fuel_gauge || power.chemistry != Chemistry::LeadAcid {
            w.num("battery_pct", power.soc_pct());
        }
        w.num("solar_v", power.solar_v());
        w.flag("charging", power.charging());
        w.num("rsrp_dbm", radio.rsrp);
        w.num("rsrq_db", radio.rsrq);
        w.num("sinr_db", radio.sinr);
        w.choice("network", radio.network);
        w.num("uptime_s", power.uptime_s(env.model_ns));
        if self.has_cpu_temp {
            w.num("cpu_temp_c", power.cpu_temp_c(env));
        }
    }
}
