/* The coordinator's durable store: owns the SQLite schema and its
 * migrations, the job state rules and the round bookkeeping described in
 * store.h. Every statement is prepared with bound parameters; every
 * operation is one transaction on one mutex-guarded connection. */
#include "service/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOW STORE_NOW
#define BUSY_TIMEOUT_MS 5000

static const char *const JOB_STATES[] = {"queued", "running", "succeeded", "failed", "cancelled", "timed-out"};
static const char *const ROUND_STATES[] = {"open", "completed", "aborted"};
#define NJOB_STATES   (int)(sizeof JOB_STATES / sizeof JOB_STATES[0])
#define NROUND_STATES (int)(sizeof ROUND_STATES / sizeof ROUND_STATES[0])

/* Migration i brings the schema from version i to version i + 1. */
static const char *const MIGRATIONS[] = {
    "CREATE TABLE jobs("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " spec_json TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK(state IN ('queued','running','succeeded','failed','cancelled','timed-out')),"
    " reason TEXT,"
    " round INTEGER NOT NULL DEFAULT 0 CHECK(round >= 0),"
    " created_at TEXT NOT NULL,"
    " updated_at TEXT NOT NULL);"
    "CREATE TABLE rounds("
    " job_id INTEGER NOT NULL REFERENCES jobs(id),"
    " round INTEGER NOT NULL CHECK(round >= 1),"
    " state TEXT NOT NULL CHECK(state IN ('open','completed','aborted')),"
    " sites INTEGER, duration_s REAL, train_loss REAL, accuracy REAL,"
    " reason TEXT,"
    " started_at TEXT NOT NULL, closed_at TEXT,"
    " PRIMARY KEY(job_id, round));"
    "CREATE TABLE round_results("
    " job_id INTEGER NOT NULL, round INTEGER NOT NULL, site TEXT NOT NULL,"
    " samples INTEGER NOT NULL CHECK(samples >= 0), loss REAL, accuracy REAL,"
    " bytes_up INTEGER NOT NULL CHECK(bytes_up >= 0), bytes_down INTEGER NOT NULL CHECK(bytes_down >= 0),"
    " received_at TEXT NOT NULL,"
    " PRIMARY KEY(job_id, round, site),"
    " FOREIGN KEY(job_id, round) REFERENCES rounds(job_id, round));"
    "CREATE TABLE job_state_log("
    " job_id INTEGER NOT NULL REFERENCES jobs(id),"
    " at TEXT NOT NULL,"
    " from_state TEXT,"
    " to_state TEXT NOT NULL,"
    " reason TEXT NOT NULL);"
    "CREATE INDEX job_state_log_job ON job_state_log(job_id);",

    /* 2: tenants, API tokens, jobs' tenants, the runtime of executed jobs and
     * the append-only usage ledger */
    "CREATE TABLE tenants("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " shares INTEGER NOT NULL CHECK(shares >= 1),"
    " quota_cpu_s REAL CHECK(quota_cpu_s >= 0),"
    " quota_gpu_s REAL CHECK(quota_gpu_s >= 0),"
    " created_at TEXT NOT NULL);"
    "CREATE TABLE tokens("
    " id INTEGER PRIMARY KEY,"
    " hash TEXT NOT NULL UNIQUE,"
    " tenant_id INTEGER REFERENCES tenants(id),"
    " role TEXT NOT NULL CHECK(role IN ('member','operator')),"
    " created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT,"
    " CHECK(role = 'operator' OR tenant_id IS NOT NULL));"
    "ALTER TABLE jobs ADD COLUMN tenant_id INTEGER REFERENCES tenants(id);"
    "CREATE TABLE job_exec("
    " job_id INTEGER PRIMARY KEY REFERENCES jobs(id),"
    " executor TEXT NOT NULL CHECK(executor IN ('local','slurm')),"
    " handle TEXT NOT NULL,"
    " started_at TEXT NOT NULL,"
    " started_unix REAL NOT NULL,"
    " cores INTEGER NOT NULL, gpus INTEGER NOT NULL,"
    " cancel_requested INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE ledger("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " job_id INTEGER NOT NULL REFERENCES jobs(id),"
    " tenant_id INTEGER REFERENCES tenants(id),"
    " site TEXT NOT NULL DEFAULT '',"
    " kind TEXT NOT NULL, executor TEXT NOT NULL,"
    " core_s REAL NOT NULL CHECK(core_s >= 0), cpu_s REAL NOT NULL CHECK(cpu_s >= 0),"
    " gpu_s REAL NOT NULL CHECK(gpu_s >= 0), peak_mem_kb INTEGER NOT NULL CHECK(peak_mem_kb >= 0),"
    " wall_s REAL NOT NULL CHECK(wall_s >= 0),"
    " bytes_up INTEGER NOT NULL CHECK(bytes_up >= 0), bytes_down INTEGER NOT NULL CHECK(bytes_down >= 0),"
    " started_at TEXT, ended_at TEXT NOT NULL, ended_unix REAL NOT NULL, recorded_at TEXT NOT NULL,"
    " UNIQUE(job_id, site));"
    "CREATE INDEX ledger_tenant ON ledger(tenant_id, ended_at);"
    "CREATE TRIGGER ledger_append_only_u BEFORE UPDATE ON ledger BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;"
    "CREATE TRIGGER ledger_append_only_d BEFORE DELETE ON ledger BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;",

    /* 3: the datasets registry (datasets.h) and tenant names unique
     * regardless of case (they name Slurm accounts and folders) */
    "CREATE TABLE datasets("
    " name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,"
    " format TEXT NOT NULL CHECK(format IN ('idx','csv')),"
    " path TEXT NOT NULL, label TEXT, test_path TEXT,"
    " public INTEGER NOT NULL CHECK(public IN (0,1)),"
    " created_at TEXT NOT NULL);"
    "CREATE TABLE dataset_grants("
    " dataset TEXT NOT NULL REFERENCES datasets(name),"
    " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
    " PRIMARY KEY(dataset, tenant_id));"
    "CREATE UNIQUE INDEX tenants_name_nocase ON tenants(lower(name));",

    /* 4: sites granted to tenants (site_grants.h) */
    "CREATE TABLE site_grants("
    " site TEXT NOT NULL,"
    " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
    " granted_at TEXT NOT NULL,"
    " PRIMARY KEY(site, tenant_id));",

    /* 5: the datasets registry knows every reader of data/dataset.h and keeps
     * a reader options string; .npz files, stored as 'csv' before, become
     * 'npz'. SQLite cannot alter a CHECK: the table is rebuilt, and so is
     * dataset_grants, whose rows refer to it (foreign keys are on). */
    "CREATE TABLE datasets_v4 AS SELECT * FROM datasets;"
    "CREATE TABLE dataset_grants_v4 AS SELECT * FROM dataset_grants;"
    "DROP TABLE dataset_grants;"
    "DROP TABLE datasets;"
    "CREATE TABLE datasets("
    " name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,"
    " format TEXT NOT NULL CHECK(format IN ('idx','csv','npz','plink','vcf','nifti','dicom','imagedir')),"
    " path TEXT NOT NULL, label TEXT, test_path TEXT, options TEXT,"
    " public INTEGER NOT NULL CHECK(public IN (0,1)),"
    " created_at TEXT NOT NULL);"
    "INSERT INTO datasets(name, format, path, label, test_path, public, created_at)"
    " SELECT name, CASE WHEN format = 'csv' AND lower(path) LIKE '%.npz' THEN 'npz' ELSE format END,"
    " path, CASE WHEN format = 'csv' AND lower(path) LIKE '%.npz' THEN NULL ELSE label END, test_path,"
    " public, created_at FROM datasets_v4;"
    "CREATE TABLE dataset_grants("
    " dataset TEXT NOT NULL REFERENCES datasets(name),"
    " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
    " PRIMARY KEY(dataset, tenant_id));"
    "INSERT INTO dataset_grants(dataset, tenant_id) SELECT dataset, tenant_id FROM dataset_grants_v4;"
    "DROP TABLE dataset_grants_v4;"
    "DROP TABLE datasets_v4;",
};
#define NMIGRATIONS (int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0])

