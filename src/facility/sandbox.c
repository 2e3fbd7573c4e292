/* The sandbox of a tenant's program (see sandbox.h): bwrap's command line,
 * the job's control groups, and the staging of its folders in the child. */
#include "facility/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include "core/grow.h"

#define CGROUP_ROOT   "/sys/fs/cgroup"
#define CGROUP2_MAGIC 0x63677270
#define STAGE_MOUNTS  (1 + 2 * GF_SANDBOX_DATA_MAX + GF_GPUS_MAX + 3)   /* + GPUs and GF_GPU_CONTROL */

enum { CG_MEMORY, CG_PIDS, CG_CPU, CG_CPUACCT, CG_N };   /* cpuacct: v1's accounting only */
static const char *const cg_name[CG_N] = { "memory", "pids", "cpu", "cpuacct" };

/* One bind the child makes into the private stage (root callers). */
typedef struct {
    char host[PATH_MAX];         /* the source, opened by the child before the stage covers anything */
    int  src_fd;                 /* the child's O_PATH fd of it */
    char src[32];                /* /proc/self/fd/N, written by the child */
    char dst[PATH_MAX];          /* under the stage */
    int  is_dir;                 /* 1 folder, 0 regular file, 2 character device */
    char mkdir_first[PATH_MAX];  /* a folder to create before dst ("" none) */
} stage_mount;

struct gf_sandbox {
    char  **args;                /* (nargs + 1) bwrap's argv, NULL-terminated */
    int     nargs, cap;
    int     oom;                 /* allocation failed while building */
    int     cg_version;          /* 0 none, 1 or 2 */
    char    cg_dir[CG_N][PATH_MAX];   /* v1: one per controller; v2: cg_dir[0] only ("" unused) */
    int     have[CG_N];
    int     join_fds[CG_N], njoin;
    char    limits[192];
    int64_t memory_mb;
    int     outer_limits;        /* memory and cores held by the batch system's cgroups */
    int     set_ids;
    uid_t   uid;
    gid_t   gid;
    const char *stage;           /* the folder the child covers with its tmpfs (root callers); NULL otherwise */
    stage_mount mounts[STAGE_MOUNTS];
    int     nmounts;
};

/* ---- small helpers ------------------------------------------------------------ */

static void arg(gf_sandbox *sb, const char *s)
{
    if (sb->oom) return;
    char **p = gf_grow(sb->args, sb->nargs + 1, &sb->cap, sizeof *p);   /* room for s and the closing NULL */
    if (!p) { sb->oom = 1; return; }
    sb->args = p;
    if (!(sb->args[sb->nargs] = strdup(s))) { sb->oom = 1; return; }
    sb->args[++sb->nargs] = NULL;
}

static void arg2(gf_sandbox *sb, const char *a, const char *b) { arg(sb, a); arg(sb, b); }
static void arg3(gf_sandbox *sb, const char *a, const char *b, const char *c) { arg(sb, a); arg(sb, b); arg(sb, c); }

static int is_dir(const char *p)
{
    struct stat st;
    return !stat(p, &st) && S_ISDIR(st.st_mode);
}

static int write_text(const char *dir, const char *file, const char *text)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* "KEY N" from a flat-keyed cgroup file (memory.events, memory.oom_control). */
static int64_t read_key(const char *dir, const char *file, const char *key)
{
    char p[PATH_MAX + 64], line[256];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    FILE *f = fopen(p, "re");
    if (!f) return 0;
    int64_t v = 0;
    size_t k = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, k) && line[k] == ' ') v = strtoll(line + k + 1, NULL, 10);
    fclose(f);
    return v;
}

/* The caller's own cgroup path for a v1 controller (or v2's, ctrl NULL),
 * from /proc/self/cgroup; "/" when not found. */
static void self_cgroup(const char *ctrl, char *out, size_t cap)
{
    snprintf(out, cap, "/");
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f) return;
    char line[PATH_MAX + 128];
    while (fgets(line, sizeof line, f)) {
        char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!b) continue;
        *b = 0;
        line[strcspn(line, "\n")] = 0;
        b[1 + strcspn(b + 1, "\n")] = 0;
        int match = 0;
        if (!ctrl) match = !strcmp(line, "0") && a[1] == 0;
        else
            for (char *save = NULL, *t = strtok_r(a + 1, ",", &save); t && !match; t = strtok_r(NULL, ",", &save))
                match = !strcmp(t, ctrl);
        if (match) { snprintf(out, cap, "%s", b + 1); break; }
    }
    fclose(f);
}

