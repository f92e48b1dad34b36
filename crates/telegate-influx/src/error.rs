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
    #[error("cannot reach {url}: {message}")]
    Transport { url: String, message: String },
    #[error("writing {path}: {message}")]
    File { path: String, message: String },
    #[error("compressing the request body: {0}")]
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
            WriteError::Transport { .. } | WriteError::File { .. } => true,
            WriteError::Compress(_) => false,
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
