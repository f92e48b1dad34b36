//! The alert replay harness behind `telegate alerts replay`.
//!
//! [`replay`] scripts a period with [`telegate_sim::scenario::month`] — every
//! example site's devices at their real cadences, normal rainy-season
//! weather, and injected events with their ground truth — encodes each
//! reading as the protobuf batch the device would send, decodes and
//! validates it with the gateway's [`Registry`](telegate_schema::Registry),
//! and feeds the points to the real [`telegate_alert::Engine`] in event
//! time: the gateway's clock is the arrival time of each message (a late
//! batch arrives when coverage returns), and [`Engine::tick`] runs every
//! simulated minute. No MQTT, no wall clock: a month takes seconds.
//!
//! [`score`] then compares the transitions with the truth, per rule
//! ([`RuleScore`]): events missed, spurious alerts, flaps and detection
//! delay, by the matching rules documented in `docs/alerts.md` ("Replay").
//! [`Report::text`] renders the table.
//!
//! [`Engine::tick`]: telegate_alert::Engine::tick

mod error;
mod run;
mod score;
mod table;

#[cfg(test)]
mod tests;

pub use error::ReplayError;
pub use run::{ReplayOptions, Replayed, replay, run};
pub use score::{Miss, Report, RuleScore, Spurious, score};
