//! The device inventory: one TOML file listing every device (id, site,
//! sensor types, installation date, coordinates, credential kind, state)
//! and the broker accounts of the gateway and the operators' tools. It is
//! the single source the broker's password and ACL files are generated
//! from (`broker_files`), so "who may publish what" is reviewed in one
//! place. The format is documented in docs/operations.md ("Provisioning
//! devices") and shown by `config/devices.example.toml`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::DeviceError;
use crate::password::is_mosquitto_hash;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    #[serde(default)]
    pub broker: BrokerFiles,
    #[serde(default, rename = "account", skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<Account>,
    #[serde(default, rename = "device", skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Device>,
}

/// `[broker]`: where the generated files go and how the broker learns of
/// them. Paths are relative to the inventory file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerFiles {
    /// Mosquitto `password_file`.
    pub password_file: String,
    /// Mosquitto `acl_file`.
    pub acl_file: String,
    /// After writing the files, send SIGHUP to the pid in this file (the
    /// broker's `pid_file`)...
    pub pid_file: String,
    /// ...or run this command, in the inventory's directory (e.g.
    /// `docker compose -f ../compose.yaml kill -s HUP mosquitto`).
    /// Both empty: the files are written and a reminder is printed.
    pub reload_command: String,
    /// First topic level of the device topics
    /// (`{telemetry_prefix}/{site}/{device_id}/{sensor_type}`).
    pub telemetry_prefix: String,
    /// `mqtt.dead_letter_prefix` of the gateway.
    pub dead_letter_prefix: String,
    /// `alerts.mqtt.topic_prefix` of the gateway.
    pub alert_prefix: String,
    /// `feedback.prefix` of the gateway: it may write `{feedback_prefix}/#`,
    /// each device read `{feedback_prefix}/{device_id}/#`.
    pub feedback_prefix: String,
    /// The provisioning CA that signs device certificates (created by the
    /// first `telegate device add --certificate`), and its private key.
    pub ca_cert: String,
    pub ca_key: String,
    /// Certificate revocation list of that CA (Mosquitto's `crlfile`),
    /// rewritten when a certificate device is revoked.
    pub crl_file: String,
}

impl Default for BrokerFiles {
    fn default() -> Self {
        Self {
            password_file: "mosquitto/passwd".into(),
            acl_file: "mosquitto/acl".into(),
            pid_file: String::new(),
            reload_command: String::new(),
            telemetry_prefix: "telemetry".into(),
            dead_letter_prefix: "telegate/dead-letter".into(),
            alert_prefix: "telegate/alerts".into(),
            feedback_prefix: "telegate/device".into(),
            ca_cert: "pki/devices-ca.pem".into(),
            ca_key: "pki/devices-ca.key".into(),
            crl_file: "pki/devices-ca.crl".into(),
        }
    }
}

/// A broker account that is not a device.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub name: String,
    pub role: Role,
    pub password_hash: String,
}

/// What an account may do (the ACL in docs/operations.md).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads all telemetry; writes dead letters and alerts.
    Gateway,
    /// Reads alerts (dashboards, chat bridges, the control room's tools).
    Operator,
    /// Publishes telemetry for any device: `telegate sim` on a test bench or
    /// the compose demo. It defeats per-device identity, so never give one
    /// to a production broker.
    Simulator,
}

/// One field device.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// The device id in its topics and payloads; also its broker user name
    /// (or its certificate's common name).
    pub id: String,
    pub site: String,
    pub sensor_types: Vec<String>,
    /// Installation date, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub installed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    pub credential: CredentialKind,
    pub state: DeviceState,
    /// `credential = "password"`: Mosquitto `$7$` hash of its password.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password_hash: String,
    /// `credential = "certificate"`: serial number (hex) of its certificate.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub certificate_serial: String,
    /// Serials of its certificates that no longer count (replaced by
    /// `rotate`, or all of them once revoked): they go on the CA's CRL.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked_serials: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CredentialKind {
    /// User name = device id, password hashed in the inventory.
    Password,
    /// A client certificate whose common name is the device id, signed by
    /// the provisioning CA (Mosquitto `use_identity_as_username`).
    Certificate,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DeviceState {
    Active,
    /// Kept for the record; left out of every generated file.
    Revoked,
}

/// A topic level or user name the ACL can carry safely: no MQTT wildcards,
/// separators, spaces or Mosquitto `%` substitutions.
pub fn is_safe_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && [0, 1, 2, 3, 5, 6, 8, 9].iter().all(|&i| b[i].is_ascii_digit())
        && matches!(s[5..7].parse::<u8>(), Ok(1..=12))
        && matches!(s[8..10].parse::<u8>(), Ok(1..=31))
}

impl Inventory {
    /// Read and validate. A missing file is an empty inventory (the first
    /// `telegate device add` creates it).
    pub fn load(path: &Path) -> Result<Self, DeviceError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(DeviceError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let inventory: Self = toml::from_str(&text).map_err(|source| DeviceError::Parse {
            path: path.to_owned(),
            source,
        })?;
        inventory.validate(path)?;
        Ok(inventory)
    }

