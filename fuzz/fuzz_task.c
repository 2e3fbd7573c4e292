/* libFuzzer target: arbitrary bytes as the task message a site receives
 * (fed/task.h); decoding must refuse or accept cleanly, never crash or
 * leak. An accepted task must encode again, and that encoding must decode
 * and re-encode to the same bytes (the codec is a fixed point after one
 * pass: a value the decoder lets through the encoder can write). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fed/task.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_fed_task t, u;
    if (gf_fed_task_decode((const char *)data, size, &t) != GF_OK) return 0;
    char *a = NULL, *b = NULL;
    if (gf_fed_task_encode(&t, &a) != GF_OK) abort();
    if (gf_fed_task_decode(a, strlen(a), &u) != GF_OK) abort();
    if (gf_fed_task_encode(&u, &b) != GF_OK || strcmp(a, b)) abort();
    gf_fed_task_free(&t);
    gf_fed_task_free(&u);
    free(a);
    free(b);
    return 0;
}
