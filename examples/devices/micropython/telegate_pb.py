# Dependency-free protobuf encoder for telegate readings, for MicroPython
# (and CPython 3): no google.protobuf, no f-strings, no typing, only `struct`.
#
# Encodes telegate.v1.RiverLevelBatch (proto/telegate/v1/river_level.proto);
# the helpers (varint, key, double, bytes) encode any other sensor type's
# batch the same way: look up its field numbers and types in its .proto.
#
#   batch = river_level_batch("rl-001", [
#       {"time_ns": 1764383400 * 10**9, "seq": 42, "stage_m": 285.4, "mode": MODE_NORMAL},
#   ])
#   mqtt.publish("telemetry/muong-te/rl-001/river_level", batch, qos=1)
try:
    import ustruct as struct  # MicroPython
except ImportError:
    import struct

# Wire types.
VARINT = 0
I64 = 1
LEN = 2

# telegate.v1.RiverLevelSample.Mode
MODE_UNSPECIFIED = 0
MODE_NORMAL = 1
MODE_FLOOD = 2


def varint(n):
    """A non-negative integer as a protobuf varint; a negative int64 as its
    ten-byte two's complement, as protobuf does."""
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire_type):
    return varint((field << 3) | wire_type)


def field_varint(field, n):
    """uint32/uint64/int64/enum/bool; proto3 leaves a 0 out."""
    if n == 0:
        return b""
    return key(field, VARINT) + varint(n)


def field_double(field, x, optional=False):
    """A double; a plain proto3 double of 0.0 is left out, an `optional` one
    is written whenever it is given (not None)."""
    if x is None or (x == 0.0 and not optional):
        return b""
    return key(field, I64) + struct.pack("<d", x)


def field_bytes(field, b):
    """string (pass UTF-8 bytes), bytes, or an embedded message."""
    if isinstance(b, str):
        b = b.encode()
    return key(field, LEN) + varint(len(b)) + b


def timestamp(time_ns):
    """google.protobuf.Timestamp {seconds = 1, nanos = 2}."""
    seconds = time_ns // 1000000000
    nanos = time_ns - seconds * 1000000000
    return field_varint(1, seconds) + field_varint(2, nanos)


def river_level_sample(s):
    """telegate.v1.RiverLevelSample from a dict with time_ns, seq, stage_m,
    and optionally water_temp_c and mode. `time` is required by the schema:
    it is always written, even when empty (all zero = 1970-01-01, which the
    gateway refuses as timestamp_too_old)."""
    out = field_bytes(1, timestamp(s["time_ns"]))
    out += field_varint(2, s.get("seq", 0))
    out += field_double(3, s.get("stage_m", 0.0))
    out += field_double(4, s.get("water_temp_c"), optional=True)
    out += field_varint(5, s.get("mode", MODE_UNSPECIFIED))
    return out


def river_level_batch(device_id, samples):
    """telegate.v1.RiverLevelBatch: the payload of one MQTT message
    (1 to 1000 samples)."""
    out = field_bytes(1, device_id)
    for s in samples:
        out += field_bytes(2, river_level_sample(s))
    return out
