/* libFuzzer target for data/npz: byte 0 chooses the form. Even: the rest is
 * one .npz archive, loaded with keys "images" and "labels" (members
 * images.npy, labels.npy). Odd: the rest is split into an images .npy and a
 * labels .npy (byte 1 sets the share that goes to the images) and loaded
 * with gf_npy_load, which reaches the header parser on every input. Both
 * are read under a 4 MiB decompressed-size cap. An accepted dataset must be
 * self-consistent (shape, labels below num_classes, finite features); a
 * rejected one must leave the output empty. */
#include "data/dataset.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char npz_path[64], images_path[64], labels_path[64];

static void cleanup(void)
{
    unlink(npz_path);
    unlink(images_path);
    unlink(labels_path);
}

static int make_temp(char *path, size_t cap, const char *tag)
{
    snprintf(path, cap, "/tmp/fuzz_npz_%s_XXXXXX", tag);
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    close(fd);
    return 0;
}

static void write_all(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n && fwrite(p, 1, n, f) != n) abort();
    if (fclose(f) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!npz_path[0]) {
        if (make_temp(npz_path, sizeof npz_path, "npz") || make_temp(images_path, sizeof images_path, "images") ||
            make_temp(labels_path, sizeof labels_path, "labels"))
            abort();
        atexit(cleanup);
    }
    if (size < 2) return 0;
    gf_data_limits lim = gf_data_limits_default();
    lim.max_inflated_bytes = 4 << 20;
    gf_dataset d;
    gf_status st;
    if (data[0] % 2 == 0) {
        write_all(npz_path, data + 1, size - 1);
        st = gf_npz_load(npz_path, "images", "labels", &lim, &d);
    } else {
        size_t rest = size - 2, n_images = rest * data[1] / 255;
        write_all(images_path, data + 2, n_images);
        write_all(labels_path, data + 2 + n_images, rest - n_images);
        st = gf_npy_load(images_path, labels_path, &lim, &d);
    }
    if (st != GF_OK) {
        if (d.x || d.y || d.n) abort();
        return 0;
    }
    if (d.n < 1 || d.dim != (int64_t)d.c * d.h * d.w || d.c < 1 || d.c > 4 || d.num_classes < 2) abort();
    for (int64_t i = 0; i < d.n; i++)
        if (d.y[i] < 0 || d.y[i] >= d.num_classes) abort();
    for (int64_t i = 0; i < d.n * d.dim; i++)
        if (!isfinite(d.x[i])) abort();
    gf_dataset_free(&d);
    return 0;
}
