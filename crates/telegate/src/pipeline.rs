//! Wiring: MQTT source → decode → {InfluxDB writer, dead-letter publisher},
//! with completions flowing back to the source so it can acknowledge.
//!
//! Every channel is bounded. The source never blocks (the MQTT 5 receive
//! maximum bounds what is in flight); the other stages wait on their output,
//! which is the backpressure. Shutdown cancels the source's intake; each stage
//! ends when its input closes, so the pipeline drains front to back, and the
//! source sends the last acknowledgements once every completion sender is gone.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use telegate_influx::{Batcher, FileSink, InfluxClient, Output, RefusedLines, SharedQueue, WriteItem};
use telegate_model::TopicPattern;
use telegate_mqtt::{MqttSource, Publisher, Seq};
use telegate_schema::Registry;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::admin::{self, AdminState};
use crate::alerting::{self, AlertHub, AlertReloader};
use crate::config::{Config, LoadedConfig};
use crate::feedback::envelope::Envelopes;
use crate::feedback::status::{self, StatusBoard, newest_sample};
use crate::quarantine::{Quarantine, RefusedOutput};
use crate::reload::{Active, Reloader, watch_loop};
use crate::stages::{AcceptedTo, DecodeStage, RefusedFeedback, WriteToken, dead_letter_stage};
use crate::stats::{Stats, Summary};
use crate::supervisor::{StageHealth, Stages};
use telegate_wal::{Appender, Releaser, Wal};

/// A started gateway.
#[derive(Debug)]
pub struct Running {
    pub stats: Stats,
    /// Ask for a schema reload (SIGHUP); does nothing unless started with
    /// [`start_watched`].
    pub reloader: Reloader,
    /// Where `/metrics`, `/healthz` and `/readyz` answer; `None` when
    /// `admin.listen` is empty.
    pub admin_addr: Option<std::net::SocketAddr>,
    /// What the operator API reads; `None` when alerting is off
    /// (`alerts.rules_file` empty).
    pub alert_hub: Option<Arc<AlertHub>>,
    /// Ask the alert evaluator to re-read its rules and outputs (SIGHUP).
    pub alert_reloader: Option<AlertReloader>,
    /// Which stage died, if one did.
    pub health: Arc<StageHealth>,
    kill: Vec<(&'static str, AbortHandle)>,
    supervisor: JoinHandle<Summary>,
}

impl Running {
    /// Re-read schemas, alert rules and alert outputs now (SIGHUP).
    pub fn reload_now(&self) {
        self.reloader.reload_now();
        if let Some(r) = &self.alert_reloader {
            r.reload_now();
        }
    }

    /// Resolves when a pipeline stage has died: acknowledgements have
    /// stopped; the owner should stop the gateway and exit non-zero.
    pub async fn died(&self) {
        self.health.died().await;
    }

    /// Abort stage `name` as if it had crashed: a fault drill (tests use
    /// it). False when no stage has that name; see [`Running::stage_names`].
    pub fn kill_stage(&self, name: &str) -> bool {
        let found = self.kill.iter().find(|(n, _)| *n == name);
        if let Some((_, h)) = found {
            h.abort();
        }
        found.is_some()
    }

    /// The supervised stages, in start order.
    pub fn stage_names(&self) -> Vec<&'static str> {
        self.kill.iter().map(|(n, _)| *n).collect()
    }

    /// Wait until the gateway has shut down (after the token passed to
    /// [`start`] is cancelled) and return the final counters.
    pub async fn wait(self) -> Summary {
        match self.supervisor.await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "gateway supervisor failed");
                self.stats.summary()
            }
        }
    }
}

/// Start every stage with a fixed registry. Returns once the tasks are
/// spawned; connecting to the broker and InfluxDB happens in the
/// background, with retries.
pub async fn start(config: &Config, registry: Arc<Registry>, shutdown: CancellationToken) -> anyhow::Result<Running> {
    start_inner(config, registry, None, shutdown).await
}

