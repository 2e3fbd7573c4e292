/* The Slurm executor's link to Slurm (see slurm.h): running a Slurm tool as
 * a child process with its input, output, error text, timeout and exit
 * status (started by core/spawn); writing the batch script; parsing the
 * tools' `|`-separated output. */
#include "facility/slurm.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "core/spawn.h"

extern char **environ;

#define ERR_KEEP      2048      /* bytes of a tool's stderr kept for the message */
#define MAX_ARGS      32        /* arguments of one tool run, the tool's name included */
#define MAX_SHARES    1000000000
#define MAX_COUNT     1000000   /* cores or GPUs of one job */
#define MAX_MEMORY_MB ((int64_t)1 << 40)
#define MAX_TIME_S    ((int64_t)100 * 366 * 24 * 3600)

/* ---- growable strings ---------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;          /* an append failed: the contents are incomplete */
} strbuf;

static void sb_addn(strbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            if (cap > SIZE_MAX / 2) { b->oom = 1; return; }
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_add(strbuf *b, const char *s) { sb_addn(b, s, strlen(s)); }

/* s as one /bin/sh word: single-quoted, a quote as '\'' and a carriage
 * return as "$(printf '\r')" (sbatch refuses scripts with "\r\n" in them). */
static void sb_add_quoted(strbuf *b, const char *s)
{
    sb_add(b, "'");
    for (; *s; s++) {
        if (*s == '\'') sb_add(b, "'\\''");
        else if (*s == '\r') sb_add(b, "'\"$(printf '\\r')\"'");
        else sb_addn(b, s, 1);
    }
    sb_add(b, "'");
}

/* ---- running a tool ------------------------------------------------------ */

typedef struct {
    char *out;              /* stdout, NUL-terminated */
    size_t out_len, out_cap;
    char err[ERR_KEEP + 4]; /* the start of stderr, NUL-terminated, "..." when cut */
    size_t err_len;
    int exit_status;        /* -1 when ended by a signal */
} tool_run;

static void tool_run_free(tool_run *r) { free(r->out); r->out = NULL; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int env_dropped(const char *e)
{
    static const char *const prefixes[] = { "SLURM_", "SBATCH_", "SQUEUE_", "SACCT_", "SSHARE_", "SCANCEL_" };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(e, prefixes[i], strlen(prefixes[i])) == 0) return 1;
    return 0;
}

/* The tools' environment (see slurm.h). The entries point into environ
 * except *conf_entry, allocated here. */
static gf_status build_env(const gf_slurm *s, char ***out, char **conf_entry)
{
    size_t n = 0;
    while (environ && environ[n]) n++;
    char **envp = malloc((n + 3) * sizeof *envp);
    if (!envp) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    *conf_entry = NULL;
    const char *conf = s->conf ? s->conf : getenv("SLURM_CONF");
    if (conf) {
        size_t len = strlen(conf);
        *conf_entry = malloc(len + sizeof "SLURM_CONF=");
        if (!*conf_entry) { free(envp); return gf_errorf(GF_ERR_NOMEM, "out of memory"); }
        memcpy(*conf_entry, "SLURM_CONF=", sizeof "SLURM_CONF=" - 1);
        memcpy(*conf_entry + sizeof "SLURM_CONF=" - 1, conf, len + 1);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!env_dropped(environ[i])) envp[k++] = environ[i];
    envp[k++] = (char *)"SLURM_TIME_FORMAT=standard";
    if (*conf_entry) envp[k++] = *conf_entry;
    envp[k] = NULL;
    *out = envp;
    return GF_OK;
}

/* The tool's path, from the PATH of envp. */
static gf_status find_tool(const char *tool, char *const *envp, char **out)
{
    const char *path = "/usr/local/bin:/usr/bin:/bin";
    for (size_t i = 0; envp[i]; i++)
        if (strncmp(envp[i], "PATH=", 5) == 0) path = envp[i] + 5;
    size_t tlen = strlen(tool);
    for (const char *d = path;;) {
        const char *end = strchr(d, ':');
        size_t dlen = end ? (size_t)(end - d) : strlen(d);
        if (dlen > 0 && d[0] == '/') {   /* relative entries are not trusted */
            char *cand = malloc(dlen + 1 + tlen + 1);
            if (!cand) return gf_errorf(GF_ERR_NOMEM, "out of memory");
            memcpy(cand, d, dlen);
            cand[dlen] = '/';
            memcpy(cand + dlen + 1, tool, tlen + 1);
            struct stat sb;
            if (stat(cand, &sb) == 0 && S_ISREG(sb.st_mode) && access(cand, X_OK) == 0) {
                *out = cand;
                return GF_OK;
            }
            free(cand);
        }
        if (!end) break;
        d = end + 1;
    }
    return gf_errorf(GF_ERR_IO, "cannot run %s: not found in PATH (%s); is Slurm's client installed?", tool, path);
}

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* The ends the parent keeps, and the child's. */
typedef struct {
    int in_w, out_r, err_r;   /* parent */
    int in_r, out_w, err_w;   /* child */
} tool_fds;

static void close_all(tool_fds *f)
{
    int *all[] = { &f->in_w, &f->out_r, &f->err_r, &f->in_r, &f->out_w, &f->err_w };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) close_fd(all[i]);
}

/* stdin: a socket pair when there is input (writes with MSG_NOSIGNAL: a tool
 * that exits without reading it cannot raise SIGPIPE here), else /dev/null. */
