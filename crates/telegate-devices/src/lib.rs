//! Device identity and broker access. The device inventory ([`Inventory`],
//! one TOML file) says which devices exist, where, what they publish and
//! how they prove who they are; from it this crate generates the broker's
//! `password_file` and `acl_file` so each device can publish only as itself
//! ([`broker_files`]), issues per-device passwords (stored as Mosquitto
//! hashes, shown once: [`password`]) or client certificates signed by a
//! provisioning CA ([`certificate`]), and asks the broker to reload.
//!
//! The operations below are what `telegate device add|list|revoke|rotate|
//! account|sync` run: load, change, save the inventory, regenerate every
//! file, reload the broker — so the files never drift from the inventory.

pub mod broker_files;
pub mod certificate;
mod error;
pub mod inventory;
pub mod password;

use std::path::{Path, PathBuf};

pub use broker_files::Reloaded;
pub use error::DeviceError;
pub use inventory::{Account, CredentialKind, Device, DeviceState, Inventory, Role, resolve};

/// What a device needs to know once, at provisioning: shown, never stored.
#[derive(Debug)]
pub enum Credential {
    /// Its broker user name is its id.
    Password(String),
    /// Its certificate and private key, written to these files (key 0600).
    Certificate {
        cert: PathBuf,
        key: PathBuf,
        serial: String,
    },
}

/// A new device's description (everything but its credential).
#[derive(Debug, Clone)]
pub struct NewDevice {
    pub id: String,
    pub site: String,
    pub sensor_types: Vec<String>,
    pub installed: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub credential: CredentialKind,
}

/// The outcome of a change: the secret to hand over (if any) and how the
/// broker was told.
#[derive(Debug)]
pub struct Change {
    pub credential: Option<Credential>,
    pub reloaded: Reloaded,
}

fn new_credential(
    inv: &Inventory,
    path: &Path,
    device: &mut Device,
    out_dir: &Path,
) -> Result<Credential, DeviceError> {
    match device.credential {
        CredentialKind::Password => {
            let password = password::generate_password()?;
            device.password_hash = password::hash_password(&password)?;
            Ok(Credential::Password(password))
        }
        CredentialKind::Certificate => {
            let ca = certificate::Ca::open_or_create(
                &resolve(path, &inv.broker.ca_cert),
                &resolve(path, &inv.broker.ca_key),
            )?;
            let issued = ca.issue(&device.id)?;
            let cert = out_dir.join(format!("{}.pem", device.id));
            let key = out_dir.join(format!("{}.key", device.id));
            broker_files::write_atomically(&key, issued.key_pem.as_bytes(), 0o600)?;
            broker_files::write_atomically(&cert, issued.cert_pem.as_bytes(), 0o644)?;
            if !device.certificate_serial.is_empty() {
                let old = std::mem::take(&mut device.certificate_serial);
                device.revoked_serials.push(old);
            }
            device.certificate_serial = issued.serial.clone();
            Ok(Credential::Certificate {
                cert,
                key,
                serial: issued.serial,
            })
        }
    }
}

/// Save the inventory, regenerate the password, ACL and (once a CA exists)
/// CRL files, and ask the broker to reload them.
pub fn sync(inv: &Inventory, path: &Path) -> Result<Reloaded, DeviceError> {
    inv.save(path)?;
    broker_files::write(inv, path)?;
    let (ca_cert, ca_key) = (resolve(path, &inv.broker.ca_cert), resolve(path, &inv.broker.ca_key));
    if ca_key.exists() {
        let ca = certificate::Ca::open_or_create(&ca_cert, &ca_key)?;
        let serials: Vec<&str> = inv
            .devices
            .iter()
            .flat_map(|d| d.revoked_serials.iter().map(String::as_str))
            .collect();
        let crl = ca.crl(&serials)?;
        broker_files::write_atomically(&resolve(path, &inv.broker.crl_file), crl.as_bytes(), 0o644)?;
    }
    broker_files::reload(inv, path)
}

/// Provision a device: a fresh credential, the inventory and broker files
/// updated, the broker reloaded.
pub fn add_device(path: &Path, new: NewDevice, out_dir: &Path) -> Result<Change, DeviceError> {
    let mut inv = Inventory::load(path)?;
    if inv.device(&new.id).is_some() || inv.accounts.iter().any(|a| a.name == new.id) {
        return Err(DeviceError::Exists {
            id: new.id,
            path: path.to_owned(),
        });
    }
    let mut device = Device {
        id: new.id,
        site: new.site,
        sensor_types: new.sensor_types,
        installed: new.installed,
        lat: new.lat,
        lon: new.lon,
        credential: new.credential,
        state: DeviceState::Active,
        password_hash: String::new(),
        certificate_serial: String::new(),
        revoked_serials: Vec::new(),
    };
    let credential = new_credential(&inv, path, &mut device, out_dir)?;
    inv.devices.push(device);
    let reloaded = sync(&inv, path)?;
    Ok(Change {
        credential: Some(credential),
        reloaded,
    })
}

/// New credentials for a device; the old ones stop working at the reload
/// (an old certificate goes on the CRL).
pub fn rotate(path: &Path, id: &str, out_dir: &Path) -> Result<Change, DeviceError> {
    let mut inv = Inventory::load(path)?;
    let snapshot = inv.clone();
    let device = inv.device_mut(id).ok_or_else(|| DeviceError::Unknown {
        id: id.into(),
        path: path.to_owned(),
    })?;
    if device.state == DeviceState::Revoked {
        return Err(DeviceError::Revoked {
            id: id.into(),
            path: path.to_owned(),
        });
    }
    let credential = new_credential(&snapshot, path, device, out_dir)?;
    let reloaded = sync(&inv, path)?;
    Ok(Change {
        credential: Some(credential),
        reloaded,
    })
}

/// Revoke a device: kept in the inventory for the record, removed from the
/// password and ACL files, its certificate put on the CRL.
pub fn revoke(path: &Path, id: &str) -> Result<Change, DeviceError> {
    let mut inv = Inventory::load(path)?;
    let device = inv.device_mut(id).ok_or_else(|| DeviceError::Unknown {
        id: id.into(),
        path: path.to_owned(),
    })?;
    device.state = DeviceState::Revoked;
    device.password_hash.clear();
    if !device.certificate_serial.is_empty() {
        let serial = std::mem::take(&mut device.certificate_serial);
        device.revoked_serials.push(serial);
    }
    let reloaded = sync(&inv, path)?;
    Ok(Change {
        credential: None,
        reloaded,
    })
}

/// Add (or give a new password to) a non-device account: the gateway's or an
/// operator tool's. Returns its password, shown once.
pub fn set_account(path: &Path, name: &str, role: Role) -> Result<(String, Reloaded), DeviceError> {
    let mut inv = Inventory::load(path)?;
    if inv.device(name).is_some() {
        return Err(DeviceError::Exists {
            id: name.into(),
            path: path.to_owned(),
        });
    }
    let password = password::generate_password()?;
    let password_hash = password::hash_password(&password)?;
    match inv.accounts.iter_mut().find(|a| a.name == name) {
        Some(a) => {
            a.role = role;
            a.password_hash = password_hash;
        }
        None => inv.accounts.push(Account {
            name: name.into(),
            role,
            password_hash,
        }),
    }
    let reloaded = sync(&inv, path)?;
    Ok((password, reloaded))
}
