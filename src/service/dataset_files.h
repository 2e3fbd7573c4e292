/* The files a registered dataset reads (datasets.h), checked on the
 * coordinator's side: the format inferred from a path, a reader options
 * string made canonical, and the checks that the files are still the ones
 * registered (no link out of the registered place, no special file). Used by
 * datasets.c only. */
#ifndef GF_SERVICE_DATASET_FILES_H
#define GF_SERVICE_DATASET_FILES_H

#include <limits.h>
#include <stddef.h>
#include "core/error.h"
#include "service/datasets.h"

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

/* GF_OK if the registered entry's files are still as registered (datasets.h,
 * "Resolution"), else GF_ERR_IO (no message: the caller words it). */
gf_status dsfile_check(const gf_dataset_entry *d);

#endif
