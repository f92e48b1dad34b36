//! One way to print an error with its causes, for logs and for the edges
//! that must hand a cause on as text (an HTTP client's error inside a
//! retry's log line): `outer: inner: innermost`, as anyhow's `{:#}` does.

use std::error::Error;
use std::fmt;

/// Displays an error and every `source()` below it, joined with `": "`:
/// `tracing::warn!(error = %ErrorChain(&e), …)`. Library errors keep their
/// cause as a source (not in their own message), so this is how they are
/// printed at the edge.
///
/// A cause whose text its wrapper's message already ends with is not
/// repeated: some dependencies (rumqttc's `"I/O: {0}"`) both quote their
/// source and return it from `source()`.
#[derive(Debug, Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn Error + 'a));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut src = self.0.source();
        while let Some(inner) = src {
            let text = inner.to_string();
            if !shown.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            shown = text;
            src = inner.source();
        }
        Ok(())
    }
}

/// [`ErrorChain`] as a `String`, for an error that has to be kept as text.
pub fn error_chain(e: &dyn Error) -> String {
    ErrorChain(e).to_string()
}

/// A source error shown in the chain by a one-line text rather than by its
/// own `Display`. toml's `Display` repeats the position and quotes the file
/// over several lines, which a `file:line: problem` message (or a log line)
/// already says better; the error itself is kept for whoever needs more (its
/// span, its kind). Its own causes, if any, stay in the chain.
#[derive(Debug)]
pub struct Terse<E> {
    pub error: E,
    text: String,
}

impl<E> Terse<E> {
    pub fn new(error: E, text: impl Into<String>) -> Self {
        Terse {
            error,
            text: text.into(),
        }
    }
}

impl<E> fmt::Display for Terse<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<E: Error> Error for Terse<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.error.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("writing batch")]
    struct Outer(#[source] std::io::Error);

    /// What the gateway's errors look like: a variant that says what failed
    /// and with which input, its cause as `#[source]` (not in its message),
    /// wrapped once more at a higher level.
    #[derive(Debug, thiserror::Error)]
    enum Store {
        #[error("alerts.state_file")]
        State(#[source] Snapshot),
    }

    #[derive(Debug, thiserror::Error)]
    #[error("{path}: cannot write alert state")]
    struct Snapshot {
        path: String,
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn a_nested_error_shows_each_cause_exactly_once() {
        let e = Store::State(Snapshot {
            path: "state/alerts.json".into(),
            source: std::io::Error::other("No space left on device"),
        });
        let chain = error_chain(&e);
        assert_eq!(
            chain,
            "alerts.state_file: state/alerts.json: cannot write alert state: No space left on device"
        );
        for part in ["alerts.state_file", "state/alerts.json", "No space left on device"] {
            assert_eq!(chain.matches(part).count(), 1, "{part} in {chain}");
        }
        // The binary's edge prints anyhow's alternate form: the same chain.
        assert_eq!(format!("{:#}", anyhow::Error::new(e)), chain);
    }

    /// A dependency's error that quotes its source and returns it too.
    #[derive(Debug, thiserror::Error)]
    enum Quoting {
        #[error("I/O: {0}")]
        Io(#[from] std::io::Error),
    }

    #[derive(Debug, thiserror::Error)]
    #[error("MQTT broker {broker}")]
    struct Connection {
        broker: String,
        #[source]
        source: Quoting,
    }

    #[test]
    fn a_cause_its_wrapper_already_quotes_is_not_repeated() {
        let e = Connection {
            broker: "mqtt.local:1883".into(),
            source: Quoting::Io(std::io::Error::other("Connection refused")),
        };
        assert_eq!(error_chain(&e), "MQTT broker mqtt.local:1883: I/O: Connection refused");
    }

    #[test]
    fn a_terse_source_shows_its_text_and_keeps_the_error() {
        #[derive(Debug, thiserror::Error)]
        #[error("gw.toml:5")]
        struct Syntax(#[source] Terse<Outer>);
        let e = Syntax(Terse::new(
            Outer(std::io::Error::other("disk full")),
            "unknown field `x`",
        ));
        assert_eq!(error_chain(&e), "gw.toml:5: unknown field `x`: disk full");
        assert_eq!(e.0.error.0.to_string(), "disk full");
    }

    #[test]
    fn joins_every_cause() {
        let e = Outer(std::io::Error::other("disk full"));
        assert_eq!(error_chain(&e), "writing batch: disk full");
        assert_eq!(format!("{}", ErrorChain(&e)), "writing batch: disk full");
    }
}
