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
/// `stored`.
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

/// The writer stage (one task per `influx.concurrency`, logged as `influx
/// writer`, counted in [`WriterStats`]): batch by count and linger, write to
/// its [`Output`] with retries, then hand every token of the batch to
/// `stored` — only after the database answered 2xx, never before. When the database refuses a batch for good (400, 413, 422),
/// the batch is split in halves until each refused line is alone; the good
/// lines are stored (rewriting a point is harmless: same identity) and each
/// refused line goes to `refused` with the database's message.
///
/// `stored` receives `D`, what the token converts into (e.g. just the message's
/// sequence number), so the acknowledging side need not know the token type.
#[derive(Debug)]
pub struct Batcher<T, D = T> {
    output: Output,
    batch_size: usize,
    linger: Duration,
    retry_initial: Duration,
    retry_max: Duration,
    stats: Arc<WriterStats>,
    stored: mpsc::Sender<D>,
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
        output: impl Into<Output>,
        stats: Arc<WriterStats>,
        stored: mpsc::Sender<D>,
        refused: mpsc::Sender<RefusedLines<T>>,
        abort: CancellationToken,
    ) -> Self {
        Self {
            output: output.into(),
            batch_size: cfg.batch_size.max(1),
            linger: cfg.linger,
            retry_initial: cfg.retry_initial,
            retry_max: cfg.retry_max,
            stats,
            stored,
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
            let result = self.output.write(&self.lines[bytes.clone()]).await;
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
            if self.output.ping().await.is_ok() {
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
                None => self.stored.send(token.into()).await.is_ok(),
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
        let (stored, _stored_rx) = mpsc::channel::<u32>(4);
        let (refused, _refused_rx) = mpsc::channel(4);
        let mut b = Batcher::new(
            &InfluxConfig::default(),
            Output::from(sink),
            Arc::default(),
            stored,
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

    /// The batcher's timing on tokio's paused clock, against a scripted
    /// destination: linger, batch size, backoff, `Retry-After`, probing and
    /// abort, read to the millisecond without waiting for any of it.
    mod timing {
        use std::time::Duration;

        use bytes::Bytes;
        use tokio::sync::mpsc;
        use tokio::time::Instant;
        use tokio_util::sync::CancellationToken;

        use super::super::{Batcher, WriteItem, WriterStats};
        use crate::config::InfluxConfig;
        use crate::scripted_sink::{ScriptedSink, answered, cannot_reach};

        struct Run {
            sink: ScriptedSink,
            items: mpsc::Sender<WriteItem<u32>>,
            done: mpsc::Receiver<u32>,
            stats: std::sync::Arc<WriterStats>,
            abort: CancellationToken,
            task: tokio::task::JoinHandle<()>,
            started: Instant,
        }

        fn run(sink: &ScriptedSink, batch_size: usize, linger: Duration, retry: (Duration, Duration)) -> Run {
            let cfg = InfluxConfig {
                batch_size,
                linger,
                retry_initial: retry.0,
                retry_max: retry.1,
                ..InfluxConfig::default()
            };
            let stats = std::sync::Arc::new(WriterStats::default());
            let (items, rx) = mpsc::channel(1024);
            let (done_tx, done) = mpsc::channel(1024);
            let (refused, _) = mpsc::channel(16);
            let abort = CancellationToken::new();
            let batcher: Batcher<u32> =
                Batcher::new(&cfg, sink.clone(), stats.clone(), done_tx, refused, abort.clone());
            Run {
                sink: sink.clone(),
                items,
                done,
                stats,
                abort,
                task: tokio::spawn(batcher.run(rx)),
                started: Instant::now(),
            }
        }

        impl Run {
            async fn send(&self, token: u32) {
                let lines = Bytes::from(format!("m v={token} {token}\n"));
                assert!(self.items.send(WriteItem { lines, token }).await.is_ok());
            }

            /// The next `n` completions, and when the last one came.
            async fn completed(&mut self, n: usize) -> (Vec<u32>, Duration) {
                let mut tokens = Vec::new();
                while tokens.len() < n {
                    match self.done.recv().await {
                        Some(t) => tokens.push(t),
                        None => break,
                    }
                }
                (tokens, self.started.elapsed())
            }

            /// Each write: its time since the start, and its line count.
            fn writes(&self) -> Vec<(Duration, usize)> {
                self.sink
                    .written()
                    .iter()
                    .map(|(at, lines)| (*at - self.started, lines.lines().count()))
                    .collect()
            }
        }

        const MS: Duration = Duration::from_millis(1);

        #[tokio::test(start_paused = true)]
        async fn a_partial_batch_is_written_when_linger_has_passed_since_its_first_item() {
            let sink = ScriptedSink::default();
            let mut r = run(&sink, 100, 200 * MS, (MS, MS));
            r.send(0).await;
            r.send(1).await;
            tokio::time::sleep(150 * MS).await;
            r.send(2).await; // within linger: same batch, the timer not restarted
            let (tokens, at) = r.completed(3).await;
            assert_eq!(tokens, [0, 1, 2]);
            assert_eq!(r.writes(), [(200 * MS, 3)], "one write, at linger");
            assert_eq!(at, 200 * MS, "completed as soon as the write succeeded");
            r.send(3).await; // the next batch lingers from its own first item
            r.completed(1).await;
            assert_eq!(r.writes()[1], (400 * MS, 1));
        }

        #[tokio::test(start_paused = true)]
        async fn a_full_batch_is_written_at_once_and_the_rest_lingers() {
            let sink = ScriptedSink::default();
            let mut r = run(&sink, 10, Duration::from_secs(10), (MS, MS));
            for t in 0..25 {
                r.send(t).await;
            }
            let (tokens, _) = r.completed(25).await;
            assert_eq!(tokens, (0..25).collect::<Vec<_>>(), "in order, each once");
            assert_eq!(
                r.writes(),
                [(Duration::ZERO, 10), (Duration::ZERO, 10), (Duration::from_secs(10), 5)]
            );
        }

        #[tokio::test(start_paused = true)]
        async fn failures_back_off_doubling_and_complete_only_after_the_write_succeeds() {
            let sink = ScriptedSink::default();
            sink.then(Err(answered(503, None)))
                .then(Err(answered(503, None)))
                .then(Err(answered(500, None)))
                .then(Ok(()));
            let mut r = run(&sink, 1, MS, (Duration::from_secs(1), Duration::from_secs(3)));
            r.send(7).await;
            let (tokens, at) = r.completed(1).await;
            assert_eq!(tokens, [7]);
            let times: Vec<Duration> = r.writes().iter().map(|w| w.0).collect();
            assert_eq!(times.len(), 4, "{times:?}");
            // Backoff with jitter: each wait in [half, full] of 1 s, 2 s, then the 3 s cap.
            for (i, full) in [1000u32, 2000, 3000].into_iter().enumerate() {
                let waited = times[i + 1] - times[i];
                assert!(
                    waited >= full / 2 * MS && waited <= full * MS,
                    "wait {i}: {waited:?} ({times:?})"
                );
            }
            assert_eq!(
                at, times[3],
                "the token completes with the successful write, not before"
            );
            assert_eq!(r.stats.retries.load(std::sync::atomic::Ordering::Relaxed), 3);
            assert_eq!(r.stats.points_written.load(std::sync::atomic::Ordering::Relaxed), 1);
        }

        #[tokio::test(start_paused = true)]
        async fn retry_after_is_waited_out_exactly_whatever_the_backoff() {
            let sink = ScriptedSink::default();
            sink.then(Err(answered(429, Some("30"))));
            let mut r = run(&sink, 1, MS, (10 * MS, 20 * MS));
            r.send(1).await;
            r.completed(1).await;
            let w = r.writes();
            assert_eq!(w.len(), 2);
            assert_eq!(
                w[1].0 - w[0].0,
                Duration::from_secs(30),
                "the server's wish, not retry_max"
            );
            // A wish beyond the cap (10 minutes) is capped.
            let sink = ScriptedSink::default();
            sink.then(Err(answered(503, Some("86400"))));
            let mut r = run(&sink, 1, MS, (10 * MS, 20 * MS));
            r.send(1).await;
            r.completed(1).await;
            let w = r.writes();
            assert_eq!(w[1].0 - w[0].0, telegate_model::retry::MAX_RETRY_AFTER);
        }

        #[tokio::test(start_paused = true)]
        async fn an_unreachable_database_is_probed_each_second_and_written_as_soon_as_it_answers() {
            let sink = ScriptedSink::default();
            sink.then(Err(cannot_reach()));
            sink.then_ping(false).then_ping(false).then_ping(true);
            // A 60 s backoff would hold the batch for 30–60 s; probing finds the database after 3.
            let mut r = run(&sink, 1, MS, (Duration::from_secs(60), Duration::from_secs(60)));
            r.send(1).await;
            r.completed(1).await;
            let pinged: Vec<Duration> = sink.pinged().iter().map(|at| *at - r.started).collect();
            let s = Duration::from_secs(1);
            assert_eq!(pinged, [s, 2 * s, 3 * s]);
            assert_eq!(
                r.writes().iter().map(|w| w.0).collect::<Vec<_>>(),
                [Duration::ZERO, 3 * s]
            );
        }

        #[tokio::test(start_paused = true)]
        async fn abort_during_a_backoff_leaves_the_batch_unacknowledged() {
            let sink = ScriptedSink::default();
            for _ in 0..100 {
                sink.then(Err(answered(503, None)));
            }
            let mut r = run(&sink, 10, MS, (Duration::from_secs(1), Duration::from_secs(5)));
            for t in 0..3 {
                r.send(t).await;
            }
            tokio::time::sleep(Duration::from_secs(60)).await;
            let attempts = r.writes().len();
            assert!(attempts > 10, "still retrying after a minute: {attempts} attempts");
            r.abort.cancel();
            assert!(r.task.await.is_ok(), "the batcher stops");
            assert!(
                r.done.try_recv().is_err(),
                "nothing completed: the broker redelivers it"
            );
            assert_eq!(r.stats.points_written.load(std::sync::atomic::Ordering::Relaxed), 0);
        }
    }
}
