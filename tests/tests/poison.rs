//! The reproductions of issue 13: single messages that used to stop all
//! ingestion. Each now gives exactly one dead letter (or one quarantined
//! file) and no reconnect loop, and readings behind it are still stored.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use telegate_e2e::admin;
use telegate_e2e::client::Subscriber;
use telegate_e2e::eventually;
use telegate_e2e::gateway::{Gateway, test_config};
use telegate_e2e::raw_mqtt::{RawOutcome, RawPublisher};
use telegate_e2e::servers::{Influxd, Mosquitto};
use telegate_e2e::stream::reading;

const DLQ: &str = "telegate/dead-letter/#";

/// Publish one poison message then one good reading; wait until both are
/// acknowledged; return the dead letters seen.
async fn poison_then_good(
    gw: &Gateway,
    broker: &Mosquitto,
    influx: &Influxd,
    topic: &[u8],
    payload: &[u8],
) -> anyhow::Result<Vec<telegate_e2e::client::Received>> {
    let dlq = Subscriber::connect("dlq-watch", broker.port(), DLQ).await?;
    let mut device = RawPublisher::connect("poison-device", broker.port()).await?;
    assert_eq!(device.publish(topic, payload).await?, RawOutcome::Acked(0));
    let good = reading(&gw.registry, telegate_e2e::now_ms_ns() - 1_000_000_000, 1);
    assert_eq!(
        device.publish(b"telemetry/ok/rl-1/river_level", &good).await?,
        RawOutcome::Acked(0)
    );
    gw.wait_acked(2).await?;
    eventually(Duration::from_secs(10), || async {
        Ok((influx.count("telegate", "river_level", "seq").await? == 1).then_some(()))
    })
    .await?;
    // Anything more would have arrived by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(dlq.messages().await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_noncharacter_device_id_gives_one_dead_letter_and_no_reconnect() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let gw = Gateway::start(test_config("gw-poison-1", broker.port(), &influx.url())).await?;
    gw.connected().await?;
    // A batch whose device_id is "dev\u{FFFF}" (the payload).
    let payload = [0x0a, 0x06, 0x64, 0x65, 0x76, 0xef, 0xbf, 0xbf];
    let letters = poison_then_good(&gw, &broker, &influx, b"telemetry/s1/d1/river_level", &payload).await?;
    assert_eq!(letters.len(), 1, "{letters:?}");
    let l = &letters[0];
    assert_eq!(l.topic, "telegate/dead-letter/telemetry/s1/d1/river_level");
    assert_eq!(&l.payload[..], &payload[..], "original payload");
    assert_eq!(l.properties["format"], "original");
    assert!(!l.properties["reason"].is_empty());
    assert!(
        !l.properties["detail"].contains('\u{FFFF}'),
        "{:?}",
        l.properties["detail"]
    );
    let s = &gw.stats;
    assert_eq!(s.source.connects.load(Relaxed), 1, "the source never reconnected");
    assert_eq!(s.pipeline.dead_letter_connects.load(Relaxed), 1);
    assert_eq!(s.pipeline.dead_letters_published.load(Relaxed), 1);
    assert_eq!(s.pipeline.quarantine.quarantined.load(Relaxed), 0);
    gw.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_65530_byte_topic_gives_one_enveloped_dead_letter_and_no_reconnect() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let gw = Gateway::start(test_config("gw-poison-2", broker.port(), &influx.url())).await?;
    gw.connected().await?;
    let mut topic = b"telemetry/s1/".to_vec();
    topic.resize(65_530 - "/river_level".len(), b'd');
    topic.extend_from_slice(b"/river_level");
    assert_eq!(topic.len(), 65_530);
    let letters = poison_then_good(&gw, &broker, &influx, &topic, b"\x0a\x02d1").await?;
    assert_eq!(
        letters.len(),
        1,
        "{:?}",
        letters.iter().map(|l| &l.properties).collect::<Vec<_>>()
    );
    let l = &letters[0];
    assert!(l.topic.starts_with("telegate/dead-letter/_unroutable/"), "{}", l.topic);
    assert_eq!(l.properties["format"], "envelope");
    let envelope: serde_json::Value = serde_json::from_slice(&l.payload)?;
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(
        b64.decode(envelope["topic_base64"].as_str().unwrap_or_default())?,
        topic
    );
    assert_eq!(
        b64.decode(envelope["payload_base64"].as_str().unwrap_or_default())?,
        b"\x0a\x02d1"
    );
    let s = &gw.stats;
    assert_eq!(s.source.connects.load(Relaxed), 1);
    assert_eq!(s.pipeline.dead_letter_connects.load(Relaxed), 1);
    assert_eq!(s.pipeline.dead_letters_published.load(Relaxed), 1);
    gw.stop().await;
    Ok(())
}

