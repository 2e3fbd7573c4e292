/* The datasets registry: data on the facility that jobs may read, registered
 * by the operator and named by members (table datasets, schema version 3).
 * A member never names a file: a job spec's "dataset" (central jobs) and
 * "eval" (federated jobs) are registry names, and the coordinator turns a
 * name into a reader spec (data/dataset.h) only here, after checking that the
 * job's tenant may read it and that the files are still what the operator
 * registered.
 *
 * An entry is a name (1..64 of [A-Za-z0-9._-]), a format (one of the
 * readers of data/dataset.h), the canonical path (realpath at registration,
 * no ',' in it) and, for the formats from plink on, the reader's options:
 *   idx       a directory holding {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
 *   csv       a regular file with a header row, its label column, and
 *             optionally a second regular file as the test split
 *   npz       a regular file: NumPy arrays in MedMNIST's layout
 *   plink     a prefix: PREFIX.bed, .bim, .fam (each raw or .gz) regular files
 *   vcf       a regular file (VCF, VCF.gz, BCF)
 *   nifti     a .nii / .nii.gz file or a directory of them
 *   dicom     a directory (DICOM files or series folders)
 *   imagedir  a directory with one sub-folder of images per class
 * Options are the reader's own (nifti:SRC,OPTIONS ...), comma-separated
 * key=value or bare words; the values of the keys that name files (pheno=
 * for plink and vcf, labels= for nifti and dicom, test= for imagedir) are
 * made canonical like the path and checked like it at every resolution;
 * other values are [A-Za-z0-9._-] only. A registration is checked by
 * opening the data once with the engine's reader (its limits, its message).
 * Access: public (every tenant) or granted to listed tenants; operators
 * reach every entry. The built-in public dataset "fashion-mnist" (Debian's
 * dataset-fashion-mnist) is always there and cannot be registered over.
 *
 * Resolution (gf_datasets_resolve) checks again, each time, that the path
 * still resolves (realpath) to the registered one, is of the registered
 * type, and, for idx, that each of its files is a regular file whose own
 * realpath lies inside the directory (no link out of it); for plink, that
 * each of the prefix's files is a regular file at its own canonical path;
 * for a directory of nifti, dicom or imagedir data, that nothing in it
 * (sub-folders included) is a link that leads out of it or a special file;
 * and that each file named in the options is still the registered one. */
#ifndef GF_SERVICE_DATASETS_H
#define GF_SERVICE_DATASETS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include "core/error.h"
#include "data/dataset_files.h"   /* the formats, the files' checks */
#include "data/dataset_name.h"    /* the names */
#include "service/store.h"

#define GF_DATASET_BUILTIN   "fashion-mnist"
#define GF_DATASET_LABEL_MAX 64
#define GF_DATASET_SPEC_MAX  (2 * PATH_MAX + 512)   /* a resolved reader spec */

_Static_assert(GF_DATASET_NAME_MAX == GF_STORE_NAME_MAX, "a dataset's name is a store name");

typedef struct {
    char              name[GF_STORE_NAME_MAX + 1];
    gf_dataset_format format;
    char              path[PATH_MAX];                 /* canonical */
    char              label[GF_DATASET_LABEL_MAX + 1];/* csv; "" otherwise */
    char              test_path[PATH_MAX];            /* csv; "" = last 10% of rows */
    char              options[GF_DATASET_OPTIONS_MAX];/* plink..imagedir: the reader's options, "" none */
    int               public_;                        /* 1: every tenant may read it */
    char              tenants[512];                   /* granted tenants, comma-separated (listings) */
    char              created_at[GF_STORE_TIME_LEN + 1];
} gf_dataset_entry;

/* Registers name for the data at path. format: a format name, or NULL / ""
 * to infer it where that is unambiguous: a directory holding IDX files is
 * idx, one whose sub-folders hold PNG or JPEG images imagedir; a regular
 * file *.csv is csv, *.npz npz, *.vcf, *.vcf.gz, *.bcf vcf, *.nii, *.nii.gz
 * nifti; a path that is no file but whose .bed, .bim and .fam exist is a
 * plink prefix; anything else needs the format named. label: csv's label
 * column, default "label"; test_path: csv only, optional. options: the
 * reader options of plink..imagedir (above), NULL or "" for none; those
 * formats are opened once here with the engine's reader and refused with
 * its message. Paths are made canonical here and must exist. tenants:
 * ntenants existing tenant names granted access (public = 1: every tenant
 * instead). GF_ERR_MISMATCH if the name is taken. */
gf_status gf_store_dataset_add(gf_store *s, const char *name, const char *path, const char *format,
                               const char *label, const char *test_path, const char *options, int public_,
                               const char *const *tenants, int ntenants);

/* Every entry tenant_id may read (0: every entry), in name order, the
 * built-in one first. */
typedef int (*gf_dataset_fn)(const gf_dataset_entry *e, void *ctx);
gf_status gf_store_datasets(gf_store *s, int64_t tenant_id, gf_dataset_fn fn, void *ctx);

/* The reader spec of dataset `name` for a job of tenant_id (0: the
 * operator's own job, which reaches every entry), after the checks above.
 * Errors never contain file contents; GF_ERR_ARG for an unknown name or one
 * the tenant may not read (the same message for both), GF_ERR_IO when the
 * files are no longer what was registered. */
gf_status gf_datasets_resolve(gf_store *s, const char *name, int64_t tenant_id, char *spec, size_t cap);

#endif
