/* Tests for the coordinator's store: job and round lifecycle, the state
 * rules, duplicate and out-of-order results, crash safety under SIGKILL of a
 * real writer process, reopening, and refusal of foreign or newer files. */
#include "service/store.h"
#include "service/datasets.h"
#include "service/ledger.h"
#include "service/site_grants.h"
#include "service/tenants.h"
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *SPEC = "{\"kind\":\"federated\",\"name\":\"mnist\"}";

static int count_fn(const void *row, void *ctx) { (void)row; (*(int *)ctx)++; return 0; }
static int count_jobs(const gf_store_job *j, void *ctx) { return count_fn(j, ctx); }
static int count_results(const gf_store_result *r, void *ctx) { return count_fn(r, ctx); }
static int count_rounds(const gf_store_round *r, void *ctx) { return count_fn(r, ctx); }

static int n_results(gf_store *s, int64_t job, int64_t round)
{
    int n = 0;
    if (gf_store_round_results(s, job, round, count_results, &n) != GF_OK) return -1;
    return n;
}

typedef struct { int n, bad; gf_store_job_state last; } log_ctx;

static int log_fn(const gf_store_log_entry *l, void *ctx)
{
    log_ctx *c = ctx;
    if (!l->reason[0] || strlen(l->at) != GF_STORE_TIME_LEN) c->bad++;
    if (c->n == 0 && (l->has_from || l->to != GF_STORE_JOB_QUEUED)) c->bad++;
    if (c->n > 0 && (!l->has_from || l->from != c->last)) c->bad++;
    c->last = l->to;
    c->n++;
    return 0;
}

typedef struct { int n; char names[8][GF_STORE_NAME_MAX + 1]; } list_ctx;

static int list_fn(const gf_store_job *j, void *ctx)
{
    list_ctx *c = ctx;
    if (c->n < 8) snprintf(c->names[c->n], sizeof c->names[0], "%s", j->name);
    c->n++;
    return 0;
}

