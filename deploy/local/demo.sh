#!/usr/bin/env bash
# The whole system in one command, on a machine with only the Rust toolchain
# and Debian's package manager: installs the build's one prerequisite
# (protoc, Debian's protobuf-compiler) if it is missing, then builds and runs
# `telegate demo` — an embedded MQTT broker on a free loopback port, a
# simulated fleet of field devices, and the gateway writing line protocol to
# files under ./data/demo (or to InfluxDB with --influx-url URL).
# Extra arguments go to `telegate demo` (see `--help`). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/../.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v protoc >/dev/null 2>&1; then
  echo "installing protoc (protobuf-compiler), needed to build telegate"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends protobuf-compiler
fi
exec cargo run --release -p telegate -- demo "$@"
