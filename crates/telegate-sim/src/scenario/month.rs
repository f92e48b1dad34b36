//! A rainy-season month (or any number of days) for every example site,
//! with injected events and their ground truth.
//!
//! Devices and sites follow `config/alerts.example.toml` and the
//! simulator's naming: at `muong-te` river gauge `rl-001`, rain gauge
//! `rg-001`, heartbeat `dh-001`; at `ma-lu-thang` (the gate) river gauge
//! `rl-002`, weighbridge `wb-001` and barrier `gb-001` on lane `in-1`, air
//! monitor `aq-001`; at `sin-ho` the Lào Cai gauge `rl-003`, rain gauge
//! `rg-002` and landslide station `ls-001` (both on slope `pa-tan`).
//!
//! Normal weather — showers under every threshold, rivers wobbling and
//! rising a little after rain, legal trucks — fills the month. Events are
//! placed at fixed fractions of the period (so a shorter run keeps every
//! one of them), with times and amplitudes drawn from the seed:
//!
//! | device | event |
//! | --- | --- |
//! | rl-001 | river flood at 35 cm/h through BĐ I, II and III, back in two days |
//! | rl-002 | flash flood at 1.5 m/h to BĐ II; a 4 h coverage gap (late batch) |
//! | rl-003 | flood to BĐ I at 25 cm/h; dead for 2.5 h (readings lost) |
//! | rg-001 | burst: 62 mm in 1 h, 92 mm in 3 h, 117 mm in 24 h, during a 6 h coverage gap |
//! | rg-002 | heavy day (150 mm in 12 h); later a storm of 115 mm in 3 h, 215 mm in 24 h |
//! | ls-001 | dead for 2 h early on; soil past 85 % after both storms; tilt 0.03 °/h and 6 mm/day after the first |
//! | wb-001 | four overloaded trucks (104-121 %) |
//! | gb-001 | barrier stuck open 12 min with no vehicle; tamper switch for 4 min |
//! | dh-001 | dead for 3 h; a cloudy spell that runs the battery low |
//! | aq-001 | nothing (any alert is spurious) |

use crate::models::round_to;
use crate::rng::{Draw, Rng, stream};

use super::levels::OfficialLevels;
use super::reading::Reading;
use super::signal::{DAY_NS, H_NS, MIN_NS, Pwl, Rain, Signal};
use super::truth::{TruthEvent, intervals};

const SCENARIO_STREAM: u64 = 7;

/// What to script.
#[derive(Debug, Clone)]
pub struct MonthConfig {
    /// First instant (Unix ns). Default: 2025-07-01 00:00 local (UTC+7),
    /// the peak of the rainy season.
    pub start_ns: i64,
    /// Length in days (at least 6: the events need room).
    pub days: u32,
    /// Seed of times, amplitudes and noise.
    pub seed: u64,
    /// The levels the truth is judged by.
    pub levels: OfficialLevels,
}

impl Default for MonthConfig {
    fn default() -> Self {
        Self {
            start_ns: 1_751_302_800 * 1_000_000_000,
            days: 30,
            seed: 1,
            levels: OfficialLevels::default(),
        }
    }
}

/// A scripted period: readings in the order they reach the gateway, and
/// what really happened.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub start_ns: i64,
    pub end_ns: i64,
    /// Sorted by arrival, then device time.
    pub readings: Vec<Reading>,
    pub truth: Vec<TruthEvent>,
    /// Sites of the scenario.
    pub sites: Vec<String>,
}

/// Builds readings and truth for one device at a time.
struct Script {
    from: i64,
    to: i64,
    len: i64,
    rng: Rng,
    levels: OfficialLevels,
    readings: Vec<Reading>,
    truth: Vec<TruthEvent>,
}

/// Sampling times from `from` to `to` at `cadence(t)`, starting at a random phase.
fn sample_times(from: i64, to: i64, rng: &mut Rng, mut cadence: impl FnMut(i64) -> i64) -> Vec<i64> {
    let mut t = from + (rng.unit() * cadence(from) as f64) as i64;
    let mut out = Vec::new();
    while t < to {
        out.push(t);
        t += cadence(t).max(MIN_NS / 2);
    }
    out
}

