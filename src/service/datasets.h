/* The datasets registry: data on the facility that jobs may read, registered
 * by the operator and named by members (table datasets, schema version 3).
 * A member never names a file: a job spec's "dataset" (central jobs) and
 * "eval" (federated jobs) are registry names, and the coordinator turns a
 * name into a reader spec (data/dataset.h) only here, after checking that the
 * job's tenant may read it and that the files are still what the operator
 * registered.
 *
 * An entry is a name (1..64 of [A-Za-z0-9._-]), a format and the canonical
 * path (realpath at registration, no ',' in it):
 *   idx  a directory holding {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
 *   csv  a regular file with a header row, its label column, and optionally a
 *        second regular file as the test split
 *   npz  a regular file named *.npz: NumPy arrays in MedMNIST's layout
 *        (train_images, train_labels, test_images, test_labels); stored in
 *        the store's format column as 'csv' (a regular file), told apart by
 *        its name
 * Access: public (every tenant) or granted to listed tenants; operators
 * reach every entry. The built-in public dataset "fashion-mnist" (Debian's
 * dataset-fashion-mnist) is always there and cannot be registered over.
 *
 * Resolution (gf_datasets_resolve) checks again, each time, that the path
 * still resolves (realpath) to the registered one, is of the registered
 * type, and, for idx, that each of its files is a regular file whose own
 * realpath lies inside the directory (no link out of it). */
#ifndef GF_SERVICE_DATASETS_H
#define GF_SERVICE_DATASETS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include "core/error.h"
#include "service/store.h"

#define GF_DATASET_BUILTIN   "fashion-mnist"
#define GF_DATASET_LABEL_MAX 64
#define GF_DATASET_SPEC_MAX  (2 * PATH_MAX + 128)   /* a resolved reader spec */

typedef enum { GF_DATASET_IDX, GF_DATASET_CSV, GF_DATASET_NPZ } gf_dataset_format;

typedef struct {
    char              name[GF_STORE_NAME_MAX + 1];
    gf_dataset_format format;
    char              path[PATH_MAX];                 /* canonical */
    char              label[GF_DATASET_LABEL_MAX + 1];/* csv; "" otherwise */
    char              test_path[PATH_MAX];            /* csv; "" = last 10% of rows */
    int               public_;                        /* 1: every tenant may read it */
    char              tenants[512];                   /* granted tenants, comma-separated (listings) */
    char              created_at[GF_STORE_TIME_LEN + 1];
} gf_dataset_entry;

const char *gf_dataset_format_name(gf_dataset_format f);   /* "idx" / "csv" / "npz" */

/* GF_OK if name is a valid registry name (and, when registering, not the
 * built-in one), else GF_ERR_ARG naming the problem. */
gf_status gf_dataset_name_check(const char *name);

/* Registers name for the data at path (format from what path is: a directory
 * is idx, a regular file csv, or npz when named *.npz; label: csv's label column, default "label";
 * test_path: csv only, optional). Paths are made canonical here and must
 * exist. tenants: ntenants existing tenant names granted access (public = 1:
 * every tenant instead). GF_ERR_MISMATCH if the name is taken. */
gf_status gf_store_dataset_add(gf_store *s, const char *name, const char *path, const char *label,
                               const char *test_path, int public_, const char *const *tenants, int ntenants);

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

/* "NAME" or "NAME:test" / "NAME:train" (a federated job's eval): the name
 * into name[GF_STORE_NAME_MAX + 1] and *train = 1 for ":train". */
gf_status gf_dataset_eval_split(const char *eval, char name[GF_STORE_NAME_MAX + 1], int *train);

#endif
