//! Counters shared by the stages, and the summary built from them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use telegate_influx::WriterStats;
use telegate_model::RejectReason;
use telegate_mqtt::SourceStats;
use telegate_wal::WalStats;

use crate::reload::ReloadStats;
use crate::supervisor::StageHealth;

telegate_model::stats! {
    /// Counters of the decode and dead-letter stages.
    pub struct PipelineStats {
        counter accepted_messages: "telegate_messages_accepted_total" "Messages decoded and validated.",
        counter accepted_points: "telegate_points_accepted_total"
            "Points (samples) produced by accepted messages.",
        /// Indexed by `RejectReason::index`: one labelled family, written
        /// by hand in `metrics.rs`.
        pub rejected: [AtomicU64; RejectReason::ALL.len()],
        /// Not merely queued.
        counter dead_letters_published: "telegate_dead_letters_published_total"
            "Dead letters the broker acknowledged (PUBACK).",
        counter dead_letter_errors: "telegate_dead_letter_errors_total"
            "Dead letters that could not be published (each one quarantined).",
        counter dead_letter_connects: "telegate_dead_letter_connects_total"
            "Connections made by the dead-letter publisher (its own MQTT connection).",
        counter feedback_published: "telegate_feedback_published_total"
            "Feedback messages (dead-letter envelopes, device statuses) the broker acknowledged.",
        counter feedback_errors: "telegate_feedback_errors_total"
            "Feedback messages the broker refused or that were too large (not retried).",
        /// Messages that could not be dead-lettered (see `quarantine.rs`).
        pub quarantine: Arc<crate::quarantine::QuarantineStats>,
    }
}

impl PipelineStats {
    /// Count a rejection; true when it is the first of its reason (worth a log line).
    pub fn reject(&self, reason: RejectReason) -> bool {
        self.rejected[reason.index()].fetch_add(1, Relaxed) == 0
    }
}

/// Every stage's counters.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Which stage died, if one did.
    pub stages: Arc<StageHealth>,
    pub pipeline: Arc<PipelineStats>,
    pub source: Arc<SourceStats>,
    pub writer: Arc<WriterStats>,
    /// `None` with the WAL off.
    pub wal: Option<Arc<WalStats>>,
    pub reload: Arc<ReloadStats>,
}

/// A point-in-time copy of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub received: u64,
    pub acked: u64,
    pub unacked: u64,
    pub accepted_messages: u64,
    pub accepted_points: u64,
    pub points_written: u64,
    pub write_retries: u64,
    pub points_refused_by_database: u64,
    /// Rejections by reason label; reasons never seen are left out.
    pub rejected: BTreeMap<&'static str, u64>,
    pub dead_letters_published: u64,
    pub dead_letter_errors: u64,
    pub quarantined: u64,
    pub wal_bytes: u64,
    pub wal_segments: u64,
    pub wal_full: bool,
    pub wal_replayed: u64,
    pub wal_corrupt_frames: u64,
    /// Generation of the schemas in service (1 = as started).
    pub schema_generation: u64,
    pub schema_reload_failures: u64,
    /// The pipeline stage that died (and why): the gateway stopped
    /// acknowledging and exits non-zero.
    pub dead_stage: Option<String>,
}

impl Summary {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

impl Stats {
    pub fn summary(&self) -> Summary {
        let p = &self.pipeline;
        Summary {
            received: self.source.received.load(Relaxed),
            acked: self.source.acked.load(Relaxed),
            unacked: self.source.unacked.load(Relaxed),
            accepted_messages: p.accepted_messages.load(Relaxed),
            accepted_points: p.accepted_points.load(Relaxed),
            points_written: self.writer.points_written.load(Relaxed),
            write_retries: self.writer.retries.load(Relaxed),
            points_refused_by_database: self.writer.points_refused.load(Relaxed),
            rejected: RejectReason::ALL
                .iter()
                .filter_map(|r| {
                    let n = p.rejected[r.index()].load(Relaxed);
                    (n > 0).then_some((r.label(), n))
                })
                .collect(),
            dead_letters_published: p.dead_letters_published.load(Relaxed),
            dead_letter_errors: p.dead_letter_errors.load(Relaxed),
            quarantined: p.quarantine.quarantined.load(Relaxed),
            wal_bytes: self.wal.as_ref().map_or(0, |w| w.bytes.load(Relaxed)),
            wal_segments: self.wal.as_ref().map_or(0, |w| w.segments.load(Relaxed)),
            wal_full: self.wal.as_ref().is_some_and(|w| w.full.load(Relaxed)),
            wal_replayed: self.wal.as_ref().map_or(0, |w| w.replayed.load(Relaxed)),
            wal_corrupt_frames: self.wal.as_ref().map_or(0, |w| w.corrupt_frames.load(Relaxed)),
            schema_generation: self.reload.generation(),
            schema_reload_failures: self.reload.failures(),
            dead_stage: self.stages.dead().map(|(stage, why)| format!("{stage}: {why}")),
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "received={} acked={} unacked={} accepted={} points={} written={} retries={} rejected={}",
            self.received,
            self.acked,
            self.unacked,
            self.accepted_messages,
            self.accepted_points,
            self.points_written,
            self.write_retries,
            self.rejected_total()
        )?;
        for (reason, n) in &self.rejected {
            write!(f, " {reason}={n}")?;
        }
        if self.quarantined > 0 {
            write!(f, " quarantined={}", self.quarantined)?;
        }
        if self.schema_generation > 1 || self.schema_reload_failures > 0 {
            write!(
                f,
                " schema_generation={} schema_reload_failures={}",
                self.schema_generation, self.schema_reload_failures
            )?;
        }
        if let Some(dead) = &self.dead_stage {
            write!(f, " dead_stage=\"{dead}\"")?;
        }
        if self.wal_segments > 0 || self.wal_bytes > 0 {
            write!(f, " wal_bytes={} wal_segments={}", self.wal_bytes, self.wal_segments)?;
            if self.wal_full {
                f.write_str(" wal_full")?;
            }
        }
        Ok(())
    }
}
