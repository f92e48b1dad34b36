//! Feedback for MQTT 3.1.1 devices (docs/device-protocol.md, "Feedback for
//! MQTT 3.1.1 devices"): a device on MQTT 3.1.1 — which never sees user
//! properties — learns why a message was refused from the protobuf
//! envelope on its own topic, and what InfluxDB really stored from its
//! retained, rate-limited status. With the options off (the default) nothing
//! but the ordinary dead letter is published.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use prost::Message as _;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use telegate_e2e::client::{Publisher, Subscriber};
use telegate_e2e::eventually;
use telegate_e2e::gateway::{Gateway, test_config};
use telegate_e2e::now_ms_ns;
use telegate_e2e::payloads::{batch, valid_sample};
use telegate_e2e::servers::{Influxd, Mosquitto};
use tokio::sync::Mutex;

/// `telegate.v1.DeadLetterEnvelope` (proto/telegate/v1/feedback.proto).
#[derive(Clone, PartialEq, prost::Message)]
struct DeadLetterEnvelope {
    #[prost(string, tag = "1")]
    reason: String,
    #[prost(string, tag = "2")]
    detail: String,
    #[prost(string, tag = "3")]
    topic: String,
    #[prost(bytes = "vec", tag = "4")]
    payload: Vec<u8>,
    #[prost(string, tag = "5")]
    gateway: String,
    #[prost(int64, tag = "6")]
    rejected_unix_ns: i64,
}

/// `telegate.v1.DeviceStatus`.
#[derive(Clone, PartialEq, prost::Message)]
struct DeviceStatus {
    #[prost(string, tag = "1")]
    device_id: String,
    #[prost(int64, tag = "2")]
    updated_unix_ns: i64,
    #[prost(int64, optional, tag = "3")]
    last_stored_time_unix_ns: Option<i64>,
    #[prost(uint64, optional, tag = "4")]
    last_stored_seq: Option<u64>,
    #[prost(uint64, tag = "5")]
    stored_messages: u64,
    #[prost(uint64, tag = "6")]
    rejected_messages: u64,
    #[prost(string, tag = "7")]
    last_rejection_reason: String,
    #[prost(string, tag = "8")]
    last_rejection_detail: String,
    #[prost(int64, tag = "9")]
    last_rejection_unix_ns: i64,
    #[prost(string, tag = "10")]
    gateway: String,
}

/// (topic, payload, retain) of every message a device received.
type Inbox = Arc<Mutex<Vec<(String, Vec<u8>, bool)>>>;

/// A device on MQTT 3.1.1 (rumqttc's v4 client): persistent session,
/// subscribed to its feedback topics, publishing QoS 1.
struct Device311 {
    client: AsyncClient,
    received: Inbox,
    task: tokio::task::JoinHandle<()>,
}

impl Device311 {
    async fn connect(id: &str, port: u16, filter: &str) -> anyhow::Result<Self> {
        let mut opts = MqttOptions::new(id, "127.0.0.1", port);
        opts.set_clean_session(false);
        opts.set_keep_alive(Duration::from_secs(30));
        let (client, mut eventloop) = AsyncClient::new(opts, 64);
        let received: Inbox = Arc::default();
        let sink = received.clone();
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(1);
        let sub = client.clone();
        let filter = filter.to_owned();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = sub.subscribe(filter.clone(), QoS::AtLeastOnce).await;
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready_tx.try_send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        sink.lock().await.push((p.topic, p.payload.to_vec(), p.retain));
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), ready_rx.recv())
            .await
            .context("MQTT 3.1.1 device did not get its SUBACK")?;
        Ok(Self { client, received, task })
    }

    async fn publish(&self, topic: &str, payload: Vec<u8>) -> anyhow::Result<()> {
        self.client.publish(topic, QoS::AtLeastOnce, false, payload).await?;
        Ok(())
    }

    async fn on(&self, topic: &str) -> Vec<(Vec<u8>, bool)> {
        let r = self.received.lock().await;
        r.iter()
            .filter(|(t, _, _)| t == topic)
            .map(|(_, p, retain)| (p.clone(), *retain))
            .collect()
    }

    async fn statuses(&self, topic: &str) -> anyhow::Result<Vec<DeviceStatus>> {
        self.on(topic)
            .await
            .iter()
            .map(|(p, _)| DeviceStatus::decode(p.as_slice()).context("decoding a DeviceStatus"))
            .collect()
    }
}