_Static_assert(NMIGRATIONS == GF_STORE_SCHEMA_VERSION, "one migration per schema version");

const char *gf_store_job_state_name(gf_store_job_state st)
{
    return (int)st >= 0 && (int)st < NJOB_STATES ? JOB_STATES[st] : "?";
}

const char *gf_store_round_state_name(gf_store_round_state st)
{
    return (int)st >= 0 && (int)st < NROUND_STATES ? ROUND_STATES[st] : "?";
}

static int parse_state(const char *const *names, int n, const unsigned char *text)
{
    for (int i = 0; text && i < n; i++)
        if (strcmp(names[i], (const char *)text) == 0) return i;
    return -1;
}

/* ---- SQLite helpers ------------------------------------------------------ */

gf_status store_db_err(gf_store *s, const char *what)
{
    int code = sqlite3_errcode(s->db) & 0xff;
    gf_status st = GF_ERR_IO;
    if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) st = GF_ERR_FORMAT;
    else if (code == SQLITE_NOMEM) st = GF_ERR_NOMEM;
    else if (code == SQLITE_CONSTRAINT) st = GF_ERR_MISMATCH;
    return gf_errorf(st, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* Prepares sql and binds its parameters in order; types has one letter per
 * parameter: 'i' int64_t, 'd' double, 't' const char * (NULL binds NULL). */
gf_status store_vprep(gf_store *s, sqlite3_stmt **out, const char *what, const char *sql, const char *types,
                       va_list ap)
{
    sqlite3_stmt *st = NULL;
    *out = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return store_db_err(s, what);
    int rc = SQLITE_OK;
    for (int i = 0; types[i] && rc == SQLITE_OK; i++) {
        switch (types[i]) {
        case 'i': rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t)); break;
        case 'd': rc = sqlite3_bind_double(st, i + 1, va_arg(ap, double)); break;
        default:  rc = sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT); break;
        }
    }
    if (rc != SQLITE_OK) {
        gf_status e = store_db_err(s, what);
        sqlite3_finalize(st);
        return e;
    }
    *out = st;
    return GF_OK;
}

gf_status store_prep(gf_store *s, sqlite3_stmt **out, const char *what, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    gf_status st = store_vprep(s, out, what, sql, types, ap);
    va_end(ap);
    return st;
}

/* Runs a statement that returns no rows. */
gf_status store_run(gf_store *s, const char *what, const char *sql, const char *types, ...)
{
    sqlite3_stmt *st;
    va_list ap;
    va_start(ap, types);
    gf_status e = store_vprep(s, &st, what, sql, types, ap);
    va_end(ap);
    if (e != GF_OK) return e;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) e = store_db_err(s, what);
    sqlite3_finalize(st);
    return e;
}

/* Runs a query for one integer: *found = 0 when it returns no row (or NULL). */
gf_status store_query_int(gf_store *s, const char *what, int64_t *val, int *found, const char *sql,
                           const char *types, ...)
{
    sqlite3_stmt *st;
    va_list ap;
    va_start(ap, types);
    gf_status e = store_vprep(s, &st, what, sql, types, ap);
    va_end(ap);
    if (e != GF_OK) return e;
    *found = 0;
    *val = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *found = 1;
        *val = sqlite3_column_int64(st, 0);
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        e = store_db_err(s, what);
    }
    sqlite3_finalize(st);
    return e;
}

void store_copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

double store_column_real(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? NAN : sqlite3_column_double(st, col);
}

/* Starts a transaction under the mutex: IMMEDIATE (write lock now) for
 * writes, DEFERRED for multi-statement reads. */
