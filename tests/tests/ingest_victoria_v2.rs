//! The v2 write API flavour, against a real VictoriaMetrics: every sensor
//! type's numeric and boolean fields arrive as series `{measurement}_{field}`
//! with the topic's tags and the device timestamp. (VictoriaMetrics turns a
//! string field into a series of zeros, so strings are checked against
//! InfluxDB in the v1 test.)

use telegate_e2e::client::Publisher;
use telegate_e2e::expected::{Expected, expected_columns};
use telegate_e2e::gateway::{Gateway, test_config};
use telegate_e2e::now_ms_ns;
use telegate_e2e::payloads::{batch, valid_sample};
use telegate_e2e::servers::{Mosquitto, Victoria};
use telegate_influx::ApiVersion;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sensor_type_reaches_victoria_metrics_over_the_v2_api() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let vm = Victoria::start().await?;
    let mut config = test_config("gw-v2", broker.port(), &vm.url());
    config.influx.api = ApiVersion::V2;
    config.influx.org = "lai-chau".into();
    config.influx.bucket = "telegate".into();
    config.influx.token = "unused-by-victoria".into();
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let mut publisher = Publisher::connect("devices-v2", broker.port()).await?;

    let t0 = now_ms_ns() - 60_000_000_000;
    let mut expected = Vec::new();
    for (i, schema) in gw.registry.schemas().enumerate() {
        let device = format!("vm-{}", schema.sensor_type);
        let time_ns = t0 + i as i64 * 1_000_000;
        let sample = valid_sample(&schema.sample, time_ns, 7);
        publisher
            .publish(
                &format!("telemetry/malu-thang/{device}/{}", schema.sensor_type),
                batch(&schema.message, &device, vec![sample.clone()]),
            )
            .await?;
        expected.push((schema.clone(), device, time_ns, sample));
    }
    publisher.flush().await?;
    let summary = gw.wait_acked(8).await?;
    assert_eq!(summary.accepted_messages, 8, "{summary}");

    for (schema, device, time_ns, sample) in &expected {
        let m = &*schema.measurement;
        let series = vm.export(&format!("{{__name__=~\"{m}_.*\"}}")).await?;
        let tag_keys = schema.tag_keys();
        let mut checked = 0;
        for (column, want) in expected_columns(sample) {
            let want = match want {
                Expected::Float(x) => x,
                Expected::Int(x) => x as f64,
                Expected::Bool(b) => f64::from(u8::from(b)),
                Expected::Str(_) | Expected::EnumName(_) => continue,
            };
            if tag_keys.contains(&column.as_str()) {
                continue;
            }
            let name = format!("{m}_{column}");
            let s = series
                .iter()
                .find(|s| s["metric"]["__name__"] == name.as_str())
                .unwrap_or_else(|| panic!("no series {name} in {series:?}"));
            assert_eq!(s["metric"]["device_id"].as_str(), Some(device.as_str()), "{name}");
            assert_eq!(s["metric"]["site"].as_str(), Some("malu-thang"), "{name}");
            assert_eq!(s["values"][0].as_f64(), Some(want), "{name}");
            assert_eq!(
                s["timestamps"][0].as_i64(),
                Some(time_ns / 1_000_000),
                "{name}: device time (ms in VictoriaMetrics)"
            );
            assert_eq!(s["values"].as_array().map(Vec::len), Some(1), "{name}");
            checked += 1;
        }
        assert!(checked >= 2, "{m}: only {checked} numeric fields checked");
    }
    let last = gw.stop().await;
    assert_eq!((last.acked, last.points_written), (8, 8), "{last}");
    Ok(())
}