/// [`start`], and also watch the config file and the schema directory:
/// changed schemas are compiled and swapped in while the gateway runs.
pub async fn start_watched(
    loaded: &LoadedConfig,
    registry: Arc<Registry>,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    start_inner(&loaded.config, registry, Some(loaded.clone()), shutdown).await
}

async fn output(config: &Config) -> anyhow::Result<Output> {
    if config.file_sink.enabled {
        let dir = std::path::Path::new(&config.file_sink.dir);
        let sink = FileSink::open(dir, &config.file_sink)
            .with_context(|| format!("opening the line-protocol file sink in {}", dir.display()))?;
        return Ok(Output::from(sink));
    }
    let output = Output::from(InfluxClient::new(&config.influx).context("building the InfluxDB client")?);
    // A no-op unless influx.create_database = true (v1).
    if let Err(e) = output.create_database().await {
        tracing::warn!(error = %telegate_model::ErrorChain(&e), "could not create the InfluxDB database; writes will retry until it exists");
    }
    Ok(output)
}

async fn start_inner(
    config: &Config,
    registry: Arc<Registry>,
    watched: Option<LoadedConfig>,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let pattern = TopicPattern::parse(&config.mqtt.topic_pattern).context("mqtt.topic_pattern")?;
    let output = output(config).await?;
    let feedback = &config.feedback;
    let board = feedback.status.then(|| {
        Arc::new(StatusBoard::new(
            feedback.clone(),
            pattern.clone(),
            config.mqtt.client_id.clone(),
        ))
    });
    let status_publisher = match &board {
        Some(_) => Some(
            Publisher::new(&config.mqtt, format!("{}-status", config.mqtt.client_id))
                .context("setting up the device-status connection")?,
        ),
        None => None,
    };
    let refused_feedback = RefusedFeedback {
        envelopes: feedback.dead_letter_envelope.then(|| Envelopes {
            config: feedback.clone(),
            pattern: pattern.clone(),
            gateway: config.mqtt.client_id.clone(),
        }),
        board: board.clone(),
    };
    let (source, dead_letters) =
        MqttSource::new(&config.mqtt, config.subscription()).context("setting up the MQTT connection")?;
    let abort = CancellationToken::new();
    // With the WAL, the writer need not finish at shutdown (the log keeps
    // what it has not stored); it gets its own token so it can be stopped
    // early without cutting the source's last acknowledgements short.
    let writer_abort = if config.wal.enabled {
        CancellationToken::new()
    } else {
        abort.clone()
    };
    // Bind first: a taken admin port fails start-up with a clear message.
    let admin_listener = match config.admin.listen.as_str() {
        "" => None,
        listen => Some(admin::bind(listen).await?),
    };
    let wal = if config.wal.enabled {
        let dir = std::path::Path::new(&config.wal.dir);
        let (wal, tailer) =
            Wal::open(dir, &config.wal).with_context(|| format!("opening the WAL in {}", dir.display()))?;
        let appender = Appender::new(wal.clone(), &config.wal).context("starting the WAL")?;
        Some((wal, tailer, appender))
    } else {
        None
    };
    let stats = Stats {
        stages: Arc::default(),
        pipeline: Arc::default(),
        source: source.stats(),
        writer: Arc::default(),
        wal: wal.as_ref().map(|(w, _, _)| w.stats()),
        reload: Arc::default(),
    };
    let alerts = if config.alerts.enabled() {
        let config_path = watched.as_ref().and_then(|l| l.path.clone());
        Some(alerting::start(config, config_path, output.clone()).context("starting alerting")?)
    } else {
        None
    };
    let admin_stop = CancellationToken::new();
    let (admin_addr, admin_task) = match admin_listener {
        Some(listener) => {
            let addr = admin::local_addr(&listener);
            let state = AdminState {
                stats: stats.clone(),
                output: output.clone(),
                wal: wal.as_ref().map(|(w, _, _)| w.clone()),
                ready_grace: config.admin.ready_grace,
                extra: alerts
                    .as_ref()
                    .map(|a| a.stats.clone() as Arc<dyn crate::metrics::ExtraMetrics>),
            };
            let mut app = admin::router(state, config.admin.token.clone(), None);
            // The operator console reads the alert hub: only with alerting
            // on. It checks the token (or an operator's session) itself, for
            // the trend and map data routes too.
            if let Some(a) = &alerts {
                let auth = crate::console::auth::Auth::from_config(&config.admin)?;
                let series = crate::console::series::SeriesReader::new(&config.trend, &config.influx, &output);
                let views = crate::console::views_router(a.hub.clone(), series, config.map.clone());
                app = app.merge(crate::console::router(
                    a.hub.clone(),
                    admin_stop.clone(),
                    Arc::new(auth),
                    Some(views),
                ));
            }
            if let Some(addr) = addr {
                tracing::info!(%addr, token = !config.admin.token.is_empty(), "admin listener: /metrics /healthz /readyz");
            }
            (addr, Some(admin::serve(listener, app, admin_stop.clone())))
        }
        None => (None, None),
    };

    let quarantine = Quarantine::open(
        std::path::Path::new(&config.quarantine.dir),
        config.quarantine.max_bytes,
        stats.pipeline.quarantine.clone(),
    )
    .with_context(|| format!("opening the quarantine directory {}", config.quarantine.dir))?;
    let in_flight = usize::from(config.mqtt.receive_maximum.max(1));
    let (env_tx, env_rx) = mpsc::channel(in_flight);
    let (refused_tx, refused_rx) = mpsc::channel(config.pipeline.dead_letter_queue);
    let (completed_tx, completed_rx) = mpsc::channel(in_flight * 2);

    tracing::info!(
        broker = %format!("{}:{}", config.mqtt.host, config.mqtt.port),
        subscription = %config.subscription(),
        output = %output.describe(),
        wal = %if config.wal.enabled { config.wal.dir.as_str() } else { "off" },
        sensor_types = registry.schemas().count(),
        "telegate starting"
    );
    let (active_tx, active_rx) = watch::channel(Arc::new(Active {
        registry,
        limits: config.limits.clone(),
        generation: 1,
    }));
    let reloader = Reloader::new(stats.reload.clone());
    let watcher = match watched {
        Some(loaded) => tokio::spawn(watch_loop(loaded, active_tx, reloader.clone(), shutdown.clone())),
        None => tokio::spawn(async move {
            // Keep the sender alive so the decoder's receiver stays valid.
            let _tx = active_tx;
        }),
    };
    let decode = DecodeStage {
        pattern,
        active: active_rx,
        stats: stats.pipeline.clone(),
        alerts: alerts.as_ref().map(|a| a.tap.clone()),
    };
    let health = stats.stages.clone();
    // Stages ending after `shutdown` drain; before it, they died.
    let mut stages = Stages::new(health.clone(), shutdown.clone());
    stages.spawn(
        "mqtt source",
        source.run(env_tx, completed_rx, shutdown.clone(), abort.clone()),
    );
    let write = WriteGroup {
        config,
        output: output.clone(),
        stats: &stats,
        refused: refused_rx,
        refused_output: RefusedOutput {
            publisher: dead_letters,
            quarantine,
        },
        acks: completed_tx.clone(),
        abort: writer_abort.clone(),
        give_up: abort.clone(),
        feedback: refused_feedback,
        board: board.clone(),
    };
    let status_on = board.is_some();
    match wal {
        // Ingest → write: the writers' completions are the source's acks.
        None => {
            let (write_tx, write_rx) = mpsc::channel(config.pipeline.write_queue);
            stages.spawn(
                "decoder",
                decode.run(env_rx, AcceptedTo::Writer(write_tx, status_on), refused_tx),
            );
            write.spawn(&mut stages, write_rx, completed_tx);
        }
        // Ingest → log → write: the appender's completions are the source's
        // acks; the writers' release the log.
        Some((wal, tailer, appender)) => {
            let (record_tx, record_rx) = mpsc::channel(in_flight);
            let (write_tx, write_rx) = mpsc::channel(config.pipeline.write_queue);
            let (release_tx, release_rx) = mpsc::channel(config.pipeline.write_queue * 2);
            stages.spawn("decoder", decode.run(env_rx, AcceptedTo::Wal(record_tx), refused_tx));
            stages.spawn("wal appender", appender.run(record_rx, completed_tx));
            // The tailer feeds the writer straight from the log.
            stages.spawn(
                "wal tailer",
                tailer.run(write_tx, move |segment, record| WriteItem {
                    token: WriteToken {
                        completion: segment,
                        topic: record.topic,
                        newest: if status_on { newest_sample(&record.lines) } else { None },
                    },
                    lines: record.lines,
                }),
            );
            stages.spawn("wal releaser", Releaser::new(wal).run(release_rx));
            write.spawn(&mut stages, write_rx, release_tx);
        }
    }
    let (alert_hub, alert_reloader) = match alerts {
        Some(a) => {
            // Only the decoder's clone of the tap may remain: the evaluator
            // ends once it is gone (after the decoder), having saved its
            // state and let the outputs flush.
            let alerting::AlertService {
                hub,
                reloader,
                tap,
                task,
                ..
            } = a;
            drop(tap);
            stages.watch("alert evaluator", task);
            (Some(hub), Some(reloader))
        }
        None => (None, None),
    };
    if let (Some(board), Some(publisher)) = (board, status_publisher) {
        stages.spawn(
            "device status publisher",
            status::publish(
                board,
                publisher,
                config.mqtt.connect_timeout.max(Duration::from_secs(1)),
                stats.pipeline.clone(),
                shutdown.clone(),
            ),
        );
    }
    let kill = stages.abort_handles();
    let reporter = tokio::spawn(report(stats.clone(), config.pipeline.stats_interval, shutdown.clone()));
    let shutdown_order = Shutdown {
        deadline: config.pipeline.shutdown_timeout,
        wal_on: config.wal.enabled,
        abort,
        writer_abort,
    };
    let sup_stats = stats.clone();
    let sup_health = health.clone();
    let supervisor = tokio::spawn(async move {
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = sup_health.died() => {
                // Stop acknowledging at once; the owner stops the gateway.
                shutdown_order.abort.cancel();
                shutdown_order.writer_abort.cancel();
                shutdown.cancelled().await;
            }
        }
        shutdown_order.run(&mut stages, &sup_stats).await;
        let _ = reporter.await;
        let _ = watcher.await;
        // The admin listener answers until the pipeline has drained.
        admin_stop.cancel();
        if let Some(task) = admin_task {
            let _ = task.await;
        }
        let summary = sup_stats.summary();
        tracing::info!(%summary, "telegate stopped");
        summary
    });
    Ok(Running {
        stats,
        reloader,
        admin_addr,
        alert_hub,
        alert_reloader,
        health,
        kill,
        supervisor,
    })
}

