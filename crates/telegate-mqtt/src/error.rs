use thiserror::Error;

#[derive(Debug, Error)]
pub enum MqttError {
    /// The client's event loop is gone (shutdown) or refused the request.
    #[error("publishing to `{topic}`: {message}")]
    Publish { topic: String, message: String },
}
