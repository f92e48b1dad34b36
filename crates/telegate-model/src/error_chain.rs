//! One way to print an error with its causes, for logs and for the edges
//! that must hand a cause on as text (an HTTP client's error inside a
//! retry's log line): `outer: inner: innermost`, as anyhow's `{:#}` does.

use std::error::Error;
use std::fmt;

/// Displays an error and every `source()` below it, joined with `": "`,
/// without building a `String`: `tracing::warn!(error = %ErrorChain(&e), …)`.
/// Library errors keep their cause as a source (not in their own message),
/// so this is how they are printed at the edge.
#[derive(Debug, Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn Error + 'a));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut src = self.0.source();
        while let Some(inner) = src {
            write!(f, ": {inner}")?;
            src = inner.source();
        }
        Ok(())
    }
}

/// [`ErrorChain`] as a `String`, for an error that has to be kept as text.
pub fn error_chain(e: &dyn Error) -> String {
    ErrorChain(e).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("writing batch")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn joins_every_cause() {
        let e = Outer(std::io::Error::other("disk full"));
        assert_eq!(error_chain(&e), "writing batch: disk full");
        assert_eq!(format!("{}", ErrorChain(&e)), "writing batch: disk full");
    }
}
