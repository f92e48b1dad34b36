//! Whether the output is storing right now, judged by what its writes
//! actually did rather than by a ping: a database that answers `/ping` but
//! refuses every write (dropped, wrong password, disk full) is not storing,
//! and `/readyz` must say so.
//!
//! Every write records its outcome here. A retryable failure (the database
//! is down, refuses the credentials, lacks the database…) starts a
//! "failing since" clock that the next success stops; data errors (400, 413,
//! 422: the batch itself is refused and split by the batcher) say nothing
//! about whether the database stores, so they leave the clock alone.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use telegate_model::ErrorChain;

use crate::error::WriteError;

/// Outcomes of the writes to one output. Shared by every batcher task and
/// read by `/readyz`; one short lock per write request, never per point.
#[derive(Debug, Default)]
pub struct WriteHealth {
    state: Mutex<State>,
    databases_created: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    /// When the current run of failed writes began; `None` while writes succeed.
    failing_since: Option<Instant>,
    /// The newest failure of that run, with its hint: what `/readyz` shows.
    last_failure: String,
}

/// A run of failed writes, as `/readyz` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failing {
    pub for_: Duration,
    /// The newest error, e.g. `http://…/write?db=x answered 404: {"error":"database not found: \"x\""}`,
    /// followed by what to change (`influx.create_database`, credentials…).
    pub error: String,
}

impl WriteHealth {
    pub fn record(&self, outcome: &Result<(), WriteError>) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match outcome {
            Ok(()) => {
                state.failing_since = None;
                state.last_failure.clear();
            }
            Err(e) if e.is_retryable() => {
                state.failing_since.get_or_insert_with(Instant::now);
                state.last_failure = match e.hint() {
                    Some(hint) => format!("{} ({hint})", ErrorChain(e)),
                    None => ErrorChain(e).to_string(),
                };
            }
            Err(_) => {}
        }
    }

    /// The current run of failed writes, if there is one.
    pub fn failing(&self) -> Option<Failing> {
        let state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.failing_since.map(|since| Failing {
            for_: since.elapsed(),
            error: state.last_failure.clone(),
        })
    }

    /// A missing database was re-created (`influx.create_database = true`).
    pub fn database_created(&self) {
        self.databases_created.fetch_add(1, Relaxed);
    }

    /// How often a missing database was re-created while running.
    pub fn databases_created(&self) -> u64 {
        self.databases_created.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, body: &str) -> Result<(), WriteError> {
        Err(WriteError::Http {
            url: "http://db/write".into(),
            status,
            body: body.into(),
            headers: Box::default(),
        })
    }

    #[test]
    fn a_run_of_failures_starts_at_the_first_and_ends_at_a_success() {
        let h = WriteHealth::default();
        assert_eq!(h.failing(), None);
        h.record(&http(503, "busy"));
        std::thread::sleep(Duration::from_millis(20));
        h.record(&http(404, "{\"error\":\"database not found: \\\"x\\\"\"}"));
        let f = h.failing().expect("failing");
        assert!(
            f.for_ >= Duration::from_millis(20),
            "the run began at the first failure"
        );
        assert!(
            f.error.contains("answered 404") && f.error.contains("database not found"),
            "{}",
            f.error
        );
        assert!(
            f.error.contains("influx.create_database"),
            "the hint names the key: {}",
            f.error
        );
        h.record(&Ok(()));
        assert_eq!(h.failing(), None);
    }

    #[test]
    fn refused_data_says_nothing_about_the_database() {
        let h = WriteHealth::default();
        h.record(&http(400, "unable to parse"));
        h.record(&http(422, "points beyond retention"));
        assert_eq!(h.failing(), None);
    }

    #[test]
    fn credentials_failures_name_the_keys() {
        let h = WriteHealth::default();
        h.record(&http(401, "{\"error\":\"authorization failed\"}"));
        let f = h.failing().expect("failing");
        assert!(
            f.error.contains("401") && f.error.contains("influx.username/password"),
            "{}",
            f.error
        );
    }
}
