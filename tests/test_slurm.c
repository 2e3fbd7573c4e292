/* Tests for the Slurm executor's link to Slurm, against a real Slurm with
 * accounting: the one GF_SLURM_CONF names, else a private one this test
 * starts with scripts/slurm-local.sh (and stops at the end, also when it
 * fails or crashes: a watchdog child does it when this process is gone).
 *
 * Covered: accounts and their shares in sshare; a job's state, exit code and
 * accounting (core-seconds = cores x elapsed, GPU-seconds); FAILED with the
 * exit code; TIMEOUT; cancel (and cancel of an ended or unknown job); GPUs
 * reaching the job as CUDA_VISIBLE_DEVICES and a request for more GPUs than
 * the node has refused; arguments and environment values with quotes,
 * spaces, $(), newlines and carriage returns reaching the job unchanged; '%'
 * in log paths; bad names and arguments refused before any tool runs; a
 * missing tool and a tool past its timeout. The time-limit job holds one core
 * for 60 to 90 s (Slurm's granularity), so the other jobs run beside it. */
#include "facility/slurm.h"
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static gf_slurm S;
static char dir[64];             /* the test's temp folder; the private Slurm under dir/slurm */
static char slurm_dir[96];
static char conf_path[160];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    nanosleep(&ts, NULL);
}

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

/* Whole contents of a file (NULL if missing), with its length; free it. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2) {
            char *p = realloc(buf, cap * 2);
            if (!p) { free(buf); buf = NULL; break; }
            buf = p;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

static int is_final(gf_slurm_state s)
{
    return s == GF_SLURM_COMPLETED || s == GF_SLURM_FAILED || s == GF_SLURM_CANCELLED || s == GF_SLURM_TIMEOUT;
}

/* Polls the job until it has ended (with its accounting) or limit_s passed. */
static int wait_final(int64_t id, double limit_s, gf_slurm_info *info)
{
    double end = now_s() + limit_s;
    for (;;) {
        gf_status st = gf_slurm_query(&S, id, info);
        CHECK_MSG(st == GF_OK, "query %lld: %s", (long long)id, gf_last_error());
        if (st != GF_OK) return 0;
        if (is_final(info->state)) return 1;
        if (now_s() > end) {
            CHECK_MSG(0, "job %lld still %s (%s) after %g s", (long long)id, info->state_name, info->reason, limit_s);
            return 0;
        }
        sleep_s(0.25);
    }
}

static int64_t submit(const gf_slurm_job *j)
{
    int64_t id = 0;
    gf_status st = gf_slurm_submit(&S, j, &id);
    CHECK_MSG(st == GF_OK, "submit %s: %s", j->name ? j->name : "", gf_last_error());
    CHECK(st != GF_OK || id > 0);
    return st == GF_OK ? id : 0;
}

/* ---- the private Slurm --------------------------------------------------- */

static int run_script(const char *verb)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "scripts/slurm-local.sh", verb, slurm_dir, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0) return 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A child that waits for this process to end (the pipe's write end closes
 * with it, however it ends), then stops the Slurm and removes the folder. */
static pid_t start_watchdog(int *keep_fd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[1]);
        setsid();   /* not in the terminal's group: a ^C to the test does not reach it */
        char c;
        while (read(p[0], &c, 1) < 0 && errno == EINTR) {}
        if (slurm_dir[0]) run_script("stop");
        execlp("rm", "rm", "-rf", dir, (char *)NULL);
        _exit(127);
    }
    close(p[0]);
    *keep_fd = p[1];
    return pid;
}

