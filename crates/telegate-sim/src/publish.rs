//! Publishing a fleet's traffic to an MQTT broker, paced by the messages'
//! own timestamps.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rumqttc::Outgoing;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions};
use telegate_model::ErrorChain;
use telegate_mqtt::puback::Verdict;
use tokio::sync::{oneshot, watch};
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_util::sync::CancellationToken;

use crate::config::SimError;
use crate::fleet::{Fleet, MessageKind};

/// Largest MQTT packet the simulator sends or accepts: room for an
/// oversized message above the gateway's payload limit.
pub const MAX_PACKET_BYTES: u32 = 2 * 1024 * 1024;
/// Requests queued towards the event loop; `publish` waits when it is full.
const REQUEST_CHANNEL: usize = 1000;
/// Unacknowledged QoS 1 messages in flight (the broker may allow fewer).
const MAX_INFLIGHT: u16 = 100;
const PROGRESS_EVERY: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for outstanding PubAcks at the end.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The broker to publish to.
#[derive(Debug, Clone)]
pub struct PublishTarget {
    pub host: String,
    pub port: u16,
    /// Credentials, when the broker wants them (a missing password is empty).
    pub username: Option<String>,
    pub password: Option<String>,
}

/// When to stop (whichever comes first; neither means until cancelled).
#[derive(Debug, Clone, Copy, Default)]
pub struct Limit {
    /// Stop once messages would be due this long after the start.
    pub duration: Option<Duration>,
    /// Stop after sending this many messages.
    pub messages: Option<u64>,
}

/// Reported about every 500 ms while publishing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishProgress {
    /// Messages handed to the MQTT client.
    pub sent: u64,
    /// Messages the broker acknowledged (PUBACK).
    pub acked: u64,
    /// Since the connection was established.
    pub elapsed: Duration,
    /// Deliberately bad messages sent.
    pub bad: u64,
}

/// What a run sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishReport {
    /// Messages handed to the MQTT client.
    pub sent: u64,
    /// Messages the broker acknowledged (PUBACK).
    pub acked: u64,
    /// Of those, acknowledged with "no matching subscribers": nobody (no
    /// gateway session) was subscribed, so the broker dropped them.
    pub unrouted: u64,
    /// Good messages sent, and the samples they carried.
    pub good: u64,
    pub samples: u64,
    /// Bad messages sent, by [`BadClass::label`](crate::BadClass::label)
    /// (classes with none sent are absent).
    pub bad_by_class: BTreeMap<&'static str, u64>,
    /// From the connection to the end of the run.
    pub elapsed: Duration,
}

