//! `GET /api/stations`: where the sites and their devices are, and how each
//! is doing, for the console's schematic station map (no map tiles: a
//! border gate has no internet).
//!
//! Coordinates come from `[map]` in the gateway's config (`[map.sites.ID]`
//! and `[map.devices.ID]`, WGS 84 degrees). A device without coordinates of
//! its own is drawn at its site's; one with neither is listed as unplaced.
//! Each station's state is its worst: `critical`, `warning`, `silent`
//! (nothing for `alerts.silent_after`), `info`, `ok`, or `unknown` for a
//! device in `[map]` that has never reported; a site takes its worst
//! station's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use telegate_alert::Severity;
use telegate_model::{InvalidSetting, is_valid_identifier};

use crate::alerting::{AlertsView, DeviceStatus};

/// One point on the map.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Place {
    /// Latitude, degrees north (−90..90).
    pub lat: f64,
    /// Longitude, degrees east (−180..180).
    pub lon: f64,
    /// Shown beside the marker; empty: the id.
    #[serde(default)]
    pub name: String,
}

/// `[map]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MapConfig {
    /// Site id (the `site` tag) → where it is.
    pub sites: BTreeMap<String, Place>,
    /// Device id → where it is.
    pub devices: BTreeMap<String, Place>,
}

impl MapConfig {
    /// The `[map]` part of [`crate::Config::validate`].
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        for (section, places) in [("map.sites", &self.sites), ("map.devices", &self.devices)] {
            for (id, p) in places {
                let bad = |key: &str, problem: String, fix: &str| {
                    InvalidSetting::new(format!("{section}.{id}{key}"), problem, fix)
                };
                if !is_valid_identifier(id) {
                    return Err(bad(
                        "",
                        "is not a site or device id".into(),
                        "use the id of the topic (letters, digits, `.`, `_`, `-`)",
                    ));
                }
                if !(p.lat.is_finite() && (-90.0..=90.0).contains(&p.lat)) {
                    return Err(bad(
                        ".lat",
                        format!("{} is not a latitude", p.lat),
                        "degrees north, e.g. 22.38",
                    ));
                }
                if !(p.lon.is_finite() && (-180.0..=180.0).contains(&p.lon)) {
                    return Err(bad(
                        ".lon",
                        format!("{} is not a longitude", p.lon),
                        "degrees east, e.g. 102.83",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A state, worst last (so `max` is the worst).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MarkState {
    Unknown,
    Ok,
    Info,
    Silent,
    Warning,
    Critical,
}

impl MarkState {
    fn of(severity: Severity) -> MarkState {
        match severity {
            Severity::Info => MarkState::Info,
            Severity::Warning => MarkState::Warning,
            Severity::Critical => MarkState::Critical,
        }
    }
}

/// Where a station is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Placed {
    /// Its own `[map.devices]` entry.
    Device,
    /// Its site's `[map.sites]` entry.
    Site,
    /// Nowhere.
    None,
}

#[derive(Debug, Clone, Serialize)]
pub struct Station {
    pub device_id: String,
    pub site: String,
    pub name: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub placed: Placed,
    pub state: MarkState,
    /// Alerts firing on the device.
    pub firing: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub state: MarkState,
    pub stations: usize,
}

/// `GET /api/stations`.
#[derive(Debug, Clone, Serialize)]
pub struct StationsBody {
    pub now_ns: i64,
    pub sites: Vec<Site>,
    pub stations: Vec<Station>,
}

/// The map's view of the registry, the firing alerts and `[map]`.
pub fn stations(map: &MapConfig, devices: &[DeviceStatus], alerts: &AlertsView, now_ns: i64) -> StationsBody {
    let mut worst: BTreeMap<&str, MarkState> = BTreeMap::new();
    for a in &alerts.firing {
        if let Some(d) = a.alert.series.device_id.as_deref() {
            let w = worst.entry(d).or_insert(MarkState::Ok);
            *w = (*w).max(MarkState::of(a.alert.severity));
        }
    }
    let mut stations: Vec<Station> = devices
        .iter()
        .map(|d| {
            let mut state = worst.get(d.device_id.as_str()).copied().unwrap_or(MarkState::Ok);
            if d.silent {
                state = state.max(MarkState::Silent);
            }
            station(map, &d.device_id, &d.site, state, d.firing)
        })
        .collect();
    for (id, _) in map
        .devices
        .iter()
        .filter(|(id, _)| !devices.iter().any(|d| &d.device_id == *id))
    {
        stations.push(station(map, id, "", MarkState::Unknown, 0));
    }
    let mut site_ids: Vec<&str> = map.sites.keys().map(String::as_str).collect();
    site_ids.extend(stations.iter().map(|s| s.site.as_str()).filter(|s| !s.is_empty()));
    site_ids.sort_unstable();
    site_ids.dedup();
    let sites = site_ids
        .into_iter()
        .map(|id| {
            let mine = stations.iter().filter(|s| s.site == id);
            let place = map.sites.get(id);
            Site {
                id: id.to_owned(),
                name: place
                    .map(|p| p.name.clone())
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| id.to_owned()),
                lat: place.map(|p| p.lat),
                lon: place.map(|p| p.lon),
                state: mine.clone().map(|s| s.state).max().unwrap_or(MarkState::Unknown),
                stations: mine.count(),
            }
        })
        .collect();
    StationsBody {
        now_ns,
        sites,
        stations,
    }
}

fn station(map: &MapConfig, id: &str, site: &str, state: MarkState, firing: usize) -> Station {
    let own = map.devices.get(id);
    let at_site = map.sites.get(site);
    let (place, placed) = match (own, at_site) {
        (Some(p), _) => (Some(p), Placed::Device),
        (None, Some(p)) => (Some(p), Placed::Site),
        (None, None) => (None, Placed::None),
    };
    Station {
        device_id: id.to_owned(),
        site: site.to_owned(),
        name: own
            .map(|p| p.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| id.to_owned()),
        lat: place.map(|p| p.lat),
        lon: place.map(|p| p.lon),
        placed,
        state,
        firing,
    }
}

#[cfg(test)]
mod tests {
    use telegate_alert::{ActiveAlert, SeriesKey};

    use super::*;
    use crate::alerting::hub::FiringView;

    fn device(id: &str, site: &str, silent: bool, firing: usize) -> DeviceStatus {
        DeviceStatus {
            device_id: id.into(),
            site: site.into(),
            silent,
            firing,
            ..DeviceStatus::default()
        }
    }

    fn firing(device: &str, severity: Severity) -> FiringView {
        FiringView {
            alert: ActiveAlert {
                alert_id: "a".into(),
                rule_id: "r".into(),
                rule_name: "r".into(),
                level: "BĐ III".into(),
                severity,
                series: SeriesKey {
                    measurement: None,
                    device_id: Some(device.into()),
                    site: None,
                    tags: Default::default(),
                },
                since_ns: 0,
                episode_start_ns: 0,
                fired_ns: 0,
                last_notified_ns: 0,
                flapping: false,
                value: None,
                threshold: None,
                message: String::new(),
            },
            last_seen_ns: None,
            silent: false,
            ack: None,
            silenced_by: None,
        }
    }

    #[test]
    fn worst_state_per_station_and_site() {
        let map: MapConfig = toml::from_str(
            r#"
            [sites.muong-te]
            name = "Mường Tè"
            lat = 22.38
            lon = 102.83
            [devices.rl-001]
            lat = 22.40
            lon = 102.80
            name = "Trạm Mường Tè"
            [devices.rl-009]
            lat = 22.1
            lon = 103.1
            "#,
        )
        .unwrap();
        map.validate().unwrap();
        let devices = [
            device("rl-001", "muong-te", false, 2),
            device("rg-001", "muong-te", true, 0),
            device("wb-001", "ma-lu-thang", false, 0),
        ];
        let alerts = AlertsView {
            firing: vec![
                firing("rl-001", Severity::Warning),
                firing("rl-001", Severity::Critical),
            ],
            recent: vec![],
            silent_devices: 1,
            silences: vec![],
        };
        let body = stations(&map, &devices, &alerts, 5);
        let s: Vec<(&str, MarkState, Placed, Option<f64>)> = body
            .stations
            .iter()
            .map(|s| (s.device_id.as_str(), s.state, s.placed, s.lat))
            .collect();
        assert_eq!(
            s,
            [
                ("rl-001", MarkState::Critical, Placed::Device, Some(22.40)),
                ("rg-001", MarkState::Silent, Placed::Site, Some(22.38)),
                ("wb-001", MarkState::Ok, Placed::None, None),
                ("rl-009", MarkState::Unknown, Placed::Device, Some(22.1)),
            ]
        );
        assert_eq!(body.stations[0].name, "Trạm Mường Tè");
        let sites: Vec<(&str, &str, MarkState, usize)> = body
            .sites
            .iter()
            .map(|s| (s.id.as_str(), s.name.as_str(), s.state, s.stations))
            .collect();
        assert_eq!(
            sites,
            [
                ("ma-lu-thang", "ma-lu-thang", MarkState::Ok, 1),
                ("muong-te", "Mường Tè", MarkState::Critical, 2),
            ]
        );
    }

    #[test]
    fn bad_coordinates_name_the_key() {
        let map: MapConfig = toml::from_str("[devices.rl-001]\nlat = 122.0\nlon = 102.8\n").unwrap();
        let e = map.validate().unwrap_err().to_string();
        assert!(e.contains("map.devices.rl-001.lat"), "{e}");
    }

    #[test]
    fn the_example_configs_map_parses_once_uncommented() {
        let example = crate::config::EMBEDDED_DEFAULT;
        let section = example.split("\n[map]\n").nth(1).unwrap_or_default();
        let uncommented: String = section
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.starts_with("[map.") || l.contains(" = "))
            .map(|l| format!("{}\n", l.replacen("[map.", "[", 1)))
            .collect();
        let map: MapConfig = toml::from_str(&uncommented).unwrap();
        map.validate().unwrap();
        assert_eq!(map.sites["muong-te"].name, "Mường Tè");
        assert!((map.devices["rl-001"].lon - 102.845).abs() < 1e-9);
    }
}
