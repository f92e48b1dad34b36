#!/usr/bin/env bash
# The whole system in one command, on a machine with only the Rust toolchain
# (and a C compiler, which rustup's usual setups have): builds and runs
# `telegate demo` — an embedded MQTT broker on a free loopback port, a
# simulated fleet of field devices, and the gateway writing line protocol to
# files under ./data/demo (or to InfluxDB with --influx-url URL). The build
# needs nothing else: no protoc, no system packages.
# Extra arguments go to `telegate demo` (see `--help`). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/../.."
. deploy/local/preflight.sh
preflight_build
exec cargo run --release --locked -p telegate -- demo "$@"
