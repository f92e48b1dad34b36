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

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, PubAckReason, PublishProperties};
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use rumqttc::{Outgoing, TlsConfiguration, Transport};

use crate::config::MqttConfig;
use crate::error::MqttError;

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

/// Most messages [`Publisher::publish_confirmed`] takes at once (the client's
/// request queue holds them all, so queuing never waits).
pub const MAX_BATCH: usize = 64;

/// See the module docs.
pub struct Publisher {
    options: MqttOptions,
    client: AsyncClient,
    eventloop: EventLoop,
    broker: String,
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
            .set_max_packet_size(Some(cfg.max_packet_size));
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
        })
    }

    /// Drop the connection and everything queued on it: the next poll
    /// connects afresh, so a failed batch's leftovers are never sent after
    /// (and counted against) the next one.
    fn reset(&mut self) {
        let (client, eventloop) = AsyncClient::new(self.options.clone(), MAX_BATCH * 2);
        self.client = client;
        self.eventloop = eventloop;
    }

    fn connection_error(&self, e: impl std::fmt::Display) -> MqttError {
        MqttError::Connection {
            broker: self.broker.clone(),
            message: e.to_string(),
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
            return Err(MqttError::Publish {
                topic: messages[0].topic.clone(),
                message: format!("{} messages at once; at most {MAX_BATCH}", messages.len()),
            });
        }
        for m in messages {
            let props = PublishProperties {
                payload_format_indicator: m.content_type.as_ref().map(|_| 1),
                content_type: m.content_type.clone(),
                user_properties: m.user_properties.clone(),
                ..Default::default()
            };
            self.client
                .try_publish_with_properties(m.topic.as_str(), QoS::AtLeastOnce, m.retain, m.payload.clone(), props)
                .map_err(|e| MqttError::Publish {
                    topic: m.topic.clone(),
                    message: e.to_string(),
                })?;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut unsent = messages.len();
        let mut in_flight: HashSet<u16> = HashSet::new();
        while unsent > 0 || !in_flight.is_empty() {
            let event = match tokio::time::timeout_at(deadline, self.eventloop.poll()).await {
                Err(_) => {
                    return Err(MqttError::Unconfirmed {
                        broker: self.broker.clone(),
                        waiting: unsent + in_flight.len(),
                        timeout,
                    });
                }
                Ok(Err(e)) => return Err(self.connection_error(e)),
                Ok(Ok(event)) => event,
            };
            match event {
                Event::Outgoing(Outgoing::Publish(pkid)) => {
                    unsent = unsent.saturating_sub(1);
                    in_flight.insert(pkid);
                }
                Event::Incoming(Packet::PubAck(ack))
                    if in_flight.remove(&ack.pkid)
                        && !matches!(ack.reason, PubAckReason::Success | PubAckReason::NoMatchingSubscribers) =>
                {
                    let detail = ack.properties.and_then(|p| p.reason_string).unwrap_or_default();
                    return Err(MqttError::Refused {
                        broker: self.broker.clone(),
                        reason: format!("{:?} {detail}", ack.reason).trim_end().to_owned(),
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Keep the connection alive (pings) while there is nothing to publish:
    /// one poll of the event loop. An error means the broker cannot be
    /// reached now; back off before calling again.
    pub async fn idle(&mut self) -> Result<(), MqttError> {
        match self.eventloop.poll().await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.connection_error(e)),
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
