//! Writing points to InfluxDB: our own line-protocol encoder and a small HTTP
//! writer for both write APIs.
//!
//! [`encode_point`] appends one escaped line to a caller-owned buffer, so a
//! batch is built without per-point allocation. [`HttpWriter`] posts a batch
//! (gzip-compressed) to `/api/v2/write` (InfluxDB 2.x/3.x/Cloud, and
//! VictoriaMetrics) or `/write` (InfluxDB 1.x) and returns every non-2xx
//! answer as a [`WriteError`] that keeps status, body and headers, so the
//! caller can tell "retry later" from "this batch can never be stored".
//! [`Batcher`] is the pipeline stage: it collects points by count and linger
//! time, writes with capped exponential backoff, and reports each batch's
//! completion tokens back so the source can acknowledge.

mod batcher;
mod config;
mod error;
mod file_sink;
mod health;
mod histogram;
mod line_protocol;
mod output;
mod writer;

pub use batcher::{Batcher, RefusedLines, SharedQueue, WriteItem, WriterStats, encode_points};
pub use config::{ApiVersion, InfluxConfig};
pub use error::{EncodeError, WriteError};
pub use file_sink::{CURRENT_FILE, FileSink, FileSinkConfig};
pub use health::{Failing, WriteHealth};
pub use histogram::{BUCKETS, Histogram, HistogramSnapshot};
pub use line_protocol::{ParseError, measurement_of, parse_line, parse_lines};
pub use line_protocol::{encode_point, escape_key, escape_measurement, escape_string_value, escape_tag_value};
pub use output::Output;
pub use writer::{HttpWriter, install_crypto_provider};
