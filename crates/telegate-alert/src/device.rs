//! The device registry: every device the engine has been shown a reading
//! of, whatever its sensor type and whether or not a rule reads it.
//!
//! It is saved in the [`crate::Snapshot`] with the alert state and restored
//! with it, so after a restart a device that stays dark is still listed,
//! with the wall time its last reading really arrived: its silence is
//! measured from that, not from the restart. Decommissioning a device
//! ([`crate::Engine::decommission`]) is the only way to remove one.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use telegate_model::{FieldValue, Point};

/// Numeric fields kept per device for the console, at most: a device
/// reporting many fields keeps the first ones by name.
pub(crate) const MAX_VALUES: usize = 32;

/// Devices kept at most, so a stream of made-up device ids cannot grow
/// memory and the state file without bound. A new device beyond the cap is
/// not registered (and counted in [`DeviceRegistry::refused`]).
pub(crate) const MAX_DEVICES: usize = 100_000;

/// One device as last seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceRecord {
    pub device_id: String,
    /// The `site` tag of its newest reading.
    pub site: Option<String>,
    /// Every measurement (sensor type) it has sent.
    pub sensor_types: BTreeSet<String>,
    /// Wall time its first reading arrived.
    pub first_seen_ns: i64,
    /// Wall time its last reading arrived (of any device time: a late
    /// batch is a sign of life).
    pub last_seen_ns: i64,
    /// Device time of its newest sample.
    pub last_event_ns: i64,
    /// The numeric fields of its newest sample of each sensor type
    /// (`battery_v`, `stage_m`, `rsrp_dbm`...), by field name.
    pub last_values: BTreeMap<String, f64>,
}

/// Every device seen, by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct DeviceRegistry {
    pub(crate) devices: BTreeMap<String, DeviceRecord>,
    pub(crate) refused: u64,
}

fn number(v: &FieldValue) -> Option<f64> {
    let x = match v {
        FieldValue::Float(x) => *x,
        FieldValue::Int(x) => *x as f64,
        FieldValue::UInt(x) => *x as f64,
        FieldValue::Bool(_) | FieldValue::Str(_) => return None,
    };
    x.is_finite().then_some(x)
}

impl DeviceRegistry {
    /// A reading of `point` arrived at wall time `now_ns`.
    pub(crate) fn observe(&mut self, point: &Point, now_ns: i64) {
        let tag = |k: &str| point.tags.iter().find(|(key, _)| &**key == k).map(|(_, v)| v.as_str());
        let Some(device) = tag("device_id") else { return };
        if !self.devices.contains_key(device) {
            if self.devices.len() >= MAX_DEVICES {
                self.refused += 1;
                return;
            }
            self.devices.insert(
                device.to_owned(),
                DeviceRecord {
                    device_id: device.to_owned(),
                    site: None,
                    sensor_types: BTreeSet::new(),
                    first_seen_ns: now_ns,
                    last_seen_ns: now_ns,
                    last_event_ns: point.time_ns,
                    last_values: BTreeMap::new(),
                },
            );
        }
        let Some(d) = self.devices.get_mut(device) else { return };
        if !d.sensor_types.contains(&*point.measurement) {
            d.sensor_types.insert(point.measurement.to_string());
        }
        d.last_seen_ns = d.last_seen_ns.max(now_ns);
        if point.time_ns < d.last_event_ns {
            // An old sample from a backlog: alive, but not the newest value.
            return;
        }
        d.last_event_ns = point.time_ns;
        if let Some(site) = tag("site")
            && d.site.as_deref() != Some(site)
        {
            d.site = Some(site.to_owned());
        }
        for (k, v) in &point.fields {
            let Some(x) = number(v) else { continue };
            if d.last_values.len() < MAX_VALUES || d.last_values.contains_key(&**k) {
                d.last_values.insert(k.to_string(), x);
            }
        }
    }

    pub(crate) fn restore(records: Vec<DeviceRecord>) -> DeviceRegistry {
        DeviceRegistry {
            devices: records
                .into_iter()
                .take(MAX_DEVICES)
                .map(|d| (d.device_id.clone(), d))
                .collect(),
            refused: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn point(measurement: &str, device: &str, t: i64, fields: &[(&str, f64)]) -> Point {
        Point {
            measurement: Arc::from(measurement),
            tags: vec![
                (Arc::from("device_id"), device.to_owned()),
                (Arc::from("site"), "ma-lu-thang".to_owned()),
            ],
            fields: fields
                .iter()
                .map(|(k, v)| (Arc::from(*k), FieldValue::Float(*v)))
                .collect(),
            time_ns: t,
        }
    }

    #[test]
    fn every_device_and_sensor_type_is_kept_with_newest_values() {
        let mut r = DeviceRegistry::default();
        r.observe(&point("lane_counter", "lc-001", 100, &[("vehicles", 3.0)]), 1_000);
        r.observe(&point("device_health", "lc-001", 200, &[("battery_v", 12.6)]), 2_000);
        // A late sample: a sign of life, not the newest value.
        r.observe(&point("lane_counter", "lc-001", 50, &[("vehicles", 9.0)]), 3_000);
        let d = &r.devices["lc-001"];
        assert_eq!(
            d.sensor_types.iter().map(String::as_str).collect::<Vec<_>>(),
            ["device_health", "lane_counter"]
        );
        assert_eq!((d.first_seen_ns, d.last_seen_ns, d.last_event_ns), (1_000, 3_000, 200));
        assert_eq!(d.last_values["vehicles"], 3.0);
        assert_eq!(d.last_values["battery_v"], 12.6);
        assert_eq!(d.site.as_deref(), Some("ma-lu-thang"));
    }
}
