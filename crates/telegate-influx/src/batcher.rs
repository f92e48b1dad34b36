use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use telegate_model::ErrorChain;
use telegate_model::retry::backoff;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::config::InfluxConfig;
use crate::error::WriteError;
use crate::output::Output;

/// The write queue shared by concurrent batchers.
pub type SharedQueue<T> = Arc<tokio::sync::Mutex<mpsc::Receiver<WriteItem<T>>>>;

/// One message's points, already encoded as newline-terminated line
/// protocol (the form the write-ahead log keeps), plus the token that
/// completes it.
#[derive(Debug)]
pub struct WriteItem<T> {
    pub lines: Bytes,
    pub token: T,
}

/// Lines of one message that the database refused for good (a 400 such as a
/// field type conflict), with the database's own message. The token completes
/// only once these lines are dead-lettered: the batcher does not send it to
/// `done`.
#[derive(Debug)]
pub struct RefusedLines<T> {
    pub token: T,
    /// The refused lines, newline-terminated line protocol.
    pub lines: Vec<u8>,
    /// What the database answered for (the first of) them.
    pub error: String,
}

telegate_model::stats! {
    /// Counters the batcher keeps; read them for logs and metrics.
    pub struct WriterStats {
        counter points_written: "telegate_points_written_total" "Points the database confirmed (2xx).",
        counter points_refused: "telegate_points_refused_total"
            "Points the database refused for good (dead-lettered with its message).",
        counter batches_written: "telegate_write_batches_total" "Batches written.",
        counter retries: "telegate_write_retries_total" "Write attempts that failed and were retried.",
        /// Batches the database refused in part or whole (then split to find the bad lines).
        pub batches_refused: AtomicU64,
        /// Successful or not.
        histogram write_seconds: "telegate_write_duration_seconds"
            "Duration of each write request to the database.",
        /// False until the first such answer.
        flag reachable: "telegate_influx_reachable"
            "1 when the last write got an answer that was not a network error or 5xx.",
        /// The batchers' one shared health state: a write that succeeds after
        /// failures wakes every batcher waiting out a backoff.
        recovered: tokio::sync::Notify,
    }
}

/// The writer stage: batch by count and linger, write with retries, then hand
/// every token of the batch to `done` — only after the database answered 2xx,
/// never before. When the database refuses a batch for good (400, 413, 422),
/// the batch is split in halves until each refused line is alone; the good
/// lines are stored (rewriting a point is harmless: same identity) and each
/// refused line goes to `refused` with the database's message.
///
/// `done` receives `D`, what the token converts into (e.g. just the message's
/// sequence number), so the acknowledging side need not know the token type.
#[derive(Debug)]
pub struct Batcher<T, D = T> {
    writer: Output,
    batch_size: usize,
    linger: Duration,
    retry_initial: Duration,
    retry_max: Duration,
    stats: Arc<WriterStats>,
    done: mpsc::Sender<D>,
    refused: mpsc::Sender<RefusedLines<T>>,
    /// Stops retrying (on a shutdown deadline): the batch stays unacknowledged
    /// and the broker redelivers it later.
    abort: CancellationToken,
    lines: Vec<u8>,
    /// Per item (message): the end offset of its lines in `lines`.
    items: Vec<usize>,
    /// Lines (points) in the batch.
    points: usize,
    /// Per line: its end offset in `lines` and the index of its item in
    /// `tokens`. Built only when the database refuses the batch (the rare
    /// path that isolates the refused lines).
    spans: Vec<(usize, usize)>,
    tokens: Vec<T>,
}

/// While the database cannot be reached at all, a batcher waiting out its
/// backoff pings it this often and retries as soon as it answers: a long
/// backoff (`retry_max`, 30 s by default) never delays recovery.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// The write was refused for good, or the batcher was told to abort.
enum Failed {
    Refused(WriteError),
    Aborted,
}

impl<T: Into<D> + Send + 'static, D: Send + 'static> Batcher<T, D> {
    pub fn new(
        cfg: &InfluxConfig,
        writer: impl Into<Output>,
        stats: Arc<WriterStats>,
        done: mpsc::Sender<D>,
        refused: mpsc::Sender<RefusedLines<T>>,
        abort: CancellationToken,
    ) -> Self {
        Self {
            writer: writer.into(),
            batch_size: cfg.batch_size.max(1),
            linger: cfg.linger,
            retry_initial: cfg.retry_initial,
            retry_max: cfg.retry_max,
            stats,
            done,
            refused,
            abort,
            lines: Vec::with_capacity(cfg.batch_size.max(1) * 128),
            items: Vec::new(),
            points: 0,
            spans: Vec::new(),
            tokens: Vec::new(),
        }
    }

