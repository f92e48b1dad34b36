//! Reads the log in order and feeds the InfluxDB writer: first the segments a
//! previous run left (recovering damage), then what the appender fsyncs, as
//! it is committed. Reading from disk, not from the appender, is what lets the
//! log absorb an InfluxDB outage: the appender never waits for the writer.

use std::collections::VecDeque;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::error::WalError;
use crate::frame::{HEADER, Record, Scan, scan};
use crate::log::{Wal, recover_segment, segment_path};

/// Bytes read per step while following the log.
const CHUNK: usize = 4 * 1024 * 1024;

/// Streams `(segment, record)` in log order. Every record it hands out must
/// be released with [`Wal::release`] once stored (or dead-lettered).
#[derive(Debug)]
pub struct Tailer {
    wal: Arc<Wal>,
    old: VecDeque<u64>,
    segment: u64,
    offset: u64,
}

fn join_err(e: tokio::task::JoinError) -> WalError {
    WalError::Io {
        path: Default::default(),
        op: "joining a blocking read",
        source: std::io::Error::other(e),
    }
}

impl Tailer {
    pub(crate) fn new(wal: Arc<Wal>, old: VecDeque<u64>, first_new: u64) -> Self {
        Self {
            wal,
            old,
            segment: first_new,
            offset: 0,
        }
    }

    /// Segments left by a previous run that are still to be replayed.
    pub fn segments_to_replay(&self) -> usize {
        self.old.len()
    }

    /// Run until the appender has closed and everything is read, or until
    /// the receiver is gone.
    pub async fn run(mut self, tx: mpsc::Sender<(u64, Record)>) -> Result<(), WalError> {
        while let Some(id) = self.old.pop_front() {
            let wal = self.wal.clone();
            let records = tokio::task::spawn_blocking(move || recover_segment(&wal, id))
                .await
                .map_err(join_err)??;
            tracing::info!(
                segment = id,
                records = records.len(),
                "WAL: replaying a segment left by the previous run"
            );
            self.wal.handed_out(id, records.len() as u64);
            self.wal
                .stats_ref()
                .replayed
                .fetch_add(records.len() as u64, std::sync::atomic::Ordering::Relaxed);
            for r in records {
                if tx.send((id, r)).await.is_err() {
                    return Ok(());
                }
            }
            self.wal.read_past(id);
        }
        let wal = self.wal.clone();
        loop {
            let notified = wal.new_data.notified();
            let ((segment, committed), closed) = self.wal.committed_end();
            if self.segment < segment {
                // The appender moved on: read the rest of this segment, then the next.
                let end = self.wal.bytes_in(self.segment);
                if !self.read_to(end, &tx).await? {
                    return Ok(());
                }
                self.wal.read_past(self.segment);
                self.segment += 1;
                self.offset = 0;
                continue;
            }
            if self.offset < committed {
                if !self.read_to(committed, &tx).await? {
                    return Ok(());
                }
                continue;
            }
            if closed {
                return Ok(());
            }
            notified.await;
        }
    }

    /// Read whole frames of the current segment up to byte `end`; false when
    /// the receiver is gone.
    async fn read_to(&mut self, end: u64, tx: &mpsc::Sender<(u64, Record)>) -> Result<bool, WalError> {
        let mut want = CHUNK;
        while self.offset < end {
            let path = segment_path(self.wal.dir(), self.segment);
            let (offset, len) = (self.offset, (end - self.offset).min(want as u64) as usize);
            let p = path.clone();
            let buf = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
                let mut f = std::fs::File::open(&p)?;
                f.seek(SeekFrom::Start(offset))?;
                let mut buf = vec![0; len];
                f.read_exact(&mut buf)?;
                Ok(buf)
            })
            .await
            .map_err(join_err)?
            .map_err(WalError::io(&path, "reading"))?;
            let mut pos = 0;
            let mut records = Vec::new();
            loop {
                match scan(&buf[pos..]) {
                    Scan::Frame { len } => {
                        records.extend(Record::decode_payload(&buf[pos + HEADER..pos + len]));
                        pos += len;
                    }
                    Scan::Incomplete if pos == buf.len() => break,
                    Scan::Incomplete => {
                        if pos == 0 {
                            // One frame larger than the chunk: read exactly it.
                            want = buf.get(4..8).map_or(HEADER, |l| {
                                HEADER + u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize
                            });
                        }
                        break;
                    }
                    Scan::Corrupt => {
                        return Err(WalError::Io {
                            path,
                            op: "following the log",
                            source: std::io::Error::other(format!("corrupt frame at offset {}", offset as usize + pos)),
                        });
                    }
                }
            }
            self.offset += pos as u64;
            if pos > 0 {
                want = CHUNK;
            }
            self.wal.handed_out(self.segment, records.len() as u64);
            for r in records {
                if tx.send((self.segment, r)).await.is_err() {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}
