/* The GPUs of this machine that the local executor hands to jobs: their
 * device files (character devices such as /dev/nvidia0), named by the
 * operator (gf coordinator --gpu-devices) or found as /dev/nvidia[0-9]*,
 * and which of them the running jobs hold.
 *
 * A GPU's index is its position in the list (0..n-1). A job that asks for k
 * GPUs gets the k lowest free indices; no two running jobs ever hold the
 * same index. The sandbox (facility/sandbox.h) binds only the granted
 * device files, under their own names in /dev, plus the shared control
 * devices of GF_GPU_CONTROL that exist on the host. */
#ifndef GF_FACILITY_GPUS_H
#define GF_FACILITY_GPUS_H

#include <stdint.h>
#include "core/error.h"

#define GF_GPUS_MAX     64           /* one bit each in a uint64_t */
#define GF_GPU_PATH_MAX 256

/* The driver's shared devices every GPU job needs where they exist
 * (NULL-terminated). */
extern const char *const GF_GPU_CONTROL[];

typedef struct {
    int  n;
    char path[GF_GPUS_MAX][GF_GPU_PATH_MAX];   /* (n) host device files; index = position */
} gf_gpu_list;

/* A comma-separated list of device files: each must be a character device
 * (stat), absolute, named once, and its base name (the name it gets in the
 * sandbox's /dev) distinct from the others' and from bwrap's own /dev
 * entries (null, zero, tty, ...). GF_ERR_ARG naming the bad one. */
gf_status gf_gpus_parse(const char *csv, gf_gpu_list *out);

/* /dev/nvidiaN character devices, ordered by N (none: n = 0). */
void gf_gpus_detect(gf_gpu_list *out);

/* Takes the `want` lowest free indices of n (busy: bit i set = index i is
 * held) into idx[0..want-1], ascending, and marks them; 0. -1 (busy
 * unchanged) when fewer than want are free or want/n are out of range. */
int gf_gpus_take(uint64_t *busy, int n, int want, int *idx);

/* Frees the k indices of idx. */
void gf_gpus_release(uint64_t *busy, const int *idx, int k);

#endif