gf_status store_tx_begin(gf_store *s, int write)
{
    pthread_mutex_lock(&s->mu);
    if (sqlite3_exec(s->db, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        gf_status e = store_db_err(s, "begin transaction");
        pthread_mutex_unlock(&s->mu);
        return e;
    }
    return GF_OK;
}

/* Commits when st is GF_OK, else rolls back; releases the mutex. */
gf_status store_tx_end(gf_store *s, gf_status st)
{
    if (st == GF_OK && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        st = store_db_err(s, "commit");
    if (st != GF_OK && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* ---- argument checks ----------------------------------------------------- */

gf_status store_check_text(const char *what, const char *v, size_t max)
{
    if (!v || !*v) return gf_errorf(GF_ERR_ARG, "store: %s is empty", what);
    if (strlen(v) > max) return gf_errorf(GF_ERR_ARG, "store: %s is longer than %zu bytes", what, max);
    return GF_OK;
}

gf_status store_check_real(const char *what, double v)
{
    if (isinf(v)) return gf_errorf(GF_ERR_NUMERIC, "store: %s is infinite", what);
    return GF_OK;
}

/* ---- open / close -------------------------------------------------------- */

static gf_status migrate(gf_store *s)
{
    gf_status e = store_run(s, "create schema_version", "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)", "");
    int64_t version = 0, others = 0;
    int found;
    if (e == GF_OK)
        e = store_query_int(s, "read schema_version", &version, &found, "SELECT max(version) FROM schema_version", "");
    if (e != GF_OK) return e;
    if (version > GF_STORE_SCHEMA_VERSION)
        return gf_errorf(GF_ERR_MISMATCH, "%s: schema version %lld is newer than this build supports (%d); "
                         "upgrade gf to open it", s->path, (long long)version, GF_STORE_SCHEMA_VERSION);
    if (version < 0)
        return gf_errorf(GF_ERR_FORMAT, "%s: invalid schema version %lld", s->path, (long long)version);
    if (version == 0) {
        e = store_query_int(s, "read sqlite_master", &others, &found,
                      "SELECT count(*) FROM sqlite_master WHERE name <> 'schema_version'", "");
        if (e != GF_OK) return e;
        if (others > 0)
            return gf_errorf(GF_ERR_FORMAT, "%s: an SQLite database of something else (no schema version, "
                             "%lld other objects)", s->path, (long long)others);
    }
    for (int64_t v = version; v < GF_STORE_SCHEMA_VERSION; v++) {
        if (sqlite3_exec(s->db, MIGRATIONS[v], NULL, NULL, NULL) != SQLITE_OK) {
            char what[64];
            snprintf(what, sizeof what, "migration to schema version %lld", (long long)v + 1);
            return store_db_err(s, what);
        }
    }
    if (version < GF_STORE_SCHEMA_VERSION) {
        e = store_run(s, "write schema_version", "DELETE FROM schema_version", "");
        if (e == GF_OK)
            e = store_run(s, "write schema_version", "INSERT INTO schema_version(version) VALUES(?)", "i",
                    (int64_t)GF_STORE_SCHEMA_VERSION);
    }
    return e;
}

static gf_status make_dir(const char *dir)
{
    if (mkdir(dir, 0700) == 0) return GF_OK;
    if (errno != EEXIST) return gf_errorf(GF_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
    struct stat sb;
    if (stat(dir, &sb) != 0) return gf_errorf(GF_ERR_IO, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return gf_errorf(GF_ERR_IO, "%s: exists and is not a directory", dir);
    return GF_OK;
}

static gf_status configure(gf_store *s)
{
    sqlite3_extended_result_codes(s->db, 1);
    if (sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS) != SQLITE_OK) return store_db_err(s, "set busy timeout");
    if (sqlite3_exec(s->db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL) != SQLITE_OK)
        return store_db_err(s, "enable foreign keys");
    sqlite3_stmt *st;
    gf_status e = store_prep(s, &st, "set WAL journal mode", "PRAGMA journal_mode=WAL", "");
    if (e != GF_OK) return e;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        e = store_db_err(s, "set WAL journal mode");
    } else {
        const unsigned char *mode = sqlite3_column_text(st, 0);
        if (!mode || strcmp((const char *)mode, "wal") != 0)
            e = gf_errorf(GF_ERR_IO, "%s: journal mode is %s, not wal", s->path, mode ? (const char *)mode : "?");
    }
    sqlite3_finalize(st);
    if (e == GF_OK && sqlite3_exec(s->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK)
        e = store_db_err(s, "set synchronous=FULL");
    return e;
}

/* The read-only connection of s (see store_internal.h). */
static gf_status open_reader(gf_store *s)
{
    gf_store *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(s->path))) {
        free(r);
        return gf_errorf(GF_ERR_NOMEM, "store: out of memory opening %s", s->path);
    }
    if (sqlite3_open_v2(s->path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
        gf_status e = r->db ? store_db_err(r, "open for reading") : gf_errorf(GF_ERR_NOMEM, "store: out of memory");
        sqlite3_close(r->db);
        free(r->path);
        free(r);
        return e;
    }
    pthread_mutex_init(&r->mu, NULL);
    sqlite3_extended_result_codes(r->db, 1);
    if (sqlite3_busy_timeout(r->db, BUSY_TIMEOUT_MS) != SQLITE_OK) {
        gf_status e = store_db_err(r, "set busy timeout");
        gf_store_close(r);
        return e;
    }
    s->reader = r;
    return GF_OK;
}

gf_status gf_store_open(const char *dir, gf_store **out)
{
    if (!out) return gf_errorf(GF_ERR_ARG, "store: no output handle");
    *out = NULL;
    if (!dir || !*dir) return gf_errorf(GF_ERR_ARG, "store: empty directory name");
    gf_status e = make_dir(dir);
    if (e != GF_OK) return e;

    gf_store *s = calloc(1, sizeof *s);
    size_t plen = strlen(dir) + sizeof "/state.db";
    char *path = malloc(plen);
    if (!s || !path) {
        free(s);
        free(path);
        return gf_errorf(GF_ERR_NOMEM, "store: out of memory opening %s", dir);
    }
    snprintf(path, plen, "%s/state.db", dir);
    s->path = path;

    /* create the file ourselves so it (and SQLite's -wal/-shm) get mode 0600 */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        e = gf_errorf(GF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        free(path);
        free(s);
        return e;
    }
    close(fd);

    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        e = s->db ? store_db_err(s, "open") : gf_errorf(GF_ERR_NOMEM, "%s: out of memory opening the database", path);
        sqlite3_close(s->db);
        free(path);
        free(s);
        return e;
    }
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        sqlite3_close(s->db);
        free(path);
        free(s);
        return gf_errorf(GF_ERR_NOMEM, "store: cannot create a mutex for %s", dir);
    }
    e = configure(s);
    if (e == GF_OK) e = store_tx_begin(s, 1);
    if (e == GF_OK) e = store_tx_end(s, migrate(s));
    if (e == GF_OK) e = open_reader(s);
    if (e != GF_OK) {
        gf_store_close(s);
        return e;
    }
    *out = s;
    return GF_OK;
}

void gf_store_close(gf_store *s)
{
    if (!s) return;
    gf_store_close(s->reader);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    free(s->path);
    free(s);
}

/* ---- jobs ---------------------------------------------------------------- */

#define JOB_COLUMNS "j.id, j.name, j.kind, j.spec_json, j.state, j.reason, j.round, j.created_at, j.updated_at, " \
                    "j.tenant_id, t.name"
#define JOB_FROM    " FROM jobs j LEFT JOIN tenants t ON t.id = j.tenant_id "

/* Fills *j from a row of JOB_COLUMNS; spec_json is malloc'd when copy_spec,
 * else points into the statement (valid until the next step). */
static gf_status job_from_row(gf_store *s, sqlite3_stmt *st, gf_store_job *j, int copy_spec)
{
    memset(j, 0, sizeof *j);
    j->id = sqlite3_column_int64(st, 0);
    store_copy_text(j->name, sizeof j->name, st, 1);
    store_copy_text(j->kind, sizeof j->kind, st, 2);
    const char *spec = (const char *)sqlite3_column_text(st, 3);
    int state = parse_state(JOB_STATES, NJOB_STATES, sqlite3_column_text(st, 4));
    if (state < 0) return gf_errorf(GF_ERR_FORMAT, "%s: job %lld has an unknown state", s->path, (long long)j->id);
    j->state = (gf_store_job_state)state;
    store_copy_text(j->reason, sizeof j->reason, st, 5);
    j->round = sqlite3_column_int64(st, 6);
    store_copy_text(j->created_at, sizeof j->created_at, st, 7);
    store_copy_text(j->updated_at, sizeof j->updated_at, st, 8);
    j->tenant_id = sqlite3_column_int64(st, 9);
    store_copy_text(j->tenant, sizeof j->tenant, st, 10);
    if (!spec) spec = "";
    if (!copy_spec) {
        j->spec_json = (char *)spec;
        return GF_OK;
    }
    j->spec_json = strdup(spec);
    if (!j->spec_json) return gf_errorf(GF_ERR_NOMEM, "store: out of memory reading job %lld", (long long)j->id);
    return GF_OK;
}

/* Reads a job's state and last completed round (inside a transaction). */
static gf_status job_row(gf_store *s, int64_t id, gf_store_job_state *state, int64_t *round)
{
    sqlite3_stmt *st;
    gf_status e = store_prep(s, &st, "read job", "SELECT state, round FROM jobs WHERE id = ?", "i", id);
    if (e != GF_OK) return e;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        e = gf_errorf(GF_ERR_ARG, "store: no job %lld", (long long)id);
    } else if (rc != SQLITE_ROW) {
        e = store_db_err(s, "read job");
    } else {
        int v = parse_state(JOB_STATES, NJOB_STATES, sqlite3_column_text(st, 0));
        if (v < 0) e = gf_errorf(GF_ERR_FORMAT, "%s: job %lld has an unknown state", s->path, (long long)id);
        else *state = (gf_store_job_state)v;
        *round = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return e;
}

gf_status gf_store_job_create(gf_store *s, int64_t tenant_id, const char *name, const char *kind,
                              const char *spec_json, int64_t *id)
{
    return gf_store_job_create_capped(s, tenant_id, name, kind, spec_json, 0, id);
}

gf_status gf_store_job_create_capped(gf_store *s, int64_t tenant_id, const char *name, const char *kind,
                                     const char *spec_json, int max_active, int64_t *id)
{
    if (!s || !id) return gf_errorf(GF_ERR_ARG, "store: job_create without a store or id output");
    gf_status e = store_check_text("job name", name, GF_STORE_NAME_MAX);
    if (e == GF_OK) e = store_check_text("job kind", kind, GF_STORE_KIND_MAX);
    if (e == GF_OK && (!spec_json || !*spec_json)) e = gf_errorf(GF_ERR_ARG, "store: job spec is empty");
    if (e != GF_OK) return e;
    if ((e = store_tx_begin(s, 1)) != GF_OK) return e;
    int64_t known = 0;
    int found = 0;
    if (tenant_id)
        e = store_query_int(s, "find tenant", &known, &found, "SELECT id FROM tenants WHERE id = ?", "i", tenant_id);
    if (e == GF_OK && tenant_id && !found) e = gf_errorf(GF_ERR_ARG, "store: no tenant %lld", (long long)tenant_id);
    if (e == GF_OK && tenant_id && max_active > 0) {   /* counted and inserted in one write transaction */
        int64_t active = 0;
        e = store_query_int(s, "count active jobs", &active, &found,
                            "SELECT count(*) FROM jobs WHERE tenant_id = ? AND kind = ? AND state IN ('queued', 'running')",
                            "it", tenant_id, kind);
        if (e == GF_OK && active >= max_active)
            e = gf_errorf(GF_ERR_MISMATCH, "store: tenant %lld has %lld queued or running %s jobs, the most allowed",
                          (long long)tenant_id, (long long)active, kind);
    }
    if (e == GF_OK)
        e = store_run(s, "insert job",
                      "INSERT INTO jobs(name, kind, spec_json, state, reason, round, created_at, updated_at, tenant_id) "
                      "VALUES(?, ?, ?, 'queued', 'submitted', 0, " NOW ", " NOW ", nullif(?, 0))", "ttti", name, kind,
                      spec_json, tenant_id);
    int64_t new_id = sqlite3_last_insert_rowid(s->db);
    if (e == GF_OK)
        e = store_run(s, "log job state",
                "INSERT INTO job_state_log(job_id, at, from_state, to_state, reason) "
                "VALUES(?, " NOW ", NULL, 'queued', 'submitted')", "i", new_id);
    e = store_tx_end(s, e);
    if (e == GF_OK) *id = new_id;
    return e;
}

gf_status gf_store_job_get(gf_store *s, int64_t id, gf_store_job *out)
{
    s = store_reader(s);
    if (!s || !out) return gf_errorf(GF_ERR_ARG, "store: job_get without a store or output");
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    gf_status e = store_prep(s, &st, "read job", "SELECT " JOB_COLUMNS JOB_FROM "WHERE j.id = ?", "i", id);
    if (e == GF_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) e = job_from_row(s, st, out, 1);
        else if (rc == SQLITE_DONE) e = gf_errorf(GF_ERR_ARG, "store: no job %lld", (long long)id);
        else e = store_db_err(s, "read job");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    if (e != GF_OK) gf_store_job_free(out);
    return e;
}

void gf_store_job_free(gf_store_job *job)
{
    if (!job) return;
    free(job->spec_json);
    memset(job, 0, sizeof *job);
}

gf_status gf_store_job_list(gf_store *s, gf_store_job_fn fn, void *ctx)
{
    s = store_reader(s);
    if (!s || !fn) return gf_errorf(GF_ERR_ARG, "store: job_list without a store or callback");
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    gf_status e = store_prep(s, &st, "list jobs", "SELECT " JOB_COLUMNS JOB_FROM "ORDER BY j.id", "");
    if (e == GF_OK) {
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            gf_store_job j;
            if ((e = job_from_row(s, st, &j, 0)) != GF_OK || fn(&j, ctx)) break;
        }
        if (e == GF_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) e = store_db_err(s, "list jobs");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return e;
}

static int is_final(gf_store_job_state st)
{
    return st != GF_STORE_JOB_QUEUED && st != GF_STORE_JOB_RUNNING;
}

static int transition_ok(gf_store_job_state from, gf_store_job_state to)
{
    if (from == GF_STORE_JOB_QUEUED)
        return to == GF_STORE_JOB_RUNNING || to == GF_STORE_JOB_CANCELLED || to == GF_STORE_JOB_FAILED;
    if (from == GF_STORE_JOB_RUNNING) return is_final(to);
    return 0;
}

gf_status store_job_transition(gf_store *s, int64_t id, gf_store_job_state to, const char *reason)
{
    gf_store_job_state from = GF_STORE_JOB_QUEUED;
    int64_t round = 0;
    gf_status e = job_row(s, id, &from, &round);
    if (e == GF_OK && !transition_ok(from, to))
        e = gf_errorf(GF_ERR_MISMATCH, "store: job %lld cannot go from %s to %s%s", (long long)id, JOB_STATES[from],
                      JOB_STATES[to], is_final(from) ? " (its state is final)" : "");
    if (e == GF_OK && is_final(to)) {
        e = store_run(s, "drop results of the open round",
                "DELETE FROM round_results WHERE job_id = ? AND round IN "
                "(SELECT round FROM rounds WHERE job_id = ? AND state = 'open')", "ii", id, id);
        if (e == GF_OK)
            e = store_run(s, "abort the open round",
                    "UPDATE rounds SET state = 'aborted', closed_at = " NOW ", reason = 'job ' || ? || ': ' || ? "
                    "WHERE job_id = ? AND state = 'open'", "tti", JOB_STATES[to], reason, id);
    }
    if (e == GF_OK)
        e = store_run(s, "update job state", "UPDATE jobs SET state = ?, reason = ?, updated_at = " NOW " WHERE id = ?",
                "tti", JOB_STATES[to], reason, id);
    if (e == GF_OK)
        e = store_run(s, "log job state",
                "INSERT INTO job_state_log(job_id, at, from_state, to_state, reason) VALUES(?, " NOW ", ?, ?, ?)",
                "ittt", id, JOB_STATES[from], JOB_STATES[to], reason);
    return e;
}

gf_status gf_store_job_set_state(gf_store *s, int64_t id, gf_store_job_state to, const char *reason)
{
    if (!s) return gf_errorf(GF_ERR_ARG, "store: job_set_state without a store");
    if ((int)to < 0 || (int)to >= NJOB_STATES) return gf_errorf(GF_ERR_ARG, "store: unknown job state %d", (int)to);
    gf_status e = store_check_text("state change reason", reason, GF_STORE_REASON_MAX);
    if (e != GF_OK) return e;
    if ((e = store_tx_begin(s, 1)) != GF_OK) return e;
    return store_tx_end(s, store_job_transition(s, id, to, reason));
}

gf_status gf_store_job_cancel_queued(gf_store *s, int64_t id, const char *reason)
{
    if (!s) return gf_errorf(GF_ERR_ARG, "store: job_cancel_queued without a store");
    gf_status e = store_check_text("state change reason", reason, GF_STORE_REASON_MAX);
    if (e != GF_OK) return e;
    if ((e = store_tx_begin(s, 1)) != GF_OK) return e;
    gf_store_job_state from = GF_STORE_JOB_QUEUED;
    int64_t round = 0;
    e = job_row(s, id, &from, &round);
    if (e == GF_OK && from != GF_STORE_JOB_QUEUED)
        e = gf_errorf(GF_ERR_MISMATCH, "store: job %lld is %s, not queued", (long long)id, JOB_STATES[from]);
    if (e == GF_OK) e = store_job_transition(s, id, GF_STORE_JOB_CANCELLED, reason);
    return store_tx_end(s, e);
}

gf_status gf_store_job_set_reason(gf_store *s, int64_t id, const char *reason)
{
    if (!s) return gf_errorf(GF_ERR_ARG, "store: job_set_reason without a store");
    gf_status e = store_check_text("reason", reason, GF_STORE_REASON_MAX);
    if (e != GF_OK) return e;
    if ((e = store_tx_begin(s, 1)) != GF_OK) return e;
    gf_store_job_state state = GF_STORE_JOB_QUEUED;
    int64_t round = 0;
    e = job_row(s, id, &state, &round);
    if (e == GF_OK && is_final(state))
        e = gf_errorf(GF_ERR_MISMATCH, "store: job %lld is %s; its reason is final", (long long)id, JOB_STATES[state]);
    if (e == GF_OK)
        e = store_run(s, "update job reason", "UPDATE jobs SET reason = ?, updated_at = " NOW " WHERE id = ? AND "
                      "reason IS NOT ?", "tit", reason, id, reason);
    return store_tx_end(s, e);
}

gf_status gf_store_job_log(gf_store *s, int64_t id, gf_store_log_fn fn, void *ctx)
{
    s = store_reader(s);
    if (!s || !fn) return gf_errorf(GF_ERR_ARG, "store: job_log without a store or callback");
    gf_status e = store_tx_begin(s, 0);
    if (e != GF_OK) return e;
    gf_store_job_state state;
    int64_t round;
    sqlite3_stmt *st = NULL;
    e = job_row(s, id, &state, &round);
    if (e == GF_OK)
        e = store_prep(s, &st, "read job state log",
                 "SELECT at, from_state, to_state, reason FROM job_state_log WHERE job_id = ? ORDER BY rowid", "i", id);
    if (e == GF_OK) {
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            gf_store_log_entry l;
            memset(&l, 0, sizeof l);
            l.job_id = id;
            store_copy_text(l.at, sizeof l.at, st, 0);
            int from = parse_state(JOB_STATES, NJOB_STATES, sqlite3_column_text(st, 1));
            int to = parse_state(JOB_STATES, NJOB_STATES, sqlite3_column_text(st, 2));
            if (to < 0 || (from < 0 && sqlite3_column_type(st, 1) != SQLITE_NULL)) {
                e = gf_errorf(GF_ERR_FORMAT, "%s: job %lld: unknown state in the state log", s->path, (long long)id);
                break;
            }
            l.has_from = from >= 0;
            l.from = from >= 0 ? (gf_store_job_state)from : GF_STORE_JOB_QUEUED;
            l.to = (gf_store_job_state)to;
            store_copy_text(l.reason, sizeof l.reason, st, 3);
            if (fn(&l, ctx)) break;
        }
        if (e == GF_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) e = store_db_err(s, "read job state log");
        sqlite3_finalize(st);
    }
    return store_tx_end(s, e);
}

/* ---- rounds -------------------------------------------------------------- */

#define ROUND_COLUMNS "job_id, round, state, sites, duration_s, train_loss, accuracy, reason, started_at, closed_at"

static gf_status round_from_row(gf_store *s, sqlite3_stmt *st, gf_store_round *r)
{
    memset(r, 0, sizeof *r);
    r->job_id = sqlite3_column_int64(st, 0);
    r->round = sqlite3_column_int64(st, 1);
    int state = parse_state(ROUND_STATES, NROUND_STATES, sqlite3_column_text(st, 2));
    if (state < 0)
        return gf_errorf(GF_ERR_FORMAT, "%s: job %lld round %lld has an unknown state", s->path,
                         (long long)r->job_id, (long long)r->round);
    r->state = (gf_store_round_state)state;
    r->sites = sqlite3_column_int(st, 3);
    r->duration_s = store_column_real(st, 4);
    r->train_loss = store_column_real(st, 5);
    r->accuracy = store_column_real(st, 6);
    store_copy_text(r->reason, sizeof r->reason, st, 7);
    store_copy_text(r->started_at, sizeof r->started_at, st, 8);
    store_copy_text(r->closed_at, sizeof r->closed_at, st, 9);
    return GF_OK;
}

/* Reads a round's state (inside a transaction); *exists = 0 when missing. */
static gf_status round_row(gf_store *s, int64_t job, int64_t round, int *exists, gf_store_round_state *state)
{
    sqlite3_stmt *st;
    gf_status e = store_prep(s, &st, "read round", "SELECT state FROM rounds WHERE job_id = ? AND round = ?", "ii", job,
                       round);
    if (e != GF_OK) return e;
    *exists = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int v = parse_state(ROUND_STATES, NROUND_STATES, sqlite3_column_text(st, 0));
        if (v < 0)
            e = gf_errorf(GF_ERR_FORMAT, "%s: job %lld round %lld has an unknown state", s->path, (long long)job,
                          (long long)round);
        *exists = 1;
        *state = v < 0 ? GF_STORE_ROUND_ABORTED : (gf_store_round_state)v;
    } else if (rc != SQLITE_DONE) {
        e = store_db_err(s, "read round");
    }
    sqlite3_finalize(st);
    return e;
}

