//! End-to-end benchmark on this box, everything measured in one run:
//!
//! (a) the broker's own ceiling: QoS 1 publishers at full speed → one QoS 1
//!     subscriber, messages/s;
//! (b) the database's own ceiling: the same points, already encoded, posted
//!     to InfluxDB by two concurrent writers in batches of 5,000;
//! (c) telegate's sustained end-to-end rate (the release binary, default
//!     settings, WAL on): first publish → last point counted in InfluxDB, and
//!     (c) as a ratio of min(a, b);
//! (d) at a fixed publish rate (default 10,000 messages/s; 20-sample
//!     messages at 10,000 points/s): publish →
//!     queryable latency, p50/p99 (probe readings every 20 ms, InfluxDB
//!     polled for them), and telegate's CPU (utime+stime per second of wall
//!     time) and peak RSS (VmHWM).
//!
//! For 1-sample and 20-sample messages. Real Mosquitto and InfluxDB 1.x on
//! free loopback ports; the gateway is `target/release/telegate`:
//!
//! ```sh
//! cargo build --release -p telegate && cargo run --release -p telegate-e2e --example bench -- [messages] [fixed_rate]
//! ```
//!
//! A benchmark, not a test: it checks counts (everything published is
//! stored) and reports; it asserts no speed.
#![allow(clippy::print_stdout)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{AsyncClient, Event};
use telegate_e2e::bench::{
    GatewayProcess, database_ceiling, messages, now_ns, options, publish_all, publisher, wait_until,
};
use telegate_e2e::cpu::{ShareMeter, Shares, wait_quiet};
use telegate_e2e::payloads::{batch, valid_sample};
use telegate_e2e::servers::{Influxd, Mosquitto};
use telegate_schema::Registry;

/// (a) Broker ceiling: two publishers at full speed, one subscriber.
async fn broker_ceiling(port: u16, msgs: &[(String, Bytes)]) -> anyhow::Result<f64> {
    let received = Arc::new(AtomicU64::new(0));
    let (sub, mut eventloop) = AsyncClient::new(options("bench-sub", port), 4096);
    let counter = received.clone();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(1);
    let sub_task = tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = sub.subscribe("telemetry/#", QoS::AtLeastOnce).await;
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = ready_tx.try_send(());
                }
                Ok(Event::Incoming(Packet::Publish(_))) => {
                    counter.fetch_add(1, SeqCst);
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), ready_rx.recv()).await?;
    let n = msgs.len() as u64;
    let start = Instant::now();
    publish_all(port, msgs, "ceiling").await?.await??;
    wait_until(Duration::from_secs(300), || received.load(SeqCst) >= n).await?;
    let rate = n as f64 / start.elapsed().as_secs_f64();
    sub_task.abort();
    Ok(rate)
}

