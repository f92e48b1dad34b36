use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::inspect::InputFormat;

/// telegate: IoT telemetry gateway. Takes protobuf sensor readings from an
/// MQTT 5 broker, validates them against run-time .proto schemas, and writes
/// them to InfluxDB; rejected readings go to a dead-letter topic with a reason.
#[derive(Debug, Parser)]
#[command(
    name = "telegate",
    version,
    propagate_version = true,
    after_help = "Examples:\n  telegate demo                                   # everything in one process: broker, simulated fleet, gateway\n  telegate check --config config/telegate.example.toml\n  telegate run --config /etc/telegate/telegate.toml\n  telegate schema describe river_level\n  telegate decode --type river_level reading.bin\n  telegate sim --devices 50 --rate 100 --duration 1m\n\nLog level: RUST_LOG (default info). Docs: docs/device-protocol.md, docs/adding-a-sensor-type.md"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// `--config` as every subcommand takes it.
#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
    /// Config file (TOML). Without it: the built-in defaults
    /// (config/telegate.example.toml), with the built-in schemas.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Print the effective config (defaults, environment overrides and
    /// secret files applied) as TOML, with every password and token shown
    /// as <redacted>.
    #[arg(long)]
    pub print_config: bool,
    /// Also validate this device inventory: its format, and that every
    /// device's sensor types exist in the schemas.
    #[arg(long, value_name = "FILE")]
    pub devices: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway until SIGTERM or Ctrl-C, then drain, flush and
    /// acknowledge. Schema and config changes are picked up while it runs
    /// (checked every schema.reload_interval, and on SIGHUP).
    Run(ConfigArg),
    /// Validate the config and the schemas, and list every sensor type with
    /// its topic, measurement, tags and fields. Exits non-zero on any error.
    #[command(
        after_help = "Examples:\n  telegate check --config /etc/telegate/telegate.toml\n  telegate check --config site.toml --print-config   # effective config, secrets redacted"
    )]
    Check(CheckArgs),
    /// List sensor types, describe one (fields, units, tags, validation rules
    /// and the line protocol it produces), or export the `.proto` files in
    /// service for firmware builds.
    #[command(
        subcommand,
        after_help = "Examples:\n  telegate schema list\n  telegate schema describe weighbridge --config site.toml\n  telegate schema export site/proto   # the .proto files in service, for protoc or nanopb"
    )]
    Schema(SchemaCommand),
    /// Decode one payload as the gateway would: the message as JSON, the
    /// line protocol it becomes, and the verdict with the reason. Exits 0 when
    /// accepted, 1 when rejected.
    #[command(
        after_help = "Examples:\n  telegate decode --type river_level reading.bin\n  echo 0a0767617567652d31... | telegate decode --type river_level -\n  mosquitto_sub -t 'telegate/dead-letter/#' -C 1 | telegate decode --type rain_gauge --format raw -"
    )]
    Decode(DecodeArgs),
    /// Publish a simulated fleet's readings (every sensor type, realistic
    /// values, optional bad input) to a broker, with a live progress line.
    #[command(
        after_help = "Examples:\n  telegate sim --devices 48 --rate 100 --duration 5m\n  telegate sim --bad-ratio 0.05 --seed 7 --messages 10000\n  telegate sim --dry-run 5 --seed 1 --start 2026-01-01T00:00:00Z   # print topics and payloads, publish nothing"
    )]
    Sim(SimArgs),
    /// The whole system in one process: an embedded MQTT broker, a simulated
    /// fleet and the gateway, writing to line-protocol files (or to InfluxDB
    /// with --influx-url), with a live summary. Ctrl-C stops it cleanly.
    #[command(
        after_help = "Examples:\n  telegate demo\n  telegate demo --devices 100 --rate 200 --bad-ratio 0.05\n  telegate demo --influx-url http://127.0.0.1:8086   # InfluxDB 1.x, database telegate_demo"
    )]
    Demo(DemoArgs),
    /// Provision devices: the device inventory, per-device passwords or
    /// client certificates, and the broker's password and ACL files that let
    /// each device publish only as itself (docs/operations.md, "Provisioning
    /// devices").
    #[command(
        subcommand,
        after_help = "Examples:\n  telegate device account telegate --role gateway           # the gateway's own broker account\n  telegate device add rl-mt-1 --site muong-te --types river_level,device_health --installed 2026-11-02 --lat 22.39 --lon 102.78\n  telegate device add gate-1 --site ma-lu-thang --types lane_counter --certificate --out pki/devices\n  telegate device list\n  telegate device rotate rl-mt-1                            # new password; the old one stops working\n  telegate device revoke rl-mt-1\n  telegate device sync                                      # after editing devices.toml by hand\n  telegate device decommission rl-007 --config /etc/telegate/telegate.toml   # the gateway forgets it, its deadman clears"
    )]
    Device(DeviceCommand),
    /// Alert rules offline: replay a scripted month through the engine and
    /// score the rules against its ground truth.
    #[command(
        subcommand,
        after_help = "Examples:\n  telegate alerts replay --rules config/alerts.example.toml\n  telegate alerts replay --rules alerts.toml --days 10 --seed 7 --json"
    )]
    Alerts(AlertsCommand),
    /// Operator accounts of the console (viewer, operator, admin), kept as
    /// Argon2id hashes in `[admin.console] users_file`; every change is
    /// written to the audit log. The password is read from the terminal
    /// (asked twice, not echoed) or, with --password-stdin, from the first
    /// line of standard input; never from the command line.
    #[command(
        subcommand,
        after_help = "Examples:\n  telegate user add lan --role operator --config /etc/telegate/telegate.toml\n  printf '%s\\n' \"$PW\" | telegate user add minh --role admin --password-stdin --config /etc/telegate/telegate.toml\n  telegate user passwd lan --config /etc/telegate/telegate.toml\n  telegate user passwd lan --role viewer --keep-password --config /etc/telegate/telegate.toml\n  telegate user remove lan --config /etc/telegate/telegate.toml\n  telegate user list --config /etc/telegate/telegate.toml"
    )]
    User(UserCommand),
}

