//! Metric families, declared where the stages keep their counters.
//!
//! A stage's stats struct is written with [`stats!`](crate::stats): each
//! field that is a metric is declared with its family's kind, name and help,
//! so the field and its family are one declaration. The stage bumps the
//! field (`stats.x.fetch_add(1, Relaxed)`, no lock, no allocation); the
//! gateway's `/metrics` renders every family of the struct through
//! [`Group`], and lists their names at compile time from
//! [`Group::FAMILIES`]. The [`Histogram`] is the one such field that is not
//! a plain atomic.

mod family;
mod group;
mod histogram;

pub use family::{Family, Kind};
pub use group::{Field, Group};
pub use histogram::{BUCKETS, Histogram, HistogramSnapshot};
