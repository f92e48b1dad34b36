//! Schema problems that do not stop a load but would surprise at run time:
//! `telegate check` prints them, the gateway logs them at load and reload.

use std::fmt;

/// One warning: where (`file:line:column`), what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaWarning {
    pub location: String,
    pub problem: String,
    pub fix: String,
}

impl SchemaWarning {
    pub(crate) fn new(location: String, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            location,
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

impl fmt::Display for SchemaWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: warning: {}. Fix: {}", self.location, self.problem, self.fix)
    }
}
