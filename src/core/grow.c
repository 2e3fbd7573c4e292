/* Growth of dynamic arrays (grow.h). */
#include "core/grow.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

void *gf_grow(void *items, int n, int *cap, size_t size)
{
    if (n < *cap && items) return items;
    if (*cap > INT_MAX / 2) return NULL;
    int want = *cap ? 2 * *cap : 16;
    if (size && (size_t)want > SIZE_MAX / size) return NULL;
    void *p = realloc(items, size * (size_t)want);
    if (p) *cap = want;
    return p;
}
