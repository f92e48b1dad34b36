//! The audit log: every operator action, one JSON object per line, in a
//! file opened with `O_APPEND` and never rewritten, truncated or rotated by
//! telegate (rotate it with `logrotate`'s `copytruncate` off: move it away
//! and the gateway keeps writing to the moved file until restarted, or
//! leave it — a busy control room writes a few hundred lines a day).
//!
//! ```json
//! {"time":"2026-12-06T10:31:07.412Z","who":"lan","role":"operator","action":"ack","target":"alert 3f1c9a0b7d2e4f18 (flood-muong-te rl-001)","note":"on my way to the station","addr":"10.0.4.21"}
//! ```
//!
//! Each line goes out in one `write` (so lines of the gateway and of a
//! concurrent `telegate user` never interleave) and is flushed to disk
//! (`fdatasync`) before the action is answered.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How much of the file's end `GET /api/audit` reads.
const TAIL_BYTES: u64 = 512 * 1024;

#[derive(Debug, Error)]
pub enum AuditError {
    #[error("{path}: cannot open the audit log. Fix: point admin.console.audit_file at a writable file")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot write the audit log")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot read the audit log")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// UTC, RFC 3339 with milliseconds.
    pub time: String,
    /// The user name; `token` for the machine bearer token, `system` for
    /// the gateway itself (a silence that expired), `cli` for a `telegate
    /// user` command (with the OS user in `note`).
    pub who: String,
    /// The actor's role, when it has one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub role: String,
    /// `login`, `login_failed`, `login_locked`, `logout`, `ack`, `silence`,
    /// `unsilence`, `silence_expired`, `decommission`, `user_add`,
    /// `user_passwd`, `user_remove`.
    pub action: String,
    /// What was acted on (an alert, a silence, a user, a device).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// The operator's note or reason, or why an action failed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// The client address, for actions over HTTP.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub addr: String,
}

impl AuditEntry {
    /// An entry stamped now.
    pub fn now(who: &str, action: &str) -> AuditEntry {
        AuditEntry {
            time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            who: who.to_owned(),
            role: String::new(),
            action: action.to_owned(),
            target: String::new(),
            note: String::new(),
            addr: String::new(),
        }
    }

    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.role = role.into();
        self
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = target.into();
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }

    pub fn addr(mut self, addr: impl Into<String>) -> Self {
        self.addr = addr.into();
        self
    }
}

/// The open audit log.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl AuditLog {
    /// Open (create) `path` for appending only.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let err = |source| AuditError::Open {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut opts = OpenOptions::new();
        opts.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o640);
        }
        let file = opts.open(path).map_err(err)?;
        Ok(AuditLog {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one entry and flush it to disk. Blocking: small, rare writes.
    pub fn append(&self, entry: &AuditEntry) -> Result<(), AuditError> {
        let err = |source| AuditError::Write {
            path: self.path.display().to_string(),
            source,
        };
        let mut line = serde_json::to_vec(entry).map_err(|e| err(std::io::Error::other(e)))?;
        line.push(b'\n');
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        f.write_all(&line).map_err(err)?;
        f.sync_data().map_err(err)
    }

    /// [`AuditLog::append`], logging a failure instead of returning it (for
    /// actions that already happened: the action stands, the log says the
    /// record is missing).
    pub fn record(&self, entry: AuditEntry) {
        if let Err(e) = self.append(&entry) {
            tracing::error!(error = %telegate_model::ErrorChain(&e), action = %entry.action, who = %entry.who, "audit entry not written");
        }
    }

    /// The newest `n` entries, newest first (read from the file's last
    /// 512 KiB; lines that do not parse are skipped).
    pub fn tail(&self, n: usize) -> Result<Vec<AuditEntry>, AuditError> {
        let err = |source| AuditError::Read {
            path: self.path.display().to_string(),
            source,
        };
        let mut f = File::open(&self.path).map_err(err)?;
        let len = f.metadata().map_err(err)?.len();
        let start = len.saturating_sub(TAIL_BYTES);
        f.seek(SeekFrom::Start(start)).map_err(err)?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).map_err(err)?;
        let text = String::from_utf8_lossy(&buf);
        let mut lines: Vec<&str> = text.lines().collect();
        if start > 0 && !lines.is_empty() {
            lines.remove(0); // cut mid-line
        }
        Ok(lines
            .iter()
            .rev()
            .filter_map(|l| serde_json::from_str(l).ok())
            .take(n)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_lines_and_never_rewrites_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit/audit.log");
        let log = AuditLog::open(&path).unwrap();
        log.append(&AuditEntry::now("lan", "login").role("operator").addr("10.0.0.1"))
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        // A second writer (the CLI) opens the same file.
        let other = AuditLog::open(&path).unwrap();
        other
            .append(&AuditEntry::now("cli", "user_add").target("minh").note("by root"))
            .unwrap();
        log.append(&AuditEntry::now("lan", "ack").target("alert 1").note("đang xử lý"))
            .unwrap();
        let after = std::fs::read(&path).unwrap();
        assert!(after.starts_with(&before), "existing bytes unchanged");
        let tail = log.tail(10).unwrap();
        let actions: Vec<_> = tail.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["ack", "user_add", "login"]);
        assert_eq!(tail[0].note, "đang xử lý");
        assert_eq!(log.tail(1).unwrap().len(), 1);
        let first: serde_json::Value = serde_json::from_slice(after.split(|&b| b == b'\n').next().unwrap()).unwrap();
        assert_eq!(first["who"], "lan");
        assert!(first.get("note").is_none(), "empty keys left out");
    }
}
