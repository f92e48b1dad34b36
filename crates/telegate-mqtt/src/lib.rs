//! The MQTT side of the gateway, on `rumqttc`'s MQTT 5 client.
//!
//! [`MqttSource`] owns the event loop: a persistent session (`clean_start =
//! false`, a session expiry), QoS 1 subscriptions renewed whenever the broker
//! says the session is gone, capped exponential reconnect backoff with jitter,
//! and **manual acknowledgements**: each message travels through the pipeline
//! as an [`Envelope`] with a sequence number, and its PUBACK is sent only when
//! the pipeline reports that number completed — in arrival order, as MQTT
//! requires.
//! The MQTT 5 receive-maximum bounds how many messages are unacknowledged, so
//! the poll loop never has to block: it keeps polling while downstream stages
//! work. [`DeadLetterPublisher`] republishes rejected payloads with their reason
//! on a connection of its own, built by [`dead_letter::build`] and made legal
//! for MQTT 5 by [`mqtt_string`];
//! [`Publisher`] publishes on a connection of its own and confirms each
//! message's PUBACK (alert notifications).

mod acks;
mod config;
pub mod dead_letter;
mod error;
pub mod mqtt_string;
pub mod puback;
mod publisher;
mod source;
mod tls;

pub use acks::Seq;
pub use config::{MqttConfig, MqttTlsConfig};
pub use dead_letter::{DeadLetter, DeadLetterError, DeadLetterPublisher, Outcome};
pub use error::{MqttError, TlsError};
pub use publisher::{Delivery, MAX_BATCH, Message, Publisher};
pub use source::{Envelope, MqttSource, SourceStats};
pub use tls::client_config;