/* The round must exist and be open (inside a transaction). */
static gf_status require_open(gf_store *s, int64_t job, int64_t round)
{
    int exists = 0;
    gf_store_round_state state = GF_STORE_ROUND_OPEN;
    gf_status e = round_row(s, job, round, &exists, &state);
    if (e != GF_OK) return e;
    if (!exists)
        return gf_errorf(GF_ERR_MISMATCH, "store: job %lld round %lld is not open (never opened)", (long long)job,
                         (long long)round);
    if (state != GF_STORE_ROUND_OPEN)
        return gf_errorf(GF_ERR_MISMATCH, "store: job %lld round %lld is %s, not open", (long long)job,
                         (long long)round, ROUND_STATES[state]);
    return GF_OK;
}

/* The job must be running and `round` must be its next round. */
static gf_status require_next(gf_store *s, int64_t job, int64_t round)
{
    gf_store_job_state state = GF_STORE_JOB_QUEUED;
    int64_t last = 0;
    gf_status e = job_row(s, job, &state, &last);
    if (e != GF_OK) return e;
    if (state != GF_STORE_JOB_RUNNING)
        return gf_errorf(GF_ERR_MISMATCH, "store: job %lld is %s, not running", (long long)job, JOB_STATES[state]);
    if (round <= last)
        return gf_errorf(GF_ERR_MISMATCH, "store: job %lld round %lld is already completed (last completed round: %lld)",
                         (long long)job, (long long)round, (long long)last);
    if (round != last + 1)
        return gf_errorf(GF_ERR_MISMATCH, "store: job %lld round %lld cannot open: the next round is %lld",
                         (long long)job, (long long)round, (long long)last + 1);
    return GF_OK;
}