/// The order of a stop. The source goes first: it stops taking messages and
/// ends once every message it took is acknowledged (so the decoder, the WAL
/// appender and the dead-letter publisher have drained). With the WAL, the
/// writer then stores what the log holds until the log is read to its end
/// or `deadline` passes (the rest stays in the log and is replayed on the
/// next start). Past `deadline` everything still running is aborted:
/// unacknowledged readings are redelivered by the broker.
struct Shutdown {
    deadline: Duration,
    wal_on: bool,
    /// Stops the source (no more acknowledgements) and, without the WAL, the writer.
    abort: CancellationToken,
    /// Stops the writer's retries.
    writer_abort: CancellationToken,
}

impl Shutdown {
    async fn run(&self, stages: &mut Stages, stats: &Stats) {
        let dead = stats.stages.dead();
        if let Some((stage, _)) = &dead {
            tracing::warn!(
                stage = *stage,
                "stopping after a stage died: nothing more is acknowledged"
            );
            stages.abort_all();
            let _ = tokio::time::timeout(Duration::from_secs(5), stages.join_all()).await;
            return;
        }
        tracing::info!(timeout = ?self.deadline, "shutting down: draining the pipeline");
        let started = tokio::time::Instant::now();
        let acked = tokio::time::timeout(self.deadline, stages.join_first()).await.is_ok();
        let left = self.deadline.saturating_sub(started.elapsed());
        if tokio::time::timeout(left, stages.join_all()).await.is_err() {
            if acked && self.wal_on {
                tracing::warn!(
                    wal_bytes = stats.summary().wal_bytes,
                    "shutdown deadline passed while storing the log; the rest stays in the WAL and is replayed on the next start"
                );
            } else {
                tracing::warn!(
                    unacked = stats.summary().unacked,
                    "shutdown deadline passed; abandoning unfinished messages (the broker redelivers them)"
                );
            }
            self.abort.cancel();
            self.writer_abort.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(5), stages.join_all()).await;
        }
    }
}

