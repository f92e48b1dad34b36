//! The official levels the ground truth is judged by (FIELD.md), kept apart
//! from any rules file: the replay checks the rules against these, so a
//! rule with a wrong threshold misses events or raises spurious alerts
//! instead of agreeing with itself.

/// Flood alarm levels of one hydrological station (Decision 05/2020/QĐ-TTg).
#[derive(Debug, Clone)]
pub struct StationLevels {
    /// Station and river, for humans.
    pub station: String,
    /// Site of its gauge in the topic.
    pub site: String,
    /// The gauge's device id.
    pub device_id: String,
    /// Dry-weather stage (m above datum) \[E\].
    pub base_m: f64,
    /// BĐ I, BĐ II, BĐ III (m above datum).
    pub alarm_m: [f64; 3],
}

/// Every level the truth knows, with FIELD.md's values.
#[derive(Debug, Clone)]
pub struct OfficialLevels {
    /// River stations of the example sites.
    pub stations: Vec<StationLevels>,
    /// 24 h rain: disaster-risk levels 1 and 2 (Decision 18/2021, zone 1).
    pub rain_24h_mm: [f64; 2],
    /// 3 h rain: flash-flood warning and severe (bulletins: > 70, > 100 mm).
    pub rain_3h_mm: [f64; 2],
    /// 1 h rain: intense burst \[E\].
    pub rain_1h_mm: f64,
    /// River rise over 30 min, m/h: watch and warning (20 / 50 cm/h \[E\]).
    pub rise_m_per_h: [f64; 2],
    /// River rise in 10 min that is a flash flood, m \[E\].
    pub flash_m_per_10min: f64,
    /// Soil saturation (% of saturation) used by national warnings.
    pub saturation_pct: f64,
    /// Tilt change over one hour, °/h: caution and warning \[V\].
    pub tilt_deg_per_h: [f64; 2],
    /// Displacement over 24 h, mm: watch and warning \[E\].
    pub displacement_mm_per_day: [f64; 2],
    /// Gross load, % of the legal limit: warning and critical.
    pub load_pct: [f64; 2],
    /// 12 V lead-acid battery, rested: low and cut-off.
    pub battery_v: [f64; 2],
    /// A barrier open with no vehicle longer than this is an alarm, minutes.
    pub barrier_open_min: f64,
    /// A device is offline after this many missed reports.
    pub missed_reports: i64,
}

impl Default for OfficialLevels {
    fn default() -> Self {
        let station = |station: &str, site: &str, device: &str, base_m: f64, alarm_m: [f64; 3]| StationLevels {
            station: station.into(),
            site: site.into(),
            device_id: device.into(),
            base_m,
            alarm_m,
        };
        Self {
            stations: vec![
                // BĐ III ≈ 290.00 from bulletins; BĐ I and II [E].
                station("Mường Tè (Đà)", "muong-te", "rl-001", 285.4, [287.0, 288.5, 290.0]),
                // BĐ III ≈ 211.50; BĐ I and II [E].
                station(
                    "Nậm Giàng (Nậm Na)",
                    "ma-lu-thang",
                    "rl-002",
                    207.0,
                    [208.5, 210.0, 211.5],
                ),
                // 80.00 / 82.00 [V] / 83.50; the gauge stands at sin-ho in the
                // topic and is labelled with its station.
                station("Lào Cai (Thao)", "sin-ho", "rl-003", 77.5, [80.0, 82.0, 83.5]),
            ],
            rain_24h_mm: [100.0, 200.0],
            rain_3h_mm: [70.0, 100.0],
            rain_1h_mm: 50.0,
            rise_m_per_h: [0.20, 0.50],
            flash_m_per_10min: 0.20,
            saturation_pct: 85.0,
            tilt_deg_per_h: [0.01, 0.1],
            displacement_mm_per_day: [2.0, 10.0],
            load_pct: [100.0, 110.0],
            battery_v: [12.0, 11.8],
            barrier_open_min: 5.0,
            missed_reports: 3,
        }
    }
}
