/* gf coordinator: serves a federation and the facility until SIGINT or SIGTERM. */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "cli/fed.h"
#include "core/fsutil.h"
#include "engine/spec.h"
#include "facility/gpus.h"
#include "service/coordinator.h"
#include "jobspec/fedcaps.h"

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { (void)sig; stop_requested = 1; }

static void usage(FILE *f)
{
    fputs("usage: gf coordinator --data DIR --listen HOST:PORT --tls DIR [options]\n"
          "\n"
          "Runs the rounds of federated jobs and serves the HTTPS API (docs/api.md).\n"
          "\n"
          "  --data DIR          state (state.db, audit.log, artifacts/); created if missing\n"
          "  --listen HOST:PORT  address to bind; port 0 picks a free one\n"
          "  --tls DIR           provisioning folder of gf provision (uses DIR/coordinator)\n"
          "  --port-file FILE    write the bound port to FILE once serving\n"
          "  --max-body BYTES    largest request body (default 268435456; no 2 GiB cap)\n"
          "  --body-timeout S    a request's body must arrive within S seconds of its headers\n"
          "                      (default 300; raise it for very large models on slow links)\n"
          "  --header-timeout S  a new connection's TLS handshake and first request headers\n"
          "                      must come within S seconds (default 10)\n"
          "  --per-ip-connections N  connections from one address at once (default 64)\n"
          "  --site-timeout S    a site not heard from for S seconds is offline (default 60)\n"
          "  --eval-threads T    threads for the held-out evaluation (default 1)\n"
          "  --aggregation-threads T  threads for the coordinator's own loops: aggregation,\n"
          "                      central noise, unmasking (default 1: it shares the machine\n"
          "                      with the jobs it runs; raise it for very large models)\n"
          "\n"
          "federated jobs (checked at submission, 400 naming the cap, and again when a job\n"
          "starts or resumes):\n"
          "  --max-model-params N  most parameters of a federated job's model (default\n"
          "                      50000000); a job's memory on the coordinator (global model,\n"
          "                      strategy buffers: one model per site for median, trimmed\n"
          "                      mean and Krum) must also stay under 64 bytes per N\n"
          "  --max-fed-jobs-per-tenant N  most queued + running federated jobs of one\n"
          "                      tenant (default 8); the operator's own jobs do not count\n"
          "\n"
          "central jobs (gf train on the facility's compute):\n"
          "  --executor NAME     local (default: child processes here) | slurm (a real\n"
          "                      slurmctld through sbatch/squeue/sacct)\n"
          "  --cores N           the local executor's core slots (default: all cores)\n"
          "  --gpu-devices PATH[,PATH...]  the local executor's GPUs: their device files\n"
          "                      (character devices, e.g. /dev/nvidia0,/dev/nvidia1); a job\n"
          "                      gets the lowest free ones, its sandbox binds only those (as\n"
          "                      /dev/NAME, with /dev/nvidiactl, /dev/nvidia-uvm and\n"
          "                      /dev/nvidia-uvm-tools where they exist) and sets\n"
          "                      CUDA_VISIBLE_DEVICES=0..k-1, GF_GPUS=their indices here\n"
          "                      (default: every /dev/nvidiaN of this machine). With\n"
          "                      --executor slurm: the nodes' GPU files in the order of\n"
          "                      gres.conf's File=; a job's sandbox binds those Slurm\n"
          "                      allotted (default: none bound, CUDA_VISIBLE_DEVICES passed)\n"
          "  --gpus N            how many of them: with --gpu-devices it must equal their\n"
          "                      number; else the first N of /dev/nvidiaN (default: all)\n"
          "  --memory-mb N       the local executor's memory for jobs, in MiB, counted like\n"
          "                      cores against each job's memory_mb (default: MemTotal of\n"
          "                      /proc/meminfo)\n"
          "  --slurm-conf FILE   SLURM_CONF for the Slurm executor\n"
          "  --fairshare-half-life S  usage decay half-life in seconds (default 604800)\n"
          "  --max-bundle-mb N   most MiB of files a program job's bundle unpacks to (default 256)\n"
          "  --max-job-folder-mb N  most MiB a program job's folder (its files, outputs and\n"
          "                      logs) may take while it runs (default 10240); beyond it the\n"
          "                      job is stopped and fails\n"
          "\n"
          "A fresh data folder gets a first operator API token in DIR/operator.token\n"
          "(mode 0600).\n"
          "  --quiet             no progress lines on stderr\n", f);
}