/// The write stages: `influx.concurrency` batchers taking turns on one
/// queue, and the dead-letter publisher (for messages the decoder refused
/// and lines the database refused). `C` is what completes a written
/// message: its `Seq` without the WAL, its `SegmentId` with it.
struct WriteGroup<'a> {
    config: &'a Config,
    output: Output,
    stats: &'a Stats,
    refused: mpsc::Receiver<crate::stages::Refused>,
    /// The dead-letter publisher, and the quarantine for what it cannot publish.
    refused_output: RefusedOutput,
    /// Where refused messages are acknowledged once dead-lettered (or quarantined).
    acks: mpsc::Sender<Seq>,
    abort: CancellationToken,
    /// Stops the dead-letter stage waiting for an unreachable broker at shutdown.
    give_up: CancellationToken,
    /// Envelopes and the status board, for refused messages.
    feedback: RefusedFeedback,
    /// With `feedback.status`, stored messages are noted here before they complete.
    board: Option<Arc<StatusBoard>>,
}

impl WriteGroup<'_> {
    fn spawn<C>(self, stages: &mut Stages, queue: mpsc::Receiver<WriteItem<WriteToken<C>>>, completed: mpsc::Sender<C>)
    where
        C: Send + Sync + 'static,
        WriteToken<C>: Into<C>,
    {
        let (lines_tx, lines_rx) = mpsc::channel(self.config.pipeline.dead_letter_queue);
        let queue: SharedQueue<WriteToken<C>> = Arc::new(tokio::sync::Mutex::new(queue));
        match &self.board {
            None => self.spawn_batchers(stages, &queue, &completed, &lines_tx),
            // The writers' completions pass the status board first.
            Some(board) => {
                let (stored_tx, stored_rx) = mpsc::channel::<WriteToken<C>>(self.config.pipeline.write_queue * 2);
                self.spawn_batchers::<C, WriteToken<C>>(stages, &queue, &stored_tx, &lines_tx);
                stages.spawn(
                    "device status (stored)",
                    status::note_stored(stored_rx, board.clone(), completed.clone()),
                );
            }
        }
        drop(lines_tx);
        stages.spawn(
            "dead-letter publisher",
            dead_letter_stage(
                self.refused,
                lines_rx,
                self.refused_output,
                self.acks,
                completed,
                self.stats.pipeline.clone(),
                self.feedback,
                self.give_up,
            ),
        );
    }

    /// `influx.concurrency` batchers taking turns on `queue`, each sending
    /// what it stored to `stored` and what the database refused to `refused`.
    fn spawn_batchers<C, D>(
        &self,
        stages: &mut Stages,
        queue: &SharedQueue<WriteToken<C>>,
        stored: &mpsc::Sender<D>,
        refused: &mpsc::Sender<RefusedLines<WriteToken<C>>>,
    ) where
        C: Send + Sync + 'static,
        D: Send + 'static,
        WriteToken<C>: Into<D>,
    {
        for _ in 0..self.config.influx.concurrency.max(1) {
            let batcher: Batcher<WriteToken<C>, D> = Batcher::new(
                &self.config.influx,
                self.output.clone(),
                self.stats.writer.clone(),
                stored.clone(),
                refused.clone(),
                self.abort.clone(),
            );
            stages.spawn("influx writer", batcher.run_shared(queue.clone()));
        }
    }
}

async fn report(stats: Stats, every: Duration, shutdown: CancellationToken) {
    if every.is_zero() {
        return;
    }
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => tracing::info!(summary = %stats.summary(), "progress"),
            () = shutdown.cancelled() => return,
        }
    }
}