static int start_slurm(void)
{
    if (access("scripts/slurm-local.sh", R_OK) != 0) {
        fprintf(stderr, "scripts/slurm-local.sh not found: run from the repository root\n");
        return 0;
    }
    double t0 = now_s();
    if (!run_script("start")) {
        fprintf(stderr, "scripts/slurm-local.sh start %s failed\n", slurm_dir);
        return 0;
    }
    fprintf(stderr, "private Slurm up in %.1f s\n", now_s() - t0);
    snprintf(conf_path, sizeof conf_path, "%s/etc/slurm.conf", slurm_dir);
    return 1;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_bad_names_refused_early(void)
{
    /* with no tools to be found, anything that ran one would fail otherwise */
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    setenv("PATH", "/nonexistent", 1);
    const char *bad[] = { "", "Acme", "a b", "a;rm -rf x", "a'b", "a=b", "a/b", "\xc3\xa4",
                          "x123456789x123456789x123456789x123456789x123456789x123456789x123456789x123456789x123456789x123456789x123456789x123456789x12345678" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!gf_slurm_account_name_ok(bad[i]));
        gf_status st = gf_slurm_account_set(&S, bad[i], 10);
        CHECK_MSG(st == GF_ERR_ARG && strstr(gf_last_error(), "account name"), "\"%s\": %s", bad[i],
                  gf_last_error());
        char *argv[] = { "true", NULL };
        gf_slurm_job j = { .account = bad[i], .argv = argv };
        int64_t id = 0;
        st = gf_slurm_submit(&S, &j, &id);
        CHECK_MSG(st == GF_ERR_ARG && id == 0, "submit under \"%s\": %s", bad[i], gf_last_error());
    }
    CHECK(gf_slurm_account_set(&S, NULL, 10) == GF_ERR_ARG);
    CHECK(gf_slurm_account_name_ok("x123456789x123456789x123456789x123456789x123456789x123456789x123456789x123456789x123456789x123456789x123456789x123456789x123456"));
    CHECK(gf_slurm_account_name_ok("a-b_c9"));
    {   /* tenants that differ only in '.', '_' and case never share an account */
        const char *tenants[] = { "tenant.a", "tenant_a", "Tenant-A", "tenant__a", "tenant_da", "T.", "t_" };
        const char *want[] = { "tenant_da", "tenant__a", "tenant-a", "tenant____a", "tenant__da", "t_d", "t__" };
        char acc[7][GF_SLURM_ACCOUNT_MAX + 1];
        for (int i = 0; i < 7; i++) {
            gf_slurm_account_of_tenant(tenants[i], acc[i]);
            CHECK_MSG(!strcmp(acc[i], want[i]) && gf_slurm_account_name_ok(acc[i]), "%s -> %s", tenants[i], acc[i]);
        }
        char longest[65], acc64[GF_SLURM_ACCOUNT_MAX + 1];
        memset(longest, '.', 64);
        longest[64] = 0;
        gf_slurm_account_of_tenant(longest, acc64);
        CHECK(strlen(acc64) == 128 && gf_slurm_account_name_ok(acc64));
    }
    CHECK(gf_slurm_account_set(&S, "ok", -1) == GF_ERR_ARG);

    char *argv[] = { "true", NULL };
    char *bad_env[] = { "NOEQUALS", NULL };
    char *bad_env2[] = { "1X=y", NULL };
    char *empty_argv[] = { NULL };
    gf_slurm_job jobs[] = {
        { .argv = argv, .env = bad_env },
        { .argv = argv, .env = bad_env2 },
        { .argv = empty_argv },
        { .argv = NULL },
        { .argv = argv, .stdout_path = "a\\b" },
        { .argv = argv, .cores = -1 },
        { .argv = argv, .gpus = -2 },
        { .argv = argv, .memory_mb = -5 },
        { .argv = argv, .time_limit_s = -1 },
        { .argv = argv, .name = "two\nlines" },
    };
    for (size_t i = 0; i < sizeof jobs / sizeof jobs[0]; i++) {
        int64_t id = 0;
        gf_status st = gf_slurm_submit(&S, &jobs[i], &id);
        CHECK_MSG(st == GF_ERR_ARG, "bad job %zu: %s", i, gf_last_error());
    }
    gf_slurm_info info;
    CHECK(gf_slurm_query(&S, 0, &info) == GF_ERR_ARG);
    CHECK(gf_slurm_cancel(&S, -3) == GF_ERR_ARG);

    /* a good call now fails for the missing tool, with a message that says so */
    gf_status st = gf_slurm_query(&S, 1, &info);
    CHECK_MSG(st == GF_ERR_IO && strstr(gf_last_error(), "not found in PATH"), "%s", gf_last_error());
    if (saved) setenv("PATH", saved, 1);
    else unsetenv("PATH");
    free(saved);
}

static const gf_slurm_share *find_share(const gf_slurm_share *rows, int n, const char *account)
{
    for (int i = 0; i < n; i++)
        if (strcmp(rows[i].account, account) == 0) return &rows[i];
    return NULL;
}

