/* gf dp: argument parsing and printing around privacy/accountant (epsilon of
 * a planned DP-SGD run; the noise multiplier for a target epsilon). */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/dp.h"
#include "privacy/accountant.h"

static void dp_usage(FILE *f)
{
    fputs("usage: gf dp epsilon --noise S --delta D (--sample-rate Q --steps N | RUN) [--json]\n"
          "       gf dp noise --epsilon E --delta D (--sample-rate Q --steps N | RUN) [--json]\n"
          "       RUN = --epochs E --dataset-size N --batch B\n"
          "\n"
          "Privacy of DP-SGD (the subsampled Gaussian mechanism) by the Renyi-DP accountant of\n"
          "Opacus and TensorFlow Privacy (orders 1.1..10.9 step 0.1, then 12..63).\n"
          "\n"
          "  epsilon              print the epsilon of the run and the order that gives it:\n"
          "                       \"epsilon 7.329111 (best order 3.9)\"\n"
          "  noise                print the smallest noise multiplier whose epsilon is at most E:\n"
          "                       \"noise multiplier 1.500000 (epsilon 7.329111 at order 3.9)\"\n"
          "  --noise S            noise multiplier (noise stddev / clipping norm), > 0\n"
          "  --epsilon E          target epsilon, > 0\n"
          "  --delta D            delta, in (0, 1), e.g. 1e-5\n"
          "  --sample-rate Q      probability that an example is in a batch, in (0, 1]\n"
          "  --steps N            number of noisy steps, >= 1\n"
          "  --epochs E --dataset-size N --batch B\n"
          "                       instead of --sample-rate/--steps: Q = B / N and\n"
          "                       N = E * ceil(N / B) steps\n"
          "  --json               also print a JSON object as the last line of stdout\n"
          "\n"
          "Exit status: 0 ok, 1 no noise multiplier reaches the target, 2 usage or bad values.\n", f);
}

int cmd_dp(int argc, char **argv)
{
    if (argc < 2) { dp_usage(stderr); return 2; }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) { dp_usage(stdout); return 0; }
    int want_noise;
    if (!strcmp(sub, "epsilon")) want_noise = 0;
    else if (!strcmp(sub, "noise")) want_noise = 1;
    else {
        fprintf(stderr, "gf dp: unknown action \"%s\": use epsilon or noise (see gf dp --help)\n", sub);
        return 2;
    }

    static const struct option opts[] = {
        {"noise", 1, 0, 's'}, {"epsilon", 1, 0, 'e'}, {"delta", 1, 0, 'd'},
        {"sample-rate", 1, 0, 'q'}, {"steps", 1, 0, 'n'}, {"epochs", 1, 0, 'E'},
        {"dataset-size", 1, 0, 'N'}, {"batch", 1, 0, 'B'}, {"json", 0, 0, 'j'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    double sigma = NAN, target = NAN, delta = NAN, q = NAN;
    long steps = -1, epochs = -1, size = -1, batch = -1;
    int json = 0, c;
    argc--, argv++;   /* argv[0] is now the action */
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 's': bad = cli_parse_float("--noise", optarg, 0, 1e12, &sigma); break;
        case 'e': bad = cli_parse_float("--epsilon", optarg, 0, 1e12, &target); break;
        case 'd': bad = cli_parse_float("--delta", optarg, 0, 1, &delta); break;
        case 'q': bad = cli_parse_float("--sample-rate", optarg, 0, 1, &q); break;
        case 'n': bad = cli_parse_int("--steps", optarg, 1, 1000000000000000L, &steps); break;
        case 'E': bad = cli_parse_int("--epochs", optarg, 1, 1000000L, &epochs); break;
        case 'N': bad = cli_parse_int("--dataset-size", optarg, 1, 1000000000000L, &size); break;
        case 'B': bad = cli_parse_int("--batch", optarg, 1, 1000000000000L, &batch); break;
        case 'j': json = 1; break;
        case 'h': dp_usage(stdout); return 0;
        default:
            fprintf(stderr, "gf dp: unknown or incomplete option \"%s\" (see gf dp --help)\n",
                    argv[optind - 1]);
            return 2;
        }
        if (bad) return 2;
    }
    if (optind != argc) {
        fprintf(stderr, "gf dp: unexpected argument \"%s\" (see gf dp --help)\n", argv[optind]);
        return 2;
    }
    if (want_noise && !isnan(sigma)) {
        fprintf(stderr, "gf dp: noise takes --epsilon, not --noise (see gf dp --help)\n");
        return 2;
    }
    if (!want_noise && !isnan(target)) {
        fprintf(stderr, "gf dp: epsilon takes --noise, not --epsilon (see gf dp --help)\n");
        return 2;
    }
    if (want_noise ? isnan(target) : isnan(sigma)) {
        fprintf(stderr, "gf dp: %s needs %s (see gf dp --help)\n", sub, want_noise ? "--epsilon" : "--noise");
        return 2;
    }
    if (isnan(delta)) { fprintf(stderr, "gf dp: %s needs --delta (see gf dp --help)\n", sub); return 2; }
    int direct = !isnan(q) || steps >= 0, run = epochs >= 0 || size >= 0 || batch >= 0;
    if (direct && run) {
        fprintf(stderr, "gf dp: give either --sample-rate and --steps or --epochs, --dataset-size "
                        "and --batch, not both (see gf dp --help)\n");
        return 2;
    }
    if (run) {
        if (epochs < 0 || size < 0 || batch < 0) {
            fprintf(stderr, "gf dp: --epochs, --dataset-size and --batch go together; missing %s\n",
                    epochs < 0 ? "--epochs" : size < 0 ? "--dataset-size" : "--batch");
            return 2;
        }
        if (batch > size) {
            fprintf(stderr, "gf dp: --batch %ld is larger than --dataset-size %ld\n", batch, size);
            return 2;
        }
        q = (double)batch / (double)size;
        steps = epochs * ((size + batch - 1) / batch);
    } else if (isnan(q) || steps < 0) {
        fprintf(stderr, "gf dp: %s needs --sample-rate and --steps, or --epochs, --dataset-size and "
                        "--batch (see gf dp --help)\n", sub);
        return 2;
    }

    gf_status st = GF_OK;
    double eps = NAN, order = NAN;
    if (want_noise) st = gf_dp_noise(target, delta, q, steps, &sigma);
    if (!st) st = gf_dp_epsilon(sigma, q, steps, delta, &eps, &order);
    if (st) {
        fprintf(stderr, "gf dp: %s\n", gf_last_error());
        return st == GF_ERR_ARG ? 2 : 1;
    }
    if (want_noise)
        printf("noise multiplier %.6f (epsilon %.6f at order %g)\n", sigma, eps, order);
    else
        printf("epsilon %.6f (best order %g)\n", eps, order);
    if (json) {
        json_t *j = json_pack("{s:f, s:f, s:f, s:f, s:I, s:f}", "epsilon", eps, "best_order", order,
                              "noise_multiplier", sigma, "sample_rate", q, "steps", (json_int_t)steps,
                              "delta", delta);
        if (j && want_noise) json_object_set_new(j, "target_epsilon", json_real(target));
        cli_print_json(j);
    }
    return 0;
}