static void rm_dir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static void test_lifecycle(const char *dir)
{
    gf_store *s = NULL;
    CHECK(gf_store_open(dir, &s) == GF_OK);
    if (!s) return;
    struct stat sb;
    CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);

    int64_t id = 0, id2 = 0;
    CHECK(gf_store_job_create(s, 0, "mnist", "federated", SPEC, &id) == GF_OK && id > 0);
    CHECK(gf_store_job_create(s, 0, "cifar", "central", "{}", &id2) == GF_OK && id2 > id);
    CHECK(gf_store_job_create(s, 0, "", "federated", SPEC, &id2) == GF_ERR_ARG);
    CHECK(gf_store_job_create(s, 0, "x", "federated", "", &id2) == GF_ERR_ARG);

    gf_store_job j;
    CHECK(gf_store_job_get(s, id, &j) == GF_OK);
    CHECK(strcmp(j.name, "mnist") == 0 && strcmp(j.kind, "federated") == 0);
    CHECK(j.spec_json && strcmp(j.spec_json, SPEC) == 0);
    CHECK(j.state == GF_STORE_JOB_QUEUED && j.round == 0 && strlen(j.created_at) == GF_STORE_TIME_LEN);
    gf_store_job_free(&j);
    CHECK(gf_store_job_get(s, 9999, &j) == GF_ERR_ARG && j.spec_json == NULL);

    list_ctx lc = {0};
    CHECK(gf_store_job_list(s, list_fn, &lc) == GF_OK);
    CHECK(lc.n == 2 && strcmp(lc.names[0], "mnist") == 0 && strcmp(lc.names[1], "cifar") == 0);

    /* rounds need a running job; illegal transitions refused */
    CHECK(gf_store_round_open(s, id, 1) == GF_ERR_MISMATCH);
    CHECK(gf_store_job_set_state(s, id, GF_STORE_JOB_SUCCEEDED, "too early") == GF_ERR_MISMATCH);
    CHECK(gf_store_job_set_state(s, id, GF_STORE_JOB_RUNNING, "") == GF_ERR_ARG);
    CHECK(gf_store_job_set_state(s, id, GF_STORE_JOB_QUEUED, "same") == GF_ERR_MISMATCH);
    CHECK(gf_store_job_set_state(s, id, GF_STORE_JOB_RUNNING, "scheduled") == GF_OK);
    CHECK(gf_store_job_set_state(s, id, GF_STORE_JOB_QUEUED, "requeue") == GF_ERR_MISMATCH);
    CHECK(gf_store_job_set_state(s, id2, GF_STORE_JOB_CANCELLED, "user asked") == GF_OK);
    CHECK(gf_store_job_set_state(s, id2, GF_STORE_JOB_RUNNING, "revive") == GF_ERR_MISMATCH);
    CHECK_MSG(strstr(gf_last_error(), "final") != NULL, "%s", gf_last_error());

    const char *sites[4] = {"site-a", "site-b", "site-c", "site-d"};
    CHECK(gf_store_round_open(s, id, 2) == GF_ERR_MISMATCH);       /* not the next round */
    CHECK(gf_store_round_add_result(s, id, 1, "site-a", 10, 1, 0.5, 1, 1) == GF_ERR_MISMATCH); /* not open */
    for (int r = 1; r <= 3; r++) {
        CHECK(gf_store_round_open(s, id, r) == GF_OK);
        CHECK(gf_store_round_open(s, id, r) == GF_OK);              /* already open: as-is */
        CHECK(gf_store_round_complete(s, id, r, 1, 1.0, 0.5, 0.5) == GF_ERR_MISMATCH); /* 0 results */
        for (int k = 0; k < 4; k++)
            CHECK(gf_store_round_add_result(s, id, r, sites[k], 100 + k, 2.0 / r, 0.5 + 0.1 * r, 1000, 2000) == GF_OK);
        CHECK(gf_store_round_add_result(s, id, r, "site-b", 5, 1, 1, 1, 1) == GF_ERR_MISMATCH);
        CHECK_MSG(strstr(gf_last_error(), "site-b already sent") != NULL, "%s", gf_last_error());
        CHECK(gf_store_round_add_result(s, id, r, "site-e", -1, 1, 1, 1, 1) == GF_ERR_ARG);
        CHECK(gf_store_round_add_result(s, id, r, "site-e", 1, 1.0 / 0.0, 1, 1, 1) == GF_ERR_NUMERIC);
        CHECK(n_results(s, id, r) == 4);
        CHECK(gf_store_round_complete(s, id, r, 3, 1.0, 0.5, 0.5) == GF_ERR_MISMATCH); /* 4 stored */
        CHECK(gf_store_job_get(s, id, &j) == GF_OK && j.round == r - 1);
        gf_store_job_free(&j);
        CHECK(gf_store_round_complete(s, id, r, 4, 1.5 * r, 2.0 / r, 0.5 + 0.1 * r) == GF_OK);
        CHECK(gf_store_round_complete(s, id, r, 4, 1.5 * r, 2.0 / r, 0.5 + 0.1 * r) == GF_ERR_MISMATCH);
        CHECK(gf_store_job_get(s, id, &j) == GF_OK && j.round == r);
        gf_store_job_free(&j);
        CHECK(gf_store_round_open(s, id, r) == GF_ERR_MISMATCH);   /* reopen after close */
        CHECK(gf_store_round_add_result(s, id, r, "site-e", 1, 1, 1, 1, 1) == GF_ERR_MISMATCH);
        CHECK(gf_store_round_abort(s, id, r, "late") == GF_ERR_MISMATCH);
    }
    gf_store_round rd;
    CHECK(gf_store_round_get(s, id, 2, &rd) == GF_OK);
    CHECK(rd.state == GF_STORE_ROUND_COMPLETED && rd.sites == 4 && strlen(rd.closed_at) == GF_STORE_TIME_LEN);
    CHECK_NEAR(rd.duration_s, 3.0, 1e-12);
    CHECK_NEAR(rd.train_loss, 1.0, 1e-12);
    CHECK(gf_store_round_get(s, id, 7, &rd) == GF_ERR_ARG);

    /* abort discards results; the round can be reopened, empty */
    CHECK(gf_store_round_open(s, id, 4) == GF_OK);
    CHECK(gf_store_round_add_result(s, id, 4, "site-a", 1, 0.1, NAN, 1, 1) == GF_OK);
    CHECK(gf_store_round_add_result(s, id, 4, "site-b", 1, 0.1, 0.2, 1, 1) == GF_OK);
    CHECK(gf_store_round_abort(s, id, 4, "") == GF_ERR_ARG);
    CHECK(gf_store_round_abort(s, id, 4, "deadline passed with 2 of 4 sites") == GF_OK);
    CHECK(n_results(s, id, 4) == 0);
    CHECK(gf_store_round_get(s, id, 4, &rd) == GF_OK && rd.state == GF_STORE_ROUND_ABORTED);
    CHECK(strcmp(rd.reason, "deadline passed with 2 of 4 sites") == 0);
    CHECK(gf_store_round_add_result(s, id, 4, "site-a", 1, 0.1, 0.2, 1, 1) == GF_ERR_MISMATCH);
    CHECK(gf_store_round_complete(s, id, 4, 1, 1, 1, 1) == GF_ERR_MISMATCH);
    CHECK(gf_store_round_open(s, id, 4) == GF_OK);
    CHECK(gf_store_round_get(s, id, 4, &rd) == GF_OK && rd.state == GF_STORE_ROUND_OPEN && rd.reason[0] == 0);
    CHECK(gf_store_round_add_result(s, id, 4, "site-a", 1, 0.1, NAN, 1, 1) == GF_OK);
    CHECK(gf_store_job_get(s, id, &j) == GF_OK && j.round == 3);
    gf_store_job_free(&j);

    int nr = 0;
    CHECK(gf_store_rounds(s, id, count_rounds, &nr) == GF_OK && nr == 4);
    CHECK(gf_store_rounds(s, 9999, count_rounds, &nr) == GF_ERR_ARG);
    nr = 0;
    CHECK(gf_store_rounds_after(s, id, 2, count_rounds, &nr) == GF_OK && nr == 2);    /* rounds 3 and 4 */
    int all = 0, late = 0;
    CHECK(gf_store_round_results(s, id, 0, count_results, &all) == GF_OK);
    CHECK(gf_store_results_after(s, id, 3, count_results, &late) == GF_OK && late == n_results(s, id, 4));
    CHECK(all == n_results(s, id, 1) + n_results(s, id, 2) + n_results(s, id, 3) + n_results(s, id, 4) && all > late);

    /* a final state aborts the open round */
    CHECK(gf_store_job_set_state(s, id, GF_STORE_JOB_FAILED, "site-c sent NaNs") == GF_OK);
    CHECK(gf_store_round_get(s, id, 4, &rd) == GF_OK && rd.state == GF_STORE_ROUND_ABORTED);
    CHECK(n_results(s, id, 4) == 0);
    CHECK(gf_store_round_open(s, id, 4) == GF_ERR_MISMATCH);
    CHECK(gf_store_job_set_state(s, id, GF_STORE_JOB_SUCCEEDED, "late") == GF_ERR_MISMATCH);
    CHECK(gf_store_job_get(s, id, &j) == GF_OK && j.state == GF_STORE_JOB_FAILED);
    CHECK(strcmp(j.reason, "site-c sent NaNs") == 0);
    gf_store_job_free(&j);

    log_ctx c = {0};
    CHECK(gf_store_job_log(s, id, log_fn, &c) == GF_OK);
    CHECK(c.n == 3 && c.bad == 0 && c.last == GF_STORE_JOB_FAILED);
    gf_store_close(s);

    /* reopening keeps everything */
    CHECK(gf_store_open(dir, &s) == GF_OK);
    if (!s) return;
    int nj = 0;
    CHECK(gf_store_job_list(s, count_jobs, &nj) == GF_OK && nj == 2);
    CHECK(gf_store_job_get(s, id, &j) == GF_OK && j.round == 3 && j.state == GF_STORE_JOB_FAILED);
    CHECK(j.spec_json && strcmp(j.spec_json, SPEC) == 0);
    gf_store_job_free(&j);
    for (int r = 1; r <= 3; r++) CHECK(n_results(s, id, r) == 4);
    c = (log_ctx){0};
    CHECK(gf_store_job_log(s, id, log_fn, &c) == GF_OK && c.n == 3 && c.bad == 0);
    gf_store_close(s);
}