static gf_status check_ids(int64_t job, int64_t round)
{
    if (job <= 0) return gf_errorf(GF_ERR_ARG, "store: invalid job id %lld", (long long)job);
    if (round <= 0) return gf_errorf(GF_ERR_ARG, "store: invalid round %lld (rounds start at 1)", (long long)round);
    return GF_OK;
}

/* The bodies of the round operations, run inside a caller's transaction. */
/* A wall-clock time (seconds since 1970) as the store writes its times,
 * "YYYY-MM-DDTHH:MM:SS.mmmZ"; NULL for NAN (the transaction's own clock). */
static const char *stamp(double t, char out[32])
{
    if (isnan(t) || t < 0 || t > 253402300799.0) return NULL;
    long long ms = llround(t * 1000.0);
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&sec, &tm)) return NULL;
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
    return out;
}

/* Opens round (== job.round + 1), started at `at` (NULL: now). */
static gf_status open_in_tx(gf_store *s, int64_t job, int64_t round, const char *at)
{
    gf_status e = require_next(s, job, round);
    int exists = 0;
    gf_store_round_state state = GF_STORE_ROUND_OPEN;
    if (e == GF_OK) e = round_row(s, job, round, &exists, &state);
    if (e == GF_OK && !exists)
        e = store_run(s, "open round", "INSERT INTO rounds(job_id, round, state, started_at) VALUES(?, ?, 'open', "
                "coalesce(?, " NOW "))", "iit", job, round, at);
    else if (e == GF_OK && state == GF_STORE_ROUND_ABORTED)
        e = store_run(s, "reopen round",
                "UPDATE rounds SET state = 'open', sites = NULL, duration_s = NULL, train_loss = NULL, "
                "accuracy = NULL, reason = NULL, started_at = coalesce(?, " NOW "), closed_at = NULL "
                "WHERE job_id = ? AND round = ?", "tii", at, job, round);
    else if (e == GF_OK && state == GF_STORE_ROUND_COMPLETED)
        e = gf_errorf(GF_ERR_MISMATCH, "store: job %lld round %lld is already completed", (long long)job,
                      (long long)round);
    return e;
}

