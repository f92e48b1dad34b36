//! What to simulate, and why a configuration is refused.

use telegate_model::{TopicPattern, is_valid_identifier};
use thiserror::Error;

use crate::publish::MAX_PACKET_BYTES;

/// Room kept between the payload limit and the MQTT packet size: the
/// oversized class exceeds the limit by about 1 KiB and the packet adds the
/// topic and headers.
const PACKET_HEADROOM: usize = 4096;

/// The simulated fleet: how many devices, how fast, which sites, and how
/// many deliberately bad messages.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// Number of simulated devices, assigned round-robin over the registry's
    /// sensor types (so at least one per type when `devices >= types`).
    pub devices: usize,
    /// Messages per second across the whole fleet. It paces publishing and
    /// also defines the timestamp clock: message `n` is stamped
    /// `start_ns + n / rate` seconds.
    pub rate: f64,
    /// Seed of every random choice: the same registry, config and seed give
    /// byte-identical messages.
    pub seed: u64,
    /// Wall time (Unix ns) of message 0. The caller sets it to now for a live
    /// run; a fixed value makes runs reproducible.
    pub start_ns: i64,
    /// Model-time multiplier: the value models (diurnal cycle, rain bursts,
    /// night battery drain, gate hours) run `speed` times faster than the
    /// timestamps, so a demo at 60 shows a day in 24 minutes. Rates measured
    /// on the timestamps (cm/h, mm/h) are then `speed` times the modelled ones;
    /// use 1 for realistic rate alerts.
    pub speed: f64,
    /// Share (0..=1) of messages that are deliberately bad, cycling through
    /// every [`BadClass`](crate::BadClass) the registry supports.
    pub bad_ratio: f64,
    /// Sites the devices are placed at (topic `{site}` level). Known names
    /// (see [`FieldParams::sites`](crate::FieldParams)) get their own climate
    /// and river station.
    pub sites: Vec<String>,
    /// Renders each message's topic.
    pub topic_pattern: TopicPattern,
    /// The gateway's payload limit (`limits.max_payload_bytes`): late batches
    /// stay under it and the oversized bad class exceeds it.
    pub max_payload_bytes: usize,
    /// Only these sensor types (empty: every type of the registry), e.g. to
    /// exercise one type an integrator just added.
    pub types: Vec<String>,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            devices: 24,
            rate: 20.0,
            seed: 1,
            start_ns: 0,
            speed: 60.0,
            bad_ratio: 0.0,
            sites: vec!["ma-lu-thang".into(), "muong-te".into(), "sin-ho".into()],
            topic_pattern: default_pattern(),
            max_payload_bytes: 256 * 1024,
            types: Vec::new(),
        }
    }
}

fn default_pattern() -> TopicPattern {
    // A constant the parser accepts (the gateway's own default).
    TopicPattern::parse("telemetry/{site}/{device_id}/{sensor_type}")
        .unwrap_or_else(|e| unreachable!("the default topic pattern is valid: {e}"))
}

/// Why a fleet cannot be built or a run failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SimError {
    #[error("devices must be at least 1")]
    NoDevices,
    #[error("rate must be a positive, finite number of messages per second (got {0})")]
    BadRate(f64),
    #[error("speed must be a positive, finite multiplier (got {0})")]
    BadSpeed(f64),
    #[error("bad_ratio must be between 0 and 1 (got {0})")]
    BadRatio(f64),
    #[error("at least one site is needed")]
    NoSites,
    #[error("site `{0}` must be 1-64 characters of A-Z a-z 0-9 . _ -")]
    BadSite(String),
    #[error("max_payload_bytes must be between 1 KiB and {max} bytes (got {got})")]
    BadPayloadLimit { got: usize, max: usize },
    #[error("sensor type `{sensor_type}` is not in the registry (known: {known})")]
    UnknownType { sensor_type: String, known: String },
    #[error("no usable sensor type: {0}")]
    NoSensorTypes(String),
    #[error("bad_ratio is {ratio} but this registry supports no bad message class")]
    NoBadClasses { ratio: f64 },
    #[error(
        "sensor type `{sensor_type}` stamps samples in whole units of `{unit}` (samples[].{field}), but at {rate} messages/s each of its devices sends every {every_s:.3} s: two samples of one device would get the same time and the later would overwrite the earlier in InfluxDB. Fix: a rate of at most {max_rate} messages/s, or more devices"
    )]
    TimeTooCoarse {
        sensor_type: String,
        field: String,
        unit: &'static str,
        rate: f64,
        every_s: f64,
        max_rate: f64,
    },
    /// The source is the client's error, or what happened instead of a
    /// CONNACK (a timeout, the event loop gone).
    #[error("cannot connect to the MQTT broker at {target}")]
    Connect {
        target: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Boxed: rumqttc's error holds the request it failed on.
    #[error("MQTT client failed")]
    Mqtt(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl FleetConfig {
    /// Refuse values that would make the simulation meaningless or divide by zero.
    pub(crate) fn validate(&self) -> Result<(), SimError> {
        if self.devices == 0 {
            return Err(SimError::NoDevices);
        }
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err(SimError::BadRate(self.rate));
        }
        if !(self.speed.is_finite() && self.speed > 0.0) {
            return Err(SimError::BadSpeed(self.speed));
        }
        if !(0.0..=1.0).contains(&self.bad_ratio) {
            return Err(SimError::BadRatio(self.bad_ratio));
        }
        if self.sites.is_empty() {
            return Err(SimError::NoSites);
        }
        if let Some(bad) = self.sites.iter().find(|s| !is_valid_identifier(s)) {
            return Err(SimError::BadSite(bad.clone()));
        }
        let max = MAX_PACKET_BYTES as usize - PACKET_HEADROOM;
        if !(1024..=max).contains(&self.max_payload_bytes) {
            return Err(SimError::BadPayloadLimit {
                got: self.max_payload_bytes,
                max,
            });
        }
        Ok(())
    }
}
