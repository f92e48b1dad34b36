#!/usr/bin/env python3
"""A river-level gauge for telegate: paho-mqtt, MQTT 5, persistent session,
store-and-forward.

- **Persistent session**: a fixed client id, clean start off and a session
  expiry, so the broker keeps the session (and the device's own
  unacknowledged QoS 1 publishes are resent by paho after a reconnect).
- **Store and forward**: every sample goes into a buffer first. While the
  link is down the buffer grows; when it is up, the oldest samples are sent
  in batches of up to --batch (telegate takes 1 to 1000 per message), and a
  sample leaves the buffer only when the broker has acknowledged (PUBACK)
  the batch that carried it. A real gauge keeps the buffer in flash and
  drops what is older than the gateway's limits.max_age (7 days).
- **Clock not yet synced after boot**: a sample taken before the clock is
  synced is kept with its monotonic time only and is not sent; once the
  clock is synced its time is back-dated from the monotonic clock
  (now - (monotonic now - monotonic then)). Never send time 0 or a guess:
  the gateway refuses a batch with such a sample whole (timestamp_too_old
  or timestamp_in_future).
- MQTT 5 user properties tell why a message was refused: this device
  subscribes to its dead letters and prints them.

Payloads are encoded with the dependency-free encoder in
../micropython/telegate_pb.py (google.protobuf works as well).

    python3 river_level_device.py --port 1883 --device rl-001 --samples 30

Prints one JSON line when every sample is acknowledged: samples, batches,
largest_batch, unsynced (samples taken before the clock was synced).
"""
import argparse
import json
import os
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "micropython"))
import telegate_pb  # noqa: E402

# A wall clock before this is not synced (an RTC that booted at 1970 or 2000).
SYNCED_AFTER_S = 1735689600  # 2025-01-01T00:00:00Z


class Clock:
    """The wall clock, which --clock-unsynced-for makes read 1970 for its
    first seconds (as an RTC does after a cold boot, before NTP or the
    network's time)."""

    def __init__(self, unsynced_for):
        self.start = time.monotonic()
        self.unsynced_for = unsynced_for

    def wall_ns(self):
        up = time.monotonic() - self.start
        if up < self.unsynced_for:
            return int(up * 1e9)
        return time.time_ns()

    def synced(self):
        return self.wall_ns() >= SYNCED_AFTER_S * 1_000_000_000