static gf_status check_result(const char *site, int64_t samples, double loss, double accuracy, int64_t bytes_up,
                              int64_t bytes_down)
{
    gf_status e = store_check_text("site name", site, GF_STORE_NAME_MAX);
    if (e == GF_OK && (samples < 0 || bytes_up < 0 || bytes_down < 0))
        e = gf_errorf(GF_ERR_ARG, "store: negative samples or byte count from site %s", site);
    if (e == GF_OK) e = store_check_real("result loss", loss);
    if (e == GF_OK) e = store_check_real("result accuracy", accuracy);
    return e;
}

static gf_status add_result_in_tx(gf_store *s, int64_t job, int64_t round, const char *site, int64_t samples,
                                  double loss, double accuracy, int64_t bytes_up, int64_t bytes_down)
{
    gf_status e = require_open(s, job, round);
    int64_t dup = 0;
    int found = 0;
    if (e == GF_OK)
        e = store_query_int(s, "look up result", &dup, &found,
                      "SELECT 1 FROM round_results WHERE job_id = ? AND round = ? AND site = ?", "iit", job, round, site);
    if (e == GF_OK && found)
        e = gf_errorf(GF_ERR_MISMATCH, "store: job %lld round %lld: site %s already sent a result in this round",
                      (long long)job, (long long)round, site);
    if (e == GF_OK)
        e = store_run(s, "insert result",
                "INSERT INTO round_results(job_id, round, site, samples, loss, accuracy, bytes_up, bytes_down, "
                "received_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, " NOW ")",
                "iitiddii", job, round, site, samples, loss, accuracy, bytes_up, bytes_down);
    return e;
}

