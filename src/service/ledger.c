/* The usage ledger and job_exec rows (see ledger.h). */
#include "service/ledger.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include "service/store_internal.h"

gf_status gf_store_job_start(gf_store *s, int64_t id, const gf_store_exec *x, int running, const char *reason)
{
    gf_status e = store_check_text("start reason", reason, GF_STORE_REASON_MAX);
    if (!e) e = store_check_text("executor handle", x->handle, GF_EXEC_HANDLE_MAX);
    if (e) return e;
    if ((e = store_tx_begin(s, 1))) return e;
    if (running) {
        e = store_job_transition(s, id, GF_STORE_JOB_RUNNING, reason);
    } else {                              /* handed to a queue: still queued, the reason says where */
        sqlite3_stmt *st;
        if (!(e = store_prep(s, &st, "read job state", "SELECT state FROM jobs WHERE id = ?", "i", id))) {
            if (sqlite3_step(st) != SQLITE_ROW) e = gf_errorf(GF_ERR_ARG, "store: no job %lld", (long long)id);
            else if (strcmp((const char *)sqlite3_column_text(st, 0), "queued"))
                e = gf_errorf(GF_ERR_MISMATCH, "store: job %lld is %s, not queued", (long long)id,
                              (const char *)sqlite3_column_text(st, 0));
            sqlite3_finalize(st);
        }
        if (!e) e = store_run(s, "update job reason", "UPDATE jobs SET reason = ?, updated_at = " STORE_NOW
                              " WHERE id = ?", "ti", reason, id);
    }
    if (!e)
        e = store_run(s, "record job execution",
                      "INSERT INTO job_exec(job_id, executor, handle, started_at, started_unix, cores, gpus) "
                      "VALUES(?, ?, ?, " STORE_NOW ", ?, ?, ?)", "ittdii", id, x->executor, x->handle,
                      x->started_unix, (int64_t)x->cores, (int64_t)x->gpus);
    return store_tx_end(s, e);
}

gf_status gf_store_job_exec_get(gf_store *s, int64_t id, gf_store_exec *out)
{
    s = store_reader(s);
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    gf_status e = store_prep(s, &st, "read job execution",
                             "SELECT executor, handle, started_at, started_unix, cores, gpus, "
                             "coalesce(cancel_requested, 0) FROM job_exec WHERE job_id = ?", "i", id);
    if (!e) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            out->job_id = id;
            store_copy_text(out->executor, sizeof out->executor, st, 0);
            store_copy_text(out->handle, sizeof out->handle, st, 1);
            store_copy_text(out->started_at, sizeof out->started_at, st, 2);
            out->started_unix = sqlite3_column_double(st, 3);
            out->cores = sqlite3_column_int(st, 4);
            out->gpus = sqlite3_column_int(st, 5);
            out->cancel_requested = sqlite3_column_int(st, 6);
        } else if (rc == SQLITE_DONE) {
            e = gf_errorf(GF_ERR_ARG, "job %lld was never started by an executor", (long long)id);
        } else {
            e = store_db_err(s, "read job execution");
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return e;
}

gf_status gf_store_job_exec_cancel(gf_store *s, int64_t id)
{
    gf_status e = store_tx_begin(s, 1);
    if (e) return e;
    e = store_run(s, "record cancel", "UPDATE job_exec SET cancel_requested = 1 WHERE job_id = ?", "i", id);
    if (!e && sqlite3_changes(s->db) == 0) e = gf_errorf(GF_ERR_ARG, "job %lld is not executing", (long long)id);
    return store_tx_end(s, e);
}

static gf_status append_row(gf_store *s, int64_t id, const gf_store_usage *u)
{
    sqlite3_stmt *st;
    gf_status e = store_prep(s, &st, "append to the ledger",
        "INSERT INTO ledger(job_id, tenant_id, site, kind, executor, core_s, cpu_s, gpu_s, peak_mem_kb, wall_s, "
        "bytes_up, bytes_down, started_at, ended_at, ended_unix, recorded_at) "
        "SELECT id, tenant_id, ?, kind, ?, ?, ?, ?, ?, ?, ?, ?, nullif(?, ''), "
        "CASE WHEN ? > 0 THEN strftime('%Y-%m-%dT%H:%M:%fZ', ?, 'unixepoch') ELSE " STORE_NOW " END, "
        "CASE WHEN ? > 0 THEN ? ELSE (julianday('now') - 2440587.5) * 86400.0 END, " STORE_NOW
        " FROM jobs WHERE id = ?",
        "ttdddidiitddddi", u->site, u->executor, u->core_s, u->cpu_s, u->gpu_s, u->peak_mem_kb, u->wall_s,
        u->bytes_up, u->bytes_down, u->started_at, u->ended_unix, u->ended_unix, u->ended_unix, u->ended_unix, id);
    if (e) return e;
    if (sqlite3_step(st) != SQLITE_DONE) e = store_db_err(s, "append to the ledger");
    sqlite3_finalize(st);
    return e;
}

static gf_status check_usage(const gf_store_usage *u)
{
    const double v[] = {u->core_s, u->cpu_s, u->gpu_s, u->wall_s, u->ended_unix};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (!isfinite(v[i]) || v[i] < 0) return gf_errorf(GF_ERR_ARG, "ledger: usage figures must be finite and >= 0");
    if (u->peak_mem_kb < 0 || u->bytes_up < 0 || u->bytes_down < 0)
        return gf_errorf(GF_ERR_ARG, "ledger: usage figures must be >= 0");
    return GF_OK;
}

