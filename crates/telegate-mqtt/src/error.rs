use thiserror::Error;

#[derive(Debug, Error)]
pub enum MqttError {
    /// The client's event loop is gone (shutdown) or refused the request.
    #[error("publishing to `{topic}`")]
    Publish {
        topic: String,
        /// Boxed: the client hands back the whole request, payload included.
        #[source]
        source: Box<rumqttc::v5::ClientError>,
    },
    /// More messages than one confirmed batch may hold.
    #[error("publishing to `{topic}`: {count} messages at once; at most {max}")]
    TooMany { topic: String, count: usize, max: usize },
    /// A packet larger than the broker accepts (its CONNACK's maximum packet size).
    #[error("publishing to `{topic}`: {size}-byte packet; the limit is {limit} bytes")]
    TooLarge { topic: String, size: usize, limit: usize },
    /// Told to give up while publishing.
    #[error("publishing to `{topic}`: shutting down")]
    ShuttingDown { topic: String },
    /// The publisher's own connection failed (see [`crate::Publisher`]).
    #[error("MQTT broker {broker}")]
    Connection {
        broker: String,
        #[source]
        source: rumqttc::v5::ConnectionError,
    },
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
    /// The file cannot be read or holds no valid PEM.
    #[error("{key} = {file:?}")]
    Pem {
        key: &'static str,
        file: String,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("{key} = {file:?}: no PEM certificate in the file")]
    NoCertificate { key: &'static str, file: String },
    /// A CA certificate rustls cannot use as a trust anchor.
    #[error("mqtt.tls.ca_file = {file:?}")]
    BadCa {
        file: String,
        #[source]
        source: rustls::Error,
    },
    #[error("mqtt.tls: the client certificate {cert_file:?} and key {key_file:?} do not work together")]
    ClientCert {
        cert_file: String,
        key_file: String,
        #[source]
        source: rustls::Error,
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
