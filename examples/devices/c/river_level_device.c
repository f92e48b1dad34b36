/* A river-level gauge's payload, encoded with nanopb.
 *
 *   river_level_device DEVICE_ID FIRST_SEQ COUNT OUT_FILE [END_UNIX_SECONDS]
 *
 * Writes one telegate.v1.RiverLevelBatch of COUNT samples (one minute
 * apart, the last at END_UNIX_SECONDS, default now) to OUT_FILE, ready to
 * publish with QoS 1 to telemetry/{site}/{DEVICE_ID}/river_level (e.g.
 * mosquitto_pub -q 1 -f OUT_FILE, or your modem's MQTT client). On a
 * device, encode into a static buffer the same way and hand it to the MQTT
 * stack; keep the samples buffered until the broker's PUBACK.
 *
 * Build: nanopb_generator river_level_device.proto, then
 *   cc river_level_device.c river_level_device.pb.c -lprotobuf-nanopb
 * (or add nanopb's pb_encode.c pb_common.c to your firmware).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pb_encode.h>

#include "river_level_device.pb.h"

/* Largest payload this example builds (64 samples of at most 37 bytes). */
#define PAYLOAD_MAX 4096

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s DEVICE_ID FIRST_SEQ COUNT OUT_FILE [END_UNIX_SECONDS]\n", argv[0]);
        return 2;
    }
    const char *device_id = argv[1];
    unsigned long long first_seq = strtoull(argv[2], NULL, 10);
    long count = strtol(argv[3], NULL, 10);
    long long end = argc > 5 ? strtoll(argv[5], NULL, 10) : (long long)time(NULL);
    telegate_v1_RiverLevelBatch batch = telegate_v1_RiverLevelBatch_init_zero;
    if (count < 1 || (size_t)count > sizeof(batch.samples) / sizeof(batch.samples[0])) {
        fprintf(stderr, "COUNT must be 1..%zu\n", sizeof(batch.samples) / sizeof(batch.samples[0]));
        return 2;
    }
    if (strlen(device_id) >= sizeof(batch.device_id)) {
        fprintf(stderr, "DEVICE_ID is longer than 64 characters\n");
        return 2;
    }
    strcpy(batch.device_id, device_id);
    batch.samples_count = (pb_size_t)count;
    for (long i = 0; i < count; i++) {
        telegate_v1_RiverLevelSample *s = &batch.samples[i];
        unsigned long long seq = first_seq + (unsigned long long)i;
        /* The clock must be synced: time 0 or a guess rejects the whole batch. */
        s->has_time = true;
        s->time.seconds = end - (count - 1 - i) * 60;
        s->time.nanos = 0;
        s->seq = seq;
        s->stage_m = 285.0 + (double)seq / 100.0;
        s->has_water_temp_c = (seq % 2) != 0;
        s->water_temp_c = 18.5;
        s->mode = telegate_v1_RiverLevelSample_Mode_MODE_NORMAL;
    }
    static pb_byte_t payload[PAYLOAD_MAX];
    pb_ostream_t out = pb_ostream_from_buffer(payload, sizeof(payload));
    if (!pb_encode(&out, telegate_v1_RiverLevelBatch_fields, &batch)) {
        fprintf(stderr, "encoding failed: %s\n", PB_GET_ERROR(&out));
        return 1;
    }
    FILE *f = fopen(argv[4], "wb");
    if (f == NULL || fwrite(payload, 1, out.bytes_written, f) != out.bytes_written || fclose(f) != 0) {
        perror(argv[4]);
        return 1;
    }
    printf("%zu bytes, %ld samples\n", out.bytes_written, count);
    return 0;
}