/// (c) telegate end to end at full publish speed.
async fn telegate_rate(
    mosquitto: &Mosquitto,
    influx: &Influxd,
    msgs: &[(String, Bytes)],
    db: &str,
    points: u64,
) -> anyhow::Result<(f64, f64, u64, Shares)> {
    let broker = mosquitto.port();
    let gw = GatewayProcess::start(broker, &influx.url(), db).await?;
    let (cpu0, _) = gw.usage()?;
    let meter = ShareMeter::start(mosquitto, influx)?;
    let start = Instant::now();
    let sender = publish_all(broker, msgs, db).await?;
    loop {
        let stored = influx.count(db, "river_level", "seq").await.unwrap_or(0);
        if stored >= points {
            break;
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(600),
            "telegate stored {stored} of {points}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    sender.await??;
    let (cpu1, rss) = gw.usage()?;
    let shares = meter.stop()?;
    let (batches, per_batch, write_ms) = gw.write_stats().await?;
    println!(
        "        telegate wrote {batches:.0} batches, {per_batch:.0} points each on average, {write_ms:.1} ms per write request"
    );
    Ok((msgs.len() as f64 / secs, (cpu1 - cpu0) / secs, rss, shares))
}

/// (d) A fixed rate with latency probes.
async fn fixed_rate(
    broker: u16,
    influx: &Influxd,
    registry: &Registry,
    rate: u64,
    seconds: u64,
    samples: u64,
    db: &str,
) -> anyhow::Result<FixedRate> {
    let gw = GatewayProcess::start(broker, &influx.url(), db).await?;
    let total = rate * seconds;
    let load = messages(registry, total, samples, "load");
    let river = registry.get("river_level").expect("built-in");
    let (client, _) = publisher(&format!("bench-d-{db}"), broker).await?;
    let probe_every = Duration::from_millis(20);
    let (cpu0, _) = gw.usage()?;
    let start = Instant::now();
    let sent_at: Arc<std::sync::Mutex<BTreeMap<String, Instant>>> = Arc::default();
    let probes = sent_at.clone();
    let (client2, probe_sample) = (client.clone(), river.clone());
    let publisher_task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let per_ms = rate as f64 / 1000.0;
        let mut due = 0.0f64;
        let mut sent = 0usize;
        let mut next_probe = Instant::now();
        let mut k = 0u64;
        while sent < load.len() {
            tick.tick().await;
            due += per_ms;
            while (sent as f64) < due && sent < load.len() {
                let (topic, payload) = &load[sent];
                client2
                    .publish(topic.clone(), QoS::AtLeastOnce, false, payload.clone())
                    .await?;
                sent += 1;
            }
            if Instant::now() >= next_probe {
                next_probe += probe_every;
                let device = format!("probe-{k}");
                let s = valid_sample(&probe_sample.sample, now_ns() - 1_000_000, k);
                let payload = batch(&probe_sample.message, &device, vec![s]);
                probes
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .insert(device.clone(), Instant::now());
                client2
                    .publish(
                        format!("telemetry/bench/{device}/river_level"),
                        QoS::AtLeastOnce,
                        false,
                        payload,
                    )
                    .await?;
                k += 1;
            }
        }
        anyhow::Ok(k)
    });
    // Poll InfluxDB for the probes as they become queryable.
    let mut seen: HashMap<String, Duration> = HashMap::new();
    let mut finished = None;
    loop {
        let rows = influx
            .rows(
                db,
                "SELECT COUNT(seq) FROM river_level WHERE device_id =~ /^probe-/ GROUP BY device_id",
            )
            .await
            .unwrap_or_default();
        let now = Instant::now();
        let sent = sent_at.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
        for r in rows {
            let Some(device) = r.get("device_id").and_then(|v| v.as_str()) else {
                continue;
            };
            if !seen.contains_key(device)
                && let Some(at) = sent.get(device)
            {
                seen.insert(device.to_owned(), now.duration_since(*at));
            }
        }
        if finished.is_none() && publisher_task.is_finished() {
            finished = Some(start.elapsed());
        }
        if finished.is_some() && seen.len() >= sent.len() {
            break;
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(seconds * 10 + 60),
            "probes missing"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let publish_secs = finished.map_or(0.0, |d| d.as_secs_f64());
    let probes = publisher_task.await??;
    let expected = total * samples + probes;
    let mut stored = 0;
    for _ in 0..600 {
        stored = influx.count(db, "river_level", "seq").await.unwrap_or(0);
        if stored >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let wall = start.elapsed().as_secs_f64();
    let (cpu1, rss) = gw.usage()?;
    let mut lat: Vec<Duration> = seen.into_values().collect();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Ok(FixedRate {
        achieved: (total + probes) as f64 / publish_secs.max(0.001),
        p50: pct(0.50),
        p99: pct(0.99),
        max: lat.last().copied().unwrap_or_default(),
        probes: lat.len(),
        cpu: (cpu1 - cpu0) / wall,
        rss,
        stored,
        expected,
    })
}

#[derive(Debug)]
struct FixedRate {
    achieved: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
    probes: usize,
    cpu: f64,
    rss: u64,
    stored: u64,
    expected: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let rate: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let registry = Registry::builtin(&Default::default())?;
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    println!("telegate end-to-end benchmark: {n} messages per throughput run, fixed rate {rate}/s for 20 s");
    println!(
        "{:>7} | {:>12} | {:>12} | {:>12} | {:>6} | {:>9} | {:>8}",
        "samples", "broker msg/s", "db msg/s", "telegate", "ratio", "tg cpu", "tg rss"
    );
    // BENCH_ONLY_FIXED=1: only the fixed-rate latency runs (to compare builds
    // or settings with BENCH_GATEWAY / BENCH_INFLUX in a few minutes).
    let throughput = if std::env::var_os("BENCH_ONLY_FIXED").is_some() {
        &[][..]
    } else {
        &[1u64, 20][..]
    };
    for &samples in throughput {
        let msgs = messages(&registry, n, samples, &format!("s{samples}"));
        let meter = ShareMeter::start(&broker, &influx)?;
        let a = broker_ceiling(broker.port(), &msgs).await?;
        let a_shares = meter.stop()?;
        wait_quiet(&influx).await?;
        let meter = ShareMeter::start(&broker, &influx)?;
        let b_points = database_ceiling(&influx, &registry, &msgs).await?;
        let b_shares = meter.stop()?;
        influx.execute("DROP DATABASE ceiling").await?;
        let b = b_points / samples as f64;
        let db = format!("bench_c{samples}");
        let quiet = wait_quiet(&influx).await?;
        let (c, cpu, rss, c_shares) = telegate_rate(&broker, &influx, &msgs, &db, n * samples).await?;
        println!(
            "{samples:>7} | {a:>12.0} | {b:>12.0} | {c:>12.0} | {:>5.0}% | {:>8.2}c | {:>5.1} MiB",
            100.0 * c / a.min(b),
            cpu,
            rss as f64 / 1048576.0
        );
        println!(
            "        (waited {:.1} s for the database to finish compacting (b) before (c))",
            quiet.as_secs_f64()
        );
        for (what, sh, tg) in [
            ("(a) broker alone", &a_shares, 0.0),
            ("(b) database alone", &b_shares, 0.0),
            ("(c) telegate run", &c_shares, cpu),
        ] {
            println!(
                "        cpu during {what:<18}: box busy {:.2} of 2 cores = mosquitto {:.2} + influxd {:.2} + telegate {:.2} + publishers/bench/other {:.2}",
                sh.busy,
                sh.broker,
                sh.database,
                tg,
                (sh.busy - sh.broker - sh.database - tg).max(0.0)
            );
        }
    }
    // 20-sample messages at `rate` would be 20 × rate points/s, beyond what
    // the database alone takes (b); they run at `rate` points/s instead.
    for samples in [1u64, 20] {
        let db = format!("bench_d{samples}");
        let rate = rate / samples;
        wait_quiet(&influx).await?;
        let r = fixed_rate(broker.port(), &influx, &registry, rate, 20, samples, &db).await?;
        println!(
            "fixed {rate} msg/s x {samples} samples: published {:.0}/s, publish→queryable p50 {:.0} ms p99 {:.0} ms max {:.0} ms ({} probes), telegate cpu {:.2} cores, peak RSS {:.1} MiB, stored {}/{}",
            r.achieved,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3,
            r.max.as_secs_f64() * 1e3,
            r.probes,
            r.cpu,
            r.rss as f64 / 1048576.0,
            r.stored,
            r.expected
        );
    }
    Ok(())
}
