//! The log directory: segments, their accounting, recovery and replay.

use std::collections::{BTreeMap, VecDeque};

use crate::tailer::Tailer;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use tokio::sync::Notify;

use crate::config::WalConfig;
use crate::error::WalError;

telegate_model::stats! {
    /// Counters for logs and metrics; each declared family is on
    /// `/metrics` while the WAL is on.
    pub struct WalStats {
        gauge bytes: "telegate_wal_bytes" "Bytes in the WAL.",
        gauge segments: "telegate_wal_segments" "WAL segment files.",
        /// Records appended and group commits made (the benchmarks' rates).
        pub appended: AtomicU64,
        pub commits: AtomicU64,
        flag full: "telegate_wal_full"
            "1 while the WAL budget is exhausted (acknowledgements paused).",
        /// Disk full, read-only, I/O error: nothing is acknowledged
        /// meanwhile, and `/readyz` says so.
        flag write_failing: "telegate_wal_write_failing" "1 while writes to the WAL fail.",
        counter replayed: "telegate_wal_replayed_total" "Records replayed from a previous run's WAL.",
        counter corrupt_frames: "telegate_wal_corrupt_frames_total" "Corrupt WAL frames quarantined.",
        /// Bytes of torn last frames cut off (a crash while appending).
        pub truncated_bytes: AtomicU64,
    }
}

#[derive(Debug, Default)]
struct Segment {
    bytes: u64,
    /// Records handed out (appended or replayed) and not yet released.
    outstanding: u64,
    /// The appender will add nothing more (rotated, or left by a previous run).
    sealed: bool,
    /// The tailer has read past its end.
    read_done: bool,
    /// When its first record was committed (file time for a previous run's
    /// segment, whose commit groups are not known).
    since: Option<SystemTime>,
    /// Commit groups not known to be wholly stored: (end offset, commit time).
    groups: VecDeque<(u64, SystemTime)>,
    /// Reads of the tailer not wholly released: (records handed out through
    /// this read, the read's start offset).
    reads: VecDeque<(u64, u64)>,
    handed: u64,
    released: u64,
    /// Where the tailer has read to.
    read_to: u64,
    /// Every record before this offset is stored: where the tailer had read
    /// to the last time all it had handed out was released. What
    /// [`Wal::checkpoint`] saves.
    clear_to: u64,
}

impl Segment {
    /// Offset of the oldest byte not known to be stored: the start of the
    /// oldest read with records not all released, else what is not read yet.
    fn pending_offset(&self) -> Option<u64> {
        self.reads
            .front()
            .map(|&(_, start)| start)
            .or((self.read_to < self.bytes).then_some(self.read_to))
    }

    /// Forget commit groups that are wholly stored.
    fn prune(&mut self) {
        let stored_to = self.pending_offset().unwrap_or(self.bytes);
        while self.groups.front().is_some_and(|&(end, _)| end <= stored_to) {
            self.groups.pop_front();
        }
    }
}

#[derive(Debug, Default)]
struct State {
    segments: BTreeMap<u64, Segment>,
    total: u64,
    /// The active segment and how many of its bytes are fsynced.
    committed: (u64, u64),
    /// The appender has finished (shutdown): once caught up, the tailer ends.
    closed: bool,
}

/// The shared log: accounting of every segment and the budget.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    pub(crate) segment_bytes: u64,
    budget: u64,
    state: Mutex<State>,
    space: Notify,
    pub(crate) new_data: Notify,
    stats: Arc<WalStats>,
    next_segment: AtomicU64,
    /// Bytes saved in `quarantine/`, bounded by [`crate::QUARANTINE_MAX_BYTES`].
    quarantine_bytes: AtomicU64,
}

/// The segment a record was read from: what releases it (once stored or
/// dead-lettered) so the segment can be deleted. Nothing else is a
/// `SegmentId`: an MQTT sequence number, for one, is its own type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentId(pub u64);

/// The file naming, per segment, the offset before which all is stored.
const CHECKPOINT: &str = "checkpoint";

/// The last checkpoint: segment → offset before which all was stored. A
/// missing or unreadable checkpoint means "nothing known stored" (replay
/// all: safe, merely slower).
fn read_checkpoint(dir: &Path) -> BTreeMap<u64, u64> {
    let Ok(text) = std::fs::read_to_string(dir.join(CHECKPOINT)) else {
        return BTreeMap::new();
    };
    text.lines()
        .filter_map(|l| {
            let (id, offset) = l.split_once(' ')?;
            Some((id.parse().ok()?, offset.parse().ok()?))
        })
        .collect()
}

pub(crate) fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.wal"))
}

