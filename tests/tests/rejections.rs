//! Every class of bad input is dead-lettered with its reason and the original
//! payload, nothing of it is written, and good readings interleaved with the
//! bad ones are all stored.

use std::collections::BTreeMap;
use std::time::Duration;

use prost_reflect::Value;
use telegate_e2e::client::{Publisher, Subscriber};
use telegate_e2e::eventually;
use telegate_e2e::gateway::{Gateway, test_config};
use telegate_e2e::now_ms_ns;
use telegate_e2e::payloads::{batch, bounded_field, float_field, valid_sample};
use telegate_e2e::servers::{Influxd, Mosquitto};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_rejection_class_is_dead_lettered_and_good_readings_still_stored() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let mut config = test_config("gw-reject", broker.port(), &influx.url());
    config.limits.max_payload_bytes = 4096;
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let dlq = Subscriber::connect("dlq-watch", broker.port(), "telegate/dead-letter/#").await?;
    let mut publisher = Publisher::connect("mixed", broker.port()).await?;

    let river = gw.registry.get("river_level").unwrap().clone();
    let health = gw.registry.get("device_health").unwrap().clone();
    let now = now_ms_ns();
    let ok = |seq: u64| valid_sample(&river.sample, now - 1_000_000_000 * (seq as i64 + 1), seq);
    let topic = |device: &str, t: &str| format!("telemetry/muong-te/{device}/{t}");

    // (device, topic, payload, expected reason)
    let mut bad: Vec<(String, Vec<u8>, &str)> = Vec::new();
    bad.push((
        topic("bad-bytes", "river_level"),
        b"\x08\x96\x01 definitely not a RiverLevelBatch \xff\xff".to_vec(),
        "malformed_protobuf",
    ));
    bad.push((
        topic("bad-type", "tide_gauge"),
        batch(&river.message, "bad-type", vec![ok(1)]),
        "unknown_sensor_type",
    ));
    let (field, hi) = bounded_field(&river.sample).unwrap();
    let mut out_of_range = ok(2);
    out_of_range.set_field(&field, Value::F64(hi + 1000.0));
    bad.push((
        topic("bad-range", "river_level"),
        batch(&river.message, "bad-range", vec![ok(1), out_of_range]),
        "constraint_violated",
    ));
    let mut no_time = ok(3);
    no_time.clear_field_by_name("time");
    bad.push((
        topic("bad-missing", "river_level"),
        batch(&river.message, "bad-missing", vec![no_time]),
        "missing_field",
    ));
    let mut nan = valid_sample(&health.sample, now - 5_000_000_000, 4);
    nan.set_field(&float_field(&health.sample).unwrap(), Value::F64(f64::NAN));
    bad.push((
        topic("bad-nan", "device_health"),
        batch(&health.message, "bad-nan", vec![nan]),
        "non_finite_value",
    ));
    let future = valid_sample(&river.sample, now + 3 * 3600 * 1_000_000_000, 5);
    bad.push((
        topic("bad-future", "river_level"),
        batch(&river.message, "bad-future", vec![future]),
        "timestamp_in_future",
    ));
    let ancient = valid_sample(&river.sample, now - 90 * 24 * 3600 * 1_000_000_000, 6);
    bad.push((
        topic("bad-old", "river_level"),
        batch(&river.message, "bad-old", vec![ancient]),
        "timestamp_too_old",
    ));
    bad.push((
        topic("bad-spoof", "river_level"),
        batch(&river.message, "rl-victim", vec![ok(7)]),
        "device_id_mismatch",
    ));
    bad.push((topic("bad-big", "river_level"), vec![0x0a; 8192], "payload_too_large"));
    bad.push((
        topic("bad!id", "river_level"),
        batch(&river.message, "bad!id", vec![ok(8)]),
        "bad_topic",
    ));

    // Interleave: good, bad, good, bad, …, good.
    let mut good = 0u64;
    for (t, payload, _) in &bad {
        good += 1;
        let device = format!("good-{good}");
        publisher
            .publish(
                &topic(&device, "river_level"),
                batch(&river.message, &device, vec![ok(good)]),
            )
            .await?;
        publisher.publish(t, payload.clone()).await?;
    }
    good += 1;
    publisher
        .publish(
            &topic("good-last", "river_level"),
            batch(&river.message, "good-last", vec![ok(good)]),
        )
        .await?;
    publisher.flush().await?;
    let total = good + bad.len() as u64;
    let summary = gw.wait_acked(total).await?;

    // Every dead letter, with reason, detail, original topic and payload.
    let letters = eventually(Duration::from_secs(10), || async {
        let m = dlq.messages().await;
        Ok((m.len() >= bad.len()).then_some(m))
    })
    .await?;
    assert_eq!(letters.len(), bad.len());
    for (t, payload, reason) in &bad {
        let l = letters
            .iter()
            .find(|l| &l.properties["topic"] == t)
            .unwrap_or_else(|| panic!("no dead letter for {t}"));
        assert_eq!(l.properties["reason"], *reason, "{t}: {:?}", l.properties);
        assert_eq!(l.topic, format!("telegate/dead-letter/{t}"));
        assert_eq!(&l.payload[..], &payload[..], "{t}: original payload");
        assert!(!l.properties["detail"].is_empty(), "{t}");
        assert_eq!(l.properties["gateway"], "gw-reject");
    }
    let range_detail = &letters
        .iter()
        .find(|l| l.properties["reason"] == "constraint_violated")
        .unwrap()
        .properties["detail"];
    assert!(
        range_detail.contains(&format!("samples[1].{}", field.name())),
        "{range_detail}"
    );

    // Per-reason counters: one each; all good readings accepted.
    let want: BTreeMap<&str, u64> = bad.iter().map(|(_, _, r)| (*r, 1)).collect();
    assert_eq!(summary.rejected, want, "{summary}");
    assert_eq!(summary.accepted_messages, good, "{summary}");

    // Nothing of the bad ones stored; every good one stored.
    assert_eq!(influx.count("telegate", "river_level", "seq").await?, good);
    let leaked = influx
        .rows("telegate", "SELECT * FROM river_level WHERE device_id =~ /^bad|victim/")
        .await?;
    assert!(leaked.is_empty(), "{leaked:?}");
    assert!(influx.rows("telegate", "SELECT * FROM device_health").await?.is_empty());
    let last = gw.stop().await;
    assert_eq!(last.acked, total, "{last}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_influxdb_refuses_is_dead_lettered_with_its_message_and_the_rest_stored() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    // A field type conflict: pm2_5_ugm3 already exists as a string in this shard.
    influx.create_database("telegate").await?;
    let now = now_ms_ns();
    influx
        .write(
            "telegate",
            &format!(
                "air_quality,device_id=legacy pm2_5_ugm3=\"n/a\" {}",
                now - 60_000_000_000
            ),
        )
        .await?;

    let mut config = test_config("gw-conflict", broker.port(), &influx.url());
    config.influx.linger = Duration::from_millis(300); // one batch for all of them
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let dlq = Subscriber::connect("dlq-conflict", broker.port(), "telegate/dead-letter/#").await?;
    let mut publisher = Publisher::connect("gate-devices", broker.port()).await?;
    let river = gw.registry.get("river_level").unwrap().clone();
    let air = gw.registry.get("air_quality").unwrap().clone();
    const GOOD: u64 = 40;
    for i in 0..GOOD {
        let s = valid_sample(&river.sample, now - (i as i64 + 1) * 1_000_000_000, i);
        publisher
            .publish(
                &format!("telemetry/muong-te/rl-{i}/river_level"),
                batch(&river.message, &format!("rl-{i}"), vec![s]),
            )
            .await?;
        if i == GOOD / 2 {
            let s = valid_sample(&air.sample, now - 1_000_000_000, 1);
            publisher
                .publish(
                    "telemetry/ma-lu-thang/aq-1/air_quality",
                    batch(&air.message, "aq-1", vec![s]),
                )
                .await?;
        }
    }
    publisher.flush().await?;
    let summary = gw.wait_acked(GOOD + 1).await?;

    let letters = eventually(Duration::from_secs(10), || async {
        let m = dlq.messages().await;
        Ok((!m.is_empty()).then_some(m))
    })
    .await?;
    assert_eq!(letters.len(), 1, "{letters:?}");
    let l = &letters[0];
    assert_eq!(l.properties["reason"], "write_rejected");
    assert_eq!(l.properties["topic"], "telemetry/ma-lu-thang/aq-1/air_quality");
    assert!(
        l.properties["detail"].contains("field type conflict"),
        "InfluxDB's own message: {}",
        l.properties["detail"]
    );
    let line = String::from_utf8_lossy(&l.payload);
    assert!(
        line.starts_with("air_quality,device_id=aq-1,site=ma-lu-thang ") && line.ends_with('\n'),
        "{line}"
    );
    assert_eq!(summary.rejected.get("write_rejected"), Some(&1), "{summary}");

    assert_eq!(
        influx.count("telegate", "river_level", "seq").await?,
        GOOD,
        "every other line stored"
    );
    let aq = influx
        .rows("telegate", "SELECT * FROM air_quality WHERE device_id = 'aq-1'")
        .await?;
    assert!(aq.is_empty(), "{aq:?}");
    Ok(())
}
