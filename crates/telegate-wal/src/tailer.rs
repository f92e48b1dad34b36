//! Reads the log in order and feeds the InfluxDB writer: first the segments a
//! previous run left (recovering damage), then what the appender fsyncs, as
//! it is committed. Reading from disk, not from the appender, is what lets the
//! log absorb an InfluxDB outage: the appender never waits for the writer.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::damage::{quarantine, resync};
use crate::error::WalError;
use crate::frame::{HEADER, MAGIC, Record, Scan, scan};
use crate::log::{SegmentId, Wal, segment_path};

/// Bytes read per step while following the log.
const CHUNK: usize = 4 * 1024 * 1024;

/// Streams records with their [`SegmentId`] in log order. Every record it hands out must
/// be released with [`Wal::release`] once stored (or dead-lettered).
///
/// Damage is healed as it is met, while the gateway runs: a corrupt or
/// short frame anywhere is quarantined, counted and skipped up to the next
/// whole frame. Only the newest segment a previous run left may end in a
/// torn frame (a crash mid-append): that tail is cut off, as it was never
/// acknowledged. An error from `run` means the log cannot be read at all
/// (the file vanished, an I/O error): the caller must stop acknowledging.
#[derive(Debug)]
pub struct Tailer {
    wal: Arc<Wal>,
    /// Segments a previous run left: id, length at start, and where to
    /// start reading (what was stored before is not read again).
    old: VecDeque<(u64, u64, u64)>,
    /// The newest of them: the only one a crash can have torn.
    newest_old: Option<u64>,
    segment: u64,
    offset: u64,
    /// The open segment being read.
    file: Option<(u64, Arc<File>)>,
}

fn join_err(e: tokio::task::JoinError) -> WalError {
    WalError::Io {
        path: Default::default(),
        op: "joining a blocking read",
        source: std::io::Error::other(e),
    }
}

impl Tailer {
    pub(crate) fn new(wal: Arc<Wal>, old: VecDeque<(u64, u64, u64)>, first_new: u64) -> Self {
        let newest_old = old.back().map(|&(id, _, _)| id);
        Self {
            wal,
            old,
            newest_old,
            segment: first_new,
            offset: 0,
            file: None,
        }
    }

    /// Segments left by a previous run that are still to be replayed.
    pub fn segments_to_replay(&self) -> usize {
        self.old.len()
    }

    /// Run until the appender has closed and everything is read, or until
    /// the receiver is gone. Each record is sent as `wrap(segment, record)`,
    /// so the next stage gets its own item type straight from the log.
    pub async fn run<T, W>(mut self, tx: mpsc::Sender<T>, wrap: W) -> Result<(), WalError>
    where
        W: Fn(SegmentId, Record) -> T,
    {
        let replay = self.old.len();
        if replay > 0 {
            tracing::info!(segments = replay, "WAL: replaying what the previous run had not stored");
        }
        let live = self.segment;
        while let Some((id, len, start)) = self.old.pop_front() {
            self.segment = id;
            self.offset = start;
            let before = self.wal.stats_ref().replayed.load(Relaxed);
            let torn_ok = self.newest_old == Some(id);
            if !self.read_to(len, torn_ok, true, &tx, &wrap).await? {
                return Ok(());
            }
            tracing::info!(
                segment = id,
                records = self.wal.stats_ref().replayed.load(Relaxed) - before,
                "WAL: replayed a segment left by the previous run"
            );
            self.done_with(id);
        }
        self.segment = live;
        self.offset = 0;
        let wal = self.wal.clone();
        loop {
            let notified = wal.new_data.notified();
            let ((segment, committed), closed) = self.wal.committed_end();
            if self.segment < segment {
                // The appender moved on: read the rest of this segment, then the next.
                let end = self.wal.bytes_in(self.segment);
                if !self.read_to(end, false, false, &tx, &wrap).await? {
                    return Ok(());
                }
                self.done_with(self.segment);
                self.segment += 1;
                self.offset = 0;
                continue;
            }
            if self.offset < committed {
                if !self.read_to(committed, false, false, &tx, &wrap).await? {
                    return Ok(());
                }
                continue;
            }
            if closed {
                // Caught up with a closed log: the last segment is read too
                // (deleted once its records are released).
                self.done_with(self.segment);
                return Ok(());
            }
            notified.await;
        }
    }

