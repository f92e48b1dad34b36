//! A destination for the batcher's own tests: answers each write as its
//! script says and records when each write and ping came (tokio's clock, so
//! a paused-clock test reads exact linger, backoff and probe times without
//! waiting for them).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use crate::error::WriteError;

#[derive(Debug, Default)]
struct Script {
    /// Answers to the next writes, in order; `Ok` once they run out.
    writes: VecDeque<Result<(), WriteError>>,
    /// Answers to the next pings, in order; answered once they run out.
    pings: VecDeque<bool>,
    /// Each write: when, and the lines written.
    written: Vec<(Instant, String)>,
    pinged: Vec<Instant>,
}

/// Clones share the script and the record.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScriptedSink(Arc<Mutex<Script>>);

impl ScriptedSink {
    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answer the next write with `answer`.
    pub(crate) fn then(&self, answer: Result<(), WriteError>) -> &Self {
        self.script().writes.push_back(answer);
        self
    }

    /// Answer the next ping with `answered`.
    pub(crate) fn then_ping(&self, answered: bool) -> &Self {
        self.script().pings.push_back(answered);
        self
    }

    /// Every write so far: when, and its lines.
    pub(crate) fn written(&self) -> Vec<(Instant, String)> {
        self.script().written.clone()
    }

    pub(crate) fn pinged(&self) -> Vec<Instant> {
        self.script().pinged.clone()
    }

    pub(crate) async fn write(&self, lines: &[u8]) -> Result<(), WriteError> {
        let mut script = self.script();
        script
            .written
            .push((Instant::now(), String::from_utf8_lossy(lines).into_owned()));
        script.writes.pop_front().unwrap_or(Ok(()))
    }

    pub(crate) async fn ping(&self) -> bool {
        let mut script = self.script();
        script.pinged.push(Instant::now());
        script.pings.pop_front().unwrap_or(true)
    }
}

/// What a write to a database that cannot be reached fails with: a
/// transport error (the batcher then probes for the database's return).
pub(crate) fn cannot_reach() -> WriteError {
    crate::install_crypto_provider();
    let source = match reqwest::Client::new().get("http://").build() {
        Err(e) => e,
        Ok(_) => unreachable!("an empty host is not a valid URL"),
    };
    WriteError::Transport {
        url: "http://scripted".to_owned(),
        source,
    }
}

/// What a database that answers `status` (with `Retry-After` when given)
/// fails a write with.
pub(crate) fn answered(status: u16, retry_after: Option<&str>) -> WriteError {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(value) = retry_after.and_then(|v| reqwest::header::HeaderValue::from_str(v).ok()) {
        headers.insert(reqwest::header::RETRY_AFTER, value);
    }
    WriteError::Http {
        url: "http://scripted".to_owned(),
        status,
        body: String::new(),
        headers: Box::new(headers),
    }
}
