use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use telegate_model::Point;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::config::InfluxConfig;
use crate::line_protocol::encode_point;
use crate::writer::HttpWriter;

/// The points of one message plus the token that completes it.
#[derive(Debug)]
pub struct WriteItem<T> {
    pub points: Vec<Point>,
    pub token: T,
}

/// Counters the batcher keeps; read them for logs and metrics.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub points_written: AtomicU64,
    pub batches_written: AtomicU64,
    pub retries: AtomicU64,
    pub batches_rejected: AtomicU64,
    pub points_rejected: AtomicU64,
    pub encode_errors: AtomicU64,
}

/// The writer stage: batch by count and linger, write with retries, then hand
/// every token of the batch to `done` — only after InfluxDB answered 2xx (or
/// refused the batch for good, which is counted in [`WriterStats`] and
/// logged with InfluxDB's message), never before.
#[derive(Debug)]
pub struct Batcher<T> {
    writer: HttpWriter,
    batch_size: usize,
    linger: Duration,
    retry_initial: Duration,
    retry_max: Duration,
    stats: Arc<WriterStats>,
    done: mpsc::Sender<T>,
    /// Stops retrying (on a shutdown deadline): the batch stays unacknowledged
    /// and the broker redelivers it later.
    abort: CancellationToken,
    lines: Vec<u8>,
    tokens: Vec<T>,
    points: usize,
}

/// Longest `Retry-After` honoured, so a bogus header cannot park the writer for days.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

fn backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = initial.saturating_mul(1u32 << attempt.min(20)).min(max);
    // Full jitter on the upper half: spreads retries of many gateways apart.
    let half = exp / 2;
    half + half.mul_f64(fastrand::f64())
}

impl<T: Send + 'static> Batcher<T> {
    pub fn new(
        cfg: &InfluxConfig,
        writer: HttpWriter,
        stats: Arc<WriterStats>,
        done: mpsc::Sender<T>,
        abort: CancellationToken,
    ) -> Self {
        Self {
            writer,
            batch_size: cfg.batch_size.max(1),
            linger: cfg.linger,
            retry_initial: cfg.retry_initial,
            retry_max: cfg.retry_max,
            stats,
            done,
            abort,
            lines: Vec::with_capacity(cfg.batch_size.max(1) * 128),
            tokens: Vec::new(),
            points: 0,
        }
    }

    /// Run until `rx` is closed and drained (or `abort` fires).
    pub async fn run(mut self, mut rx: mpsc::Receiver<WriteItem<T>>) {
        loop {
            let first = tokio::select! {
                item = rx.recv() => item,
                () = self.abort.cancelled() => None,
            };
            let Some(first) = first else { break };
            self.add(first);
            let deadline = Instant::now() + self.linger;
            let mut closed = false;
            while self.points < self.batch_size {
                tokio::select! {
                    item = rx.recv() => match item {
                        Some(item) => self.add(item),
                        None => { closed = true; break; }
                    },
                    () = sleep_until(deadline) => break,
                }
            }
            if !self.flush().await || closed {
                break;
            }
        }
    }

    fn add(&mut self, item: WriteItem<T>) {
        for p in &item.points {
            match encode_point(p, &mut self.lines) {
                Ok(()) => self.points += 1,
                Err(e) => {
                    self.stats.encode_errors.fetch_add(1, Relaxed);
                    tracing::error!(error = %e, measurement = %p.measurement, "point cannot be encoded; dropped");
                }
            }
        }
        self.tokens.push(item.token);
    }

    /// Write the pending batch; false when aborted.
    async fn flush(&mut self) -> bool {
        let mut attempt = 0u32;
        loop {
            if self.points == 0 {
                break;
            }
            match self.writer.write(&self.lines).await {
                Ok(()) => {
                    self.stats.points_written.fetch_add(self.points as u64, Relaxed);
                    self.stats.batches_written.fetch_add(1, Relaxed);
                    if attempt > 0 {
                        tracing::info!(attempts = attempt + 1, "InfluxDB write succeeded after retries");
                    }
                    break;
                }
                Err(e) if !e.is_retryable() => {
                    self.stats.batches_rejected.fetch_add(1, Relaxed);
                    self.stats.points_rejected.fetch_add(self.points as u64, Relaxed);
                    tracing::error!(error = %e, hint = e.hint().unwrap_or(""), points = self.points, "InfluxDB refused the batch");
                    break;
                }
                Err(e) => {
                    self.stats.retries.fetch_add(1, Relaxed);
                    let delay = e
                        .retry_after()
                        .map(|d| d.min(MAX_RETRY_AFTER))
                        .unwrap_or_else(|| backoff(self.retry_initial, self.retry_max, attempt));
                    if attempt == 0 || attempt.is_power_of_two() {
                        tracing::warn!(error = %e, hint = e.hint().unwrap_or(""), attempt = attempt + 1, retry_in = ?delay, points = self.points, "InfluxDB write failed; retrying");
                    }
                    attempt = attempt.saturating_add(1);
                    tokio::select! {
                        () = sleep(delay) => {}
                        () = self.abort.cancelled() => return false,
                    }
                }
            }
        }
        self.lines.clear();
        self.points = 0;
        for token in self.tokens.drain(..) {
            if self.done.send(token).await.is_err() {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let (i, m) = (Duration::from_millis(100), Duration::from_secs(5));
        for attempt in 0..40 {
            let d = backoff(i, m, attempt);
            let exp = i.saturating_mul(1 << attempt.min(20)).min(m);
            assert!(d >= exp / 2 && d <= exp, "attempt {attempt}: {d:?} vs {exp:?}");
        }
    }
}
