use std::sync::Arc;

/// One typed field value. The variant is the InfluxDB field type, so an
/// integer stays an integer (`i` suffix) and never silently becomes a float.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Float(f64),
    Int(i64),
    UInt(u64),
    Bool(bool),
    Str(String),
}

/// One time-series point, ready for line-protocol encoding.
///
/// Names are `Arc<str>` because they come from the schema and are shared by
/// every point of a sensor type: cloning them is a reference-count bump, not a
/// copy. The timestamp is the *device's* sample time in nanoseconds since the
/// Unix epoch; together with measurement and tags it is the point's identity,
/// so a redelivered reading overwrites itself instead of duplicating.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub measurement: Arc<str>,
    /// Tag key/value pairs, sorted by key (InfluxDB's preferred order).
    pub tags: Vec<(Arc<str>, String)>,
    pub fields: Vec<(Arc<str>, FieldValue)>,
    pub time_ns: i64,
}