static gf_status check_completion(int64_t job, int64_t round, int sites, double duration_s, double train_loss,
                                  double accuracy)
{
    gf_status e = check_ids(job, round);
    if (e == GF_OK && sites < 1)
        e = gf_errorf(GF_ERR_ARG, "store: job %lld round %lld: cannot complete with %d sites (abort it instead)",
                      (long long)job, (long long)round, sites);
    if (e == GF_OK && !(duration_s >= 0) )
        e = gf_errorf(GF_ERR_ARG, "store: job %lld round %lld: invalid duration %g", (long long)job,
                      (long long)round, duration_s);
    if (e == GF_OK) e = store_check_real("round duration", duration_s);
    if (e == GF_OK) e = store_check_real("round train loss", train_loss);
    if (e == GF_OK) e = store_check_real("round accuracy", accuracy);
    return e;
}

/* Completes the open round, closed at `at` (NULL: now). */
static gf_status complete_in_tx(gf_store *s, int64_t job, int64_t round, int sites, double duration_s,
                                double train_loss, double accuracy, const char *at)
{
    gf_status e = require_next(s, job, round);
    if (e == GF_OK) e = require_open(s, job, round);
    int64_t n = 0;
    int found = 0;
    if (e == GF_OK)
        e = store_query_int(s, "count results", &n, &found,
                      "SELECT count(*) FROM round_results WHERE job_id = ? AND round = ?", "ii", job, round);
    if (e == GF_OK && n != sites)
        e = gf_errorf(GF_ERR_MISMATCH, "store: job %lld round %lld: completing with %d sites but %lld results are stored",
                      (long long)job, (long long)round, sites, (long long)n);
    if (e == GF_OK)
        e = store_run(s, "complete round",
                "UPDATE rounds SET state = 'completed', sites = ?, duration_s = ?, train_loss = ?, accuracy = ?, "
                "closed_at = coalesce(?, " NOW ") WHERE job_id = ? AND round = ?",
                "idddtii", (int64_t)sites, duration_s, train_loss, accuracy, at, job, round);
    if (e == GF_OK)
        e = store_run(s, "advance job round", "UPDATE jobs SET round = ?, updated_at = " NOW " WHERE id = ?", "ii", round, job);
    return e;
}

gf_status gf_store_round_open(gf_store *s, int64_t job, int64_t round)
{
    if (!s) return gf_errorf(GF_ERR_ARG, "store: round_open without a store");
    gf_status e = check_ids(job, round);
    if (e != GF_OK || (e = store_tx_begin(s, 1)) != GF_OK) return e;
    return store_tx_end(s, open_in_tx(s, job, round, NULL));
}

gf_status gf_store_round_add_result(gf_store *s, int64_t job, int64_t round, const char *site, int64_t samples,
                                    double loss, double accuracy, int64_t bytes_up, int64_t bytes_down)
{
    if (!s) return gf_errorf(GF_ERR_ARG, "store: round_add_result without a store");
    gf_status e = check_ids(job, round);
    if (e == GF_OK) e = check_result(site, samples, loss, accuracy, bytes_up, bytes_down);
    if (e != GF_OK || (e = store_tx_begin(s, 1)) != GF_OK) return e;
    return store_tx_end(s, add_result_in_tx(s, job, round, site, samples, loss, accuracy, bytes_up, bytes_down));
}

static gf_status results_query(gf_store *s, int64_t job, int64_t round, int64_t after, gf_store_result_fn fn,
                               void *ctx);

gf_status gf_store_round_results(gf_store *s, int64_t job, int64_t round, gf_store_result_fn fn, void *ctx)
{
    return round ? results_query(s, job, round, 0, fn, ctx) : results_query(s, job, 0, 0, fn, ctx);
}

gf_status gf_store_results_after(gf_store *s, int64_t job, int64_t after, gf_store_result_fn fn, void *ctx)
{
    return results_query(s, job, 0, after < 0 ? 0 : after, fn, ctx);
}

/* The results of round `round`, or (round 0) of every round after `after`. */
static gf_status results_query(gf_store *s, int64_t job, int64_t round, int64_t after, gf_store_result_fn fn,
                               void *ctx)
{
    s = store_reader(s);
    if (!s || !fn) return gf_errorf(GF_ERR_ARG, "store: round_results without a store or callback");
    gf_status e = check_ids(job, round ? round : 1);
    if (e != GF_OK || (e = store_tx_begin(s, 0)) != GF_OK) return e;
    int exists = 1;
    gf_store_round_state state;
    if (round) e = round_row(s, job, round, &exists, &state);
    if (e == GF_OK && !exists)
        e = gf_errorf(GF_ERR_ARG, "store: job %lld has no round %lld", (long long)job, (long long)round);
    sqlite3_stmt *st = NULL;
    if (e == GF_OK)
        e = store_prep(s, &st, "read results",
                 "SELECT site, samples, loss, accuracy, bytes_up, bytes_down, received_at, round FROM round_results "
                 "WHERE job_id = ?1 AND (?2 = 0 OR round = ?2) AND round > ?3 ORDER BY round, site", "iii", job, round,
                 after);
    if (e == GF_OK) {
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            gf_store_result r;
            memset(&r, 0, sizeof r);
            r.job_id = job;
            r.round = sqlite3_column_int64(st, 7);
            store_copy_text(r.site, sizeof r.site, st, 0);
            r.samples = sqlite3_column_int64(st, 1);
            r.loss = store_column_real(st, 2);
            r.accuracy = store_column_real(st, 3);
            r.bytes_up = sqlite3_column_int64(st, 4);
            r.bytes_down = sqlite3_column_int64(st, 5);
            store_copy_text(r.received_at, sizeof r.received_at, st, 6);
            if (fn(&r, ctx)) break;
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) e = store_db_err(s, "read results");
        sqlite3_finalize(st);
    }
    return store_tx_end(s, e);
}

