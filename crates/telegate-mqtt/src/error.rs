use thiserror::Error;

#[derive(Debug, Error)]
pub enum MqttError {
    #[error("publishing to `{topic}`: the MQTT client has stopped")]
    ClientClosed { topic: String },
    #[error("`{topic}` is not a valid topic to publish to")]
    BadTopic { topic: String },
}
