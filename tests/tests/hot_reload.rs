//! Hot reload against a running gateway on real Mosquitto + InfluxDB: a new
//! sensor type is picked up from a dropped-in `.proto`, a changed range takes
//! effect, and a broken schema is refused with its file and line while the
//! registry in service keeps serving.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use prost_reflect::Value;
use telegate::Config;
use telegate::registry::load_registry;
use telegate_e2e::client::Publisher;
use telegate_e2e::now_ms_ns;
use telegate_e2e::payloads::{batch, valid_sample};
use telegate_e2e::servers::{Influxd, Mosquitto};
use telegate_e2e::{copy_dir, eventually, repo_dir};
use tokio_util::sync::CancellationToken;

const COLD_CHAIN: &str = r#"// A cold-chain container probe at the gate's inspection yard.
syntax = "proto3";

package acme.v1;

import "buf/validate/validate.proto";
import "google/protobuf/timestamp.proto";
import "telegate/v1/options.proto";

message ColdChainBatch {
  option (telegate.v1.sensor) = {
    type: "cold_chain"
    measurement: "cold_chain"
    description: "Reefer container temperature"
  };
  string device_id = 1;
  repeated ColdChainSample samples = 2 [(buf.validate.field).repeated = {min_items: 1, max_items: 100}];
}

message ColdChainSample {
  google.protobuf.Timestamp time = 1 [(buf.validate.field).required = true];
  double temp_c = 2 [
    (telegate.v1.field).unit = "degC",
    (buf.validate.field).double = {gte: -40, lte: 30}
  ];
  bool door_open = 3;
}
"#;

