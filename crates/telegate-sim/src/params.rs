//! Field facts the value models use (from `/work/shared/FIELD.md`).
//!
//! FIELD.md marks estimates \[E\] and unconfirmed figures \[V\] and asks that
//! they stay configurable: they live here, with defaults, instead of in the
//! models. [`Fleet::new`](crate::Fleet::new) uses [`FieldParams::default`];
//! [`Fleet::with_params`](crate::Fleet::with_params) takes others.

/// Everything the models need to know about the field.
#[derive(Debug, Clone)]
pub struct FieldParams {
    /// Local time zone for hours of the day (Vietnam: UTC+7).
    pub utc_offset_hours: f64,
    /// Sites with known climate; other site names get `default_site`.
    pub sites: Vec<SiteClimate>,
    /// Climate of a site not listed in `sites`.
    pub default_site: SiteClimate,
    /// River stations for river-level devices at sites without their own.
    pub river_stations: Vec<RiverStation>,
    /// Relative rain frequency per month, January first (mean 1): rainy
    /// season April-October, peak June-August.
    pub rain_month_weights: [f64; 12],
    /// Border-gate hours and traffic.
    pub gate: GateParams,
    /// How often and how long devices lose coverage.
    pub coverage: CoverageParams,
}

/// Climate of one site.
#[derive(Debug, Clone)]
pub struct SiteClimate {
    /// Site name as used in topics, e.g. `sin-ho`.
    pub name: String,
    /// Altitude: about −0.6 °C per 100 m (≈ 23 °C in valleys, ≈ 16 °C above 1,500 m).
    pub altitude_m: f64,
    /// Annual rainfall (2,000-3,000 mm in Lai Châu).
    pub annual_rain_mm: f64,
    /// River station of river-level devices at this site.
    pub river: Option<RiverStation>,
    /// The site has a border gate: lane counters, weighbridges and barriers
    /// are placed here, and its air quality sees truck queues.
    pub gate: bool,
}

/// A hydrological station: where the stage sits and when the gauge switches
/// to flood mode (more frequent reports).
#[derive(Debug, Clone)]
pub struct RiverStation {
    /// Station and river, for humans.
    pub name: String,
    /// Dry-season stage in metres above station datum.
    pub base_stage_m: f64,
    /// Stage at which the gauge switches to flood mode (more frequent
    /// reports): a watch level below the first alarm level (BĐ I) \[E\].
    pub flood_mode_m: f64,
}

/// Border-gate traffic (Ma Lù Thàng).
#[derive(Debug, Clone)]
pub struct GateParams {
    /// Local opening hour \[E\].
    pub open_hour: f64,
    /// Local closing hour \[E\].
    pub close_hour: f64,
    /// Trucks a day, drawn per day in this range (FIELD: 20-80 \[E\]).
    pub trucks_per_day: (f64, f64),
    /// Share of heavy vehicles that are container trucks \[E\].
    pub container_share: f64,
    /// Cars a day \[E\].
    pub cars_per_day: (f64, f64),
    /// Motorbikes a day (local traders) \[E\].
    pub motorbikes_per_day: (f64, f64),
    /// Buses a day \[E\].
    pub buses_per_day: (f64, f64),
    /// Trucks a lane clears per hour while open (inspection, weighing) \[E\].
    pub trucks_cleared_per_lane_hour: f64,
}

/// Coverage gaps: devices in border villages lose 4G for hours and upload
/// their buffered samples when coverage returns.
#[derive(Debug, Clone)]
pub struct CoverageParams {
    /// Share of devices with poor coverage \[E\].
    pub poor_share: f64,
    /// Mean model hours between gaps, good coverage \[E\].
    pub good_hours_between_gaps: f64,
    /// Mean model hours between gaps, poor coverage \[E\].
    pub poor_hours_between_gaps: f64,
    /// Mean gap length in model hours ("coverage gaps of hours are normal").
    pub mean_gap_hours: f64,
    /// Share of poor-coverage gaps that are long \[E\].
    pub long_gap_share: f64,
    /// Length range of a long gap, model hours \[E\].
    pub long_gap_hours: (f64, f64),
    /// Longest gap on the timestamp clock, so late samples stay well inside
    /// the gateway's 7-day `limits.max_age`.
    pub max_gap_timestamp_hours: f64,
    /// Most samples a device buffers (it drops the oldest beyond).
    pub buffer_samples: usize,
}

impl Default for FieldParams {
    fn default() -> Self {
        let station = |name: &str, base: f64, flood: f64| RiverStation {
            name: name.into(),
            base_stage_m: base,
            flood_mode_m: flood,
        };
        let site = |name: &str, altitude_m: f64, annual_rain_mm: f64, river, gate| SiteClimate {
            name: name.into(),
            altitude_m,
            annual_rain_mm,
            river,
            gate,
        };
        Self {
            utc_offset_hours: 7.0,
            sites: vec![
                // Gate altitude and the Nậm Na station's stages [E] (BĐ III ≈ 211.50).
                site(
                    "ma-lu-thang",
                    500.0,
                    2400.0,
                    Some(station("Nậm Giàng (Nậm Na)", 207.0, 208.5)),
                    true,
                ),
                // Mường Tè on the Đà: BĐ III ≈ 290.00, typical stage 285.40 [E].
                site(
                    "muong-te",
                    300.0,
                    2450.0,
                    Some(station("Mường Tè (Đà)", 285.4, 286.9)),
                    false,
                ),
                site("sin-ho", 1529.0, 2670.0, None, false),
                site("than-uyen", 600.0, 1930.0, None, false),
            ],
            default_site: site("", 600.0, 2400.0, None, false),
            river_stations: vec![
                // BĐ I is 80.00 at Lào Cai and 30.00 at Yên Bái; stages [E].
                station("Lào Cai (Thao)", 77.5, 79.0),
                station("Yên Bái (Thao)", 27.5, 29.0),
            ],
            rain_month_weights: [0.25, 0.3, 0.5, 0.9, 1.4, 1.9, 2.1, 1.9, 1.2, 0.8, 0.45, 0.3],
            gate: GateParams {
                open_hour: 7.0,
                close_hour: 19.0,
                trucks_per_day: (20.0, 80.0),
                container_share: 0.25,
                cars_per_day: (10.0, 40.0),
                motorbikes_per_day: (40.0, 160.0),
                buses_per_day: (2.0, 6.0),
                trucks_cleared_per_lane_hour: 8.0,
            },
            coverage: CoverageParams {
                poor_share: 0.25,
                good_hours_between_gaps: 72.0,
                poor_hours_between_gaps: 12.0,
                mean_gap_hours: 2.0,
                long_gap_share: 0.15,
                long_gap_hours: (8.0, 30.0),
                max_gap_timestamp_hours: 72.0,
                buffer_samples: 1000,
            },
        }
    }
}

impl FieldParams {
    /// The climate of `site` (a known one, or the default renamed).
    pub(crate) fn site(&self, name: &str) -> SiteClimate {
        self.sites
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .unwrap_or_else(|| SiteClimate {
                name: name.to_owned(),
                ..self.default_site.clone()
            })
    }
}
