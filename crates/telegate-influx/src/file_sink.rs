//! A line-protocol file sink: the gateway's output when there is no
//! database — the demo, an air-gapped site, or a bench that wants to see
//! exactly what would be written. Files rotate by size and the oldest are
//! deleted, so the sink never fills the disk.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use telegate_model::InvalidSetting;

use crate::error::WriteError;

/// The `[file_sink]` config section.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileSinkConfig {
    /// Write line protocol to files instead of InfluxDB.
    pub enabled: bool,
    /// Directory of the files (relative to the config file).
    pub dir: String,
    /// Start a new file once the current one holds this many bytes.
    pub rotate_bytes: u64,
    /// Rotated files kept; older ones are deleted.
    pub keep_files: usize,
}

impl Default for FileSinkConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            dir: "data/points".into(),
            rotate_bytes: 64 * 1024 * 1024,
            keep_files: 8,
        }
    }
}

impl FileSinkConfig {
    /// The `[file_sink]` part of the gateway's config validation.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.enabled && self.dir.is_empty() {
            return Err(InvalidSetting::new(
                "file_sink.dir",
                "is empty but file_sink.enabled = true",
                "set a directory for the line-protocol files, e.g. \"data/points\"",
            ));
        }
        if self.enabled && self.rotate_bytes < 4096 {
            return Err(InvalidSetting::new(
                "file_sink.rotate_bytes",
                format!("{} bytes is too small", self.rotate_bytes),
                "use at least 4096; the default is 67108864 (64 MiB)",
            ));
        }
        Ok(())
    }
}

/// The file being written is always `points.lp`; rotated ones are
/// `points-<n>.lp` with `n` increasing, so `ls` sorts them by age.
pub const CURRENT_FILE: &str = "points.lp";

#[derive(Debug)]
struct State {
    file: File,
    written: u64,
    next_index: u64,
}

/// Appends batches to `points.lp`, rotating by size. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FileSink {
    dir: PathBuf,
    rotate_bytes: u64,
    keep_files: usize,
    state: Arc<Mutex<State>>,
}

fn io_error(path: &Path, source: std::io::Error) -> WriteError {
    WriteError::File {
        path: path.display().to_string(),
        source,
    }
}

/// Indices of rotated files in `dir`, oldest first.
fn rotated(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut found: Vec<u64> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            name.strip_prefix("points-")?.strip_suffix(".lp")?.parse().ok()
        })
        .collect();
    found.sort_unstable();
    Ok(found)
}

impl FileSink {
    /// Create the directory and open (append to) the current file.
    pub fn open(dir: &Path, cfg: &FileSinkConfig) -> Result<Self, WriteError> {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let path = dir.join(CURRENT_FILE);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        let next_index = rotated(dir).map_err(|e| io_error(dir, e))?.last().map_or(1, |n| n + 1);
        Ok(Self {
            dir: dir.to_path_buf(),
            rotate_bytes: cfg.rotate_bytes.max(1),
            keep_files: cfg.keep_files,
            state: Arc::new(Mutex::new(State {
                file,
                written,
                next_index,
            })),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Append one batch (whole lines) and flush it to the OS; rotate first
    /// when the current file is full. Runs on the blocking pool.
    pub async fn write(&self, lines: &[u8]) -> Result<(), WriteError> {
        let sink = self.clone();
        let lines = lines.to_vec();
        tokio::task::spawn_blocking(move || sink.write_blocking(&lines))
            .await
            .map_err(|source| WriteError::FileTask {
                path: self.dir.display().to_string(),
                source,
            })?
    }

    /// The synchronous write, for callers outside a runtime.
    pub fn write_blocking(&self, lines: &[u8]) -> Result<(), WriteError> {
        let mut state = self.state.lock().map_err(|_| WriteError::FilePoisoned {
            path: self.dir.display().to_string(),
        })?;
        if state.written > 0 && state.written + lines.len() as u64 > self.rotate_bytes {
            self.rotate(&mut state)?;
        }
        let path = self.dir.join(CURRENT_FILE);
        state.file.write_all(lines).map_err(|e| io_error(&path, e))?;
        state.file.flush().map_err(|e| io_error(&path, e))?;
        state.written += lines.len() as u64;
        Ok(())
    }

    fn rotate(&self, state: &mut State) -> Result<(), WriteError> {
        let current = self.dir.join(CURRENT_FILE);
        let target = self.dir.join(format!("points-{:06}.lp", state.next_index));
        std::fs::rename(&current, &target).map_err(|e| io_error(&current, e))?;
        state.next_index += 1;
        state.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&current)
            .map_err(|e| io_error(&current, e))?;
        state.written = 0;
        let old = rotated(&self.dir).map_err(|e| io_error(&self.dir, e))?;
        let excess = old.len().saturating_sub(self.keep_files);
        for n in &old[..excess] {
            let p = self.dir.join(format!("points-{n:06}.lp"));
            if let Err(e) = std::fs::remove_file(&p) {
                tracing::warn!(file = %p.display(), error = %e, "could not delete an old line-protocol file");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = FileSinkConfig {
            enabled: true,
            dir: String::new(),
            rotate_bytes: 100,
            keep_files: 2,
        };
        let sink = FileSink::open(dir.path(), &cfg).unwrap();
        let line = b"m,t=a v=1i 1\n"; // 13 bytes
        for _ in 0..40 {
            sink.write_blocking(line).unwrap();
        }
        let rot = rotated(dir.path()).unwrap();
        assert_eq!(rot.len(), 2, "{rot:?}");
        // 7 lines (91 bytes) per file: 40 lines = 5 full files + 5 lines.
        assert_eq!(rot, vec![4, 5]);
        let current = std::fs::read(dir.path().join(CURRENT_FILE)).unwrap();
        assert_eq!(current.len(), 5 * line.len());
        for n in rot {
            let f = std::fs::read(dir.path().join(format!("points-{n:06}.lp"))).unwrap();
            assert_eq!(f.len(), 7 * line.len());
        }
        // Reopening continues the numbering.
        let again = FileSink::open(dir.path(), &cfg).unwrap();
        assert_eq!(again.state.lock().unwrap().next_index, 6);
    }
}
