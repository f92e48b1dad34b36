//! The fleet simulator behind `telegate sim` and `telegate demo`.
//!
//! A [`Fleet`] is a set of simulated field devices spread over every sensor
//! type in a [`Registry`](telegate_schema::Registry), including types an
//! integrator added as `.proto` files that this crate has never seen. It
//! produces a deterministic stream of [`SimMessage`]s: topics rendered from
//! the configured pattern and protobuf payloads built by reflection from the
//! schemas, so the simulator follows the `.proto` files instead of
//! hard-coding them.
//!
//! Values come from simple physical models of the Lai Châu field
//! (`/work/shared/FIELD.md`, gathered in [`FieldParams`]): a Markov rain
//! process with convective bursts per site, rivers that rise after rain with
//! a lag and switch to flood mode, diurnal temperature, border-gate traffic
//! that follows opening hours, weighbridge loads around the legal limits,
//! solar batteries that drain at night, fluctuating 4G signal, and devices
//! that lose coverage for hours and then upload their buffered samples as
//! one late batch. Every value is clamped to the schema's `buf.validate`
//! bounds, so good messages are always accepted by the gateway.
//!
//! A configurable share of messages is deliberately bad ([`BadClass`]), each
//! class built so the gateway rejects it with exactly
//! [`BadClass::expected_reason`]: the demo then shows every dead-letter
//! reason.
//!
//! [`scenario`] scripts field episodes with their ground truth: a month for
//! the alert replay harness, and the few minutes `telegate demo` plays.
//!
//! [`publish`] sends the stream to an MQTT broker at the configured rate.
//! The library never prints: progress goes through a callback.

mod bad;
mod clock;
mod config;
mod fields;
mod fleet;
mod gate;
mod models;
mod params;
mod publish;
mod rng;
pub mod scenario;
mod weather;

pub use bad::BadClass;
pub use config::{FleetConfig, SimError};
pub use fleet::{Fleet, MessageKind, SimMessage};
pub use params::{CoverageParams, FieldParams, GateParams, RiverStation, SiteClimate};
pub use publish::{Limit, MAX_PACKET_BYTES, PublishProgress, PublishReport, PublishTarget, publish};

/// The next `n` messages of `fleet`, without sending anything (for
/// `telegate sim --dry-run` and tests).
pub fn dry_run(fleet: &mut Fleet, n: usize) -> Vec<SimMessage> {
    (0..n).map(|_| fleet.next_message()).collect()
}

#[cfg(test)]
mod tests;