/// The reporting interval around `t`: from the device's last sample at or
/// before `t` to its next one (the detection-delay budget of an event that
/// starts at `t`).
fn gap_at(times: &[i64], t: i64) -> i64 {
    let i = times.partition_point(|&x| x <= t);
    match (i.checked_sub(1).and_then(|j| times.get(j)), times.get(i)) {
        (Some(a), Some(b)) => b - a,
        _ => 10 * MIN_NS,
    }
}

fn device_tags(device: &str, site: &str) -> Vec<(String, String)> {
    vec![("device_id".into(), device.into()), ("site".into(), site.into())]
}

impl Script {
    /// The instant at fraction `f` of the period, jittered by up to ± `jitter_h`.
    fn at(&mut self, f: f64, jitter_h: f64) -> i64 {
        let t = self.from + (self.len as f64 * f) as i64;
        t + (self.rng.uniform(-jitter_h, jitter_h) * H_NS as f64) as i64
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &mut self,
        measurement: Option<&str>,
        tags: Vec<(String, String)>,
        level: &str,
        what: String,
        span: (i64, i64),
        interval_ns: i64,
    ) {
        self.truth.push(TruthEvent {
            measurement: measurement.map(str::to_owned),
            tags,
            level: level.into(),
            what,
            start_ns: span.0,
            end_ns: span.1,
            interval_ns,
            on_arrival_clock: level == "offline",
        });
    }

    /// Truth events where `value(t) >= threshold` (or `<=` when `below`).
    #[allow(clippy::too_many_arguments)]
    fn crossings(
        &mut self,
        measurement: &str,
        device: &str,
        site: &str,
        level: &str,
        what: &str,
        interval: &dyn Fn(i64) -> i64,
        holds: &dyn Fn(i64) -> bool,
    ) {
        for span in intervals(self.from, self.to, MIN_NS, holds) {
            self.event(
                Some(measurement),
                device_tags(device, site),
                level,
                format!("{device} at {site}: {what}"),
                span,
                interval(span.0),
            );
        }
    }

    /// Samples logged during `gap` arrive at its end; `dead` loses them.
    fn deliver(&mut self, mut rs: Vec<Reading>, gap: Option<(i64, i64)>, dead: Option<(i64, i64)>) -> Vec<i64> {
        if let Some((a, b)) = dead {
            rs.retain(|r| !(a..b).contains(&r.time_ns));
        }
        if let Some((a, b)) = gap {
            for r in rs.iter_mut().filter(|r| (a..b).contains(&r.time_ns)) {
                r.arrive_ns = b;
            }
        }
        let times = rs.iter().map(|r| r.arrive_ns).collect();
        self.readings.extend(rs);
        times
    }

    /// Truth for a silence from the gateway's view: from the third missed
    /// report after the last arrival before `from` until the next arrival.
    fn silence(&mut self, measurement: &str, device: &str, site: &str, arrivals: &[i64], from: i64, cadence: i64) {
        let last = arrivals.iter().copied().filter(|&t| t < from).max();
        let next = arrivals.iter().copied().filter(|&t| t >= from).min();
        if let (Some(last), Some(next)) = (last, next) {
            let start = last + self.levels.missed_reports * cadence;
            if next > start {
                self.event(
                    Some(measurement),
                    device_tags(device, site),
                    "offline",
                    format!(
                        "{device} at {site}: no reading received for {} min",
                        (next - last) / MIN_NS
                    ),
                    (start, next),
                    MIN_NS,
                );
            }
        }
    }
}

