/* gf site: the site agent next to a data holder's data. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <errno.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/fed.h"
#include "data/dataset.h"
#include "fed/site.h"


static void usage(FILE *f)
{
    fputs("usage: gf site --kit DIR --data SPEC [options]\n"
          "\n"
          "Connects out to the coordinator, takes training tasks and uploads updates;\n"
          "the data never leaves this machine.\n"
          "\n"
          "  --kit DIR              this site's kit (gf provision: PKI/sites/NAME)\n"
          "  --data SPEC            fashion-mnist | idx:DIR | csv:PATH[,label=COL][,test=PATH2|\n"
          "                         ,test_fraction=F] | npz:PATH[,split=S] (as gf train --dataset);\n"
          "                         its training split is this site's data, its test split (if\n"
          "                         any) scores the global model when a job asks for per-site\n"
          "                         evaluation (\"eval_every\")\n"
          "  --partition P          iid | dirichlet:ALPHA  (experiments: N sites on one machine\n"
          "  --shard I/N              each take shard I of N, 0 <= I < N; the test split is\n"
          "                           sharded the same way)\n"
          "  --partition-seed S     seed of the partition (default 1)\n"
          "  --val-fraction F       share of the local data held out for validation (default 0.1)\n"
          "  --coordinator URL      override the kit's coordinator.url\n"
          "  --threads T            training threads (default: all cores)\n"
          "  --max-tasks N          exit after N uploads (default: run until stopped)\n"
          "  --secagg-record DIR    keep this site's own quantised input of each securely\n"
          "                         aggregated round in DIR (job-J-round-R.u32, for audits)\n"
          "  --allow-tenant T,...   take only the tasks of these tenants (the operator's own\n"
          "                         jobs: @operator); decline the others, with the reason, to\n"
          "                         the coordinator. Without it: every task the coordinator\n"
          "                         sends (the operator's jobs and the tenants granted this\n"
          "                         site with gf site-grant). May be repeated.\n"
          "  --secagg-min-t T       refuse secure rounds whose threshold t is below T (default 2;\n"
          "                         fewer than t sites colluding with the coordinator open nothing)\n"
          "  --secagg-min-sites N   refuse secure rounds of fewer than N sites (default 3)\n"
          "  --min-noise Z          require client-level DP with a noise multiplier of at least Z\n"
          "                         in secure rounds (default 0: DP not required)\n"
          "  --state DIR            this site's state: its privacy ledger (DIR/privacy-budget.json,\n"
          "                         the DP-SGD steps its records answered, per job), kept across\n"
          "                         restarts (default: the kit's folder with .state appended,\n"
          "                         e.g. sites/NAME.state; created 0700)\n"
          "  --max-epsilon E        this site's own budget: decline (with the reason, before\n"
          "                         training) a task whose DP-SGD steps would bring the epsilon\n"
          "                         spent on its records over all its jobs past E, and every task\n"
          "                         that trains without DP-SGD (default: no budget)\n"
          "  --delta D              the delta of --max-epsilon (default 1e-5)\n"
          "  --quiet                no progress lines on stderr\n", f);
}

#define MAX_ALLOW 64

/* "a,b,@operator" appended to names[] (copies kept in buf). 0, or -1 with a message. */
static int parse_allow(const char *arg, char buf[][72], const char **names, int *n)
{
    char tmp[4096];
    if (strlen(arg) >= sizeof tmp) { fprintf(stderr, "gf site: --allow-tenant: list too long\n"); return -1; }
    snprintf(tmp, sizeof tmp, "%s", arg);
    char *save = NULL;
    int any = 0;
    for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        size_t len = strlen(t);
        int good = len >= 1 && len <= 64 && strcmp(t, ".") && strcmp(t, "..");
        for (size_t i = 0; i < len && good; i++)
            good = (t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= '0' && t[i] <= '9') ||
                   t[i] == '.' || t[i] == '_' || t[i] == '-';
        if (!good && strcmp(t, GF_SITE_ALLOW_OPERATOR)) {
            fprintf(stderr, "gf site: --allow-tenant: \"%s\" is neither a tenant name ([A-Za-z0-9._-], 1..64) nor "
                    "%s (the operator's own jobs)\n", t, GF_SITE_ALLOW_OPERATOR);
            return -1;
        }
        if (*n == MAX_ALLOW) { fprintf(stderr, "gf site: --allow-tenant: at most %d names\n", MAX_ALLOW); return -1; }
        snprintf(buf[*n], 72, "%s", t);
        names[*n] = buf[*n];
        (*n)++;
        any = 1;
    }
    if (!any) { fprintf(stderr, "gf site: --allow-tenant needs at least one name\n"); return -1; }
    return 0;
}