impl Drop for Device311 {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const DEVICE: &str = "rl-311";
const TOPIC: &str = "telemetry/muong-te/rl-311/river_level";
const STATUS: &str = "telegate/device/rl-311/status";
const ENVELOPE: &str = "telegate/device/rl-311/dead-letter";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mqtt311_device_gets_its_dead_letters_and_a_status_of_what_was_stored() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let mut influx = Influxd::start().await?;
    let mut config = test_config("gw-feedback", broker.port(), &influx.url());
    config.feedback.dead_letter_envelope = true;
    config.feedback.status = true;
    config.feedback.status_interval = Duration::from_secs(2);
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let device = Device311::connect(DEVICE, broker.port(), "telegate/device/rl-311/#").await?;

    let river = gw.registry.get("river_level").context("river_level")?.clone();
    let now = now_ms_ns();
    let at = |seq: u64| now - 60_000_000_000 + seq as i64 * 1_000_000_000;
    let good = batch(
        &river.message,
        DEVICE,
        (1..=3).map(|s| valid_sample(&river.sample, at(s), s)).collect(),
    );
    // A sample from a clock that was never set: 1970-01-01.
    let unsynced = batch(&river.message, DEVICE, vec![valid_sample(&river.sample, 0, 4)]);
    device.publish(TOPIC, good).await?;
    device.publish(TOPIC, unsynced.clone()).await?;
    gw.wait_acked(2).await?;

    // The envelope: everything MQTT 5 user properties would have said.
    let envelopes = eventually(Duration::from_secs(10), || async {
        let e = device.on(ENVELOPE).await;
        Ok((!e.is_empty()).then_some(e))
    })
    .await?;
    assert_eq!(envelopes.len(), 1, "one refusal, one envelope");
    assert!(!envelopes[0].1, "envelopes are not retained");
    let env = DeadLetterEnvelope::decode(envelopes[0].0.as_slice())?;
    assert_eq!(env.reason, "timestamp_too_old");
    assert!(env.detail.contains("1970-01-01T00:00:00"), "{}", env.detail);
    assert_eq!(env.topic, TOPIC);
    assert_eq!(env.payload, unsynced, "the original payload");
    assert_eq!(env.gateway, "gw-feedback");
    assert!((env.rejected_unix_ns - now).abs() < 60_000_000_000);

    // The status: the newest sample InfluxDB stored, and the last refusal.
    let want = |s: &DeviceStatus| {
        s.stored_messages == 1
            && s.rejected_messages == 1
            && s.last_stored_seq == Some(3)
            && s.last_stored_time_unix_ns == Some(at(3))
            && s.last_rejection_reason == "timestamp_too_old"
    };
    let status = eventually(Duration::from_secs(10), || async {
        Ok(device.statuses(STATUS).await?.into_iter().find(|s| want(s)))
    })
    .await?;
    assert_eq!(status.device_id, DEVICE);
    assert_eq!(status.gateway, "gw-feedback");
    assert!(status.last_rejection_detail.contains("older than the accepted age"));
    assert_eq!(influx.count("telegate", "river_level", "stage_m").await?, 3);

