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
use telegate_influx::{Batcher, HttpWriter};
use telegate_model::TopicPattern;
use telegate_mqtt::MqttSource;
use telegate_schema::Registry;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::stages::{DecodeStage, dead_letter_stage};
use crate::stats::{Stats, Summary};

/// A started gateway.
#[derive(Debug)]
pub struct Running {
    pub stats: Stats,
    supervisor: JoinHandle<Summary>,
}

impl Running {
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

/// Start every stage. Returns once the tasks are spawned; connecting to the
/// broker and InfluxDB happens in the background, with retries.
pub async fn start(config: &Config, registry: Arc<Registry>, shutdown: CancellationToken) -> anyhow::Result<Running> {
    let pattern = TopicPattern::parse(&config.mqtt.topic_pattern).context("mqtt.topic_pattern")?;
    let writer = HttpWriter::new(&config.influx).context("building the InfluxDB client")?;
    if let Err(e) = writer.create_database().await {
        tracing::warn!(error = %e, "could not create the InfluxDB database; writes will retry until it exists");
    }
    let (source, dead_letters) = MqttSource::new(&config.mqtt, config.subscription());
    let abort = CancellationToken::new();
    let stats = Stats {
        pipeline: Arc::default(),
        source: source.stats(),
        writer: Arc::default(),
    };

    let in_flight = usize::from(config.mqtt.receive_maximum.max(1));
    let (env_tx, env_rx) = mpsc::channel(in_flight);
    let (write_tx, write_rx) = mpsc::channel(config.pipeline.write_queue);
    let (refused_tx, refused_rx) = mpsc::channel(config.pipeline.dead_letter_queue);
    let (done_tx, done_rx) = mpsc::channel(in_flight * 2);
    let (lines_tx, lines_rx) = mpsc::channel(config.pipeline.dead_letter_queue);

    tracing::info!(
        broker = %format!("{}:{}", config.mqtt.host, config.mqtt.port),
        subscription = %config.subscription(),
        influx = %writer.url(),
        sensor_types = registry.schemas().count(),
        "telegate starting"
    );
    let batcher = Batcher::new(
        &config.influx,
        writer,
        stats.writer.clone(),
        done_tx.clone(),
        lines_tx,
        abort.clone(),
    );
    let decode = DecodeStage {
        pattern,
        registry,
        limits: config.limits.clone(),
        stats: stats.pipeline.clone(),
    };
    let tasks: Vec<(&'static str, JoinHandle<()>)> = vec![
        (
            "mqtt source",
            tokio::spawn(source.run(env_tx, done_rx, shutdown.clone(), abort.clone())),
        ),
        ("decoder", tokio::spawn(decode.run(env_rx, write_tx, refused_tx))),
        ("influx writer", tokio::spawn(batcher.run(write_rx))),
        (
            "dead-letter publisher",
            tokio::spawn(dead_letter_stage(
                refused_rx,
                lines_rx,
                dead_letters,
                done_tx,
                stats.pipeline.clone(),
            )),
        ),
    ];
    let reporter = tokio::spawn(report(stats.clone(), config.pipeline.stats_interval, shutdown.clone()));
    let deadline = config.pipeline.shutdown_timeout;
    let sup_stats = stats.clone();
    let supervisor = tokio::spawn(async move {
        shutdown.cancelled().await;
        tracing::info!(timeout = ?deadline, "shutting down: draining the pipeline");
        let mut tasks = tasks;
        if tokio::time::timeout(deadline, join_all(&mut tasks)).await.is_err() {
            tracing::warn!(
                unacked = sup_stats.summary().unacked,
                "shutdown deadline passed; abandoning unfinished messages (the broker redelivers them)"
            );
            abort.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(5), join_all(&mut tasks)).await;
        }
        let _ = reporter.await;
        let summary = sup_stats.summary();
        tracing::info!(%summary, "telegate stopped");
        summary
    });
    Ok(Running { stats, supervisor })
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
