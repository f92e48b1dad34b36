//! A QoS 1 publisher on its own connection that knows when the broker has a
//! message (its PUBACK arrived), for outputs that must retry until then:
//! alert notifications.
//!
//! It is separate from the source's connection on purpose: the source's
//! client disconnects once ingestion has drained at shutdown, while an
//! output still has notifications to flush; and `AsyncClient::publish` on a
//! shared client only says the request was queued, not that the broker took
//! it. The session is clean: after a failure nothing of ours is replayed by
//! the library, the caller retries the whole batch, and QoS 1 is "at least
//! once" either way.

use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use rumqttc::{Outgoing, TlsConfiguration, Transport};

use crate::config::MqttConfig;
use crate::error::MqttError;
use crate::puback::{InFlight, Verdict};

/// One message to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub topic: String,
    pub payload: Bytes,
    pub retain: bool,
    /// MQTT 5 content type, e.g. `application/json`.
    pub content_type: Option<String>,
    pub user_properties: Vec<(String, String)>,
}

impl Message {
    /// The message as it goes on the wire: topic and every string made legal
    /// for MQTT 5 ([`crate::mqtt_string`]): a topic cut to 65,535 bytes,
    /// refused characters replaced, wildcards in the topic replaced by `_`.
    pub fn legalised(&self) -> Message {
        use crate::mqtt_string::{MAX_STRING_BYTES, legal_string, legal_topic};
        let s = |v: &str| legal_string(v, MAX_STRING_BYTES).into_owned();
        Message {
            topic: legal_topic(&self.topic, MAX_STRING_BYTES),
            payload: self.payload.clone(),
            retain: self.retain,
            content_type: self.content_type.as_deref().map(s),
            user_properties: self.user_properties.iter().map(|(k, v)| (s(k), s(v))).collect(),
        }
    }

    /// The size of the QoS 1 PUBLISH this message becomes.
    pub fn packet_size(&self) -> usize {
        crate::mqtt_string::publish_size(
            &self.topic,
            &self.user_properties,
            self.content_type.as_deref(),
            self.payload.len(),
        )
    }

    fn properties(&self) -> PublishProperties {
        PublishProperties {
            payload_format_indicator: self.content_type.as_ref().map(|_| 1),
            content_type: self.content_type.clone(),
            user_properties: self.user_properties.clone(),
            ..Default::default()
        }
    }
}

/// Most messages [`Publisher::publish_confirmed`] takes at once (the client's
/// request queue holds them all, so queuing never waits).
pub const MAX_BATCH: usize = 64;

/// What became of one message given to [`Publisher::publish_one`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The broker acknowledged it (PUBACK success or "no matching subscribers").
    Acked,
    /// The broker answered with an error reason code (≥ 0x80).
    Refused { reason: String },
    /// It was written to the connection, which then failed (or no PUBACK came
    /// within the timeout) before the broker acknowledged it: the broker may
    /// have dropped the connection because of it.
    LostInFlight { error: String },
    /// It never left: the broker cannot be reached now (back off and retry).
    NotSent { error: String },
    /// Larger than the broker's (or our) Maximum Packet Size; never sent.
    TooLarge { size: usize, max: usize },
}