/* Kills every process in a cgroup folder until it is empty (at most ~1 s), then removes it. */
static void cgroup_remove(const char *dir)
{
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/cgroup.procs", dir);
    for (int round = 0; round < 100; round++) {
        FILE *f = fopen(p, "re");
        if (!f) break;
        int any = 0;
        long pid;
        while (fscanf(f, "%ld", &pid) == 1) { any = 1; kill((pid_t)pid, SIGKILL); }
        fclose(f);
        if (!any) break;
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    rmdir(dir);
}

/* A fresh cgroup folder at dir (a stale one of the same name removed first). */
static int cgroup_make(const char *dir)
{
    if (!mkdir(dir, 0755)) return 0;
    if (errno != EEXIST) return -1;
    cgroup_remove(dir);
    return mkdir(dir, 0755);
}

static void limits_text(gf_sandbox *sb)
{
    static const char *const names[CG_N] = { " memory", " pids", " cpu", " cpuacct" };
    char *p = sb->limits, *end = sb->limits + sizeof sb->limits;
    p += snprintf(p, (size_t)(end - p), "%s", sb->cg_version == 2 ? "cgroup v2:" : sb->cg_version ? "cgroup v1:" : "no cgroups");
    for (int i = 0; i < CG_N && p < end; i++)
        if (sb->have[i]) p += snprintf(p, (size_t)(end - p), "%s", names[i]);
    if (p < end)
        snprintf(p, (size_t)(end - p), "%s%s%s", !sb->have[CG_MEMORY] ? "; memory by RLIMIT_AS" : "",
                 sb->have[CG_PIDS] ? "" : sb->set_ids ? "; processes by RLIMIT_NPROC" : "; no process limit",
                 !sb->have[CG_CPU] ? "; cpu by affinity" : "");
}

/* The job's cgroups: v2 where /sys/fs/cgroup is unified and delegates, else v1. */
static void cgroups_setup(gf_sandbox *sb, const gf_sandbox_request *r)
{
    char self[PATH_MAX], leaf[64], val[64];
    snprintf(leaf, sizeof leaf, "gf-%ld-job-%lld", (long)getpid(), (long long)r->job_id);
    struct statfs fs;
    if (!statfs(CGROUP_ROOT, &fs) && (unsigned long)fs.f_type == CGROUP2_MAGIC) {
        self_cgroup(NULL, self, sizeof self);
        char parent[PATH_MAX], dir[PATH_MAX];
        snprintf(parent, sizeof parent, "%s%.3000s", CGROUP_ROOT, strcmp(self, "/") ? self : "");
        for (int i = 0; i < CG_CPUACCT; i++) {
            snprintf(val, sizeof val, "+%s", cg_name[i]);
            write_text(parent, "cgroup.subtree_control", val);
        }
        if (snprintf(dir, sizeof dir, "%s/%s", parent, leaf) >= (int)sizeof dir || cgroup_make(dir)) return;
        sb->cg_version = 2;
        snprintf(sb->cg_dir[0], sizeof sb->cg_dir[0], "%s", dir);
        snprintf(val, sizeof val, "%lld", (long long)r->memory_mb << 20);
        sb->have[CG_MEMORY] = !write_text(dir, "memory.max", val);
        if (sb->have[CG_MEMORY]) write_text(dir, "memory.swap.max", "0");
        snprintf(val, sizeof val, "%d", GF_SANDBOX_PIDS_MAX);
        sb->have[CG_PIDS] = !write_text(dir, "pids.max", val);
        snprintf(val, sizeof val, "%lld 100000", (long long)r->cores * 100000);
        sb->have[CG_CPU] = !write_text(dir, "cpu.max", val);
        char procs[PATH_MAX + 16];
        snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
        int fd = open(procs, O_WRONLY | O_CLOEXEC);
        if (fd < 0) { cgroup_remove(dir); memset(sb->have, 0, sizeof sb->have); sb->cg_version = 0; sb->cg_dir[0][0] = 0; return; }
        sb->join_fds[sb->njoin++] = fd;
        return;
    }
    char real[CG_N][PATH_MAX];
    for (int i = 0; i < CG_N; i++) {
        char root[PATH_MAX], parent[PATH_MAX], dir[PATH_MAX];
        snprintf(root, sizeof root, "%s/%s", CGROUP_ROOT, cg_name[i]);
        real[i][0] = 0;
        if (!is_dir(root) || !realpath(root, real[i])) continue;
        int same = -1;                          /* co-mounted with an earlier one (cpu,cpuacct) */
        for (int k = 0; k < i && same < 0; k++)
            if (sb->have[k] && !strcmp(real[k], real[i])) same = k;
        if (same >= 0) {
            sb->have[i] = 1;
            snprintf(sb->cg_dir[i], sizeof sb->cg_dir[i], "%s", sb->cg_dir[same]);
            if (i == CG_CPU) {
                snprintf(val, sizeof val, "%lld", (long long)r->cores * 100000);
                sb->have[i] = !write_text(sb->cg_dir[i], "cpu.cfs_period_us", "100000") &&
                              !write_text(sb->cg_dir[i], "cpu.cfs_quota_us", val);
            }
            continue;
        }
        self_cgroup(cg_name[i], self, sizeof self);
        snprintf(parent, sizeof parent, "%.100s%.3000s", root, strcmp(self, "/") ? self : "");
        if (!is_dir(parent)) snprintf(parent, sizeof parent, "%s", root);
        if (snprintf(dir, sizeof dir, "%s/%s", parent, leaf) >= (int)sizeof dir || cgroup_make(dir)) continue;
        int ok;
        if (i == CG_MEMORY) {
            snprintf(val, sizeof val, "%lld", (long long)r->memory_mb << 20);
            ok = !write_text(dir, "memory.limit_in_bytes", val);
            if (ok) write_text(dir, "memory.memsw.limit_in_bytes", val);   /* no swap beyond it, where accounted */
        } else if (i == CG_PIDS) {
            snprintf(val, sizeof val, "%d", GF_SANDBOX_PIDS_MAX);
            ok = !write_text(dir, "pids.max", val);
        } else if (i == CG_CPU) {
            snprintf(val, sizeof val, "%lld", (long long)r->cores * 100000);
            ok = !write_text(dir, "cpu.cfs_period_us", "100000") && !write_text(dir, "cpu.cfs_quota_us", val);
        } else {
            ok = 1;                                /* cpuacct: accounting only */
        }
        char procs[PATH_MAX + 16];
        snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
        int fd = ok ? open(procs, O_WRONLY | O_CLOEXEC) : -1;
        if (fd < 0) { cgroup_remove(dir); continue; }
        sb->join_fds[sb->njoin++] = fd;
        sb->have[i] = 1;
        sb->cg_version = 1;
        snprintf(sb->cg_dir[i], sizeof sb->cg_dir[i], "%s", dir);
    }
}

/* ---- the child's staging (root callers; runs between fork and exec) --------- */

/* "/proc/self/fd/N" without stdio (async-signal-safe). */
static void fd_path(char out[32], int fd)
{
    static const char pre[] = "/proc/self/fd/";
    char digits[16];
    int n = 0;
    do { digits[n++] = (char)('0' + fd % 10); fd /= 10; } while (fd && n < 15);
    memcpy(out, pre, sizeof pre - 1);
    for (int i = 0; i < n; i++) out[sizeof pre - 1 + i] = digits[n - 1 - i];
    out[sizeof pre - 1 + n] = 0;
}

static int stage_in_child(void *ctx)
{
    gf_sandbox *sb = ctx;
    if (unshare(CLONE_NEWNS)) return errno;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) return errno;
    for (int i = 0; i < sb->nmounts; i++) {      /* opened in this namespace: a bind's source must be in it */
        stage_mount *m = &sb->mounts[i];
        if ((m->src_fd = open(m->host, O_PATH | O_CLOEXEC | (m->is_dir == 1 ? O_DIRECTORY : 0))) < 0) return errno;
        fd_path(m->src, m->src_fd);
    }
    if (mount("gf-sandbox", sb->stage, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k")) return errno;
    for (int i = 0; i < sb->nmounts; i++) {
        stage_mount *m = &sb->mounts[i];
        if (m->mkdir_first[0] && mkdir(m->mkdir_first, 0755) && errno != EEXIST) return errno;
        if (m->is_dir == 1) {
            if (mkdir(m->dst, 0755) && errno != EEXIST) return errno;
        } else {
            int fd = open(m->dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (fd < 0) return errno;
            close(fd);
        }
        if (mount(m->src, m->dst, NULL, MS_BIND, NULL)) return errno;
    }
    return 0;
}

/* Where a host path appears to bwrap: staged (root) or as is. is_dir_: 1
 * a folder, 0 a regular file, 2 a character device (a GPU). */
static gf_status stage_add(gf_sandbox *sb, const char *host, const char *dst_rel, const char *dir_first, int is_dir_,
                           char *seen, size_t cap)
{
    struct stat st;
    int ok = !stat(host, &st) && (is_dir_ == 1 ? S_ISDIR(st.st_mode) : is_dir_ == 2 ? S_ISCHR(st.st_mode)
                                                                                    : S_ISREG(st.st_mode));
    if (!ok && (sb->stage || is_dir_ == 2))
        return gf_errorf(GF_ERR_IO, "sandbox: %s is not a %s", host,
                         is_dir_ == 1 ? "folder" : is_dir_ == 2 ? "character device" : "regular file");
    if (!sb->stage) { snprintf(seen, cap, "%s", host); return GF_OK; }
    if (sb->nmounts == STAGE_MOUNTS) return gf_errorf(GF_ERR_ARG, "sandbox: too many files to bind");
    stage_mount *m = &sb->mounts[sb->nmounts];
    if (snprintf(m->host, sizeof m->host, "%s", host) >= (int)sizeof m->host)
        return gf_errorf(GF_ERR_ARG, "sandbox: path too long: %s", host);
    sb->nmounts++;
    snprintf(m->dst, sizeof m->dst, "%s/%s", sb->stage, dst_rel);
    if (dir_first) snprintf(m->mkdir_first, sizeof m->mkdir_first, "%s/%s", sb->stage, dir_first);
    m->is_dir = is_dir_;
    snprintf(seen, cap, "%s", m->dst);
    return GF_OK;
}

/* The granted GPUs' device files, each as /dev/ITS-NAME (after bwrap's
 * --dev), and the driver's control devices that exist on the host. */
static gf_status gpus_bind(gf_sandbox *sb, const gf_sandbox_request *r)
{
    char seen[PATH_MAX], dst[PATH_MAX + 8], rel[32];
    gf_status st;
    for (int i = 0; i < r->ngpus; i++) {
        const char *base = strrchr(r->gpu_devices[i], '/');
        base = base ? base + 1 : r->gpu_devices[i];
        snprintf(rel, sizeof rel, "gpu%d", i);
        if ((st = stage_add(sb, r->gpu_devices[i], rel, NULL, 2, seen, sizeof seen))) return st;
        snprintf(dst, sizeof dst, "/dev/%s", base);
        arg3(sb, "--dev-bind", seen, dst);
    }
    for (int i = 0; r->ngpus > 0 && GF_GPU_CONTROL[i]; i++) {
        struct stat cs;
        if (stat(GF_GPU_CONTROL[i], &cs) || !S_ISCHR(cs.st_mode)) continue;
        snprintf(rel, sizeof rel, "gpuctl%d", i);
        if ((st = stage_add(sb, GF_GPU_CONTROL[i], rel, NULL, 2, seen, sizeof seen))) return st;
        arg3(sb, "--dev-bind", seen, GF_GPU_CONTROL[i]);
    }
    return GF_OK;
}

/* ---- the public functions --------------------------------------------------- */

void gf_sandbox_ids(int64_t tenant_id, uid_t *uid, gid_t *gid)
{
    if (geteuid() == 0) {
        *uid = (uid_t)(GF_SANDBOX_UID_BASE + tenant_id);
        *gid = (gid_t)(GF_SANDBOX_UID_BASE + tenant_id);
    } else {
        *uid = geteuid();
        *gid = getegid();
    }
}

static gf_status own_at(int at, const char *name, uid_t uid, gid_t gid, int depth)
{
    struct stat st;
    if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW))
        return gf_errorf(GF_ERR_IO, "sandbox: cannot stat %s: %s", name, strerror(errno));
    if (fchownat(at, name, uid, gid, AT_SYMLINK_NOFOLLOW))
        return gf_errorf(GF_ERR_IO, "sandbox: cannot hand %s to uid %d: %s", name, (int)uid, strerror(errno));
    if (!S_ISLNK(st.st_mode) && (st.st_mode & (S_ISUID | S_ISGID)))
        fchmodat(at, name, st.st_mode & 0777, 0);
    if (!S_ISDIR(st.st_mode)) return GF_OK;
    if (depth > 64) return gf_errorf(GF_ERR_IO, "sandbox: folders nested too deep under %s", name);
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return gf_errorf(GF_ERR_IO, "sandbox: cannot open %s: %s", name, strerror(errno));
    DIR *d = fdopendir(fd);
    if (!d) { close(fd); return gf_errorf(GF_ERR_NOMEM, "out of memory"); }
    gf_status s = GF_OK;
    struct dirent *e;
    while (!s && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) s = own_at(dirfd(d), e->d_name, uid, gid, depth + 1);
    closedir(d);
    return s;
}

gf_status gf_sandbox_own(const char *path, uid_t uid, gid_t gid)
{
    if (geteuid() != 0) return GF_OK;
    return own_at(AT_FDCWD, path, uid, gid, 0);
}

gf_status gf_sandbox_prepare(const gf_sandbox_request *r, gf_sandbox **out)
{
    *out = NULL;
    if (!r->argv || !r->argv[0] || !r->work_dir || r->ndata < 0 || r->ndata > GF_SANDBOX_DATA_MAX || r->cores < 1)
        return gf_errorf(GF_ERR_ARG, "sandbox: bad request");
    if (r->ngpus < 0 || r->ngpus > GF_GPUS_MAX || (r->ngpus && (!r->gpu_devices || !r->gpu_index)))
        return gf_errorf(GF_ERR_ARG, "sandbox: bad GPU request");
    if (access(GF_SANDBOX_BWRAP, X_OK))
        return gf_errorf(GF_ERR_IO, "sandbox: %s is missing (Debian's bubblewrap)", GF_SANDBOX_BWRAP);
    if (r->processes > 1 && access(GF_SANDBOX_MPIRUN, X_OK))
        return gf_errorf(GF_ERR_IO, "sandbox: %s is missing (Debian's openmpi-bin): needed for processes > 1",
                         GF_SANDBOX_MPIRUN);
    if (r->processes > r->cores)
        return gf_errorf(GF_ERR_ARG, "sandbox: %d processes on %d cores", r->processes, r->cores);
    gf_sandbox *sb = calloc(1, sizeof *sb);
    if (!sb) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    for (int i = 0; i < STAGE_MOUNTS; i++) sb->mounts[i].src_fd = -1;
    sb->memory_mb = r->memory_mb;
    if (geteuid() == 0) {
        sb->set_ids = 1;
        gf_sandbox_ids(r->tenant_id, &sb->uid, &sb->gid);
        static const char *const stages[] = { "/mnt", "/srv", "/media", "/opt" };
        for (size_t i = 0; i < sizeof stages / sizeof *stages && !sb->stage; i++)
            if (is_dir(stages[i])) sb->stage = stages[i];
        if (!sb->stage) { free(sb); return gf_errorf(GF_ERR_IO, "sandbox: no /mnt to stage the job's folders in"); }
    }
    sb->outer_limits = r->outer_limits;
    if (r->outer_limits)
        snprintf(sb->limits, sizeof sb->limits, "the batch system's cgroups: memory, cores%s",
                 sb->set_ids ? "; processes by RLIMIT_NPROC" : "; no process limit");
    else {
        cgroups_setup(sb, r);
        limits_text(sb);
    }

    gf_status st = GF_OK;
    char seen[PATH_MAX], dst[PATH_MAX + 32], val[32];
    arg(sb, GF_SANDBOX_BWRAP);
    arg(sb, "--unshare-all");
    if (r->share_net) arg(sb, "--share-net");
    arg(sb, "--die-with-parent");
    arg(sb, "--new-session");
    arg2(sb, "--hostname", "gf-job");
    arg3(sb, "--ro-bind", "/usr", "/usr");
    arg3(sb, "--ro-bind", "/etc", "/etc");
    static const char *const links[] = { "/bin", "/lib", "/lib64", "/lib32", "/sbin" };
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        struct stat ls;
        char target[PATH_MAX];
        if (lstat(links[i], &ls)) continue;
        ssize_t n;
        if (S_ISLNK(ls.st_mode) && (n = readlink(links[i], target, sizeof target - 1)) > 0) {
            target[n] = 0;
            arg3(sb, "--symlink", target, links[i]);
        } else if (S_ISDIR(ls.st_mode)) {
            arg3(sb, "--ro-bind", links[i], links[i]);
        }
    }
    arg2(sb, "--proc", "/proc");
    arg2(sb, "--dev", "/dev");
    if ((st = gpus_bind(sb, r))) goto fail;
    arg2(sb, "--tmpfs", "/tmp");
    if ((st = stage_add(sb, r->work_dir, "job", NULL, 1, seen, sizeof seen))) goto fail;
    arg3(sb, "--bind", seen, "/job");
    for (int i = 0; i < r->ndata; i++) {
        const gf_sandbox_data *d = &r->data[i];
        char rel[32];
        snprintf(rel, sizeof rel, "d%d", i);
        snprintf(dst, sizeof dst, "/data/%s", d->name);
        if (d->is_dir) {
            if ((st = stage_add(sb, d->path, rel, NULL, 1, seen, sizeof seen))) goto fail;
            arg3(sb, "--ro-bind", seen, dst);
            continue;
        }
        const char *files[2] = { d->path, d->test_path };
        for (int k = 0; k < 2 && files[k] && files[k][0]; k++) {
            const char *base = strrchr(files[k], '/');
            base = base ? base + 1 : files[k];
            char relf[PATH_MAX], dstf[PATH_MAX + 64];
            snprintf(relf, sizeof relf, "%s/%s", rel, base);
            snprintf(dstf, sizeof dstf, "%s/%s", dst, base);
            if ((st = stage_add(sb, files[k], relf, rel, 0, seen, sizeof seen))) goto fail;
            arg3(sb, "--ro-bind", seen, dstf);
        }
    }
    arg2(sb, "--remount-ro", "/");          /* its root (bwrap's tmpfs): only /job and /tmp take writes */
    arg2(sb, "--chdir", "/job");
    arg(sb, "--clearenv");
    arg3(sb, "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin");
    arg3(sb, "--setenv", "HOME", "/job");
    arg3(sb, "--setenv", "GF_OUTPUT", "/job/output");
    arg3(sb, "--setenv", "GF_METRICS", "/job/metrics.jsonl");
    snprintf(val, sizeof val, "%d", r->cores);
    arg3(sb, "--setenv", "OMP_NUM_THREADS", val);
    arg3(sb, "--setenv", "OPENBLAS_NUM_THREADS", val);
    arg3(sb, "--setenv", "MKL_NUM_THREADS", val);
    if (r->ngpus > 0) {           /* CUDA numbers the devices it can open from 0; GF_GPUS: the facility's indices */
        char cuda[GF_GPUS_MAX * 4], ours[GF_GPUS_MAX * 4];
        size_t a = 0, b = 0;
        for (int i = 0; i < r->ngpus; i++) {
            a += (size_t)snprintf(cuda + a, sizeof cuda - a, "%s%d", i ? "," : "", i);
            b += (size_t)snprintf(ours + b, sizeof ours - b, "%s%d", i ? "," : "", r->gpu_index[i]);
        }
        arg3(sb, "--setenv", "CUDA_VISIBLE_DEVICES", cuda);
        arg3(sb, "--setenv", "GF_GPUS", ours);
    }
    int nproc = r->processes > 1 ? r->processes : 1;
    char np[16], port[16];
    snprintf(np, sizeof np, "%d", nproc);
    snprintf(port, sizeof port, "%d", r->master_port > 0 ? r->master_port : 29500);
    arg3(sb, "--setenv", "WORLD_SIZE", np);
    arg3(sb, "--setenv", "LOCAL_WORLD_SIZE", np);
    arg3(sb, "--setenv", "MASTER_ADDR", "127.0.0.1");
    arg3(sb, "--setenv", "MASTER_PORT", port);
    if (nproc == 1) {
        arg3(sb, "--setenv", "RANK", "0");
        arg3(sb, "--setenv", "LOCAL_RANK", "0");
    } else {
        arg3(sb, "--setenv", "HWLOC_HIDE_ERRORS", "2");   /* hwloc finds no /sys in the sandbox: say nothing */
    }
    for (int i = 0; i < r->nenv; i++) {
        const char *eq = strchr(r->env[i], '=');
        if (!eq || eq == r->env[i] || eq - r->env[i] >= 200) { st = gf_errorf(GF_ERR_ARG, "sandbox: bad env entry"); goto fail; }
        char name[200];
        snprintf(name, sizeof name, "%.*s", (int)(eq - r->env[i]), r->env[i]);
        arg3(sb, "--setenv", name, eq + 1);
    }
    arg(sb, "--");
    if (nproc > 1) {              /* mpirun, then each rank through the shim (sandbox.h); argv only as "$@" */
        static const char shim[] =
            "export RANK=\"$OMPI_COMM_WORLD_RANK\" LOCAL_RANK=\"$OMPI_COMM_WORLD_LOCAL_RANK\" "
            "LOCAL_WORLD_SIZE=\"$OMPI_COMM_WORLD_LOCAL_SIZE\"\n"
            "\"$@\"\n"
            "s=$?\n"
            "[ \"$s\" = 0 ] || echo \"$s\" > \"/job/" GF_SANDBOX_RANKS "/$RANK\"\n"
            "exit \"$s\"\n";
        arg(sb, GF_SANDBOX_MPIRUN);
        arg2(sb, "-n", np);
        arg(sb, "--oversubscribe");
        arg2(sb, "--bind-to", "none");
        arg3(sb, "/bin/sh", "-c", shim);
        arg(sb, "gf-rank");
    }
    for (int i = 0; r->argv[i]; i++) arg(sb, r->argv[i]);
    if (sb->oom) { st = gf_errorf(GF_ERR_NOMEM, "out of memory"); goto fail; }
    *out = sb;
    return GF_OK;
fail:
    gf_sandbox_free(sb);
    return st;
}

