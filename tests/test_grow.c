/* Dynamic-array growth (core/grow.h): 10,000 appends keep every value and
 * double the capacity from 16 only when full; a capacity past INT_MAX / 2
 * or a byte size past SIZE_MAX is refused with the array left as it was. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include "check.h"
#include "core/grow.h"

int main(void)
{
    int64_t *v = NULL;
    int n = 0, cap = 0, grew = 0, bad = 0;
    for (int i = 0; i < 10000; i++) {
        int before = cap;
        int64_t *p = gf_grow(v, n, &cap, sizeof *p);
        CHECK(p != NULL);
        if (!p) break;
        if (cap != before) {
            grew++;
            bad += before ? cap != 2 * before || n != before : cap != 16 || n != 0;
        } else {
            bad += p != v || n >= cap;
        }
        v = p;
        v[n++] = (int64_t)i * 7919;
    }
    CHECK_MSG(bad == 0 && grew == 11, "%d growths, %d wrong", grew, bad);    /* 16, 32, ..., 16384 */
    for (int i = 0; i < n; i++) bad += v[i] != (int64_t)i * 7919;
    CHECK_MSG(n == 10000 && cap == 16384 && bad == 0, "n %d cap %d, %d values lost", n, cap, bad);

    /* refusals: nothing changes */
    int big = INT_MAX / 2 + 1;
    CHECK(gf_grow(v, big, &big, sizeof *v) == NULL && big == INT_MAX / 2 + 1);
    int c = 16;
    CHECK(gf_grow(v, 16, &c, SIZE_MAX / 16) == NULL && c == 16);
    for (int i = 0; i < n; i++) bad += v[i] != (int64_t)i * 7919;
    CHECK(bad == 0);
    free(v);
    return check_summary();
}
