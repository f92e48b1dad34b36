use std::path::PathBuf;

use thiserror::Error;

/// Why a schema directory could not become a registry. Each variant names the
/// file (with line and column where the source says), message or field at
/// fault so an integrator can fix it directly. An I/O cause is the error's
/// source, not part of its message: print it with `telegate_model::ErrorChain`.
#[derive(Debug, Error)]
pub enum SchemaError {
    #[error("cannot read schema directory {dir}")]
    ReadDir { dir: PathBuf, source: std::io::Error },
    #[error("no .proto files found under {dir}")]
    NoProtoFiles { dir: PathBuf },
    /// `message` holds one `file:line:column: problem` per error, `; `-separated.
    #[error("{message}")]
    Compile { dir: PathBuf, message: String },
    #[error(
        "no sensor types: no message has the (telegate.v1.sensor) option and no type is mapped in the config (schema.types)"
    )]
    NoSensorTypes,
    #[error("sensor type `{sensor_type}` is defined twice: by {first} and by {second}{hint}")]
    DuplicateSensorType {
        sensor_type: String,
        first: String,
        second: String,
        /// How to resolve it, starting with `; ` (empty when obvious).
        hint: String,
    },
    #[error("sensor type `{sensor_type}` maps to message `{message}`, which no .proto file defines")]
    UnknownMessage { sensor_type: String, message: String },
    #[error("sensor type `{sensor_type}` is not a valid name: use 1-64 characters of A-Z a-z 0-9 . _ -")]
    BadSensorType { sensor_type: String },
    /// `location` is `file:line:column` of the message.
    #[error("{location}: {message}: {problem}")]
    BadMapping {
        message: String,
        location: String,
        problem: String,
    },
    /// `location` is `file:line:column` of the message; the source says
    /// which rule and why (boxed: the validator's error is large).
    #[error("{location}: {message}: buf.validate rules cannot be compiled")]
    BadRules {
        message: String,
        location: String,
        #[source]
        source: Box<prost_protovalidate::Error>,
    },
    /// `location` is `file:line:column` of the field.
    #[error("{location}: {message}.{field}: {problem}")]
    BadField {
        message: String,
        field: String,
        location: String,
        problem: String,
    },
    #[error("writing {path}")]
    Export { path: PathBuf, source: std::io::Error },
}

impl SchemaError {
    /// The config key the error is about, when it is about the config rather
    /// than a `.proto` file (which the message itself names, with its line).
    pub fn config_key(&self) -> Option<&'static str> {
        match self {
            SchemaError::ReadDir { .. } | SchemaError::NoProtoFiles { .. } | SchemaError::NoSensorTypes => {
                Some("schema.dir")
            }
            SchemaError::UnknownMessage { .. } => Some("schema.types"),
            _ => None,
        }
    }
}
