/* What the store's files share (store.c: schema, jobs and rounds;
 * tenants.c: tenants and tokens; ledger.c: the usage ledger and the job
 * runtime records): the connection and the statement helpers. Only the
 * store's own files include this. */
#ifndef GF_SERVICE_STORE_INTERNAL_H
#define GF_SERVICE_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include "service/store.h"

#define STORE_NOW "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

struct gf_store {
    pthread_mutex_t  mu;
    sqlite3         *db;
    char            *path;     /* DIR/state.db, for messages */
    struct gf_store *reader;   /* a read-only connection to the same file for the
                                  read operations (WAL: they see the last commit and
                                  never wait for a writer); NULL on the reader itself */
};

/* The connection read operations use. */
static inline gf_store *store_reader(gf_store *s) { return s && s->reader ? s->reader : s; }

/* SQLite's error as a gf_status with context (CONSTRAINT: GF_ERR_MISMATCH). */
gf_status store_db_err(gf_store *s, const char *what);
/* Prepares sql and binds its parameters; types has one letter per parameter:
 * 'i' int64_t, 'd' double, 't' const char * (NULL binds NULL). */
gf_status store_vprep(gf_store *s, sqlite3_stmt **out, const char *what, const char *sql, const char *types,
                      va_list ap);
gf_status store_prep(gf_store *s, sqlite3_stmt **out, const char *what, const char *sql, const char *types, ...);
/* Runs a statement that returns no rows. */
gf_status store_run(gf_store *s, const char *what, const char *sql, const char *types, ...);
/* One integer: *found = 0 when there is no row (or NULL). */
gf_status store_query_int(gf_store *s, const char *what, int64_t *val, int *found, const char *sql,
                          const char *types, ...);
void      store_copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col);
double    store_column_real(sqlite3_stmt *st, int col);   /* NULL -> NaN */
/* A transaction under the mutex (write: BEGIN IMMEDIATE); tx_end commits on
 * GF_OK, else rolls back, and releases the mutex. */
gf_status store_tx_begin(gf_store *s, int write);
gf_status store_tx_end(gf_store *s, gf_status st);
gf_status store_check_text(const char *what, const char *v, size_t max);
gf_status store_check_real(const char *what, double v);

/* Moves job id to `to` inside an open write transaction (store.c's rules). */
gf_status store_job_transition(gf_store *s, int64_t id, gf_store_job_state to, const char *reason);

#endif
