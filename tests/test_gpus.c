/* facility/gpus.h: the allocation of GPU indices (lowest free first, never
 * one index to two holders, all-or-nothing) checked against a plain list of
 * holders replayed at random, and the device-list parser's checks (a
 * character device, absolute, distinct names, none of bwrap's /dev names). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "check.h"
#include "facility/gpus.h"

enum { N = 8, JOBS = 6 };

static void allocation(void)
{
    uint64_t busy = 0;
    int idx[GF_GPUS_MAX];
    CHECK(gf_gpus_take(&busy, 4, 0, idx) == 0 && busy == 0);
    CHECK(gf_gpus_take(&busy, 4, 2, idx) == 0 && idx[0] == 0 && idx[1] == 1 && busy == 3);
    CHECK(gf_gpus_take(&busy, 4, 3, idx) == -1 && busy == 3);           /* 2 free: nothing taken */
    int one = 0;
    gf_gpus_release(&busy, &one, 1);
    CHECK(gf_gpus_take(&busy, 4, 2, idx) == 0 && idx[0] == 0 && idx[1] == 2 && busy == 7);   /* lowest free */
    CHECK(gf_gpus_take(&busy, 4, 5, idx) == -1 && gf_gpus_take(&busy, 65, 1, idx) == -1);
    busy = 0;
    CHECK(gf_gpus_take(&busy, GF_GPUS_MAX, GF_GPUS_MAX, idx) == 0 && busy == UINT64_MAX && idx[63] == 63);

    /* random takes and releases against a plain owner table */
    int owner[N];                 /* job holding each index, -1 free */
    int held[JOBS][N], nheld[JOBS];
    for (int i = 0; i < N; i++) owner[i] = -1;
    memset(nheld, 0, sizeof nheld);
    busy = 0;
    srand(7);
    for (int step = 0; step < 20000; step++) {
        int j = rand() % JOBS;
        if (nheld[j]) {
            for (int k = 0; k < nheld[j]; k++) owner[held[j][k]] = -1;
            gf_gpus_release(&busy, held[j], nheld[j]);
            nheld[j] = 0;
            continue;
        }
        int want = 1 + rand() % 3, nfree = 0, expect[N], ne = 0;
        for (int i = 0; i < N; i++)
            if (owner[i] < 0) { nfree++; if (ne < want) expect[ne++] = i; }
        int rc = gf_gpus_take(&busy, N, want, held[j]);
        if (nfree < want) { CHECK(rc == -1); continue; }
        CHECK(rc == 0);
        for (int k = 0; k < want; k++) {
            CHECK_MSG(held[j][k] == expect[k], "step %d: got %d, the lowest free is %d", step, held[j][k], expect[k]);
            CHECK_MSG(owner[held[j][k]] < 0, "step %d: index %d given twice", step, held[j][k]);
            owner[held[j][k]] = j;
        }
        nheld[j] = want;
        uint64_t mask = 0;
        for (int i = 0; i < N; i++) if (owner[i] >= 0) mask |= (uint64_t)1 << i;
        CHECK(mask == busy);
    }
}

static void parsing(void)
{
    char dir[] = "/tmp/gf-gpus-XXXXXX", a[600], b[600], reg[600], csv[2000];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(reg, sizeof reg, "%s/plain", dir);
    FILE *f = fopen(reg, "w");
    if (f) fclose(f);
    gf_gpu_list l;
    CHECK(gf_gpus_parse(NULL, &l) == GF_OK && l.n == 0);
    CHECK(gf_gpus_parse("", &l) == GF_OK && l.n == 0);
    snprintf(csv, sizeof csv, "/dev/null,%s", reg);
    CHECK(gf_gpus_parse(csv, &l) == GF_ERR_ARG && strstr(gf_last_error(), "taken"));    /* bwrap's own /dev/null */
    CHECK(gf_gpus_parse(reg, &l) == GF_ERR_ARG && strstr(gf_last_error(), "not a character device"));
    CHECK(gf_gpus_parse("dev/null", &l) == GF_ERR_ARG && strstr(gf_last_error(), "absolute"));
    CHECK(gf_gpus_parse("/dev/none-such-gpu", &l) == GF_ERR_ARG && strstr(gf_last_error(), "does not exist"));
    if (geteuid() == 0) {         /* character devices of our own (mknod needs root) */
        snprintf(a, sizeof a, "%s/g0", dir);
        snprintf(b, sizeof b, "%s/g1", dir);
        CHECK(!mknod(a, S_IFCHR | 0600, makedev(1, 3)) && !mknod(b, S_IFCHR | 0600, makedev(1, 3)));
        snprintf(csv, sizeof csv, "%s,%s", b, a);
        CHECK(gf_gpus_parse(csv, &l) == GF_OK && l.n == 2 && !strcmp(l.path[0], b) && !strcmp(l.path[1], a));
        snprintf(csv, sizeof csv, "%s,,%s", b, a);
        CHECK(gf_gpus_parse(csv, &l) == GF_ERR_ARG && strstr(gf_last_error(), "empty"));
        snprintf(csv, sizeof csv, "%s,%s", a, a);
        CHECK(gf_gpus_parse(csv, &l) == GF_ERR_ARG && strstr(gf_last_error(), "same name"));
        unlink(a);
        unlink(b);
    }
    unlink(reg);
    rmdir(dir);
    gf_gpus_detect(&l);           /* whatever this machine has: /dev/nvidiaN in order */
    for (int i = 0; i < l.n; i++) {
        struct stat st;
        CHECK(!strncmp(l.path[i], "/dev/nvidia", 11) && !stat(l.path[i], &st) && S_ISCHR(st.st_mode));
        if (i) CHECK(atoi(l.path[i - 1] + 11) < atoi(l.path[i] + 11));
    }
}

int main(void)
{
    allocation();
    parsing();
    return check_summary();
}
