//! Backlog drain: how fast the gateway empties a backlog queued for it in
//! its broker session (after a coverage outage or a gateway restart), at
//! what CPU per reading and peak memory; against, in the same run, the
//! broker's own delivery ceiling and the database's own ingest ceiling.
//!
//! (a) broker ceiling: `readings` queued in the persistent session of a
//!     minimal acking subscriber (`mosquitto_sub -c -q 1`, output
//!     discarded), then the time for it to receive them all;
//! (b) database ceiling: the same points, already encoded, posted to
//!     InfluxDB by two writers in batches of 5,000;
//! (c) telegate: the release gateway, default settings (WAL on), subscribes
//!     once and stops cleanly; `readings` are queued in its session; then it
//!     starts and the time runs until InfluxDB has accepted every point (its
//!     own `telegate_points_written_total`, checked against a count query
//!     at the end). CPU is the process's utime+stime over its whole second
//!     run; peak RSS is its `VmHWM`.
//!
//! Real Mosquitto 2 (snapshot every hour, so persistence does not compete)
//! and InfluxDB 1.x on free loopback ports:
//!
//! ```sh
//! cargo build --release -p telegate && cargo run --release -p telegate-e2e --example backlog -- [readings] [samples]
//! ```
//!
//! A benchmark, not a test: it checks that every point was stored and
//! reports; it asserts no speed or memory.
#![allow(clippy::print_stdout)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use telegate_e2e::admin::value;
use telegate_e2e::bench::{GatewayProcess, database_ceiling, messages, publish_acked, release_binary};
use telegate_e2e::cpu::wait_quiet;
use telegate_e2e::servers::{Influxd, Mosquitto};
use telegate_schema::Registry;

/// (a): the broker's delivery ceiling for a backlog of `n` messages.
async fn broker_ceiling(broker: &Mosquitto, msgs: &[(String, bytes::Bytes)]) -> anyhow::Result<f64> {
    let port = broker.port().to_string();
    let sub = |extra: &[&str]| {
        let mut c = Command::new("mosquitto_sub");
        c.args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-V",
            "mqttv5",
            "-c",
            "-i",
            "backlog-ceiling",
        ])
        .args(["-q", "1", "-x", "3600", "-t", "telemetry/#"])
        .args(extra)
        .stdout(Stdio::null());
        c
    };
    let status = sub(&["-E"]).status()?;
    anyhow::ensure!(status.success(), "mosquitto_sub could not create its session");
    publish_acked(broker.port(), msgs, "ceiling").await?;
    let n = msgs.len().to_string();
    let start = Instant::now();
    let mut child = sub(&["-C", &n]).spawn()?;
    loop {
        if let Some(status) = child.try_wait()? {
            anyhow::ensure!(status.success(), "mosquitto_sub failed: {status}");
            break;
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(600),
            "mosquitto_sub did not finish"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(msgs.len() as f64 / start.elapsed().as_secs_f64())
}

#[derive(Debug)]
struct Drain {
    rate: f64,
    cpu_secs: f64,
    rss: u64,
    pauses: f64,
}

/// (c): the gateway draining `msgs` queued in its session.
async fn telegate_drain(
    broker: &Mosquitto,
    influx: &Influxd,
    msgs: &[(String, bytes::Bytes)],
    points: u64,
    db: &str,
    binary: std::path::PathBuf,
) -> anyhow::Result<Drain> {
    let mut gw = GatewayProcess::start_binary(binary, broker.port(), &influx.url(), db).await?;
    gw.stop()?;
    publish_acked(broker.port(), msgs, db).await?;
    wait_quiet(influx).await?;
    let start = Instant::now();
    gw.start_again().await?;
    let mut last_report = Instant::now();
    loop {
        let page = gw.metrics().await.unwrap_or_default();
        let written = value(&page, "telegate_points_written_total").unwrap_or(0.0) as u64;
        if written >= points {
            break;
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(900),
            "telegate wrote {written} of {points}"
        );
        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            let (_, rss) = gw.usage()?;
            println!(
                "        … {written} of {points} points after {:.0} s, peak RSS so far {:.1} MiB",
                start.elapsed().as_secs_f64(),
                rss as f64 / 1048576.0
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    let (cpu_secs, rss) = gw.usage()?;
    let page = gw.metrics().await?;
    let pauses = value(&page, "telegate_mqtt_read_pauses_total").unwrap_or(0.0);
    let stored = influx.count(db, "river_level", "seq").await?;
    anyhow::ensure!(stored == points, "InfluxDB holds {stored} of {points} points");
    gw.stop()?;
    Ok(Drain {
        rate: msgs.len() as f64 / secs,
        cpu_secs,
        rss,
        pauses,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let samples: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let registry = Registry::builtin(&Default::default())?;
    let broker = Mosquitto::start_with("autosave_interval 3600\n").await?;
    let influx = Influxd::start().await?;
    let msgs = messages(&registry, n, samples, &format!("bl{samples}"));
    let points = n * samples;
    println!("backlog drain: {n} readings of {samples} sample(s) queued in the session, then drained");
    let a = broker_ceiling(&broker, &msgs).await?;
    println!("(a) broker ceiling (mosquitto_sub -c -q 1): {a:.0} readings/s");
    wait_quiet(&influx).await?;
    let b_points = database_ceiling(&influx, &registry, &msgs).await?;
    influx.execute("DROP DATABASE ceiling").await?;
    let b = b_points / samples as f64;
    println!("(b) database ceiling: {b_points:.0} points/s = {b:.0} readings/s");
    // BENCH_COMPARE=bin1,bin2 [BENCH_ROUNDS=k]: (c) for each build in turn,
    // k rounds, against the same ceilings: an A/B on a box whose load varies.
    let binaries: Vec<std::path::PathBuf> = match std::env::var("BENCH_COMPARE") {
        Ok(list) => list.split(',').map(std::path::PathBuf::from).collect(),
        Err(_) => vec![release_binary()?],
    };
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let ceiling = a.min(b);
    for round in 0..rounds {
        for (i, binary) in binaries.iter().enumerate() {
            let db = format!("backlog{samples}_{round}_{i}");
            let c = telegate_drain(&broker, &influx, &msgs, points, &db, binary.clone()).await?;
            let label = if binaries.len() > 1 {
                format!(" [{}]", binary.display())
            } else {
                String::new()
            };
            println!(
                "(c) telegate{label}: {:.0} readings/s = {:.0} % of min(a, b) ({:.0} % of a, {:.0} % of b); CPU {:.2} µs per reading ({:.1} s); peak RSS {:.1} MiB; read pauses {:.0}",
                c.rate,
                100.0 * c.rate / ceiling,
                100.0 * c.rate / a,
                100.0 * c.rate / b,
                1e6 * c.cpu_secs / n as f64,
                c.cpu_secs,
                c.rss as f64 / 1048576.0,
                c.pauses
            );
        }
    }
    Ok(())
}
