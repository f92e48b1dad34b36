//! `telegate device`: the command-line face of `telegate-devices`. It checks
//! what only the gateway knows (that sensor types exist in the schemas) and
//! prints the one-time secrets and what the broker was told.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use telegate_devices::{Change, Credential, CredentialKind, DeviceState, Inventory, NewDevice, Reloaded, Role};
use telegate_schema::Registry;

use crate::cli::{AccountRole, DeviceCommand};

/// Every sensor type a device lists must be one the gateway decodes.
pub fn check_sensor_types(inventory: &Inventory, path: &Path, registry: &Registry) -> anyhow::Result<()> {
    for (i, d) in inventory.devices.iter().enumerate() {
        if let Some(t) = d.sensor_types.iter().find(|t| registry.get(t).is_none()) {
            let known: Vec<&str> = registry.schemas().map(|s| &*s.sensor_type).collect();
            anyhow::bail!(
                "{}: key `device[{i}].sensor_types`: no sensor type `{t}` (device `{}`; known: {})",
                path.display(),
                d.id,
                known.join(", ")
            );
        }
    }
    Ok(())
}

fn describe_reload(r: &Reloaded) -> String {
    match r {
        Reloaded::Signalled { pid } => format!("broker reloaded (SIGHUP to pid {pid})"),
        Reloaded::Command(c) => format!("broker reloaded (`{c}`)"),
        Reloaded::NotRunning { pid_file } => format!(
            "broker not running (no {}): it reads the new files when it starts",
            pid_file.display()
        ),
        Reloaded::NotConfigured => "broker NOT reloaded: set [broker] pid_file or reload_command in the inventory, \
                                    or send the broker SIGHUP yourself"
            .to_owned(),
    }
}

fn report(out: &mut impl std::io::Write, id: &str, change: &Change) -> std::io::Result<()> {
    match &change.credential {
        Some(Credential::Password(p)) => {
            writeln!(
                out,
                "device {id}: broker user name `{id}`, password (shown once, store it in the device now):"
            )?;
            writeln!(out, "{p}")?;
        }
        Some(Credential::Certificate { cert, key, serial }) => writeln!(
            out,
            "device {id}: certificate {} (serial {serial}), private key {} — install both on the device, then delete the key here",
            cert.display(),
            key.display()
        )?,
        None => writeln!(out, "device {id}: revoked")?,
    }
    writeln!(out, "{}", describe_reload(&change.reloaded))
}

/// Run one `telegate device` subcommand.
pub fn run(cmd: DeviceCommand, registry: impl FnOnce(Option<&Path>) -> anyhow::Result<Registry>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match cmd {
        DeviceCommand::Add {
            id,
            site,
            types,
            installed,
            lat,
            lon,
            certificate,
            out: dir,
            inventory,
            config,
        } => {
            let registry = registry(config.config.as_deref())?;
            let probe = Inventory {
                devices: vec![telegate_devices::Device {
                    id: id.clone(),
                    site: site.clone(),
                    sensor_types: types.clone(),
                    installed: String::new(),
                    lat: None,
                    lon: None,
                    credential: CredentialKind::Certificate,
                    state: DeviceState::Active,
                    password_hash: String::new(),
                    certificate_serial: String::new(),
                    revoked_serials: Vec::new(),
                }],
                ..Inventory::default()
            };
            check_sensor_types(&probe, &inventory.inventory, &registry)?;
            let new = NewDevice {
                id: id.clone(),
                site,
                sensor_types: types,
                installed,
                lat,
                lon,
                credential: if certificate {
                    CredentialKind::Certificate
                } else {
                    CredentialKind::Password
                },
            };
            let change = telegate_devices::add_device(&inventory.inventory, new, &dir)?;
            report(&mut out, &id, &change)?;
        }
        DeviceCommand::List(inventory) => {
            let inv = Inventory::load(&inventory.inventory)?;
            for a in &inv.accounts {
                writeln!(out, "account {:<24} {:?}", a.name, a.role)?;
            }
            for d in &inv.devices {
                writeln!(
                    out,
                    "device  {:<24} {:<8} site={} types={} credential={:?} installed={} lat={} lon={}",
                    d.id,
                    format!("{:?}", d.state).to_lowercase(),
                    d.site,
                    d.sensor_types.join(","),
                    d.credential,
                    if d.installed.is_empty() { "-" } else { &d.installed },
                    d.lat.map_or("-".to_owned(), |v| v.to_string()),
                    d.lon.map_or("-".to_owned(), |v| v.to_string()),
                )?;
            }
        }
        DeviceCommand::Revoke { id, inventory } => {
            let change = telegate_devices::revoke(&inventory.inventory, &id)?;
            report(&mut out, &id, &change)?;
        }
        DeviceCommand::Rotate {
            id,
            out: dir,
            inventory,
        } => {
            let change = telegate_devices::rotate(&inventory.inventory, &id, &dir)?;
            report(&mut out, &id, &change)?;
        }
        DeviceCommand::Account { name, role, inventory } => {
            let role = match role {
                AccountRole::Gateway => Role::Gateway,
                AccountRole::Operator => Role::Operator,
                AccountRole::Simulator => Role::Simulator,
            };
            let (password, reloaded) = telegate_devices::set_account(&inventory.inventory, &name, role)?;
            writeln!(out, "account {name}: password (shown once):")?;
            writeln!(out, "{password}")?;
            writeln!(out, "{}", describe_reload(&reloaded))?;
        }
        DeviceCommand::Decommission { device_id, config } => {
            let loaded = crate::Config::load(config.config.as_deref())?;
            writeln!(out, "{}", crate::decommission::run(&loaded.config, &device_id)?)?;
        }
        DeviceCommand::Sync(inventory) => {
            let inv = Inventory::load(&inventory.inventory)
                .with_context(|| format!("loading {}", inventory.inventory.display()))?;
            let reloaded = telegate_devices::sync(&inv, &inventory.inventory)?;
            writeln!(
                out,
                "{} devices, {} accounts: broker files written; {}",
                inv.devices.len(),
                inv.accounts.len(),
                describe_reload(&reloaded)
            )?;
        }
    }
    Ok(())
}