static gf_status open_fds(tool_fds *f, int with_input)
{
    int p[2];
    if (with_input) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0) goto fail;
        f->in_r = p[0];
        f->in_w = p[1];
        shutdown(f->in_r, SHUT_WR);
    } else if ((f->in_r = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        goto fail;
    }
    if (pipe2(p, O_CLOEXEC) != 0) goto fail;
    f->out_r = p[0];
    f->out_w = p[1];
    if (pipe2(p, O_CLOEXEC) != 0) goto fail;
    f->err_r = p[0];
    f->err_w = p[1];
    int nb[] = { f->in_w, f->out_r, f->err_r };
    for (size_t i = 0; i < 3; i++)
        if (nb[i] >= 0 && fcntl(nb[i], F_SETFL, fcntl(nb[i], F_GETFL) | O_NONBLOCK) != 0) goto fail;
    return GF_OK;
fail:
    return gf_errorf(GF_ERR_IO, "cannot set up pipes for a Slurm tool: %s", strerror(errno));
}

/* Reads what is there on *fd into the run's stdout (limited) or stderr
 * (kept up to ERR_KEEP); closes *fd at end of file. 1: stdout over its limit. */
static int drain(int *fd, tool_run *r, int is_out, int *oom)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(*fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return 0;   /* EAGAIN: later */
        if (n == 0) { close_fd(fd); return 0; }
        if (is_out) {
            if (r->out_len + (size_t)n > GF_SLURM_OUTPUT_MAX) return 1;
            if (r->out_len + (size_t)n + 1 > r->out_cap) {
                size_t cap = r->out_cap ? r->out_cap : 4096;
                while (cap < r->out_len + (size_t)n + 1) cap *= 2;
                char *p = realloc(r->out, cap);
                if (!p) { *oom = 1; return 1; }
                r->out = p;
                r->out_cap = cap;
            }
            memcpy(r->out + r->out_len, buf, (size_t)n);
            r->out_len += (size_t)n;
            r->out[r->out_len] = '\0';
        } else {
            size_t keep = r->err_len < ERR_KEEP ? ERR_KEEP - r->err_len : 0;
            if ((size_t)n < keep) keep = (size_t)n;
            memcpy(r->err + r->err_len, buf, keep);
            r->err_len += keep;
            if (keep < (size_t)n) strcpy(r->err + ERR_KEEP, "...");
            else r->err[r->err_len] = '\0';
        }
    }
}

static void kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
}

/* Feeds the input, collects the output, waits for the exit, all before
 * `deadline`. */
static gf_status talk(const char *tool, pid_t pid, tool_fds *f, const char *in, size_t in_len,
                      double timeout, tool_run *r)
{
    double deadline = now_s() + timeout;
    size_t in_off = 0;
    int oom = 0;
    if (f->in_w >= 0 && in_len == 0) close_fd(&f->in_w);
    while (f->out_r >= 0 || f->err_r >= 0) {
        struct pollfd pf[3];
        int np = 0, iw = -1, io = -1, ie = -1;
        if (f->in_w >= 0) { iw = np; pf[np++] = (struct pollfd){ f->in_w, POLLOUT, 0 }; }
        if (f->out_r >= 0) { io = np; pf[np++] = (struct pollfd){ f->out_r, POLLIN, 0 }; }
        if (f->err_r >= 0) { ie = np; pf[np++] = (struct pollfd){ f->err_r, POLLIN, 0 }; }
        double left = deadline - now_s();
        if (left <= 0) goto expired;
        int rc = poll(pf, (nfds_t)np, left > 1 ? 1000 : (int)(left * 1000) + 1);
        if (rc < 0 && errno != EINTR) {
            kill_and_reap(pid);
            return gf_errorf(GF_ERR_IO, "%s: poll: %s", tool, strerror(errno));
        }
        if (rc <= 0) continue;
        if (iw >= 0 && pf[iw].revents) {
            ssize_t w = send(f->in_w, in + in_off, in_len - in_off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) in_off += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off == in_len) close_fd(&f->in_w);
        }
        if ((io >= 0 && pf[io].revents && drain(&f->out_r, r, 1, &oom)) ||
            (ie >= 0 && pf[ie].revents && drain(&f->err_r, r, 0, &oom))) {
            kill_and_reap(pid);
            if (oom) return gf_errorf(GF_ERR_NOMEM, "out of memory reading the output of %s", tool);
            return gf_errorf(GF_ERR_IO, "%s wrote more than %u bytes", tool, GF_SLURM_OUTPUT_MAX);
        }
    }
    close_fd(&f->in_w);
    for (;;) {
        int status;
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            r->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            return GF_OK;
        }
        if (w < 0 && errno != EINTR) return gf_errorf(GF_ERR_IO, "%s: waitpid: %s", tool, strerror(errno));
        if (now_s() >= deadline) goto expired;
        nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
    }
expired:
    kill_and_reap(pid);
    return gf_errorf(GF_ERR_IO, "%s did not finish within %g s (killed)", tool, timeout);
}

/* fork + exec of the tool with args (the tool's name first, NULL-terminated),
 * in (may be NULL) on its stdin. On GF_OK the tool ran to its end: see
 * r->exit_status; the caller frees r with tool_run_free. */
static gf_status run_tool(const gf_slurm *s, char *const *args, const char *in, size_t in_len, tool_run *r)
{
    memset(r, 0, sizeof *r);
    const char *tool = args[0];
    double timeout = s->timeout_s > 0 ? s->timeout_s : GF_SLURM_TIMEOUT_DEFAULT;
    char **envp = NULL, *conf_entry = NULL, *prog = NULL;
    tool_fds f = { -1, -1, -1, -1, -1, -1 };
    gf_status st = build_env(s, &envp, &conf_entry);
    if (st == GF_OK) st = find_tool(tool, envp, &prog);
    if (st == GF_OK) st = open_fds(&f, in != NULL);
    if (st != GF_OK) goto done;

    gf_spawn_spec sp = { .path = prog, .argv = args, .envp = envp, .fd_in = f.in_r, .fd_out = f.out_w,
                         .fd_err = f.err_w };
    gf_spawn_failure fail;
    pid_t pid;
    if ((st = gf_spawn(&sp, &pid, &fail)) != GF_OK) {
        if (fail.stage != GF_SPAWN_NONE) st = gf_errorf(GF_ERR_IO, "cannot run %s (%s): %s", tool, prog, strerror(fail.err));
        goto done;
    }
    close_fd(&f.in_r);
    close_fd(&f.out_w);
    close_fd(&f.err_w);
    st = talk(tool, pid, &f, in, in_len, timeout, r);
    if (st != GF_OK) {
        tool_run_free(r);
    } else if (!r->out) {
        r->out = calloc(1, 1);
        if (!r->out) st = gf_errorf(GF_ERR_NOMEM, "out of memory");
    }
done:
    close_all(&f);
    free(prog);
    free(conf_entry);
    free(envp);
    return st;
}

