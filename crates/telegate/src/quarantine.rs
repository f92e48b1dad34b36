//! The local quarantine: where a message goes when even its dead letter
//! cannot be published (the broker refused it, the connection dropped while
//! it was in flight, or it is larger than the broker takes).
//!
//! One JSON file per message in `quarantine.dir` (topic and payload in
//! base64, the rejection reason and detail, why it could not be
//! dead-lettered, the time), written to a temporary name, fsynced and
//! renamed. The directory is bounded by `quarantine.max_bytes`: beyond it the
//! oldest files are deleted and counted. Once its file is written the
//! message is acknowledged: nothing is ever retried forever.

use std::collections::VecDeque;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use telegate_model::{InvalidSetting, now_ns};
use telegate_mqtt::{DeadLetter, DeadLetterPublisher, Outcome};
use tokio_util::sync::CancellationToken;

/// `[quarantine]`: messages that could not even be dead-lettered.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct QuarantineConfig {
    /// Directory of quarantined messages (one JSON file each), relative to
    /// the config file.
    pub dir: String,
    /// Most bytes the directory holds; beyond it the oldest files are deleted
    /// (counted in `telegate_quarantine_dropped_total`).
    pub max_bytes: u64,
}

impl Default for QuarantineConfig {
    fn default() -> Self {
        Self {
            dir: "data/quarantine".into(),
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

impl QuarantineConfig {
    /// The `[quarantine]` part of [`crate::Config::validate`].
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.dir.is_empty() {
            return Err(InvalidSetting::new(
                "quarantine.dir",
                "is empty",
                "set a directory on a local disk, e.g. \"/var/lib/telegate/quarantine\"",
            ));
        }
        if self.max_bytes < 1024 * 1024 {
            return Err(InvalidSetting::new(
                "quarantine.max_bytes",
                format!("{} bytes is too small", self.max_bytes),
                "allow at least 1 MiB (1048576) so a few whole messages fit; 67108864 is the default",
            ));
        }
        Ok(())
    }
}

telegate_model::stats! {
    /// Counters of the quarantine.
    pub struct QuarantineStats {
        /// Since start.
        counter quarantined: "telegate_quarantined_total"
            "Messages that could not be dead-lettered, written to the quarantine directory and acknowledged.",
        counter dropped: "telegate_quarantine_dropped_total"
            "Quarantine files deleted (oldest first) to stay within quarantine.max_bytes.",
        /// A disk error.
        counter errors: "telegate_quarantine_errors_total"
            "Messages that could be neither dead-lettered nor written to the quarantine (acknowledged, lost).",
        gauge files: "telegate_quarantine_files" "Files in the quarantine directory.",
        gauge bytes: "telegate_quarantine_bytes" "Bytes in the quarantine directory.",
    }
}

/// A quarantine directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    #[error("quarantine directory {dir}")]
    Dir {
        dir: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("writing quarantine file {file}")]
    Write {
        file: PathBuf,
        #[source]
        error: std::io::Error,
    },
}

/// One quarantined message, as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Quarantined {
    /// When it was quarantined, RFC 3339, and in Unix nanoseconds.
    pub time: String,
    pub time_unix_ns: i64,
    pub topic_base64: String,
    pub payload_base64: String,
    /// The rejection's reason label and detail (why it was refused).
    pub reason: String,
    pub detail: String,
    /// Why it could not be dead-lettered.
    pub undeliverable: String,
}

/// The quarantine directory and its byte tally.
#[derive(Debug)]
pub struct Quarantine {
    dir: PathBuf,
    max_bytes: u64,
    /// Oldest first: (file, size).
    files: VecDeque<(PathBuf, u64)>,
    bytes: u64,
    next: u64,
    stats: Arc<QuarantineStats>,
}

