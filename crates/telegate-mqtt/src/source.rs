use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt as _;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, SubscribeReasonCode};
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use rumqttc::{TlsConfiguration, Transport};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::acks::{AckTracker, Seq};
use crate::config::MqttConfig;
use crate::dead_letter::DeadLetterPublisher;
use crate::error::MqttError;

/// One received message on its way through the pipeline. Report `seq` as
/// completed (on the completion channel) once it is stored or dead-lettered;
/// only then is it acknowledged to the broker.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub seq: Seq,
    pub topic: Bytes,
    pub payload: Bytes,
}

telegate_model::stats! {
    /// The subscriber's counters, each declared family on `/metrics`.
    pub struct SourceStats {
        counter received: "telegate_messages_received_total" "MQTT messages delivered by the broker.",
        counter acked: "telegate_messages_acked_total"
            "Messages acknowledged to the broker (stored or dead-lettered).",
        gauge unacked: "telegate_acks_pending" "Messages received and not yet acknowledged.",
        gauge held: "telegate_mqtt_held_messages"
            "Received messages waiting for room in the decoder's channel (at most mqtt.receive_maximum).",
        /// A broker sending beyond the receive maximum, or a slow pipeline.
        counter read_pauses: "telegate_mqtt_read_pauses_total"
            "Times the holding queue was full and the broker connection was left unread until the decoder caught up.",
        flag connected: "telegate_mqtt_connected" "1 while connected to the broker.",
        /// `telegate_mqtt_reconnects_total` is this less the first.
        counter connects: "telegate_mqtt_connects_total" "Successful connections (CONNACK).",
        counter connection_errors: "telegate_mqtt_connection_errors_total"
            "Connection attempts or connections that failed.",
        /// The broker acknowledged the subscription at least once: from then on
        /// a persistent session holds what is published for the gateway.
        pub subscribed: AtomicBool,
    }
}

/// The subscriber: owns the rumqttc event loop and the ack order.
pub struct MqttSource {
    client: AsyncClient,
    eventloop: EventLoop,
    subscription: String,
    reconnect_min: Duration,
    reconnect_max: Duration,
    /// Messages held beyond the decoder's channel before the source stops
    /// reading the socket: the bound on undecoded payloads in memory.
    hold_max: usize,
    stats: Arc<SourceStats>,
}

impl std::fmt::Debug for MqttSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttSource")
            .field("subscription", &self.subscription)
            .finish_non_exhaustive()
    }
}

impl MqttSource {
    /// Build the client. Nothing connects until [`MqttSource::run`] polls;
    /// only reading the TLS files can fail here.
    pub fn new(cfg: &MqttConfig, subscription: String) -> Result<(Self, DeadLetterPublisher), MqttError> {
        let mut opts = MqttOptions::new(cfg.client_id.clone(), cfg.host.clone(), cfg.port);
        opts.set_keep_alive(cfg.keep_alive)
            .set_clean_start(false)
            .set_manual_acks(true)
            .set_connection_timeout(cfg.connect_timeout.as_secs().max(1))
            .set_session_expiry_interval(Some(u32::try_from(cfg.session_expiry.as_secs()).unwrap_or(u32::MAX)))
            .set_receive_maximum(Some(cfg.receive_maximum.max(1)))
            .set_max_packet_size(Some(cfg.max_packet_size))
            // Every PUBACK already due goes out in one write, not one
            // system call each (vendor/rumqttc/TELEGATE-PATCH.md).
            .set_max_request_batch(usize::from(cfg.receive_maximum.max(1)));
        if !cfg.username.is_empty() {
            opts.set_credentials(cfg.username.clone(), cfg.password.expose());
        }
        if cfg.tls.enabled {
            let tls = crate::tls::client_config(&cfg.tls)?;
            opts.set_transport(Transport::Tls(TlsConfiguration::Rustls(tls)));
        }
        // Room for one ack per unacknowledged message, so queuing an ack from
        // the poll loop never has to wait. Nothing else is published on this
        // connection: dead letters have their own.
        let cap = usize::from(cfg.receive_maximum) + 64;
        let (client, eventloop) = AsyncClient::new(opts, cap);
        let dlq = DeadLetterPublisher::new(cfg)?;
        let source = Self {
            client,
            eventloop,
            subscription,
            reconnect_min: cfg.reconnect_min,
            reconnect_max: cfg.reconnect_max,
            hold_max: usize::from(cfg.receive_maximum.max(1)),
            stats: Arc::default(),
        };
        Ok((source, dlq))
    }