void gf_sandbox_apply(gf_sandbox *sb, gf_proc_spec *ps)
{
    ps->argv = (const char *const *)sb->args;
    ps->memory_mb = sb->have[CG_MEMORY] || sb->outer_limits ? 0 : sb->memory_mb;
    ps->join_fds = sb->join_fds;
    ps->njoin = sb->njoin;
    ps->max_procs = sb->set_ids && !sb->have[CG_PIDS] ? GF_SANDBOX_PIDS_MAX : 0;
    ps->set_ids = sb->set_ids;
    ps->uid = sb->uid;
    ps->gid = sb->gid;
    ps->pre_exec = sb->stage ? stage_in_child : NULL;
    ps->pre_exec_ctx = sb;
}

void gf_sandbox_started(gf_sandbox *sb)
{
    for (int i = 0; i < sb->njoin; i++) close(sb->join_fds[i]);
    sb->njoin = 0;
}

int64_t gf_sandbox_oom_kills(const gf_sandbox *sb)
{
    if (!sb->have[CG_MEMORY]) return 0;
    if (sb->cg_version == 2) return read_key(sb->cg_dir[0], "memory.events", "oom_kill");
    return read_key(sb->cg_dir[CG_MEMORY], "memory.oom_control", "oom_kill");
}

const char *gf_sandbox_limits(const gf_sandbox *sb) { return sb->limits; }

