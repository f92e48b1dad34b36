//! The device kit (`examples/devices/`, docs/device-protocol.md "Device
//! kit"), each example run end to end against a real Mosquitto, InfluxDB
//! and the gateway, with exact counts of what is stored:
//!
//! - Python with paho-mqtt (MQTT 5, persistent session, store and forward):
//!   started while the broker is down, it buffers its samples (the first
//!   ones before its clock is synced) and sends them in batches once the
//!   broker is back;
//! - the dependency-free encoder for MicroPython, published with
//!   `mosquitto_pub -V mqttv311 -f`;
//! - C with nanopb (generator from PyPI, runtime from Debian), compiled
//!   with gcc, published the same way.
//!
//! What they need is installed by `.ci/device-kit-tools` (run by `.ci/run`);
//! a missing tool fails the test and names that script.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;
use telegate_e2e::eventually;
use telegate_e2e::gateway::{Gateway, test_config};
use telegate_e2e::repo_dir;
use telegate_e2e::servers::{Influxd, Mosquitto};

const SETUP: &str = "install the device kit's tools with .ci/device-kit-tools (as root)";

/// Debian's Python, which has python3-paho-mqtt (not a pyenv or venv one).
fn python() -> PathBuf {
    std::env::var_os("TELEGATE_DEVICE_PYTHON").map_or_else(|| "/usr/bin/python3".into(), PathBuf::from)
}

fn nanopb_generator() -> PathBuf {
    let venv = std::env::var_os("TELEGATE_DEVICE_KIT_VENV")
        .map_or_else(|| PathBuf::from("/var/cache/telegate-ci/nanopb-venv"), PathBuf::from);
    venv.join("bin/nanopb_generator")
}

fn kit() -> PathBuf {
    repo_dir().join("examples/devices")
}

