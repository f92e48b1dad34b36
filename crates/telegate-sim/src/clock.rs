//! Model time: local hour of day, season and daylight in Lai Châu.
//!
//! The timestamps follow the pacing clock; the models run on model time,
//! `start + (t - start) * speed`, so a demo shows a whole day quickly.

use std::f64::consts::PI;

pub(crate) const NS_PER_S: i64 = 1_000_000_000;
pub(crate) const NS_PER_H: f64 = 3600.0 * 1e9;

/// Local calendar position of a model instant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Local {
    /// Hour of the day, 0 ≤ hour < 24.
    pub(crate) hour: f64,
    /// Day of the year, 0-based, fractional.
    pub(crate) day_of_year: f64,
    /// 1..=12.
    pub(crate) month: usize,
    /// Local days since 1970-01-01 (changes at local midnight).
    pub(crate) day: i64,
}

impl Local {
    pub(crate) fn at(model_ns: i64, utc_offset_hours: f64) -> Self {
        let secs = model_ns.div_euclid(NS_PER_S) as f64 + utc_offset_hours * 3600.0;
        let day = (secs / 86_400.0).floor() as i64;
        let hour = (secs - day as f64 * 86_400.0) / 3600.0;
        let (year, month, _) = civil_from_days(day);
        let jan1 = days_from_civil(year, 1, 1);
        Self {
            hour: hour.clamp(0.0, 23.999_999),
            day_of_year: (day - jan1) as f64 + hour / 24.0,
            month: month as usize,
            day,
        }
    }

    /// −1 in mid-January (coldest), +1 in mid-July.
    pub(crate) fn season(&self) -> f64 {
        -(2.0 * PI * (self.day_of_year - 15.0) / 365.25).cos()
    }

    /// Sun height proxy in [0, 1]: 0 at night, 1 at solar noon in summer.
    /// Day length at 22° N: about 13.2 h in June, 10.8 h in December.
    pub(crate) fn daylight(&self) -> f64 {
        let length = 12.0 + 1.2 * self.season();
        let noon = 12.1;
        let rise = noon - length / 2.0;
        if self.hour <= rise || self.hour >= rise + length {
            return 0.0;
        }
        let elevation = (PI * (self.hour - rise) / length).sin();
        elevation * (0.8 + 0.2 * (self.season() + 1.0) / 2.0)
    }

    /// Diurnal shape in [−1, 1]: −1 at `min_hour` (dawn), +1 at `max_hour`
    /// (mid-afternoon), with a faster rise than fall.
    pub(crate) fn diurnal(&self, min_hour: f64, max_hour: f64) -> f64 {
        let h = self.hour;
        let rise = max_hour - min_hour;
        if (min_hour..max_hour).contains(&h) {
            -(PI * (h - min_hour) / rise).cos()
        } else {
            let fall = 24.0 - rise;
            let since_max = (h - max_hour).rem_euclid(24.0);
            (PI * since_max / fall).cos()
        }
    }

    /// A bump of height 1 centred on `hour` (width in hours), wrapping midnight.
    pub(crate) fn bump(&self, hour: f64, width: f64) -> f64 {
        let mut d = (self.hour - hour).rem_euclid(24.0);
        if d > 12.0 {
            d -= 24.0;
        }
        (-(d / width).powi(2)).exp()
    }
}

/// Howard Hinnant's `civil_from_days`: (year, month 1-12, day 1-31).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        for z in [-800_000, -1, 0, 1, 11_016, 20_000, 20_453, 30_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        // 2025-11-29T02:30:00Z is 09:30 local on 29 November.
        let l = Local::at(1_764_383_400_000_000_000, 7.0);
        assert_eq!(l.month, 11);
        assert!((l.hour - 9.5).abs() < 1e-6, "{}", l.hour);
        assert!((l.day_of_year - (332.0 + 9.5 / 24.0)).abs() < 1e-6, "{}", l.day_of_year);
    }

    #[test]
    fn diurnal_shape_has_its_extremes_where_asked() {
        let at = |hour: f64| Local {
            hour,
            day_of_year: 180.0,
            month: 7,
            day: 0,
        };
        assert!((at(6.0).diurnal(6.0, 14.5) + 1.0).abs() < 1e-9);
        assert!((at(14.5).diurnal(6.0, 14.5) - 1.0).abs() < 1e-9);
        assert!(at(2.0).diurnal(6.0, 14.5) < at(22.0).diurnal(6.0, 14.5));
        assert_eq!(at(1.0).daylight(), 0.0);
        assert!(at(12.0).daylight() > 0.9);
    }
}