    /// Write atomically (a temp file renamed over the old one).
    pub fn save(&self, path: &Path) -> Result<(), DeviceError> {
        self.validate(path)?;
        let body = toml::to_string(self).map_err(|source| DeviceError::Encode {
            path: path.to_owned(),
            source,
        })?;
        let text = format!(
            "# telegate device inventory: the source of the broker's password and ACL files.\n\
             # Managed by `telegate device add|revoke|rotate` (docs/operations.md, \"Provisioning\n\
             # devices\"); hand edits are kept, comments are not. Then: telegate device sync.\n\n{body}"
        );
        crate::broker_files::write_atomically(path, text.as_bytes(), 0o600)
    }

    fn invalid(path: &Path, key: String, problem: impl Into<String>, fix: impl Into<String>) -> DeviceError {
        DeviceError::Invalid {
            path: path.to_owned(),
            key,
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    /// Every rule the generated files rely on; errors name the key.
    pub fn validate(&self, path: &Path) -> Result<(), DeviceError> {
        let b = &self.broker;
        for (key, value) in [
            ("broker.telemetry_prefix", &b.telemetry_prefix),
            ("broker.dead_letter_prefix", &b.dead_letter_prefix),
            ("broker.alert_prefix", &b.alert_prefix),
            ("broker.feedback_prefix", &b.feedback_prefix),
        ] {
            if value.is_empty() || value.contains(['+', '#', ' ']) || value.starts_with('/') || value.ends_with('/') {
                return Err(Self::invalid(
                    path,
                    key.into(),
                    format!("{value:?} is not a topic prefix"),
                    "levels separated by '/', no wildcards or spaces, e.g. \"telegate/alerts\"",
                ));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, a) in self.accounts.iter().enumerate() {
            if !is_safe_name(&a.name) {
                return Err(Self::invalid(
                    path,
                    format!("account[{i}].name"),
                    format!("{:?} is not a safe user name", a.name),
                    "letters, digits, '-', '_' and '.' only",
                ));
            }
            if !is_mosquitto_hash(&a.password_hash) {
                return Err(Self::invalid(
                    path,
                    format!("account[{i}].password_hash"),
                    "not a Mosquitto $7$ hash",
                    format!("telegate device account {} --role {:?}", a.name, a.role).to_lowercase(),
                ));
            }
            if !names.insert(a.name.as_str()) {
                return Err(Self::invalid(
                    path,
                    format!("account[{i}].name"),
                    format!("{:?} appears twice", a.name),
                    "remove one of them",
                ));
            }
        }
        for (i, d) in self.devices.iter().enumerate() {
            let key = |k: &str| format!("device[{i}].{k}");
            if !is_safe_name(&d.id) {
                return Err(Self::invalid(
                    path,
                    key("id"),
                    format!("{:?} cannot be a topic level and broker user name", d.id),
                    "letters, digits, '-', '_' and '.' only",
                ));
            }
            if !names.insert(d.id.as_str()) {
                return Err(Self::invalid(
                    path,
                    key("id"),
                    format!(
                        "{:?} is used twice (devices and accounts share the broker's user names)",
                        d.id
                    ),
                    "give each device and account its own name",
                ));
            }
            if !is_safe_name(&d.site) {
                return Err(Self::invalid(
                    path,
                    key("site"),
                    format!("{:?} cannot be a topic level", d.site),
                    "letters, digits, '-', '_' and '.' only",
                ));
            }
            if d.sensor_types.is_empty() {
                return Err(Self::invalid(
                    path,
                    key("sensor_types"),
                    "empty",
                    "list the sensor types it publishes, e.g. [\"river_level\"]",
                ));
            }
            if let Some(t) = d.sensor_types.iter().find(|t| !is_safe_name(t)) {
                return Err(Self::invalid(
                    path,
                    key("sensor_types"),
                    format!("{t:?} cannot be a topic level"),
                    "sensor type names as in `telegate schema list`",
                ));
            }
            if !d.installed.is_empty() && !is_date(&d.installed) {
                return Err(Self::invalid(
                    path,
                    key("installed"),
                    format!("{:?} is not a date", d.installed),
                    "YYYY-MM-DD, e.g. \"2026-11-02\"",
                ));
            }
            if d.lat.is_some_and(|v| !(-90.0..=90.0).contains(&v))
                || d.lon.is_some_and(|v| !(-180.0..=180.0).contains(&v))
            {
                return Err(Self::invalid(
                    path,
                    key("lat"),
                    "coordinates out of range",
                    "decimal degrees: lat -90..90, lon -180..180",
                ));
            }
            if d.state == DeviceState::Active
                && d.credential == CredentialKind::Password
                && !is_mosquitto_hash(&d.password_hash)
            {
                return Err(Self::invalid(
                    path,
                    key("password_hash"),
                    "an active password device needs a Mosquitto $7$ hash",
                    format!("telegate device rotate {}", d.id),
                ));
            }
        }
        Ok(())
    }

    pub fn device(&self, id: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.id == id)
    }

    pub fn device_mut(&mut self, id: &str) -> Option<&mut Device> {
        self.devices.iter_mut().find(|d| d.id == id)
    }
}

/// A path from the inventory, resolved against the inventory's directory.
pub fn resolve(inventory_path: &Path, file: &str) -> PathBuf {
    let p = Path::new(file);
    if p.is_relative() {
        inventory_path.parent().unwrap_or(Path::new(".")).join(p)
    } else {
        p.to_owned()
    }
}