static void test_accounts(void)
{
    gf_status st = gf_slurm_account_set(&S, "gft-alpha", 40);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    st = gf_slurm_account_set(&S, "gft-beta", 60);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    st = gf_slurm_account_set(&S, "gft-alpha", 30);   /* an update, and the user already in it */
    CHECK_MSG(st == GF_OK, "update: %s", gf_last_error());
    st = gf_slurm_account_set(&S, "where", 5);   /* one of sacctmgr's keywords */
    CHECK_MSG(st == GF_OK, "where: %s", gf_last_error());

    int n = -1;
    st = gf_slurm_shares(&S, NULL, 0, &n);
    CHECK_MSG(st == GF_OK && n >= 3, "count: %s (n %d)", gf_last_error(), n);
    if (n < 3) return;
    gf_slurm_share *rows = calloc((size_t)n, sizeof *rows);
    CHECK(rows != NULL);
    if (!rows) return;
    int n2 = 0;
    st = gf_slurm_shares(&S, rows, n, &n2);
    CHECK_MSG(st == GF_OK && n2 == n, "%s", gf_last_error());
    const gf_slurm_share *a = find_share(rows, n2, "gft-alpha"), *b = find_share(rows, n2, "gft-beta");
    CHECK(find_share(rows, n2, "root") != NULL);
    const gf_slurm_share *w = find_share(rows, n2, "where");
    CHECK(w && w->raw_shares == 5);
    CHECK(a && b);
    if (a && b) {
        CHECK(a->raw_shares == 30 && b->raw_shares == 60);
        CHECK(a->norm_shares > 0 && a->norm_shares < 1 && b->norm_shares > a->norm_shares);
        CHECK_NEAR(a->norm_shares / b->norm_shares, 0.5, 1e-3);
        CHECK(a->raw_usage >= 0 && b->raw_usage >= 0);
        CHECK(isnan(a->fairshare) || (a->fairshare >= 0 && a->fairshare <= 1));
    }
    free(rows);
}

typedef struct {
    int64_t ok, fail3, cancel, gpu, gpu_env_ok, argv_job;
} jobs_t;

/* Arguments that a shell would take apart, and what a script would mistake
 * for directives. */
static char *const weird_args[] = {
    "it's", "\"double\"", "two words", "$(touch /tmp/gf_slurm_pwned)", "`id`", "$HOME", "a\nb\n",
    "\n#SBATCH --time=99", "cr\r\nlf", "\r", "back\\slash\\", "*", "", "-n", "%j %% 100%", "'\"'\"'", "; exit 9",
};
#define WEIRD_VALUE "v a l'u\"e $(x) \n\r\n end"

static void test_argv_env(int64_t id, const char *out_path, const char *err_path)
{
    gf_slurm_info info;
    if (!wait_final(id, 60, &info)) return;
    CHECK_MSG(info.state == GF_SLURM_COMPLETED && info.exit_code == 0, "%s exit %d", info.state_name, info.exit_code);
    size_t len = 0;
    char *got = slurp(out_path, &len);
    CHECK_MSG(got != NULL, "no %s", out_path);
    if (got) {
        /* printf '%s\0' per argument */
        size_t off = 0, n = sizeof weird_args / sizeof weird_args[0], i = 0;
        for (; i < n && off < len; i++) {
            CHECK_MSG(strcmp(got + off, weird_args[i]) == 0, "argument %zu: got \"%s\" want \"%s\"", i, got + off,
                      weird_args[i]);
            off += strlen(got + off) + 1;
        }
        CHECK_MSG(i == n && off == len, "%zu of %zu arguments, %zu of %zu bytes", i, n, off, len);
    }
    free(got);
    char *env = slurp(err_path, NULL);
    CHECK_MSG(env && strcmp(env, WEIRD_VALUE) == 0, "environment value \"%s\"", env ? env : "(none)");
    free(env);
    CHECK(access("/tmp/gf_slurm_pwned", F_OK) != 0);
}