gf_status gf_store_round_complete(gf_store *s, int64_t job, int64_t round, int sites, double duration_s,
                                  double train_loss, double accuracy)
{
    if (!s) return gf_errorf(GF_ERR_ARG, "store: round_complete without a store");
    gf_status e = check_completion(job, round, sites, duration_s, train_loss, accuracy);
    if (e != GF_OK || (e = store_tx_begin(s, 1)) != GF_OK) return e;
    return store_tx_end(s, complete_in_tx(s, job, round, sites, duration_s, train_loss, accuracy, NULL));
}

gf_status gf_store_round_finish(gf_store *s, int64_t job, int64_t round, const gf_store_result *results, int n,
                                double duration_s, double train_loss, double accuracy, int open_next)
{
    gf_store_round_done r = { .round = round, .results = results, .n = n, .duration_s = duration_s,
                              .train_loss = train_loss, .accuracy = accuracy, .closed_at = NAN, .next_opened_at = NAN };
    return gf_store_rounds_finish(s, job, &r, 1, open_next);
}

gf_status gf_store_rounds_finish(gf_store *s, int64_t job, const gf_store_round_done *r, int count, int open_next)
{
    if (!s || count < 1 || !r) return gf_errorf(GF_ERR_ARG, "store: rounds_finish without a store or rounds");
    gf_status e = GF_OK;
    for (int k = 0; e == GF_OK && k < count; k++) {
        if (r[k].n > 0 && !r[k].results) return gf_errorf(GF_ERR_ARG, "store: round %lld without its results", (long long)r[k].round);
        if (k > 0 && r[k].round != r[k - 1].round + 1)
            return gf_errorf(GF_ERR_ARG, "store: rounds %lld and %lld are not consecutive", (long long)r[k - 1].round,
                             (long long)r[k].round);
        e = check_completion(job, r[k].round, r[k].n, r[k].duration_s, r[k].train_loss, r[k].accuracy);
        for (int i = 0; e == GF_OK && i < r[k].n; i++)
            e = check_result(r[k].results[i].site, r[k].results[i].samples, r[k].results[i].loss,
                             r[k].results[i].accuracy, r[k].results[i].bytes_up, r[k].results[i].bytes_down);
    }
    if (e != GF_OK || (e = store_tx_begin(s, 1)) != GF_OK) return e;
    char at[32];
    for (int k = 0; e == GF_OK && k < count; k++) {
        int64_t round = r[k].round;
        if (k > 0) e = open_in_tx(s, job, round, stamp(r[k - 1].next_opened_at, at));   /* opened after the one before */
        for (int i = 0; e == GF_OK && i < r[k].n; i++)
            e = add_result_in_tx(s, job, round, r[k].results[i].site, r[k].results[i].samples, r[k].results[i].loss,
                                 r[k].results[i].accuracy, r[k].results[i].bytes_up, r[k].results[i].bytes_down);
        if (e == GF_OK)
            e = complete_in_tx(s, job, round, r[k].n, r[k].duration_s, r[k].train_loss, r[k].accuracy,
                               stamp(r[k].closed_at, at));
    }
    if (e == GF_OK && open_next) e = open_in_tx(s, job, r[count - 1].round + 1, stamp(r[count - 1].next_opened_at, at));
    return store_tx_end(s, e);
}

gf_status gf_store_round_abort(gf_store *s, int64_t job, int64_t round, const char *reason)
{
    if (!s) return gf_errorf(GF_ERR_ARG, "store: round_abort without a store");
    gf_status e = check_ids(job, round);
    if (e == GF_OK) e = store_check_text("abort reason", reason, GF_STORE_REASON_MAX);
    if (e != GF_OK || (e = store_tx_begin(s, 1)) != GF_OK) return e;
    e = require_open(s, job, round);
    if (e == GF_OK)
        e = store_run(s, "drop results", "DELETE FROM round_results WHERE job_id = ? AND round = ?", "ii", job, round);
    if (e == GF_OK)
        e = store_run(s, "abort round",
                "UPDATE rounds SET state = 'aborted', reason = ?, closed_at = " NOW " WHERE job_id = ? AND round = ?",
                "tii", reason, job, round);
    return store_tx_end(s, e);
}

gf_status gf_store_round_get(gf_store *s, int64_t job, int64_t round, gf_store_round *out)
{
    s = store_reader(s);
    if (!s || !out) return gf_errorf(GF_ERR_ARG, "store: round_get without a store or output");
    memset(out, 0, sizeof *out);
    gf_status e = check_ids(job, round);
    if (e != GF_OK) return e;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    e = store_prep(s, &st, "read round", "SELECT " ROUND_COLUMNS " FROM rounds WHERE job_id = ? AND round = ?", "ii", job,
             round);
    if (e == GF_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) e = round_from_row(s, st, out);
        else if (rc == SQLITE_DONE)
            e = gf_errorf(GF_ERR_ARG, "store: job %lld has no round %lld", (long long)job, (long long)round);
        else e = store_db_err(s, "read round");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return e;
}

gf_status gf_store_rounds(gf_store *s, int64_t job, gf_store_round_fn fn, void *ctx)
{
    return gf_store_rounds_after(s, job, 0, fn, ctx);
}

gf_status gf_store_rounds_after(gf_store *s, int64_t job, int64_t after, gf_store_round_fn fn, void *ctx)
{
    s = store_reader(s);
    if (!s || !fn) return gf_errorf(GF_ERR_ARG, "store: rounds without a store or callback");
    gf_status e = store_tx_begin(s, 0);
    if (e != GF_OK) return e;
    gf_store_job_state state;
    int64_t last;
    sqlite3_stmt *st = NULL;
    e = job_row(s, job, &state, &last);
    if (e == GF_OK)
        e = store_prep(s, &st, "list rounds", "SELECT " ROUND_COLUMNS " FROM rounds WHERE job_id = ? AND round > ? "
                       "ORDER BY round", "ii", job, after);
    if (e == GF_OK) {
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            gf_store_round r;
            if ((e = round_from_row(s, st, &r)) != GF_OK || fn(&r, ctx)) break;
        }
        if (e == GF_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) e = store_db_err(s, "list rounds");
        sqlite3_finalize(st);
    }
    return store_tx_end(s, e);
}
