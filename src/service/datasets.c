/* The datasets registry (datasets.h): its rows in the store and the one
 * place where a dataset name becomes a path a reader opens (the files
 * themselves are checked in data/dataset_files.c). */
#include "service/datasets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "data/dataset.h"
#include "data/dataset_files.h"
#include "service/store_internal.h"

static gf_status dataset_query(gf_store *s, int64_t tenant_id, const char *name, gf_dataset_fn fn, void *ctx);
static int take_entry(const gf_dataset_entry *e, void *ctx);

gf_status gf_store_dataset_add(gf_store *s, const char *name, const char *path, const char *format,
                               const char *label, const char *test_path, const char *options, int public_,
                               const char *const *tenants, int ntenants)
{
    gf_status e = gf_dataset_name_check(name);
    if (e) return e;
    if (!strcasecmp(name, GF_DATASET_BUILTIN))
        return gf_errorf(GF_ERR_ARG, "\"%s\" is the built-in dataset and cannot be registered", name);
    gf_dataset_entry d = {0};
    snprintf(d.name, sizeof d.name, "%s", name);
    if (format && *format) e = gf_dataset_format_parse(format, &d.format);
    else e = dsfile_infer(path, &d.format);
    if (e || (e = dsfile_place(d.format, path, d.path))) return e;
    const char *fname = gf_dataset_format_name(d.format);
    if (d.format != GF_DATASET_CSV && ((label && *label) || (test_path && *test_path)))
        return gf_errorf(GF_ERR_ARG, "path %s is %s data: label and test are for CSV files%s", d.path, fname,
                         d.format == GF_DATASET_NPZ ? " (an .npz holds train_images, train_labels, test_images and "
                         "test_labels, as MedMNIST's do)" : d.format > GF_DATASET_NPZ ? " (give the reader's options)" : "");
    if (d.format == GF_DATASET_CSV) {
        struct stat sb;
        if (!label || !*label) label = "label";
        if (strlen(label) > GF_DATASET_LABEL_MAX || strchr(label, ','))
            return gf_errorf(GF_ERR_ARG, "label: 1..%d characters without ','", GF_DATASET_LABEL_MAX);
        snprintf(d.label, sizeof d.label, "%s", label);
        if (test_path && *test_path) {
            if ((e = dsfile_canonical("test", test_path, d.test_path))) return e;
            if (stat(d.test_path, &sb) || !S_ISREG(sb.st_mode))
                return gf_errorf(GF_ERR_ARG, "test %s: not a regular file", d.test_path);
        }
    }
    if ((e = dsfile_options(d.format, options, d.options, sizeof d.options))) return e;
    if ((e = dsfile_check(d.format, d.path, d.test_path, d.options))) return e;   /* links out of it, special files: the message names them */
    gf_dataset_entry have = {0};                        /* a taken name is refused before the data is read */
    if ((e = dataset_query(s, 0, name, take_entry, &have))) return e;
    if (have.name[0]) return gf_errorf(GF_ERR_MISMATCH, "dataset \"%s\" exists already", name);
    if (d.format >= GF_DATASET_PLINK) {                 /* opened once by the engine's reader, with its limits */
        char spec[GF_DATASET_SPEC_MAX];
        int n = snprintf(spec, sizeof spec, "%s:%s%s%s", fname, d.path, d.options[0] ? "," : "", d.options);
        if (n < 0 || (size_t)n >= sizeof spec) return gf_errorf(GF_ERR_ARG, "dataset spec too long");
        gf_dataset tr = {0}, te = {0};
        e = gf_dataset_open(spec, &tr, &te);
        gf_dataset_free(&tr);
        gf_dataset_free(&te);
        if (e) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", gf_last_error());
            return gf_errorf(e, "dataset \"%s\": the %s reader cannot read it: %s", name, fname, msg);
        }
    }
    if (ntenants < 0 || (ntenants > 0 && !tenants)) return gf_errorf(GF_ERR_ARG, "bad tenant list");
    if ((e = store_tx_begin(s, 1))) return e;
    int64_t found_id = 0;
    int found = 0;
    e = store_query_int(s, "find dataset", &found_id, &found, "SELECT 1 FROM datasets WHERE name = ?", "t", name);
    if (!e && found) e = gf_errorf(GF_ERR_MISMATCH, "dataset \"%s\" exists already", name);
    if (!e)
        e = store_run(s, "add dataset",
                      "INSERT INTO datasets(name, format, path, label, test_path, options, public, created_at) "
                      "VALUES(?, ?, ?, ?, ?, ?, ?, " STORE_NOW ")", "tttttti", name, fname, d.path,
                      d.label[0] ? d.label : NULL, d.test_path[0] ? d.test_path : NULL,
                      d.options[0] ? d.options : NULL, (int64_t)(public_ != 0));
    for (int i = 0; !e && i < ntenants; i++) {
        int64_t tid = 0;
        e = store_query_int(s, "find tenant", &tid, &found, "SELECT id FROM tenants WHERE name = ?", "t", tenants[i]);
        if (!e && !found) e = gf_errorf(GF_ERR_ARG, "no tenant \"%s\"", tenants[i]);
        if (!e) e = store_run(s, "grant dataset", "INSERT OR IGNORE INTO dataset_grants(dataset, tenant_id) VALUES(?, ?)",
                              "ti", name, tid);
    }
    return store_tx_end(s, e);
}