static void test_jobs(int64_t timeout_id, double timeout_submitted)
{
    char work[128], out_ok[160], out_argv[160], err_argv[160], out_gpu[160], err_fail[160];
    path_in(work, sizeof work, "jobs/work dir %j");
    snprintf(out_ok, sizeof out_ok, "%s/ok %%j.out", work);
    snprintf(out_argv, sizeof out_argv, "%s/argv.out", work);
    snprintf(err_argv, sizeof err_argv, "%s/env.out", work);
    snprintf(out_gpu, sizeof out_gpu, "%s/gpu.out", work);
    snprintf(err_fail, sizeof err_fail, "%s/fail.err", work);

    /* all at once: they share the core the time-limit job leaves */
    char *argv_ok[] = { "/bin/sh", "-c", "sleep 2; echo done; pwd", NULL };
    gf_slurm_job ok = { .account = "gft-alpha", .name = "ok", .workdir = work, .stdout_path = out_ok,
                        .cores = 1, .memory_mb = 100, .time_limit_s = 120, .argv = argv_ok };
    char *argv_fail[] = { "/bin/sh", "-c", "echo failing >&2; exit 3", NULL };
    gf_slurm_job fail = { .account = "gft-beta", .name = "fail3", .workdir = work, .stderr_path = err_fail,
                          .argv = argv_fail };
    char *argv_gpu[] = { "/bin/sh", "-c", "printf %s \"$CUDA_VISIBLE_DEVICES\"", NULL };
    gf_slurm_job gpu = { .account = "gft-alpha", .name = "gpu1", .workdir = work, .stdout_path = out_gpu,
                         .gpus = 1, .argv = argv_gpu };
    size_t nweird = sizeof weird_args / sizeof weird_args[0];
    char **argv_argv = calloc(nweird + 5, sizeof *argv_argv);
    CHECK(argv_argv != NULL);
    if (!argv_argv) return;
    argv_argv[0] = "/bin/sh";
    argv_argv[1] = "-c";
    argv_argv[2] = "printf '%s\\0' \"$@\"; printf '%s' \"$GF_WEIRD\" >&2";
    argv_argv[3] = "sh";
    for (size_t i = 0; i < nweird; i++) argv_argv[4 + i] = weird_args[i];
    char *env[] = { "GF_WEIRD=" WEIRD_VALUE, "GF_OTHER=1", NULL };
    gf_slurm_job wj = { .account = "gft-alpha", .name = "argv", .workdir = work, .stdout_path = out_argv,
                        .stderr_path = err_argv, .argv = argv_argv, .env = env };
    char *argv_long[] = { "sleep", "120", NULL };
    gf_slurm_job longj = { .account = "gft-beta", .name = "to-cancel", .argv = argv_long };

    int64_t id_ok = submit(&ok), id_fail = submit(&fail), id_gpu = submit(&gpu), id_argv = submit(&wj);
    int64_t id_cancel = submit(&longj);

    gf_slurm_info info;
    gf_status st;
    /* cancelled at once, running or not: jobs here start in fair-share order, not
     * in the order they came, so a long job left alone could hold the free core */
    if (id_cancel) {
        st = gf_slurm_query(&S, id_cancel, &info);
        CHECK_MSG(st == GF_OK && (info.state == GF_SLURM_RUNNING || info.state == GF_SLURM_PENDING), "%s %s",
                  gf_last_error(), info.state_name);
        st = gf_slurm_cancel(&S, id_cancel);
        CHECK_MSG(st == GF_OK, "cancel: %s", gf_last_error());
        if (wait_final(id_cancel, 30, &info)) CHECK_MSG(info.state == GF_SLURM_CANCELLED, "%s", info.state_name);
        st = gf_slurm_cancel(&S, id_cancel);   /* ended: a no-op */
        CHECK_MSG(st == GF_OK, "second cancel: %s", gf_last_error());
    }

    /* three GPUs on a node with two: refused at submission */
    gpu.gpus = 3;
    int64_t id3 = 0;
    st = gf_slurm_submit(&S, &gpu, &id3);
    CHECK_MSG(st == GF_ERR_ARG && strstr(gf_last_error(), "Requested node configuration is not available"),
              "3 GPUs: %s", gf_last_error());
    CHECK(id3 == 0);

    if (id_ok && wait_final(id_ok, 60, &info)) {
        CHECK_MSG(info.state == GF_SLURM_COMPLETED && info.exit_code == 0 && info.signal == 0, "%s %d:%d",
                  info.state_name, info.exit_code, info.signal);
        CHECK(strcmp(info.state_name, "COMPLETED") == 0);
        CHECK(info.cores >= 1 && info.gpus == 0);
        CHECK_MSG(info.elapsed_s >= 2 && info.elapsed_s <= 20, "elapsed %g", info.elapsed_s);
        CHECK_MSG(info.core_s == info.cores * info.elapsed_s, "core_s %g, cores %d x elapsed %g", info.core_s,
                  info.cores, info.elapsed_s);
        CHECK(info.gpu_s == 0);
        CHECK_MSG(info.max_rss_kb > 0, "max_rss_kb %lld", (long long)info.max_rss_kb);
        CHECK(strlen(info.start) == 19 && strlen(info.end) == 19 && strcmp(info.start, info.end) < 0);
        char want[200], path[200];
        snprintf(want, sizeof want, "done\n%s\n", work);   /* '%' and spaces kept as they are */
        snprintf(path, sizeof path, "%s/ok %%j.out", work);
        char *got = slurp(path, NULL);
        CHECK_MSG(got && strcmp(got, want) == 0, "stdout \"%s\"", got ? got : "(no file)");
        free(got);
    }
    if (id_fail && wait_final(id_fail, 60, &info)) {
        CHECK_MSG(info.state == GF_SLURM_FAILED && info.exit_code == 3 && info.signal == 0, "%s %d:%d",
                  info.state_name, info.exit_code, info.signal);
        char *got = slurp(err_fail, NULL);
        CHECK_MSG(got && strcmp(got, "failing\n") == 0, "stderr \"%s\"", got ? got : "(no file)");
        free(got);
    }
    if (id_gpu && wait_final(id_gpu, 60, &info)) {
        CHECK_MSG(info.state == GF_SLURM_COMPLETED, "%s", info.state_name);
        CHECK(info.gpus == 1);
        CHECK(info.gpu_s == info.elapsed_s);
        char *got = slurp(out_gpu, NULL);
        CHECK_MSG(got && (strcmp(got, "0") == 0 || strcmp(got, "1") == 0), "CUDA_VISIBLE_DEVICES \"%s\"",
                  got ? got : "(no file)");
        free(got);
    }
    if (id_argv) test_argv_env(id_argv, out_argv, err_argv);
    free(argv_argv);

    st = gf_slurm_cancel(&S, 999999999);
    CHECK_MSG(st == GF_ERR_ARG && strstr(gf_last_error(), "999999999"), "cancel unknown: %s", gf_last_error());
    st = gf_slurm_query(&S, 999999999, &info);
    CHECK_MSG(st == GF_ERR_ARG, "query unknown: %s", gf_last_error());

    /* a tool past its timeout is killed */
    gf_slurm quick = { S.conf, 1e-6 };
    st = gf_slurm_query(&quick, id_ok ? id_ok : 1, &info);
    CHECK_MSG(st == GF_ERR_IO && strstr(gf_last_error(), "did not finish"), "%s", gf_last_error());

    if (timeout_id) {
        double left = 120 - (now_s() - timeout_submitted);
        if (wait_final(timeout_id, left > 1 ? left : 1, &info)) {
            CHECK_MSG(info.state == GF_SLURM_TIMEOUT, "%s", info.state_name);
            CHECK_MSG(info.signal == SIGTERM || info.signal == SIGKILL, "signal %d", info.signal);
            CHECK_MSG(info.elapsed_s >= 60 && info.elapsed_s <= 110, "elapsed %g", info.elapsed_s);
            CHECK(info.core_s == info.cores * info.elapsed_s);
            fprintf(stderr, "time limit of 1 min: TIMEOUT after %g s\n", info.elapsed_s);
        }
    }
    if (!slurm_dir[0]) return;   /* how often another Slurm adds usage to the tree is not known here */

    /* the usage reached the fair-share tree. Slurm adds it on its periodic
     * pass (PriorityCalcPeriod, 1 min here), and only for the time a job
     * was running at a pass: the time-limit job spans one */
    gf_slurm_share rows[64];
    int n = 0;
    double end = now_s() + 10;
    const gf_slurm_share *a = NULL;
    do {
        st = gf_slurm_shares(&S, rows, 64, &n);
        CHECK_MSG(st == GF_OK, "%s", gf_last_error());
        a = st == GF_OK ? find_share(rows, n < 64 ? n : 64, "gft-alpha") : NULL;
        if (a && a->raw_usage > 0) break;
        sleep_s(0.5);
    } while (now_s() < end);
    CHECK_MSG(a && a->raw_usage > 0, "raw usage of gft-alpha %g", a ? a->raw_usage : -1.0);
}

