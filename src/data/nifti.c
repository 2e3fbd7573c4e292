/* NIfTI volumes: one single-file NIfTI-1 / NIfTI-2 image (.nii, or .nii.gz
 * decompressed by gf_data_read_all) decoded into float intensities. The
 * fields that decide what is read are first taken from the raw header and
 * checked here: the magic, the number and size of dimensions, the voxel
 * limit, a supported datatype, and that the data the header declares lies
 * within the bytes there are (a lying header is refused naming the file,
 * never read past). Only then does niftilib (nifti2_io) decode the header,
 * which it does trusting those fields (a hostile NIfTI-2 header crashed it
 * under the fuzzer); its reading must agree with ours, and its scaling
 * fields are used. Messages never quote the file's bytes. */
#include "data/medimg.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <nifti/nifti2_io.h>

#define NIFTI1_HDR 348
#define NIFTI2_HDR 540

void gf_volume_free(gf_volume *v)
{
    if (!v) return;
    free(v->x);
    memset(v, 0, sizeof *v);
}

static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;
static void nifti_quiet(void) { nifti_set_debug_level(0); }   /* library code does not print */

/* An unsigned integer of size bytes stored big-endian (be) or little-endian. */
static uint64_t rd(const unsigned char *p, int size, int be)
{
    uint64_t v = 0;
    for (int i = 0; i < size; i++) v |= (uint64_t)p[be ? size - 1 - i : i] << (8 * i);
    return v;
}

static int host_big_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 0;
}

/* One stored value at p (already in host order in tmp) as a double. */
static double load_value(const unsigned char *p, int dt, int swap)
{
    unsigned char t[8];
    int size = dt == DT_INT8 || dt == DT_UINT8 ? 1 : dt == DT_INT16 || dt == DT_UINT16 ? 2
             : dt == DT_INT32 || dt == DT_UINT32 || dt == DT_FLOAT32 ? 4 : 8;
    for (int i = 0; i < size; i++) t[i] = swap ? p[size - 1 - i] : p[i];
    switch (dt) {
    case DT_UINT8:  return t[0];
    case DT_INT8:   return (int8_t)t[0];
    case DT_INT16:  { int16_t v; memcpy(&v, t, 2); return v; }
    case DT_UINT16: { uint16_t v; memcpy(&v, t, 2); return v; }
    case DT_INT32:  { int32_t v; memcpy(&v, t, 4); return v; }
    case DT_UINT32: { uint32_t v; memcpy(&v, t, 4); return v; }
    case DT_INT64:  { int64_t v; memcpy(&v, t, 8); return (double)v; }
    case DT_UINT64: { uint64_t v; memcpy(&v, t, 8); return (double)v; }
    case DT_FLOAT32: { float v; memcpy(&v, t, 4); return v; }
    default:        { double v; memcpy(&v, t, 8); return v; }   /* DT_FLOAT64 */
    }
}

static int supported_type(int dt)
{
    return dt == DT_UINT8 || dt == DT_INT8 || dt == DT_INT16 || dt == DT_UINT16 || dt == DT_INT32 ||
           dt == DT_UINT32 || dt == DT_INT64 || dt == DT_UINT64 || dt == DT_FLOAT32 || dt == DT_FLOAT64;
}

