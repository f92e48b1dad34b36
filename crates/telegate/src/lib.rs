//! The telegate gateway: config, CLI and the wiring of the stage crates.
//!
//! `main.rs` only parses the command line; everything it runs lives here so
//! tests drive the same code in-process with their own shutdown token:
//! [`config::Config::load`] → [`registry::load_registry`] → [`pipeline::start`].

pub mod admin;
pub mod alerting;
pub mod broker;
pub mod check;
pub mod cli;
pub mod config;
pub mod console;
pub mod decommission;
pub mod demo;
pub mod devices;
pub mod episode;
pub mod feedback;
pub mod inspect;
pub mod metrics;
pub mod operators;
pub mod pipeline;
pub mod quarantine;
pub mod registry;
pub mod reload;
pub mod replay;
pub mod simulate;
mod stages;
pub mod stats;
pub mod supervisor;

pub use config::{Config, LoadedConfig};
pub use pipeline::{Running, start, start_watched};
pub use stats::Summary;
