//! Scripted field episodes with their ground truth.
//!
//! The [`Fleet`](crate::Fleet) is a free-running stochastic simulation: good
//! for load and for a lively demo, but nobody knows exactly when its river
//! crossed BĐ II. A scenario is the opposite: a fixed set of devices whose
//! **true signals** (river stage, rain intensity, soil saturation, tilt,
//! battery...) are known functions of time, sampled at the devices' real
//! cadences with sensor noise, with **injected events** — floods through
//! the BĐ levels, rain bursts over the Decision 18/2021 thresholds, slope
//! movement, overloaded trucks, tamper, devices going silent, coverage
//! gaps answered by late batches — and a [`TruthEvent`] for each: when the
//! true signal crossed the official level and when it came back.
//!
//! - [`month`] scripts a rainy-season month (or any number of days) for
//!   every example site: the replay harness (`telegate alerts replay`)
//!   feeds its readings to the alert engine and scores the alerts against
//!   its truth.
//! - [`demo_episode`] scripts, compressed into minutes, what `telegate demo`
//!   plays next to its fleet: a river rising through BĐ I → II → III and
//!   back, a gauge going silent, an overloaded truck.
//! - [`Encoder`] turns [`Reading`]s into the protobuf batches devices send.

mod encode;
mod episode;
mod levels;
mod month;
mod reading;
mod signal;
mod truth;

pub use encode::Encoder;
pub use episode::{EpisodeConfig, demo_episode};
pub use levels::{OfficialLevels, StationLevels};
pub use month::{MonthConfig, Scenario, month};
pub use reading::{Reading, Val};
pub use truth::TruthEvent;