class Device:
    def __init__(self, args):
        self.args = args
        self.topic = "telemetry/%s/%s/river_level" % (args.site, args.device)
        self.clock = Clock(args.clock_unsynced_for)
        self.lock = threading.Lock()
        # Samples not yet acknowledged, oldest first: dicts with seq,
        # stage_m, mode, and time_ns (or mono_ns while the clock is unsynced).
        self.buffer = []
        self.in_flight = {}  # mid -> samples in that batch
        self.sent = set()  # seqs in flight
        self.early = set()  # mids acknowledged before publish() returned
        self.connected = False
        self.batches = 0
        self.largest = 0
        self.unsynced = 0
        if hasattr(mqtt, "CallbackAPIVersion"):  # paho-mqtt 2.x
            self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, client_id=args.device, protocol=mqtt.MQTTv5)
        else:  # paho-mqtt 1.6 (Debian 12)
            self.client = mqtt.Client(client_id=args.device, protocol=mqtt.MQTTv5)
        self.client.on_connect = self.on_connect
        self.client.on_disconnect = self.on_disconnect
        self.client.on_publish = self.on_publish
        self.client.on_message = self.on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=4)
        self.client.max_inflight_messages_set(20)

    def on_connect(self, client, userdata, flags, rc, properties=None):
        if rc != 0:
            return
        with self.lock:
            self.connected = True
        # Why a message was refused: the reason is in the dead letter's user properties.
        client.subscribe("telegate/dead-letter/" + self.topic, qos=1)

    def on_disconnect(self, client, userdata, rc, properties=None):
        with self.lock:
            self.connected = False

    def on_publish(self, client, userdata, mid):
        with self.lock:
            if mid not in self.in_flight:
                # The PUBACK came before publish() returned the mid.
                self.early.add(mid)
                return
            self.acknowledged(self.in_flight.pop(mid))

    def acknowledged(self, batch):
        """The broker has these samples: drop them from the buffer (lock held)."""
        seqs = set(s["seq"] for s in batch)
        self.sent -= seqs
        self.buffer = [s for s in self.buffer if s["seq"] not in seqs]

    def on_message(self, client, userdata, msg):
        props = dict(getattr(msg.properties, "UserProperty", []) or [])
        print("refused: %s: %s" % (props.get("reason"), props.get("detail")), file=sys.stderr)

    def sample(self, seq):
        s = {"seq": seq, "stage_m": 285.0 + seq / 100.0, "mode": telegate_pb.MODE_NORMAL}
        if self.clock.synced():
            s["time_ns"] = self.clock.wall_ns()
        else:
            s["mono_ns"] = time.monotonic_ns()
            self.unsynced += 1
        with self.lock:
            self.buffer.append(s)

    def fix_times(self):
        """Once the clock is synced, back-date samples taken before."""
        if not self.clock.synced():
            return
        now_wall, now_mono = self.clock.wall_ns(), time.monotonic_ns()
        with self.lock:
            for s in self.buffer:
                if "mono_ns" in s:
                    s["time_ns"] = now_wall - (now_mono - s.pop("mono_ns"))

    def forward(self):
        """Send the oldest unsent, dated samples in batches while connected."""
        with self.lock:
            if not self.connected:
                return
            ready = [s for s in self.buffer if s["seq"] not in self.sent and "time_ns" in s]
        while ready:
            batch, ready = ready[: self.args.batch], ready[self.args.batch :]
            payload = telegate_pb.river_level_batch(self.args.device, batch)
            # Not under self.lock: paho calls on_publish holding its own lock.
            info = self.client.publish(self.topic, payload, qos=1)
            with self.lock:
                # NO_CONN: the link dropped just now; paho keeps the QoS 1
                # message and sends it after the reconnect (persistent session).
                if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                    return  # not queued: the samples stay buffered and are sent later
                self.sent |= set(s["seq"] for s in batch)
                self.batches += 1
                self.largest = max(self.largest, len(batch))
                if info.mid in self.early:
                    self.early.discard(info.mid)
                    self.acknowledged(batch)
                else:
                    self.in_flight[info.mid] = batch

    def run(self):
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 7 * 24 * 3600
        self.client.connect_async(
            self.args.host, self.args.port, keepalive=30, clean_start=False, properties=props
        )
        self.client.loop_start()
        deadline = time.monotonic() + self.args.timeout
        next_sample = time.monotonic()
        seq = self.args.first_seq
        taken = 0
        while time.monotonic() < deadline:
            if taken < self.args.samples and time.monotonic() >= next_sample:
                self.sample(seq)
                seq += 1
                taken += 1
                next_sample += self.args.interval
            self.fix_times()
            self.forward()
            with self.lock:
                if taken == self.args.samples and not self.buffer:
                    break
            time.sleep(0.02)
        self.client.disconnect()
        self.client.loop_stop()
        with self.lock:
            left = len(self.buffer)
        print(json.dumps({
            "samples": taken, "batches": self.batches, "largest_batch": self.largest,
            "unsynced": self.unsynced, "unacknowledged": left,
        }))
        return 0 if left == 0 else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--site", default="muong-te")
    p.add_argument("--device", default="rl-001")
    p.add_argument("--samples", type=int, default=30, help="samples to take, then exit once all are acknowledged")
    p.add_argument("--first-seq", type=int, default=1)
    p.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    p.add_argument("--batch", type=int, default=100, help="most samples per message (1..1000)")
    p.add_argument("--timeout", type=float, default=120.0, help="give up (exit 1) after this many seconds")
    p.add_argument("--clock-unsynced-for", type=float, default=0.0,
                   help="seconds after start during which the wall clock reads 1970 (a cold-booted RTC)")
    return Device(p.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
