use std::path::PathBuf;

use thiserror::Error;

/// What went wrong managing devices; each names the file, key or device.
#[derive(Debug, Error)]
pub enum DeviceError {
    #[error("reading {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a device inventory")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    /// The inventory cannot be written as TOML (a value TOML cannot hold).
    #[error("{path}: not a device inventory")]
    Encode {
        path: PathBuf,
        #[source]
        source: toml::ser::Error,
    },
    #[error("{path}: key `{key}`: {problem} (fix: {fix})")]
    Invalid {
        path: PathBuf,
        key: String,
        problem: String,
        fix: String,
    },
    #[error("no device `{id}` in {path}")]
    Unknown { id: String, path: PathBuf },
    #[error("device `{id}` is already in {path} (to give it new credentials: telegate device rotate {id})")]
    Exists { id: String, path: PathBuf },
    #[error("device `{id}` is revoked: add it again under a new id, or edit its state in {path}")]
    Revoked { id: String, path: PathBuf },
    #[error("the operating system's random number generator failed")]
    Random,
    #[error("certificate for `{subject}`")]
    Certificate {
        subject: String,
        #[source]
        source: rcgen::Error,
    },
    /// A serial in the inventory that is not hex (so cannot be revoked).
    #[error("certificate for `{subject}`: serial {serial:?} is not hex")]
    BadSerial { subject: String, serial: String },
    #[error("asking the broker to reload its access files: {0}")]
    Reload(String),
    #[error("asking the broker to reload its access files: running {program}")]
    ReloadCommand {
        program: String,
        #[source]
        source: std::io::Error,
    },
}