    /// Run until `rx` is closed and drained (or `abort` fires).
    pub async fn run(mut self, mut rx: mpsc::Receiver<WriteItem<T>>) {
        loop {
            let Some(closed) = self.gather(&mut rx).await else {
                break;
            };
            if !self.flush().await || closed {
                break;
            }
        }
    }

    /// Like [`run`](Self::run), as one of several batchers taking turns on
    /// one queue: while one waits for the database, the next gathers its
    /// batch, so the database sees `concurrency` writes at once — the
    /// database's own ceiling needs more than one request in flight.
    /// Completions may then arrive out of order; the source acknowledges in
    /// order regardless.
    pub async fn run_shared(mut self, rx: SharedQueue<T>) {
        loop {
            let gathered = {
                let mut rx = tokio::select! {
                    guard = rx.lock() => guard,
                    () = self.abort.cancelled() => break,
                };
                self.gather(&mut rx).await
            };
            let Some(closed) = gathered else { break };
            if !self.flush().await || closed {
                break;
            }
        }
    }

    /// Collect one batch: wait for a first item, then take more until the
    /// batch is full or `linger` has passed. `None`: nothing more will come
    /// (closed, or aborted); `Some(closed)`: a batch is ready.
    async fn gather(&mut self, rx: &mut mpsc::Receiver<WriteItem<T>>) -> Option<bool> {
        let first = tokio::select! {
            item = rx.recv() => item,
            () = self.abort.cancelled() => None,
        };
        self.add(first?);
        // One timer per batch, not one per item: a timer registered anew on
        // every message cost a wake-up of the timer driver each.
        let linger = sleep_until(Instant::now() + self.linger);
        tokio::pin!(linger);
        while self.points < self.batch_size {
            tokio::select! {
                item = rx.recv() => match item {
                    Some(item) => self.add(item),
                    None => return Some(true),
                },
                () = &mut linger => break,
            }
        }
        Some(false)
    }

    /// Append one message's lines as they are (one copy, no splitting):
    /// only their count is taken.
    fn add(&mut self, item: WriteItem<T>) {
        let start = self.lines.len();
        self.lines.extend_from_slice(&item.lines);
        if item.lines.last().is_some_and(|&b| b != b'\n') {
            self.lines.push(b'\n');
        }
        self.points += self.lines[start..].iter().filter(|&&b| b == b'\n').count();
        self.items.push(self.lines.len());
        self.tokens.push(item.token);
    }

    /// Split the batch into lines (`spans`): only to isolate refused lines.
    fn split_lines(&mut self) {
        self.spans.clear();
        let mut start = 0;
        for (index, &end) in self.items.iter().enumerate() {
            let mut at = start;
            for line in self.lines[start..end].split_inclusive(|&b| b == b'\n') {
                at += line.len();
                self.spans.push((at, index));
            }
            start = end;
        }
    }

    /// Byte range of lines `from..to` (after [`split_lines`](Self::split_lines)).
    fn line_range(&self, from: usize, to: usize) -> std::ops::Range<usize> {
        let start = if from == 0 { 0 } else { self.spans[from - 1].0 };
        start..self.spans[to - 1].0
    }

    /// Write `bytes` of the batch (`points` lines), retrying what can succeed later.
    async fn write_with_retry(&self, bytes: std::ops::Range<usize>, points: usize) -> Result<(), Failed> {
        let mut attempt = 0u32;
        loop {
            let started = std::time::Instant::now();
            let result = self.writer.write(&self.lines[bytes.clone()]).await;
            self.stats.write_seconds.record(started.elapsed());
            self.stats
                .reachable
                .store(result.as_ref().err().is_none_or(|e| !e.is_retryable()), Relaxed);
            match result {
                Ok(()) => {
                    if attempt > 0 {
                        tracing::info!(attempts = attempt + 1, "InfluxDB write succeeded after retries");
                        // The others need not wait out their backoff.
                        self.stats.recovered.notify_waiters();
                    }
                    return Ok(());
                }
                Err(e) if !e.is_retryable() => return Err(Failed::Refused(e)),
                Err(e) => {
                    self.stats.retries.fetch_add(1, Relaxed);
                    let delay = e
                        .retry_after()
                        .unwrap_or_else(|| backoff(self.retry_initial, self.retry_max, attempt));
                    if attempt == 0 || attempt.is_power_of_two() {
                        tracing::warn!(error = %ErrorChain(&e), hint = e.hint().unwrap_or(""), attempt = attempt + 1, retry_in = ?delay, points, "InfluxDB write failed; retrying");
                    }
                    attempt = attempt.saturating_add(1);
                    // Unreachable (not an answer such as 503 or 429, whose
                    // backoff is the database's wish): probe for its return.
                    let unreachable = matches!(e, WriteError::Transport { .. });
                    let woken = self.stats.recovered.notified();
                    tokio::select! {
                        () = sleep(delay) => {}
                        () = woken => {}
                        () = self.probe(), if unreachable => {}
                        () = self.abort.cancelled() => return Err(Failed::Aborted),
                    }
                }
            }
        }
    }

