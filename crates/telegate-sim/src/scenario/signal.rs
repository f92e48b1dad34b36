//! True signals: piecewise-linear episodes on top of a baseline, and rain
//! as boxes of constant intensity (so windowed totals are exact).

pub(crate) const MIN_NS: i64 = 60_000_000_000;
pub(crate) const H_NS: i64 = 60 * MIN_NS;
pub(crate) const DAY_NS: i64 = 24 * H_NS;

/// A piecewise-linear curve through `(time, value)` points, flat before the
/// first and after the last.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pwl {
    points: Vec<(i64, f64)>,
}

impl Pwl {
    /// Starts at `value` at `t`.
    pub(crate) fn from(t: i64, value: f64) -> Self {
        Self {
            points: vec![(t, value)],
        }
    }

    /// Then moves linearly to `value` over `hours`.
    pub(crate) fn to(mut self, hours: f64, value: f64) -> Self {
        let (t, _) = self.points.last().copied().unwrap_or((0, 0.0));
        self.points.push((t + (hours * H_NS as f64) as i64, value));
        self
    }

    /// Then moves at `per_h` (units per hour) to `value`.
    pub(crate) fn at_rate(self, per_h: f64, value: f64) -> Self {
        let from = self.points.last().map_or(0.0, |p| p.1);
        let hours = ((value - from) / per_h).abs();
        self.to(hours, value)
    }

    /// Then stays for `hours`.
    pub(crate) fn hold(self, hours: f64) -> Self {
        let v = self.points.last().map_or(0.0, |p| p.1);
        self.to(hours, v)
    }

    pub(crate) fn at(&self, t: i64) -> f64 {
        let Some(&(t0, v0)) = self.points.first() else {
            return 0.0;
        };
        if t <= t0 {
            return v0;
        }
        for w in self.points.windows(2) {
            let ((a, va), (b, vb)) = (w[0], w[1]);
            if t <= b {
                if b == a {
                    return vb;
                }
                return va + (vb - va) * (t - a) as f64 / (b - a) as f64;
            }
        }
        self.points.last().map_or(0.0, |p| p.1)
    }
}

/// A signal: a baseline plus episodes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Signal {
    pub(crate) base: f64,
    /// Daily swing (amplitude) and the local hour of its maximum.
    pub(crate) diurnal: (f64, f64),
    /// Slow drift per hour from `origin`.
    pub(crate) drift_per_h: f64,
    pub(crate) origin: i64,
    pub(crate) episodes: Vec<Pwl>,
}

impl Signal {
    pub(crate) fn at(&self, t: i64) -> f64 {
        let local_h = ((t + 7 * H_NS).rem_euclid(DAY_NS)) as f64 / H_NS as f64;
        let (amp, peak_h) = self.diurnal;
        let diurnal = amp * (std::f64::consts::TAU * (local_h - peak_h) / 24.0).cos();
        let drift = self.drift_per_h * (t - self.origin) as f64 / H_NS as f64;
        self.base + diurnal + drift + self.episodes.iter().map(|e| e.at(t)).sum::<f64>()
    }
}

/// Rain as boxes of constant intensity: `(start, end, mm per hour)`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rain {
    pub(crate) boxes: Vec<(i64, i64, f64)>,
}

impl Rain {
    /// Add `mm` falling evenly over `hours` from `start`.
    pub(crate) fn add(&mut self, start: i64, hours: f64, mm: f64) {
        let end = start + (hours * H_NS as f64) as i64;
        self.boxes.push((start, end, mm / hours.max(1e-9)));
    }

    /// Millimetres fallen up to `t`.
    pub(crate) fn total(&self, t: i64) -> f64 {
        self.boxes
            .iter()
            .map(|&(a, b, r)| {
                let until = t.clamp(a, b);
                r * (until - a) as f64 / H_NS as f64
            })
            .sum()
    }

    /// Millimetres in `(t - window, t]`.
    pub(crate) fn window(&self, t: i64, window: i64) -> f64 {
        self.total(t) - self.total(t - window)
    }

    /// Intensity at `t` (mm/h).
    pub(crate) fn rate(&self, t: i64) -> f64 {
        self.boxes
            .iter()
            .filter(|&&(a, b, _)| a <= t && t < b)
            .map(|b| b.2)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_and_rain_add_up() {
        let p = Pwl::from(0, 0.0).at_rate(0.5, 2.0).hold(1.0).to(2.0, 0.0);
        assert_eq!(p.at(-5), 0.0);
        assert!((p.at(2 * H_NS) - 1.0).abs() < 1e-9);
        assert!((p.at(4 * H_NS) - 2.0).abs() < 1e-9);
        assert!((p.at(6 * H_NS) - 1.0).abs() < 1e-9);
        assert!((p.at(7 * H_NS)).abs() < 1e-9);
        let mut r = Rain::default();
        r.add(0, 2.0, 30.0);
        r.add(H_NS, 1.0, 10.0);
        assert!((r.total(10 * H_NS) - 40.0).abs() < 1e-9);
        assert!((r.window(2 * H_NS, H_NS) - 25.0).abs() < 1e-9);
        assert!((r.rate(H_NS + 1) - 25.0).abs() < 1e-9);
    }
}
