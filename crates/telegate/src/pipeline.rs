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
use telegate_influx::{Batcher, FileSink, HttpWriter, Output, SharedQueue, WriteItem};
use telegate_model::TopicPattern;
use telegate_mqtt::MqttSource;
use telegate_schema::Registry;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::admin::{self, AdminState};
use crate::alerting::{self, AlertHub, AlertReloader};
use crate::config::{Config, LoadedConfig};
use crate::quarantine::{Quarantine, RefusedOutput};
use crate::reload::{Active, Reloader, watch_loop};
use crate::stages::{DecodeStage, Sink, WriteToken, dead_letter_stage};
use crate::stats::{Stats, Summary};
use telegate_wal::{Appender, Record, Tailer, Wal};

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
        return Ok(Output::File(sink));
    }
    let writer = HttpWriter::new(&config.influx).context("building the InfluxDB client")?;
    if let Err(e) = writer.create_database().await {
        tracing::warn!(error = %e, "could not create the InfluxDB database; writes will retry until it exists");
    }
    Ok(Output::Http(writer))
}

async fn start_inner(
    config: &Config,
    registry: Arc<Registry>,
    watched: Option<LoadedConfig>,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let pattern = TopicPattern::parse(&config.mqtt.topic_pattern).context("mqtt.topic_pattern")?;
    let writer = output(config).await?;
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
        pipeline: Arc::default(),
        source: source.stats(),
        writer: Arc::default(),
        wal: wal.as_ref().map(|(w, _, _)| w.stats()),
        reload: Arc::default(),
    };
    let alerts = if config.alerts.enabled() {
        let config_path = watched.as_ref().and_then(|l| l.path.clone());
        Some(alerting::start(config, config_path, writer.clone()).context("starting alerting")?)
    } else {
        None
    };
    let admin_stop = CancellationToken::new();
    let (admin_addr, admin_task) = match admin_listener {
        Some(listener) => {
            let addr = admin::local_addr(&listener);
            let state = AdminState {
                stats: stats.clone(),
                output: writer.clone(),
                wal: wal.as_ref().map(|(w, _, _)| w.clone()),
                extra: alerts
                    .as_ref()
                    .map(|a| a.stats.clone() as Arc<dyn crate::metrics::ExtraMetrics>),
            };
            // The operator console reads the alert hub: only with alerting on.
            let api = alerts
                .as_ref()
                .map(|a| crate::console::api_router(a.hub.clone(), admin_stop.clone()));
            let mut app = admin::router(state, config.admin.token.clone(), api);
            if alerts.is_some() {
                app = app.merge(crate::console::page_router());
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
    let (write_tx, write_rx) = mpsc::channel(config.pipeline.write_queue);
    let (refused_tx, refused_rx) = mpsc::channel(config.pipeline.dead_letter_queue);
    let (done_tx, done_rx) = mpsc::channel(in_flight * 2);
    let (lines_tx, lines_rx) = mpsc::channel(config.pipeline.dead_letter_queue);

    tracing::info!(
        broker = %format!("{}:{}", config.mqtt.host, config.mqtt.port),
        subscription = %config.subscription(),
        output = %writer.describe(),
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
    let mut tasks: Vec<(&'static str, JoinHandle<()>)> = vec![(
        "mqtt source",
        tokio::spawn(source.run(env_tx, done_rx, shutdown.clone(), abort.clone())),
    )];
    // Completions of the writer: to the source (ack) without the WAL, to the
    // WAL's releaser (delete stored segments) with it.
    let written_done = match wal {
        None => {
            tasks.push((
                "decoder",
                tokio::spawn(decode.run(env_rx, Sink::Writer(write_tx), refused_tx)),
            ));
            done_tx.clone()
        }
        Some((wal, tailer, appender)) => {
            let (record_tx, record_rx) = mpsc::channel(in_flight);
            let (tail_tx, tail_rx) = mpsc::channel(config.pipeline.write_queue);
            let (release_tx, release_rx) = mpsc::channel(config.pipeline.write_queue * 2);
            tasks.push((
                "decoder",
                tokio::spawn(decode.run(env_rx, Sink::Wal(record_tx), refused_tx)),
            ));
            tasks.push(("wal appender", tokio::spawn(appender.run(record_rx, done_tx.clone()))));
            tasks.push(("wal tailer", tokio::spawn(tail(tailer, tail_tx, tail_rx, write_tx))));
            tasks.push(("wal releaser", tokio::spawn(release(wal, release_rx))));
            release_tx
        }
    };
    // `concurrency` batchers take turns on the write queue.
    let queue: SharedQueue<WriteToken> = Arc::new(tokio::sync::Mutex::new(write_rx));
    let writers: Vec<JoinHandle<()>> = (0..config.influx.concurrency.max(1))
        .map(|_| {
            let batcher = Batcher::new(
                &config.influx,
                writer.clone(),
                stats.writer.clone(),
                written_done.clone(),
                lines_tx.clone(),
                writer_abort.clone(),
            );
            tokio::spawn(batcher.run_shared(queue.clone()))
        })
        .collect();
    drop(lines_tx);
    tasks.push((
        "influx writer",
        tokio::spawn(async move {
            for w in writers {
                if let Err(e) = w.await {
                    tracing::error!(error = %e, "writer task failed");
                }
            }
        }),
    ));
    tasks.push((
        "dead-letter publisher",
        tokio::spawn(dead_letter_stage(
            refused_rx,
            lines_rx,
            RefusedOutput {
                publisher: dead_letters,
                quarantine,
            },
            done_tx,
            written_done,
            stats.pipeline.clone(),
            abort.clone(),
        )),
    ));
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
            tasks.push(("alert evaluator", task));
            (Some(hub), Some(reloader))
        }
        None => (None, None),
    };
    let reporter = tokio::spawn(report(stats.clone(), config.pipeline.stats_interval, shutdown.clone()));
    let deadline = config.pipeline.shutdown_timeout;
    let wal_on = config.wal.enabled;
    let sup_stats = stats.clone();
    let supervisor = tokio::spawn(async move {
        shutdown.cancelled().await;
        tracing::info!(timeout = ?deadline, "shutting down: draining the pipeline");
        let mut tasks = tasks;
        let started = tokio::time::Instant::now();
        // The source goes first: it ends once every message it took is acknowledged.
        if tokio::time::timeout(deadline, join_first(&mut tasks)).await.is_ok() && wal_on {
            // Everything acknowledged is in the log; give the writer a moment
            // to store what it can, the rest is replayed on the next start.
            let writer_abort = writer_abort.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                writer_abort.cancel();
            });
        }
        let left = deadline.saturating_sub(started.elapsed());
        if tokio::time::timeout(left, join_all(&mut tasks)).await.is_err() {
            tracing::warn!(
                unacked = sup_stats.summary().unacked,
                "shutdown deadline passed; abandoning unfinished messages (the broker redelivers them)"
            );
            abort.cancel();
            writer_abort.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(5), join_all(&mut tasks)).await;
        }
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
        supervisor,
    })
}

