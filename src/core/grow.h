/* Growth of the dynamic arrays kept as (items, n, cap): one place for the
 * doubling, its first size and its overflow checks. */
#ifndef GF_CORE_GROW_H
#define GF_CORE_GROW_H

#include <stddef.h>

/* items (cap slots of `size` bytes, n of them used) with room for one more:
 * items itself while n < *cap, else a larger block (*cap doubled, from 16).
 * NULL when out of memory or past INT_MAX slots: items and *cap are then
 * unchanged and still valid. */
void *gf_grow(void *items, int n, int *cap, size_t size);

#endif