int cmd_coordinator(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", 1, 0, 'd'}, {"listen", 1, 0, 'l'}, {"tls", 1, 0, 't'}, {"port-file", 1, 0, 'p'},
        {"max-body", 1, 0, 'm'}, {"site-timeout", 1, 0, 's'}, {"eval-threads", 1, 0, 'e'},
        {"body-timeout", 1, 0, 'b'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {"executor", 1, 0, 'X'},
        {"cores", 1, 0, 'C'}, {"gpus", 1, 0, 'G'}, {"slurm-conf", 1, 0, 'S'}, {"fairshare-half-life", 1, 0, 'H'},
        {"header-timeout", 1, 0, 'T'}, {"per-ip-connections", 1, 0, 'I'}, {"max-model-params", 1, 0, 'P'},
        {"max-fed-jobs-per-tenant", 1, 0, 'J'}, {"max-bundle-mb", 1, 0, 'U'},
        {"memory-mb", 1, 0, 'M'}, {"max-job-folder-mb", 1, 0, 'Q'}, {"gpu-devices", 1, 0, 'D'},
        {"aggregation-threads", 1, 0, 'A'}, {0, 0, 0, 0}};
    const char *executor = "local", *slurm_conf = NULL, *gpu_devices = NULL;
    long cores = 0, gpus = -1, memory_mb = 0;
    double half_life = 0;
    const char *data = NULL, *listen = NULL, *tls = NULL, *port_file = NULL;
    long max_body = 268435456L, eval_threads = 1, agg_threads = 1, body_timeout = 300, header_timeout = 10, per_ip = 64;
    long max_bundle_mb = 256, max_folder_mb = 10240;
    long max_params = GF_FEDCAPS_DEFAULT_PARAMS, max_fed_jobs = GF_FEDCAPS_DEFAULT_JOBS;
    double site_timeout = 60;
    int quiet = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'l': listen = optarg; break;
        case 't': tls = optarg; break;
        case 'p': port_file = optarg; break;
        case 'm': if (cli_parse_int("--max-body", optarg, 1024, 1L << 46, &max_body)) return 2; break;
        case 's': if (cli_parse_float("--site-timeout", optarg, 0.1, 1e6, &site_timeout)) return 2; break;
        case 'e': if (cli_parse_int("--eval-threads", optarg, 1, 1024, &eval_threads)) return 2; break;
        case 'A': if (cli_parse_int("--aggregation-threads", optarg, 1, 1024, &agg_threads)) return 2; break;
        case 'b': if (cli_parse_int("--body-timeout", optarg, 1, 1L << 30, &body_timeout)) return 2; break;
        case 'T': if (cli_parse_int("--header-timeout", optarg, 1, 3600, &header_timeout)) return 2; break;
        case 'I': if (cli_parse_int("--per-ip-connections", optarg, 1, 1000000, &per_ip)) return 2; break;
        case 'P': if (cli_parse_int("--max-model-params", optarg, 1, GF_SPEC_MAX_PARAMS, &max_params)) return 2; break;
        case 'J': if (cli_parse_int("--max-fed-jobs-per-tenant", optarg, 1, 1000000, &max_fed_jobs)) return 2; break;
        case 'U': if (cli_parse_int("--max-bundle-mb", optarg, 1, 1L << 20, &max_bundle_mb)) return 2; break;
        case 'q': quiet = 1; break;
        case 'X':
            if (strcmp(optarg, "local") && strcmp(optarg, "slurm")) {
                fprintf(stderr, "gf coordinator: --executor must be local or slurm, got \"%s\"\n", optarg);
                return 2;
            }
            executor = optarg;
            break;
        case 'C': if (cli_parse_int("--cores", optarg, 1, 65536, &cores)) return 2; break;
        case 'Q': if (cli_parse_int("--max-job-folder-mb", optarg, 1, 1L << 30, &max_folder_mb)) return 2; break;
        case 'M': if (cli_parse_int("--memory-mb", optarg, 64, 1L << 40, &memory_mb)) return 2; break;
        case 'G': if (cli_parse_int("--gpus", optarg, 0, 1024, &gpus)) return 2; break;
        case 'S': slurm_conf = optarg; break;
        case 'D': gpu_devices = optarg; break;
        case 'H': if (cli_parse_float("--fairshare-half-life", optarg, 1, 1e9, &half_life)) return 2; break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "gf coordinator: unknown or incomplete option \"%s\" (see gf coordinator --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (!data || !listen || !tls) { fprintf(stderr, "gf coordinator: --data, --listen and --tls are required\n"); return 2; }
    char host[256];
    long port;
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host) {
        fprintf(stderr, "gf coordinator: --listen must be HOST:PORT, got \"%s\"\n", listen);
        return 2;
    }
    if (cli_parse_int("--listen port", colon + 1, 0, 65535, &port)) return 2;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') { memmove(host, host + 1, strlen(host)); host[strlen(host) - 1] = 0; }
    cli_set_threads((int)eval_threads);
    char detected[GF_GPUS_MAX * GF_GPU_PATH_MAX] = "";
    if (!strcmp(executor, "local")) {     /* Slurm: --gpu-devices goes to the nodes as it is (gres.conf's order) */
        gf_gpu_list l;
        if (gpu_devices) {
            if (gf_gpus_parse(gpu_devices, &l)) { fprintf(stderr, "gf coordinator: --gpu-devices: %s\n", gf_last_error()); return 2; }
            if (gpus >= 0 && gpus != l.n) {
                fprintf(stderr, "gf coordinator: --gpus %ld disagrees with --gpu-devices (%d device files)\n", gpus, l.n);
                return 2;
            }
        } else {                       /* this machine's /dev/nvidiaN, the first --gpus of them */
            gf_gpus_detect(&l);
            if (gpus > l.n) {
                fprintf(stderr, "gf coordinator: --gpus %ld: this machine has %d GPU device files (/dev/nvidiaN); "
                        "name them with --gpu-devices\n", gpus, l.n);
                return 2;
            }
            size_t n = 0;
            for (int i = 0; i < (gpus >= 0 ? (int)gpus : l.n); i++)
                n += (size_t)snprintf(detected + n, sizeof detected - n, "%s%s", i ? "," : "", l.path[i]);
            gpu_devices = detected;
        }
        gpus = -1;                     /* the library counts the list */
    }

    gf_coordinator_config cfg = { .data_dir = data, .tls_dir = tls, .listen_host = host, .port = (int)port,
                                  .max_body = (size_t)max_body, .body_timeout_s = (int)body_timeout,
                                  .header_timeout_s = (int)header_timeout, .per_ip_connections = (int)per_ip,
                                  .site_timeout_s = site_timeout, .max_model_params = max_params,
                                  .max_fed_jobs_per_tenant = (int)max_fed_jobs,
                                  .eval_threads = (int)eval_threads, .aggregation_threads = (int)agg_threads, .log = quiet ? NULL : cli_log_line,
                                  .executor = executor, .cores = (int)cores, .gpus = gpus > 0 ? (int)gpus : 0,
                                  .gpu_devices = gpu_devices,
                                  .memory_mb = memory_mb, .max_job_folder_mb = max_folder_mb,
                                  .slurm_conf = slurm_conf, .fairshare_half_life_s = half_life,
                                  .max_bundle_bytes = (int64_t)max_bundle_mb << 20 };
    /* Model-sized bodies come and go on many connection threads: a fixed mmap
     * threshold gives each one back to the kernel when freed, instead of
     * glibc raising the threshold and keeping them in per-thread arenas
     * (RSS growing with the number of sites). */
    mallopt(M_MMAP_THRESHOLD, 256 << 10);
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    gf_coordinator *co;
    gf_status st = gf_coordinator_start(&cfg, &co);
    if (st) { fprintf(stderr, "gf coordinator: %s\n", gf_last_error()); return 1; }
    int bound = gf_coordinator_port(co);
    if (!quiet) fprintf(stderr, "gf coordinator: serving on %s:%d, data in %s\n", host, bound, data);
    if (port_file) {
        char text[16];
        int n = snprintf(text, sizeof text, "%d\n", bound);
        gf_fs_part part = { text, (size_t)n };
        if (gf_fs_write_atomic(port_file, &part, 1, 0644)) {
            fprintf(stderr, "gf coordinator: %s\n", gf_last_error());
            gf_coordinator_stop(co);
            return 1;
        }
    }
    while (!stop_requested) pause();
    if (!quiet) fprintf(stderr, "gf coordinator: stopping\n");
    gf_coordinator_stop(co);
    return 0;
}