/// The scenario.
pub fn month(cfg: &MonthConfig) -> Scenario {
    let days = i64::from(cfg.days.max(6));
    let mut s = Script {
        from: cfg.start_ns,
        to: cfg.start_ns + days * DAY_NS,
        len: days * DAY_NS,
        rng: stream(cfg.seed, SCENARIO_STREAM, 0),
        levels: cfg.levels.clone(),
        readings: Vec::new(),
        truth: Vec::new(),
    };
    // Storms first: rivers, soil and slopes answer them.
    let storm_burst = s.at(0.45, 6.0);
    let heavy_day = s.at(0.22, 6.0);
    let severe = s.at(0.72, 6.0);
    let storms = [storm_burst, heavy_day, severe];

    let mut rain1 = normal_showers(&mut s, &storms);
    rain1.add(storm_burst, 1.0, 15.0);
    rain1.add(storm_burst + H_NS, 1.0, 62.0);
    rain1.add(storm_burst + 2 * H_NS, 1.0, 15.0);
    rain1.add(storm_burst + 3 * H_NS, 4.0, 25.0);
    let mut rain2 = normal_showers(&mut s, &storms);
    rain2.add(heavy_day, 12.0, 150.0);
    rain2.add(severe, 1.0, 20.0);
    rain2.add(severe + H_NS, 1.0, 55.0);
    rain2.add(severe + 2 * H_NS, 1.0, 40.0);
    rain2.add(severe + 3 * H_NS, 10.0, 100.0);

    rain_gauge(
        &mut s,
        "rg-001",
        "muong-te",
        &rain1,
        0.5,
        Some((storm_burst - H_NS, storm_burst + 5 * H_NS)),
    );
    rain_gauge(&mut s, "rg-002", "sin-ho", &rain2, 0.2, None);

    let stations = cfg.levels.stations.clone();
    for (i, st) in stations.iter().enumerate() {
        let mut river = Signal {
            base: st.base_m + s.rng.uniform(-0.1, 0.1),
            diurnal: (0.03, s.rng.uniform(0.0, 24.0)),
            ..Signal::default()
        };
        // Small rises after showers, well under BĐ I and 20 cm/h.
        for f in [0.1, 0.6, 0.9] {
            let t = s.at(f, 12.0);
            let rise = s.rng.uniform(0.3, 0.8);
            river
                .episodes
                .push(Pwl::from(t, 0.0).at_rate(0.04, rise).hold(3.0).at_rate(-0.03, 0.0));
        }
        let (gap, dead) = match i {
            0 => {
                let t = s.at(0.55, 6.0);
                let peak = st.alarm_m[2] + 0.6 - river.base;
                river
                    .episodes
                    .push(Pwl::from(t, 0.0).at_rate(0.35, peak).hold(4.0).at_rate(-0.12, 0.0));
                (None, None)
            }
            1 => {
                let t = s.at(0.35, 6.0);
                let peak = st.alarm_m[1] + 0.6 - river.base;
                river
                    .episodes
                    .push(Pwl::from(t, 0.0).at_rate(1.5, peak).hold(1.0).at_rate(-0.25, 0.0));
                let g = s.at(0.8, 6.0);
                (Some((g, g + 4 * H_NS)), None)
            }
            _ => {
                let t = s.at(0.18, 6.0);
                let peak = st.alarm_m[0] + 0.5 - river.base;
                river
                    .episodes
                    .push(Pwl::from(t, 0.0).at_rate(0.25, peak).hold(3.0).at_rate(-0.1, 0.0));
                let d = s.at(0.65, 6.0);
                (None, Some((d, d + 5 * H_NS / 2)))
            }
        };
        river_gauge(&mut s, st, &river, gap, dead);
    }

    landslide(&mut s, &rain2, heavy_day, severe);
    gate(&mut s);
    heartbeat(&mut s);
    air(&mut s);

    let Script {
        mut readings, truth, ..
    } = s;
    readings.sort_by(|a, b| (a.arrive_ns, a.time_ns, &a.device_id).cmp(&(b.arrive_ns, b.time_ns, &b.device_id)));
    Scenario {
        start_ns: cfg.start_ns,
        end_ns: cfg.start_ns + days * DAY_NS,
        readings,
        truth,
        sites: vec!["muong-te".into(), "ma-lu-thang".into(), "sin-ho".into()],
    }
}

/// Rainy-season showers: on most days one shower of 3-30 mm over 1-4 hours
/// in the afternoon or night; none within a day and a half of a storm, so
/// storms are what cross the thresholds.
fn normal_showers(s: &mut Script, storms: &[i64]) -> Rain {
    let mut rain = Rain::default();
    let mut day = s.from;
    while day < s.to {
        if s.rng.chance(0.65) {
            let start = day + ((s.rng.uniform(12.0, 30.0) - 7.0) * H_NS as f64) as i64;
            let near = storms.iter().any(|&st| (start - st).abs() < 36 * H_NS);
            let hours = s.rng.uniform(1.0, 4.0);
            let mm = s.rng.uniform(3.0, 30.0);
            if !near && start + (hours * H_NS as f64) as i64 + DAY_NS < s.to {
                rain.add(start, hours, mm);
            }
        }
        day += DAY_NS;
    }
    rain
}

