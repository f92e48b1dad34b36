use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
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
/// done (on the completion channel) once it is stored or dead-lettered; only
/// then is it acknowledged to the broker.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub seq: Seq,
    pub topic: Bytes,
    pub payload: Bytes,
}

#[derive(Debug, Default)]
pub struct SourceStats {
    pub received: AtomicU64,
    pub acked: AtomicU64,
    pub connects: AtomicU64,
    pub connection_errors: AtomicU64,
    pub connected: AtomicBool,
    /// The broker acknowledged the subscription at least once: from then on
    /// a persistent session holds what is published for the gateway.
    pub subscribed: AtomicBool,
    pub unacked: AtomicU64,
    /// Received messages waiting for room in the decoder's channel.
    pub held: AtomicU64,
    /// Times the holding queue was full and the socket was left unread
    /// until the decoder caught up (a broker sending beyond the receive
    /// maximum, or a slow pipeline).
    pub read_pauses: AtomicU64,
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
            .set_max_packet_size(Some(cfg.max_packet_size));
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
    /// Completions are still taken meanwhile; the acks they release are
    /// queued in the client and go out when reading resumes.
    ///
    /// After `shutdown` no new message is forwarded;
    /// the loop keeps acknowledging completions until every sender of `done`
    /// is gone (the pipeline has drained), then disconnects. `abort` stops at
    /// once: whatever is unacknowledged is redelivered by the broker later.
    pub async fn run(
        mut self,
        tx: mpsc::Sender<Envelope>,
        mut done: mpsc::Receiver<Seq>,
        shutdown: CancellationToken,
        abort: CancellationToken,
    ) {
        let mut tx = Some(tx);
        let mut overflow: VecDeque<Envelope> = VecDeque::new();
        // The holding queue reached `hold_max`: the socket is left unread.
        let mut paused = false;
        let mut tracker = AckTracker::default();
        let mut failures = 0u32;
        let mut subscribed_once = false;
        let stats = self.stats.clone();
        loop {
            tokio::select! {
                biased;
                () = abort.cancelled() => return,
                () = shutdown.cancelled(), if tx.is_some() => {
                    tracing::info!(unacked = tracker.len(), "MQTT source: intake stopped, draining");
                    tx = None;
                    overflow.clear();
                    paused = false;
                }
                seq = done.recv() => match seq {
                    Some(seq) => {
                        tracker.complete(seq);
                        while let Ok(seq) = done.try_recv() {
                            tracker.complete(seq);
                        }
                        self.release(&mut tracker);
                    }
                    None => break,
                },
                open = room(tx.as_ref()), if !overflow.is_empty() => {
                    if open {
                        forward_overflow(tx.as_ref(), &mut overflow);
                    } else {
                        tx = None;
                        overflow.clear();
                    }
                    // Resume reading once half the queue has gone on, not
                    // at the first free slot: fewer, longer reads.
                    paused &= overflow.len() > self.hold_max / 2;
                    stats.held.store(overflow.len() as u64, Relaxed);
                }
                event = self.eventloop.poll(), if !paused => match event {
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
                                other => tracing::error!(filter = %self.subscription, code = ?other, "broker refused the subscription"),
                            }
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        stats.received.fetch_add(1, Relaxed);
                        let Some(sender) = tx.as_ref() else { continue };
                        let seq = tracker.push(&p);
                        let env = Envelope { seq, topic: p.topic, payload: p.payload };
                        if overflow.is_empty() {
                            match sender.try_send(env) {
                                Ok(()) => {}
                                Err(mpsc::error::TrySendError::Full(env)) => overflow.push_back(env),
                                Err(mpsc::error::TrySendError::Closed(_)) => tx = None,
                            }
                        } else {
                            overflow.push_back(env);
                        }
                        if overflow.len() >= self.hold_max {
                            paused = true;
                            stats.read_pauses.fetch_add(1, Relaxed);
                        }
                        stats.held.store(overflow.len() as u64, Relaxed);
                        stats.unacked.store(tracker.len() as u64, Relaxed);
                    }
                    Ok(Event::Incoming(Packet::Disconnect(d))) => {
                        tracing::warn!(reason = ?d.reason_code, "broker sent DISCONNECT");
                    }
                    Ok(_) => {
                        // Each processed request (e.g. a PUBACK sent) frees room
                        // in the client's queue: retry acks that did not fit.
                        if tracker.has_releasable() {
                            self.release(&mut tracker);
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
                    }
                },
            }
        }
        self.release(&mut tracker);
        self.disconnect(&abort).await;
    }

    fn release(&self, tracker: &mut AckTracker) {
        let client = &self.client;
        let sent = tracker.release(|ack| client.try_ack(ack).is_ok());
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

/// Resolves once the decoder's channel has room (true) or is closed
/// (false); never without a channel.
async fn room(tx: Option<&mpsc::Sender<Envelope>>) -> bool {
    match tx {
        Some(tx) => tx.reserve().await.is_ok(),
        None => std::future::pending().await,
    }
}

fn forward_overflow(tx: Option<&mpsc::Sender<Envelope>>, overflow: &mut VecDeque<Envelope>) {
    let Some(tx) = tx else {
        overflow.clear();
        return;
    };
    forward(tx, overflow);
    // Give back what a burst grew.
    if overflow.is_empty() && overflow.capacity() > 4096 {
        overflow.shrink_to_fit();
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