/// Run `cmd` to its end; fail (naming the setup script when the program is
/// missing) unless it exits 0.
fn run(cmd: &mut Command) -> anyhow::Result<Output> {
    let what = format!("{cmd:?}");
    let out = cmd.output().with_context(|| format!("running {what}: {SETUP}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

/// `mosquitto_pub` as an MQTT 3.1.1 device publishing one payload file, QoS 1.
fn publish_file(port: u16, client_id: &str, topic: &str, file: &Path) -> anyhow::Result<()> {
    run(Command::new("mosquitto_pub")
        .args(["-V", "mqttv311", "-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
        .args(["-i", client_id, "-t", topic, "-f"])
        .arg(file))
    .map(drop)
}

/// Every stored river_level point of `device`: seq → (time ns, row).
async fn stored(influx: &Influxd, device: &str) -> anyhow::Result<BTreeMap<u64, (i64, BTreeMap<String, Value>)>> {
    let q = format!("SELECT * FROM river_level WHERE device_id = '{device}'");
    let mut out = BTreeMap::new();
    for row in influx.rows("telegate", &q).await? {
        let row: BTreeMap<String, Value> = row.into_iter().collect();
        let seq = row.get("seq").and_then(Value::as_u64).context("seq")?;
        let time = row.get("time").and_then(Value::as_i64).context("time")?;
        out.insert(seq, (time, row));
    }
    Ok(out)
}

/// Wait until `n` points of `device` are stored.
async fn wait_stored(
    influx: &Influxd,
    device: &str,
    n: usize,
) -> anyhow::Result<BTreeMap<u64, (i64, BTreeMap<String, Value>)>> {
    eventually(Duration::from_secs(30), || async {
        let s = stored(influx, device).await?;
        Ok((s.len() >= n).then_some(s))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_device_forwards_what_it_buffered_offline_in_batches() -> anyhow::Result<()> {
    let mut broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let mut config = test_config("gw-kit-py", broker.port(), &influx.url());
    config.mqtt.reconnect_max = Duration::from_secs(1);
    let gw = Gateway::start(config).await?;
    gw.connected().await?;

    // The link is down when the gauge boots, with its clock not yet synced.
    broker.stop();
    let started = telegate_e2e::now_ms_ns();
    let mut device = Command::new(python())
        .arg(kit().join("python/river_level_device.py"))
        .args(["--port", &broker.port().to_string(), "--device", "py-001"])
        .args(["--samples", "40", "--interval", "0.05", "--batch", "15"])
        .args(["--clock-unsynced-for", "0.5", "--timeout", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}: {SETUP}", python().display()))?;
    // About 30 samples are taken offline, the first ~10 before the clock syncs.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    broker.start_again().await?;

    let deadline = Instant::now() + Duration::from_secs(60);
    while device.try_wait()?.is_none() {
        if Instant::now() > deadline {
            device.kill()?;
            bail!("the Python device did not finish within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = device.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "device failed ({}): {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).with_context(|| format!("device output `{stdout}`"))?;
    assert_eq!(report["samples"], 40, "{report}");
    assert_eq!(report["unacknowledged"], 0, "{report}");
    // Samples taken offline left as full batches once the link was back.
    assert_eq!(report["largest_batch"], 15, "{report}");
    assert!(report["unsynced"].as_u64().is_some_and(|n| n >= 1), "{report}");
    let batches = report["batches"].as_u64().context("batches")?;
    assert!(batches < 40, "{report}");

    let points = wait_stored(&influx, "py-001", 40).await?;
    let ended = telegate_e2e::now_ms_ns();
    assert_eq!(points.keys().copied().collect::<Vec<_>>(), (1..=40).collect::<Vec<_>>());
    // Samples taken before the clock synced were back-dated, not sent as 1970.
    for (seq, (time, _)) in &points {
        assert!(
            *time >= started - 1_000_000_000 && *time <= ended,
            "seq {seq} at {time}"
        );
    }
    let times: std::collections::BTreeSet<i64> = points.values().map(|(t, _)| *t).collect();
    assert_eq!(times.len(), 40, "every sample its own time");
    let summary = gw.wait_acked(batches).await?;
    assert_eq!(summary.rejected_total(), 0, "{summary}");
    assert_eq!(influx.count("telegate", "river_level", "stage_m").await?, 40);
    gw.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn micropython_encoder_payloads_are_stored() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let gw = Gateway::start(test_config("gw-kit-mp", broker.port(), &influx.url())).await?;
    gw.connected().await?;
    let dir = tempfile::tempdir()?;
    let topic = "telemetry/muong-te/mp-001/river_level";
    // Two batches of 5: seq 1-5 and 6-10, one minute apart each.
    for (first, end) in [
        (1, telegate_e2e::now_ms_ns() / 1_000_000_000 - 600),
        (6, telegate_e2e::now_ms_ns() / 1_000_000_000),
    ] {
        let file = dir.path().join(format!("batch-{first}.bin"));
        run(Command::new(python())
            .arg(kit().join("micropython/encode_river_level.py"))
            .args(["mp-001", &first.to_string(), "5"])
            .arg(&file)
            .arg((end * 1_000_000_000).to_string()))?;
        publish_file(broker.port(), "mp-001", topic, &file)?;
    }
    let points = wait_stored(&influx, "mp-001", 10).await?;
    assert_eq!(points.keys().copied().collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());
    for (seq, (_, row)) in &points {
        assert_eq!(row["stage_m"].as_f64(), Some(285.0 + *seq as f64 / 100.0), "seq {seq}");
        assert_eq!(row["mode"], "normal");
        // `optional` water_temp_c: written for odd seqs only.
        let want = if seq % 2 == 1 { Value::from(18.5) } else { Value::Null };
        assert_eq!(
            row.get("water_temp_c").cloned().unwrap_or(Value::Null),
            want,
            "seq {seq}"
        );
    }
    let summary = gw.wait_acked(2).await?;
    assert_eq!(summary.rejected_total(), 0, "{summary}");
    assert_eq!(influx.count("telegate", "river_level", "stage_m").await?, 10);
    gw.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_nanopb_payloads_are_stored() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    for f in [
        "river_level_device.proto",
        "river_level_device.options",
        "river_level_device.c",
    ] {
        std::fs::copy(kit().join("c").join(f), dir.path().join(f)).with_context(|| f.to_owned())?;
    }
    run(Command::new(nanopb_generator())
        .current_dir(dir.path())
        .arg("river_level_device.proto"))?;
    run(Command::new("gcc")
        .current_dir(dir.path())
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-I."])
        .args(["river_level_device.c", "river_level_device.pb.c", "-lprotobuf-nanopb"])
        .args(["-o", "river_level_device"]))?;

    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let gw = Gateway::start(test_config("gw-kit-c", broker.port(), &influx.url())).await?;
    gw.connected().await?;
    let topic = "telemetry/muong-te/c-001/river_level";
    let end = telegate_e2e::now_ms_ns() / 1_000_000_000;
    for (first, count, end) in [(1, 20, end - 10_800), (21, 64, end)] {
        let file = dir.path().join(format!("batch-{first}.bin"));
        run(Command::new(dir.path().join("river_level_device"))
            .args(["c-001", &first.to_string(), &count.to_string()])
            .arg(&file)
            .arg(end.to_string()))?;
        publish_file(broker.port(), "c-001", topic, &file)?;
    }
    let points = wait_stored(&influx, "c-001", 84).await?;
    assert_eq!(points.keys().copied().collect::<Vec<_>>(), (1..=84).collect::<Vec<_>>());
    for (seq, (time, row)) in &points {
        assert_eq!(row["stage_m"].as_f64(), Some(285.0 + *seq as f64 / 100.0), "seq {seq}");
        assert_eq!(
            *time % 60_000_000_000,
            end * 1_000_000_000 % 60_000_000_000,
            "whole minutes apart"
        );
    }
    assert_eq!(influx.count("telegate", "river_level", "water_temp_c").await?, 42);
    let summary = gw.wait_acked(2).await?;
    assert_eq!(summary.rejected_total(), 0, "{summary}");
    assert_eq!(influx.count("telegate", "river_level", "stage_m").await?, 84);
    gw.stop().await;
    Ok(())
}
