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
//! do); both gauges report every `duration / 60`.

use std::time::Duration;

use super::reading::Reading;

/// When and how fast the episode plays.
#[derive(Debug, Clone)]
pub struct EpisodeConfig {
    /// Wall time (Unix ns) the episode starts.
    pub start_ns: i64,
    /// How long it plays (default 150 s).
    pub duration: Duration,
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
