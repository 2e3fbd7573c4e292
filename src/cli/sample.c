/* gf sample: text from a language-model checkpoint (byte-level tokens). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "engine/generate.h"
#include "train/checkpoint.h"

static void sample_usage(FILE *f)
{
    fputs("usage: gf sample --model-file FILE --prompt TEXT [--tokens N] [--temperature T] [--seed S]\n"
          "\n"
          "  --model-file FILE   checkpoint of a gpt: model trained on text: data (V=256)\n"
          "  --prompt TEXT       the text to continue; its bytes are the first tokens\n"
          "  --tokens N          how many bytes to sample (default 200)\n"
          "  --temperature T     softmax temperature, 0 = always the likeliest (default 1)\n"
          "  --seed S            seed of the draws (default 1)\n"
          "  --threads T         threads (default: all cores)\n"
          "Prints the prompt followed by the sampled text.\n", f);
}

int cmd_sample(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model-file", 1, 0, 'm'}, {"prompt", 1, 0, 'p'}, {"tokens", 1, 0, 'n'}, {"temperature", 1, 0, 'T'},
        {"seed", 1, 0, 's'}, {"threads", 1, 0, 't'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *file = NULL, *prompt = NULL;
    long ntok = 200, seed = 1, threads = cli_default_threads();
    double temp = 1.0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'm': file = optarg; break;
        case 'p': prompt = optarg; break;
        case 'n': bad = cli_parse_int("--tokens", optarg, 0, 1000000, &ntok); break;
        case 'T': bad = cli_parse_float("--temperature", optarg, 0, 1000, &temp); break;
        case 's': bad = cli_parse_int("--seed", optarg, 0, 0x7fffffffffffffffL, &seed); break;
        case 't': bad = cli_parse_int("--threads", optarg, 1, 1024, &threads); break;
        case 'h': sample_usage(stdout); return 0;
        default:
            fprintf(stderr, "gf sample: unknown or incomplete option \"%s\" (see gf sample --help)\n",
                    argv[optind - 1]);
            return 2;
        }
        if (bad) return 2;
    }
    if (!file || !prompt || !*prompt) {
        fprintf(stderr, "gf sample: --model-file and a non-empty --prompt are required\n");
        return 2;
    }
    cli_set_threads((int)threads);
    gf_model *m = NULL;
    if (gf_checkpoint_load_model(file, 1, (int)threads, &m)) {
        fprintf(stderr, "gf sample: %s\n", gf_last_error());
        return 1;
    }
    int rc = 0;
    const int np = (int)strlen(prompt);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(np + ntok));
    if (!ids) { fprintf(stderr, "gf sample: out of memory\n"); gf_model_free(m); return 1; }
    if (m->input_dtype == GF_DTYPE_I32 && m->num_classes != 256) {
        fprintf(stderr, "gf sample: the model's vocabulary is %d tokens; only byte-level models "
                "(V=256, trained on text: data) are sampled as text\n", m->num_classes);
        rc = 2;
        goto done;
    }
    for (int i = 0; i < np; i++) ids[i] = (unsigned char)prompt[i];
    if (gf_generate(m, ids, np, (int)ntok, (float)temp, (uint64_t)seed, ids)) {
        fprintf(stderr, "gf sample: %s\n", gf_last_error());
        rc = 2;
        goto done;
    }
    for (int i = 0; i < np + ntok; i++) putchar(ids[i]);
    putchar('\n');
done:
    free(ids);
    gf_model_free(m);
    return rc;
}
