/* A federated job's configuration (fedspec.h): freeing and copying. */
#include "fed/fedspec.h"

#include <stdlib.h>
#include <string.h>

void gf_fedspec_free(gf_fedspec *s)
{
    if (!s) return;
    free(s->sites);
    memset(s, 0, sizeof *s);
}

gf_status gf_fedspec_copy(const gf_fedspec *src, gf_fedspec *dst)
{
    *dst = *src;
    dst->sites = NULL;
    if (src->sites && src->nsites > 0) {
        if (!(dst->sites = malloc(sizeof *dst->sites * (size_t)src->nsites))) {
            memset(dst, 0, sizeof *dst);
            return gf_errorf(GF_ERR_NOMEM, "out of memory");
        }
        memcpy(dst->sites, src->sites, sizeof *dst->sites * (size_t)src->nsites);
    }
    return GF_OK;
}