/// The broker refuses dead letters larger than its `message_size_limit`: the
/// enveloped dead letter of a long topic with a 3,000-byte payload is (and
/// the device's own 3,000 bytes are not). The
/// message goes to the quarantine (one file), is acknowledged, and /readyz
/// stays 200 but says "degraded".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_the_broker_refuses_is_quarantined_once() -> anyhow::Result<()> {
    let broker = Mosquitto::start_with("message_size_limit 8192\n").await?;
    let influx = Influxd::start().await?;
    let quarantine = tempfile::tempdir()?;
    let mut config = test_config("gw-poison-3", broker.port(), &influx.url());
    config.limits.max_payload_bytes = 4096;
    config.quarantine.dir = quarantine.path().display().to_string();
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let mut topic = b"telemetry/s1/".to_vec();
    topic.resize(65_530 - "/river_level".len(), b'q');
    topic.extend_from_slice(b"/river_level");
    let payload = vec![0xffu8; 3000];
    let letters = poison_then_good(&gw, &broker, &influx, &topic, &payload).await?;
    assert!(letters.is_empty(), "{} dead letters", letters.len());
    let files: Vec<_> = std::fs::read_dir(quarantine.path())?.collect::<Result<_, _>>()?;
    assert_eq!(files.len(), 1, "{files:?}");
    let q: serde_json::Value = serde_json::from_slice(&std::fs::read(files[0].path())?)?;
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(b64.decode(q["topic_base64"].as_str().unwrap_or_default())?, topic);
    assert_eq!(b64.decode(q["payload_base64"].as_str().unwrap_or_default())?, payload);
    // Mosquitto 2.0.11 answers PUBACK 0x95 (packet too large), a code MQTT 5
    // does not define for PUBACK; rumqttc 0.25 cannot parse it and drops the
    // connection: the dead letter was in flight when it failed.
    let why = q["undeliverable"].as_str().unwrap_or_default();
    assert!(why.contains("in flight") && why.contains("149"), "{why}");
    let s = &gw.stats;
    assert_eq!(s.source.connects.load(Relaxed), 1);
    // The dead-letter connection reconnects when it next has a letter: none yet.
    assert_eq!(s.pipeline.dead_letter_connects.load(Relaxed), 1);
    assert_eq!(
        s.pipeline.dead_letters_published.load(Relaxed),
        0,
        "nothing acknowledged, nothing counted"
    );
    assert_eq!(s.pipeline.quarantine.quarantined.load(Relaxed), 1);
    let addr = gw.admin_addr().expect("admin listener");
    let (status, body) = admin::get(addr, "/readyz", None).await?;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("ready (degraded)\n"), "{body}");
    assert!(body.contains("dead letters: 1 messages quarantined"), "{body}");
    let (_, metrics) = admin::get(addr, "/metrics", None).await?;
    assert_eq!(admin::value(&metrics, "telegate_quarantined_total"), Some(1.0));
    assert_eq!(
        admin::value(&metrics, "telegate_dead_letters_published_total"),
        Some(0.0)
    );
    gw.stop().await;
    Ok(())
}

/// What docs/device-protocol.md promises about topics: a `/` in a level or a
/// wrong number of levels never reaches the gateway (the device gets 0x10,
/// "no matching subscribers"); an empty or non-identifier level with the
/// right count reaches it and is dead-lettered as `bad_topic`; a topic MQTT
/// forbids closes the device's connection at the broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_reach_the_gateway_only_as_the_broker_routes_them() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let gw = Gateway::start(test_config("gw-topics", broker.port(), &influx.url())).await?;
    gw.connected().await?;
    let dlq = Subscriber::connect("dlq-topics", broker.port(), DLQ).await?;
    let mut device = RawPublisher::connect("topic-device", broker.port()).await?;
    let payload = reading(&gw.registry, telegate_e2e::now_ms_ns() - 1_000_000_000, 1);
    for unrouted in [
        &b"telemetry/s1/rl/1/river_level"[..],
        b"telemetry/s1/river_level",
        b"telemetry/s1/rl-1/river_level/extra",
    ] {
        assert_eq!(
            device.publish(unrouted, &payload).await?,
            RawOutcome::Acked(0x10),
            "{unrouted:?}"
        );
    }
    for forbidden in [
        &b"telemetry/s1/rl\xef\xbf\xbf/river_level"[..],
        b"telemetry/s1/rl\0/river_level",
        b"telemetry/+/rl-1/river_level",
    ] {
        assert_eq!(
            device.publish(forbidden, &payload).await?,
            RawOutcome::Disconnected,
            "{forbidden:?}"
        );
    }
    for bad in [
        &b"telemetry//rl-1/river_level"[..],
        "telemetry/s1/rl-é/river_level".as_bytes(),
    ] {
        assert_eq!(device.publish(bad, &payload).await?, RawOutcome::Acked(0), "{bad:?}");
    }
    gw.wait_acked(2).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let letters = dlq.messages().await;
    assert_eq!(letters.len(), 2);
    assert!(letters.iter().all(|l| l.properties["reason"] == "bad_topic"));
    assert_eq!(
        gw.summary().received,
        2,
        "only the two with the pattern's level count arrived"
    );
    gw.stop().await;
    Ok(())
}
