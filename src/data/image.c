/* PNG (libpng) and JPEG (libjpeg) decoding from memory for image folders.
 * Both libraries report errors by longjmp to a handler here, so a corrupt
 * or truncated file becomes GF_ERR_FORMAT naming the image, never an exit
 * or a crash. The declared width * height is checked against max_pixels
 * right after the header, before the pixel buffer (or libjpeg's
 * coefficient buffers) exist, so a small file declaring a huge image is
 * refused cheaply. libjpeg only warns about a truncated file (and fills the
 * rest with gray): those two warnings ("premature end") are errors here.
 * Progressive JPEGs are capped at JPEG_MAX_SCANS scans (a file of endless
 * tiny scans would otherwise take unbounded time). Messages from the
 * libraries are passed on with non-printable bytes replaced. */
#include "data/image.h"

#include <setjmp.h>
#include <stdio.h>   /* before jpeglib.h, which uses FILE */
#include <jerror.h>
#include <jpeglib.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#define JPEG_MAX_SCANS 500

void gf_image_free(gf_image *im)
{
    if (!im) return;
    free(im->px);
    memset(im, 0, sizeof *im);
}

static void printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 32 || (unsigned char)*s > 126) *s = '?';
}

/* ---- PNG ------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p;
    size_t len, pos;
    char msg[200];
} png_mem;

static void png_read_mem(png_structp png, png_bytep out, size_t n)
{
    png_mem *m = png_get_io_ptr(png);
    if (n > m->len - m->pos) png_error(png, "the file ends early (truncated)");
    memcpy(out, m->p + m->pos, n);
    m->pos += n;
}

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_mem *m = png_get_error_ptr(png);
    snprintf(m->msg, sizeof m->msg, "%s", msg ? msg : "error");
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static gf_status png_decode(const uint8_t *buf, size_t len, const char *name, int64_t max_pixels, gf_image *out)
{
    png_mem m = { .p = buf, .len = len };
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &m, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        return gf_errorf(GF_ERR_NOMEM, "%s: out of memory for the PNG decoder", name);
    }
    uint8_t *volatile px = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(px);
        free(rows);
        printable(m.msg);
        return gf_errorf(GF_ERR_FORMAT, "%s: corrupt PNG: %s", name, m.msg);
    }
    png_set_read_fn(png, &m, png_read_mem);
    /* libpng itself refuses a side over the cap while reading IHDR */
    png_uint_32 side = max_pixels > 0x7fffffff ? 0x7fffffff : (png_uint_32)(max_pixels > 0 ? max_pixels : 1);
    png_set_user_limits(png, side, side);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((int64_t)w * (int64_t)h > max_pixels) {
        png_destroy_read_struct(&png, &info, NULL);
        return gf_errorf(GF_ERR_FORMAT, "%s: the PNG declares %ux%u pixels, more than the limit of %lld pixels "
                         "per image", name, (unsigned)w, (unsigned)h, (long long)max_pixels);
    }
    int color = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_scale_16(png);
    if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int c = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if ((c != 1 && c != 3) || rowbytes != (size_t)w * (size_t)c)
        png_error(png, "unexpected channel layout after conversion");
    px = malloc((size_t)h * rowbytes);                     /* (h, w, c) */
    rows = malloc(sizeof(png_bytep) * (size_t)h);          /* (h) */
    if (!px || !rows) png_error(png, "out of memory for the pixels");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = px + (size_t)y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    *out = (gf_image){ .c = c, .h = (int)h, .w = (int)w, .px = px };
    return GF_OK;
}

/* ---- JPEG ----------------------------------------------------------------- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    cinfo->err->format_message(cinfo, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings (level -1) about missing data are errors; the rest is ignored. */
static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    int code = cinfo->err->msg_code;
    if (level == -1 && (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER)) {
        jpeg_err *e = (jpeg_err *)cinfo->err;
        snprintf(e->msg, sizeof e->msg, "the file ends early (truncated)");
        longjmp(e->jb, 1);
    }
}

static void jpeg_on_progress(j_common_ptr cinfo)
{
    if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > JPEG_MAX_SCANS) {
        jpeg_err *e = (jpeg_err *)cinfo->err;
        snprintf(e->msg, sizeof e->msg, "more than %d progressive scans", JPEG_MAX_SCANS);
        longjmp(e->jb, 1);
    }
}

static gf_status jpeg_decode(const uint8_t *buf, size_t len, const char *name, int64_t max_pixels, gf_image *out)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress = { .progress_monitor = jpeg_on_progress };
    jpeg_err e;
    uint8_t *volatile px = NULL;
    volatile int too_big = 0;
    volatile unsigned declared_w = 0, declared_h = 0;
    cinfo.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = jpeg_on_error;
    e.pub.emit_message = jpeg_on_message;
    e.msg[0] = 0;
    if (setjmp(e.jb)) {
        jpeg_destroy_decompress(&cinfo);
        free(px);
        if (too_big) return gf_errorf(GF_ERR_FORMAT, "%s: the JPEG declares %ux%u pixels, more than the limit of "
                                      "%lld pixels per image", name, declared_w, declared_h,
                                      (long long)max_pixels);
        printable(e.msg);
        return gf_errorf(GF_ERR_FORMAT, "%s: corrupt JPEG: %s", name, e.msg);
    }
    jpeg_create_decompress(&cinfo);
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, buf, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    if ((int64_t)cinfo.image_width * (int64_t)cinfo.image_height > max_pixels) {
        too_big = 1;
        declared_w = cinfo.image_width;
        declared_h = cinfo.image_height;
        longjmp(e.jb, 1);
    }
    int c = cinfo.jpeg_color_space == JCS_GRAYSCALE ? 1 : 3;
    cinfo.out_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != c) {
        snprintf(e.msg, sizeof e.msg, "unexpected channel count after conversion");
        longjmp(e.jb, 1);
    }
    size_t rowbytes = (size_t)cinfo.output_width * (size_t)c;
    px = malloc(rowbytes * cinfo.output_height);           /* (h, w, c) */
    if (!px) {
        snprintf(e.msg, sizeof e.msg, "out of memory for the pixels");
        longjmp(e.jb, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = px + rowbytes * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    *out = (gf_image){ .c = c, .h = (int)cinfo.output_height, .w = (int)cinfo.output_width, .px = px };
    jpeg_destroy_decompress(&cinfo);
    return GF_OK;
}

gf_status gf_image_decode(const uint8_t *buf, size_t len, const char *name, int64_t max_pixels, gf_image *out)
{
    memset(out, 0, sizeof *out);
    static const uint8_t png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    if (len >= 8 && memcmp(buf, png_sig, 8) == 0) return png_decode(buf, len, name, max_pixels, out);
    if (len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff)
        return jpeg_decode(buf, len, name, max_pixels, out);
    return gf_errorf(GF_ERR_FORMAT, "%s: not a PNG or JPEG image (its first bytes are neither signature)", name);
}
