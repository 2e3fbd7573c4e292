/* The files a registered dataset reads (the coordinator's registry,
 * service/datasets.h, keeps the rows): the formats a dataset may have (one
 * per reader of dataset.h), the format inferred from a path, a reader
 * options string made canonical, and the checks that the files are still
 * the ones registered (no link out of the registered place, no special
 * file). No store: paths and options in, a status out. */
#ifndef GF_DATA_DATASET_FILES_H
#define GF_DATA_DATASET_FILES_H

#include <limits.h>
#include <stddef.h>
#include "core/error.h"

#define GF_DATASET_OPTIONS_MAX (PATH_MAX + 256)     /* reader options (one path in them) */

typedef enum {
    GF_DATASET_IDX, GF_DATASET_CSV, GF_DATASET_NPZ, GF_DATASET_PLINK, GF_DATASET_VCF, GF_DATASET_NIFTI,
    GF_DATASET_DICOM, GF_DATASET_IMAGEDIR, GF_DATASET_NFORMATS
} gf_dataset_format;

const char *gf_dataset_format_name(gf_dataset_format f);   /* "idx", "csv", ... "imagedir" */
/* The format named `name`; GF_ERR_ARG listing the formats if none. */
gf_status gf_dataset_format_parse(const char *name, gf_dataset_format *out);

/* realpath of p into out (PATH_MAX), no ',' in it; what names it in messages. */
gf_status dsfile_canonical(const char *what, const char *p, char out[PATH_MAX]);

/* The format of path when it is unambiguous (see gf_store_dataset_add),
 * else GF_ERR_ARG asking for --format. */
gf_status dsfile_infer(const char *path, gf_dataset_format *out);

/* path made canonical for format f into real: the realpath of a file or
 * folder of the kind f reads, or for plink the realpath of the prefix's
 * folder and the prefix's own name, with its .bed, .bim and .fam present. */
gf_status dsfile_place(gf_dataset_format f, const char *path, char real[PATH_MAX]);

/* options for format f (plink..imagedir; "" or NULL: none) with the values
 * of the keys that name files made canonical into out (cap bytes). */
gf_status dsfile_options(gf_dataset_format f, const char *options, char *out, size_t cap);

/* GF_OK if a registered dataset's files are still as registered
 * (service/datasets.h, "Resolution"): format f at the canonical path, the
 * csv test file test_path and the reader options as dsfile_options made
 * them ("" none); else GF_ERR_IO (no message: the caller words it). */
gf_status dsfile_check(gf_dataset_format f, const char *path, const char *test_path, const char *options);

#endif
