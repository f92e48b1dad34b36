//! Feedback for devices that cannot read MQTT 5 user properties (MQTT 3.1.1
//! firmware): both off by default.
//!
//! - [`envelope`]: a refused message, after its ordinary dead letter, is also
//!   published to `{feedback.prefix}/{device_id}/dead-letter` as a
//!   `telegate.v1.DeadLetterEnvelope` (reason, detail, original topic and
//!   payload in the payload, no user properties needed).
//! - [`status`]: a retained `telegate.v1.DeviceStatus` per device at
//!   `{feedback.prefix}/{device_id}/status` — the newest sample InfluxDB
//!   stored, counts, the last refusal — at most once per device per
//!   `feedback.status_interval`.
//!
//! The messages are defined in `proto/telegate/v1/feedback.proto` and encoded
//! by [`wire`]. See docs/device-protocol.md, "Feedback for MQTT 3.1.1 devices".

mod config;
pub(crate) mod envelope;
pub(crate) mod status;
mod wire;

pub use config::FeedbackConfig;