#define DATASET_SELECT \
    "SELECT d.name, d.format, d.path, d.label, d.test_path, d.public, d.created_at," \
    " (SELECT group_concat(t.name, ',') FROM dataset_grants g JOIN tenants t ON t.id = g.tenant_id" \
    "  WHERE g.dataset = d.name), d.options FROM datasets d" \
    " WHERE (?1 = 0 OR d.public = 1 OR EXISTS(SELECT 1 FROM dataset_grants g WHERE g.dataset = d.name AND g.tenant_id = ?1))"

static void entry_from_row(sqlite3_stmt *st, gf_dataset_entry *e)
{
    memset(e, 0, sizeof *e);
    store_copy_text(e->name, sizeof e->name, st, 0);
    const unsigned char *fmt = sqlite3_column_text(st, 1);
    store_copy_text(e->path, sizeof e->path, st, 2);
    if (gf_dataset_format_parse(fmt ? (const char *)fmt : "", &e->format)) e->format = GF_DATASET_NFORMATS;
    store_copy_text(e->label, sizeof e->label, st, 3);
    store_copy_text(e->test_path, sizeof e->test_path, st, 4);
    e->public_ = sqlite3_column_int(st, 5) != 0;
    store_copy_text(e->created_at, sizeof e->created_at, st, 6);
    store_copy_text(e->tenants, sizeof e->tenants, st, 7);
    store_copy_text(e->options, sizeof e->options, st, 8);
}

/* Runs DATASET_SELECT + tail for tenant_id (and name, when not NULL). */
static gf_status dataset_query(gf_store *s, int64_t tenant_id, const char *name, gf_dataset_fn fn, void *ctx)
{
    s = store_reader(s);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    gf_status e = name ? store_prep(s, &st, "read datasets", DATASET_SELECT " AND d.name = ?2", "it", tenant_id, name)
                       : store_prep(s, &st, "read datasets", DATASET_SELECT " ORDER BY d.name", "i", tenant_id);
    if (!e) {
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            gf_dataset_entry d;
            entry_from_row(st, &d);
            if (fn(&d, ctx)) { rc = SQLITE_DONE; break; }
        }
        if (rc != SQLITE_DONE) e = store_db_err(s, "read datasets");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return e;
}

gf_status gf_store_datasets(gf_store *s, int64_t tenant_id, gf_dataset_fn fn, void *ctx)
{
    gf_dataset_entry builtin = { .name = GF_DATASET_BUILTIN, .format = GF_DATASET_IDX,
                                 .path = "/usr/share/datasets/fashion-mnist", .public_ = 1 };
    if (fn(&builtin, ctx)) return GF_OK;
    return dataset_query(s, tenant_id, NULL, fn, ctx);
}

static int take_entry(const gf_dataset_entry *e, void *ctx)
{
    *(gf_dataset_entry *)ctx = *e;
    return 1;
}

gf_status gf_datasets_resolve(gf_store *s, const char *name, int64_t tenant_id, char *spec, size_t cap)
{
    gf_status e = gf_dataset_name_check(name);
    if (e) return e;
    int n;
    if (!strcmp(name, GF_DATASET_BUILTIN)) {
        n = snprintf(spec, cap, "%s", GF_DATASET_BUILTIN);
        return n < 0 || (size_t)n >= cap ? gf_errorf(GF_ERR_ARG, "dataset spec buffer too small") : GF_OK;
    }
    gf_dataset_entry d = {0};
    if ((e = dataset_query(s, tenant_id, name, take_entry, &d))) return e;
    if (!d.name[0])
        return gf_errorf(GF_ERR_ARG, "no dataset \"%s\" that this tenant may read (gf dataset list shows them)", name);
    if (d.format == GF_DATASET_NFORMATS || dsfile_check(d.format, d.path, d.test_path, d.options))
        return gf_errorf(GF_ERR_IO, "dataset \"%s\": its files are no longer as registered (moved, replaced, or "
                         "linked out of the registered folder); the operator must register it again", name);
    if (d.format != GF_DATASET_CSV)
        n = snprintf(spec, cap, "%s:%s%s%s", gf_dataset_format_name(d.format), d.path, d.options[0] ? "," : "",
                     d.options);
    else if (d.test_path[0]) n = snprintf(spec, cap, "csv:%s,label=%s,test=%s", d.path, d.label, d.test_path);
    else n = snprintf(spec, cap, "csv:%s,label=%s", d.path, d.label);
    return n < 0 || (size_t)n >= cap ? gf_errorf(GF_ERR_ARG, "dataset spec buffer too small") : GF_OK;
}