/* ---- crash safety -------------------------------------------------------- */

static void child_loop(const char *dir, int64_t job, int wfd)
{
    gf_store *s = NULL;
    if (gf_store_open(dir, &s) != GF_OK) _exit(3);
    static const char *sites[3] = {"s1", "s2", "s3"};
    for (;;) {
        gf_store_job j;
        if (gf_store_job_get(s, job, &j) != GF_OK) _exit(4);
        int64_t r = j.round + 1;
        gf_store_job_free(&j);
        if (gf_store_round_open(s, job, r) != GF_OK) _exit(5);
        for (int k = 0; k < 3; k++) {
            gf_status st = gf_store_round_add_result(s, job, r, sites[k], 10, 0.5, 0.9, 100, 200);
            if (st != GF_OK && st != GF_ERR_MISMATCH) _exit(6);   /* a resumed round may have some */
        }
        if (gf_store_round_complete(s, job, r, 3, 0.01, 0.5, 0.9) != GF_OK) _exit(7);
        if (write(wfd, &r, sizeof r) != (ssize_t)sizeof r) _exit(8);
    }
}

typedef struct { int64_t job_round; int completed, open, bad; gf_store *s; } scan_ctx;

static int scan_fn(const gf_store_round *r, void *ctx)
{
    scan_ctx *c = ctx;
    if (r->state == GF_STORE_ROUND_COMPLETED) {
        c->completed++;
        if (r->round > c->job_round || r->sites != 3) c->bad++;
    } else if (r->state == GF_STORE_ROUND_OPEN) {
        c->open++;
        if (r->round != c->job_round + 1) c->bad++;
    } else {
        c->bad++;   /* nobody aborts in this test */
    }
    return 0;
}