int gf_sandbox_failed_rank(const char *work_dir, char *out, size_t cap)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", work_dir, GF_SANDBOX_RANKS);
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    long best_rank = -1, best_status = 0;
    struct timespec best_t = { 0, 0 };
    while ((e = readdir(d))) {
        char *end;
        long rank = strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end || rank < 0) continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode)) continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) continue;
        char buf[16] = "";
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        long status = n > 0 ? strtol(buf, NULL, 10) : 0;
        if (status <= 0) continue;
        struct timespec t = st.st_mtim;
        if (best_rank < 0 || t.tv_sec < best_t.tv_sec || (t.tv_sec == best_t.tv_sec && t.tv_nsec < best_t.tv_nsec) ||
            (t.tv_sec == best_t.tv_sec && t.tv_nsec == best_t.tv_nsec && rank < best_rank)) {
            best_rank = rank;
            best_status = status;
            best_t = t;
        }
    }
    closedir(d);
    if (best_rank < 0) return -1;
    if (best_status > 128 && best_status < 128 + 65)
        snprintf(out, cap, "rank %ld was killed by signal %ld (%s)", best_rank, best_status - 128,
                 strsignal((int)(best_status - 128)));
    else
        snprintf(out, cap, "rank %ld exited with status %ld%s", best_rank, best_status,
                 best_status == 127 ? " (command not found)" : best_status == 126 ? " (not executable)" : "");
    return 0;
}

