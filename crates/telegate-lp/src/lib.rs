//! InfluxDB line protocol, owned in one place.
//!
//! Three parts of the gateway speak it and must agree byte for byte: the
//! transcoder (`telegate-schema`) writes lines straight from protobuf wire
//! bytes, the dynamic path encodes [`Point`]s with [`encode_point`] (the two
//! are interchangeable per sensor type), and the alert evaluator and the
//! device-status board read the encoded lines back with [`parse_line`]. So
//! the escaping rules, the number formats and the parser live here, with
//! the property tests that hold them together (and a round trip through
//! InfluxData's own parser).
//!
//! Everything writes into a caller-owned, reused `Vec<u8>`: no allocation
//! per point on the hot path.
//!
//! [`Point`]: telegate_model::Point

mod encode;
mod escape;
mod number;
mod parse;

pub use encode::{EncodeError, encode_point, encode_points};
pub use escape::{escape_key, escape_measurement, escape_tag_value, push_string_value};
pub use number::{push_f32, push_f64, push_i64, push_u64};
pub use parse::{ParseError, measurement_of, parse_line, parse_lines};

#[cfg(test)]
mod tests;
