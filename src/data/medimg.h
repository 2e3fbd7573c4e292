/* Medical image volumes (NIfTI; DICOM through the same volume type) and the
 * nifti: and dicom: dataset specs built from them.
 *
 * A volume is nx * ny * nz voxels as float, x fastest (NIfTI's on-disk
 * order), so it is already a (c, h, w) = (nz, ny, nx) row-major sample: each
 * z slice is one channel. A 2-D image has nz = 1 (c = 1, h = ny, w = nx). */
#ifndef GF_DATA_MEDIMG_H
#define GF_DATA_MEDIMG_H

#include <stdint.h>
#include "data/dataset.h"

/* Voxels of one volume: at most 32 Mi (128 MiB of floats). */
#define GF_MEDIMG_MAX_VOXELS (1LL << 25)

typedef struct {
    int nx, ny, nz;     /* nz = 1 for a 2-D image */
    float *x;           /* (nz, ny, nx) intensities, scl_slope/scl_inter applied */
} gf_volume;

void gf_volume_free(gf_volume *v);

/* One NIfTI-1 or NIfTI-2 single-file volume (magic n+1 / n+2) held in
 * memory: buf (len bytes) is the whole .nii, already decompressed, in
 * either byte order. Checked before niftilib (libnifti2) decodes the
 * header: 1..3 spatial dimensions (a 4th..7th of size 1 is accepted), at
 * most GF_MEDIMG_MAX_VOXELS voxels, a datatype among int8/16/32/64,
 * uint8/16/32/64, float32/64, and the data (vox_offset + voxels * bytes per
 * voxel) within len; a header that claims more is refused naming `name`. Intensities are value * scl_slope + scl_inter when
 * scl_slope is finite and non-zero (NIfTI's rule), else the stored values.
 * NaN voxels are kept (missing values); infinite ones are refused. */
gf_status gf_nifti_decode(const void *buf, int64_t len, const char *name, gf_volume *out);

/* The same from a file, .nii or .nii.gz (gzip told from the content), read
 * under lim (NULL: the defaults; the decompressed size counts against
 * max_inflated_bytes). */
gf_status gf_nifti_read(const char *path, const gf_data_limits *lim, gf_volume *out);

/* Opens nifti:SRC,labels=CSV[,label_col=NAME][,id_col=NAME][,scale=minmax]
 * [,test_fraction=F[,seed=S]]:
 *   SRC      a directory (its *.nii and *.nii.gz files, in name order), one
 *            .nii / .nii.gz file, or a list file naming one volume per line
 *            (relative paths are relative to the list's directory; blank
 *            lines and lines starting with # are skipped)
 *   labels   a CSV (comma or tab separated, header row) keyed by file name:
 *            the id column (id_col, default "file", else the first column)
 *            holds a volume's file name without directories, with or
 *            without its .nii / .nii.gz ending; the label column (label_col,
 *            default "label") a class id 0..1000000. A volume without a row,
 *            or with an empty label, is refused naming it.
 *   scale=minmax   each volume is mapped to [0, 1] by its own minimum and
 *            maximum (a constant volume becomes 0); default: intensities as
 *            stored times scl_slope plus scl_inter.
 * Every volume is one sample and all must have the same nx, ny, nz.
 * Without test_fraction every volume trains and the test split is empty. */
gf_status gf_nifti_open(const char *spec, gf_dataset *train, gf_dataset *test);

/* One DICOM sample: a DICOM file, or a folder holding one series (its
 * files, not its subfolders), converted by Debian's dcm2niix into a
 * temporary folder and read as the NIfTI volume it writes (src/data/dicom.c:
 * intensities with Rescale Slope/Intercept applied; rows in dcm2niix's NIfTI
 * orientation, i.e. DICOM row r is y = ny - 1 - r). A source dcm2niix cannot
 * convert, or one holding several series, is refused naming it. */
gf_status gf_dicom_read(const char *src, const gf_data_limits *lim, gf_volume *out);

/* Opens dicom:DIR,labels=CSV[,...]: the options of nifti: above; each file
 * of DIR is one sample (a single DICOM image or multi-frame file), each
 * folder of DIR one series (one sample); ids are the entry names, a file's
 * with or without a .dcm ending. All samples must have one shape. */
gf_status gf_dicom_open(const char *spec, gf_dataset *train, gf_dataset *test);

#endif