int main(void)
{
    double t0 = now_s();
    const char *conf = getenv("GF_SLURM_CONF");
    snprintf(dir, sizeof dir, "/tmp/gf_test_slurm_XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    if (!conf) snprintf(slurm_dir, sizeof slurm_dir, "%s/slurm", dir);   /* before the watchdog copies it */
    int keep_fd = -1;
    pid_t watchdog = start_watchdog(&keep_fd);
    CHECK(watchdog > 0);
    if (!conf) {
        if (!start_slurm()) { CHECK_MSG(0, "no Slurm to test against"); goto done; }
        conf = conf_path;
    }
    S.conf = conf;

    test_bad_names_refused_early();
    test_accounts();

    /* the time-limit job first: Slurm ends it 60 to 90 s from now */
    char *argv_sleep[] = { "sleep", "300", NULL };
    gf_slurm_job tj = { .account = "gft-alpha", .name = "timeout", .time_limit_s = 1, .argv = argv_sleep };
    double t_submit = now_s();
    int64_t timeout_id = submit(&tj);
    test_jobs(timeout_id, t_submit);

done:
    if (keep_fd >= 0) close(keep_fd);   /* the watchdog stops the Slurm and removes dir */
    if (watchdog > 0) while (waitpid(watchdog, NULL, 0) < 0 && errno == EINTR) {}
    fprintf(stderr, "test_slurm: %.1f s\n", now_s() - t0);
    return check_summary();
}
