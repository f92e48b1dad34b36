use std::path::PathBuf;

use thiserror::Error;

/// Why a schema directory could not become a registry. Each variant names the
/// file, message or field at fault so an integrator can fix it directly.
#[derive(Debug, Error)]
pub enum SchemaError {
    #[error("cannot read schema directory {dir}: {source}")]
    ReadDir { dir: PathBuf, source: std::io::Error },
    #[error("no .proto files found under {dir}")]
    NoProtoFiles { dir: PathBuf },
    #[error("compiling schemas in {dir}: {message}")]
    Compile { dir: PathBuf, message: String },
    #[error("no sensor types: no message has the (telegate.v1.sensor) option and no type is mapped in the config")]
    NoSensorTypes,
    #[error("sensor type `{sensor_type}` is defined twice: by {first} and by {second}")]
    DuplicateSensorType {
        sensor_type: String,
        first: String,
        second: String,
    },
    #[error("sensor type `{sensor_type}` maps to message `{message}`, which no .proto file defines")]
    UnknownMessage { sensor_type: String, message: String },
    #[error("sensor type `{sensor_type}` is not a valid name: use 1-64 characters of A-Z a-z 0-9 . _ -")]
    BadSensorType { sensor_type: String },
    #[error("{message} (in {file}): {problem}")]
    BadMapping {
        message: String,
        file: String,
        problem: String,
    },
    #[error("{message}.{field} (in {file}): {problem}")]
    BadField {
        message: String,
        field: String,
        file: String,
        problem: String,
    },
}
