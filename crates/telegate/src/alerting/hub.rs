//! What the operator API reads: the alerts firing now, the recent
//! transitions, a live stream of them, and each device's health.
//!
//! The alert task writes here; the HTTP handlers only read. Readers never
//! wait on the alert task and the alert task never waits on a slow browser:
//! the live stream is a broadcast channel whose laggards skip ahead.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::Serialize;
use telegate_alert::{ActiveAlert, Transition};
use telegate_model::{FieldValue, Point};
use tokio::sync::broadcast;

/// Transitions kept for `GET /api/alerts` (`recent`).
pub const RECENT: usize = 200;

/// One device as the console shows it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DeviceStatus {
    pub device_id: String,
    pub site: String,
    pub sensor_types: BTreeSet<String>,
    /// Device time of its newest sample.
    pub last_event_ns: i64,
    /// Wall time its last reading arrived.
    pub last_seen_ns: i64,
    /// From `device_health` (battery_pct, battery_v, rsrp_dbm), when it reports them.
    pub battery_pct: Option<f64>,
    pub battery_v: Option<f64>,
    pub signal_dbm: Option<f64>,
    /// Firing alerts whose series names this device.
    pub firing: usize,
    /// "alerting" (an alert firing), "silent" (nothing for `silent_after`)
    /// or "ok". Computed when read.
    pub status: &'static str,
}

/// `GET /api/alerts`.
#[derive(Debug, Clone, Serialize)]
pub struct AlertsView {
    pub firing: Vec<ActiveAlert>,
    /// Newest first.
    pub recent: Vec<Arc<Transition>>,
}

#[derive(Debug, Default)]
struct State {
    firing: Vec<ActiveAlert>,
    recent: VecDeque<Arc<Transition>>,
    devices: BTreeMap<String, DeviceStatus>,
}

#[derive(Debug)]
pub struct AlertHub {
    events: broadcast::Sender<Arc<Transition>>,
    state: RwLock<State>,
    /// A device with no reading for this long is shown "silent".
    silent_after_ns: i64,
}

fn float(v: &FieldValue) -> Option<f64> {
    match v {
        FieldValue::Float(x) => Some(*x),
        FieldValue::Int(x) => Some(*x as f64),
        FieldValue::UInt(x) => Some(*x as f64),
        _ => None,
    }
}

impl AlertHub {
    pub fn new(silent_after: std::time::Duration) -> Arc<Self> {
        let (events, _) = broadcast::channel(256);
        Arc::new(Self {
            events,
            state: RwLock::default(),
            silent_after_ns: i64::try_from(silent_after.as_nanos()).unwrap_or(i64::MAX),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A transition happened: keep it and tell live subscribers.
    pub fn publish(&self, t: Transition) {
        let t = Arc::new(t);
        {
            let mut st = self.write();
            st.recent.push_front(t.clone());
            st.recent.truncate(RECENT);
        }
        // No subscriber is fine.
        let _ = self.events.send(t);
    }

    /// The engine's firing list after a round of evaluation.
    pub fn set_firing(&self, firing: Vec<ActiveAlert>) {
        self.write().firing = firing;
    }

    /// A reading arrived at wall time `now_ns`: update its device.
    pub fn observe(&self, p: &Point, now_ns: i64) {
        let tag = |k: &str| p.tags.iter().find(|(key, _)| &**key == k).map(|(_, v)| v.as_str());
        let Some(device) = tag("device_id") else { return };
        let mut st = self.write();
        let d = st.devices.entry(device.to_owned()).or_insert_with(|| DeviceStatus {
            device_id: device.to_owned(),
            ..DeviceStatus::default()
        });
        if let Some(site) = tag("site")
            && d.site != site
        {
            d.site = site.to_owned();
        }
        if !d.sensor_types.contains(&*p.measurement) {
            d.sensor_types.insert(p.measurement.to_string());
        }
        d.last_event_ns = d.last_event_ns.max(p.time_ns);
        d.last_seen_ns = now_ns;
        for (k, v) in &p.fields {
            match &**k {
                "battery_pct" => d.battery_pct = float(v),
                "battery_v" => d.battery_v = float(v),
                "rsrp_dbm" => d.signal_dbm = float(v),
                _ => {}
            }
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Transition>> {
        self.events.subscribe()
    }

    pub fn alerts(&self) -> AlertsView {
        let st = self.read();
        AlertsView {
            firing: st.firing.clone(),
            recent: st.recent.iter().cloned().collect(),
        }
    }

    /// Every device, by site then id, with its status as of `now_ns`.
    pub fn devices(&self, now_ns: i64) -> Vec<DeviceStatus> {
        let st = self.read();
        let mut firing: BTreeMap<&str, usize> = BTreeMap::new();
        for a in &st.firing {
            if let Some(d) = a.series.device_id.as_deref() {
                *firing.entry(d).or_default() += 1;
            }
        }
        let mut out: Vec<DeviceStatus> = st
            .devices
            .values()
            .map(|d| {
                let mut d = d.clone();
                d.firing = firing.get(d.device_id.as_str()).copied().unwrap_or(0);
                d.status = if d.firing > 0 {
                    "alerting"
                } else if now_ns.saturating_sub(d.last_seen_ns) > self.silent_after_ns {
                    "silent"
                } else {
                    "ok"
                };
                d
            })
            .collect();
        out.sort_by(|a, b| (&a.site, &a.device_id).cmp(&(&b.site, &b.device_id)));
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn point(device: &str, fields: Vec<(&str, FieldValue)>, t: i64) -> Point {
        Point {
            measurement: "device_health".into(),
            tags: vec![
                ("device_id".into(), device.into()),
                ("site".into(), "ma-lu-thang".into()),
            ],
            fields: fields.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            time_ns: t,
        }
    }

    #[test]
    fn devices_track_health_and_go_silent() {
        let hub = AlertHub::new(Duration::from_secs(60));
        hub.observe(
            &point(
                "dh-1",
                vec![
                    ("battery_pct", FieldValue::Float(81.0)),
                    ("rsrp_dbm", FieldValue::Float(-97.0)),
                ],
                5,
            ),
            1_000,
        );
        let d = &hub.devices(2_000)[0];
        assert_eq!(
            (d.status, d.battery_pct, d.signal_dbm, d.last_event_ns),
            ("ok", Some(81.0), Some(-97.0), 5)
        );
        assert_eq!(d.site, "ma-lu-thang");
        assert_eq!(hub.devices(1_000 + 61_000_000_000)[0].status, "silent");
    }
}
