//! The retained per-device status: what InfluxDB stored of a device and its
//! last refusal, published at most once per device per interval.
//!
//! The pipeline notes events on the [`StatusBoard`] (a mutex-guarded map,
//! never waiting on the network): a message stored whole, from the InfluxDB
//! writers' completions (`note_stored`, so only what InfluxDB answered 2xx
//! for counts); a message refused, from the dead-letter stage. [`publish`]
//! runs on a connection of its own (`{mqtt.client_id}-status`) and, once a
//! second, publishes the status of every device that changed and whose last
//! status is at least `feedback.status_interval` old.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use telegate_lp::parse_lines;
use telegate_model::{FieldValue, TopicPattern, now_ns};
use telegate_mqtt::dead_letter::MAX_DETAIL_BYTES;
use telegate_mqtt::mqtt_string::legal_string;
use telegate_mqtt::{Delivery, Message, Publisher};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::FeedbackConfig;
use super::envelope::{MAX_GATEWAY_BYTES, device_of};
use super::wire::Writer;
use crate::stages::WriteToken;
use crate::stats::PipelineStats;

/// Most devices one gateway keeps a status for; later ones get none (logged
/// once). Bounds memory and the retained messages a flood of device ids
/// could leave on the broker.
pub(crate) const MAX_DEVICES: usize = 100_000;

/// How often due statuses are looked for.
const TICK: Duration = Duration::from_secs(1);

/// The newest sample of a message: its time (Unix ns) and its `seq` field,
/// if it has an integer one.
pub(crate) type Newest = (i64, Option<u64>);

/// The newest sample among a message's lines (as the writer stores them).
pub(crate) fn newest_sample(lines: &[u8]) -> Option<Newest> {
    parse_lines(lines)
        .filter_map(Result::ok)
        .max_by_key(|p| p.time_ns)
        .map(|p| {
            let seq = p.fields.iter().find(|(k, _)| &**k == "seq").and_then(|(_, v)| match v {
                FieldValue::Int(i) => u64::try_from(*i).ok(),
                FieldValue::UInt(u) => Some(*u),
                _ => None,
            });
            (p.time_ns, seq)
        })
}