impl Quarantine {
    /// Open (creating) the directory and count what is already in it.
    pub fn open(dir: &Path, max_bytes: u64, stats: Arc<QuarantineStats>) -> Result<Self, QuarantineError> {
        let err = |error| QuarantineError::Dir {
            dir: dir.to_path_buf(),
            error,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(err)? {
            let entry = entry.map_err(err)?;
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                let len = entry.metadata().map_err(err)?.len();
                files.push((path, len));
            } else if path.extension().is_some_and(|e| e == "tmp") {
                // A write cut short by a crash: never complete, never counted.
                let _ = std::fs::remove_file(&path);
            }
        }
        // Names start with the time: sorting by name is oldest first.
        files.sort();
        let bytes = files.iter().map(|(_, n)| n).sum();
        let q = Self {
            dir: dir.to_path_buf(),
            max_bytes,
            files: files.into(),
            bytes,
            next: 0,
            stats,
        };
        q.publish_sizes();
        Ok(q)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn publish_sizes(&self) {
        self.stats.files.store(self.files.len() as u64, Relaxed);
        self.stats.bytes.store(self.bytes, Relaxed);
    }

    /// Store one message; then delete the oldest files beyond `max_bytes`
    /// (never the one just written).
    pub fn put(&mut self, letter: &DeadLetter, undeliverable: &str) -> Result<PathBuf, QuarantineError> {
        let ns = now_ns();
        let b64 = base64::engine::general_purpose::STANDARD;
        let secs = u64::try_from(ns / 1_000_000_000).unwrap_or(0);
        let record = Quarantined {
            time: humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_secs(secs)).to_string(),
            time_unix_ns: ns,
            topic_base64: b64.encode(&letter.topic),
            payload_base64: b64.encode(&letter.payload),
            reason: letter.reason.to_owned(),
            detail: letter.detail.clone(),
            undeliverable: undeliverable.to_owned(),
        };
        let body = serde_json::to_vec_pretty(&record).unwrap_or_default();
        self.next += 1;
        let name = format!("{ns:020}-{:06}", self.next % 1_000_000);
        let file = self.dir.join(format!("{name}.json"));
        let tmp = self.dir.join(format!("{name}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &file)?;
            std::fs::File::open(&self.dir)?.sync_all()
        };
        if let Err(error) = write() {
            let _ = std::fs::remove_file(&tmp);
            self.stats.errors.fetch_add(1, Relaxed);
            return Err(QuarantineError::Write { file, error });
        }
        self.stats.quarantined.fetch_add(1, Relaxed);
        self.files.push_back((file.clone(), body.len() as u64));
        self.bytes += body.len() as u64;
        while self.bytes > self.max_bytes && self.files.len() > 1 {
            let Some((old, len)) = self.files.pop_front() else {
                break;
            };
            if let Err(e) = std::fs::remove_file(&old)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(file = %old.display(), error = %e, "cannot delete an old quarantine file");
            }
            self.bytes -= len;
            self.stats.dropped.fetch_add(1, Relaxed);
        }
        self.publish_sizes();
        Ok(file)
    }
}

/// What [`dead_letter_or_quarantine`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finished {
    /// The broker acknowledged its dead letter.
    DeadLettered,
    /// Its dead letter could not be published; it is in the quarantine (or,
    /// after a write error, lost). Acknowledge it either way.
    Quarantined,
    /// Shutdown came while the broker was unreachable: leave it
    /// unacknowledged (it is redelivered).
    GaveUp,
}

/// Where refused messages end: the dead-letter topic, or the quarantine
/// when their dead letter cannot be published.
#[derive(Debug)]
pub(crate) struct RefusedOutput {
    pub(crate) publisher: DeadLetterPublisher,
    pub(crate) quarantine: Quarantine,
}

impl RefusedOutput {
    /// Connections the dead-letter publisher has made.
    pub(crate) fn connects(&self) -> u64 {
        self.publisher.connects()
    }

    pub(crate) async fn disconnect(self) {
        self.publisher.disconnect().await;
    }

