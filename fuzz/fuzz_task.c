/* libFuzzer target: arbitrary bytes as the answer to a site's task poll
 * (fed/task.h), read as the site reads it: split into the task and the
 * model attached after it, then the task decoded. The split must stay
 * inside the bytes; decoding must refuse or accept cleanly, never crash or
 * leak. An accepted task must encode again, and that encoding must decode
 * and re-encode to the same bytes (the codec is a fixed point after one
 * pass: a value the decoder lets through the encoder can write); written
 * with a model attached, it must split back to the same JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fed/task.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_fed_task t, u;
    size_t task_len, model_len, n;
    const uint8_t *model;
    gf_fed_task_split((const char *)data, size, &task_len, &model, &model_len);
    if (task_len > size || (model && (model <= data || model + model_len != data + size || model_len > size)))
        abort();
    if (gf_fed_task_decode((const char *)data, task_len, &t) != GF_OK) return 0;
    char *a = NULL, *b = NULL, *h = NULL;
    if (gf_fed_task_encode(&t, &a) != GF_OK) abort();
    if (gf_fed_task_decode(a, strlen(a), &u) != GF_OK) abort();
    if (gf_fed_task_encode(&u, &b) != GF_OK || strcmp(a, b)) abort();
    if (gf_fed_task_encode_answer(&u, 1, &h, &n) != GF_OK || n % 8) abort();
    gf_fed_task_split(h, n, &task_len, &model, &model_len);
    if (task_len != strlen(a) || memcmp(h, a, task_len) || model != (const uint8_t *)h + n || model_len) abort();
    gf_fed_task_free(&t);
    gf_fed_task_free(&u);
    free(a);
    free(b);
    free(h);
    return 0;
}
