# Encode a batch of river-level samples with telegate_pb (no dependencies)
# and write the payload to a file, for `mosquitto_pub -f FILE` or any MQTT
# client. On a MicroPython board, pass river_level_batch(...) to
# umqtt.simple's publish(topic, payload, qos=1) instead.
#
#   python3 encode_river_level.py DEVICE_ID FIRST_SEQ COUNT OUT_FILE [TIME_NS]
#
# Samples are one minute apart, ending at TIME_NS (default: now).
import sys
import time

import telegate_pb


def main(argv):
    device_id = argv[1]
    first_seq = int(argv[2])
    count = int(argv[3])
    out = argv[4]
    end_ns = int(argv[5]) if len(argv) > 5 else int(time.time()) * 1000000000
    samples = []
    for i in range(count):
        seq = first_seq + i
        samples.append({
            "time_ns": end_ns - (count - 1 - i) * 60 * 1000000000,
            "seq": seq,
            "stage_m": 285.0 + seq / 100.0,
            "water_temp_c": 18.5 if seq % 2 else None,
            "mode": telegate_pb.MODE_NORMAL,
        })
    with open(out, "wb") as f:
        f.write(telegate_pb.river_level_batch(device_id, samples))


if __name__ == "__main__":
    main(sys.argv)
