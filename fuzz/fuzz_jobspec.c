/* libFuzzer target for jobspec/jobspec: parses the input as a job spec; an
 * accepted spec must serialize to canonical JSON that parses again and
 * serializes to the same bytes; a rejected one must leave the output zeroed
 * with nothing allocated (ASan reports leaks). */
#include "jobspec/jobspec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_jobspec j, k;
    if (gf_jobspec_parse((const char *)data, size, &j) != GF_OK) {
        if (j.sites || j.nsites || j.secure_aggregation_json || j.dp_json || j.name[0]) abort();
        return 0;
    }
    char *s1 = NULL, *s2 = NULL;
    if (gf_jobspec_to_json(&j, &s1) != GF_OK) abort();
    if (gf_jobspec_parse(s1, strlen(s1), &k) != GF_OK) abort();
    if (gf_jobspec_to_json(&k, &s2) != GF_OK) abort();
    if (strcmp(s1, s2)) abort();
    if (j.kind != k.kind || j.nsites != k.nsites || j.seed != k.seed || j.optim.lr != k.optim.lr ||
        j.strategy.server_lr != k.strategy.server_lr || j.fraction != k.fraction)
        abort();
    free(s1);
    free(s2);
    gf_jobspec_free(&j);
    gf_jobspec_free(&k);
    return 0;
}
