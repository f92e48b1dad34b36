//! Where the batcher's batches go: InfluxDB over HTTP, or local files —
//! and how those writes have been going ([`WriteHealth`], for `/readyz`).

use std::sync::Arc;

use crate::client::InfluxClient;
use crate::error::WriteError;
use crate::file_sink::FileSink;
use crate::health::WriteHealth;

/// The batcher's destination. Cheap to clone; clones share one
/// [`WriteHealth`], so every batcher task and `/readyz` see the same outcomes.
#[derive(Debug, Clone)]
pub struct Output {
    backend: Backend,
    health: Arc<WriteHealth>,
}

/// An enum rather than a trait object: two variants, no dynamic dispatch on
/// the hot path, no async-trait.
#[derive(Debug, Clone)]
enum Backend {
    Http(InfluxClient),
    File(FileSink),
    /// The batcher's tests' destination.
    #[cfg(test)]
    Scripted(crate::scripted_sink::ScriptedSink),
}

impl Output {
    /// Write one batch and record how it went.
    pub async fn write(&self, lines: &[u8]) -> Result<(), WriteError> {
        let result = match &self.backend {
            Backend::Http(w) => w.write(lines, &self.health).await,
            Backend::File(f) => f.write(lines).await,
            #[cfg(test)]
            Backend::Scripted(s) => s.write(lines).await,
        };
        self.health.record(&result);
        result
    }

    /// Whether the destination answers at all (for `/readyz` while no
    /// writes tell): a short ping for HTTP, always fine for files.
    pub async fn ping(&self) -> Result<(), WriteError> {
        match &self.backend {
            Backend::Http(w) => w.ping().await,
            Backend::File(_) => Ok(()),
            #[cfg(test)]
            Backend::Scripted(s) => match s.ping().await {
                true => Ok(()),
                false => Err(crate::scripted_sink::cannot_reach()),
            },
        }
    }

    /// What the writes have been doing.
    pub fn health(&self) -> &WriteHealth {
        &self.health
    }

    /// v1: create the database if `influx.create_database` allows it; a
    /// no-op otherwise and for files.
    pub async fn create_database(&self) -> Result<(), WriteError> {
        match &self.backend {
            Backend::Http(w) => w.create_database().await,
            Backend::File(_) => Ok(()),
            #[cfg(test)]
            Backend::Scripted(_) => Ok(()),
        }
    }

    /// The InfluxDB client, when the output is a database (not files).
    pub fn http(&self) -> Option<&InfluxClient> {
        match &self.backend {
            Backend::Http(w) => Some(w),
            Backend::File(_) => None,
            #[cfg(test)]
            Backend::Scripted(_) => None,
        }
    }

    /// For logs: the URL or the directory.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Http(w) => w.url().to_owned(),
            Backend::File(f) => format!("line-protocol files in {}", f.dir().display()),
            #[cfg(test)]
            Backend::Scripted(_) => "a scripted test destination".to_owned(),
        }
    }
}

impl From<InfluxClient> for Output {
    fn from(w: InfluxClient) -> Self {
        Self {
            backend: Backend::Http(w),
            health: Arc::default(),
        }
    }
}

impl From<FileSink> for Output {
    fn from(f: FileSink) -> Self {
        Self {
            backend: Backend::File(f),
            health: Arc::default(),
        }
    }
}

#[cfg(test)]
impl From<crate::scripted_sink::ScriptedSink> for Output {
    fn from(s: crate::scripted_sink::ScriptedSink) -> Self {
        Self {
            backend: Backend::Scripted(s),
            health: Arc::default(),
        }
    }
}
