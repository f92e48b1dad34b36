//! Where the batcher's batches go: InfluxDB over HTTP, or local files.

use crate::error::WriteError;
use crate::file_sink::FileSink;
use crate::writer::HttpWriter;

/// The batcher's destination. An enum rather than a trait object: two
/// variants, no dynamic dispatch on the hot path, no async-trait.
#[derive(Debug, Clone)]
pub enum Output {
    Http(HttpWriter),
    File(FileSink),
}

impl Output {
    pub async fn write(&self, lines: &[u8]) -> Result<(), WriteError> {
        match self {
            Output::Http(w) => w.write(lines).await,
            Output::File(f) => f.write(lines).await,
        }
    }

    /// Whether the destination can take writes now (for `/readyz`).
    pub async fn ping(&self) -> Result<(), WriteError> {
        match self {
            Output::Http(w) => w.ping().await,
            Output::File(_) => Ok(()),
        }
    }

    /// For logs: the URL or the directory.
    pub fn describe(&self) -> String {
        match self {
            Output::Http(w) => w.url().to_owned(),
            Output::File(f) => format!("line-protocol files in {}", f.dir().display()),
        }
    }
}

impl From<HttpWriter> for Output {
    fn from(w: HttpWriter) -> Self {
        Output::Http(w)
    }
}

impl From<FileSink> for Output {
    fn from(f: FileSink) -> Self {
        Output::File(f)
    }
}
