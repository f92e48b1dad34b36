#!/usr/bin/env bash
# Create the secret files compose.yaml expects under ./secrets/, each a random
# 64-character hex string with no trailing newline. Existing non-empty files
# are kept, so it is safe to run again. The files are git-ignored.
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