static void test_crash(const char *dir)
{
    gf_store *s = NULL;
    int64_t job = 0;
    CHECK(gf_store_open(dir, &s) == GF_OK);
    if (!s) return;
    CHECK(gf_store_job_create(s, 0, "crash", "federated", SPEC, &job) == GF_OK);
    CHECK(gf_store_job_set_state(s, job, GF_STORE_JOB_RUNNING, "start") == GF_OK);
    gf_store_close(s);

    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    int64_t total_reported = 0, resumed_open = 0;
    for (int it = 0; it < 20; it++) {
        int p[2];
        CHECK(pipe(p) == 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            child_loop(dir, job, p[1]);
        }
        CHECK(pid > 0);
        close(p[1]);
        struct timespec ts = {0, (5 + rand() % 46) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int wst = 0;
        CHECK(waitpid(pid, &wst, 0) == pid);
        CHECK_MSG(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL, "child exited early: status %d", wst);
        int64_t last = 0, r;
        ssize_t n;
        while ((n = read(p[0], &r, sizeof r)) == (ssize_t)sizeof r) {
            last = r;
            total_reported++;
        }
        close(p[0]);

        /* integrity first, with a plain connection */
        char path[600];
        snprintf(path, sizeof path, "%s/state.db", dir);
        sqlite3 *db = NULL;
        CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
        sqlite3_stmt *st = NULL;
        CHECK(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK);
        CHECK(sqlite3_step(st) == SQLITE_ROW);
        const unsigned char *ok = sqlite3_column_text(st, 0);
        CHECK_MSG(ok && strcmp((const char *)ok, "ok") == 0, "integrity_check: %s", ok ? (const char *)ok : "?");
        sqlite3_finalize(st);
        sqlite3_close(db);

        CHECK(gf_store_open(dir, &s) == GF_OK);
        if (!s) return;
        gf_store_job j;
        CHECK(gf_store_job_get(s, job, &j) == GF_OK);
        CHECK_MSG(j.round >= last, "job.round %lld < last reported %lld", (long long)j.round, (long long)last);
        scan_ctx c = {.job_round = j.round, .s = s};
        CHECK(gf_store_rounds(s, job, scan_fn, &c) == GF_OK);
        CHECK(c.bad == 0 && c.completed == j.round && c.open <= 1);
        for (int64_t k = 1; k <= j.round; k++) CHECK_MSG(n_results(s, job, k) == 3, "round %lld", (long long)k);
        if (c.open) {   /* the open round can be continued as-is */
            int before = n_results(s, job, j.round + 1);
            CHECK(before >= 0 && before <= 3);
            CHECK(gf_store_round_open(s, job, j.round + 1) == GF_OK);
            CHECK(n_results(s, job, j.round + 1) == before);
            resumed_open++;
        }
        gf_store_job_free(&j);
        gf_store_close(s);
    }
    CHECK(gf_store_open(dir, &s) == GF_OK);
    if (!s) return;
    gf_store_job j;
    CHECK(gf_store_job_get(s, job, &j) == GF_OK);
    CHECK(j.round >= total_reported && j.round > 0);
    fprintf(stderr, "crash test: 20 kills, %lld rounds completed (%lld reported), %lld open rounds resumed\n",
            (long long)j.round, (long long)total_reported, (long long)resumed_open);
    gf_store_job_free(&j);
    gf_store_close(s);
}

/* ---- refusals ------------------------------------------------------------ */

static void test_refusals(const char *dir)
{
    gf_store *s = NULL;
    CHECK(gf_store_open(dir, &s) == GF_OK);
    gf_store_close(s);
    char path[600];
    snprintf(path, sizeof path, "%s/state.db", dir);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    s = NULL;
    CHECK(gf_store_open(dir, &s) == GF_ERR_MISMATCH && s == NULL);
    CHECK_MSG(strstr(gf_last_error(), "schema version 99 is newer") != NULL, "%s", gf_last_error());
    gf_store_close(s);

    /* a file that is not a database */
    rm_dir(dir);
    CHECK(mkdir(dir, 0700) == 0);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    for (int i = 0; i < 100; i++) CHECK(write(fd, "this is not a database at all\n", 30) == 30);
    close(fd);
    gf_status st = gf_store_open(dir, &s);
    CHECK(st == GF_ERR_FORMAT && s == NULL);
    CHECK_MSG(strstr(gf_last_error(), "not a database") != NULL, "%s", gf_last_error());

    /* an SQLite database of something else */
    rm_dir(dir);
    CHECK(mkdir(dir, 0700) == 0);
    CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "CREATE TABLE foo(x)", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(gf_store_open(dir, &s) == GF_ERR_FORMAT && s == NULL);

    /* DIR that is a file */
    rm_dir(dir);
    fd = open(dir, O_WRONLY | O_CREAT, 0600);
    close(fd);
    CHECK(gf_store_open(dir, &s) == GF_ERR_IO && s == NULL);
    CHECK(gf_store_open("", &s) == GF_ERR_ARG);
    unlink(dir);
}

/* A round's end in one transaction: results + completion + next round. */
static void test_finish(const char *dir)
{
    gf_store *s = NULL;
    CHECK(gf_store_open(dir, &s) == GF_OK);
    if (!s) return;
    int64_t id = 0;
    CHECK(gf_store_job_create(s, 0, "f", "federated", "{}", &id) == GF_OK);
    CHECK(gf_store_job_set_state(s, id, GF_STORE_JOB_RUNNING, "started") == GF_OK);
    CHECK(gf_store_round_open(s, id, 1) == GF_OK);
    gf_store_result r[2] = { { .site = "a", .samples = 10, .loss = 0.5, .accuracy = NAN, .bytes_up = 7 },
                             { .site = "a", .samples = 20, .loss = 0.25, .accuracy = 0.75 } };
    /* a duplicate site: refused, nothing kept */
    CHECK(gf_store_round_finish(s, id, 1, r, 2, 1.0, 0.3, 0.8, 1) == GF_ERR_MISMATCH);
    gf_store_round rd;
    CHECK(gf_store_round_get(s, id, 1, &rd) == GF_OK && rd.state == GF_STORE_ROUND_OPEN);
    CHECK(n_results(s, id, 1) == 0);
    snprintf(r[1].site, sizeof r[1].site, "b");
    CHECK(gf_store_round_finish(s, id, 1, r, 2, 1.0, 0.3, 0.8, 1) == GF_OK);
    CHECK(gf_store_round_get(s, id, 1, &rd) == GF_OK && rd.state == GF_STORE_ROUND_COMPLETED && rd.sites == 2 &&
          rd.accuracy == 0.8);
    CHECK(n_results(s, id, 1) == 2);
    CHECK(gf_store_round_get(s, id, 2, &rd) == GF_OK && rd.state == GF_STORE_ROUND_OPEN);
    gf_store_job j;
    CHECK(gf_store_job_get(s, id, &j) == GF_OK && j.round == 1);
    gf_store_job_free(&j);
    /* the last round: nothing opened after it; a finished round cannot finish again */
    CHECK(gf_store_round_finish(s, id, 2, r, 1, 1.0, 0.3, NAN, 0) == GF_OK);
    CHECK(gf_store_round_get(s, id, 3, &rd) == GF_ERR_ARG);
    CHECK(gf_store_round_finish(s, id, 2, r, 1, 1.0, 0.3, NAN, 0) == GF_ERR_MISMATCH);
    CHECK(gf_store_round_finish(s, id, 3, r, 0, 1.0, 0.3, NAN, 0) == GF_ERR_ARG);
    gf_store_close(s);
}

/* Several rounds' ends in one transaction, with their own times: each is
 * opened, completed and stamped in order; rounds that are not consecutive,
 * or one bad result, keep nothing. */
static void test_finish_many(const char *dir)
{
    gf_store *s = NULL;
    CHECK(gf_store_open(dir, &s) == GF_OK);
    if (!s) return;
    int64_t id = 0;
    CHECK(gf_store_job_create(s, 0, "m", "federated", "{}", &id) == GF_OK);
    CHECK(gf_store_job_set_state(s, id, GF_STORE_JOB_RUNNING, "started") == GF_OK);
    CHECK(gf_store_round_open(s, id, 1) == GF_OK);
    gf_store_result ra[1] = { { .site = "a", .samples = 10, .loss = 0.5, .accuracy = NAN } };
    gf_store_result rb[2] = { { .site = "a", .samples = 10, .loss = 0.5, .accuracy = NAN },
                              { .site = "a", .samples = 5, .loss = 0.5, .accuracy = NAN } };   /* a twice */
    double t0 = 1800000000.25;                   /* 2027-01-15T08:00:00.250Z */
    gf_store_round_done d[3] = {
        { .round = 1, .results = ra, .n = 1, .duration_s = 0.5, .train_loss = 0.5, .accuracy = NAN,
          .closed_at = t0, .next_opened_at = t0 + 0.001 },
        { .round = 3, .results = ra, .n = 1, .duration_s = 0.5, .train_loss = 0.5, .accuracy = NAN,
          .closed_at = t0 + 1, .next_opened_at = t0 + 1.002 },
        { .round = 3, .results = ra, .n = 1, .duration_s = 0.5, .train_loss = 0.5, .accuracy = 0.9,
          .closed_at = t0 + 2, .next_opened_at = t0 + 2.003 } };
    CHECK(gf_store_rounds_finish(s, id, d, 2, 1) == GF_ERR_ARG);   /* 1 then 3 */
    d[1].round = 2;
    d[1].results = rb, d[1].n = 2;
    CHECK(gf_store_rounds_finish(s, id, d, 3, 1) != GF_OK);        /* round 2's bad result: nothing kept */
    gf_store_round rd;
    CHECK(gf_store_round_get(s, id, 1, &rd) == GF_OK && rd.state == GF_STORE_ROUND_OPEN);
    CHECK(gf_store_round_get(s, id, 2, &rd) == GF_ERR_ARG);
    d[1].results = ra, d[1].n = 1;
    CHECK(gf_store_rounds_finish(s, id, d, 3, 1) == GF_OK);
    const char *closed[3] = { "2027-01-15T08:00:00.250Z", "2027-01-15T08:00:01.250Z", "2027-01-15T08:00:02.250Z" };
    const char *started[3] = { NULL, "2027-01-15T08:00:00.251Z", "2027-01-15T08:00:01.252Z" };
    for (int k = 0; k < 3; k++) {
        CHECK(gf_store_round_get(s, id, k + 1, &rd) == GF_OK && rd.state == GF_STORE_ROUND_COMPLETED && rd.sites == 1);
        CHECK_MSG(!strcmp(rd.closed_at, closed[k]) && (!started[k] || !strcmp(rd.started_at, started[k])),
                  "round %d: %s .. %s", k + 1, rd.started_at, rd.closed_at);
    }
    CHECK(rd.accuracy == 0.9);
    CHECK(gf_store_round_get(s, id, 4, &rd) == GF_OK && rd.state == GF_STORE_ROUND_OPEN &&
          !strcmp(rd.started_at, "2027-01-15T08:00:02.253Z"));
    gf_store_job j;
    CHECK(gf_store_job_get(s, id, &j) == GF_OK && j.round == 3);
    gf_store_job_free(&j);
    gf_store_close(s);
}

/* Cancelling a queued job only while it is queued: a job the scheduler
 * started meanwhile stays running (its end and usage are recorded when it
 * ends), a final job stays final, an unknown job is named. */
static void test_cancel_queued(const char *dir)
{
    gf_store *s = NULL;
    CHECK(gf_store_open(dir, &s) == GF_OK);
    if (!s) return;
    int64_t q = 0, r = 0;
    CHECK(gf_store_job_create(s, 0, "q", "program", "{}", &q) == GF_OK);
    CHECK(gf_store_job_create(s, 0, "r", "central", "{}", &r) == GF_OK);
    gf_store_exec x = { .job_id = r, .started_unix = 1.0, .cores = 1 };
    snprintf(x.executor, sizeof x.executor, "local");
    snprintf(x.handle, sizeof x.handle, "1:1");
    CHECK(gf_store_job_start(s, r, &x, 1, "started") == GF_OK);

    CHECK(gf_store_job_cancel_queued(s, q, "cancelled by the operator") == GF_OK);
    gf_store_job j;
    CHECK(gf_store_job_get(s, q, &j) == GF_OK && j.state == GF_STORE_JOB_CANCELLED &&
          !strcmp(j.reason, "cancelled by the operator"));
    gf_store_job_free(&j);

    CHECK(gf_store_job_cancel_queued(s, r, "cancelled by the operator") == GF_ERR_MISMATCH);
    CHECK_MSG(strstr(gf_last_error(), "running, not queued") != NULL, "%s", gf_last_error());
    CHECK(gf_store_job_get(s, r, &j) == GF_OK && j.state == GF_STORE_JOB_RUNNING && !strcmp(j.reason, "started"));
    gf_store_job_free(&j);
    /* its end is still recorded, with its usage */
    gf_store_usage u = { .core_s = 2.5, .cpu_s = 2.0, .wall_s = 2.5, .ended_unix = 3.5 };
    snprintf(u.executor, sizeof u.executor, "local");
    CHECK_MSG(gf_store_job_finish(s, r, GF_STORE_JOB_SUCCEEDED, "exited 0", &u) == GF_OK, "%s", gf_last_error());

    CHECK(gf_store_job_cancel_queued(s, q, "again") == GF_ERR_MISMATCH);
    CHECK(gf_store_job_cancel_queued(s, r, "after its end") == GF_ERR_MISMATCH);
    CHECK(gf_store_job_get(s, r, &j) == GF_OK && j.state == GF_STORE_JOB_SUCCEEDED);
    gf_store_job_free(&j);
    CHECK(gf_store_job_cancel_queued(s, 999, "none") == GF_ERR_ARG);
    CHECK_MSG(strstr(gf_last_error(), "no job 999") != NULL, "%s", gf_last_error());
    gf_store_close(s);
}

/* grants as "tenant/site,..." in listing order */
static int grant_cat(const gf_site_grant *g, void *ctx)
{
    char *out = ctx;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "%s%s/%s", n ? "," : "", g->tenant, g->site);
    return 0;
}

