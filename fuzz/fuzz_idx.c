/* libFuzzer target for data/idx: splits the input into an image file and a
 * label file (the first byte sets the share that goes to the images), writes
 * both to temp files made once per process, and loads them with gf_idx_load.
 * Either file may be raw or gzipped. An accepted pair must be self-consistent
 * (every label below num_classes, every pixel in [0, 1]); a rejected one must
 * leave the output empty. */
#include "data/dataset.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char images_path[64], labels_path[64];

static void cleanup(void)
{
    unlink(images_path);
    unlink(labels_path);
}

static int make_temp(char *path, size_t cap, const char *tag)
{
    snprintf(path, cap, "/tmp/fuzz_idx_%s_XXXXXX", tag);
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
    if (!images_path[0]) {
        if (make_temp(images_path, sizeof images_path, "images") ||
            make_temp(labels_path, sizeof labels_path, "labels"))
            abort();
        atexit(cleanup);
    }
    if (size < 1) return 0;
    size_t rest = size - 1;
    size_t n_images = rest * data[0] / 255;   /* byte 0 chooses the split */
    write_all(images_path, data + 1, n_images);
    write_all(labels_path, data + 1 + n_images, rest - n_images);

    gf_dataset d;
    if (gf_idx_load(images_path, labels_path, &d) != GF_OK) {
        if (d.x || d.y || d.n) abort();
        return 0;
    }
    if (d.n < 1 || d.dim != (int64_t)d.h * d.w || d.c != 1 || d.num_classes < 10) abort();
    for (int64_t i = 0; i < d.n; i++)
        if (d.y[i] < 0 || d.y[i] >= d.num_classes) abort();
    for (int64_t i = 0; i < d.n * d.dim; i++)
        if (!(d.x[i] >= 0.0f && d.x[i] <= 1.0f)) abort();
    gf_dataset_free(&d);
    return 0;
}