/// See the module docs.
pub struct Publisher {
    options: MqttOptions,
    client: AsyncClient,
    eventloop: EventLoop,
    broker: String,
    /// Our own `mqtt.max_packet_size`: the cap when the broker announces none.
    own_max_packet: u32,
    /// The Maximum Packet Size of the broker's last CONNACK, if it sent one.
    broker_max_packet: Option<u32>,
    connected: bool,
    /// Connections made (CONNACKs received), including reconnects.
    connects: u64,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("broker", &self.broker)
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// The broker, credentials and TLS of `cfg`, under `client_id` (which
    /// must differ from the source's). Nothing connects until the first poll.
    pub fn new(cfg: &MqttConfig, client_id: String) -> Result<Self, MqttError> {
        let mut options = MqttOptions::new(client_id, cfg.host.clone(), cfg.port);
        options
            .set_keep_alive(cfg.keep_alive)
            .set_clean_start(true)
            .set_connection_timeout(cfg.connect_timeout.as_secs().max(1))
            .set_max_packet_size(Some(cfg.max_packet_size))
            // A batch of queued publishes goes out in one write
            // (vendor/rumqttc/TELEGATE-PATCH.md).
            .set_max_request_batch(MAX_BATCH);
        if !cfg.username.is_empty() {
            options.set_credentials(cfg.username.clone(), cfg.password.expose());
        }
        if cfg.tls.enabled {
            let tls = crate::tls::client_config(&cfg.tls)?;
            options.set_transport(Transport::Tls(TlsConfiguration::Rustls(tls)));
        }
        let (client, eventloop) = AsyncClient::new(options.clone(), MAX_BATCH * 2);
        Ok(Self {
            options,
            client,
            eventloop,
            broker: format!("{}:{}", cfg.host, cfg.port),
            own_max_packet: cfg.max_packet_size,
            broker_max_packet: None,
            connected: false,
            connects: 0,
        })
    }

    /// The largest PUBLISH this publisher sends: the Maximum Packet Size the
    /// broker announced in its last CONNACK, capped by our own
    /// `mqtt.max_packet_size` (the whole limit when the broker announced none).
    pub fn max_packet(&self) -> usize {
        let own = self.own_max_packet as usize;
        self.broker_max_packet.map_or(own, |b| own.min(b as usize))
    }

    /// How many times this publisher has connected (CONNACKs received).
    pub fn connects(&self) -> u64 {
        self.connects
    }

    fn note_event(&mut self, event: &Event) {
        if let Event::Incoming(Packet::ConnAck(ack)) = event {
            self.connected = true;
            self.connects += 1;
            self.broker_max_packet = ack.properties.as_ref().and_then(|p| p.max_packet_size);
        }
    }

    /// Connect (if not connected), then publish one message (made legal by
    /// [`Message::legalised`]) and wait for its PUBACK, at most `timeout` for
    /// each step. Tells apart a message the broker refused or that was lost in
    /// flight from one that never left. Any failure resets the connection.
    pub async fn publish_one(&mut self, message: &Message, timeout: Duration) -> Delivery {
        let result = self.publish_one_inner(message, timeout).await;
        // A refused message leaves the connection as it was.
        if matches!(result, Delivery::LostInFlight { .. } | Delivery::NotSent { .. }) {
            self.reset();
        }
        result
    }

