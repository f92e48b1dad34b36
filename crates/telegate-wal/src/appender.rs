//! Group commit: many records, one `fdatasync`, then every record's token is
//! handed back so the reading can be acknowledged.

use std::fs::File;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use telegate_model::ErrorChain;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use crate::config::WalConfig;
use crate::error::WalError;
use crate::frame::Record;
use crate::log::{Wal, segment_path};

/// Appends records to the active segment; the only writer of the log.
#[derive(Debug)]
pub struct Appender {
    wal: Arc<Wal>,
    file: Option<File>,
    segment: u64,
    len: u64,
    linger: Duration,
    commit_bytes: usize,
    buf: Vec<u8>,
}

fn create(wal: &Wal, id: u64) -> Result<File, WalError> {
    let path = segment_path(wal.dir(), id);
    let file = File::options()
        .create_new(true)
        .append(true)
        .open(&path)
        .map_err(WalError::io(&path, "creating"))?;
    // Make the new file's directory entry durable too.
    File::open(wal.dir())
        .and_then(|d| d.sync_all())
        .map_err(WalError::io(wal.dir(), "syncing the directory"))?;
    Ok(file)
}

impl Appender {
    pub fn new(wal: Arc<Wal>, cfg: &WalConfig) -> Result<Self, WalError> {
        let segment = wal.next_segment_id();
        let file = create(&wal, segment)?;
        wal.started(segment);
        Ok(Self {
            wal,
            file: Some(file),
            segment,
            len: 0,
            linger: cfg.commit_linger,
            commit_bytes: cfg.commit_bytes.max(1),
            buf: Vec::with_capacity(cfg.commit_bytes.max(4096)),
        })
    }

    /// Append until `rx` closes. Each token goes to `acked` only after its
    /// record is fsynced. When the budget is full, waits (so nothing more is
    /// acknowledged) until the writer drains the log.
    pub async fn run<T: Send + 'static>(mut self, mut rx: mpsc::Receiver<(Record, T)>, acked: mpsc::Sender<T>) {
        let mut tokens = Vec::new();
        loop {
            let Some((record, token)) = rx.recv().await else { break };
            self.buf.clear();
            record.encode_frame(&mut self.buf);
            tokens.push(token);
            // One timer per group, not one per record (each new timer can
            // cost a wake-up of the timer driver).
            let linger = sleep_until(Instant::now() + self.linger);
            tokio::pin!(linger);
            let mut closed = false;
            while self.buf.len() < self.commit_bytes {
                tokio::select! {
                    item = rx.recv() => match item {
                        Some((record, token)) => {
                            record.encode_frame(&mut self.buf);
                            tokens.push(token);
                        }
                        None => { closed = true; break; }
                    },
                    () = &mut linger => break,
                }
            }
            self.wait_for_budget().await;
            self.write_and_sync().await;
            let stats = self.wal.stats_ref();
            stats.appended.fetch_add(tokens.len() as u64, Relaxed);
            stats.commits.fetch_add(1, Relaxed);
            // The group's tokens go on with one permit request per chunk,
            // not one per token.
            let chunk = acked.max_capacity().max(1);
            while !tokens.is_empty() {
                let n = tokens.len().min(chunk);
                match acked.reserve_many(n).await {
                    Ok(permits) => {
                        for (permit, token) in permits.zip(tokens.drain(..n)) {
                            permit.send(token);
                        }
                    }
                    Err(_) => {
                        tokens.clear();
                        closed = true;
                    }
                }
            }
            if self.len >= self.wal.segment_bytes {
                self.rotate();
            }
            if closed {
                break;
            }
        }
        // Nothing more goes to the active segment: once the tailer has read
        // it and the writer stored it, it is deleted like any other, so a
        // clean stop with everything stored leaves nothing to replay.
        self.wal.seal(self.segment);
        self.wal.close();
    }

    async fn wait_for_budget(&mut self) {
        let bytes = self.buf.len() as u64;
        if self.wal.fits(bytes) {
            return;
        }
        self.wal.stats_ref().full.store(true, Relaxed);
        tracing::warn!(dir = %self.wal.dir().display(), "WAL budget full: acknowledgements paused until InfluxDB drains the log (the broker keeps the backlog)");
        // Seal the active segment so it can be deleted once drained.
        if self.len > 0 {
            self.rotate();
        }
        while !self.wal.fits(bytes) {
            self.wal.space_freed(bytes).await;
        }
        self.wal.stats_ref().full.store(false, Relaxed);
        tracing::info!("WAL has room again: acknowledgements resumed");
    }

    /// Write the buffer and fdatasync; on failure (disk full, I/O error) cut
    /// the segment back to its last good length and retry: a reading is never
    /// acknowledged before it is durable.
    async fn write_and_sync(&mut self) {
        let mut attempt = 0u32;
        loop {
            let Some(mut file) = self.file.take() else { return };
            let buf = std::mem::take(&mut self.buf);
            let good_len = self.len;
            let (file, buf, result) = match tokio::task::spawn_blocking(move || {
                let r = file.write_all(&buf).and_then(|()| file.sync_data());
                if r.is_err() {
                    let _ = file.set_len(good_len);
                }
                (file, buf, r)
            })
            .await
            {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(error = %e, "WAL write task failed");
                    return;
                }
            };
            self.file = Some(file);
            self.buf = buf;
            match result {
                Ok(()) => {
                    if attempt > 0 {
                        self.wal
                            .stats()
                            .write_failing
                            .store(false, std::sync::atomic::Ordering::Relaxed);
                        tracing::info!(segment = self.segment, "WAL writes work again");
                    }
                    self.len += self.buf.len() as u64;
                    self.wal.committed(self.segment, self.buf.len() as u64);
                    return;
                }
                Err(e) => {
                    self.wal
                        .stats()
                        .write_failing
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    if attempt == 0 || attempt.is_power_of_two() {
                        tracing::error!(segment = self.segment, error = %e, attempt = attempt + 1, "WAL write failed; retrying (nothing is acknowledged meanwhile)");
                    }
                    // Disk full, most likely: seal what this segment holds so
                    // it is deleted once stored, whatever `segment_bytes` is
                    // (a segment never sealed is never deleted, and the disk
                    // would never free up). The retry goes to a new segment.
                    if self.len > 0 {
                        self.rotate();
                    }
                    attempt = attempt.saturating_add(1);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn rotate(&mut self) {
        let next = self.wal.next_segment_id();
        match create(&self.wal, next) {
            Ok(file) => {
                self.wal.seal(self.segment);
                self.file = Some(file);
                self.segment = next;
                self.len = 0;
                self.wal.started(next);
            }
            Err(e) => {
                tracing::error!(error = %ErrorChain(&e), "cannot start a new WAL segment; continuing in the current one")
            }
        }
    }
}