    pub fn stats(&self) -> Arc<SourceStats> {
        self.stats.clone()
    }

    /// Poll until shut down. Messages that do not fit the decoder's channel
    /// wait in a holding queue; once it holds `mqtt.receive_maximum`, the
    /// socket is not read until the decoder has taken half of them: a broker that
    /// ignores the receive maximum (Mosquitto 2.0 delivering a queued
    /// backlog) is slowed by TCP instead of growing the gateway's memory.
    /// Completions are still taken meanwhile; the acks they make due are
    /// queued in the client and go out when reading resumes.
    ///
    /// After `shutdown` no new message is forwarded;
    /// the loop keeps acknowledging completions until every sender of `completed`
    /// is gone (the pipeline has drained), then disconnects. `abort` stops at
    /// once: whatever is unacknowledged is redelivered by the broker later.
    pub async fn run(
        mut self,
        tx: mpsc::Sender<Envelope>,
        mut completed: mpsc::Receiver<Seq>,
        shutdown: CancellationToken,
        abort: CancellationToken,
    ) {
        let mut intake = Intake {
            tx: Some(tx),
            overflow: VecDeque::new(),
            paused: false,
            hold_max: self.hold_max,
        };
        let mut tracker = AckTracker::default();
        let mut failures = 0u32;
        let mut subscribed_once = false;
        let stats = self.stats.clone();
        loop {
            let event = tokio::select! {
                biased;
                () = abort.cancelled() => return,
                () = shutdown.cancelled(), if intake.tx.is_some() => {
                    tracing::info!(unacked = tracker.len(), "MQTT source: intake stopped, draining");
                    intake.close();
                    continue;
                }
                seq = completed.recv() => match seq {
                    Some(seq) => {
                        tracker.complete(seq);
                        while let Ok(seq) = completed.try_recv() {
                            tracker.complete(seq);
                        }
                        self.ack_in_order(&mut tracker);
                        continue;
                    }
                    None => break,
                },
                open = room(intake.tx.as_ref()), if !intake.overflow.is_empty() => {
                    intake.room(open);
                    stats.held.store(intake.overflow.len() as u64, Relaxed);
                    continue;
                }
                event = self.eventloop.poll(), if !intake.paused => event,
            };
            // What rumqttc already holds (it reads up to ten packets per
            // socket read) is handled here, without a round of the select
            // and its futures per message.
            let mut event = Some(event);
            let mut burst = 0;
            while let Some(ev) = event.take() {
                match ev {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        stats.received.fetch_add(1, Relaxed);
                        if intake.tx.is_some() {
                            let seq = tracker.push(&p);
                            if intake.offer(Envelope {
                                seq,
                                topic: p.topic,
                                payload: p.payload,
                            }) {
                                stats.read_pauses.fetch_add(1, Relaxed);
                            }
                            stats.held.store(intake.overflow.len() as u64, Relaxed);
                            stats.unacked.store(tracker.len() as u64, Relaxed);
                        }
                    }
                    Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                        failures = 0;
                        stats.connects.fetch_add(1, Relaxed);
                        stats.connected.store(true, Relaxed);
                        tracker.new_connection();
                        tracing::info!(session_present = ack.session_present, "connected to MQTT broker");
                        if !ack.session_present || !subscribed_once {
                            if let Err(e) = self.client.try_subscribe(self.subscription.clone(), QoS::AtLeastOnce) {
                                tracing::error!(error = %e, filter = %self.subscription, "cannot queue subscription");
                            }
                            subscribed_once = true;
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(ack))) => {
                        for code in &ack.return_codes {
                            match code {
                                SubscribeReasonCode::Success(qos) => {
                                    stats.subscribed.store(true, Relaxed);
                                    tracing::info!(filter = %self.subscription, ?qos, "subscribed");
                                }
                                other => {
                                    tracing::error!(filter = %self.subscription, code = ?other, "broker refused the subscription")
                                }
                            }
                        }
                    }
                    Ok(Event::Incoming(Packet::Disconnect(d))) => {
                        tracing::warn!(reason = ?d.reason_code, "broker sent DISCONNECT");
                    }
                    Ok(_) => {
                        // Each processed request (e.g. a PUBACK sent) frees room
                        // in the client's queue: retry acks that did not fit.
                        if tracker.has_ack_due() {
                            self.ack_in_order(&mut tracker);
                        }
                    }
                    Err(e) => {
                        stats.connected.store(false, Relaxed);
                        stats.connection_errors.fetch_add(1, Relaxed);
                        let delay = telegate_model::retry::backoff(self.reconnect_min, self.reconnect_max, failures);
                        if failures == 0 || failures.is_power_of_two() {
                            tracing::warn!(error = %e, retry_in = ?delay, attempt = failures + 1, "MQTT connection failed");
                        }
                        failures = failures.saturating_add(1);
                        tokio::select! {
                            () = tokio::time::sleep(delay) => {}
                            () = abort.cancelled() => return,
                        }
                        break;
                    }
                }
                burst += 1;
                if burst < BURST && !intake.paused && !shutdown.is_cancelled() && !abort.is_cancelled() {
                    event = self.eventloop.poll().now_or_never();
                }
            }
        }
        self.ack_in_order(&mut tracker);
        self.disconnect(&abort).await;
    }

    /// Queue the PUBACKs now due, in arrival order, in the client.
    fn ack_in_order(&self, tracker: &mut AckTracker) {
        let client = &self.client;
        let sent = tracker.ack_in_order(|ack| client.try_ack(ack).is_ok());
        self.stats.acked.fetch_add(sent as u64, Relaxed);
        self.stats.unacked.store(tracker.len() as u64, Relaxed);
    }

    /// Flush queued acks and say goodbye, within a short bound.
    async fn disconnect(mut self, abort: &CancellationToken) {
        if !self.stats.connected.load(Relaxed) {
            return;
        }
        if self.client.try_disconnect().is_err() {
            return;
        }
        let flush = async {
            loop {
                match self.eventloop.poll().await {
                    Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        };
        tokio::select! {
            _ = tokio::time::timeout(Duration::from_secs(5), flush) => {}
            () = abort.cancelled() => {}
        }
        self.stats.connected.store(false, Relaxed);
        tracing::info!("disconnected from MQTT broker");
    }
}

/// Events handled in one go before the loop looks at completions, shutdown
/// and the decoder's room again: short enough that acks are not held back.
const BURST: usize = 64;

/// The way into the decoder: its channel, and the holding queue for what
/// does not fit (bounded by `hold_max`; when full, the socket is not read).
struct Intake {
    /// `None` once intake has stopped (shutdown, or the decoder is gone).
    tx: Option<mpsc::Sender<Envelope>>,
    overflow: VecDeque<Envelope>,
    /// The holding queue reached `hold_max`: the socket is left unread.
    paused: bool,
    hold_max: usize,
}

impl Intake {
    /// Hand a message on, or hold it. True when this filled the holding
    /// queue, so reading pauses.
    fn offer(&mut self, env: Envelope) -> bool {
        let Some(sender) = self.tx.as_ref() else { return false };
        if self.overflow.is_empty() {
            match sender.try_send(env) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(env)) => self.overflow.push_back(env),
                Err(mpsc::error::TrySendError::Closed(_)) => self.close(),
            }
        } else {
            self.overflow.push_back(env);
        }
        if self.overflow.len() >= self.hold_max && !self.paused {
            self.paused = true;
            return true;
        }
        false
    }

    /// The decoder's channel has room (`open`) or is gone.
    fn room(&mut self, open: bool) {
        match self.tx.as_ref() {
            Some(tx) if open => forward(tx, &mut self.overflow),
            _ => self.close(),
        }
        // Give back what a burst grew.
        if self.overflow.is_empty() && self.overflow.capacity() > 4096 {
            self.overflow.shrink_to_fit();
        }
        // Resume reading once half the queue has gone on, not at the first
        // free slot: fewer, longer reads.
        self.paused &= self.overflow.len() > self.hold_max / 2;
    }

    fn close(&mut self) {
        self.tx = None;
        self.overflow.clear();
        self.paused = false;
    }
}

/// Resolves once the decoder's channel has room (true) or is closed
/// (false); never without a channel.
async fn room(tx: Option<&mpsc::Sender<Envelope>>) -> bool {
    match tx {
        Some(tx) => tx.reserve().await.is_ok(),
        None => std::future::pending().await,
    }
}

fn forward(tx: &mpsc::Sender<Envelope>, overflow: &mut VecDeque<Envelope>) {
    while let Some(env) = overflow.pop_front() {
        match tx.try_send(env) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(env)) => {
                overflow.push_front(env);
                return;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                overflow.clear();
                return;
            }
        }
    }
}
