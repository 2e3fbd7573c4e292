/* libFuzzer target for train/metrics_file's reader: the file a tenant's
 * program writes ($GF_METRICS) and the coordinator reads. Byte 0 picks the
 * limits (byte and line caps, whole lines only); the rest is the file. The
 * reader must never crash, must stay within the file, must move its cursor
 * forward only, and reading in small steps from each returned cursor must
 * hand over the same objects as one large read. */
#include "train/metrics_file.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct { char *text; size_t len, cap; } transcript;

static int record(json_t *o, int64_t end, void *ctx)
{
    transcript *t = ctx;
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s) abort();
    size_t n = strlen(s);
    char num[32];
    int m = snprintf(num, sizeof num, "@%lld\n", (long long)end);
    if (t->len + n + (size_t)m + 1 > t->cap) {
        t->cap = (t->len + n + (size_t)m + 1) * 2;
        if (!(t->text = realloc(t->text, t->cap))) abort();
    }
    memcpy(t->text + t->len, s, n);
    memcpy(t->text + t->len + n, num, (size_t)m);
    t->len += n + (size_t)m;
    free(s);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const uint8_t sel = data[0];
    const int whole = sel & 1;
    const int64_t step_bytes = 1 + ((sel >> 1) & 7) * 700;   /* raised to a line's length by the reader */
    const int64_t step_lines = 1 + ((sel >> 4) & 7);
    data++, size--;
    int fd = memfd_create("metrics", 0);
    if (fd < 0) return 0;
    if (size && write(fd, data, size) != (ssize_t)size) abort();

    transcript one = { 0 }, steps = { 0 };
    gf_metrics_cursor c = { 0, INT64_MAX / 4, INT64_MAX, whole };
    if (gf_metrics_file_read(fd, &c, record, &one) != GF_OK) abort();
    if (c.offset < 0 || c.offset > (int64_t)size || c.more) abort();

    gf_metrics_cursor s = { 0, step_bytes, step_lines, whole };
    for (int guard = 0;; guard++) {
        const int64_t at = s.offset;
        if (gf_metrics_file_read(fd, &s, record, &steps) != GF_OK) abort();
        if (s.offset < at || s.offset > (int64_t)size) abort();
        if (!s.more) break;
        if (s.offset == at || guard > (int)size + 8) abort();   /* a read that stops early makes progress */
    }
    if (s.offset != c.offset || steps.len != one.len || (one.len && memcmp(one.text, steps.text, one.len))) abort();

    int64_t tail = gf_metrics_file_tail(fd, (int64_t)(sel % 64));
    if (tail < 0 || tail > (int64_t)size) abort();
    free(one.text);
    free(steps.text);
    close(fd);
    return 0;
}
