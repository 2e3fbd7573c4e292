/* gf program-batch: the inside of a program job's Slurm batch script (and,
 * with "processes" > 1, of each srun task). The coordinator's Slurm executor
 * (service/executor_slurm.c) writes the script; this command is not for
 * people. It runs the program in the same bubblewrap sandbox as the local
 * executor (facility/sandbox.h), with the datasets resolved by the
 * coordinator, and exits with the program's status (128 + N for a signal).
 *
 * Slurm runs the batch script as root (the coordinator's user); the
 * program itself runs as the tenant's uid, set before bwrap starts, with the
 * job folder staged in a private mount namespace, exactly as on the local
 * executor. Memory and cores are held by Slurm's task/cgroup (the job's
 * --mem and --cpus-per-task), so the sandbox makes no cgroups of its own and
 * no RLIMIT_AS; the pids limit stays RLIMIT_NPROC of the tenant's uid.
 *
 * With --ranks N (N > 1, the batch script's call) it picks a free TCP port
 * on the batch host (bound to port 0, then closed, as torchrun does) and
 * runs itself N times through `srun --ntasks=N --cpus-per-task=C
 * --kill-on-bad-exit=1 --mem=0` with GF_MASTER_PORT set. Under srun
 * (SLURM_NTASKS > 1) each task gets RANK = SLURM_PROCID, WORLD_SIZE =
 * SLURM_NTASKS, LOCAL_RANK = SLURM_LOCALID, MASTER_ADDR =
 * SLURM_LAUNCH_NODE_IPADDR (the batch host), MASTER_PORT = that port, and
 * the host's network (ranks of one job must reach each other; loopback of a
 * private network namespace would not).
 * GPUs: with --gpu-devices LIST (the node's GPU device files in the order of
 * gres.conf's File=), the sandbox binds those of LIST whose indices Slurm
 * allotted (SLURM_JOB_GPUS: global indices even under ConstrainDevices;
 * else CUDA_VISIBLE_DEVICES) and sets CUDA_VISIBLE_DEVICES=0..k-1 and
 * GF_GPUS as on the local executor (facility/sandbox.h). Without it,
 * CUDA_VISIBLE_DEVICES as Slurm sets it is passed on, and no GPU device
 * file is in the sandbox's /dev.
 *
 *   gf program-batch [--ranks N] --work DIR --stdout F --stderr F --tenant-id N --cores C
 *                    --memory-mb M [--gpu-devices LIST] [--env K=V]... [--data-dir NAME PATH]...
 *                    [--data-file NAME PATH TEST|""]... -- ARGV... */
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/program.h"
#include "facility/gpus.h"
#include "facility/proc.h"
#include "facility/sandbox.h"

#define MAX_ENV 256

static int bad(const char *what)
{
    fprintf(stderr, "gf program-batch: %s\n", what);
    return 2;
}

/* A TCP port free on this host now (0 if none could be had). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY), .sin_port = 0 };
    socklen_t len = sizeof a;
    int port = 0;
    if (!bind(fd, (struct sockaddr *)&a, sizeof a) && !getsockname(fd, (struct sockaddr *)&a, &len))
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* --ranks N: srun runs this command (less --ranks) N times, with GF_MASTER_PORT. */
static int run_ranks(int ranks, int cores, int argc, char **argv)
{
    int port = free_port();
    if (!port) { fprintf(stderr, "gf program-batch: no free TCP port for MASTER_PORT\n"); return 1; }
    char p[16], nt[32], cpt[32], self[4096];
    snprintf(p, sizeof p, "%d", port);
    setenv("GF_MASTER_PORT", p, 1);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) { perror("gf program-batch: /proc/self/exe"); return 1; }
    self[n] = 0;
    snprintf(nt, sizeof nt, "--ntasks=%d", ranks);
    snprintf(cpt, sizeof cpt, "--cpus-per-task=%d", cores);
    char **args = calloc((size_t)argc + 8, sizeof *args);
    if (!args) return 1;
    int k = 0;
    const char *head[] = { "srun", nt, cpt, "--kill-on-bad-exit=1", "--mem=0", self, "program-batch" };
    for (size_t i = 0; i < sizeof head / sizeof *head; i++) args[k++] = (char *)head[i];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ranks") && i + 1 < argc) { i++; continue; }
        args[k++] = argv[i];
        if (!strcmp(argv[i], "--")) {
            for (i++; i < argc; i++) args[k++] = argv[i];
            break;
        }
    }
    args[k] = NULL;
    execvp("srun", args);
    perror("gf program-batch: srun");
    free(args);
    return 127;
}