/* The tool's stderr as one line for a message. */
static const char *err_text(tool_run *r)
{
    char *e = r->err;
    for (char *p = e; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
    size_t n = strlen(e);
    while (n > 0 && e[n - 1] == ' ') e[--n] = '\0';
    while (*e == ' ') e++;
    return *e ? e : "(no error message)";
}

static gf_status tool_failed(gf_status st, const char *tool, tool_run *r)
{
    if (r->exit_status < 0) return gf_errorf(st, "%s was killed by a signal: %s", tool, err_text(r));
    return gf_errorf(st, "%s failed (exit %d): %s", tool, r->exit_status, err_text(r));
}

/* ---- parsing ------------------------------------------------------------- */

/* The next line of *p (NUL-terminated in place), NULL at the end. */
static char *next_line(char **p)
{
    if (!*p || !**p) return NULL;
    char *line = *p, *nl = strchr(line, '\n');
    if (nl) { *nl = '\0'; *p = nl + 1; }
    else *p = line + strlen(line);
    return line;
}

/* Splits line at '|' into exactly n fields, the last taking the rest of the
 * line. 0 when there are fewer. */
static int split_fields(char *line, char **fields, int n)
{
    for (int i = 0; i < n; i++) {
        fields[i] = line;
        if (i == n - 1) break;
        char *bar = strchr(line, '|');
        if (!bar) return 0;
        *bar = '\0';
        line = bar + 1;
    }
    return 1;
}

static int parse_i64(const char *s, int64_t *v)
{
    if (!*s) return 0;
    errno = 0;
    char *end;
    long long x = strtoll(s, &end, 10);
    if (errno || *end) return 0;
    *v = x;
    return 1;
}

/* A number of sshare/sacct: "" is NAN, "inf" INFINITY. 0 when malformed. */
static int parse_double(const char *s, double *v)
{
    if (!*s) { *v = NAN; return 1; }
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (*end || (errno && errno != ERANGE)) return 0;
    *v = x;
    return 1;
}

/* Copies src into dst[cap], ending in "..." when it does not fit. */
static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n < cap) { memcpy(dst, src, n + 1); return; }
    memcpy(dst, src, cap - 4);
    strcpy(dst + cap - 4, "...");
}

/* "3:0" -> exit 3, signal 0. */
static void parse_exit(const char *s, int *code, int *sig)
{
    *code = atoi(s);
    const char *colon = strchr(s, ':');
    *sig = colon ? atoi(colon + 1) : 0;
}

/* squeue's %M: [days-][hours:]minutes:seconds. */
static double parse_duration(const char *s)
{
    long parts[3] = { 0, 0, 0 }, days = 0;
    int n = 0;
    const char *dash = strchr(s, '-');
    if (dash) { days = atol(s); s = dash + 1; }
    while (*s && n < 3) {
        parts[n++] = atol(s);
        s = strchr(s, ':');
        if (!s) break;
        s++;
    }
    long sec = 0;
    for (int i = 0; i < n; i++) sec = sec * 60 + parts[i];
    return (double)(days * 86400 + sec);
}

/* sacct's MaxRSS: a number with a unit suffix (K, M, G, T, P); without
 * one, Slurm's base unit for it, KiB. */
static int64_t parse_rss_kb(const char *s)
{
    char *end;
    double x = strtod(s, &end);
    if (end == s || !(x >= 0)) return 0;
    double mult = 1;
    switch (*end) {
    case 'M': mult = 1024.0; break;
    case 'G': mult = 1024.0 * 1024; break;
    case 'T': mult = 1024.0 * 1024 * 1024; break;
    case 'P': mult = 1024.0 * 1024 * 1024 * 1024; break;
    default: break;
    }
    return (int64_t)(x * mult + 0.5);
}

/* The GPU count in a TRES list: sacct's "cpu=1,gres/gpu=2,..." or squeue's
 * "gres:gpu:2" / "gres:gpu:fake:2" / "gres/gpu:2". Typed entries with '='
 * ("gres/gpu:fake=2") count the same GPUs again and are skipped. */
static int parse_gpus(const char *tres)
{
    int gpus = 0;
    for (const char *p = tres; *p;) {
        size_t len = strcspn(p, ",");
        const char *eq = memchr(p, '=', len);
        if (eq) {
            if ((size_t)(eq - p) == 8 && strncmp(p, "gres/gpu", 8) == 0) gpus = atoi(eq + 1);
        } else if (len > 9 && (strncmp(p, "gres:gpu:", 9) == 0 || strncmp(p, "gres/gpu:", 9) == 0)) {
            const char *last = p + len;
            while (last[-1] != ':') last--;
            gpus += atoi(last);
        }
        p += len;
        if (*p == ',') p++;
    }
    return gpus;
}

/* ---- accounts ------------------------------------------------------------ */

void gf_slurm_account_of_tenant(const char *tenant, char out[GF_SLURM_ACCOUNT_MAX + 1])
{
    size_t o = 0;
    for (size_t i = 0; tenant[i] && o + 2 <= GF_SLURM_ACCOUNT_MAX; i++) {
        char ch = tenant[i];
        if (ch == '_' || ch == '.') { out[o++] = '_'; out[o++] = ch == '_' ? '_' : 'd'; }
        else out[o++] = (char)tolower((unsigned char)ch);
    }
    out[o] = 0;
}