    async fn publish_one_inner(&mut self, message: &Message, timeout: Duration) -> Delivery {
        while !self.connected {
            match tokio::time::timeout(timeout, self.eventloop.poll()).await {
                Err(_) => {
                    return Delivery::NotSent {
                        error: format!("not connected within {timeout:?}"),
                    };
                }
                Ok(Err(e)) => return Delivery::NotSent { error: e.to_string() },
                Ok(Ok(event)) => self.note_event(&event),
            }
        }
        let m = message.legalised();
        let size = m.packet_size();
        if size > self.max_packet() {
            return Delivery::TooLarge {
                size,
                max: self.max_packet(),
            };
        }
        if let Err(e) = self.client.try_publish_with_properties(
            m.topic.as_str(),
            QoS::AtLeastOnce,
            m.retain,
            m.payload.clone(),
            m.properties(),
        ) {
            return Delivery::NotSent { error: e.to_string() };
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut flight = InFlight::queued(1);
        loop {
            let sent = flight.on_the_wire() > 0;
            let event = match tokio::time::timeout_at(deadline, self.eventloop.poll()).await {
                Err(_) if sent => {
                    return Delivery::LostInFlight {
                        error: format!("no PUBACK within {timeout:?}"),
                    };
                }
                Err(_) => {
                    return Delivery::NotSent {
                        error: format!("not sent within {timeout:?}"),
                    };
                }
                Ok(Err(e)) if sent => return Delivery::LostInFlight { error: e.to_string() },
                Ok(Err(e)) => return Delivery::NotSent { error: e.to_string() },
                Ok(Ok(event)) => event,
            };
            self.note_event(&event);
            match flight.note(&event) {
                Some(Verdict::Stored | Verdict::NoSubscribers) => return Delivery::Acked,
                Some(Verdict::Refused { reason }) => return Delivery::Refused { reason },
                None => {}
            }
        }
    }

    /// Drop the connection and everything queued on it: the next poll
    /// connects afresh, so a failed batch's leftovers are never sent after
    /// (and counted against) the next one.
    fn reset(&mut self) {
        let (client, eventloop) = AsyncClient::new(self.options.clone(), MAX_BATCH * 2);
        self.client = client;
        self.eventloop = eventloop;
        self.connected = false;
    }

    fn connection_error(&self, source: rumqttc::v5::ConnectionError) -> MqttError {
        MqttError::Connection {
            broker: self.broker.clone(),
            source,
        }
    }

    /// Publish every message with QoS 1 and return once the broker has
    /// acknowledged each, or fail (connection lost, a PUBACK with an error
    /// code, nothing within `timeout`). On failure the connection is reset
    /// and the caller should retry all of `messages`.
    pub async fn publish_confirmed(&mut self, messages: &[Message], timeout: Duration) -> Result<(), MqttError> {
        let result = self.publish_inner(messages, timeout).await;
        if result.is_err() {
            self.reset();
        }
        result
    }

    async fn publish_inner(&mut self, messages: &[Message], timeout: Duration) -> Result<(), MqttError> {
        if messages.len() > MAX_BATCH {
            return Err(MqttError::TooMany {
                topic: messages[0].topic.clone(),
                count: messages.len(),
                max: MAX_BATCH,
            });
        }
        for m in messages {
            let m = m.legalised();
            let size = m.packet_size();
            if size > self.max_packet() {
                return Err(MqttError::TooLarge {
                    topic: m.topic.clone(),
                    size,
                    limit: self.max_packet(),
                });
            }
            self.client
                .try_publish_with_properties(
                    m.topic.as_str(),
                    QoS::AtLeastOnce,
                    m.retain,
                    m.payload.clone(),
                    m.properties(),
                )
                .map_err(|source| MqttError::Publish {
                    topic: m.topic.clone(),
                    source: Box::new(source),
                })?;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut flight = InFlight::queued(messages.len());
        while !flight.settled() {
            let event = match tokio::time::timeout_at(deadline, self.eventloop.poll()).await {
                Err(_) => {
                    return Err(MqttError::Unconfirmed {
                        broker: self.broker.clone(),
                        waiting: flight.waiting(),
                        timeout,
                    });
                }
                Ok(Err(e)) => return Err(self.connection_error(e)),
                Ok(Ok(event)) => event,
            };
            self.note_event(&event);
            if let Some(Verdict::Refused { reason }) = flight.note(&event) {
                return Err(MqttError::Refused {
                    broker: self.broker.clone(),
                    reason,
                });
            }
        }
        Ok(())
    }

    /// Keep the connection alive (pings) while there is nothing to publish:
    /// one poll of the event loop. An error means the broker cannot be
    /// reached now; back off before calling again.
    pub async fn idle(&mut self) -> Result<(), MqttError> {
        match self.eventloop.poll().await {
            Ok(event) => {
                self.note_event(&event);
                Ok(())
            }
            Err(e) => {
                self.connected = false;
                Err(self.connection_error(e))
            }
        }
    }

    /// Say goodbye to the broker, waiting at most `timeout`.
    pub async fn disconnect(mut self, timeout: Duration) {
        if self.client.try_disconnect().is_err() {
            return;
        }
        let _ = tokio::time::timeout(timeout, async {
            loop {
                match self.eventloop.poll().await {
                    Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
    }
}