#[derive(Debug, Default, Clone)]
struct DeviceState {
    newest: Option<Newest>,
    stored: u64,
    rejected: u64,
    /// Reason, detail, gateway time.
    last_rejection: Option<(&'static str, String, i64)>,
    /// When its last status was handed out for publishing.
    published_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct Board {
    devices: HashMap<String, DeviceState>,
    /// Devices whose status changed since it was last published.
    dirty: BTreeSet<String>,
    full_logged: bool,
}

/// Every device's status, updated by the pipeline, read by [`publish`].
#[derive(Debug)]
pub(crate) struct StatusBoard {
    pattern: TopicPattern,
    config: FeedbackConfig,
    gateway: String,
    board: Mutex<Board>,
}

impl StatusBoard {
    pub(crate) fn new(config: FeedbackConfig, pattern: TopicPattern, gateway: String) -> Self {
        Self {
            pattern,
            config,
            gateway,
            board: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn update(&self, topic: &[u8], f: impl FnOnce(&mut DeviceState)) {
        let Some(device) = device_of(&self.pattern, topic) else {
            return;
        };
        let mut b = self.lock();
        if !b.devices.contains_key(&device) && b.devices.len() >= MAX_DEVICES {
            if !std::mem::replace(&mut b.full_logged, true) {
                tracing::warn!(
                    max = MAX_DEVICES,
                    %device,
                    "device status: too many devices; devices beyond the limit get no status"
                );
            }
            return;
        }
        f(b.devices.entry(device.clone()).or_default());
        b.dirty.insert(device);
    }

    /// InfluxDB stored a message of `topic` whole; `newest` is its newest sample.
    pub(crate) fn stored(&self, topic: &[u8], newest: Option<Newest>) {
        self.update(topic, |d| {
            d.stored += 1;
            if let Some(n) = newest
                && d.newest.is_none_or(|(t, _)| n.0 >= t)
            {
                d.newest = Some(n);
            }
        });
    }

    /// A message of `topic` was refused (dead-lettered or quarantined).
    pub(crate) fn rejected(&self, topic: &[u8], reason: &'static str, detail: &str, now_ns: i64) {
        self.update(topic, |d| {
            d.rejected += 1;
            d.last_rejection = Some((reason, detail.to_owned(), now_ns));
        });
    }

    /// The statuses due at `now` (changed, and the last one at least an
    /// interval old), marked as published.
    fn due(&self, now: Instant, now_ns: i64) -> Vec<(String, Message)> {
        let interval = self.config.status_interval;
        let mut b = self.lock();
        let Board { devices, dirty, .. } = &mut *b;
        let mut out = Vec::new();
        dirty.retain(|device| {
            let Some(d) = devices.get_mut(device) else {
                return false;
            };
            if d.published_at.is_some_and(|at| now.duration_since(at) < interval) {
                return true;
            }
            d.published_at = Some(now);
            out.push((device.clone(), self.message(device, d, now_ns)));
            false
        });
        out
    }

    /// Publish `device`'s status again at the next tick (nothing was sent).
    fn retry(&self, device: String) {
        let mut b = self.lock();
        if let Some(d) = b.devices.get_mut(&device) {
            d.published_at = None;
        }
        b.dirty.insert(device);
    }

    fn message(&self, device: &str, d: &DeviceState, now_ns: i64) -> Message {
        Message {
            topic: self.config.topic(device, "status"),
            payload: encode(device, d, &self.gateway, now_ns).into(),
            retain: true,
            content_type: None,
            user_properties: Vec::new(),
        }
    }
}

/// `telegate.v1.DeviceStatus`.
fn encode(device: &str, d: &DeviceState, gateway: &str, now_ns: i64) -> Vec<u8> {
    let mut w = Writer::default();
    w.string(1, device);
    w.int64(2, now_ns);
    w.optional_int64(3, d.newest.map(|(t, _)| t));
    w.optional_uint64(4, d.newest.and_then(|(_, s)| s));
    w.uint64(5, d.stored);
    w.uint64(6, d.rejected);
    if let Some((reason, detail, at)) = &d.last_rejection {
        w.string(7, reason);
        w.string(8, &legal_string(detail.trim(), MAX_DETAIL_BYTES));
        w.int64(9, *at);
    }
    w.string(10, &legal_string(gateway, MAX_GATEWAY_BYTES));
    w.0
}

/// Between the InfluxDB writers and whoever completes their messages: note
/// each stored message on the board, then pass its completion on.
pub(crate) async fn note_stored<C>(
    mut stored: mpsc::Receiver<WriteToken<C>>,
    board: Arc<StatusBoard>,
    completed: mpsc::Sender<C>,
) {
    while let Some(token) = stored.recv().await {
        board.stored(&token.topic, token.newest);
        if completed.send(token.completion).await.is_err() {
            break;
        }
    }
}

/// Publish due statuses (retained, QoS 1) until `shutdown`. A status the
/// broker could not be reached for is tried again at the next tick; one it
/// refused is dropped (the next change publishes a new one).
pub(crate) async fn publish(
    board: Arc<StatusBoard>,
    mut publisher: Publisher,
    timeout: Duration,
    stats: Arc<PipelineStats>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => break,
        }
        let mut due = board.due(Instant::now(), now_ns()).into_iter();
        while let Some((device, message)) = due.next() {
            let delivery = tokio::select! {
                d = publisher.publish_one(&message, timeout) => d,
                () = shutdown.cancelled() => break,
            };
            match delivery {
                Delivery::Acked => {
                    stats.feedback_published.fetch_add(1, Relaxed);
                    if std::mem::take(&mut failing) {
                        tracing::info!("device status: publishing again");
                    }
                }
                Delivery::NotSent { error } => {
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!(%error, "device status: broker unreachable; retrying every second");
                    }
                    board.retry(device);
                    // The rest of this round would fail the same way.
                    due.for_each(|(d, _)| board.retry(d));
                    break;
                }
                other => {
                    stats.feedback_errors.fetch_add(1, Relaxed);
                    tracing::warn!(%device, outcome = ?other, "device status not published");
                }
            }
        }
    }
    publisher.disconnect(Duration::from_secs(2)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(interval: Duration) -> StatusBoard {
        StatusBoard::new(
            FeedbackConfig {
                status: true,
                status_interval: interval,
                ..FeedbackConfig::default()
            },
            TopicPattern::parse("telemetry/{site}/{device_id}/{sensor_type}").expect("pattern"),
            "gw".into(),
        )
    }

    #[test]
    fn the_newest_sample_and_its_seq() {
        let lines = b"river_level,device_id=d,site=s seq=7i,stage_m=1 2000\nriver_level,device_id=d,site=s seq=8i,stage_m=1 3000\nriver_level,device_id=d,site=s seq=6i,stage_m=1 1000\n";
        assert_eq!(newest_sample(lines), Some((3000, Some(8))));
        assert_eq!(newest_sample(b"m,device_id=d v=1 5\n"), Some((5, None)));
        assert_eq!(newest_sample(b""), None);
    }

    #[test]
    fn one_status_per_device_per_interval() {
        let b = board(Duration::from_secs(60));
        let t0 = Instant::now();
        let topic = b"telemetry/s/rl-1/river_level";
        b.stored(topic, Some((2000, Some(2))));
        b.stored(topic, Some((1000, Some(1))));
        b.stored(b"bad topic", Some((1, None)));
        let due = b.due(t0, 9);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].1.topic, "telegate/device/rl-1/status");
        assert!(due[0].1.retain);
        // device_id, updated, last time 2000, seq 2, 2 stored, gateway.
        let mut want = vec![0x0a, 4];
        want.extend_from_slice(b"rl-1");
        want.extend_from_slice(&[0x10, 9, 0x18, 0xd0, 0x0f, 0x20, 2, 0x28, 2, 0x52, 2, b'g', b'w']);
        assert_eq!(&due[0].1.payload[..], &want[..]);
        assert!(b.due(t0, 9).is_empty(), "nothing changed");
        b.rejected(topic, "timestamp_too_old", "old", 10);
        assert!(b.due(t0 + Duration::from_secs(59), 9).is_empty(), "within the interval");
        let due = b.due(t0 + Duration::from_secs(60), 9);
        assert_eq!(due.len(), 1);
        b.retry(due[0].0.clone());
        assert_eq!(b.due(t0 + Duration::from_secs(61), 9).len(), 1, "retried at once");
    }
}