/* A federated job's rows: one per site (bytes of its stored results) and
 * its own (wall time since it started running). */
static gf_status federated_rows(gf_store *s, int64_t id)
{
    gf_status e = store_run(s, "ledger rows of the sites",
        "INSERT INTO ledger(job_id, tenant_id, site, kind, executor, core_s, cpu_s, gpu_s, peak_mem_kb, wall_s, "
        "bytes_up, bytes_down, started_at, ended_at, ended_unix, recorded_at) "
        "SELECT r.job_id, j.tenant_id, r.site, j.kind, 'federation', 0, 0, 0, 0, 0, sum(r.bytes_up), "
        "sum(r.bytes_down), min(r.received_at), max(r.received_at), "
        "(julianday(max(r.received_at)) - 2440587.5) * 86400.0, " STORE_NOW
        " FROM round_results r JOIN jobs j ON j.id = r.job_id JOIN rounds d ON d.job_id = r.job_id AND "
        "d.round = r.round AND d.state = 'completed' WHERE r.job_id = ? GROUP BY r.site", "i", id);
    if (e) return e;
    return store_run(s, "ledger row of the job",
        "INSERT INTO ledger(job_id, tenant_id, site, kind, executor, core_s, cpu_s, gpu_s, peak_mem_kb, wall_s, "
        "bytes_up, bytes_down, started_at, ended_at, ended_unix, recorded_at) "
        "SELECT j.id, j.tenant_id, '', j.kind, 'federation', 0, 0, 0, 0, "
        "max(0, (julianday('now') - julianday(l.at)) * 86400.0), 0, 0, l.at, " STORE_NOW ", "
        "(julianday('now') - 2440587.5) * 86400.0, " STORE_NOW
        " FROM jobs j JOIN (SELECT job_id, min(at) AS at FROM job_state_log WHERE to_state = 'running' "
        "GROUP BY job_id) l ON l.job_id = j.id WHERE j.id = ?", "i", id);
}

gf_status gf_store_job_finish(gf_store *s, int64_t id, gf_store_job_state to, const char *reason,
                              const gf_store_usage *u)
{
    gf_status e = store_check_text("state change reason", reason, GF_STORE_REASON_MAX);
    if (!e && u) e = check_usage(u);
    if (e) return e;
    if ((e = store_tx_begin(s, 1))) return e;
    char kind[GF_STORE_KIND_MAX + 1] = "";
    sqlite3_stmt *st;
    if (!(e = store_prep(s, &st, "read job kind", "SELECT kind FROM jobs WHERE id = ?", "i", id))) {
        if (sqlite3_step(st) == SQLITE_ROW) store_copy_text(kind, sizeof kind, st, 0);
        else e = gf_errorf(GF_ERR_ARG, "store: no job %lld", (long long)id);
        sqlite3_finalize(st);
    }
    if (!e) e = store_job_transition(s, id, to, reason);   /* drops an open round's results first */
    if (!e && !strcmp(kind, "federated")) e = federated_rows(s, id);
    else if (!e && u) e = append_row(s, id, u);
    return store_tx_end(s, e);
}

gf_status gf_store_ledger(gf_store *s, int64_t tenant_id, const char *since, gf_store_usage_fn fn, void *ctx)
{
    s = store_reader(s);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    gf_status e = store_prep(s, &st, "read the ledger",
        "SELECT l.seq, l.job_id, coalesce(l.tenant_id, 0), coalesce(t.name, ''), l.site, l.kind, l.executor, "
        "l.core_s, l.cpu_s, l.gpu_s, l.peak_mem_kb, l.wall_s, l.bytes_up, l.bytes_down, coalesce(l.started_at, ''), "
        "l.ended_at, l.ended_unix FROM ledger l LEFT JOIN tenants t ON t.id = l.tenant_id "
        "WHERE (?1 = 0 OR (?1 = -1 AND l.tenant_id IS NULL) OR l.tenant_id = ?1) AND l.ended_at >= ?2 "
        "ORDER BY l.seq", "it", tenant_id, since ? since : "");
    if (!e) {
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            gf_store_usage u;
            memset(&u, 0, sizeof u);
            u.seq = sqlite3_column_int64(st, 0);
            u.job_id = sqlite3_column_int64(st, 1);
            u.tenant_id = sqlite3_column_int64(st, 2);
            store_copy_text(u.tenant, sizeof u.tenant, st, 3);
            store_copy_text(u.site, sizeof u.site, st, 4);
            store_copy_text(u.kind, sizeof u.kind, st, 5);
            store_copy_text(u.executor, sizeof u.executor, st, 6);
            u.core_s = sqlite3_column_double(st, 7);
            u.cpu_s = sqlite3_column_double(st, 8);
            u.gpu_s = sqlite3_column_double(st, 9);
            u.peak_mem_kb = sqlite3_column_int64(st, 10);
            u.wall_s = sqlite3_column_double(st, 11);
            u.bytes_up = sqlite3_column_int64(st, 12);
            u.bytes_down = sqlite3_column_int64(st, 13);
            store_copy_text(u.started_at, sizeof u.started_at, st, 14);
            store_copy_text(u.ended_at, sizeof u.ended_at, st, 15);
            u.ended_unix = sqlite3_column_double(st, 16);
            if (fn(&u, ctx)) { rc = SQLITE_DONE; break; }
        }
        if (rc != SQLITE_DONE) e = store_db_err(s, "read the ledger");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return e;
}