static void grants_of(gf_store *s, int64_t tenant_id, char out[256])
{
    out[0] = 0;
    CHECK_MSG(gf_store_site_grants(s, tenant_id, grant_cat, out) == GF_OK, "%s", gf_last_error());
}

/* Sites granted to tenants: idempotent grants, refusals naming what is
 * wrong, revokes, per-tenant listings, durability, and the migration of a
 * version-3 database (its tenants kept, the table added). */
static void test_site_grants(const char *dir)
{
    gf_store *s = NULL;
    CHECK(gf_store_open(dir, &s) == GF_OK);
    int64_t a = 0, b = 0;
    int added = -1;
    char got[256];
    CHECK(gf_store_tenant_add(s, "beta", 1, NAN, NAN, &b) == GF_OK);
    CHECK(gf_store_tenant_add(s, "alpha", 1, NAN, NAN, &a) == GF_OK);
    CHECK(gf_store_site_grant(s, "s1", "beta", &added) == GF_OK && added == 1);
    CHECK(gf_store_site_grant(s, "s1", "alpha", &added) == GF_OK && added == 1);
    CHECK(gf_store_site_grant(s, "s0", "alpha", &added) == GF_OK && added == 1);
    CHECK(gf_store_site_grant(s, "s0", "alpha", &added) == GF_OK && added == 0);     /* the same grant */
    grants_of(s, 0, got);
    CHECK_MSG(!strcmp(got, "alpha/s0,alpha/s1,beta/s1"), "all grants: %s", got);
    grants_of(s, b, got);
    CHECK_MSG(!strcmp(got, "beta/s1"), "beta's grants: %s", got);
    CHECK(gf_store_site_grant(s, "s0", "gamma", NULL) == GF_ERR_ARG);
    CHECK_MSG(strstr(gf_last_error(), "no tenant \"gamma\"") != NULL, "%s", gf_last_error());
    CHECK(gf_store_site_grant(s, "S 0", "alpha", NULL) == GF_ERR_ARG);
    CHECK_MSG(strstr(gf_last_error(), "site:") != NULL, "%s", gf_last_error());
    CHECK(gf_store_site_grant(s, "operator", "alpha", NULL) == GF_ERR_ARG);
    CHECK(gf_store_site_grant(s, "s0", "", NULL) == GF_ERR_ARG);
    CHECK(gf_store_site_revoke(s, "s0", "beta") == GF_ERR_ARG);
    CHECK_MSG(strstr(gf_last_error(), "site \"s0\" is not granted to tenant \"beta\"") != NULL, "%s", gf_last_error());
    CHECK(gf_store_site_revoke(s, "s0", "alpha") == GF_OK);
    CHECK(gf_store_site_revoke(s, "s0", "alpha") == GF_ERR_ARG);
    grants_of(s, a, got);
    CHECK_MSG(!strcmp(got, "alpha/s1"), "alpha's grants after the revoke: %s", got);
    gf_store_close(s);
    s = NULL;
    CHECK(gf_store_open(dir, &s) == GF_OK);
    grants_of(s, 0, got);
    CHECK_MSG(!strcmp(got, "alpha/s1,beta/s1"), "after reopening: %s", got);
    gf_store_close(s);

    /* a database of schema version 3 (no site_grants) is brought up to 4 */
    char path[600];
    snprintf(path, sizeof path, "%s/state.db", dir);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "DROP TABLE site_grants; UPDATE schema_version SET version = 3", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    s = NULL;
    CHECK_MSG(gf_store_open(dir, &s) == GF_OK, "%s", gf_last_error());
    grants_of(s, 0, got);
    CHECK_MSG(!strcmp(got, ""), "after the migration: %s", got);
    CHECK(gf_store_site_grant(s, "s2", "beta", &added) == GF_OK && added == 1);   /* tenants kept */
    grants_of(s, 0, got);
    CHECK_MSG(!strcmp(got, "beta/s2"), "after the migration and a grant: %s", got);
    gf_store_close(s);
}

