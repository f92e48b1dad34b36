//! Seeded random streams and the few distributions the models draw from.
//!
//! Every site and device has its own ChaCha8 stream derived from the seed,
//! so adding a device does not change what the others send, and a run is
//! byte-for-byte reproducible.

use rand::{RngExt as _, SeedableRng as _};

pub(crate) type Rng = rand::rngs::ChaCha8Rng;

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stream for one purpose (`kind`) and one entity (`index`).
pub(crate) fn stream(seed: u64, kind: u64, index: u64) -> Rng {
    Rng::seed_from_u64(splitmix(
        seed ^ splitmix(kind.wrapping_mul(0x1_0000_0001) ^ splitmix(index)),
    ))
}

pub(crate) trait Draw {
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64;
    /// Uniform in [lo, hi).
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    /// Exponential with the given mean.
    fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
    /// Log-normal with the given median and log-space sigma.
    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }
    /// Poisson count with the given mean (Knuth below 30, normal above).
    fn poisson(&mut self, mean: f64) -> u64 {
        if !mean.is_finite() || mean <= 0.0 {
            return 0;
        }
        if mean > 30.0 {
            return (mean + mean.sqrt() * self.normal()).round().max(0.0) as u64;
        }
        let limit = (-mean).exp();
        let mut k = 0;
        let mut p = self.unit();
        while p > limit {
            k += 1;
            p *= self.unit();
        }
        k
    }
    /// Index drawn with the given weights.
    fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }
}

impl Draw for Rng {
    fn unit(&mut self) -> f64 {
        self.random::<f64>()
    }
}

/// One step of an Ornstein-Uhlenbeck process: mean-reverting noise with
/// stationary standard deviation `sigma` and time constant `tau` (same unit
/// as `dt`).
pub(crate) fn ou_step(x: f64, mean: f64, sigma: f64, tau: f64, dt: f64, rng: &mut impl Draw) -> f64 {
    let a = (-dt / tau).exp();
    mean + (x - mean) * a + sigma * (1.0 - a * a).sqrt() * rng.normal()
}
