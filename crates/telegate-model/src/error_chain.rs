//! One way to print an error with its causes, for logs and for the edges
//! that must hand a cause on as text (an HTTP client's error inside a
//! retry's log line): `outer: inner: innermost`, as anyhow's `{:#}` does.

use std::error::Error;

/// `e` and every `source()` below it, joined with `": "`.
pub fn error_chain(e: &dyn Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
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
    }
}
