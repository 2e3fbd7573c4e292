/* gf_folder_size (facility/folder_size.h) against GNU du -sB1 on a tree of
 * files, nested folders, a sparse file and a link to a big file outside it
 * (a link counts its own size, never its target's); the early stop; errors. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "facility/folder_size.h"

static void write_file(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot create %s", path);
    if (!f) return;
    for (size_t i = 0; i < n; i++) fputc((int)(i * 131 % 251) + 1, f);
    fclose(f);
}

static long long du_bytes(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "du -sB1 '%s'", dir);
    FILE *p = popen(cmd, "r");
    long long v = -1;
    if (p && fscanf(p, "%lld", &v) != 1) v = -1;
    if (p) pclose(p);
    return v;
}

int main(void)
{
    char root[] = "/tmp/gf-folder-size-XXXXXX", p[600], outside[600];
    CHECK(mkdtemp(root) != NULL);
    snprintf(p, sizeof p, "%s/t", root);
    CHECK(!mkdir(p, 0700));
    snprintf(p, sizeof p, "%s/t/a.bin", root); write_file(p, 100000);
    snprintf(p, sizeof p, "%s/t/sub", root); CHECK(!mkdir(p, 0700));
    snprintf(p, sizeof p, "%s/t/sub/deeper", root); CHECK(!mkdir(p, 0700));
    snprintf(p, sizeof p, "%s/t/sub/deeper/b.bin", root); write_file(p, 3 << 20);
    snprintf(p, sizeof p, "%s/t/sub/empty", root); write_file(p, 0);
    snprintf(p, sizeof p, "%s/t/sparse", root);       /* 1 GiB apparent, a few blocks on disk */
    int fd = open(p, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0 && ftruncate(fd, 1LL << 30) == 0 && pwrite(fd, "x", 1, 5 << 20) == 1);
    if (fd >= 0) close(fd);
    snprintf(outside, sizeof outside, "%s/outside.bin", root); write_file(outside, 4 << 20);
    snprintf(p, sizeof p, "%s/t/link", root); CHECK(!symlink(outside, p));
    snprintf(p, sizeof p, "%s/t", root);

    int64_t got = 0;
    long long want = du_bytes(p);
    CHECK_MSG(!gf_folder_size(p, 0, &got), "%s", gf_last_error());
    CHECK_MSG(want > (3 << 20) && got == want, "gf_folder_size %lld, du -sB1 %lld", (long long)got, want);
    CHECK_MSG(got < (4 << 20) + (3 << 20), "the link's target or the sparse file's holes were counted: %lld",
              (long long)got);

    int64_t early = 0;                                /* stops once past 1 MiB: more than that, at most the whole */
    CHECK(!gf_folder_size(p, 1 << 20, &early));
    CHECK_MSG(early > (1 << 20) && early <= got, "early stop gave %lld (whole %lld)", (long long)early, (long long)got);

    snprintf(p, sizeof p, "%s/t/missing", root);
    CHECK(gf_folder_size(p, 0, &got) == GF_ERR_IO && strstr(gf_last_error(), "missing"));
    snprintf(p, sizeof p, "%s/t/link", root);         /* a link is not walked into, even to a folder's path */
    CHECK(gf_folder_size(p, 0, &got) == GF_ERR_IO);

    snprintf(p, sizeof p, "rm -rf '%s'", root);
    CHECK(system(p) == 0);
    return check_summary();
}
