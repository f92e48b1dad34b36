use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum WalError {
    #[error("WAL {path}: {op}")]
    Io {
        path: PathBuf,
        op: &'static str,
        source: std::io::Error,
    },
    #[error("WAL record of {bytes} bytes is larger than a frame can hold")]
    TooLarge { bytes: usize },
}

impl WalError {
    pub(crate) fn io(path: &std::path::Path, op: &'static str) -> impl FnOnce(std::io::Error) -> Self + use<> {
        let path = path.to_owned();
        move |source| WalError::Io { path, op, source }
    }
}