/// Follow the WAL and feed its records to the writer.
async fn tail(
    tailer: Tailer,
    tail_tx: mpsc::Sender<(u64, Record)>,
    mut tail_rx: mpsc::Receiver<(u64, Record)>,
    write_tx: mpsc::Sender<WriteItem<WriteToken>>,
) {
    let replay = tailer.segments_to_replay();
    if replay > 0 {
        tracing::info!(segments = replay, "WAL: replaying what the previous run had not stored");
    }
    let reader = tokio::spawn(tailer.run(tail_tx));
    while let Some((segment, record)) = tail_rx.recv().await {
        let item = WriteItem {
            lines: record.lines,
            token: WriteToken {
                id: segment,
                topic: record.topic,
            },
        };
        if write_tx.send(item).await.is_err() {
            break;
        }
    }
    drop(tail_rx);
    match reader.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "WAL reader failed; restart to replay the log"),
        Err(e) => tracing::error!(error = %e, "WAL reader task failed"),
    }
}

/// Release WAL records the writer stored (or dead-lettered): drained
/// segments are deleted.
async fn release(wal: Arc<Wal>, mut rx: mpsc::Receiver<u64>) {
    while let Some(segment) = rx.recv().await {
        wal.release(segment);
    }
}

async fn join_first(tasks: &mut Vec<(&'static str, JoinHandle<()>)>) {
    if let Some((name, handle)) = tasks.first_mut() {
        if let Err(e) = handle.await {
            tracing::error!(task = *name, error = %e, "task failed");
        }
        tasks.remove(0);
    }
}

async fn join_all(tasks: &mut Vec<(&'static str, JoinHandle<()>)>) {
    while let Some((name, handle)) = tasks.first_mut() {
        if let Err(e) = handle.await {
            tracing::error!(task = *name, error = %e, "task failed");
        }
        tasks.remove(0);
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
