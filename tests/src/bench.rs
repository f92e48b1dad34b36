//! What the end-to-end benchmarks share (`tests/examples/bench.rs`,
//! `tests/examples/backlog.rs`): the load (river-level readings), full-speed
//! QoS 1 publishers, the database's own ingest ceiling, and the release
//! gateway as its own process with its CPU and peak RSS read from `/proc`.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use telegate_influx::{InfluxClient, InfluxConfig, Output};
use telegate_lp::encode_points;
use telegate_model::TopicPattern;
use telegate_schema::{Limits, Registry};

use crate::cpu::process_cpu;
use crate::influxdb::Influxd;
use crate::payloads::{batch, valid_sample};

pub const DEVICES: u64 = 100;

pub use telegate_model::now_ns;

/// `n` river-level messages of `samples` samples each, spread over 100
/// devices, every sample at its own time (so no point overwrites another).
pub fn messages(registry: &Registry, n: u64, samples: u64, prefix: &str) -> Vec<(String, Bytes)> {
    let river = registry.get("river_level").expect("built-in type");
    // An hour back, or further when the samples (1 ms apart) need longer,
    // so that none is in the future.
    let span = i64::try_from(n * samples).unwrap_or(i64::MAX / 2_000_000) * 1_000_000;
    let t0 = now_ns() - span.max(3_600_000_000_000) - 60_000_000_000;
    (0..n)
        .map(|i| {
            let device = format!("{prefix}-{}", i % DEVICES);
            let s: Vec<_> = (0..samples)
                .map(|j| {
                    let k = i * samples + j;
                    valid_sample(&river.sample, t0 + k as i64 * 1_000_000, k)
                })
                .collect();
            (
                format!("telemetry/bench/{device}/river_level"),
                Bytes::from(batch(&river.message, &device, s)),
            )
        })
        .collect()
}

pub fn options(id: &str, port: u16) -> MqttOptions {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(Some(4 * 1024 * 1024))
        .set_clean_start(true);
    o
}

/// A QoS 1 publisher task; returns (client, acked counter).
pub async fn publisher(id: &str, port: u16) -> anyhow::Result<(AsyncClient, Arc<AtomicU64>)> {
    let (client, mut eventloop) = AsyncClient::new(options(id, port), 4096);
    let acked = Arc::new(AtomicU64::new(0));
    let counter = acked.clone();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = ready_tx.try_send(());
                }
                Ok(Event::Incoming(Packet::PubAck(_))) => {
                    counter.fetch_add(1, SeqCst);
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), ready_rx.recv()).await?;
    Ok((client, acked))
}