int gf_slurm_account_name_ok(const char *name)
{
    if (!name) return 0;
    size_t n = 0;
    for (; name[n]; n++) {
        char c = name[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return 0;
        if (n >= GF_SLURM_ACCOUNT_MAX) return 0;
    }
    return n > 0;
}

/* The calling user's name, checked to be safe inside sacctmgr's key=value
 * syntax. */
static gf_status current_user(char **out)
{
    long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
    size_t cap = sz > 0 ? (size_t)sz : 16384;
    char *buf = malloc(cap);
    if (!buf) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    struct passwd pw, *res = NULL;
    int rc = getpwuid_r(geteuid(), &pw, buf, cap, &res);
    if (rc != 0 || !res) {
        free(buf);
        return gf_errorf(GF_ERR_IO, "no user name for uid %u: %s", (unsigned)geteuid(),
                         rc ? strerror(rc) : "not in the user database");
    }
    for (const char *c = pw.pw_name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("._-", *c))) {
            gf_status st = gf_errorf(GF_ERR_ARG, "user name \"%s\" has characters sacctmgr cannot take", pw.pw_name);
            free(buf);
            return st;
        }
    *out = strdup(pw.pw_name);
    free(buf);
    return *out ? GF_OK : gf_errorf(GF_ERR_NOMEM, "out of memory");
}

/* Runs sacctmgr; *nothing_new = 1 when it exited 1 saying there was nothing
 * to add (the thing exists). */
static gf_status sacctmgr(const gf_slurm *s, char *const *args, tool_run *r, int *nothing_new)
{
    gf_status st = run_tool(s, args, NULL, 0, r);
    if (st != GF_OK) return st;
    *nothing_new = r->exit_status == 1 && strstr(r->out, "Nothing new added");
    if (r->exit_status != 0 && !*nothing_new) {
        st = tool_failed(GF_ERR_IO, "sacctmgr", r);
        tool_run_free(r);
    }
    return st;
}

/* 1 when a `sacctmgr -n -P show ...` printed anything. */
static gf_status sacctmgr_has(const gf_slurm *s, char *const *args, int *found)
{
    tool_run r;
    int dummy;
    gf_status st = sacctmgr(s, args, &r, &dummy);
    if (st != GF_OK) return st;
    *found = strspn(r.out, " \n") != r.out_len;
    tool_run_free(&r);
    return GF_OK;
}

/* Names always go in as name=... (a bare name could be read as one of
 * sacctmgr's keywords: "where", "set", ...). */
static gf_status account_shares(const gf_slurm *s, const char *account, const char *fs_arg)
{
    char name[GF_SLURM_ACCOUNT_MAX + 8];
    snprintf(name, sizeof name, "name=%s", account);
    char *show[] = { "sacctmgr", "-n", "-P", "show", "account", "where", name, "format=account", NULL };
    int exists = 0;
    gf_status st = sacctmgr_has(s, show, &exists);
    if (st != GF_OK) return st;
    tool_run r;
    int nothing_new = 0;
    if (!exists) {
        char *add[] = { "sacctmgr", "-i", "add", "account", name, (char *)fs_arg, NULL };
        st = sacctmgr(s, add, &r, &nothing_new);
        if (st != GF_OK) return st;
        tool_run_free(&r);
        if (!nothing_new) return GF_OK;   /* else added meanwhile by someone else: set its shares */
    }
    char *mod[] = { "sacctmgr", "-i", "modify", "account", "where", name, "set", (char *)fs_arg, NULL };
    st = sacctmgr(s, mod, &r, &nothing_new);
    if (st == GF_OK) tool_run_free(&r);
    return st;
}

static gf_status account_user(const gf_slurm *s, const char *account, const char *user)
{
    strbuf acc = { 0 }, usr = { 0 }, name = { 0 };
    sb_add(&acc, "account=");
    sb_add(&acc, account);
    sb_add(&usr, "user=");
    sb_add(&usr, user);
    sb_add(&name, "name=");
    sb_add(&name, user);
    gf_status st = GF_OK;
    if (acc.oom || usr.oom || name.oom) { st = gf_errorf(GF_ERR_NOMEM, "out of memory"); goto done; }
    char *show[] = { "sacctmgr", "-n", "-P", "show", "assoc", "where", acc.p, usr.p, "format=user", NULL };
    int exists = 0;
    st = sacctmgr_has(s, show, &exists);
    if (st != GF_OK || exists) goto done;
    char *add[] = { "sacctmgr", "-i", "add", "user", name.p, acc.p, NULL };
    tool_run r;
    int nothing_new;
    st = sacctmgr(s, add, &r, &nothing_new);
    if (st == GF_OK) tool_run_free(&r);
done:
    free(acc.p);
    free(usr.p);
    free(name.p);
    return st;
}

gf_status gf_slurm_account_set(const gf_slurm *s, const char *account, int shares)
{
    if (!s) return gf_errorf(GF_ERR_ARG, "no Slurm given");
    if (!gf_slurm_account_name_ok(account))
        return gf_errorf(GF_ERR_ARG, "account name \"%s\" is not 1 to %d of a-z, 0-9, _ and -",
                         account ? account : "(null)", GF_SLURM_ACCOUNT_MAX);
    if (shares < 0 || shares > MAX_SHARES)
        return gf_errorf(GF_ERR_ARG, "shares %d of account %s out of range 0..%d", shares, account, MAX_SHARES);
    char *user = NULL;
    gf_status st = current_user(&user);
    if (st != GF_OK) return st;
    char fs_arg[32];
    snprintf(fs_arg, sizeof fs_arg, "fairshare=%d", shares);
    st = account_shares(s, account, fs_arg);
    if (st == GF_OK) st = account_user(s, account, user);
    if (st != GF_OK) gf_errorf(st, "account %s: %s", account, gf_last_error());
    free(user);
    return st;
}

