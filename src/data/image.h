/* Decoding one PNG or JPEG image from memory into 8-bit pixels, and the
 * resize rule of image folders (data/imagedir.c). The decoders run libpng
 * and libjpeg with error handlers that return a status instead of exiting
 * or crashing (setjmp/longjmp), and refuse an image whose declared size is
 * over max_pixels before allocating anything for its pixels. */
#ifndef GF_DATA_IMAGE_H
#define GF_DATA_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"

#define GF_IMAGE_MAX_PIXELS (1LL << 26)   /* width * height of one decoded image: 64 Mi pixels */

/* A decoded image: c = 1 (gray, from a grayscale source) or 3 (RGB);
 * alpha is dropped, 16-bit samples scaled to 8 bits, palettes expanded. */
typedef struct {
    int c, h, w;
    uint8_t *px;      /* (h, w, c), channels last as the file stores them */
} gf_image;

void gf_image_free(gf_image *im);

/* Decodes buf[0..len) as PNG or JPEG (told by the signature, not the name);
 * `name` names the image in errors. Anything else, a corrupt or truncated
 * file, or a declared width * height over max_pixels is GF_ERR_FORMAT
 * naming `name`; *out is then empty. */
gf_status gf_image_decode(const uint8_t *buf, size_t len, const char *name, int64_t max_pixels, gf_image *out);

/* Resizes a (c, ih, iw) float plane stack to (c, oh, ow), each axis on its
 * own: an axis that shrinks is area-averaged (output pixel o covers source
 * [o * in/out, (o+1) * in/out), each source pixel weighted by its overlap),
 * an axis that grows is bilinear with half-pixel centres (source coordinate
 * (o + 0.5) * in/out - 0.5, clamped to the edge; PyTorch's
 * interpolate(mode="bilinear", align_corners=False)). An axis that keeps its
 * size is copied. The two passes run in the order with the smaller
 * intermediate (c * min(oh * iw, ih * ow) floats). GF_ERR_NOMEM if that
 * cannot be allocated. */
gf_status gf_image_resize(const float *in /* (c, ih, iw) */, int c, int ih, int iw,
                          float *out /* (c, oh, ow) */, int oh, int ow);

#endif
