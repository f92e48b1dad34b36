//! One scripted reading: what a device measured, when, and when it reached
//! the gateway.

/// A field value of a [`Reading`].
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// A number (clamped to the schema's range when encoded).
    Num(f64),
    /// An enum by its short name (`flood` for `MODE_FLOOD`).
    Choice(&'static str),
    /// A boolean.
    Flag(bool),
    /// A string (a gate lane).
    Text(String),
}

/// One sample of one device.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Sensor type (topic level and schema).
    pub sensor_type: &'static str,
    pub device_id: String,
    pub site: String,
    /// Device time of the sample (Unix ns).
    pub time_ns: i64,
    /// When it reaches the gateway: `time_ns` when the device is online, the
    /// end of the coverage gap for a sample logged during one.
    pub arrive_ns: i64,
    /// Field values by schema field name; fields left out keep a valid
    /// mid-range value.
    pub values: Vec<(&'static str, Val)>,
}

impl Reading {
    pub(crate) fn new(sensor_type: &'static str, device: &str, site: &str, time_ns: i64) -> Self {
        Self {
            sensor_type,
            device_id: device.to_owned(),
            site: site.to_owned(),
            time_ns,
            arrive_ns: time_ns,
            values: Vec::new(),
        }
    }

    pub(crate) fn num(mut self, name: &'static str, x: f64) -> Self {
        self.values.push((name, Val::Num(x)));
        self
    }

    pub(crate) fn choice(mut self, name: &'static str, short: &'static str) -> Self {
        self.values.push((name, Val::Choice(short)));
        self
    }

    pub(crate) fn flag(mut self, name: &'static str, b: bool) -> Self {
        self.values.push((name, Val::Flag(b)));
        self
    }

    pub(crate) fn text(mut self, name: &'static str, s: &str) -> Self {
        self.values.push((name, Val::Text(s.to_owned())));
        self
    }
}