    // Retained: a device that subscribes later, with mosquitto_sub speaking
    // MQTT 3.1.1, gets the last status at once.
    let port = broker.port().to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("mosquitto_sub")
            .args(["-V", "mqttv311", "-h", "127.0.0.1", "-p", &port])
            .args(["-t", STATUS, "-C", "1", "-W", "10", "-F", "%r %x"])
            .output()
    })
    .await?
    .context("running mosquitto_sub (Debian package mosquitto-clients)")?;
    assert!(
        out.status.success(),
        "mosquitto_sub: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout)?;
    let (retained, hex) = line.trim().split_once(' ').context("`%r %x` output")?;
    assert_eq!(retained, "1", "{line}");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<_, _>>()?;
    assert!(want(&DeviceStatus::decode(bytes.as_slice())?), "{line}");

    // "Stored" means stored by InfluxDB, not accepted into the WAL: with
    // InfluxDB down, a reading is acknowledged and the status does not move.
    influx.stop();
    let later = batch(&river.message, DEVICE, vec![valid_sample(&river.sample, at(10), 10)]);
    device.publish(TOPIC, later).await?;
    eventually(Duration::from_secs(10), || async {
        Ok((gw.summary().acked >= 3).then_some(()))
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let statuses = device.statuses(STATUS).await?;
    assert!(statuses.iter().all(|s| s.stored_messages <= 1), "{statuses:?}");
    influx.start_again().await?;
    let stored = eventually(Duration::from_secs(20), || async {
        Ok(device
            .statuses(STATUS)
            .await?
            .into_iter()
            .find(|s| s.stored_messages == 2))
    })
    .await?;
    assert_eq!(stored.last_stored_seq, Some(10));
    assert_eq!(stored.last_stored_time_unix_ns, Some(at(10)));
    assert_eq!(influx.count("telegate", "river_level", "stage_m").await?, 4);

    // Rate limit: a burst of 20 readings over ~3 s yields at most one status
    // per 2 s interval (plus one at the end of the last interval).
    let before = device.on(STATUS).await.len();
    let started = std::time::Instant::now();
    for seq in 11..=30u64 {
        let b = batch(&river.message, DEVICE, vec![valid_sample(&river.sample, at(seq), seq)]);
        device.publish(TOPIC, b).await?;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    eventually(Duration::from_secs(20), || async {
        Ok(device
            .statuses(STATUS)
            .await?
            .into_iter()
            .find(|s| s.stored_messages == 22))
    })
    .await?;
    let elapsed = started.elapsed();
    let sent = device.on(STATUS).await.len() - before;
    let limit = elapsed.as_secs() as usize / 2 + 2;
    assert!(sent <= limit, "{sent} statuses in {elapsed:?} (at most {limit})");
    assert_eq!(influx.count("telegate", "river_level", "stage_m").await?, 24);
    gw.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_feedback_off_only_the_dead_letter_is_published() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let gw = Gateway::start(test_config("gw-no-feedback", broker.port(), &influx.url())).await?;
    gw.connected().await?;
    let watch = Subscriber::connect("watch-all", broker.port(), "telegate/#").await?;
    let mut device = Publisher::connect("rl-off", broker.port()).await?;
    let river = gw.registry.get("river_level").context("river_level")?.clone();
    let now = now_ms_ns();
    let ok = batch(
        &river.message,
        "rl-off",
        vec![valid_sample(&river.sample, now - 1_000_000_000, 1)],
    );
    let bad = batch(&river.message, "rl-off", vec![valid_sample(&river.sample, 0, 2)]);
    device.publish("telemetry/muong-te/rl-off/river_level", ok).await?;
    device.publish("telemetry/muong-te/rl-off/river_level", bad).await?;
    gw.wait_acked(2).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let topics: Vec<String> = watch.messages().await.into_iter().map(|m| m.topic).collect();
    assert_eq!(topics, ["telegate/dead-letter/telemetry/muong-te/rl-off/river_level"]);
    assert_eq!(influx.count("telegate", "river_level", "stage_m").await?, 1);
    gw.stop().await;
    Ok(())
}