impl Wal {
    /// Open (creating) the log. Returns the log and the tailer that reads it
    /// in order — first what a previous run left, then what is appended.
    pub fn open(dir: &Path, cfg: &WalConfig) -> Result<(Arc<Wal>, Tailer), WalError> {
        std::fs::create_dir_all(dir.join("quarantine")).map_err(WalError::io(dir, "creating the directory"))?;
        let mut existing = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(WalError::io(dir, "listing"))? {
            let entry = entry.map_err(WalError::io(dir, "listing"))?;
            let name = entry.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".wal"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let meta = entry.metadata().map_err(WalError::io(&entry.path(), "stat"))?;
            existing.push((id, meta.len(), meta.modified().ok()));
        }
        existing.sort_unstable();
        let stored = read_checkpoint(dir);
        let mut state = State::default();
        let mut old = VecDeque::new();
        for &(id, bytes, since) in &existing {
            // What a previous run had stored is not read again.
            let start = stored.get(&id).copied().unwrap_or(0).min(bytes);
            old.push_back((id, bytes, start));
            state.segments.insert(
                id,
                Segment {
                    bytes,
                    outstanding: 0,
                    sealed: true,
                    read_done: false,
                    since: since.or_else(|| Some(SystemTime::now())),
                    read_to: start,
                    clear_to: start,
                    ..Segment::default()
                },
            );
            state.total += bytes;
        }
        let stats = Arc::new(WalStats::default());
        stats.bytes.store(state.total, Relaxed);
        stats.segments.store(existing.len() as u64, Relaxed);
        let next = existing.last().map_or(1, |(id, _, _)| id + 1);
        // A tiny budget must still let segments seal and be deleted.
        let segment_bytes = cfg.segment_bytes.min(cfg.budget_bytes / 4).max(4096);
        state.committed = (next, 0);
        let wal = Arc::new(Wal {
            dir: dir.to_owned(),
            segment_bytes,
            budget: cfg.budget_bytes,
            state: Mutex::new(state),
            space: Notify::new(),
            new_data: Notify::new(),
            stats,
            next_segment: AtomicU64::new(next),
            quarantine_bytes: AtomicU64::new(crate::damage::quarantined_bytes(dir)),
        });
        let tailer = Tailer::new(wal.clone(), old, next);
        Ok((wal, tailer))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn stats(&self) -> Arc<WalStats> {
        self.stats.clone()
    }

    /// Age of the oldest reading not yet stored (or dead-lettered); `None`
    /// when everything written is stored. Taken from the commit time of the
    /// oldest commit group holding a reading the tailer has not read, or
    /// has handed out in a read whose records are not all released yet —
    /// so it is exact to one commit group (5 ms by default) while InfluxDB
    /// keeps up, and to one tailer read (up to 4 MiB of the log) when it is
    /// behind. A segment a previous run left counts from its file's
    /// modification time (its commit times are not kept).
    pub fn oldest_pending_age(&self) -> Option<std::time::Duration> {
        let st = self.lock();
        st.segments
            .values()
            .find_map(|s| {
                let pending = s.pending_offset()?;
                s.groups
                    .iter()
                    .find(|&&(end, _)| end > pending)
                    .map(|&(_, t)| t)
                    .or(s.since)
            })
            .map(|t| t.elapsed().unwrap_or_default())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves only counters behind; keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn next_segment_id(&self) -> u64 {
        self.next_segment.fetch_add(1, Relaxed)
    }

    /// `bytes` more bytes of `segment` are fsynced: the tailer may read them.
    pub(crate) fn committed(&self, segment: u64, bytes: u64) {
        let mut st = self.lock();
        let seg = st.segments.entry(segment).or_default();
        seg.bytes += bytes;
        let now = SystemTime::now();
        seg.since.get_or_insert(now);
        seg.groups.push_back((seg.bytes, now));
        st.total += bytes;
        st.committed = if st.committed.0 == segment {
            (segment, st.committed.1 + bytes)
        } else {
            (segment, bytes)
        };
        self.stats.bytes.store(st.total, Relaxed);
        self.stats.segments.store(st.segments.len() as u64, Relaxed);
        drop(st);
        self.new_data.notify_waiters();
    }

    /// The appender moved to a new, empty segment.
    pub(crate) fn started(&self, segment: u64) {
        let mut st = self.lock();
        st.segments.entry(segment).or_default();
        st.committed = (segment, 0);
        drop(st);
        self.new_data.notify_waiters();
    }

    /// The appender has stopped for good.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.new_data.notify_waiters();
    }

    /// Where fsynced data ends, and whether the appender has stopped.
    pub(crate) fn committed_end(&self) -> ((u64, u64), bool) {
        let st = self.lock();
        (st.committed, st.closed)
    }

    /// The tailer read `segment` from `from` to `to` and handed out
    /// `records` records found there.
    pub(crate) fn handed_out(&self, segment: u64, records: u64, from: u64, to: u64) {
        if let Some(seg) = self.lock().segments.get_mut(&segment) {
            seg.outstanding += records;
            if records > 0 {
                seg.handed += records;
                seg.reads.push_back((seg.handed, from));
            }
            seg.read_to = seg.read_to.max(to);
            if seg.released == seg.handed {
                seg.clear_to = seg.read_to;
            }
            seg.prune();
        }
    }

    /// The tailer has read all of `segment`.
    pub(crate) fn read_past(&self, segment: u64) {
        let mut st = self.lock();
        if let Some(seg) = st.segments.get_mut(&segment) {
            seg.read_done = true;
        }
        self.collect(&mut st, segment);
    }

    /// No more records go to `segment`.
    pub(crate) fn seal(&self, segment: u64) {
        let mut st = self.lock();
        if let Some(seg) = st.segments.get_mut(&segment) {
            seg.sealed = true;
        }
        self.collect(&mut st, segment);
    }

    /// One record of `segment` is stored (or dead-lettered): when a sealed
    /// segment has none left, its file is deleted.
    pub fn release(&self, SegmentId(segment): SegmentId) {
        let mut st = self.lock();
        if let Some(seg) = st.segments.get_mut(&segment) {
            seg.outstanding = seg.outstanding.saturating_sub(1);
            seg.released += 1;
            while seg.reads.front().is_some_and(|&(through, _)| through <= seg.released) {
                seg.reads.pop_front();
            }
            // Releases come out of order (several writers): only when all
            // handed out is released is everything read known to be stored.
            if seg.released >= seg.handed {
                seg.clear_to = seg.read_to;
            }
            seg.prune();
        }
        self.collect(&mut st, segment);
    }

    fn collect(&self, st: &mut State, segment: u64) {
        let drained = st
            .segments
            .get(&segment)
            .is_some_and(|s| s.sealed && s.read_done && s.outstanding == 0);
        if !drained {
            return;
        }
        let path = segment_path(&self.dir, segment);
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::error!(path = %path.display(), error = %e, "cannot delete a drained WAL segment; keeping it counted");
            return;
        }
        if let Some(seg) = st.segments.remove(&segment) {
            st.total = st.total.saturating_sub(seg.bytes);
        }
        self.stats.bytes.store(st.total, Relaxed);
        self.stats.segments.store(st.segments.len() as u64, Relaxed);
        self.space.notify_waiters();
    }

