//! What `/metrics` says about a family before its samples.

/// `# TYPE` of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    /// The word the Prometheus text format uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One metric family: its `# HELP` and `# TYPE`, and the names of its
/// labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    pub name: &'static str,
    pub kind: Kind,
    /// Label names, in the order each sample gives their values (none for
    /// the families a [`stats!`](crate::stats) struct declares).
    pub labels: &'static [&'static str],
    pub help: &'static str,
}