/* partition I of N of d (iid or dirichlet:ALPHA, from pseed) into *out;
 * prints why and returns -1 on failure. */
static int shard_of(const gf_dataset *d, const char *partition, long i, long n, long pseed, gf_dataset *out)
{
    gf_partition part = {0};
    gf_status st;
    if (!strcmp(partition, "iid")) st = gf_partition_iid(d, (int)n, (uint64_t)pseed, &part);
    else if (!strncmp(partition, "dirichlet:", 10)) {
        double alpha;
        if (cli_parse_float("--partition dirichlet:ALPHA", partition + 10, 1e-6, 1e6, &alpha)) return -1;
        st = gf_partition_dirichlet(d, (int)n, alpha, (uint64_t)pseed, &part);
    } else {
        fprintf(stderr, "gf site: --partition must be iid or dirichlet:ALPHA, got \"%s\"\n", partition);
        return -1;
    }
    if (!st) st = gf_dataset_subset(d, part.index + part.offset[i], part.offset[i + 1] - part.offset[i], out);
    gf_partition_free(&part);
    if (st) { fprintf(stderr, "gf site: partition: %s\n", gf_last_error()); return -1; }
    return 0;
}

/* Shard I of N of the training set, then a validation split off its end;
 * the test split (for per-site evaluation) sharded the same way. */
static int prepare_data(const char *spec, const char *partition, const char *shard, long pseed, double val_frac,
                        gf_dataset *train, gf_dataset *val, gf_dataset *test_out)
{
    gf_dataset all = {0}, test = {0}, mine = {0};
    int rc = 1;
    if (gf_dataset_open(spec, &all, &test)) { fprintf(stderr, "gf site: --data: %s\n", gf_last_error()); goto out; }
    cli_print_data("site", spec, &all, &test);
    if (partition || shard) {
        long i = -1, n = -1;
        char tail;
        if (!partition || !shard || sscanf(shard, "%ld/%ld%c", &i, &n, &tail) != 2 || n < 1 || i < 0 || i >= n) {
            fprintf(stderr, "gf site: --partition and --shard I/N (0 <= I < N) go together\n");
            goto out;
        }
        if (shard_of(&all, partition, i, n, pseed, &mine)) goto out;
        if (test.n > 0) {
            gf_dataset t = {0};
            if (shard_of(&test, partition, i, n, pseed, &t)) goto out;
            gf_dataset_free(&test);
            test = t;
        }
    } else {
        mine = all;
        all = (gf_dataset){0};
    }
    int64_t nval = (int64_t)(val_frac * (double)mine.n);
    if (mine.n - nval < 1) { fprintf(stderr, "gf site: shard has %lld samples: too few\n", (long long)mine.n); goto out; }
    int64_t *perm = malloc(sizeof *perm * (size_t)mine.n);
    if (!perm) goto out;
    gf_shuffle(mine.n, (uint64_t)pseed, 0x76616cu, perm);   /* "val": a fixed split */
    gf_status st = gf_dataset_subset(&mine, perm, mine.n - nval, train);
    if (!st && nval) st = gf_dataset_subset(&mine, perm + (mine.n - nval), nval, val);
    free(perm);
    if (st) { fprintf(stderr, "gf site: %s\n", gf_last_error()); goto out; }
    *test_out = test;
    test = (gf_dataset){0};
    rc = 0;
out:
    gf_dataset_free(&all);
    gf_dataset_free(&test);
    gf_dataset_free(&mine);
    return rc;
}

