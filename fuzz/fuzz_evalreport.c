/* libFuzzer target: arbitrary bytes as a site's evaluation report
 * (fed/evalreport.h), which the coordinator decodes from any site;
 * decoding must refuse or accept cleanly, never crash or leak. An accepted
 * report must encode again, and that encoding must decode and re-encode to
 * the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fed/evalreport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_eval_report r, u;
    if (gf_eval_report_decode((const char *)data, size, &r) != GF_OK) return 0;
    char *a = NULL, *b = NULL;
    if (gf_eval_report_encode(&r, &a) != GF_OK) abort();
    if (gf_eval_report_decode(a, strlen(a), &u) != GF_OK) abort();
    if (gf_eval_report_encode(&u, &b) != GF_OK || strcmp(a, b)) abort();
    free(a);
    free(b);
    return 0;
}
