//! The transcoder against the dynamic path: same lines, same rejections.
//!
//! `support` runs both paths the way the decode stage does; `cases` holds
//! hand-written inputs for each wire and mapping rule; `generate` and
//! `equivalence` are the property tests over every built-in schema and two
//! schemas that use the rest of what plans support.

mod cases;
mod equivalence;
mod generate;
mod support;
mod unsupported;
mod values;
