//! Writing line protocol to InfluxDB: a small HTTP client for both write
//! APIs, the batcher stage, and the file sink. The lines arrive encoded
//! (`telegate-lp` owns line protocol); this crate only moves bytes.
//!
//! [`InfluxClient`] posts a batch
//! (gzip-compressed) to `/api/v2/write` (InfluxDB 2.x/3.x/Cloud, and
//! VictoriaMetrics) or `/write` (InfluxDB 1.x) and returns every non-2xx
//! answer as a [`WriteError`] that keeps status, body and headers, so the
//! caller can tell "retry later" from "this batch can never be stored".
//! [`Batcher`] is the pipeline stage: it collects points by count and linger
//! time, writes with capped exponential backoff, and reports each batch's
//! completion tokens back so the source can acknowledge.

mod batcher;
mod client;
mod config;
mod error;
mod file_sink;
mod health;
mod output;
#[cfg(test)]
mod scripted_sink;

pub use batcher::{Batcher, RefusedLines, SharedQueue, WriteItem, WriterStats};
pub use client::{InfluxClient, install_crypto_provider};
pub use config::{ApiVersion, InfluxConfig};
pub use error::WriteError;
pub use file_sink::{CURRENT_FILE, FileSink, FileSinkConfig};
pub use health::{Failing, WriteHealth};
pub use output::Output;
