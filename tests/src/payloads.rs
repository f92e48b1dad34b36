//! Schema-driven payloads for the tests (see `telegate_schema::sample`).

pub use telegate_schema::sample::*;