    /// Everything of `segment` is read: close it (an open file keeps a
    /// deleted segment's space taken) and let the log delete it once stored.
    fn done_with(&mut self, segment: u64) {
        self.file = None;
        self.wal.read_past(segment);
    }

    /// `len` bytes at `offset` of the current segment, read once into shared
    /// bytes that records are sliced from.
    async fn read_chunk(&mut self, offset: u64, len: usize) -> Result<Bytes, WalError> {
        let path = segment_path(self.wal.dir(), self.segment);
        let file = match &self.file {
            Some((id, f)) if *id == self.segment => f.clone(),
            _ => {
                let f = Arc::new(File::open(&path).map_err(WalError::io(&path, "opening for reading"))?);
                self.file = Some((self.segment, f.clone()));
                f
            }
        };
        let buf = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            let mut buf = vec![0; len];
            file.read_exact_at(&mut buf, offset)?;
            Ok(buf)
        })
        .await
        .map_err(join_err)?
        .map_err(WalError::io(&path, "reading"))?;
        Ok(Bytes::from(buf))
    }

    /// Read whole frames of the current segment up to byte `end`, healing
    /// damage on the way; false when the receiver is gone. `torn_ok`: a
    /// short frame at the very end is a crash's torn tail (cut off), not
    /// corruption. `replay`: the records count as replayed.
    async fn read_to<T>(
        &mut self,
        end: u64,
        torn_ok: bool,
        replay: bool,
        tx: &mpsc::Sender<T>,
        wrap: &impl Fn(SegmentId, Record) -> T,
    ) -> Result<bool, WalError> {
        let mut want = CHUNK;
        while self.offset < end {
            let len = (end - self.offset).min(want as u64) as usize;
            let buf = self.read_chunk(self.offset, len).await?;
            let at_end = self.offset + len as u64 == end;
            let mut pos = 0;
            let mut records = Vec::new();
            let mut torn = false;
            while pos < buf.len() {
                match scan(&buf[pos..]) {
                    Scan::Frame { len } => {
                        records.extend(Record::from_payload(buf.slice(pos + HEADER..pos + len)));
                        pos += len;
                    }
                    Scan::Incomplete if !at_end => {
                        if pos == 0 {
                            // One frame larger than the chunk: read exactly it.
                            want = buf.get(4..8).map_or(HEADER, |l| {
                                HEADER + u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize
                            });
                        }
                        break;
                    }
                    Scan::Incomplete if torn_ok && resync(&buf, pos + 1, true) == buf.len() => {
                        torn = true;
                        break;
                    }
                    // Corrupt, or cut short with whole frames (or committed bytes) after it.
                    _ => {
                        let next = resync(&buf, pos + 1, at_end);
                        let found = at_end || buf.get(next..next + MAGIC.len()) == Some(&MAGIC[..]);
                        if !found {
                            // The damage runs past this read: read on from it.
                            if pos == 0 {
                                want = want.saturating_mul(2);
                            }
                            break;
                        }
                        quarantine(&self.wal, self.segment, self.offset + pos as u64, &buf[pos..next]);
                        pos = next;
                    }
                }
            }
            if torn {
                self.cut_torn_tail(self.offset + pos as u64, end).await?;
            }
            let from = self.offset;
            self.offset = if torn { end } else { self.offset + pos as u64 };
            if pos > 0 {
                want = CHUNK;
            }
            self.wal
                .handed_out(self.segment, records.len() as u64, from, self.offset);
            if replay {
                self.wal.stats_ref().replayed.fetch_add(records.len() as u64, Relaxed);
            }
            for r in records {
                if tx.send(wrap(SegmentId(self.segment), r)).await.is_err() {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// A crash mid-append left a partial frame at `from..end` of the newest
    /// old segment: it was never acknowledged, so it is cut off.
    async fn cut_torn_tail(&mut self, from: u64, end: u64) -> Result<(), WalError> {
        let path = segment_path(self.wal.dir(), self.segment);
        let p = path.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let f = std::fs::OpenOptions::new().write(true).open(&p)?;
            f.set_len(from)?;
            f.sync_all()
        })
        .await
        .map_err(join_err)?
        .map_err(WalError::io(&path, "truncating a torn tail"))?;
        self.wal.truncated(self.segment, from);
        self.wal.stats_ref().truncated_bytes.fetch_add(end - from, Relaxed);
        tracing::warn!(segment = %path.display(), offset = from, bytes = end - from, "WAL: torn last frame truncated (crash while appending)");
        Ok(())
    }
}
