#!/usr/bin/env bash
# What a Mosquitto `kill -9` loses with a persistence setting
# (docs/reliability.md, "Broker kill -9"). Starts its own broker on a random high
# port; needs /usr/sbin/mosquitto and the mosquitto_pub/mosquitto_sub clients.
#   deploy/mosquitto/measure-kill9.sh 20000 "autosave_interval 30"
#   deploy/mosquitto/measure-kill9.sh 20000 "autosave_on_changes true" "autosave_interval 1000"
# SETTLE (seconds, default 1): the wait between the last publish and the kill.
set -u
n=$1; shift
d=$(mktemp -d); port=$((20000 + RANDOM % 20000))
{
  echo "user root"; echo "listener $port 127.0.0.1"; echo "allow_anonymous true"
  echo "persistence true"; echo "persistence_location $d/"; echo "max_queued_messages 0"; echo "max_queued_bytes 2147483648"
  for l in "$@"; do echo "$l"; done
} > $d/m.conf
/usr/sbin/mosquitto -c $d/m.conf > $d/log 2>&1 & pid=$!
sleep 0.5
# The gateway's persistent session, then away.
mosquitto_sub -p $port -V 5 -q 1 -c -i gw -x 3600 -t 'telemetry/#' -E
seq 1 $n | sed 's/^/reading-/' > $d/lines
start=$(date +%s.%N)
mosquitto_pub -p $port -V 5 -q 1 -t telemetry/s/d/river_level -l < $d/lines
end=$(date +%s.%N)
sleep ${SETTLE:-1}
kill -9 $pid; wait $pid 2>/dev/null
/usr/sbin/mosquitto -c $d/m.conf >> $d/log 2>&1 & pid=$!
sleep 0.5
got=$(timeout 5 mosquitto_sub -p $port -V 5 -q 1 -c -i gw -x 3600 -t 'telemetry/#' -W 3 2>/dev/null | wc -l)
kill $pid; wait $pid 2>/dev/null
echo "n=$n conf=[$*] publish_s=$(echo "$end - $start" | bc) rate=$(echo "$n / ($end - $start)" | bc) survived_kill9=$got"
rm -rf $d