/* ---- submit -------------------------------------------------------------- */

/* path made absolute against the caller's cwd. */
static gf_status absolute(const char *path, char **out)
{
    if (path[0] == '/') {
        *out = strdup(path);
        return *out ? GF_OK : gf_errorf(GF_ERR_NOMEM, "out of memory");
    }
    char *cwd = getcwd(NULL, 0);
    if (!cwd) return gf_errorf(GF_ERR_IO, "cannot resolve %s: getcwd: %s", path, strerror(errno));
    strbuf b = { 0 };
    sb_add(&b, cwd);
    sb_add(&b, "/");
    sb_add(&b, path);
    free(cwd);
    if (b.oom) { free(b.p); return gf_errorf(GF_ERR_NOMEM, "out of memory"); }
    *out = b.p;
    return GF_OK;
}

/* mkdir -p, 0700 for what it creates. dir is absolute. */
static gf_status make_dirs(const char *dir)
{
    char *buf = strdup(dir);
    if (!buf) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    gf_status st = GF_OK;
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p) continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
            st = gf_errorf(GF_ERR_IO, "cannot create %s: %s", buf, strerror(errno));
            break;
        }
        *p = c;
        if (!c) break;
    }
    struct stat sb;
    if (st == GF_OK && (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        st = gf_errorf(GF_ERR_IO, "%s is not a folder", dir);
    free(buf);
    return st;
}

static int valid_env_name(const char *e, size_t n)
{
    if (n == 0 || (e[0] >= '0' && e[0] <= '9')) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = e[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return 0;
    }
    return 1;
}

static gf_status check_job(const gf_slurm_job *j)
{
    if (!j || !j->argv || !j->argv[0] || !j->argv[0][0]) return gf_errorf(GF_ERR_ARG, "job without a program");
    if (j->account && !gf_slurm_account_name_ok(j->account))
        return gf_errorf(GF_ERR_ARG, "account name \"%s\" is not 1 to %d of a-z, 0-9, _ and -", j->account,
                         GF_SLURM_ACCOUNT_MAX);
    if (j->name)
        for (const char *c = j->name; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == '|' || *c == 0x7f)
                return gf_errorf(GF_ERR_ARG, "job name has a control character or '|'");
    if (j->cores < 0 || j->cores > MAX_COUNT) return gf_errorf(GF_ERR_ARG, "cores %d out of range", j->cores);
    if (j->ntasks < 0 || j->ntasks > MAX_COUNT) return gf_errorf(GF_ERR_ARG, "ntasks %d out of range", j->ntasks);
    if (j->gpus < 0 || j->gpus > MAX_COUNT) return gf_errorf(GF_ERR_ARG, "gpus %d out of range", j->gpus);
    if (j->memory_mb < 0 || j->memory_mb > MAX_MEMORY_MB)
        return gf_errorf(GF_ERR_ARG, "memory_mb %lld out of range", (long long)j->memory_mb);
    if (j->time_limit_s < 0 || j->time_limit_s > MAX_TIME_S)
        return gf_errorf(GF_ERR_ARG, "time limit %lld s out of range", (long long)j->time_limit_s);
    const char *paths[] = { j->stdout_path, j->stderr_path };
    for (int i = 0; i < 2; i++)
        if (paths[i] && (!paths[i][0] || strchr(paths[i], '\\')))
            return gf_errorf(GF_ERR_ARG, "log path \"%s\" is empty or has a backslash (Slurm cannot take one)",
                             paths[i]);
    if (j->workdir && !j->workdir[0]) return gf_errorf(GF_ERR_ARG, "empty workdir");
    for (size_t i = 0; j->env && j->env[i]; i++) {
        const char *eq = strchr(j->env[i], '=');
        if (!eq || !valid_env_name(j->env[i], (size_t)(eq - j->env[i])))
            return gf_errorf(GF_ERR_ARG, "environment entry \"%s\" is not NAME=VALUE", j->env[i]);
    }
    return GF_OK;
}

/* The batch script: enter the folder (or fail), the extra environment, exec
 * the command line. Its first line after #! is a command, which also ends
 * sbatch's scan for #SBATCH lines: nothing in an argument is an option. */
static gf_status job_script(const gf_slurm_job *j, const char *workdir, strbuf *b)
{
    sb_add(b, "#!/bin/sh\ncd ");
    sb_add_quoted(b, workdir);
    sb_add(b, " || exit 1\n");
    for (size_t i = 0; j->env && j->env[i]; i++) {
        const char *eq = strchr(j->env[i], '=');
        sb_add(b, "export ");
        sb_addn(b, j->env[i], (size_t)(eq - j->env[i]));
        sb_add(b, "=");
        sb_add_quoted(b, eq + 1);
        sb_add(b, "\n");
    }
    sb_add(b, "exec");
    for (size_t i = 0; j->argv[i]; i++) {
        sb_add(b, " ");
        sb_add_quoted(b, j->argv[i]);
    }
    sb_add(b, "\n");
    return b->oom ? gf_errorf(GF_ERR_NOMEM, "out of memory") : GF_OK;
}

/* "--output=PATH" with '%' doubled (sbatch expands %j and the like). */
static gf_status log_option(const char *opt, const char *path, char **out)
{
    char *abs = NULL;
    gf_status st = path ? absolute(path, &abs) : GF_OK;
    if (st != GF_OK) return st;
    strbuf b = { 0 };
    sb_add(&b, opt);
    const char *p = abs ? abs : "/dev/null";
    for (; *p; p++) sb_add(&b, *p == '%' ? "%%" : (char[2]){ *p, 0 });
    free(abs);
    if (b.oom) { free(b.p); return gf_errorf(GF_ERR_NOMEM, "out of memory"); }
    *out = b.p;
    return GF_OK;
}

static gf_status prefixed(const char *opt, const char *value, char **out)
{
    strbuf b = { 0 };
    sb_add(&b, opt);
    sb_add(&b, value);
    if (b.oom) { free(b.p); return gf_errorf(GF_ERR_NOMEM, "out of memory"); }
    *out = b.p;
    return GF_OK;
}

/* Refused by Slurm (the request is at fault) or Slurm unreachable. */
static gf_status sbatch_failed(tool_run *r)
{
    const char *e = r->err;
    int refused = strstr(e, "Batch job submission failed") && !strstr(e, "Unable to contact") &&
                  !strstr(e, "timed out") && !strstr(e, "temporarily");
    if (strstr(e, "DOS line breaks")) refused = 1;
    return tool_failed(refused ? GF_ERR_ARG : GF_ERR_IO, "sbatch", r);
}

static gf_status parse_job_id(tool_run *r, int64_t *id)
{
    char *p = r->out;
    char *line = next_line(&p);
    if (line) line[strcspn(line, ";")] = '\0';   /* "ID;cluster" on multi-cluster setups */
    if (!line || !parse_i64(line, id) || *id <= 0)
        return gf_errorf(GF_ERR_FORMAT, "sbatch printed \"%s\", not a job id", r->out);
    return GF_OK;
}

gf_status gf_slurm_submit(const gf_slurm *s, const gf_slurm_job *job, int64_t *slurm_id)
{
    if (!s || !slurm_id) return gf_errorf(GF_ERR_ARG, "no Slurm or no place for the job id");
    gf_status st = check_job(job);
    if (st != GF_OK) return st;
    char *workdir = NULL, *chdir_opt = NULL, *out_opt = NULL, *err_opt = NULL, *name_opt = NULL, *acc_opt = NULL;
    strbuf script = { 0 };
    st = job->workdir ? absolute(job->workdir, &workdir) : absolute(".", &workdir);
    if (st == GF_OK && job->workdir) st = make_dirs(workdir);
    if (st == GF_OK) st = prefixed("--chdir=", workdir, &chdir_opt);
    if (st == GF_OK) st = log_option("--output=", job->stdout_path, &out_opt);
    if (st == GF_OK) st = log_option("--error=", job->stderr_path, &err_opt);
    if (st == GF_OK) st = prefixed("--job-name=", job->name ? job->name : "gf", &name_opt);
    if (st == GF_OK && job->account) st = prefixed("--account=", job->account, &acc_opt);
    if (st == GF_OK) st = job_script(job, workdir, &script);
    if (st != GF_OK) goto done;

    char cores[32], gres[32], mem[32], time_opt[32], tasks[32];
    snprintf(cores, sizeof cores, "--cpus-per-task=%d", job->cores > 0 ? job->cores : 1);
    snprintf(tasks, sizeof tasks, "--ntasks=%d", job->ntasks > 0 ? job->ntasks : 1);
    snprintf(gres, sizeof gres, "--gres=gpu:%d", job->gpus);
    snprintf(mem, sizeof mem, "--mem=%lldM", (long long)job->memory_mb);
    snprintf(time_opt, sizeof time_opt, "--time=%lld", (long long)((job->time_limit_s + 59) / 60));
    char *args[MAX_ARGS];
    int n = 0;
    char *fixed[] = { "sbatch", "--parsable", "--nodes=1", tasks, "--open-mode=append",
                      name_opt, chdir_opt, out_opt, err_opt, cores };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) args[n++] = fixed[i];
    if (acc_opt) args[n++] = acc_opt;
    if (job->gpus > 0) args[n++] = gres;
    if (job->memory_mb > 0) args[n++] = mem;
    if (job->time_limit_s > 0) args[n++] = time_opt;
    args[n] = NULL;

    tool_run r;
    st = run_tool(s, args, script.p, script.len, &r);
    if (st != GF_OK) goto done;
    st = r.exit_status == 0 ? parse_job_id(&r, slurm_id) : sbatch_failed(&r);
    tool_run_free(&r);
done:
    free(script.p);
    free(workdir);
    free(chdir_opt);
    free(out_opt);
    free(err_opt);
    free(name_opt);
    free(acc_opt);
    return st;
}