    /// Dead-letter `letter`, or quarantine it when it cannot be.
    pub(crate) async fn finish(&mut self, letter: &DeadLetter, give_up: &CancellationToken) -> Finished {
        dead_letter_or_quarantine(&mut self.publisher, &mut self.quarantine, letter, give_up).await
    }
}

async fn dead_letter_or_quarantine(
    publisher: &mut DeadLetterPublisher,
    quarantine: &mut Quarantine,
    letter: &DeadLetter,
    give_up: &CancellationToken,
) -> Finished {
    match publisher.deliver(letter, give_up).await {
        None => Finished::GaveUp,
        Some(Outcome::Published) => Finished::DeadLettered,
        Some(Outcome::Undeliverable { why }) => {
            let topic = String::from_utf8_lossy(&letter.topic);
            let topic: String = topic.chars().take(200).collect();
            match quarantine.put(letter, &why) {
                Ok(file) => tracing::warn!(
                    %topic, reason = letter.reason, undeliverable = %why, file = %file.display(),
                    "message cannot be dead-lettered; quarantined and acknowledged"
                ),
                Err(e) => tracing::error!(
                    %topic, reason = letter.reason, undeliverable = %why, error = %telegate_model::ErrorChain(&e),
                    "message cannot be dead-lettered nor quarantined; acknowledged and LOST"
                ),
            }
            Finished::Quarantined
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn letter(n: usize) -> DeadLetter {
        DeadLetter {
            topic: Bytes::from(format!("telemetry/s/d{n}/x")),
            payload: Bytes::from(vec![0xffu8; 100]),
            reason: "device_id_mismatch",
            detail: "d\u{FFFF}".into(),
        }
    }

    #[test]
    fn stores_one_file_per_message_and_drops_the_oldest_beyond_the_cap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stats = Arc::new(QuarantineStats::default());
        let mut q = Quarantine::open(dir.path(), 1_000, stats.clone()).expect("opens");
        let first = q.put(&letter(0), "refused").expect("written");
        let body: Quarantined = serde_json::from_slice(&std::fs::read(&first).expect("read")).expect("json");
        let b64 = base64::engine::general_purpose::STANDARD;
        assert_eq!(b64.decode(&body.topic_base64).expect("b64"), b"telemetry/s/d0/x");
        assert_eq!(b64.decode(&body.payload_base64).expect("b64"), vec![0xffu8; 100]);
        assert_eq!(body.reason, "device_id_mismatch");
        assert_eq!(body.detail, "d\u{FFFF}");
        assert_eq!(body.undeliverable, "refused");
        let one = std::fs::metadata(&first).expect("meta").len();
        assert!(one > 300 && one < 1_000, "{one}");
        for n in 1..10 {
            q.put(&letter(n), "refused").expect("written");
        }
        let kept = (1_000 / one) as usize;
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(names.len(), kept);
        assert!(!first.exists(), "the oldest went first");
        assert_eq!(stats.quarantined.load(Relaxed), 10);
        assert_eq!(stats.dropped.load(Relaxed), 10 - kept as u64);
        assert_eq!(stats.files.load(Relaxed), kept as u64);
        assert!(stats.bytes.load(Relaxed) <= 1_000);
        // Reopened: the tally is rebuilt from the directory.
        let stats2 = Arc::new(QuarantineStats::default());
        let q2 = Quarantine::open(dir.path(), 1_000, stats2.clone()).expect("reopens");
        assert_eq!(stats2.files.load(Relaxed), kept as u64);
        assert_eq!(stats2.bytes.load(Relaxed), stats.bytes.load(Relaxed));
        assert_eq!(q2.dir(), dir.path());
    }

    #[test]
    fn a_file_larger_than_the_cap_is_kept_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stats = Arc::new(QuarantineStats::default());
        let mut q = Quarantine::open(dir.path(), 10, stats.clone()).expect("opens");
        q.put(&letter(0), "x").expect("written");
        q.put(&letter(1), "x").expect("written");
        assert_eq!(stats.files.load(Relaxed), 1);
        assert_eq!(stats.dropped.load(Relaxed), 1);
    }
}