/* A file holding one number (memory.max_usage_in_bytes, cpuacct.usage); -1 if unreadable. */
static int64_t read_number(const char *dir, const char *file)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    FILE *f = fopen(p, "re");
    if (!f) return -1;
    long long v = -1;
    if (fscanf(f, "%lld", &v) != 1) v = -1;
    fclose(f);
    return v;
}

void gf_sandbox_usage(const gf_sandbox *sb, double *cpu_s, int64_t *peak_kb)
{
    *cpu_s = -1;
    *peak_kb = -1;
    int64_t v;
    if (sb->cg_version == 2) {
        if ((v = read_key(sb->cg_dir[0], "cpu.stat", "usage_usec")) > 0) *cpu_s = (double)v / 1e6;
        if ((v = read_number(sb->cg_dir[0], "memory.peak")) >= 0) *peak_kb = v / 1024;
        return;
    }
    if (sb->have[CG_CPUACCT] && (v = read_number(sb->cg_dir[CG_CPUACCT], "cpuacct.usage")) >= 0) *cpu_s = (double)v / 1e9;
    if (sb->have[CG_MEMORY] && (v = read_number(sb->cg_dir[CG_MEMORY], "memory.max_usage_in_bytes")) >= 0)
        *peak_kb = v / 1024;
}

