//! Every sensor type, published as real protobuf to a real Mosquitto, lands
//! in a real InfluxDB 1.x (v1 write API) with the exact measurement, tags,
//! typed fields and device timestamp.

use std::time::Duration;

use telegate_e2e::client::Publisher;
use telegate_e2e::expected::expected_columns;
use telegate_e2e::gateway::{Gateway, test_config};
use telegate_e2e::now_ms_ns;
use telegate_e2e::payloads::{batch, valid_sample};
use telegate_e2e::servers::{Influxd, Mosquitto};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sensor_type_is_stored_with_exact_tags_types_and_time() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    // No CREATE DATABASE here: the gateway creates it (influx.create_database).
    let gw = Gateway::start(test_config("gw-v1", broker.port(), &influx.url())).await?;
    gw.connected().await?;
    let mut publisher = Publisher::connect("devices", broker.port()).await?;

    let t0 = now_ms_ns() - 120_000_000_000;
    let mut expected = Vec::new();
    for (i, schema) in gw.registry.schemas().enumerate() {
        let device = format!("dev-{}", schema.sensor_type);
        let time_ns = t0 + i as i64 * 1_000_000 + 123_000; // sub-millisecond precision kept
        let sample = valid_sample(&schema.sample, time_ns, 40 + i as u64);
        let payload = batch(&schema.message, &device, vec![sample.clone()]);
        publisher
            .publish(
                &format!("telemetry/malu-thang/{device}/{}", schema.sensor_type),
                payload,
            )
            .await?;
        expected.push((schema.clone(), device, time_ns, sample));
    }
    assert_eq!(expected.len(), 8, "eight built-in sensor types");
    publisher.flush().await?;
    let summary = gw.wait_acked(8).await?;
    assert_eq!(summary.accepted_messages, 8, "{summary}");
    assert_eq!(summary.rejected_total(), 0, "{summary}");

    for (schema, device, time_ns, sample) in &expected {
        let m = &*schema.measurement;
        let rows = influx.rows("telegate", &format!("SELECT * FROM \"{m}\"")).await?;
        assert_eq!(rows.len(), 1, "{m}: {rows:?}");
        let row = &rows[0];
        assert_eq!(
            row["time"].as_i64(),
            Some(*time_ns),
            "{m}: device time, to the nanosecond"
        );
        assert_eq!(row["device_id"].as_str(), Some(device.as_str()), "{m}");
        assert_eq!(row["site"].as_str(), Some("malu-thang"), "{m}");
        let types = influx.field_types("telegate", m).await?;
        let tag_keys = schema.tag_keys();
        for (column, want) in expected_columns(sample) {
            let got = &row[&column];
            assert!(want.matches(got), "{m}.{column}: stored {got}, expected {want:?}");
            if !tag_keys.contains(&column.as_str()) {
                assert_eq!(
                    types.get(&column).map(String::as_str),
                    Some(want.influx_type()),
                    "{m}.{column} type: {types:?}"
                );
            }
        }
    }
    let river = influx.rows("telegate", "SELECT mode FROM river_level").await?;
    assert_eq!(river[0]["mode"].as_str(), Some("normal"), "enum written by value name");

    let last = gw.stop().await;
    assert_eq!(last.acked, 8, "{last}");
    assert_eq!(last.points_written, 8, "{last}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_batch_after_a_coverage_gap_stores_every_sample_at_its_own_time() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let gw = Gateway::start(test_config("gw-gap", broker.port(), &influx.url())).await?;
    gw.connected().await?;
    let mut publisher = Publisher::connect("rl-gap", broker.port()).await?;
    let schema = gw.registry.get("river_level").unwrap().clone();

    // Six hours offline, one sample every 10 minutes, uploaded in one message.
    let start = now_ms_ns() - 6 * 3600 * 1_000_000_000;
    let times: Vec<i64> = (0..36).map(|i| start + i * 600 * 1_000_000_000).collect();
    let samples = times
        .iter()
        .enumerate()
        .map(|(i, &t)| valid_sample(&schema.sample, t, 1000 + i as u64))
        .collect();
    let payload = batch(&schema.message, "rl-gap", samples);
    publisher
        .publish("telemetry/nam-giang/rl-gap/river_level", payload.clone())
        .await?;
    publisher.flush().await?;
    gw.wait_acked(1).await?;

    let rows = influx
        .rows("telegate", "SELECT seq FROM river_level ORDER BY time")
        .await?;
    let stored: Vec<(i64, i64)> = rows
        .iter()
        .map(|r| (r["time"].as_i64().unwrap(), r["seq"].as_i64().unwrap()))
        .collect();
    let want: Vec<(i64, i64)> = times.iter().enumerate().map(|(i, &t)| (t, 1000 + i as i64)).collect();
    assert_eq!(stored, want);

    // Redelivery of the same batch overwrites: still 36 points.
    publisher
        .publish("telemetry/nam-giang/rl-gap/river_level", payload)
        .await?;
    publisher.flush().await?;
    gw.wait_acked(2).await?;
    assert_eq!(influx.count("telegate", "river_level", "seq").await?, 36);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_example_config_a_reading_is_queryable_within_two_seconds() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    // The shipped example, with only the two addresses pointed at the test
    // servers and the admin listener on a free port (tests run in parallel).
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/telegate.example.toml"))?
        .replace("port = 1883", &format!("port = {}", broker.port()))
        .replace("listen = \"127.0.0.1:9464\"", "listen = \"127.0.0.1:0\"")
        .replace(
            "url = \"http://127.0.0.1:8086\"",
            &format!("url = \"{}\"", influx.url()),
        );
    let config = telegate::Config::parse(&text, "telegate.example.toml").map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(config.mqtt.port, broker.port());
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let mut publisher = Publisher::connect("rl-latency", broker.port()).await?;
    let schema = gw.registry.get("river_level").unwrap().clone();
    let payload = batch(
        &schema.message,
        "rl-9",
        vec![valid_sample(&schema.sample, now_ms_ns(), 1)],
    );
    publisher
        .publish("telemetry/muong-te/rl-9/river_level", payload)
        .await?;
    let published = std::time::Instant::now();
    telegate_e2e::eventually(Duration::from_secs(2), || async {
        Ok((influx.count("telegate", "river_level", "seq").await? == 1).then_some(()))
    })
    .await?;
    eprintln!("publish → queryable: {:?}", published.elapsed());
    Ok(())
}