fn rain_gauge(s: &mut Script, device: &str, site: &str, rain: &Rain, bucket: f64, gap: Option<(i64, i64)>) {
    let cadence = |t: i64| match rain.rate(t) {
        r if r >= 20.0 => 2 * MIN_NS,
        r if r > 0.0 => 5 * MIN_NS,
        _ => 10 * MIN_NS,
    };
    let times = sample_times(s.from, s.to, &mut s.rng, cadence);
    let mut tips_total = s.rng.uniform(1000.0, 20_000.0).round();
    let mut residual = 0.0;
    let mut prev = s.from;
    let mut rs = Vec::with_capacity(times.len());
    for &t in &times {
        residual += rain.total(t) - rain.total(prev);
        let tips = (residual / bucket + 1e-9).floor().max(0.0);
        residual -= tips * bucket;
        tips_total += tips;
        rs.push(
            Reading::new("rain_gauge", device, site, t)
                .num("rain_mm", round_to(tips * bucket, 0.1))
                .num("interval_s", ((t - prev) / 1_000_000_000).max(1) as f64)
                .num("bucket_mm", bucket)
                .num("tips_total", tips_total),
        );
        prev = t;
    }
    let arrivals = s.deliver(rs, gap, None);
    if let Some((a, _)) = gap {
        s.silence("rain_gauge", device, site, &arrivals, a, 10 * MIN_NS);
    }
    let l = s.levels.clone();
    let windows: [(&str, i64, f64, &str); 5] = [
        ("risk level 1", DAY_NS, l.rain_24h_mm[0], "24 h"),
        ("risk level 2", DAY_NS, l.rain_24h_mm[1], "24 h"),
        ("warning", 3 * H_NS, l.rain_3h_mm[0], "3 h"),
        ("severe", 3 * H_NS, l.rain_3h_mm[1], "3 h"),
        ("burst", H_NS, l.rain_1h_mm, "1 h"),
    ];
    for (level, window, mm, label) in windows {
        s.crossings(
            "rain_gauge",
            device,
            site,
            level,
            &format!("rain ≥ {mm} mm in {label}"),
            &|t| gap_at(&times, t),
            &|t| rain.window(t, window) >= mm,
        );
    }
}

fn river_gauge(
    s: &mut Script,
    st: &super::levels::StationLevels,
    river: &Signal,
    gap: Option<(i64, i64)>,
    dead: Option<(i64, i64)>,
) {
    let (device, site) = (st.device_id.clone(), st.site.clone());
    let flood_on = st.alarm_m[0] - 0.3;
    let flood = |t: i64| river.at(t) >= flood_on;
    let cadence = |t: i64| if flood(t) { 5 * MIN_NS } else { 10 * MIN_NS };
    let times = sample_times(s.from, s.to, &mut s.rng, cadence);
    let mut rs = Vec::with_capacity(times.len());
    for &t in &times {
        let stage = river.at(t) + 0.004 * s.rng.normal();
        rs.push(
            Reading::new("river_level", &device, &site, t)
                .num("stage_m", round_to(stage, 0.01))
                .choice("mode", if flood(t) { "flood" } else { "normal" })
                .num("water_temp_c", 24.0),
        );
    }
    let arrivals = s.deliver(rs, gap, dead);
    for (a, _) in gap.into_iter().chain(dead) {
        s.silence("river_level", &device, &site, &arrivals, a, cadence(a));
    }
    for (k, name) in ["BĐ I", "BĐ II", "BĐ III"].into_iter().enumerate() {
        let m = st.alarm_m[k];
        s.crossings(
            "river_level",
            &device,
            &site,
            name,
            &format!("{} past {name} ({m} m)", st.station),
            &|t| gap_at(&times, t),
            &|t| river.at(t) >= m,
        );
    }
    let l = s.levels.clone();
    for (k, name) in ["rise watch", "fast rise"].into_iter().enumerate() {
        let per_h = l.rise_m_per_h[k];
        s.crossings(
            "river_level",
            &device,
            &site,
            name,
            &format!("rising ≥ {per_h} m/h over 30 min"),
            &|t| gap_at(&times, t),
            &|t| (river.at(t) - river.at(t - 30 * MIN_NS)) * 2.0 >= per_h,
        );
    }
    s.crossings(
        "river_level",
        &device,
        &site,
        "flash flood",
        &format!("rose ≥ {} m in 10 min", l.flash_m_per_10min),
        &|t| gap_at(&times, t),
        &|t| river.at(t) - river.at(t - 10 * MIN_NS) >= l.flash_m_per_10min,
    );
}