/* Removes gf-PID-job-ID folders under parent whose PID is not alive. */
static void remove_stale_in(const char *parent, int64_t job_id)
{
    DIR *d = opendir(parent);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid;
        long long id;
        int n = 0;
        if (sscanf(e->d_name, "gf-%ld-job-%lld%n", &pid, &id, &n) != 2 || e->d_name[n] || id != job_id || pid <= 0) continue;
        if (pid == (long)getpid() || !(kill((pid_t)pid, 0) && errno == ESRCH)) continue;   /* a live coordinator's */
        char dir[PATH_MAX + 300];
        snprintf(dir, sizeof dir, "%s/%s", parent, e->d_name);
        cgroup_remove(dir);
    }
    closedir(d);
}

void gf_sandbox_remove_stale(int64_t job_id)
{
    char self[PATH_MAX], parent[PATH_MAX];
    struct statfs fs;
    if (!statfs(CGROUP_ROOT, &fs) && (unsigned long)fs.f_type == CGROUP2_MAGIC) {
        self_cgroup(NULL, self, sizeof self);
        snprintf(parent, sizeof parent, "%s%.3000s", CGROUP_ROOT, strcmp(self, "/") ? self : "");
        remove_stale_in(parent, job_id);
        return;
    }
    for (int i = 0; i < CG_N; i++) {
        char root[PATH_MAX];
        snprintf(root, sizeof root, "%s/%s", CGROUP_ROOT, cg_name[i]);
        if (!is_dir(root)) continue;
        self_cgroup(cg_name[i], self, sizeof self);
        snprintf(parent, sizeof parent, "%.100s%.3000s", root, strcmp(self, "/") ? self : "");
        if (!is_dir(parent)) snprintf(parent, sizeof parent, "%s", root);
        remove_stale_in(parent, job_id);
    }
}

void gf_sandbox_free(gf_sandbox *sb)
{
    if (!sb) return;
    gf_sandbox_started(sb);
    for (int i = 0; i < CG_N; i++)
        if (sb->cg_dir[i][0] && is_dir(sb->cg_dir[i])) cgroup_remove(sb->cg_dir[i]);
    for (int i = 0; i < sb->nargs; i++) free(sb->args[i]);
    free(sb->args);
    free(sb);
}
