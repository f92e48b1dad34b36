//! Core types every telegate stage shares, with no I/O and no async runtime.
//!
//! A device publishes a batch of samples on a topic such as
//! `telemetry/{site}/{device_id}/{sensor_type}`. [`TopicPattern`] splits that
//! topic into a [`TopicFields`]; the schema stage turns the payload into
//! [`Point`]s (one per sample) or a [`Rejection`] whose [`RejectReason`] feeds
//! a per-reason counter and the dead-letter output; the writer stage encodes
//! points as InfluxDB line protocol.
//!
//! Beside the types, the few helpers every stage needs the same way:
//! [`retry`] (backoff with jitter, the `Retry-After` cap), [`now_ns`] and
//! [`ErrorChain`] (an error with its causes, for the edge that prints it),
//! [`InvalidSetting`] (a config key's problem and fix, found by the section
//! that owns the key), and [`metric`]: the [`stats!`] declaration that makes
//! a stage's counter and its `/metrics` family one line, and the latency
//! [`metric::Histogram`].

mod clock;
mod error_chain;
mod invalid_setting;
pub mod metric;
mod point;
mod rejection;
pub mod retry;
mod secret;
mod topic;

pub use clock::{civil_from_days, now_ns};
pub use error_chain::{ErrorChain, Terse, error_chain};
pub use invalid_setting::{DelayKey, InvalidSetting};
pub use point::{FieldValue, Point};
pub use rejection::{RejectReason, Rejection};
pub use secret::{REDACTED, Secret};
pub use topic::{MAX_IDENTIFIER_LEN, TopicError, TopicFields, TopicPattern, is_valid_identifier};