/* ---- query --------------------------------------------------------------- */

static gf_slurm_state map_state(const char *name, int *final)
{
    static const struct { const char *name; gf_slurm_state state; int final; } map[] = {
        { "PENDING", GF_SLURM_PENDING, 0 },       { "REQUEUED", GF_SLURM_PENDING, 0 },
        { "REQUEUE_HOLD", GF_SLURM_PENDING, 0 },  { "REQUEUE_FED", GF_SLURM_PENDING, 0 },
        { "RESV_DEL_HOLD", GF_SLURM_PENDING, 0 }, { "SPECIAL_EXIT", GF_SLURM_PENDING, 0 },
        { "CONFIGURING", GF_SLURM_RUNNING, 0 },   { "RUNNING", GF_SLURM_RUNNING, 0 },
        { "COMPLETING", GF_SLURM_RUNNING, 0 },    { "SIGNALING", GF_SLURM_RUNNING, 0 },
        { "STAGE_OUT", GF_SLURM_RUNNING, 0 },     { "RESIZING", GF_SLURM_RUNNING, 0 },
        { "COMPLETED", GF_SLURM_COMPLETED, 1 },   { "FAILED", GF_SLURM_FAILED, 1 },
        { "NODE_FAIL", GF_SLURM_FAILED, 1 },      { "OUT_OF_MEMORY", GF_SLURM_FAILED, 1 },
        { "BOOT_FAIL", GF_SLURM_FAILED, 1 },      { "CANCELLED", GF_SLURM_CANCELLED, 1 },
        { "TIMEOUT", GF_SLURM_TIMEOUT, 1 },       { "DEADLINE", GF_SLURM_TIMEOUT, 1 },
        { "PREEMPTED", GF_SLURM_OTHER, 1 },       { "REVOKED", GF_SLURM_OTHER, 1 },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(name, map[i].name) == 0) { *final = map[i].final; return map[i].state; }
    *final = 0;
    return GF_SLURM_OTHER;   /* SUSPENDED, STOPPED, ... */
}

