//! The scripted episode `telegate demo` plays next to its fleet, compressed
//! into minutes of wall time so a newcomer sees alerts fire and clear:
//!
//! | device | what happens (fractions of the episode) |
//! | --- | --- |
//! | `rl-101` at `muong-te` | the Đà rises from 285.6 m through BĐ I (287.0), BĐ II (288.5) and BĐ III (290.0) to 290.5 m by 0.45, holds, and falls back to 285.7 m by 0.9: `flood-muong-te` fires, escalates twice, de-escalates twice and resolves |
//! | `rl-102` at `ma-lu-thang` | a gauge that stops reporting at 0.25 and comes back at 0.6: `offline-river` fires and resolves |
//! | `wb-101` at `ma-lu-thang`, lane `in-9` | trucks at 0.3 (68 %), 0.5 (118 % of the legal load: `overload` fires at its critical level) and 0.7 (64 %: resolved) |
//!
//! Readings are stamped in wall time (event time = now, as live devices
//! do); both gauges report every `duration / 60`, and keep reporting their
//! normal stage for `tail` after the episode (then they stop, and their
//! deadman fires).

use std::time::Duration;

use super::reading::Reading;

/// When and how fast the episode plays.
#[derive(Debug, Clone)]
pub struct EpisodeConfig {
    /// Wall time (Unix ns) the episode starts.
    pub start_ns: i64,
    /// How long it plays (default 150 s).
    pub duration: Duration,
    /// How long the two gauges go on reporting afterwards.
    pub tail: Duration,
}

impl EpisodeConfig {
    /// The gauges' reporting interval: `duration / 60`.
    pub fn interval(&self) -> Duration {
        self.duration / 60
    }
}

/// The episode's readings, in time order.
pub fn demo_episode(cfg: &EpisodeConfig) -> Vec<Reading> {
    let total = i64::try_from(cfg.duration.as_nanos()).unwrap_or(i64::MAX).max(60);
    let at = |f: f64| cfg.start_ns + (total as f64 * f) as i64;
    let mut out = Vec::new();
    let steps = 60;
    for i in 0..=steps {
        let f = f64::from(i) / f64::from(steps);
        let t = at(f);
        let stage = match f {
            f if f < 0.1 => 285.6,
            f if f < 0.45 => 285.6 + (290.5 - 285.6) * (f - 0.1) / 0.35,
            f if f < 0.55 => 290.5,
            f if f < 0.9 => 290.5 - (290.5 - 285.7) * (f - 0.55) / 0.35,
            _ => 285.7,
        };
        out.push(
            Reading::new("river_level", "rl-101", "muong-te", t)
                .num("stage_m", (stage * 100.0).round() / 100.0)
                .choice("mode", if stage >= 286.7 { "flood" } else { "normal" })
                .num("water_temp_c", 24.5),
        );
        if !(0.25..0.6).contains(&f) {
            out.push(
                Reading::new("river_level", "rl-102", "ma-lu-thang", t)
                    .num("stage_m", 207.2)
                    .choice("mode", "normal")
                    .num("water_temp_c", 23.0),
            );
        }
    }
    let step = total / i64::from(steps);
    let tail = i64::try_from(cfg.tail.as_nanos()).unwrap_or(i64::MAX);
    let mut t = at(1.0) + step;
    while t <= at(1.0).saturating_add(tail) {
        for (device, site, stage) in [("rl-101", "muong-te", 285.7), ("rl-102", "ma-lu-thang", 207.2)] {
            out.push(
                Reading::new("river_level", device, site, t)
                    .num("stage_m", stage)
                    .choice("mode", "normal")
                    .num("water_temp_c", 24.0),
            );
        }
        t += step.max(1);
    }
    for (f, load) in [(0.3, 68.0), (0.5, 118.0), (0.7, 64.0)] {
        out.push(
            Reading::new("weighbridge", "wb-101", "ma-lu-thang", at(f) + 1)
                .text("lane", "in-9")
                .num("axle_count", 3.0)
                .num("gross_t", 24.0 * load / 100.0)
                .choice("axle_config", "rigid_3_axle")
                .num("speed_kmh", 5.0)
                .num("load_pct", load),
        );
    }
    out.sort_by_key(|r| r.time_ns);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Val;

    #[test]
    fn the_river_crosses_every_level_and_the_gauge_falls_silent() {
        let cfg = EpisodeConfig {
            start_ns: 0,
            duration: Duration::from_secs(60),
            tail: Duration::from_secs(10),
        };
        let rs = demo_episode(&cfg);
        let stages: Vec<f64> = rs
            .iter()
            .filter(|r| r.device_id == "rl-101")
            .filter_map(|r| match r.values.first() {
                Some((_, Val::Num(x))) => Some(*x),
                _ => None,
            })
            .collect();
        let top = stages.iter().copied().fold(f64::MIN, f64::max);
        assert!(top >= 290.0 && stages.first() < Some(&287.0) && stages.last() < Some(&286.8));
        let silent: Vec<i64> = rs
            .iter()
            .filter(|r| r.device_id == "rl-102")
            .map(|r| r.time_ns)
            .collect();
        let longest = silent.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        assert!(longest >= 20_000_000_000, "silent for 35 % of a minute: {longest}");
        assert!(rs.iter().any(|r| r.time_ns > 60_000_000_000), "the gauges go on");
        assert_eq!(rs.iter().filter(|r| r.device_id == "wb-101").count(), 3);
    }
}
