#!/usr/bin/env bash
# Run telegate on its built-in defaults on this machine: installs what is
# missing (Mosquitto, InfluxDB 1.x) from Debian, starts
# a broker on 127.0.0.1:1883 and InfluxDB on 127.0.0.1:8086 if none is
# running (data under ./data/), then runs the gateway until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/../.."
. deploy/local/preflight.sh
preflight_build

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
need=()
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || need+=(mosquitto)
command -v influxd >/dev/null 2>&1 || need+=(influxdb)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
export PATH="$PATH:/usr/sbin"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
data="$PWD/data"
mkdir -p "$data"
if ! port_open 1883; then
  echo "starting mosquitto on 127.0.0.1:1883 (log: $data/mosquitto.log)"
  mkdir -p "$data/mosquitto"
  cat > "$data/mosquitto.conf" <<CONF
listener 1883 127.0.0.1
# Anonymous on loopback only, for trying telegate on one machine. A broker
# that devices reach: docs/operations.md, "Provisioning devices".
allow_anonymous true
persistence true
persistence_location $data/mosquitto/
max_queued_messages 0
message_size_limit 262144
max_packet_size 1048576
user $(id -un)
CONF
  mosquitto -d -c "$data/mosquitto.conf"
fi
if ! port_open 8086; then
  echo "starting InfluxDB on 127.0.0.1:8086 (data and log under $data/influxdb)"
  mkdir -p "$data/influxdb"
  cat > "$data/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:8089"
[meta]
  dir = "$data/influxdb/meta"
[data]
  dir = "$data/influxdb/data"
  wal-dir = "$data/influxdb/wal"
[http]
  bind-address = "127.0.0.1:8086"
  log-enabled = false
CONF
  nohup influxd -config "$data/influxdb.conf" >"$data/influxdb/influxd.log" 2>&1 &
  for _ in $(seq 100); do port_open 8086 && break; sleep 0.1; done
fi
exec cargo run --release -p telegate -- run "$@"
