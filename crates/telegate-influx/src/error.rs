use std::time::Duration;

use reqwest::header::HeaderMap;
use thiserror::Error;

/// A failed write. HTTP answers keep status, body and headers so the caller
/// can honour `Retry-After` and show InfluxDB's own message.
#[derive(Debug, Error)]
pub enum WriteError {
    #[error("{url} answered {status}: {body}")]
    Http {
        url: String,
        status: u16,
        body: String,
        headers: Box<HeaderMap>,
    },
    /// No answer: connection refused, timeout, TLS. The cause is the
    /// source; print the error with `telegate_model::ErrorChain`.
    #[error("cannot reach {url}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// `influx.username`/`password` or `influx.token` cannot be sent in a header.
    #[error("{url}: credentials contain characters not allowed in an HTTP header")]
    Credentials { url: String },
    #[error("reading influx.ca_file {path}")]
    ReadCaFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("influx.ca_file {path} is not a PEM certificate bundle")]
    BadCaFile {
        path: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("influx.ca_file {path} holds no certificate")]
    EmptyCaFile { path: String },
    /// The HTTP client cannot be built (e.g. no TLS backend).
    #[error("building the HTTP client for {url}")]
    Client {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("writing {path}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The file sink's blocking task panicked or was cancelled.
    #[error("writing {path}: writer task failed")]
    FileTask {
        path: String,
        #[source]
        source: tokio::task::JoinError,
    },
    #[error("writing {path}: a previous write panicked")]
    FilePoisoned { path: String },
    #[error("compressing the request body")]
    Compress(#[source] std::io::Error),
}

impl WriteError {
    /// Whether the same batch can succeed later. 400/413/422 mean the data
    /// itself is refused (the batcher then splits it to find the bad lines);
    /// everything else (5xx, 429, network, and also 401/403/404 — a token or
    /// database an operator can fix) is worth retrying rather than dropping data.
    pub fn is_retryable(&self) -> bool {
        match self {
            WriteError::Http { status, .. } => !matches!(status, 400 | 413 | 422),
            // A full or read-only disk can be fixed without losing the batch.
            WriteError::Transport { .. }
            | WriteError::File { .. }
            | WriteError::FileTask { .. }
            | WriteError::FilePoisoned { .. } => true,
            // Start-up errors (never met by a write) and a body that cannot
            // be compressed: the same again would fail the same way.
            WriteError::Credentials { .. }
            | WriteError::ReadCaFile { .. }
            | WriteError::BadCaFile { .. }
            | WriteError::EmptyCaFile { .. }
            | WriteError::Client { .. }
            | WriteError::Compress(_) => false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            WriteError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// `Retry-After` in seconds, when the server sent one, capped at
    /// [`telegate_model::retry::MAX_RETRY_AFTER`].
    pub fn retry_after(&self) -> Option<Duration> {
        let WriteError::Http { headers, .. } = self else {
            return None;
        };
        telegate_model::retry::parse_retry_after(headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?)
    }

    /// A hint for the operator on errors that need one.
    pub fn hint(&self) -> Option<&'static str> {
        match self.status()? {
            401 | 403 => Some(
                "check influx.token / token_file / token_env (v2) or influx.username/password / password_file / \
                 password_env (v1) and its write permission",
            ),
            404 => Some(
                "the database or bucket does not exist: create it, fix influx.database / influx.bucket, or (v1) set \
                 influx.create_database = true to let the gateway create it",
            ),
            413 => Some("the batch is too large for the server: lower influx.batch_size"),
            _ => None,
        }
    }
}