/* The device files of list (the node's GPUs) that Slurm allotted to the
 * job: SLURM_JOB_GPUS (global indices), else CUDA_VISIBLE_DEVICES; 0, or 1
 * after saying what is wrong. */
static int allotted_gpus(const char *list, gf_gpu_list *gl, const char **dev, int *idx, int *n)
{
    if (gf_gpus_parse(list, gl)) { fprintf(stderr, "gf program-batch: --gpu-devices: %s\n", gf_last_error()); return 1; }
    const char *ids = getenv("SLURM_JOB_GPUS");
    if (!ids || !*ids) ids = getenv("CUDA_VISIBLE_DEVICES");
    *n = 0;
    for (const char *p = ids ? ids : ""; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v >= gl->n || (*end && *end != ',') || *n == GF_GPUS_MAX) {
            fprintf(stderr, "gf program-batch: Slurm's GPUs \"%s\" are not indices of the %d --gpu-devices\n", ids, gl->n);
            return 1;
        }
        for (int k = 0; k < *n; k++)
            if (idx[k] == (int)v) { fprintf(stderr, "gf program-batch: GPU %ld twice in \"%s\"\n", v, ids); return 1; }
        idx[*n] = (int)v;
        dev[(*n)++] = gl->path[v];
        p = *end ? end + 1 : end;
    }
    return 0;
}