/// `ls-001` on the slope of `rg-002`: soil past 85 % after each storm, and
/// after the first the slope moves (tilt and displacement).
fn landslide(s: &mut Script, rain: &Rain, heavy_day: i64, severe: i64) {
    let (device, site) = ("ls-001", "sin-ho");
    let mut soil = Signal {
        base: s.rng.uniform(60.0, 66.0),
        diurnal: (1.0, 16.0),
        ..Signal::default()
    };
    for start in [heavy_day + 4 * H_NS, severe + 2 * H_NS] {
        let top = 90.0 - soil.base;
        soil.episodes
            .push(Pwl::from(start, 0.0).to(8.0, top).hold(20.0).to(24.0, 0.0));
    }
    let move_at = heavy_day + 8 * H_NS;
    let tilt = Signal {
        base: s.rng.uniform(-1.0, 1.0),
        drift_per_h: 0.0003,
        origin: s.from,
        episodes: vec![Pwl::from(move_at, 0.0).to(12.0, 0.36)],
        ..Signal::default()
    };
    let disp = Signal {
        base: s.rng.uniform(0.0, 15.0),
        drift_per_h: 0.05 / 24.0,
        origin: s.from,
        episodes: vec![Pwl::from(move_at, 0.0).to(12.0, 3.0)],
        ..Signal::default()
    };
    let l = s.levels.clone();
    let triggered =
        |t: i64| soil.at(t) >= l.saturation_pct || (tilt.at(t) - tilt.at(t - H_NS)).abs() >= l.tilt_deg_per_h[0];
    let cadence = |t: i64| if triggered(t) { 2 * MIN_NS } else { 10 * MIN_NS };
    let times = sample_times(s.from, s.to, &mut s.rng, cadence);
    let mut rs = Vec::with_capacity(times.len());
    for &t in &times {
        let sat = soil.at(t) + 0.5 * s.rng.normal();
        rs.push(
            Reading::new("landslide", device, site, t)
                .num("tilt_x_deg", round_to(tilt.at(t) + 0.001 * s.rng.normal(), 0.0001))
                .num("tilt_y_deg", round_to(0.2 + 0.001 * s.rng.normal(), 0.0001))
                .num("displacement_mm", round_to(disp.at(t) + 0.05 * s.rng.normal(), 0.01))
                .num("soil_moisture_pct", round_to(sat * 0.45, 0.1))
                .num("soil_saturation_pct", round_to(sat, 0.1)),
        );
    }
    // No draw from the stream here: the other events keep their times.
    let d = s.from + s.len / 20;
    let dead = (d, d + 2 * H_NS);
    let arrivals = s.deliver(rs, None, Some(dead));
    s.silence("landslide", device, site, &arrivals, dead.0, 10 * MIN_NS);
    for (k, name) in ["caution", "fast tilt"].into_iter().enumerate() {
        let v = l.tilt_deg_per_h[k];
        s.crossings(
            "landslide",
            device,
            site,
            name,
            &format!("tilt changing ≥ {v} °/h"),
            &|t| gap_at(&times, t),
            &|t| (tilt.at(t) - tilt.at(t - H_NS)).abs() >= v,
        );
    }
    for (k, name) in ["watch", "fast movement"].into_iter().enumerate() {
        let v = l.displacement_mm_per_day[k];
        s.crossings(
            "landslide",
            device,
            site,
            name,
            &format!("moved ≥ {v} mm in 24 h"),
            &|t| gap_at(&times, t),
            &|t| (disp.at(t) - disp.at(t - DAY_NS)).abs() >= v,
        );
    }
    // Heavy rain on saturated soil, for the site and for the labelled slope.
    let both = |t: i64| rain.window(t, DAY_NS) >= l.rain_24h_mm[0] && soil.at(t) >= l.saturation_pct;
    for span in intervals(s.from, s.to, MIN_NS, both) {
        for tags in [
            vec![("site".to_owned(), site.to_owned())],
            vec![("slope".to_owned(), "pa-tan".to_owned())],
        ] {
            let what = format!(
                "{}: ≥ {} mm of rain in 24 h on soil ≥ {} % saturated",
                tags[0].1, l.rain_24h_mm[0], l.saturation_pct
            );
            s.event(None, tags, "landslide warning", what, span, gap_at(&times, span.0));
        }
    }
}

