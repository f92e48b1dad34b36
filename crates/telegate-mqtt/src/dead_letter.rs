use bytes::Bytes;
use rumqttc::v5::AsyncClient;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::PublishProperties;

use crate::error::MqttError;

/// A refused message on its way to the dead-letter topic.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The original topic, as received (may be invalid UTF-8).
    pub topic: Bytes,
    /// The original payload, unchanged.
    pub payload: Bytes,
    /// Machine-readable reason label (`RejectReason::label`).
    pub reason: &'static str,
    /// Human-readable detail naming the field and value at fault.
    pub detail: String,
}

/// Republishes refused messages to `{prefix}/{original topic}` with QoS 1,
/// the original payload, and the reason in MQTT 5 user properties
/// (`reason`, `detail`, `topic`, `gateway`). See docs/device-protocol.md.
#[derive(Debug, Clone)]
pub struct DeadLetterPublisher {
    client: AsyncClient,
    prefix: String,
    gateway: String,
}

/// Longest detail carried in a user property.
const MAX_DETAIL: usize = 1024;

impl DeadLetterPublisher {
    pub(crate) fn new(client: AsyncClient, prefix: String, gateway: String) -> Self {
        Self {
            client,
            prefix: prefix.trim_end_matches('/').to_owned(),
            gateway,
        }
    }

    /// Queue one dead letter with the MQTT client. Waits only for room in the
    /// client's request queue, never for the broker.
    pub async fn publish(&self, letter: DeadLetter) -> Result<(), MqttError> {
        let original = String::from_utf8_lossy(&letter.topic);
        // Wildcards and NUL cannot appear in a topic we publish to.
        let suffix: String = original
            .chars()
            .map(|c| if matches!(c, '+' | '#' | '\0') { '_' } else { c })
            .collect();
        let topic = if suffix.is_empty() {
            self.prefix.clone()
        } else {
            format!("{}/{suffix}", self.prefix)
        };
        // MQTT strings should carry no control characters (Mosquitto drops the
        // connection over them), and database answers end in a newline.
        let mut detail: String = letter
            .detail
            .trim()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if detail.len() > MAX_DETAIL {
            let mut cut = MAX_DETAIL;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
        }
        let props = PublishProperties {
            user_properties: vec![
                ("reason".into(), letter.reason.into()),
                ("detail".into(), detail),
                ("topic".into(), original.into_owned()),
                ("gateway".into(), self.gateway.clone()),
            ],
            ..Default::default()
        };
        self.client
            .publish_with_properties(topic.as_str(), QoS::AtLeastOnce, false, letter.payload, props)
            .await
            .map_err(|e| MqttError::Publish {
                topic,
                message: e.to_string(),
            })
    }
}