    /// Resolves once the database answers a ping (checked every
    /// [`PROBE_INTERVAL`]).
    async fn probe(&self) {
        loop {
            sleep(PROBE_INTERVAL).await;
            if self.writer.ping().await.is_ok() {
                return;
            }
        }
    }

    /// Write the pending batch and complete its tokens; false when aborted
    /// or when nobody listens for completions any more.
    async fn flush(&mut self) -> bool {
        let n = self.points;
        // Lines refused for good, with the database's message.
        let mut bad: Vec<(usize, String)> = Vec::new();
        if n > 0 {
            match self.write_with_retry(0..self.lines.len(), n).await {
                Ok(()) => {}
                Err(Failed::Aborted) => return false,
                Err(Failed::Refused(e)) => {
                    self.stats.batches_refused.fetch_add(1, Relaxed);
                    tracing::warn!(error = %ErrorChain(&e), points = n, "InfluxDB refused the batch; isolating the refused lines");
                    self.split_lines();
                    let mut ranges = vec![(0, n, e)];
                    while let Some((from, to, e)) = ranges.pop() {
                        if to - from == 1 {
                            bad.push((from, ErrorChain(&e).to_string()));
                            continue;
                        }
                        let mid = from + (to - from) / 2;
                        for (a, b) in [(mid, to), (from, mid)] {
                            match self.write_with_retry(self.line_range(a, b), b - a).await {
                                Ok(()) => {}
                                Err(Failed::Aborted) => return false,
                                Err(Failed::Refused(e)) => ranges.push((a, b, e)),
                            }
                        }
                    }
                }
            }
            self.stats.points_written.fetch_add((n - bad.len()) as u64, Relaxed);
            self.stats.points_refused.fetch_add(bad.len() as u64, Relaxed);
            self.stats.batches_written.fetch_add(1, Relaxed);
        }
        // Refused lines grouped by the item (message) they came from.
        bad.sort_unstable_by_key(|(line, _)| *line);
        let mut refused: Vec<Option<(Vec<u8>, String)>> = Vec::new();
        for (line, error) in bad {
            let item = self.spans[line].1;
            if refused.len() <= item {
                refused.resize_with(item + 1, || None);
            }
            let bytes = self.lines[self.line_range(line, line + 1)].to_vec();
            match &mut refused[item] {
                Some((lines, _)) => lines.extend_from_slice(&bytes),
                slot => *slot = Some((bytes, error)),
            }
        }
        self.lines.clear();
        self.items.clear();
        self.spans.clear();
        self.points = 0;
        for (i, token) in self.tokens.drain(..).enumerate() {
            let sent = match refused.get_mut(i).and_then(Option::take) {
                Some((lines, error)) => {
                    tracing::error!(%error, "InfluxDB refused lines of a message; dead-lettering them");
                    self.refused.send(RefusedLines { token, lines, error }).await.is_ok()
                }
                None => self.done.send(token.into()).await.is_ok(),
            };
            if !sent {
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
    fn lines_are_counted_on_add_and_split_only_on_demand() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sink = crate::FileSink::open(dir.path(), &crate::FileSinkConfig::default()).expect("sink");
        let (done, _done_rx) = mpsc::channel::<u32>(4);
        let (refused, _refused_rx) = mpsc::channel(4);
        let mut b = Batcher::new(
            &InfluxConfig::default(),
            Output::from(sink),
            Arc::default(),
            done,
            refused,
            CancellationToken::new(),
        );
        for (lines, token) in [
            (&b"a v=1 1\nb v=2 2\n"[..], 0u32),
            (b"c v=3 3", 1),
            (b"", 2),
            (b"d v=4 4\n", 3),
        ] {
            b.add(WriteItem {
                lines: Bytes::from_static(lines),
                token,
            });
        }
        assert_eq!(b.points, 4);
        assert_eq!(b.lines, b"a v=1 1\nb v=2 2\nc v=3 3\nd v=4 4\n");
        assert!(b.spans.is_empty(), "no splitting on the way in");
        b.split_lines();
        assert_eq!(b.spans, [(8, 0), (16, 0), (24, 1), (32, 3)]);
        assert_eq!(&b.lines[b.line_range(1, 3)], b"b v=2 2\nc v=3 3\n");
    }
}
