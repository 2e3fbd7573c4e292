/* gf eval: evaluate a checkpoint on a dataset's test split (for a two-class
 * model also AUC, sensitivity and specificity, train/binary_eval.h). */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "data/dataset.h"
#include "train/binary_eval.h"
#include "data/preprocess.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

static void eval_usage(FILE *f)
{
    fputs("usage: gf eval --model-file FILE --dataset DATA [--split test|train] [--batch B] [--threads T] [--json]\n"
          "\n"
          "  --model-file FILE   checkpoint written by gf train --out (safetensors)\n"
          "  --dataset DATA      as for gf train\n"
          "  --split S           which split is evaluated: test (default) or train\n"
          "  --batch B           evaluation batch size (default 256)\n"
          "  --threads T         threads (default: all cores)\n"
          "  --json              print a JSON object as the last line of stdout\n"
          "\n"
          "A two-class model (class 1 the positive one) also gets test_auc (ROC AUC of\n"
          "the softmax probability of class 1, ties counted half), sensitivity and\n"
          "specificity (of the predicted class).\n", f);
}

int cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model-file", 1, 0, 'm'}, {"dataset", 1, 0, 'd'}, {"split", 1, 0, 's'}, {"batch", 1, 0, 'b'},
        {"threads", 1, 0, 't'}, {"json", 0, 0, 'j'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *file = NULL, *data = NULL;
    long batch = 256, threads = cli_default_threads();
    int json = 0, train_split = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': file = optarg; break;
        case 'd': data = optarg; break;
        case 's':
            if (strcmp(optarg, "test") && strcmp(optarg, "train")) {
                fprintf(stderr, "gf eval: --split must be test or train, got \"%s\"\n", optarg);
                return 2;
            }
            train_split = !strcmp(optarg, "train");
            break;
        case 'b': if (cli_parse_int("--batch", optarg, 1, 65536, &batch)) return 2; break;
        case 't': if (cli_parse_int("--threads", optarg, 1, 1024, &threads)) return 2; break;
        case 'j': json = 1; break;
        case 'h': eval_usage(stdout); return 0;
        default:
            fprintf(stderr, "gf eval: unknown or incomplete option \"%s\" (see gf eval --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (!file || !data) { fprintf(stderr, "gf eval: --model-file and --dataset are required\n"); return 2; }
    cli_set_threads((int)threads);

    gf_model *m = NULL;
    gf_dataset train = {0}, test = {0};
    int rc = 0;
    gf_status st = gf_checkpoint_load_model(file, (int)batch, (int)threads, &m);
    if (st) { fprintf(stderr, "gf eval: cannot load %s: %s\n", file, gf_last_error()); return 1; }
    char *prep_json = NULL;
    gf_preprocess prep = {0};
    gf_dataset prepped = {0};
    if ((st = gf_checkpoint_read_meta(file, "gf.preprocess", &prep_json)) ||
        (prep_json && (st = gf_preprocess_from_json(prep_json, strlen(prep_json), &prep)))) {
        fprintf(stderr, "gf eval: %s: its preprocessing (gf.preprocess): %s\n", file, gf_last_error());
        rc = 1;
        goto done;
    }
    if (!(st = gf_dataset_open(data, &train, &test)) && !train_split && test.n == 0 && !test.tokens) {
        fprintf(stderr, "gf eval: dataset %s has no test split (give test=PATH or test_fraction=F in the "
                "dataset spec, or --split train)\n", data);
        rc = 1;
        goto done;
    }
    if (st ||
        (prep_json && (st = gf_preprocess_apply(&prep, train_split ? &train : &test,
                                                train_split ? "train set" : "test set", &prepped)))) {
        fprintf(stderr, "gf eval: dataset: %s\n", gf_last_error());
        rc = 1;
        goto done;
    }
    if (prep_json) {                   /* the model's own preprocessing, as at the sites that trained it */
        gf_dataset *d = train_split ? &train : &test;
        gf_dataset_free(d);
        *d = prepped;
        prepped = (gf_dataset){0};
    }
    if ((st = gf_trainer_check_data(m, train_split ? &train : &test, train_split ? "train set" : "test set"))) {
        fprintf(stderr, "gf eval: dataset: %s\n", gf_last_error());
        rc = 1;
        goto done;
    }
    cli_print_data("eval", data, &train, &test);
    double loss, acc;
    const gf_dataset *d = train_split ? &train : &test;
    gf_model_evaluate(m, d->x, d->y, d->n, &loss, &acc);
    printf("test_accuracy %.4f  test_loss %.4f  (%lld samples of the %s split, model %s)\n", acc, loss,
           (long long)d->n, train_split ? "train" : "test", m->spec.canonical);
    gf_binary_metrics bm;
    const int binary = m->num_classes == 2 && m->positions == 1;
    if (binary) {
        if (gf_model_evaluate_binary(m, d, &bm)) {
            fprintf(stderr, "gf eval: %s\n", gf_last_error());
            rc = 1;
            goto done;
        }
        printf("test_auc %.4f  sensitivity %.4f  specificity %.4f  (%lld positives, %lld negatives; "
               "tp %lld fn %lld tn %lld fp %lld)\n", bm.auc, bm.sensitivity, bm.specificity,
               (long long)bm.positives, (long long)bm.negatives, (long long)bm.tp, (long long)bm.fn,
               (long long)bm.tn, (long long)bm.fp);
    }
    if (json) {
        json_t *j = json_pack("{s:s, s:f, s:f, s:I, s:I}", "model", m->spec.canonical,
                              "test_accuracy", acc, "test_loss", loss,
                              "samples", (json_int_t)d->n, "params", (json_int_t)m->nparams);
        if (binary) {   /* null where a class is absent */
            json_object_set_new(j, "test_auc", isnan(bm.auc) ? json_null() : json_real(bm.auc));
            json_object_set_new(j, "sensitivity", isnan(bm.sensitivity) ? json_null() : json_real(bm.sensitivity));
            json_object_set_new(j, "specificity", isnan(bm.specificity) ? json_null() : json_real(bm.specificity));
            json_object_set_new(j, "positives", json_integer(bm.positives));
            json_object_set_new(j, "negatives", json_integer(bm.negatives));
        }
        cli_print_json(j);
    }
done:
    free(prep_json);
    gf_preprocess_free(&prep);
    gf_dataset_free(&prepped);
    gf_dataset_free(&train);
    gf_dataset_free(&test);
    gf_model_free(m);
    return rc;
}