int cmd_site(int argc, char **argv)
{
    static const struct option opts[] = {
        {"kit", 1, 0, 'k'}, {"data", 1, 0, 'd'}, {"partition", 1, 0, 'p'}, {"shard", 1, 0, 's'},
        {"partition-seed", 1, 0, 'S'}, {"val-fraction", 1, 0, 'v'}, {"coordinator", 1, 0, 'c'},
        {"threads", 1, 0, 't'}, {"max-tasks", 1, 0, 'n'}, {"secagg-record", 1, 0, 'r'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'},
        {"allow-tenant", 1, 0, 'a'},
        {"secagg-min-t", 1, 0, 'T'}, {"secagg-min-sites", 1, 0, 'N'}, {"min-noise", 1, 0, 'Z'},
        {"state", 1, 0, 'o'}, {"max-epsilon", 1, 0, 'E'}, {"delta", 1, 0, 'D'},
        {0, 0, 0, 0}};
    const char *kit = NULL, *data = NULL, *partition = NULL, *shard = NULL, *url = NULL, *record = NULL, *state = NULL;
    long pseed = 1, threads = cli_default_threads(), max_tasks = 0, min_t = GF_SECAGG_POLICY_MIN_T,
         min_sites = GF_SECAGG_POLICY_MIN_SITES;
    double val_frac = 0.1, min_noise = 0, max_eps = 0, delta = 0;
    int quiet = 0, c, nallow = 0;
    static char allow_buf[MAX_ALLOW][72];
    static const char *allow[MAX_ALLOW];
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': kit = optarg; break;
        case 'd': data = optarg; break;
        case 'p': partition = optarg; break;
        case 's': shard = optarg; break;
        case 'S': if (cli_parse_int("--partition-seed", optarg, 0, 1L << 62, &pseed)) return 2; break;
        case 'v': if (cli_parse_float("--val-fraction", optarg, 0, 0.9, &val_frac)) return 2; break;
        case 'c': url = optarg; break;
        case 't': if (cli_parse_int("--threads", optarg, 1, 1024, &threads)) return 2; break;
        case 'n': if (cli_parse_int("--max-tasks", optarg, 0, 1L << 40, &max_tasks)) return 2; break;
        case 'r': record = optarg; break;
        case 'T': if (cli_parse_int("--secagg-min-t", optarg, 2, 65535, &min_t)) return 2; break;
        case 'N': if (cli_parse_int("--secagg-min-sites", optarg, 3, 65535, &min_sites)) return 2; break;
        case 'Z': if (cli_parse_float("--min-noise", optarg, 0, 1e6, &min_noise)) return 2; break;
        case 'o': state = optarg; break;
        case 'E': if (cli_parse_float("--max-epsilon", optarg, 1e-9, 1e9, &max_eps)) return 2; break;
        case 'D': if (cli_parse_float("--delta", optarg, 1e-300, 0.5, &delta)) return 2; break;
        case 'q': quiet = 1; break;
        case 'a': if (parse_allow(optarg, allow_buf, allow, &nallow)) return 2; break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "gf site: unknown or incomplete option \"%s\" (see gf site --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (!kit || !data) { fprintf(stderr, "gf site: --kit and --data are required\n"); return 2; }
    if (record && access(record, W_OK | X_OK)) {   /* found now, not when the first secure round needs it */
        fprintf(stderr, "gf site: --secagg-record %s: %s (it must be a writable folder)\n", record, strerror(errno));
        return 2;
    }
    if (delta > 0 && !(max_eps > 0)) { fprintf(stderr, "gf site: --delta goes with --max-epsilon\n"); return 2; }
    char state_buf[4096];
    if (!state) {                                  /* beside the kit: sites/NAME -> sites/NAME.state */
        size_t len = strlen(kit);
        while (len > 1 && kit[len - 1] == '/') len--;
        if (len + sizeof ".state" > sizeof state_buf) { fprintf(stderr, "gf site: --kit: path too long\n"); return 2; }
        snprintf(state_buf, sizeof state_buf, "%.*s.state", (int)len, kit);
        state = state_buf;
    }
    cli_set_threads((int)threads);
    gf_dataset train = {0}, val = {0}, test = {0};
    if (prepare_data(data, partition, shard, pseed, val_frac, &train, &val, &test)) return 1;
    if (!quiet)
        fprintf(stderr, "gf site: %lld training, %lld validation and %lld test samples%s\n", (long long)train.n,
                (long long)val.n, (long long)test.n, partition ? " (this shard)" : "");

    /* its one durable file (the ledger) is written atomically: SIGINT and SIGTERM simply end it */
    signal(SIGPIPE, SIG_IGN);
    cli_keep_heap();        /* each round frees and allocates the same model-sized buffers */
    gf_site_config cfg = { .kit_dir = kit, .url = url, .train = &train, .val = &val, .test = &test, .threads = (int)threads,
                           .max_tasks = (int)max_tasks, .secagg_record_dir = record,
                           .allow_tenants = nallow ? allow : NULL, .nallow = nallow,
                           .secagg_policy = { .min_t = (int)min_t, .min_sites = (int)min_sites, .min_noise = min_noise },
                           .state_dir = state, .max_epsilon = max_eps, .budget_delta = delta,
                           .log = quiet ? NULL : cli_log_line };
    gf_status st = gf_site_run(&cfg);
    gf_dataset_free(&train);
    gf_dataset_free(&val);
    gf_dataset_free(&test);
    if (st) { fprintf(stderr, "gf site: %s\n", gf_last_error()); return 1; }
    return 0;
}