/// The gate: a truck every 10-40 minutes while it is open (07:00-19:00),
/// weighed on `wb-001` and let through by barrier `gb-001`, both on lane
/// `in-1`; four overloaded trucks, a barrier stuck open, a tamper.
fn gate(s: &mut Script) {
    let site = "ma-lu-thang";
    let l = s.levels.clone();
    let mut trucks = Vec::new();
    let mut t = s.from;
    while t < s.to {
        let local_h = ((t + 7 * H_NS).rem_euclid(DAY_NS)) as f64 / H_NS as f64;
        if (7.0..19.0).contains(&local_h) {
            trucks.push((t, s.rng.uniform(35.0, 97.0)));
        }
        t += (s.rng.uniform(10.0, 40.0) * MIN_NS as f64) as i64;
    }
    for (f, load) in [(0.12, 106.0), (0.4, 121.0), (0.62, 104.0), (0.9, 116.0)] {
        let at = s.at(f, 12.0);
        if let Some(truck) = trucks.iter_mut().min_by_key(|(t, _)| (t - at).abs()) {
            truck.1 = load;
        }
    }
    let mut weighings = Vec::new();
    for &(t, load) in &trucks {
        weighings.push(
            Reading::new("weighbridge", "wb-001", site, t)
                .text("lane", "in-1")
                .num("axle_count", 3.0)
                .num("gross_t", round_to(24.0 * load / 100.0, 0.01))
                .choice("axle_config", "rigid_3_axle")
                .num("speed_kmh", 5.0)
                .num("load_pct", round_to(load, 0.1)),
        );
        for (k, name) in ["overloaded", "over 110 %"].into_iter().enumerate() {
            if load >= l.load_pct[k] {
                let what = format!("wb-001 at {site}: truck at {load} % of its legal load");
                s.event(
                    Some("weighbridge"),
                    device_tags("wb-001", site),
                    name,
                    what,
                    (t, t),
                    10 * MIN_NS,
                );
            }
        }
    }
    s.deliver(weighings, None, None);

    // The barrier: a status report every 10 minutes, open for each truck.
    let stuck = s.at(0.3, 12.0);
    let stuck_until = stuck + 12 * MIN_NS;
    let tamper = s.at(0.8, 12.0);
    let tamper_until = tamper + 4 * MIN_NS;
    let busy = |t: i64| {
        (stuck - 2 * MIN_NS..stuck_until + 2 * MIN_NS).contains(&t)
            || (tamper - 2 * MIN_NS..tamper_until + 2 * MIN_NS).contains(&t)
    };
    let barrier = |t: i64, state: &'static str, vehicle: bool, tamper: bool| {
        Reading::new("gate_barrier", "gb-001", site, t)
            .text("lane", "in-1")
            .choice("state", state)
            .flag("vehicle_present", vehicle)
            .flag("tamper", tamper)
            .flag("door_open", false)
    };
    let mut rs = Vec::new();
    let mut t = s.from + (s.rng.unit() * 600.0) as i64 * 1_000_000_000;
    while t < s.to {
        if !busy(t) {
            rs.push(barrier(t, "closed", false, false));
        }
        t += 10 * MIN_NS;
    }
    for &(t, _) in &trucks {
        if !busy(t) && !busy(t + MIN_NS) {
            rs.push(barrier(t + 20_000_000_000, "open", true, false));
            rs.push(barrier(t + 50_000_000_000, "closed", false, false));
        }
    }
    let mut t = stuck;
    while t < stuck_until {
        rs.push(barrier(t, "open", false, false));
        t += 2 * MIN_NS;
    }
    rs.push(barrier(stuck_until, "closed", false, false));
    let mut t = tamper;
    while t < tamper_until {
        rs.push(barrier(t, "closed", false, true));
        t += MIN_NS;
    }
    rs.push(barrier(tamper_until, "closed", false, false));
    rs.sort_by_key(|r| r.time_ns);
    rs.dedup_by_key(|r| r.time_ns);
    s.deliver(rs, None, None);
    let open_for = l.barrier_open_min;
    s.event(
        Some("gate_barrier"),
        device_tags("gb-001", site),
        "open > 5 min",
        format!("gb-001 at {site}: barrier open with no vehicle for 12 min (alarm after {open_for} min)"),
        (stuck, stuck_until),
        2 * MIN_NS,
    );
    s.event(
        Some("gate_barrier"),
        device_tags("gb-001", site),
        "tamper",
        format!("gb-001 at {site}: cabinet tamper switch for 4 min"),
        (tamper, tamper_until),
        MIN_NS,
    );
}

