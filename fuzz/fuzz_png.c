/* libFuzzer target for data/image.c and data/resize.c: byte 0 sets the
 * pixel limit (1 << (byte0 % 24 + 1)) and the size to resize to; the rest
 * is one image decoded from memory (PNG or JPEG, by its signature). An
 * accepted image must be self-consistent (1 or 3 channels, a size within
 * the limit); it is then resized, and every resized value must lie in
 * [0, 1]. A rejected one must leave the output empty. */
#include "data/image.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    int64_t max_pixels = 1LL << (data[0] % 24 + 1);
    int oh = 1 + data[0] % 5, ow = 1 + data[0] / 5 % 7;
    gf_image im;
    gf_status st = gf_image_decode(data + 1, size - 1, "fuzz", max_pixels, &im);
    if (st != GF_OK) {
        if (im.px || im.h || im.w || im.c) abort();
        return 0;
    }
    if ((im.c != 1 && im.c != 3) || im.h < 1 || im.w < 1 || (int64_t)im.h * im.w > max_pixels || !im.px) abort();
    size_t hw = (size_t)im.h * im.w;
    float *planes = malloc(sizeof *planes * hw * (size_t)im.c);          /* (c, h, w) */
    float *out = malloc(sizeof *out * (size_t)(oh * ow * im.c));         /* (c, oh, ow) */
    if (!planes || !out) abort();
    for (size_t i = 0; i < hw; i++)
        for (int ch = 0; ch < im.c; ch++) planes[ch * hw + i] = im.px[i * (size_t)im.c + ch] / 255.0f;
    if (gf_image_resize(planes, im.c, im.h, im.w, out, oh, ow) != GF_OK) abort();
    for (int i = 0; i < oh * ow * im.c; i++)
        if (!(out[i] >= -1e-5f && out[i] <= 1.0f + 1e-5f)) abort();
    free(planes);
    free(out);
    gf_image_free(&im);
    return 0;
}
