/* A federated job's configuration (fedspec.h): freeing and copying. */
#include "fed/fedspec.h"

#include <stdlib.h>
#include <string.h>

void gf_fedspec_free(gf_fedspec *s)
{
    if (!s) return;
    free(s->sites);
    free(s->stats.range);
    free(s->preprocess);
    memset(s, 0, sizeof *s);
}

gf_status gf_fedstats_config_copy(const gf_fedstats_config *src, gf_fedstats_config *dst)
{
    *dst = *src;
    dst->range = NULL;
    if (src->range && src->nranges > 0) {
        if (!(dst->range = malloc(sizeof *dst->range * 2 * (size_t)src->nranges))) {
            memset(dst, 0, sizeof *dst);
            return gf_errorf(GF_ERR_NOMEM, "out of memory");
        }
        memcpy(dst->range, src->range, sizeof *dst->range * 2 * (size_t)src->nranges);
    }
    return GF_OK;
}

gf_status gf_fedspec_copy(const gf_fedspec *src, gf_fedspec *dst)
{
    *dst = *src;
    dst->sites = NULL;
    dst->stats.range = NULL;
    dst->preprocess = NULL;
    if (gf_fedstats_config_copy(&src->stats, &dst->stats) ||
        (src->preprocess && !(dst->preprocess = strdup(src->preprocess)))) {
        free(dst->stats.range);
        memset(dst, 0, sizeof *dst);
        return gf_errorf(GF_ERR_NOMEM, "out of memory");
    }
    if (src->sites && src->nsites > 0) {
        if (!(dst->sites = malloc(sizeof *dst->sites * (size_t)src->nsites))) {
            free(dst->stats.range);
            free(dst->preprocess);
            memset(dst, 0, sizeof *dst);
            return gf_errorf(GF_ERR_NOMEM, "out of memory");
        }
        memcpy(dst->sites, src->sites, sizeof *dst->sites * (size_t)src->nsites);
    }
    return GF_OK;
}