/// `dh-001`: a heartbeat every 15 minutes; dead for 3 hours once; a cloudy
/// spell that runs its 12 V battery below 12.0 V for a day and a half.
fn heartbeat(s: &mut Script) {
    let (device, site) = ("dh-001", "muong-te");
    let spell = s.at(0.6, 12.0);
    let battery = Signal {
        base: 12.9,
        diurnal: (0.15, 14.0),
        episodes: vec![Pwl::from(spell, 0.0).to(12.0, -0.85).hold(36.0).to(6.0, 0.0)],
        ..Signal::default()
    };
    let cadence = |_t: i64| 15 * MIN_NS;
    let times = sample_times(s.from, s.to, &mut s.rng, cadence);
    let mut rs = Vec::with_capacity(times.len());
    for &t in &times {
        rs.push(
            Reading::new("device_health", device, site, t)
                .num("battery_v", round_to(battery.at(t) + 0.01 * s.rng.normal(), 0.01))
                .num("solar_v", 18.0)
                .num("rsrp_dbm", -88.0)
                .num("rsrq_db", -11.0)
                .num("sinr_db", 14.0),
        );
    }
    let d = s.at(0.35, 12.0);
    let dead = (d, d + 3 * H_NS);
    let arrivals = s.deliver(rs, None, Some(dead));
    s.silence("device_health", device, site, &arrivals, dead.0, 15 * MIN_NS);
    let l = s.levels.clone();
    for (k, name) in ["low", "cut-off"].into_iter().enumerate() {
        let v = l.battery_v[k];
        s.crossings(
            "device_health",
            device,
            site,
            name,
            &format!("battery ≤ {v} V"),
            &|t| gap_at(&times, t),
            &|t| battery.at(t) <= v,
        );
    }
}

/// `aq-001` at the gate: PM2.5 and PM10 well inside QCVN 05:2023.
fn air(s: &mut Script) {
    let (device, site) = ("aq-001", "ma-lu-thang");
    let times = sample_times(s.from, s.to, &mut s.rng, |_| 10 * MIN_NS);
    let mut rs = Vec::with_capacity(times.len());
    for &t in &times {
        let local_h = ((t + 7 * H_NS).rem_euclid(DAY_NS)) as f64 / H_NS as f64;
        let morning = (-((local_h - 8.0) / 3.0).powi(2)).exp();
        rs.push(
            Reading::new("air_quality", device, site, t)
                .num(
                    "pm2_5_ugm3",
                    round_to(18.0 + 12.0 * morning + 2.0 * s.rng.normal(), 0.1).max(1.0),
                )
                .num(
                    "pm10_ugm3",
                    round_to(40.0 + 20.0 * morning + 4.0 * s.rng.normal(), 0.1).max(2.0),
                ),
        );
    }
    s.deliver(rs, None, None);
}
