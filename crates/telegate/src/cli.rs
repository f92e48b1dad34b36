use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// telegate: IoT telemetry gateway. Takes protobuf sensor readings from an
/// MQTT 5 broker, validates them against run-time .proto schemas, and writes
/// them to InfluxDB; rejected readings go to a dead-letter topic with a reason.
#[derive(Debug, Parser)]
#[command(
    name = "telegate",
    version,
    propagate_version = true,
    after_help = "Examples:\n  telegate check --config config/telegate.example.toml\n  telegate run --config /etc/telegate/telegate.toml\n  RUST_LOG=debug telegate run        # built-in defaults: broker and InfluxDB on 127.0.0.1\n\nLog level: RUST_LOG (default info). Docs: docs/device-protocol.md"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway until SIGTERM or Ctrl-C, then drain, flush and acknowledge.
    Run {
        /// Config file (TOML). Without it: the built-in defaults
        /// (config/telegate.example.toml), with the built-in schemas.
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Validate the config and the schemas, and list every sensor type with
    /// its topic, measurement, tags and fields. Exits non-zero on any error.
    Check {
        /// Config file (TOML). Without it: the built-in defaults.
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}