/// Where the users file is: the config's `admin.console.users_file`, or
/// `--users`.
#[derive(Debug, Clone, Args)]
pub struct UsersArg {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The users file itself (instead of the config's
    /// admin.console.users_file; the audit log is then the config's, or
    /// `audit.log` beside the users file).
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user.
    Add {
        name: String,
        #[arg(long, value_enum)]
        role: UserRole,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        users: UsersArg,
    },
    /// Set a user's password (and, with --role, its role).
    Passwd {
        name: String,
        #[arg(long, value_enum)]
        role: Option<UserRole>,
        /// Change only the role.
        #[arg(long, requires = "role")]
        keep_password: bool,
        #[arg(long, conflicts_with = "keep_password")]
        password_stdin: bool,
        #[command(flatten)]
        users: UsersArg,
    },
    /// Remove a user; its sessions end at their next request.
    Remove {
        name: String,
        #[command(flatten)]
        users: UsersArg,
    },
    /// Every user and role.
    List(UsersArg),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UserRole {
    /// Sees everything, changes nothing.
    Viewer,
    /// Also acknowledges alerts and silences them.
    Operator,
    /// Also decommissions devices.
    Admin,
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Run the rules over a simulated rainy-season period for every example
    /// site (river floods through BĐ I-III, rain bursts over the Decision
    /// 18/2021 thresholds, slope movement, overloaded trucks, tamper, silent
    /// devices, coverage gaps with late batches) in fast-forward event time,
    /// and print per rule: events missed, spurious alerts, flaps and
    /// detection delay (docs/alerts.md, "Replay"). Exits 1 when a target is
    /// missed (an event missed, a flap, more than one spurious alert per site
    /// per 30 days, or a detection later than one reporting interval).
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The rules file to judge.
    #[arg(long, value_name = "FILE")]
    pub rules: PathBuf,
    /// Days to simulate (at least 6).
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Seed of the scenario's times, amplitudes and noise.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the report as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Schemas to decode with (default: the built-in ones).
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `--inventory` as every `device` subcommand takes it.
#[derive(Debug, Clone, Args)]
pub struct InventoryArg {
    /// The device inventory (TOML). Created by the first `add` or `account`.
    #[arg(short, long, value_name = "FILE", default_value = "devices.toml")]
    pub inventory: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Provision a device: a generated password (shown once, stored hashed)
    /// or a client certificate, then regenerate the broker's files and
    /// reload the broker.
    Add {
        /// Device id: its topic level, broker user name and certificate name.
        id: String,
        /// Site (the topic's {site}).
        #[arg(long)]
        site: String,
        /// Sensor types it publishes, comma-separated (`telegate schema list`).
        #[arg(long, value_delimiter = ',', required = true)]
        types: Vec<String>,
        /// Installation date, YYYY-MM-DD.
        #[arg(long, default_value = "")]
        installed: String,
        /// Latitude, decimal degrees.
        #[arg(long, allow_hyphen_values = true)]
        lat: Option<f64>,
        /// Longitude, decimal degrees.
        #[arg(long, allow_hyphen_values = true)]
        lon: Option<f64>,
        /// A client certificate signed by the provisioning CA instead of a password.
        #[arg(long)]
        certificate: bool,
        /// Where a certificate and its key are written.
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
        #[command(flatten)]
        inventory: InventoryArg,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Every device and account, with its state.
    List(InventoryArg),
    /// Revoke a device: it can no longer connect or publish once the broker
    /// reloaded (a certificate goes on the CRL). It stays in the inventory.
    Revoke {
        id: String,
        #[command(flatten)]
        inventory: InventoryArg,
    },
    /// New credentials for a device; the old ones stop working at the reload.
    Rotate {
        id: String,
        /// Where a new certificate and its key are written.
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
        #[command(flatten)]
        inventory: InventoryArg,
    },
    /// Add a broker account that is not a device (or give it a new
    /// password): the gateway's (reads telemetry, writes dead letters and
    /// alerts) or an operator tool's (reads alerts).
    Account {
        name: String,
        #[arg(long, value_enum)]
        role: AccountRole,
        #[command(flatten)]
        inventory: InventoryArg,
    },
    /// Regenerate the broker's files from the inventory and reload the
    /// broker (after editing the inventory by hand).
    Sync(InventoryArg),
    /// Take a device out of service in a running gateway: it forgets the
    /// device (device list, saved state) and clears its deadman (a firing one
    /// is resolved). Asks the gateway's admin listener with the admin token.
    /// (`revoke` is the broker side: the device can no longer connect.)
    Decommission {
        /// The device id, as in its topic.
        device_id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AccountRole {
    /// Reads all telemetry, writes dead letters and alerts.
    Gateway,
    /// Reads alerts.
    Operator,
    /// Publishes telemetry for any device (`telegate sim`): test benches only.
    Simulator,
}

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// One line per sensor type: name, message, description.
    List(ConfigArg),
    /// Everything about one sensor type.
    Describe {
        /// The sensor type (the topic's {sensor_type}).
        #[arg(value_name = "TYPE")]
        sensor_type: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Write the `.proto` files in service (the schema directory's and the
    /// built-in ones), `telegate/v1/options.proto` and
    /// `buf/validate/validate.proto` under DIR, so firmware can be built with
    /// protoc or nanopb from a binary install.
    Export {
        /// Where to write them (created if needed; files of the same name are overwritten).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The sensor type the payload claims to be.
    #[arg(short = 't', long = "type", value_name = "TYPE")]
    pub sensor_type: String,
    /// The payload: a file, or `-` for standard input.
    #[arg(value_name = "FILE|-", default_value = "-")]
    pub input: PathBuf,
    /// How the input is written.
    #[arg(short, long, value_enum, default_value_t = InputFormat::Auto)]
    pub format: InputFormat,
    /// Device id of the topic it would arrive on (default: the payload's own).
    #[arg(long, value_name = "ID")]
    pub device: Option<String>,
    /// Site of the topic it would arrive on.
    #[arg(long, value_name = "SITE", default_value = "site")]
    pub site: String,
    /// Judge timestamps as if now were this time (RFC 3339), e.g. for a payload captured earlier.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// What every simulated fleet takes.
#[derive(Debug, Clone, Args)]
pub struct FleetArgs {
    /// Simulated devices, spread over every sensor type and three sites.
    #[arg(long, default_value_t = 24)]
    pub devices: usize,
    /// Messages per second across the fleet.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Fraction (0-1) of deliberately bad messages, cycling through every
    /// kind: malformed, unknown type, out of range, NaN, future and ancient
    /// timestamps, oversized, spoofed device id. Default: 0 for sim, 0.02
    /// for demo.
    #[arg(long)]
    pub bad_ratio: Option<f64>,
    /// Only these sensor types (comma-separated; default every type).
    #[arg(long, value_delimiter = ',', value_name = "TYPE,...")]
    pub types: Vec<String>,
    /// Random seed: the same seed (with the same --start) gives the same payloads.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How much faster than real time the values evolve (rain bursts, day
    /// and night); 60 shows a day in 24 minutes.
    #[arg(long, default_value_t = 60.0)]
    pub speed: f64,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// Broker host (default: the config's mqtt.host).
    #[arg(long)]
    pub host: Option<String>,
    /// Broker port (default: the config's mqtt.port).
    #[arg(long)]
    pub port: Option<u16>,
    /// Stop after this long, e.g. 30s, 5m (default: until Ctrl-C).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Stop after this many messages.
    #[arg(long)]
    pub messages: Option<u64>,
    /// Time of the first message (RFC 3339); default now.
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
    /// Print the first N messages (topic, kind, payload as hex) and exit without publishing.
    #[arg(long, value_name = "N")]
    pub dry_run: Option<usize>,
    #[command(flatten)]
    pub config: ConfigArg,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// Port of the embedded broker on 127.0.0.1; 0 picks a free one (so it
    /// never clashes with a broker already on 1883).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Where the demo keeps its WAL and line-protocol files.
    #[arg(long, value_name = "DIR", default_value = "data/demo")]
    pub data_dir: PathBuf,
    /// Write to this InfluxDB 1.x (database telegate_demo) instead of files.
    #[arg(long, value_name = "URL")]
    pub influx_url: Option<String>,
    /// Stop after this long (default: until Ctrl-C).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// How long the scripted episode takes (a river through BĐ I → II → III
    /// and back, a gauge going silent, an overloaded truck); "0s": no
    /// episode, and the example rules' deadman cadences unchanged.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "150s")]
    pub episode: std::time::Duration,
}
