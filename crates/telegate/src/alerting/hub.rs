//! What the operator API reads: the alerts firing now, the recent
//! transitions, a live stream of them, and each device's health.
//!
//! The alert task writes here; the HTTP handlers only read. Readers never
//! wait on the alert task and the alert task never waits on a slow browser:
//! the live stream is a broadcast channel whose laggards skip ahead.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::Serialize;
use telegate_alert::{ActiveAlert, AlertConfig, DeviceRecord, Transition};
use tokio::sync::{broadcast, mpsc, oneshot};

/// Transitions kept for `GET /api/alerts` (`recent`).
pub const RECENT: usize = 200;
/// Operator commands waiting for the evaluator (decommissions are rare).
const COMMANDS: usize = 16;

/// One device as the console shows it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DeviceStatus {
    pub device_id: String,
    pub site: String,
    pub sensor_types: BTreeSet<String>,
    /// Wall time its first reading arrived.
    pub first_seen_ns: i64,
    /// Device time of its newest sample.
    pub last_event_ns: i64,
    /// Wall time its last reading arrived (restored across restarts).
    pub last_seen_ns: i64,
    /// Numeric fields of its newest sample of each sensor type.
    pub last_values: BTreeMap<String, f64>,
    /// From `device_health` (battery_pct, battery_v, rsrp_dbm), when it reports them.
    pub battery_pct: Option<f64>,
    pub battery_v: Option<f64>,
    pub signal_dbm: Option<f64>,
    /// Firing alerts whose series names this device.
    pub firing: usize,
    /// Nothing received for `silent_after`.
    pub silent: bool,
    /// "silent" (nothing for `silent_after`; wins over alerting),
    /// "alerting" (an alert firing) or "ok". Computed when read.
    pub status: &'static str,
}

/// A firing alert with the age of its device's last reading.
#[derive(Debug, Clone, Serialize)]
pub struct FiringView {
    #[serde(flatten)]
    pub alert: ActiveAlert,
    /// Wall time the series' device last sent anything; `None` for a series
    /// without a device (a combined rule grouped by site).
    pub last_seen_ns: Option<i64>,
    /// That device is silent (nothing for `silent_after`).
    pub silent: bool,
}

/// `GET /api/alerts`.
#[derive(Debug, Clone, Serialize)]
pub struct AlertsView {
    pub firing: Vec<FiringView>,
    /// Newest first.
    pub recent: Vec<Arc<Transition>>,
    /// Devices silent now (the console's header).
    pub silent_devices: usize,
}

/// An operator's request to the evaluator.
#[derive(Debug)]
pub enum Command {
    /// Forget a device and clear its deadman; answers whether it was known.
    Decommission {
        device_id: String,
        reply: oneshot::Sender<bool>,
    },
}

/// Why a command was not carried out.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommandError {
    #[error("device `{0}` is not known to the gateway")]
    UnknownDevice(String),
    #[error("the alert evaluator is not running (shutting down?)")]
    NotRunning,
}

#[derive(Debug, Default)]
struct State {
    firing: Vec<ActiveAlert>,
    recent: VecDeque<Arc<Transition>>,
    devices: BTreeMap<String, DeviceRecord>,
    /// The rules in service (the trend chart draws their levels).
    rules: Option<Arc<AlertConfig>>,
}

#[derive(Debug)]
pub struct AlertHub {
    events: broadcast::Sender<Arc<Transition>>,
    state: RwLock<State>,
    /// A device with no reading for this long is shown "silent".
    silent_after_ns: i64,
    commands: mpsc::Sender<Command>,
    /// Taken once by the evaluator.
    command_rx: Mutex<Option<mpsc::Receiver<Command>>>,
}