pub async fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> anyhow::Result<()> {
    let start = Instant::now();
    while !f() {
        anyhow::ensure!(start.elapsed() < limit, "not reached within {limit:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

/// Two QoS 1 publishers at full speed, each with half of `msgs` (the same
/// load generator for the broker's ceiling and for telegate's rate).
pub async fn publish_all(
    port: u16,
    msgs: &[(String, Bytes)],
    name: &str,
) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<()>>> {
    let halves: Vec<Vec<(String, Bytes)>> = msgs.chunks(msgs.len().div_ceil(2)).map(<[_]>::to_vec).collect();
    let mut tasks = Vec::new();
    for (k, half) in halves.into_iter().enumerate() {
        let (client, _) = publisher(&format!("bench-{name}-{k}"), port).await?;
        tasks.push(tokio::spawn(async move {
            for (topic, payload) in half {
                client.publish(topic, QoS::AtLeastOnce, false, payload).await?;
            }
            anyhow::Ok(())
        }));
    }
    Ok(tokio::spawn(async move {
        for t in tasks {
            t.await??;
        }
        Ok(())
    }))
}

/// (b) Database ceiling: the same points, encoded once, two writers.
pub async fn database_ceiling(influx: &Influxd, registry: &Registry, msgs: &[(String, Bytes)]) -> anyhow::Result<f64> {
    let pattern = TopicPattern::parse("telemetry/{site}/{device_id}/{sensor_type}")?;
    let mut lines = Vec::new();
    let mut points = Vec::new();
    for (topic, payload) in msgs {
        points.clear();
        let origin = pattern.parse_topic(topic)?;
        registry
            .decode(&origin, payload, now_ns(), &Limits::default(), &mut points)
            .map_err(|r| anyhow::anyhow!("{r:?}"))?;
        lines.extend_from_slice(&encode_points(&points)?);
    }
    let all: Vec<&[u8]> = lines.split_inclusive(|&b| b == b'\n').collect();
    let n_points = all.len();
    let batches: Vec<Vec<u8>> = all.chunks(5000).map(|c| c.concat()).collect();
    influx.create_database("ceiling").await?;
    let cfg = InfluxConfig {
        url: influx.url(),
        database: "ceiling".into(),
        ..InfluxConfig::default()
    };
    let output = Arc::new(Output::from(InfluxClient::new(&cfg)?));
    let queue = Arc::new(std::sync::Mutex::new(batches));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (output, queue) = (output.clone(), queue.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.pop();
                let Some(b) = next else { return anyhow::Ok(()) };
                output.write(&b).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = start.elapsed().as_secs_f64();
    let stored = influx.count("ceiling", "river_level", "seq").await?;
    anyhow::ensure!(stored == n_points as u64, "ceiling: stored {stored} of {n_points}");
    Ok(n_points as f64 / secs)
}

/// The release gateway (`target/release/telegate`) as its own process, with
/// default settings but for ports and paths; SIGTERM on drop.
#[derive(Debug)]
pub struct GatewayProcess {
    child: std::process::Child,
    dir: tempfile::TempDir,
    binary: PathBuf,
}

/// The release gateway beside the bench, or the one `BENCH_GATEWAY` names
/// (to compare two builds in alternating runs on the same box).
pub fn release_binary() -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("BENCH_GATEWAY") {
        let bin = PathBuf::from(bin);
        anyhow::ensure!(bin.exists(), "BENCH_GATEWAY={} does not exist", bin.display());
        return Ok(bin);
    }
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("telegate"))
        .ok_or_else(|| anyhow::anyhow!("no target dir"))?;
    anyhow::ensure!(
        bin.exists(),
        "{} missing: run `cargo build --release -p telegate` first",
        bin.display()
    );
    Ok(bin)
}

impl GatewayProcess {
    /// Start and wait until subscribed. The client id is `bench-{db}`, so a
    /// later start with the same `db` resumes the same broker session.
    pub async fn start(broker: u16, influx: &str, db: &str) -> anyhow::Result<Self> {
        Self::start_binary(release_binary()?, broker, influx, db).await
    }

    /// [`start`](Self::start) with a given gateway binary (to compare builds).
    pub async fn start_binary(binary: PathBuf, broker: u16, influx: &str, db: &str) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let cfg = dir.path().join("telegate.toml");
        // Defaults unless tuning by hand: BENCH_MQTT / BENCH_INFLUX / BENCH_WAL
        // hold extra `key = value` lines for those sections (e.g.
        // BENCH_INFLUX='batch_size = 10000'); the figures in
        // docs/performance.md use none.
        let extra = |var: &str| std::env::var(var).map(|v| v.replace("\\n", "\n")).unwrap_or_default();
        let (mqtt, influx_extra, wal) = (extra("BENCH_MQTT"), extra("BENCH_INFLUX"), extra("BENCH_WAL"));
        std::fs::write(
            &cfg,
            format!(
                "[mqtt]\nport = {broker}\nclient_id = \"bench-{db}\"\n{mqtt}\n[influx]\nurl = \"{influx}\"\ndatabase = \"{db}\"\n{influx_extra}\n[wal]\ndir = \"{wal_dir}\"\n{wal}\n[pipeline]\nstats_interval = \"0s\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
                wal_dir = dir.path().join("wal").display()
            ),
        )?;
        let child = Self::spawn(&binary, dir.path()).await?;
        Ok(Self { child, dir, binary })
    }

    async fn spawn(binary: &Path, dir: &Path) -> anyhow::Result<std::process::Child> {
        let log_path = dir.join("telegate.log");
        let log = std::fs::File::create(&log_path)?;
        let child = std::process::Command::new(binary)
            .args(["run", "--config"])
            .arg(dir.join("telegate.toml"))
            .env("RUST_LOG", "info")
            .stderr(log)
            .spawn()?;
        let start = Instant::now();
        while !std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .contains("subscribed")
        {
            anyhow::ensure!(start.elapsed() < Duration::from_secs(20), "gateway did not subscribe");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(child)
    }

    /// SIGTERM and wait for the exit (a clean stop: the session stays).
    pub fn stop(&mut self) -> anyhow::Result<()> {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill -TERM failed");
        let exit = self.child.wait()?;
        anyhow::ensure!(exit.success(), "the gateway exited with {exit}");
        Ok(())
    }

    /// Start again with the same config, WAL dir and client id (after
    /// [`stop`](Self::stop)); returns once subscribed.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.child = Self::spawn(&self.binary, self.dir.path()).await?;
        Ok(())
    }

    /// The gateway's `/metrics` page.
    pub async fn metrics(&self) -> anyhow::Result<String> {
        let log = std::fs::read_to_string(self.dir.path().join("telegate.log"))?;
        let addr = log
            .lines()
            .find(|l| l.contains("admin listener"))
            .and_then(|l| l.split("addr=").nth(1))
            .and_then(|a| a.split_whitespace().next())
            .ok_or_else(|| anyhow::anyhow!("no admin address in the gateway's log"))?
            .to_owned();
        let (_, page) = crate::admin::get(addr.parse()?, "/metrics", None).await?;
        Ok(page)
    }

    /// The gateway's own account of its writes, from its `/metrics`:
    /// (batches, average points per batch, average write time in ms).
    pub async fn write_stats(&self) -> anyhow::Result<(f64, f64, f64)> {
        let page = self.metrics().await?;
        let v = |name: &str| crate::admin::value(&page, name).unwrap_or(0.0);
        let batches = v("telegate_write_batches_total");
        let requests = v("telegate_write_duration_seconds_count").max(1.0);
        Ok((
            batches,
            v("telegate_points_written_total") / batches.max(1.0),
            1000.0 * v("telegate_write_duration_seconds_sum") / requests,
        ))
    }

    /// (CPU seconds, peak RSS bytes) so far, from /proc.
    pub fn usage(&self) -> anyhow::Result<(f64, u64)> {
        let pid = self.child.id();
        let cpu = process_cpu(pid)?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let hwm_kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok((cpu, hwm_kib * 1024))
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Publish `msgs` with two QoS 1 publishers at full speed and return once
/// the broker has acknowledged every one (a backlog is queued only then).
pub async fn publish_acked(port: u16, msgs: &[(String, Bytes)], name: &str) -> anyhow::Result<()> {
    let mut acked = Vec::new();
    let mut tasks = Vec::new();
    for (k, half) in msgs.chunks(msgs.len().div_ceil(2).max(1)).enumerate() {
        let (client, counter) = publisher(&format!("bench-{name}-{k}"), port).await?;
        acked.push(counter);
        let half = half.to_vec();
        tasks.push(tokio::spawn(async move {
            for (topic, payload) in half {
                client.publish(topic, QoS::AtLeastOnce, false, payload).await?;
            }
            anyhow::Ok(client)
        }));
    }
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await??);
    }
    let n = msgs.len() as u64;
    wait_until(Duration::from_secs(600), || {
        acked.iter().map(|c| c.load(SeqCst)).sum::<u64>() >= n
    })
    .await?;
    for c in clients {
        let _ = c.disconnect().await;
    }
    Ok(())
}
