#!/usr/bin/env bash
# Create the secret files compose.yaml expects under ./secrets/, each a random
# 64-character hex string with no trailing newline, and the broker accounts
# (gateway, simulator, healthcheck) in the device inventory access/devices.toml
# with `telegate device account`, which also writes access/passwd and
# access/acl. Existing non-empty files and accounts are kept, so it is safe to
# run again. The files are git-ignored.
#
# `telegate` comes from $TELEGATE, the PATH, cargo (this checkout), or the
# telegate:local image, in that order.
set -euo pipefail
cd "$(dirname "$0")"
umask 077
mkdir -p secrets
chmod 700 secrets
for name in influx_admin_password influx_token grafana_admin_password telegate_admin_token; do
  file="secrets/$name"
  if [ -s "$file" ]; then
    echo "keeping $file"
    continue
  fi
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$file"
  # Compose (without Swarm) bind-mounts secret files with their host
  # permissions, and each container reads them as its own user (telegate
  # 10001, Grafana 472, Prometheus 65534, InfluxDB): the file must be
  # world-readable; the 0700 directory keeps other host users out.
  chmod 644 "$file"
  echo "created $file"
done

# Broker accounts. Passwords are shown once by `telegate device account`;
# they go straight into the secret files the containers read.
if [ -n "${TELEGATE:-}" ]; then
  telegate() { "$TELEGATE" "$@"; }
elif command -v telegate >/dev/null 2>&1; then
  :
elif command -v cargo >/dev/null 2>&1; then
  telegate() { (cd ../.. && cargo run --release -q -p telegate -- "$@"); }
else
  telegate() {
    docker compose build -q telegate >/dev/null
    docker compose run --rm --no-deps -v "$PWD/access:$PWD/access" -w "$PWD" telegate "$@"
  }
fi
inventory="$PWD/access/devices.toml"
for account in telegate:gateway simulator:simulator healthcheck:operator; do
  name=${account%%:*}
  role=${account##*:}
  secret="secrets/mqtt_${name/telegate/gateway}_password"
  if [ -s "$secret" ] && grep -q "^$name:" access/passwd 2>/dev/null; then
    echo "keeping broker account $name"
    continue
  fi
  telegate device account "$name" --role "$role" --inventory "$inventory" |
    awk 'found { print; exit } /shown once/ { found = 1 }' | tr -d '\n' >"$secret"
  [ -s "$secret" ] || { echo "init-secrets: could not create the broker account $name" >&2; exit 1; }
  chmod 644 "$secret"
  echo "created broker account $name ($secret)"
done