    /// Whether `bytes` more fit in the budget (an empty log always takes one record).
    pub(crate) fn fits(&self, bytes: u64) -> bool {
        let st = self.lock();
        st.total == 0 || st.total + bytes <= self.budget
    }

    /// Wait until something is deleted.
    pub(crate) async fn space_freed(&self, bytes: u64) {
        let notified = self.space.notified();
        if self.fits(bytes) {
            return;
        }
        notified.await;
    }

    /// Bytes in `segment` so far.
    pub(crate) fn bytes_in(&self, segment: u64) -> u64 {
        self.lock().segments.get(&segment).map_or(0, |s| s.bytes)
    }

    pub(crate) fn stats_ref(&self) -> &WalStats {
        &self.stats
    }

    /// Save, for every segment, the offset before which every record is
    /// stored (`checkpoint`, written to a temporary file, fsynced, renamed):
    /// the next start reads each segment from there, so a restart replays
    /// only what was not stored — after a clean stop nothing, after a crash
    /// what was not stored when the checkpoint was last written.
    pub fn checkpoint(&self) -> Result<(), WalError> {
        let text: String = {
            let st = self.lock();
            st.segments
                .iter()
                .filter(|(_, s)| s.clear_to > 0)
                .map(|(id, s)| format!("{id} {}\n", s.clear_to))
                .collect()
        };
        let path = self.dir.join(CHECKPOINT);
        let tmp = self.dir.join("checkpoint.tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut f, text.as_bytes())?;
            f.sync_data()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(WalError::io(&path, "writing the checkpoint"))
    }

    /// A previous run's torn tail was cut off `segment`: it now holds `len` bytes.
    pub(crate) fn truncated(&self, segment: u64, len: u64) {
        let mut st = self.lock();
        if let Some(seg) = st.segments.get_mut(&segment) {
            let cut = seg.bytes.saturating_sub(len);
            seg.bytes = len;
            st.total = st.total.saturating_sub(cut);
            self.stats.bytes.store(st.total, Relaxed);
        }
    }

    /// Take room for `bytes` in the quarantine; false when it is full.
    pub(crate) fn reserve_quarantine(&self, bytes: u64) -> bool {
        self.quarantine_bytes
            .fetch_update(Relaxed, Relaxed, |used| {
                (used + bytes <= crate::damage::QUARANTINE_MAX_BYTES).then_some(used + bytes)
            })
            .is_ok()
    }

    /// Give back room taken for a quarantine file that could not be written.
    pub(crate) fn unreserve_quarantine(&self, bytes: u64) {
        self.quarantine_bytes.fetch_sub(bytes, Relaxed);
    }
}

#[cfg(test)]
mod tests;