/* Slurm's state word ("CANCELLED by 0" -> "CANCELLED"). */
static void set_state(gf_slurm_info *out, char *word, int *final)
{
    word[strcspn(word, " +")] = '\0';
    copy_text(out->state_name, sizeof out->state_name, word);
    out->state = map_state(word, final);
}

/* What squeue says: *known = 0 when slurmctld no longer holds the job. */
static gf_status query_squeue(const gf_slurm *s, const char *id, gf_slurm_info *out, int *known, int *final)
{
    char *args[] = { "squeue", "-h", "-t", "all", "-j", (char *)id, "-o", "%T|%M|%C|%b|%r", NULL };
    tool_run r;
    gf_status st = run_tool(s, args, NULL, 0, &r);
    if (st != GF_OK) return st;
    *known = 0;
    if (r.exit_status != 0) {
        if (!strstr(r.err, "Invalid job id")) st = tool_failed(GF_ERR_IO, "squeue", &r);
        tool_run_free(&r);
        return st;
    }
    char *p = r.out, *line = next_line(&p), *f[5];
    if (line && split_fields(line, f, 5)) {
        *known = 1;
        set_state(out, f[0], final);
        out->elapsed_s = parse_duration(f[1]);
        out->cores = atoi(f[2]);
        out->gpus = parse_gpus(f[3]);
        copy_text(out->reason, sizeof out->reason, f[4]);
    } else if (line) {
        st = gf_errorf(GF_ERR_FORMAT, "unexpected squeue output \"%s\"", line);
    }
    tool_run_free(&r);
    return st;
}

enum { SA_ID, SA_STATE, SA_EXIT, SA_ELAPSED, SA_CPUTIME, SA_CPUS, SA_TRES, SA_RSS, SA_START, SA_END, SA_REASON, SA_N };

static void copy_time(char *dst, size_t cap, const char *t)
{
    if (strcmp(t, "Unknown") == 0 || strcmp(t, "None") == 0) t = "";
    copy_text(dst, cap, t);
}

/* How long a job's end may go without its batch step's record. */
#define STEP_RECORD_WAIT_S 300

/* 1 when Slurm's local time `t` ("2026-12-07T11:20:00") is less than
 * `seconds` ago, or cannot be read. */
static int ended_within(const char *t, double seconds)
{
    struct tm tm = { 0 };
    const char *rest = strptime(t, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest || *rest) return 1;
    tm.tm_isdst = -1;
    time_t end = mktime(&tm);
    return end == (time_t)-1 || difftime(time(NULL), end) < seconds;
}

/* The job's row of sacct into out; steps ("ID.batch", "ID.0", ...) give
 * MaxRSS. *found = 0 when slurmdbd has no record yet. */
static gf_status query_sacct(const gf_slurm *s, const char *id, gf_slurm_info *out, int *found, int *final)
{
    char *args[] = { "sacct", "-n", "-P", "-j", (char *)id, "-o",
                     "JobID,State,ExitCode,ElapsedRaw,CPUTimeRAW,AllocCPUS,AllocTRES,MaxRSS,Start,End,Reason", NULL };
    tool_run r;
    gf_status st = run_tool(s, args, NULL, 0, &r);
    if (st != GF_OK) return st;
    if (r.exit_status != 0) {
        st = tool_failed(GF_ERR_IO, "sacct", &r);
        tool_run_free(&r);
        return st;
    }
    *found = 0;
    size_t idlen = strlen(id);
    int64_t rss = 0;
    int batch_code = 0, batch_sig = 0, batch_seen = 0, batch_final = 0;
    char *p = r.out, *line, *f[SA_N];
    while ((line = next_line(&p))) {
        if (!split_fields(line, f, SA_N)) {
            st = gf_errorf(GF_ERR_FORMAT, "unexpected sacct output \"%s\"", line);
            break;
        }
        if (strncmp(f[SA_ID], id, idlen) != 0) continue;
        if (f[SA_ID][idlen] == '.') {
            int64_t kb = parse_rss_kb(f[SA_RSS]);
            if (kb > rss) rss = kb;
            if (strcmp(f[SA_ID] + idlen, ".batch") == 0) {
                gf_slurm_info step;
                set_state(&step, f[SA_STATE], &batch_final);
                parse_exit(f[SA_EXIT], &batch_code, &batch_sig);
                batch_seen = 1;
            }
            continue;
        }
        if (f[SA_ID][idlen] != '\0') continue;
        *found = 1;
        set_state(out, f[SA_STATE], final);
        parse_exit(f[SA_EXIT], &out->exit_code, &out->signal);
        int64_t elapsed = 0, cputime = 0;
        parse_i64(f[SA_ELAPSED], &elapsed);
        parse_i64(f[SA_CPUTIME], &cputime);
        out->elapsed_s = (double)elapsed;
        out->cores = atoi(f[SA_CPUS]);
        out->gpus = parse_gpus(f[SA_TRES]);
        if (*final) {
            out->core_s = (double)cputime;
            out->gpu_s = (double)out->gpus * (double)elapsed;
        }
        copy_time(out->start, sizeof out->start, f[SA_START]);
        copy_time(out->end, sizeof out->end, f[SA_END]);
        copy_text(out->reason, sizeof out->reason, f[SA_REASON]);
    }
    if (*found && *final && batch_seen && !batch_final && ended_within(out->end, STEP_RECORD_WAIT_S)) {
        /* slurmdbd has the job's end but not yet its batch step's, which
         * carries the signal of a time limit or cancel: not final yet (for a
         * while: a step whose node died may never be recorded) */
        *final = 0;
        out->state = GF_SLURM_RUNNING;
        copy_text(out->state_name, sizeof out->state_name, "COMPLETING");
        copy_text(out->reason, sizeof out->reason, "accounting not yet recorded");
    } else if (*found && *final) {
        out->max_rss_kb = rss;
        /* a cancel or time limit shows on the batch step only ("0:15") */
        if (out->exit_code == 0 && out->signal == 0) out->signal = batch_sig;
    }
    tool_run_free(&r);
    return st;
}

