/* Program jobs around their sandbox (see program.h). */
#include "facility/program.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int gf_program_ready(const char *job_dir)
{
    char work[PATH_MAX + 16];
    struct stat st;
    snprintf(work, sizeof work, "%s/%s", job_dir, GF_PROGRAM_WORK);
    return !lstat(work, &st) && S_ISDIR(st.st_mode);
}

gf_status gf_program_work_prepare(const gf_program_run *r, int ranks, char *work, char *output)
{
    if (snprintf(work, PATH_MAX, "%s/%s", r->job_dir, GF_PROGRAM_WORK) >= PATH_MAX)
        return gf_errorf(GF_ERR_ARG, "job %lld: its folder path is too long", (long long)r->job_id);
    snprintf(output, PATH_MAX + 16, "%s/output", work);
    char rdir[PATH_MAX + 16];
    snprintf(rdir, sizeof rdir, "%s/%s", work, GF_SANDBOX_RANKS);
    if ((mkdir(work, 0700) && errno != EEXIST) || (mkdir(output, 0700) && errno != EEXIST) ||
        (ranks && mkdir(rdir, 0700) && errno != EEXIST))
        return gf_errorf(GF_ERR_IO, "job %lld: cannot create its work folder: %s", (long long)r->job_id, strerror(errno));
    struct stat st_work;
    if (lstat(work, &st_work) || !S_ISDIR(st_work.st_mode))
        return gf_errorf(GF_ERR_IO, "job %lld: its work folder is not a folder", (long long)r->job_id);
    uid_t uid;
    gid_t gid;
    gf_sandbox_ids(r->tenant_id, &uid, &gid);
    return gf_sandbox_own(work, uid, gid);
}

gf_status gf_program_spawn(const gf_program_run *r, int cpu_offset, gf_proc **proc, gf_sandbox **sbp)
{
    *proc = NULL;
    *sbp = NULL;
    char work[PATH_MAX], output[PATH_MAX + 16], outlog[PATH_MAX], errlog[PATH_MAX];
    gf_status st = gf_program_work_prepare(r, r->processes > 1, work, output);
    if (st) return st;
    uid_t uid;
    gid_t gid;
    gf_sandbox_ids(r->tenant_id, &uid, &gid);
    gf_sandbox_request rq = { .job_id = r->job_id, .tenant_id = r->tenant_id, .work_dir = work,
                              .argv = r->argv, .env = r->env, .nenv = r->nenv,
                              .data = r->data, .ndata = r->ndata, .cores = r->cores,
                              .memory_mb = r->memory_mb, .processes = r->processes,
                              .master_port = 20000 + (int)(r->job_id % 10000),     /* below the ephemeral range */
                              .gpu_devices = r->gpu_devices, .gpu_index = r->gpu_index, .ngpus = r->ngpus };
    gf_sandbox *sb;
    if ((st = gf_sandbox_prepare(&rq, &sb))) return st;
    snprintf(outlog, sizeof outlog, "%s/stdout.log", r->job_dir);
    snprintf(errlog, sizeof errlog, "%s/stderr.log", r->job_dir);
    gf_proc_spec ps = { .workdir = r->job_dir, .stdout_path = outlog, .stderr_path = errlog,
                        .cores = r->cores, .cpu_offset = cpu_offset,
                        .time_limit_s = (double)r->time_limit_s };
    gf_sandbox_apply(sb, &ps);
    /* where the limits came from, for the tenant: written before the start,
     * so that bubblewrap's own last words (a program that cannot start) stay
     * the log's last line, which gf_program_outcome reads */
    int efd = open(errlog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (efd >= 0) {
        dprintf(efd, "gf: sandbox: bubblewrap, uid %d, limits: %s\n", (int)uid, gf_sandbox_limits(sb));
        close(efd);
    }
    st = gf_proc_start(&ps, proc);
    gf_sandbox_started(sb);
    if (st) { gf_sandbox_free(sb); return st; }
    *sbp = sb;
    return GF_OK;
}

/* The last non-empty line of a file (at most cap - 1 bytes of it), or "". */
static void last_line(const char *path, char *out, size_t cap)
{
    out[0] = 0;
    FILE *f = fopen(path, "re");
    if (!f) return;
    char buf[4096];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0;
    fseek(f, from, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *nl;
    for (;;) {                  /* skip the coordinator's own "gf: sandbox: ..." line, written after the start */
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
        nl = strrchr(buf, '\n');
        if (!nl || strncmp(nl + 1, "gf: sandbox: ", 13)) break;
        *nl = 0;
        n = (size_t)(nl - buf);
    }
    const char *src = nl ? nl + 1 : buf;
    size_t len = strlen(src) < cap - 1 ? strlen(src) : cap - 1;
    memcpy(out, src, len);
    out[len] = 0;
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20) *p = '?';
}

void gf_program_outcome(const gf_sandbox *sb, const gf_proc_usage *pu, const char *job_dir, int64_t job_id,
                        int64_t memory_mb, int processes, int *succeeded, char *reason, size_t cap)
{
    char errlog[PATH_MAX], line[256], work[PATH_MAX + 16];
    snprintf(errlog, sizeof errlog, "%s/stderr.log", job_dir);
    snprintf(work, sizeof work, "%s/%s", job_dir, GF_PROGRAM_WORK);
    int64_t ooms = gf_sandbox_oom_kills(sb);
    *succeeded = 0;
    if (ooms > 0) {
        snprintf(reason, cap, "out of memory: the program used its whole memory_mb (%lld MiB) "
                 "and the kernel killed %lld of its processes", (long long)memory_mb, (long long)ooms);
    } else if (pu->exit_code == 0) {
        *succeeded = 1;
        snprintf(reason, cap, "the program exited with status 0");
    } else if (processes > 1 && !gf_sandbox_failed_rank(work, line, sizeof line)) {
        snprintf(reason, cap, "%s; see gf logs %lld --stderr", line, (long long)job_id);
    } else if (pu->signal) {
        snprintf(reason, cap, "the sandbox was killed by signal %d (%s)", pu->signal,
                 strsignal(pu->signal));
    } else {
        last_line(errlog, line, sizeof line);
        if (!strncmp(line, "bwrap: ", 7))          /* bubblewrap's own: e.g. execvp of a missing program */
            snprintf(reason, cap, "the program could not be started in its sandbox: %s", line + 7);
        else
            snprintf(reason, cap, "the program exited with status %d; see gf logs %lld --stderr",
                     pu->exit_code, (long long)job_id);
    }
}

int gf_program_open_output(const char *job_dir, const char *rel)
{
    if (!rel || !*rel || rel[0] == '/' || strlen(rel) >= PATH_MAX) { errno = EINVAL; return -1; }
    char work[PATH_MAX + 16];
    snprintf(work, sizeof work, "%s/%s", job_dir, GF_PROGRAM_WORK);
    int fd = open(work, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", rel);
    char *save = NULL, *part = strtok_r(buf, "/", &save);
    while (part) {
        char *next = strtok_r(NULL, "/", &save);
        if (!strcmp(part, ".") || !strcmp(part, "..")) { close(fd); errno = EINVAL; return -1; }
        int nfd = openat(fd, part, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | (next ? O_DIRECTORY : 0));
        int e = errno;
        close(fd);
        if (nfd < 0) { errno = e; return -1; }
        fd = nfd;
        part = next;
    }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        int dir = S_ISDIR(st.st_mode);
        close(fd);
        errno = dir ? EISDIR : EPERM;
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}
