/* libFuzzer target for data/nifti: the input is one .nii file (header and
 * data bytes) decoded from memory by gf_nifti_decode; when the input starts
 * like gzip (1f 8b) it is first written to a temporary file and read with
 * gf_nifti_read, which inflates it under a 4 MiB cap. An accepted volume
 * must have positive sizes within the voxel limit and no infinite voxel;
 * a rejected one must leave the output empty. */
#include "data/medimg.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char gz_path[64];

static void cleanup(void) { unlink(gz_path); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_volume v;
    gf_status st;
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        if (!gz_path[0]) {
            snprintf(gz_path, sizeof gz_path, "/tmp/fuzz_nifti_XXXXXX");
            int fd = mkstemp(gz_path);
            if (fd < 0) abort();
            close(fd);
            atexit(cleanup);
        }
        FILE *f = fopen(gz_path, "wb");
        if (!f || fwrite(data, 1, size, f) != size || fclose(f)) abort();
        gf_data_limits lim = gf_data_limits_default();
        lim.max_inflated_bytes = 4 << 20;
        st = gf_nifti_read(gz_path, &lim, &v);
    } else {
        st = gf_nifti_decode(data, (int64_t)size, "input.nii", &v);
    }
    if (st != GF_OK) {
        if (v.x || v.nx || v.ny || v.nz) abort();
        return 0;
    }
    int64_t n = (int64_t)v.nx * v.ny * v.nz;
    if (v.nx < 1 || v.ny < 1 || v.nz < 1 || n > GF_MEDIMG_MAX_VOXELS || !v.x) abort();
    for (int64_t i = 0; i < n; i++)
        if (isinf(v.x[i])) abort();
    gf_volume_free(&v);
    return 0;
}