/// Polls the event loop: counts PubAcks, reports the first connection
/// result, and keeps reconnecting after a drop until told to stop.
async fn drive(
    mut eventloop: EventLoop,
    acked: watch::Sender<u64>,
    unrouted: Arc<AtomicU64>,
    ready: oneshot::Sender<Result<(), ConnectionError>>,
    stop: CancellationToken,
) {
    let mut ready = Some(ready);
    let mut refused_acks = 0u64;
    loop {
        let event = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            event = eventloop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                if let Some(r) = ready.take() {
                    let _ = r.send(Ok(()));
                } else {
                    tracing::info!("reconnected to the broker");
                }
            }
            Ok(Event::Incoming(Packet::PubAck(ack))) => {
                match Verdict::of(&ack) {
                    Verdict::Stored => {}
                    Verdict::NoSubscribers => {
                        unrouted.fetch_add(1, Ordering::Relaxed);
                    }
                    Verdict::Refused { reason } => {
                        refused_acks += 1;
                        if refused_acks == 1 {
                            tracing::warn!(%reason, "the broker refused a message");
                        }
                    }
                }
                acked.send_modify(|n| *n += 1);
            }
            Ok(Event::Incoming(Packet::Disconnect(d))) => {
                tracing::warn!(reason = ?d.reason_code, "the broker disconnected the simulator");
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(e) => {
                if let Some(r) = ready.take() {
                    let _ = r.send(Err(e));
                    break;
                }
                tracing::warn!(error = %ErrorChain(&e), "MQTT connection lost; reconnecting");
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

/// Publish `fleet`'s messages at their `at_ns` times (relative to the
/// first), QoS 1, until `limit` or `cancel`; then wait up to 5 s for the
/// outstanding PubAcks and disconnect. `progress` is called about every
/// 500 ms (the library never prints).
pub async fn publish(
    mut fleet: Fleet,
    target: PublishTarget,
    limit: Limit,
    cancel: CancellationToken,
    mut progress: impl FnMut(&PublishProgress),
) -> Result<PublishReport, SimError> {
    let where_to = format!("{}:{}", target.host, target.port);
    let mut opts = MqttOptions::new(
        format!("telegate-sim-{}", fleet.config().seed),
        &target.host,
        target.port,
    );
    opts.set_clean_start(true)
        .set_keep_alive(Duration::from_secs(30))
        .set_connection_timeout(CONNECT_TIMEOUT.as_secs())
        .set_max_packet_size(Some(MAX_PACKET_BYTES))
        .set_request_channel_capacity(REQUEST_CHANNEL)
        .set_outgoing_inflight_upper_limit(MAX_INFLIGHT)
        // Queued publishes go out in one write, not one system call each
        // (vendor/rumqttc/TELEGATE-PATCH.md).
        .set_max_request_batch(usize::from(MAX_INFLIGHT));
    if let Some(user) = &target.username {
        opts.set_credentials(user.clone(), target.password.clone().unwrap_or_default());
    }
    let (client, eventloop) = AsyncClient::new(opts, REQUEST_CHANNEL);
    let (acked_tx, acked) = watch::channel(0u64);
    let (ready_tx, ready_rx) = oneshot::channel();
    let stop = CancellationToken::new();
    let unrouted = Arc::new(AtomicU64::new(0));
    let driver = tokio::spawn(drive(eventloop, acked_tx, unrouted.clone(), ready_tx, stop.clone()));
    let connect_err = |source: Box<dyn std::error::Error + Send + Sync>| SimError::Connect {
        target: where_to.clone(),
        source,
    };

    let connected = tokio::select! {
        r = timeout(CONNECT_TIMEOUT + Duration::from_secs(1), ready_rx) => match r {
            Ok(Ok(Ok(()))) => Ok(true),
            Ok(Ok(Err(e))) => Err(connect_err(e.into())),
            Ok(Err(_)) => Err(connect_err("the MQTT event loop stopped".into())),
            Err(_) => Err(connect_err(
                format!("no CONNACK within {} s", CONNECT_TIMEOUT.as_secs()).into(),
            )),
        },
        () = cancel.cancelled() => Ok(false),
    };
    let connected = match connected {
        Ok(c) => c,
        Err(e) => {
            stop.cancel();
            let _ = driver.await;
            return Err(e);
        }
    };

    let started = Instant::now();
    let end = limit.duration.map(|d| started + d);
    let first_ns = fleet.config().start_ns;
    let mut report = PublishReport::default();
    let mut bad = 0u64;
    let mut next_progress = started + PROGRESS_EVERY;
    let snapshot = |report: &PublishReport, bad: u64, acked: &watch::Receiver<u64>| PublishProgress {
        sent: report.sent,
        acked: *acked.borrow(),
        elapsed: started.elapsed(),
        bad,
    };
    let mut failure = None;

    'send: loop {
        if !connected || limit.messages.is_some_and(|m| report.sent >= m) {
            break;
        }
        let msg = fleet.next_message();
        let offset = Duration::from_nanos(u64::try_from(msg.at_ns.saturating_sub(first_ns)).unwrap_or(0));
        if limit.duration.is_some_and(|d| offset >= d) {
            break;
        }
        let due = started + offset;
        // Wait until due (not at all if behind), reporting progress meanwhile.
        loop {
            let now = Instant::now();
            if now >= next_progress {
                progress(&snapshot(&report, bad, &acked));
                while next_progress <= now {
                    next_progress += PROGRESS_EVERY;
                }
            }
            if now >= due {
                break;
            }
            tokio::select! {
                biased;
                () = cancel.cancelled() => break 'send,
                () = sleep_until(due.min(next_progress)) => {}
            }
        }
        if end.is_some_and(|e| Instant::now() >= e) {
            break;
        }
        let published = tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            () = until(end) => break,
            r = client.publish(msg.topic, QoS::AtLeastOnce, false, msg.payload) => r,
        };
        if let Err(e) = published {
            failure = Some(SimError::Mqtt(e.into()));
            break;
        }
        report.sent += 1;
        match msg.kind {
            MessageKind::Good { samples } => {
                report.good += 1;
                report.samples += samples as u64;
            }
            MessageKind::Bad(class) => {
                bad += 1;
                *report.bad_by_class.entry(class.label()).or_default() += 1;
            }
        }
    }

    // Drain: wait (bounded) for the broker to acknowledge what was sent.
    if failure.is_none() {
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        let mut acks = acked.clone();
        while *acks.borrow() < report.sent {
            tokio::select! {
                changed = acks.changed() => if changed.is_err() { break },
                () = sleep_until(deadline) => break,
            }
        }
        if *acks.borrow() < report.sent {
            tracing::warn!(
                sent = report.sent,
                acked = *acks.borrow(),
                "gave up waiting for PubAcks after {} s",
                DRAIN_TIMEOUT.as_secs()
            );
        }
    }
    let _ = timeout(DISCONNECT_TIMEOUT, client.disconnect()).await;
    let mut driver = driver;
    if timeout(DISCONNECT_TIMEOUT, &mut driver).await.is_err() {
        stop.cancel();
        let _ = driver.await;
    }
    report.acked = *acked.borrow();
    report.unrouted = unrouted.load(Ordering::Relaxed);
    if report.unrouted > 0 {
        tracing::warn!(
            unrouted = report.unrouted,
            "the broker had no subscriber for some messages and dropped them (is the gateway subscribed?)"
        );
    }
    report.elapsed = started.elapsed();
    progress(&PublishProgress {
        sent: report.sent,
        acked: report.acked,
        elapsed: report.elapsed,
        bad,
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Sleeps until `end`, or forever when there is none.
async fn until(end: Option<Instant>) {
    match end {
        Some(end) => sleep_until(end).await,
        None => std::future::pending().await,
    }
}
