//! Alerting on the stream: the evaluator task, its outputs, and the hub the
//! operator API reads.

pub mod hub;

pub use hub::{AlertHub, AlertsView, DeviceStatus};
