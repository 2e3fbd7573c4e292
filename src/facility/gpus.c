/* The GPU device list and the allocation of its indices (see gpus.h). */
#include "facility/gpus.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const GF_GPU_CONTROL[] = { "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", NULL };

/* bwrap --dev's own entries: a GPU may not take their names */
static const char *const reserved[] = { "null", "zero", "full", "random", "urandom", "tty", "console", "ptmx",
                                        "pts", "shm", "mqueue", "fd", "stdin", "stdout", "stderr", "core",
                                        "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", NULL };

static const char *base_of(const char *p)
{
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

gf_status gf_gpus_parse(const char *csv, gf_gpu_list *out)
{
    memset(out, 0, sizeof *out);
    const char *p = csv ? csv : "";
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == 0) return gf_errorf(GF_ERR_ARG, "GPU devices: an empty entry in \"%s\"", csv);
        if (out->n == GF_GPUS_MAX) return gf_errorf(GF_ERR_ARG, "GPU devices: more than %d", GF_GPUS_MAX);
        if (len >= GF_GPU_PATH_MAX) return gf_errorf(GF_ERR_ARG, "GPU devices: path too long: %.*s", (int)len, p);
        char *path = out->path[out->n];
        memcpy(path, p, len);
        path[len] = 0;
        p += len + (p[len] == ',');
        struct stat st;
        const char *b = base_of(path);
        if (path[0] != '/') return gf_errorf(GF_ERR_ARG, "GPU device %s: must be an absolute path", path);
        if (stat(path, &st)) return gf_errorf(GF_ERR_ARG, "GPU device %s: does not exist", path);
        if (!S_ISCHR(st.st_mode)) return gf_errorf(GF_ERR_ARG, "GPU device %s: not a character device", path);
        if (!b[0] || !strcmp(b, ".") || !strcmp(b, ".."))
            return gf_errorf(GF_ERR_ARG, "GPU device %s: no file name", path);
        for (int i = 0; reserved[i]; i++)
            if (!strcmp(b, reserved[i]))
                return gf_errorf(GF_ERR_ARG, "GPU device %s: its name \"%s\" is taken in the sandbox's /dev", path, b);
        for (int i = 0; i < out->n; i++)
            if (!strcmp(base_of(out->path[i]), b))
                return gf_errorf(GF_ERR_ARG, "GPU devices %s and %s: the same name \"%s\" in the sandbox's /dev",
                                 out->path[i], path, b);
        out->n++;
    }
    return GF_OK;
}

static int by_number(const void *a, const void *b)
{
    long x = strtol((const char *)a + strlen("/dev/nvidia"), NULL, 10);
    long y = strtol((const char *)b + strlen("/dev/nvidia"), NULL, 10);
    return (x > y) - (x < y);
}

void gf_gpus_detect(gf_gpu_list *out)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir("/dev");
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) && out->n < GF_GPUS_MAX) {
        if (strncmp(e->d_name, "nvidia", 6) || !e->d_name[6] || strspn(e->d_name + 6, "0123456789") != strlen(e->d_name + 6))
            continue;
        struct stat st;
        char *path = out->path[out->n];
        snprintf(path, GF_GPU_PATH_MAX, "/dev/%.32s", e->d_name);
        if (!stat(path, &st) && S_ISCHR(st.st_mode)) out->n++;
    }
    closedir(d);
    qsort(out->path, (size_t)out->n, sizeof out->path[0], by_number);
}

int gf_gpus_take(uint64_t *busy, int n, int want, int *idx)
{
    if (n < 0 || n > GF_GPUS_MAX || want < 0 || want > n) return -1;
    int k = 0;
    for (int i = 0; i < n && k < want; i++)
        if (!(*busy >> i & 1)) idx[k++] = i;
    if (k < want) return -1;
    for (int i = 0; i < want; i++) *busy |= (uint64_t)1 << idx[i];
    return 0;
}

void gf_gpus_release(uint64_t *busy, const int *idx, int k)
{
    for (int i = 0; i < k; i++)
        if (idx[i] >= 0 && idx[i] < GF_GPUS_MAX) *busy &= ~((uint64_t)1 << idx[i]);
}
