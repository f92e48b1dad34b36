//! The write-ahead log that lets the gateway acknowledge a reading as soon as
//! it is on local disk, instead of waiting for InfluxDB.
//!
//! The log is a directory of append-only segment files. Each [`Record`] (one
//! MQTT message's encoded lines plus its topic) is a frame: a magic marker,
//! the payload length, a CRC-32 of the payload, and the payload. The
//! [`Appender`] batches records and covers each batch with one `fdatasync`
//! (group commit), then hands back the records' tokens (to acknowledge them).
//! The InfluxDB writer is fed from disk by the [`Tailer`]. When the writer has
//! stored every record of a sealed segment, [`Wal::release`] deletes it. A
//! byte budget bounds the log: when it is full the appender waits, so the
//! gateway stops acknowledging and the broker keeps the backlog.
//!
//! The [`Tailer`] reads the log in order — what a previous run left (from
//! where its checkpoint says everything before was stored), then what is
//! appended — 4 MiB at a time into shared bytes that records are sliced
//! from, never loading the log whole, and feeds the writer. It heals damage
//! as it meets it, at start-up and while running: a corrupt or short frame
//! is copied to `quarantine/` (bounded by [`QUARANTINE_MAX_BYTES`]),
//! counted and skipped to the next whole frame; only the newest segment of
//! a previous run may end in a torn frame (a crash mid-append), which is
//! truncated. Records complete with their [`SegmentId`], which the
//! [`Releaser`] takes back: it deletes drained segments and checkpoints
//! what is stored so a restart replays only the rest.

mod appender;
mod config;
mod damage;
mod error;
mod frame;
mod log;
mod releaser;
mod tailer;

pub use appender::Appender;
pub use config::WalConfig;
pub use damage::QUARANTINE_MAX_BYTES;
pub use error::WalError;
pub use frame::Record;
pub use log::{SegmentId, Wal, WalStats};
pub use releaser::{CHECKPOINT_EVERY, Releaser};
pub use tailer::Tailer;
