//! The run-time schema registry: integrators add sensor types by dropping
//! `.proto` files in a directory, with no recompilation.
//!
//! [`Registry::load`] compiles the directory with `protox` (no `protoc` at
//! build or run time), finds every message annotated with `(telegate.v1.sensor)` (or named
//! in the config's type map), and compiles each into a [`SensorSchema`]: which
//! field is the device id, which holds the samples, which sample field is the
//! time, which are tags and which are typed values. [`SensorSchema::decode`]
//! then turns one payload into points, or into a [`Rejection`] saying
//! precisely what is wrong: malformed bytes, a `buf.validate` rule (evaluated
//! with `prost-protovalidate`), a non-finite number, a spoofed device id or a
//! timestamp outside the accepted window.
//!
//! That path builds a `prost_reflect::DynamicMessage` per payload. For the
//! gateway's hot path each schema is also compiled, at load time, into a
//! [`Transcoder`] that goes from the wire bytes straight to InfluxDB line
//! protocol with the same checks, output and rejections
//! ([`Registry::transcode`]); a schema using something the transcoder does
//! not reproduce exactly says why in [`SensorSchema::transcoder`] and keeps
//! the dynamic path.
//!
//! [`Rejection`]: telegate_model::Rejection

mod decode;
mod duplicates;
mod embedded;
mod error;
mod limits;
mod location;
mod mapping;
mod option_keys;
mod options;
mod registry;
mod rejections;
pub mod sample;
mod transcode;
mod warning;
mod wire_path;

pub use error::SchemaError;
pub use limits::Limits;
pub use mapping::{Column, ColumnRole, SensorSchema, TimeSource, ValueType};
pub use registry::{Registry, SchemaChanges};
pub use transcode::{TranscodeScratch, Transcoder, Unsupported};
pub use warning::SchemaWarning;

#[cfg(test)]
mod integrator_mistakes;
#[cfg(test)]
mod tests;