typedef struct { int n; char got[1024]; } ds_ctx;

static int ds_fn(const gf_dataset_entry *e, void *ctx)
{
    ds_ctx *c = ctx;
    size_t u = strlen(c->got);
    snprintf(c->got + u, sizeof c->got - u, "%s%s=%s:%s:%s:%s:%d:%s", c->n++ ? ";" : "", e->name,
             gf_dataset_format_name(e->format), strrchr(e->path, '/') ? strrchr(e->path, '/') + 1 : e->path, e->label,
             e->options, e->public_, e->tenants);
    return 0;
}

static int sql_ok(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc == SQLITE_OK;
}

/* Schema 5: a database of schema version 4, its datasets table made with
 * version 3's DDL (formats idx and csv only, an .npz stored as 'csv'), is
 * opened by this build: its rows and grants are kept, the .npz row becomes
 * 'npz', and the table takes the readers' formats and options. */
static void test_datasets_migration(const char *dir)
{
    gf_store *s = NULL;
    CHECK(gf_store_open(dir, &s) == GF_OK);
    int64_t acme = 0;
    CHECK(gf_store_tenant_add(s, "acme", 1, NAN, NAN, &acme) == GF_OK);
    gf_store_close(s);
    char path[600];
    snprintf(path, sizeof path, "%s/state.db", dir);
    CHECK(sql_ok(path,
        "DROP TABLE dataset_grants; DROP TABLE datasets;"
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
        "INSERT INTO datasets VALUES('digits','idx','/srv/d',NULL,NULL,1,'2026-01-01T00:00:00.000Z');"
        "INSERT INTO datasets VALUES('iris','csv','/srv/iris.csv','species','/srv/iris-test.csv',0,"
        " '2026-01-01T00:00:00.000Z');"
        "INSERT INTO datasets VALUES('pneu','csv','/srv/Pneu.NPZ',NULL,NULL,0,'2026-01-01T00:00:00.000Z');"
        "INSERT INTO dataset_grants SELECT 'iris', id FROM tenants WHERE name = 'acme';"
        "INSERT INTO dataset_grants SELECT 'pneu', id FROM tenants WHERE name = 'acme';"
        "UPDATE schema_version SET version = 4"));
    /* the old table refuses the new formats: what the migration must change */
    CHECK(!sql_ok(path, "INSERT INTO datasets VALUES('g','plink','/srv/g',NULL,NULL,1,'2026-01-01T00:00:00.000Z')"));

    s = NULL;
    CHECK_MSG(gf_store_open(dir, &s) == GF_OK, "%s", gf_last_error());
    ds_ctx c = {0};
    CHECK(gf_store_datasets(s, 0, ds_fn, &c) == GF_OK);
    CHECK_MSG(!strcmp(c.got, "fashion-mnist=idx:fashion-mnist:::1:;digits=idx:d:::1:;iris=csv:iris.csv:species::0:acme;"
                             "pneu=npz:Pneu.NPZ:::0:acme"), "after the migration: %s", c.got);
    ds_ctx t = {0};
    CHECK(gf_store_datasets(s, acme, ds_fn, &t) == GF_OK && t.n == 4);             /* acme's grants kept */
    char spec[GF_DATASET_SPEC_MAX];
    CHECK(gf_datasets_resolve(s, "nosuch", acme, spec, sizeof spec) == GF_ERR_ARG);
    gf_store_close(s);
    CHECK(sql_ok(path, "INSERT INTO datasets(name, format, path, options, public, created_at) VALUES('g','plink',"
                       "'/srv/g','pheno_col=1',1,'2026-01-01T00:00:00.000Z')"));
    CHECK(!sql_ok(path, "INSERT INTO datasets(name, format, path, public, created_at) VALUES('h','hdf5','/srv/h',1,"
                        "'2026-01-01T00:00:00.000Z')"));
    CHECK(!sql_ok(path, "INSERT INTO datasets SELECT * FROM datasets WHERE (SELECT version FROM schema_version) = 5"));
    /* (the copy of an existing row clashes with its name only when the version is 5) */
    CHECK(!sql_ok(path, "SELECT * FROM datasets_v4"));                              /* the copies are gone */
    s = NULL;
    CHECK(gf_store_open(dir, &s) == GF_OK);
    ds_ctx g = {0};
    CHECK(gf_store_datasets(s, 0, ds_fn, &g) == GF_OK && g.n == 5 && strstr(g.got, "g=plink:g::pheno_col=1:1:"));
    gf_store_close(s);
}

int main(void)
{
    char tmpl[] = "/tmp/gf_test_store_XXXXXX";
    char *base = mkdtemp(tmpl);
    CHECK(base != NULL);
    if (!base) return check_summary();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/lifecycle", base);
    test_lifecycle(dir);
    snprintf(dir, sizeof dir, "%s/crash", base);
    test_crash(dir);
    snprintf(dir, sizeof dir, "%s/refuse", base);
    test_refusals(dir);
    snprintf(dir, sizeof dir, "%s/finish", base);
    test_finish(dir);
    test_finish_many(dir);
    snprintf(dir, sizeof dir, "%s/cancel", base);
    test_cancel_queued(dir);
    snprintf(dir, sizeof dir, "%s/grants", base);
    test_site_grants(dir);
    snprintf(dir, sizeof dir, "%s/datasets", base);
    test_datasets_migration(dir);
    rm_dir(base);
    return check_summary();
}