gf_status gf_nifti_decode(const void *buf, int64_t len, const char *name, gf_volume *out)
{
    memset(out, 0, sizeof *out);
    const unsigned char *b = buf;
    pthread_once(&quiet_once, nifti_quiet);
    if (len < 4)
        return gf_errorf(GF_ERR_FORMAT, "%s: %lld bytes is too short for a NIfTI header", name, (long long)len);
    int be = 0;                    /* the file's byte order, told by its header size */
    uint32_t sz = (uint32_t)rd(b, 4, 0);
    if (sz != NIFTI1_HDR && sz != NIFTI2_HDR) {
        sz = (uint32_t)rd(b, 4, 1);
        be = 1;
    }
    int swap = be != host_big_endian();   /* voxels need their bytes reversed */
    if (sz != NIFTI1_HDR && sz != NIFTI2_HDR)
        return gf_errorf(GF_ERR_FORMAT, "%s: not a NIfTI file (the first 4 bytes are not a header size of 348 "
                         "(NIfTI-1) or 540 (NIfTI-2) in either byte order)", name);
    if (len < (int64_t)sz)
        return gf_errorf(GF_ERR_FORMAT, "%s: truncated: %lld bytes, shorter than the %u-byte NIfTI-%d header",
                         name, (long long)len, sz, sz == NIFTI1_HDR ? 1 : 2);
    /* the fields that decide what is read, taken from the raw header and
     * checked before niftilib sees it (it trusts dims and datatype) */
    int n1 = sz == NIFTI1_HDR;
    int64_t d[8];
    for (int i = 0; i < 8; i++)
        d[i] = n1 ? (int16_t)rd(b + 40 + 2 * i, 2, be) : (int64_t)rd(b + 16 + 8 * i, 8, be);
    int dt = (int16_t)rd(b + (n1 ? 70 : 12), 2, be);
    int64_t offset;
    if (n1) {
        uint32_t u = (uint32_t)rd(b + 108, 4, be);
        float f;
        memcpy(&f, &u, 4);
        offset = isfinite(f) && f >= 0 && f < 9e18f ? (int64_t)f : -1;
    } else {
        offset = (int64_t)rd(b + 168, 8, be);
    }
    if (n1 ? memcmp(b + 344, "ni1", 4) == 0 : 0)
        return gf_errorf(GF_ERR_FORMAT, "%s: a two-file NIfTI-1 header (.hdr/.img pair); only single-file "
                         ".nii volumes are read", name);
    if (n1 ? memcmp(b + 344, "n+1", 4) != 0 : memcmp(b + 4, "n+2\0\r\n\032\n", 8) != 0)
        return gf_errorf(GF_ERR_FORMAT, "%s: NIfTI-%d header without the single-file magic \"n+%d\"%s", name,
                         n1 ? 1 : 2, n1 ? 1 : 2, n1 ? " (ANALYZE 7.5 files are not read)" : "");
    if (d[0] < 1 || d[0] > 7)
        return gf_errorf(GF_ERR_FORMAT, "%s: header dim[0] is %lld, not 1..7", name, (long long)d[0]);
    for (int i = 1; i <= d[0]; i++)
        if (d[i] < 1)
            return gf_errorf(GF_ERR_FORMAT, "%s: header dim[%d] is %lld, not a positive size", name, i, (long long)d[i]);
    for (int i = 4; i <= d[0]; i++)
        if (d[i] != 1)
            return gf_errorf(GF_ERR_FORMAT, "%s: a %lld-D image with %lld entries along dimension %d; only 2-D and "
                             "3-D volumes are read (one sample per file)", name, (long long)d[0], (long long)d[i], i);
    int64_t nx = d[1], ny = d[0] >= 2 ? d[2] : 1, nz = d[0] >= 3 ? d[3] : 1;
    if (nx > GF_MEDIMG_MAX_VOXELS || ny > GF_MEDIMG_MAX_VOXELS || nz > GF_MEDIMG_MAX_VOXELS ||
        nx * ny > GF_MEDIMG_MAX_VOXELS || nx * ny * nz > GF_MEDIMG_MAX_VOXELS)
        return gf_errorf(GF_ERR_FORMAT, "%s: %lld x %lld x %lld voxels is more than the limit of %lld voxels per volume",
                         name, (long long)nx, (long long)ny, (long long)nz, (long long)GF_MEDIMG_MAX_VOXELS);
    if (!supported_type(dt))
        return gf_errorf(GF_ERR_FORMAT, "%s: datatype %d (%s) is not supported (supported: int8..int64, "
                         "uint8..uint64, float32, float64)", name, dt, nifti_datatype_string(dt));
    int nbyper = dt == DT_INT8 || dt == DT_UINT8 ? 1 : dt == DT_INT16 || dt == DT_UINT16 ? 2
               : dt == DT_INT32 || dt == DT_UINT32 || dt == DT_FLOAT32 ? 4 : 8;
    int64_t nvox = nx * ny * nz;
    if (offset < (int64_t)sz + 4 || offset > len)   /* a single file: header, 4 extension bytes, ... */
        return gf_errorf(GF_ERR_FORMAT, "%s: vox_offset lies outside the file's data (header %u bytes, file %lld "
                         "bytes)", name, sz, (long long)len);
    if (nvox * nbyper > len - offset)
        return gf_errorf(GF_ERR_FORMAT, "%s: the header declares %lld x %lld x %lld voxels of %s (%lld bytes from "
                         "offset %lld) but the file holds only %lld bytes of data: truncated file or wrong header",
                         name, (long long)nx, (long long)ny, (long long)nz, nifti_datatype_string(dt),
                         (long long)(nvox * nbyper), (long long)offset, (long long)(len - offset));

    /* niftilib decodes the header (byte order, scaling); it must agree */
    nifti_image *nim;
    if (n1) {
        nifti_1_header h;
        memcpy(&h, b, sizeof h);
        nim = nifti_convert_n1hdr2nim(h, NULL);
    } else {
        nifti_2_header h;
        memcpy(&h, b, sizeof h);
        nim = nifti_convert_n2hdr2nim(h, NULL);
    }
    if (!nim)
        return gf_errorf(GF_ERR_FORMAT, "%s: niftilib refuses the header", name);
    gf_status st = GF_OK;
    if (nim->datatype != dt || nim->nbyper != nbyper || nim->nx != nx || (d[0] >= 2 && nim->ny != ny) ||
        (d[0] >= 3 && nim->nz != nz) || nim->iname_offset != offset) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: niftilib reads the header's dimensions, datatype or offset otherwise",
                       name);
        goto out;
    }
    double slope = nim->scl_slope, inter = nim->scl_inter;
    int scaled = isfinite(slope) && slope != 0.0;
    if (scaled && !isfinite(inter)) inter = 0.0;
    float *x = malloc((size_t)nvox * sizeof *x);   /* (nz, ny, nx) */
    if (!x) {
        st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory for %lld voxels", name, (long long)nvox);
        goto out;
    }
    const unsigned char *p = b + offset;
    for (int64_t i = 0; i < nvox; i++) {
        double v = load_value(p + i * nbyper, dt, swap);
        if (scaled) v = v * slope + inter;
        float f = (float)v;
        if (isinf(f)) {
            free(x);
            st = gf_errorf(GF_ERR_NUMERIC, "%s: voxel (%lld, %lld, %lld) is %s after scaling", name,
                           (long long)(i % nx), (long long)(i / nx % ny), (long long)(i / (nx * ny)),
                           f > 0 ? "+Inf" : "-Inf");
            goto out;
        }
        x[i] = f;
    }
    out->nx = (int)nx;
    out->ny = (int)ny;
    out->nz = (int)nz;
    out->x = x;
out:
    nifti_image_free(nim);
    return st;
}

gf_status gf_nifti_read(const char *path, const gf_data_limits *lim, gf_volume *out)
{
    memset(out, 0, sizeof *out);
    char *buf = NULL;
    int64_t len = 0;
    gf_status st = gf_data_read_all(path, lim, &buf, &len);
    if (st) return st;
    st = gf_nifti_decode(buf, len, path, out);
    free(buf);
    return st;
}