gf_status gf_slurm_query(const gf_slurm *s, int64_t id, gf_slurm_info *out)
{
    if (!s || !out) return gf_errorf(GF_ERR_ARG, "no Slurm or no place for the answer");
    if (id <= 0) return gf_errorf(GF_ERR_ARG, "job id %lld is not a Slurm job id", (long long)id);
    memset(out, 0, sizeof *out);
    char ids[32];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    int known = 0, final = 0;
    gf_status st = query_squeue(s, ids, out, &known, &final);
    if (st != GF_OK || (known && !final)) return st;

    gf_slurm_info live = *out, acct;
    memset(&acct, 0, sizeof acct);
    int found = 0, acct_final = 0;
    st = query_sacct(s, ids, &acct, &found, &acct_final);
    if (st != GF_OK) return st;
    if (found && (acct_final || !known)) {
        if (known && live.reason[0] && strcmp(acct.reason, "None") == 0)
            memcpy(acct.reason, live.reason, sizeof acct.reason);
        *out = acct;
        return GF_OK;
    }
    if (known) {   /* ended, its record not in slurmdbd yet */
        *out = live;
        out->state = GF_SLURM_RUNNING;
        copy_text(out->reason, sizeof out->reason, "accounting not yet recorded");
        return GF_OK;
    }
    return gf_errorf(GF_ERR_ARG, "no Slurm job %lld (neither squeue nor sacct knows it)", (long long)id);
}

/* ---- cancel -------------------------------------------------------------- */

gf_status gf_slurm_cancel(const gf_slurm *s, int64_t id)
{
    if (!s) return gf_errorf(GF_ERR_ARG, "no Slurm given");
    if (id <= 0) return gf_errorf(GF_ERR_ARG, "job id %lld is not a Slurm job id", (long long)id);
    char ids[32];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    /* -v: without it scancel says nothing and exits 0 for a job it does not know */
    char *args[] = { "scancel", "-v", ids, NULL };
    tool_run r;
    gf_status st = run_tool(s, args, NULL, 0, &r);
    if (st != GF_OK) return st;
    if (strstr(r.err, "Invalid job id"))
        st = gf_errorf(GF_ERR_ARG, "no Slurm job %lld: %s", (long long)id, err_text(&r));
    else if (strstr(r.err, "already completing or completed"))
        st = GF_OK;
    else if (r.exit_status != 0 || strstr(r.err, "error:"))
        st = tool_failed(GF_ERR_IO, "scancel", &r);
    tool_run_free(&r);
    return st;
}

/* ---- shares -------------------------------------------------------------- */

enum { SH_ACCOUNT, SH_USER, SH_RAW, SH_NORM, SH_USAGE, SH_EFF, SH_LEVEL, SH_FS, SH_N };

static gf_status parse_share(char **f, gf_slurm_share *row)
{
    const char *name = f[SH_ACCOUNT] + strspn(f[SH_ACCOUNT], " ");
    if (strlen(name) > GF_SLURM_ACCOUNT_MAX)
        return gf_errorf(GF_ERR_MISMATCH, "sshare lists account \"%s\", longer than %d bytes", name,
                         GF_SLURM_ACCOUNT_MAX);
    memset(row, 0, sizeof *row);
    strcpy(row->account, name);
    if (!parse_i64(f[SH_RAW], &row->raw_shares)) row->raw_shares = -1;
    if (!parse_double(f[SH_USAGE], &row->raw_usage) || !parse_double(f[SH_NORM], &row->norm_shares) ||
        !parse_double(f[SH_EFF], &row->effective_usage) || !parse_double(f[SH_LEVEL], &row->level_fs) ||
        !parse_double(f[SH_FS], &row->fairshare))
        return gf_errorf(GF_ERR_FORMAT, "sshare row of account %s has a malformed number", name);
    return GF_OK;
}

gf_status gf_slurm_shares(const gf_slurm *s, gf_slurm_share *out, int max, int *n)
{
    if (!s || !n || max < 0 || (max > 0 && !out)) return gf_errorf(GF_ERR_ARG, "bad arguments to gf_slurm_shares");
    *n = 0;
    char *args[] = { "sshare", "-n", "-P", "-l", "-o",
                     "Account,User,RawShares,NormShares,RawUsage,EffectvUsage,LevelFS,FairShare", NULL };
    tool_run r;
    gf_status st = run_tool(s, args, NULL, 0, &r);
    if (st != GF_OK) return st;
    if (r.exit_status != 0) {
        st = tool_failed(GF_ERR_IO, "sshare", &r);
        tool_run_free(&r);
        return st;
    }
    char *p = r.out, *line, *f[SH_N];
    int count = 0;
    while (st == GF_OK && (line = next_line(&p))) {
        if (!split_fields(line, f, SH_N)) {
            st = gf_errorf(GF_ERR_FORMAT, "unexpected sshare output \"%s\"", line);
            break;
        }
        if (f[SH_USER][0]) continue;   /* a user's row */
        gf_slurm_share row;
        st = parse_share(f, &row);
        if (st == GF_OK && count < max) out[count] = row;
        count++;
    }
    if (st == GF_OK) *n = count;
    tool_run_free(&r);
    return st;
}
