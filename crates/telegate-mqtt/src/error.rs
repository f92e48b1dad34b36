use thiserror::Error;

#[derive(Debug, Error)]
pub enum MqttError {
    /// The client's event loop is gone (shutdown) or refused the request.
    #[error("publishing to `{topic}`: {message}")]
    Publish { topic: String, message: String },
    /// The publisher's own connection failed (see [`crate::Publisher`]).
    #[error("MQTT broker {broker}: {message}")]
    Connection { broker: String, message: String },
    /// Published, but not every PUBACK came back in time.
    #[error("MQTT broker {broker}: {waiting} publishes not acknowledged within {timeout:?}")]
    Unconfirmed {
        broker: String,
        waiting: usize,
        timeout: std::time::Duration,
    },
    /// The broker answered a publish with an error reason code (e.g. not
    /// authorized for the topic: check the broker's ACL).
    #[error("MQTT broker {broker} refused a publish: {reason}")]
    Refused { broker: String, reason: String },
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// `[mqtt.tls]` cannot be turned into a client configuration.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error("{key} = {file:?}: {message}")]
    Pem {
        key: &'static str,
        file: String,
        message: String,
    },
    #[error("mqtt.tls: the client certificate {cert_file:?} and key {key_file:?} do not work together: {message}")]
    ClientCert {
        cert_file: String,
        key_file: String,
        message: String,
    },
    #[error(
        "mqtt.tls.cert_file and mqtt.tls.key_file must be set together (mutual TLS needs both), or both left empty"
    )]
    HalfClientAuth,
    #[error(
        "mqtt.tls.ca_file is empty and the system trust store has no certificates; set mqtt.tls.ca_file to the broker's CA"
    )]
    NoRoots,
}