int cmd_program_batch(int argc, char **argv)
{
    const char *work = NULL, *out = NULL, *err = NULL, *env[MAX_ENV + 8];
    long long tenant = -1, mem = 0;
    int cores = 0, nenv = 0, ndata = 0, ranks = 1, i = 1;
    const char *gpu_list = NULL;
    gf_sandbox_data data[GF_SANDBOX_DATA_MAX];
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        const char *a = argv[i];
        int left = argc - i - 1;
        if (!strcmp(a, "--ranks") && left >= 1) ranks = atoi(argv[++i]);
        else if (!strcmp(a, "--work") && left >= 1) work = argv[++i];
        else if (!strcmp(a, "--stdout") && left >= 1) out = argv[++i];
        else if (!strcmp(a, "--stderr") && left >= 1) err = argv[++i];
        else if (!strcmp(a, "--tenant-id") && left >= 1) tenant = atoll(argv[++i]);
        else if (!strcmp(a, "--cores") && left >= 1) cores = atoi(argv[++i]);
        else if (!strcmp(a, "--memory-mb") && left >= 1) mem = atoll(argv[++i]);
        else if (!strcmp(a, "--env") && left >= 1 && nenv < MAX_ENV) env[nenv++] = argv[++i];
        else if (!strcmp(a, "--gpu-devices") && left >= 1) gpu_list = argv[++i];
        else if (!strcmp(a, "--data-dir") && left >= 2 && ndata < GF_SANDBOX_DATA_MAX) {
            data[ndata++] = (gf_sandbox_data){ .name = argv[i + 1], .path = argv[i + 2], .is_dir = 1 };
            i += 2;
        } else if (!strcmp(a, "--data-file") && left >= 3 && ndata < GF_SANDBOX_DATA_MAX) {
            data[ndata++] = (gf_sandbox_data){ .name = argv[i + 1], .path = argv[i + 2],
                                               .test_path = argv[i + 3][0] ? argv[i + 3] : NULL };
            i += 3;
        } else {
            fprintf(stderr, "gf program-batch: unknown or incomplete option %s\n", a);
            return 2;
        }
    }
    if (i >= argc - 1 || !work || !out || !err || tenant < 0 || cores < 1 || mem < 1)
        return bad("needs --work, --stdout, --stderr, --tenant-id, --cores, --memory-mb and -- ARGV");
    if (ranks > 1) return run_ranks(ranks, cores, argc, argv);

    /* the ranks of an srun step */
    static char rank[48], world[48], local[48], addr[300], port[48];
    const char *ntasks = getenv("SLURM_NTASKS"), *procid = getenv("SLURM_PROCID");
    int share_net = 0;
    if (ntasks && atoi(ntasks) > 1 && procid) {
        const char *lid = getenv("SLURM_LOCALID"), *ip = getenv("SLURM_LAUNCH_NODE_IPADDR");
        snprintf(rank, sizeof rank, "RANK=%s", procid);
        snprintf(world, sizeof world, "WORLD_SIZE=%s", ntasks);
        snprintf(local, sizeof local, "LOCAL_RANK=%s", lid ? lid : procid);
        snprintf(addr, sizeof addr, "MASTER_ADDR=%s", ip && *ip ? ip : "127.0.0.1");
        const char *mp = getenv("GF_MASTER_PORT");
        snprintf(port, sizeof port, "MASTER_PORT=%s", mp && *mp ? mp : "29500");
        const char *add[] = { rank, world, local, addr, port };
        memmove(env + 5, env, sizeof env[0] * (size_t)nenv);    /* the spec's own entries come after */
        memcpy(env, add, sizeof add);
        nenv += 5;
        share_net = 1;
    }

    static gf_gpu_list gl;                /* --gpu-devices: the node's; bound: those Slurm allotted */
    const char *gdev[GF_GPUS_MAX];
    int gidx[GF_GPUS_MAX], ngpus = 0;
    if (gpu_list && allotted_gpus(gpu_list, &gl, gdev, gidx, &ngpus)) return 1;
    static char cuda[300];                /* the GPUs Slurm bound (--gres), through the clean environment */
    const char *cv = getenv("CUDA_VISIBLE_DEVICES");
    if (!gpu_list && cv && strlen(cv) < 250) {
        snprintf(cuda, sizeof cuda, "CUDA_VISIBLE_DEVICES=%s", cv);
        memmove(env + 1, env, sizeof env[0] * (size_t)nenv);
        env[0] = cuda;
        nenv++;
    }
    uid_t uid;
    gid_t gid;
    gf_sandbox_ids(tenant, &uid, &gid);
    gf_sandbox_request rq = { .job_id = 0, .tenant_id = tenant, .work_dir = work,
                              .argv = (const char *const *)(argv + i + 1), .env = env, .nenv = nenv,
                              .data = data, .ndata = ndata, .cores = cores, .memory_mb = mem,
                              .share_net = share_net, .outer_limits = 1,
                              .gpu_devices = gdev, .gpu_index = gidx, .ngpus = ngpus };
    const char *jid = getenv("SLURM_JOB_ID");
    if (jid) rq.job_id = atoll(jid);
    gf_sandbox *sb;
    if (gf_sandbox_prepare(&rq, &sb)) {
        fprintf(stderr, "gf program-batch: %s\n", gf_last_error());
        return 1;
    }
    gf_proc_spec ps = { .workdir = NULL, .stdout_path = out, .stderr_path = err };
    gf_sandbox_apply(sb, &ps);
    fprintf(stderr, "gf: sandbox: bubblewrap, uid %d, limits: %s\n", (int)uid, gf_sandbox_limits(sb));
    fflush(stderr);
    gf_proc *p = NULL;
    gf_status st = gf_proc_start(&ps, &p);
    gf_sandbox_started(sb);
    if (st) {
        fprintf(stderr, "bwrap: %s\n", gf_last_error());
        gf_sandbox_free(sb);
        return 127;
    }
    int ended = 0;
    gf_proc_usage u = { 0 };
    if (gf_proc_wait(p, -1, &ended) || !ended || gf_proc_usage_of(p, &u)) {
        fprintf(stderr, "gf program-batch: lost the program: %s\n", gf_last_error());
        u.exit_code = 1;
        u.signal = 0;
    }
    gf_proc_free(p);
    gf_sandbox_free(sb);
    return u.signal ? 128 + u.signal : u.exit_code;
}