impl AlertHub {
    pub fn new(silent_after: std::time::Duration) -> Arc<Self> {
        let (events, _) = broadcast::channel(256);
        let (commands, command_rx) = mpsc::channel(COMMANDS);
        Arc::new(Self {
            events,
            state: RwLock::default(),
            silent_after_ns: i64::try_from(silent_after.as_nanos()).unwrap_or(i64::MAX),
            commands,
            command_rx: Mutex::new(Some(command_rx)),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The evaluator's end of the command queue (once).
    pub(crate) fn take_commands(&self) -> Option<mpsc::Receiver<Command>> {
        self.command_rx.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Decommission a device: the evaluator forgets it and clears its
    /// deadman.
    pub async fn decommission(&self, device_id: &str) -> Result<(), CommandError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Decommission {
                device_id: device_id.to_owned(),
                reply,
            })
            .await
            .map_err(|_| CommandError::NotRunning)?;
        match answer.await {
            Ok(true) => Ok(()),
            Ok(false) => Err(CommandError::UnknownDevice(device_id.to_owned())),
            Err(_) => Err(CommandError::NotRunning),
        }
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

    /// The engine's device registry (every second, and after a change).
    pub fn set_devices(&self, devices: impl IntoIterator<Item = DeviceRecord>) {
        self.write().devices = devices.into_iter().map(|d| (d.device_id.clone(), d)).collect();
    }

    /// The rules in service, at start and after each reload.
    pub fn set_rules(&self, rules: AlertConfig) {
        self.write().rules = Some(Arc::new(rules));
    }

    /// The rules in service (`None` before the evaluator started).
    pub fn rules(&self) -> Option<Arc<AlertConfig>> {
        self.read().rules.clone()
    }

    /// One device's registry record.
    pub fn device(&self, device_id: &str) -> Option<DeviceRecord> {
        self.read().devices.get(device_id).cloned()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Transition>> {
        self.events.subscribe()
    }

    /// `alerts.silent_after` in nanoseconds.
    pub fn silent_after_ns(&self) -> i64 {
        self.silent_after_ns
    }

    fn is_silent(&self, d: &DeviceRecord, now_ns: i64) -> bool {
        now_ns.saturating_sub(d.last_seen_ns) > self.silent_after_ns
    }

    /// The firing alerts (each with its device's last reading), the recent
    /// transitions and the number of silent devices, as of `now_ns`.
    pub fn alerts(&self, now_ns: i64) -> AlertsView {
        let st = self.read();
        let firing = st
            .firing
            .iter()
            .map(|a| {
                let device = a.series.device_id.as_deref().and_then(|d| st.devices.get(d));
                FiringView {
                    alert: a.clone(),
                    last_seen_ns: device.map(|d| d.last_seen_ns),
                    silent: device.is_some_and(|d| self.is_silent(d, now_ns)),
                }
            })
            .collect();
        AlertsView {
            firing,
            recent: st.recent.iter().cloned().collect(),
            silent_devices: st.devices.values().filter(|d| self.is_silent(d, now_ns)).count(),
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
                let alerts = firing.get(d.device_id.as_str()).copied().unwrap_or(0);
                let silent = self.is_silent(d, now_ns);
                let value = |k: &str| d.last_values.get(k).copied();
                DeviceStatus {
                    device_id: d.device_id.clone(),
                    site: d.site.clone().unwrap_or_default(),
                    sensor_types: d.sensor_types.clone(),
                    first_seen_ns: d.first_seen_ns,
                    last_event_ns: d.last_event_ns,
                    last_seen_ns: d.last_seen_ns,
                    last_values: d.last_values.clone(),
                    battery_pct: value("battery_pct"),
                    battery_v: value("battery_v"),
                    signal_dbm: value("rsrp_dbm"),
                    firing: alerts,
                    silent,
                    status: if silent {
                        "silent"
                    } else if alerts > 0 {
                        "alerting"
                    } else {
                        "ok"
                    },
                }
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

    fn record(device: &str, values: &[(&str, f64)], t: i64, seen: i64) -> DeviceRecord {
        DeviceRecord {
            device_id: device.into(),
            site: Some("ma-lu-thang".into()),
            sensor_types: BTreeSet::from(["device_health".to_owned()]),
            first_seen_ns: seen,
            last_seen_ns: seen,
            last_event_ns: t,
            last_values: values.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        }
    }

    #[test]
    fn devices_track_health_and_go_silent() {
        let hub = AlertHub::new(Duration::from_secs(60));
        hub.set_devices([record("dh-1", &[("battery_pct", 81.0), ("rsrp_dbm", -97.0)], 5, 1_000)]);
        let d = &hub.devices(2_000)[0];
        assert_eq!(
            (d.status, d.battery_pct, d.signal_dbm, d.last_event_ns),
            ("ok", Some(81.0), Some(-97.0), 5)
        );
        assert_eq!(d.site, "ma-lu-thang");
        let later = 1_000 + 61_000_000_000;
        assert_eq!(hub.devices(later)[0].status, "silent");
        assert_eq!(hub.alerts(later).silent_devices, 1);
        assert_eq!(hub.alerts(2_000).silent_devices, 0);
    }
}