/// Every write below changes the file's size, so the change is seen even
/// where modification times are coarse.
fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_reload_while_running_and_a_broken_one_is_refused() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let dir = tempfile::tempdir()?;
    copy_dir(&repo_dir().join("proto"), &dir.path().join("proto"))?;
    let config_path = dir.path().join("telegate.toml");
    write_file(
        &config_path,
        &format!(
            r#"
[mqtt]
port = {port}
client_id = "gw-reload"

[schema]
dir = "proto"
reload_interval = "200ms"

[influx]
url = "{url}"
linger = "50ms"

[wal]
dir = "wal"

[pipeline]
stats_interval = "0s"

[admin]
listen = "127.0.0.1:0"
"#,
            port = broker.port(),
            url = influx.url()
        ),
    )?;
    let loaded = Config::load(Some(&config_path))?;
    let registry = Arc::new(load_registry(&loaded)?);
    let shutdown = CancellationToken::new();
    let running = telegate::start_watched(&loaded, registry.clone(), shutdown.clone()).await?;
    let stats = running.stats.clone();
    eventually(Duration::from_secs(10), || async {
        Ok(stats
            .source
            .connected
            .load(std::sync::atomic::Ordering::SeqCst)
            .then_some(()))
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut publisher = Publisher::connect("reload-pub", broker.port()).await?;
    let settled = |acked: u64| {
        let stats = stats.clone();
        async move {
            eventually(Duration::from_secs(20), || async {
                let s = stats.summary();
                let done = s.acked >= acked && s.points_written >= s.accepted_points;
                Ok(done.then_some(s))
            })
            .await
        }
    };
    let now = now_ms_ns();

    // 1. An unknown type is rejected…
    let cold = |reg: &telegate_schema::Registry, t: i64, temp: f64| -> anyhow::Result<Vec<u8>> {
        let s = reg
            .get("cold_chain")
            .ok_or_else(|| anyhow::anyhow!("cold_chain not in registry"))?;
        let mut sample = valid_sample(&s.sample, t, 0);
        sample.set_field_by_name("temp_c", Value::F64(temp));
        Ok(batch(&s.message, "reefer-1", vec![sample]))
    };
    let standalone = {
        let d = tempfile::tempdir()?;
        std::fs::write(d.path().join("cold_chain.proto"), COLD_CHAIN)?;
        telegate_schema::Registry::load(d.path(), &Default::default())?
    };
    let topic = "telemetry/gate-yard/reefer-1/cold_chain";
    publisher
        .publish(topic, cold(&standalone, now - 3_000_000_000, 4.0)?)
        .await?;
    publisher.flush().await?;
    let s = settled(1).await?;
    assert_eq!(s.rejected.get("unknown_sensor_type"), Some(&1), "{s:?}");

    // 2. …until its .proto is dropped into the schema directory.
    write_file(&dir.path().join("proto/cold_chain.proto"), COLD_CHAIN)?;
    eventually(Duration::from_secs(10), || async {
        Ok((stats.reload.generation() == 2).then_some(()))
    })
    .await?;
    assert_eq!(stats.reload.failures(), 0, "{:?}", stats.reload.last_error());
    publisher
        .publish(topic, cold(&standalone, now - 2_000_000_000, 4.5)?)
        .await?;
    publisher.flush().await?;
    let s = settled(2).await?;
    assert_eq!(s.rejected_total(), 1, "{s:?}");
    assert_eq!(influx.count("telegate", "cold_chain", "temp_c").await?, 1);

    // 3. A changed range takes effect: 25 °C is fine now, not after lte 8.
    publisher
        .publish(topic, cold(&standalone, now - 1_900_000_000, 25.0)?)
        .await?;
    publisher.flush().await?;
    settled(3).await?;
    assert_eq!(influx.count("telegate", "cold_chain", "temp_c").await?, 2);
    write_file(
        &dir.path().join("proto/cold_chain.proto"),
        &COLD_CHAIN.replace("{gte: -40, lte: 30}", "{gte: -40, lte: 8}"),
    )?;
    eventually(Duration::from_secs(10), || async {
        Ok((stats.reload.generation() == 3).then_some(()))
    })
    .await?;
    publisher
        .publish(topic, cold(&standalone, now - 1_800_000_000, 25.0)?)
        .await?;
    publisher.flush().await?;
    let s = settled(4).await?;
    assert_eq!(s.rejected.get("constraint_violated"), Some(&1), "{s:?}");
    assert_eq!(influx.count("telegate", "cold_chain", "temp_c").await?, 2);

    // 4. A broken schema is refused, with file and line; the old one serves on.
    let broken = COLD_CHAIN.replace("bool door_open = 3;", "bool door_open = 3\n  oops");
    write_file(&dir.path().join("proto/cold_chain.proto"), &broken)?;
    eventually(Duration::from_secs(10), || async {
        Ok((stats.reload.failures() == 1).then_some(()))
    })
    .await?;
    let error = stats.reload.last_error().unwrap_or_default();
    let at = error
        .find("cold_chain.proto:")
        .map(|i| &error[i + "cold_chain.proto:".len()..]);
    assert!(
        at.is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit())),
        "error names the file and line: {error}"
    );
    assert!(
        error.starts_with(&format!("{}:", dir.path().join("proto/cold_chain.proto").display())),
        "error starts with the file's path and line, not a config key: {error}"
    );
    eprintln!("reload error as reported: {error}");
    assert_eq!(stats.reload.generation(), 3);
    publisher
        .publish(topic, cold(&standalone, now - 1_700_000_000, 5.0)?)
        .await?;
    publisher.flush().await?;
    let s = settled(5).await?;
    assert_eq!(influx.count("telegate", "cold_chain", "temp_c").await?, 3, "{s:?}");
    // The built-in types were never interrupted.
    let river = registry.get("river_level").unwrap();
    let reading = batch(
        &river.message,
        "gauge-1",
        vec![valid_sample(&river.sample, now - 1_000_000_000, 1)],
    );
    publisher
        .publish("telemetry/muong-te/gauge-1/river_level", reading)
        .await?;
    publisher.flush().await?;
    let s = settled(6).await?;
    assert_eq!(influx.count("telegate", "river_level", "stage_m").await?, 1, "{s:?}");

    // 5. Fixing it is picked up again.
    write_file(&dir.path().join("proto/cold_chain.proto"), COLD_CHAIN)?;
    eventually(Duration::from_secs(10), || async {
        Ok((stats.reload.generation() == 4).then_some(()))
    })
    .await?;
    assert_eq!(stats.reload.last_error(), None);

    shutdown.cancel();
    let summary = running.wait().await;
    assert_eq!(summary.unacked, 0, "{summary:?}");
    assert_eq!(summary.schema_generation, 4);
    assert_eq!(summary.schema_reload_failures, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_real_binary_when_polling_is_off() -> anyhow::Result<()> {
    use telegate_e2e::gateway::Binary;
    let broker = Mosquitto::start().await?;
    let dir = tempfile::tempdir()?;
    copy_dir(&repo_dir().join("proto"), &dir.path().join("proto"))?;
    let config_path = dir.path().join("telegate.toml");
    write_file(
        &config_path,
        &format!(
            "[mqtt]\nport = {}\nclient_id = \"gw-hup\"\n[schema]\ndir = \"proto\"\nreload_interval = \"0s\"\n[wal]\ndir = \"wal\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
            broker.port()
        ),
    )?;
    let log = dir.path().join("gateway.log");
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let mut gw = Binary::start(&config_path, &log)?;
    eventually(Duration::from_secs(20), || async {
        Ok(read_log().contains("subscribed").then_some(()))
    })
    .await?;
    write_file(&dir.path().join("proto/cold_chain.proto"), COLD_CHAIN)?;
    // Polling is off: nothing happens by itself…
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!read_log().contains("schemas reloaded"), "{}", read_log());
    // …until SIGHUP.
    gw.signal("HUP")?;
    eventually(Duration::from_secs(10), || async {
        Ok(read_log()
            .lines()
            .any(|l| l.contains("schemas reloaded") && l.contains("generation=2") && l.contains("cold_chain"))
            .then_some(()))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}\n{}", read_log()))?;
    let status = gw.sigterm(Duration::from_secs(20)).await?;
    assert!(status.success(), "{}", read_log());
    Ok(())
}
