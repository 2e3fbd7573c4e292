/* gf train: flags, data loading, the epoch loop's display, checkpoint and
 * the closing JSON summary. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "core/timer.h"
#include "data/dataset.h"
#include "engine/backend.h"
#include "engine/blas_select.h"
#include "train/checkpoint.h"
#include "train/dist.h"
#include "train/metrics_file.h"
#include "train/trainer.h"

static void train_usage(FILE *f)
{
    fputs(
"usage: gf train --model SPEC --dataset DATA [options]\n"
"       gf train --resume FILE --dataset DATA --epochs N [options]\n"
"\n"
"  --model SPEC        architecture: cnn | mlp:784-256-128-10 | seq:INPUT-LAYER-... |\n"
"                      gpt:L=12,H=12,C=768,T=1024,V=50257\n"
"                      seq layers: linearN convCkK[sS][pP] maxpoolK[sS] relu gelu\n"
"                      flatten dropoutP layernorm; INPUT is N or CxHxW, e.g.\n"
"                      seq:1x28x28-conv8k3p1-relu-maxpool2-flatten-linear10\n"
"                      gpt: a GPT-2 style language model (L blocks, H heads, C\n"
"                      channels, context T, vocabulary V); needs text: or tokens:\n"
"                      data; AdamW decays its matrices and embeddings only\n"
"  --dataset DATA      fashion-mnist (Debian's dataset-fashion-mnist) |\n"
"                      idx:DIR (train-/t10k- images-idx3/labels-idx1 -ubyte[.gz]) |\n"
"                      csv:PATH[,label=COL][,test=PATH2|,test_fraction=F] (header\n"
"                      row, numeric cells; label column defaults to \"label\"; the\n"
"                      test split is PATH2, a fixed draw of F of the rows, or none:\n"
"                      then every row trains and no test metrics are printed) |\n"
"                      npz:PATH[,split=S|,images=KEY,labels=KEY] (NumPy .npz; default\n"
"                      train_*/test_* arrays as in MedMNIST; split=S or images=/labels=\n"
"                      name one pair: the training split, no test split) |\n"
"                      text:PATH (bytes as tokens, V=256) | tokens:PATH (llm.c .bin:\n"
"                      256-int32 header, magic 20240520, version 1, count; uint16\n"
"                      ids); samples are T-token windows, the last 10% of the\n"
"                      tokens are the test set; loss and perplexity per token |\n"
"                      plink:PREFIX[,OPTS] (PREFIX.bed/.bim/.fam[.gz]) |\n"
"                      vcf:PATH,pheno=CSV,pheno_col=NAME[,OPTS] (VCF/BCF): genotype\n"
"                      dosages; OPTS pheno=, pheno_col=, id_col=, coding=12|01|class,\n"
"                      binarize=median, threshold=T, fill=mean, test_fraction=F,\n"
"                      seed=S (src/data/dataset.h); no test set without\n"
"                      test_fraction; the counts kept and dropped go to stderr\n"
"                      | imagedir:DIR[,size=HxW][,gray|rgb][,test=DIR2|,test_fraction=F]\n"
"                      (one sub-folder per class of PNG/JPEG images; class ids in\n"
"                      folder-name order, printed to stderr; size= resizes, else\n"
"                      every image must have the first's size)\n"
"                      | nifti:DIR_OR_LIST,labels=CSV[,label_col=NAME][,id_col=NAME]\n"
"                      [,scale=minmax][,test_fraction=F[,seed=S]] (NIfTI .nii/.nii.gz\n"
"                      volumes, one sample each, c=nz h=ny w=nx; labels keyed by\n"
"                      file name; src/data/medimg.h) | dicom:DIR,labels=CSV[,...] (the\n"
"                      same options; each DICOM file or series folder of DIR is one\n"
"                      sample, converted by Debian's dcm2niix)\n"
"  --epochs N          train until N epochs in total are done (default 1)\n"
"  --batch B           minibatch size (default 64)\n"
"  --optim NAME        sgd | adamw (default sgd)\n"
"  --lr X              learning rate (default 0.01 for sgd, 0.001 for adamw)\n"
"  --momentum M        SGD momentum (default 0)\n"
"  --weight-decay W    SGD: L2 added to the gradient (default 0); AdamW: decoupled\n"
"                      decay (default 0.01), as in PyTorch\n"
"  --grad-clip N       clip the gradient to global L2 norm N before each step (off)\n"
"  --lr-schedule S     constant | cosine: warmup, then cosine decay over the run's\n"
"                      steps down to --min-lr-frac x --lr (default constant)\n"
"  --warmup-steps W    linear warmup of the learning rate over W steps (default 0)\n"
"  --min-lr-frac F     cosine's final learning rate as a fraction of --lr (default 0.1)\n"
"  --accum N           average the gradients of N batches per optimizer step\n"
"                      (default 1); a checkpoint saves these five and the\n"
"                      schedule's length: a resumed run continues the same\n"
"                      schedule (to the --epochs of the run that started it)\n"
"  --seed S            seed for initialisation, shuffling and dropout (default 1)\n"
"  --threads T         threads for BLAS and our loops (default: all cores). The same\n"
"                      seed, data and thread count give bit-identical weights.\n"
"  --out FILE          save a checkpoint (safetensors) after every epoch\n"
"  --resume FILE       continue the run saved in FILE (model, optimizer, seed,\n"
"                      batch, clipping and schedule come from it) until --epochs\n"
"                      epochs in total\n"
"  --dp-clip C         DP-SGD (record-level differential privacy, as Opacus): clip\n"
"                      each example's gradient to L2 norm C (> 0); each step's\n"
"                      batch is a Poisson sample (rate batch / training-set size),\n"
"                      an epoch is ceil(size / batch) steps. Needs --dp-noise.\n"
"  --dp-noise S        DP-SGD noise multiplier (>= 0): N(0, (S*C)^2) from the OS's\n"
"                      CSPRNG on every coordinate of the clipped sum, then / batch\n"
"  --dp-delta D        delta of the epsilon printed after each epoch, in (0, 1)\n"
"                      (default 1e-5); the checkpoint records gf.dpsgd_epsilon\n"
"  --json              print a JSON summary as the last line of stdout; backend\n"
"                      names the op backend the model ran on (cpu); its blas*\n"
"                      keys name the kernels the GEMMs ran: blas (OpenBLAS's\n"
"                      config), blas_core (e.g. SkylakeX), blas_core_source\n"
"                      (openblas: its own detection; gf: chosen for a CPU that\n"
"                      OpenBLAS does not know; OPENBLAS_CORETYPE: yours),\n"
"                      blas_threading (openmp) and blas_library (the file)\n"
"  --metrics FILE      append one JSON line per epoch to FILE (epoch, train_loss,\n"
"                      train_accuracy, test_loss, test_accuracy, seconds); the\n"
"                      coordinator's central jobs plot it\n"
"  --mpi               data-parallel over MPI ranks (implied when started by\n"
"                      OpenMPI's mpirun: OMPI_COMM_WORLD_SIZE is set): every rank\n"
"                      reads the same data and runs the same shuffle, computes the\n"
"                      gradient of its own shard of each global --batch, and the\n"
"                      ranks sum the gradient before an identical step; rank 0\n"
"                      alone prints, evaluates and writes --out and --metrics.\n"
"                      --threads defaults to the cores / ranks on the machine.\n"
"                      A checkpoint resumes on any number of ranks. Example:\n"
"                      mpirun -np 2 --bind-to none gf train --model ... --threads 1\n"
"  -h, --help          this help\n"
"\n"
"On a terminal each epoch shows a progress bar (img/s, loss, ETA); otherwise one\n"
"line per epoch. img/s counts only forward, backward and optimizer time.\n"
"GEMMs run on the OpenMP build of OpenBLAS (one thread pool with gf's loops),\n"
"whichever build the system's alternatives select; where OpenBLAS's own CPU\n"
"detection would fall back to generic kernels (CPUs newer than its tables), gf\n"
"picks the best core the CPU supports. An OPENBLAS_CORETYPE you set wins.\n"
"With DP-SGD each epoch also prints the privacy spent so far:\n"
"  dp-sgd: epsilon E at delta D after N steps (noise S, clip C, sample rate Q; best order A)\n"
"(the Renyi-DP accountant of `gf dp epsilon`). A resumed run keeps DP-SGD on.\n", f);
}

typedef struct {
    const char *model, *dataset, *out, *resume, *optim, *metrics;
    long epochs, batch, seed, threads;
    double lr, momentum, wd;
    double dp_clip, dp_noise, dp_delta;
    double grad_clip, min_lr_frac;
    long warmup, accum;
    const char *lr_schedule;
    int json, have_lr, have_momentum, have_wd, have_batch, have_seed;
    int have_dp_clip, have_dp_noise, have_dp_delta, have_threads, mpi;
    int have_grad_clip, have_lr_schedule, have_warmup, have_min_lr, have_accum;
} train_args;

/* A DP-SGD flag's value: a finite number that in_range accepts (range says which). */
static int parse_dp(const char *flag, const char *s, int (*in_range)(double), const char *range,
                    double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || !in_range(v)) {
        fprintf(stderr, "gf train: %s must be %s, got \"%s\"\n", flag, range, s);
        return -1;
    }
    *out = v;
    return 0;
}
static int positive(double v) { return v > 0; }
static int non_negative(double v) { return v >= 0; }
static int open_unit(double v) { return v > 0 && v < 1; }

static int parse_args(int argc, char **argv, train_args *a)
{
    enum { O_MODEL = 1, O_DATASET, O_EPOCHS, O_BATCH, O_OPTIM, O_LR, O_MOMENTUM, O_WD,
           O_SEED, O_THREADS, O_OUT, O_RESUME, O_JSON, O_HELP, O_DP_CLIP, O_DP_NOISE, O_DP_DELTA, O_METRICS,
           O_GRAD_CLIP, O_LR_SCHED, O_WARMUP, O_MIN_LR, O_ACCUM, O_MPI };
    static const struct option opts[] = {
        {"model", 1, 0, O_MODEL}, {"dataset", 1, 0, O_DATASET}, {"epochs", 1, 0, O_EPOCHS},
        {"batch", 1, 0, O_BATCH}, {"optim", 1, 0, O_OPTIM}, {"lr", 1, 0, O_LR},
        {"momentum", 1, 0, O_MOMENTUM}, {"weight-decay", 1, 0, O_WD}, {"seed", 1, 0, O_SEED},
        {"threads", 1, 0, O_THREADS}, {"out", 1, 0, O_OUT}, {"resume", 1, 0, O_RESUME},
        {"json", 0, 0, O_JSON}, {"help", 0, 0, O_HELP}, {"dp-clip", 1, 0, O_DP_CLIP},
        {"dp-noise", 1, 0, O_DP_NOISE}, {"dp-delta", 1, 0, O_DP_DELTA}, {"metrics", 1, 0, O_METRICS},
        {"grad-clip", 1, 0, O_GRAD_CLIP}, {"lr-schedule", 1, 0, O_LR_SCHED}, {"warmup-steps", 1, 0, O_WARMUP},
        {"min-lr-frac", 1, 0, O_MIN_LR}, {"accum", 1, 0, O_ACCUM}, {"mpi", 0, 0, O_MPI},
        {0, 0, 0, 0}};
    *a = (train_args){ .epochs = 1, .batch = 64, .seed = 1, .threads = cli_default_threads(),
                       .optim = "sgd", .dp_delta = GF_DPSGD_DEFAULT_DELTA,
                       .min_lr_frac = 0.1, .accum = 1, .lr_schedule = "constant" };
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case O_MODEL: a->model = optarg; break;
        case O_DATASET: a->dataset = optarg; break;
        case O_EPOCHS: bad = cli_parse_int("--epochs", optarg, 1, 1000000, &a->epochs); break;
        case O_BATCH: bad = cli_parse_int("--batch", optarg, 1, 65536, &a->batch); a->have_batch = 1; break;
        case O_OPTIM: a->optim = optarg; break;
        case O_LR: bad = cli_parse_float("--lr", optarg, 1e-12, 1e6, &a->lr); a->have_lr = 1; break;
        case O_MOMENTUM: bad = cli_parse_float("--momentum", optarg, 0, 0.999999, &a->momentum); a->have_momentum = 1; break;
        case O_WD: bad = cli_parse_float("--weight-decay", optarg, 0, 1e6, &a->wd); a->have_wd = 1; break;
        case O_SEED: bad = cli_parse_int("--seed", optarg, 0, 0x7fffffffffffffffL, &a->seed); a->have_seed = 1; break;
        case O_THREADS: bad = cli_parse_int("--threads", optarg, 1, 1024, &a->threads); a->have_threads = 1; break;
        case O_OUT: a->out = optarg; break;
        case O_METRICS: a->metrics = optarg; break;
        case O_RESUME: a->resume = optarg; break;
        case O_JSON: a->json = 1; break;
        case O_DP_CLIP: bad = parse_dp("--dp-clip", optarg, positive, "a number > 0", &a->dp_clip); a->have_dp_clip = 1; break;
        case O_DP_NOISE: bad = parse_dp("--dp-noise", optarg, non_negative, "a number >= 0", &a->dp_noise); a->have_dp_noise = 1; break;
        case O_DP_DELTA: bad = parse_dp("--dp-delta", optarg, open_unit, "in (0, 1)", &a->dp_delta); a->have_dp_delta = 1; break;
        case O_GRAD_CLIP: bad = cli_parse_float("--grad-clip", optarg, 1e-12, 1e12, &a->grad_clip); a->have_grad_clip = 1; break;
        case O_LR_SCHED: a->lr_schedule = optarg; a->have_lr_schedule = 1; break;
        case O_WARMUP: bad = cli_parse_int("--warmup-steps", optarg, 0, 1000000000L, &a->warmup); a->have_warmup = 1; break;
        case O_MIN_LR: bad = cli_parse_float("--min-lr-frac", optarg, 0, 1, &a->min_lr_frac); a->have_min_lr = 1; break;
        case O_ACCUM: bad = cli_parse_int("--accum", optarg, 1, 1000000, &a->accum); a->have_accum = 1; break;
        case O_MPI: a->mpi = 1; break;
        case O_HELP: case 'h': train_usage(stdout); exit(0);
        default:
            fprintf(stderr, "gf train: unknown or incomplete option \"%s\" (see gf train --help)\n",
                    argv[optind - 1]);
            return -1;
        }
        if (bad) return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "gf train: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    if (!a->dataset) { fprintf(stderr, "gf train: --dataset is required (see gf train --help)\n"); return -1; }
    if (!a->model && !a->resume) {
        fprintf(stderr, "gf train: --model is required unless --resume is given\n");
        return -1;
    }
    if (!a->resume && a->have_dp_clip != a->have_dp_noise) {
        fprintf(stderr, "gf train: DP-SGD needs both --dp-clip and --dp-noise (%s is missing)\n",
                a->have_dp_clip ? "--dp-noise" : "--dp-clip");
        return -1;
    }
    if (!a->resume && a->have_dp_delta && !a->have_dp_clip) {
        fprintf(stderr, "gf train: --dp-delta applies to DP-SGD runs only (give --dp-clip and --dp-noise)\n");
        return -1;
    }
    return 0;
}

/* New run from flags. */
static gf_status start_run(const train_args *a, gf_trainer **t)
{
    gf_train_config cfg = { .batch = (int)a->batch, .threads = (int)a->threads,
                            .seed = (uint64_t)a->seed };
    snprintf(cfg.spec, sizeof cfg.spec, "%s", a->model);
    gf_optim_type type;
    gf_status st = gf_optim_type_parse(a->optim, &type);
    if (st) return st;
    cfg.optim = gf_optim_defaults(type, a->have_lr ? (float)a->lr : type == GF_OPTIM_ADAMW ? 1e-3f : 0.01f);
    if (a->have_momentum) {
        if (type != GF_OPTIM_SGD) return gf_errorf(GF_ERR_ARG, "--momentum applies to sgd only");
        cfg.optim.momentum = (float)a->momentum;
    }
    if (a->have_wd) cfg.optim.weight_decay = (float)a->wd;
    if (a->have_dp_clip)
        cfg.dpsgd = (gf_dpsgd_config){ .enabled = 1, .clip = a->dp_clip, .noise = a->dp_noise,
                                       .delta = a->dp_delta };
    cfg.grad_clip = (float)a->grad_clip;
    cfg.accum = (int)a->accum;
    if ((st = gf_lr_kind_parse(a->lr_schedule, &cfg.lr_schedule.kind))) return st;
    cfg.lr_schedule.warmup = a->warmup;
    cfg.lr_schedule.min_frac = (float)a->min_lr_frac;
    return gf_trainer_create(&cfg, t);
}

/* A resumed run takes its settings from the checkpoint; flags may not
 * contradict them. *saved_schedule: the checkpoint holds the clipping,
 * accumulation and learning-rate schedule (total steps included); one
 * written before they were saved takes them from the flags instead. */
static gf_status resume_run(const train_args *a, gf_trainer **out, int *saved_schedule)
{
    gf_status st = gf_checkpoint_resume(a->resume, (int)a->threads, out);
    if (st) return st;
    gf_trainer *t = *out;
    const char *clash = NULL;
    char *kind = NULL;
    if ((st = gf_checkpoint_read_meta(a->resume, "gf.lr_schedule", &kind))) {
        gf_trainer_free(t);
        *out = NULL;
        return st;
    }
    *saved_schedule = kind != NULL;
    free(kind);
    gf_lr_kind want = GF_LR_CONSTANT;
    if (a->have_lr_schedule && (st = gf_lr_kind_parse(a->lr_schedule, &want))) {
        gf_trainer_free(t);
        *out = NULL;
        return st;
    }
    gf_lr_schedule *ls = &t->cfg.lr_schedule;
    if (*saved_schedule) {
        if (a->have_grad_clip && (float)a->grad_clip != t->cfg.grad_clip) clash = "--grad-clip";
        if (a->have_lr_schedule && want != ls->kind) clash = "--lr-schedule";
        if (a->have_warmup && a->warmup != ls->warmup) clash = "--warmup-steps";
        if (a->have_min_lr && (float)a->min_lr_frac != ls->min_frac) clash = "--min-lr-frac";
        if (a->have_accum && a->accum != (t->cfg.accum > 1 ? t->cfg.accum : 1)) clash = "--accum";
    } else {                            /* an older checkpoint: the flags as for a new run */
        t->cfg.grad_clip = (float)a->grad_clip;
        ls->kind = want;
        ls->warmup = a->warmup;
        ls->min_frac = (float)a->min_lr_frac;
        if ((a->have_accum && a->accum > 1) || (t->dp && a->grad_clip > 0))
            clash = a->have_accum && a->accum > 1 ? "--accum" : "--grad-clip";
    }
    if (a->model) {
        gf_spec s;
        if (gf_spec_parse(a->model, &s) || strcmp(s.canonical, t->model->spec.canonical)) clash = "--model";
    }
    if (a->have_batch && a->batch != t->cfg.batch) clash = "--batch";
    if (a->have_seed && (uint64_t)a->seed != t->cfg.seed) clash = "--seed";
    if (a->have_lr && (float)a->lr != t->optim.cfg.lr) clash = "--lr";
    if (a->have_momentum && (float)a->momentum != t->optim.cfg.momentum) clash = "--momentum";
    if (a->have_wd && (float)a->wd != t->optim.cfg.weight_decay) clash = "--weight-decay";
    if (strcmp(a->optim, "sgd") && strcmp(a->optim, gf_optim_type_name(t->optim.cfg.type))) clash = "--optim";
    if (!t->dp && (a->have_dp_clip || a->have_dp_noise || a->have_dp_delta)) {
        gf_trainer_free(t);
        *out = NULL;
        return gf_errorf(GF_ERR_ARG, "%s: the run saved in %s was trained without DP-SGD; a resumed "
                         "run keeps its settings", a->have_dp_clip ? "--dp-clip" :
                         a->have_dp_noise ? "--dp-noise" : "--dp-delta", a->resume);
    }
    if (t->dp && a->have_dp_clip && a->dp_clip != t->cfg.dpsgd.clip) clash = "--dp-clip";
    if (t->dp && a->have_dp_noise && a->dp_noise != t->cfg.dpsgd.noise) clash = "--dp-noise";
    if (t->dp && a->have_dp_delta) t->cfg.dpsgd.delta = a->dp_delta;    /* reporting only */
    if (clash) {
        gf_trainer_free(t);
        *out = NULL;
        return gf_errorf(GF_ERR_ARG, "%s differs from the run saved in %s; a resumed run keeps its "
                         "settings (leave the flag out)", clash, a->resume);
    }
    return GF_OK;
}

/* The shortest decimal that reads back as the same float (1e-3, not 0.0010000000474974513). */
static double float_decimal(float f)
{
    char buf[32];
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, f);
        if (strtof(buf, NULL) == f) break;
    }
    return strtod(buf, NULL);
}

/* One line of --metrics: the epoch's figures as JSON, appended whole
 * (train/metrics_file.h: a reader never sees half a line but for a crash
 * mid-write, which it leaves unread). */
static int write_metrics(const char *path, int epoch, const gf_epoch_stats *es, double test_loss, double test_acc,
                         double seconds)
{
    json_t *j = json_pack("{s:i,s:f,s:f,s:o,s:o,s:f}", "epoch", epoch, "train_loss", es->loss,
                          "train_accuracy", es->accuracy, "test_loss", isnan(test_loss) ? json_null() : json_real(test_loss),
                          "test_accuracy", isnan(test_acc) ? json_null() : json_real(test_acc), "seconds", seconds);
    gf_status st = j ? gf_metrics_file_append(path, j, 0666, 0) : gf_errorf(GF_ERR_NOMEM, "out of memory");
    json_decref(j);
    if (st) fprintf(stderr, "gf train: --metrics: %s\n", gf_last_error());
    return st ? -1 : 0;
}

/* The privacy spent so far, after an epoch of a DP-SGD run. */
static gf_status print_dp(FILE *out, const gf_trainer *t)
{
    double eps, order;
    gf_status st = gf_trainer_dp_epsilon(t, &eps, &order);
    if (st) return st;
    const gf_dpsgd_config *c = &t->cfg.dpsgd;
    fprintf(out, "dp-sgd: epsilon %.6f at delta %g after %lld steps (noise %g, clip %g, sample rate "
            "%.6g; best order %g)\n", eps, c->delta, (long long)t->dp_steps, c->noise, c->clip,
            t->dp_sample_rate, order);
    return GF_OK;
}

/* The JSON summary's BLAS keys: the kernels the GEMMs ran. */
static void json_add_blas(json_t *j)
{
    const gf_blas_info *b = gf_blas_info_get();
    if (!b) return;
    json_object_set_new(j, "blas", json_string(b->config));
    json_object_set_new(j, "blas_core", json_string(b->core));
    json_object_set_new(j, "blas_core_source", json_string(b->core_source));
    json_object_set_new(j, "blas_threading", json_string(b->threading));
    json_object_set_new(j, "blas_library", json_string(b->library));
}

/* The JSON summary's DP-SGD keys (epsilon null when infinite: no noise). */
static void json_add_dp(json_t *j, const gf_trainer *t)
{
    double eps = NAN;
    if (!j || gf_trainer_dp_epsilon(t, &eps, NULL)) return;
    const gf_dpsgd_config *c = &t->cfg.dpsgd;
    json_object_set_new(j, "dpsgd_epsilon", isfinite(eps) ? json_real(eps) : json_null());
    json_object_set_new(j, "dpsgd_delta", json_real(c->delta));
    json_object_set_new(j, "dpsgd_noise", json_real(c->noise));
    json_object_set_new(j, "dpsgd_clip", json_real(c->clip));
    json_object_set_new(j, "dpsgd_sample_rate", json_real(t->dp_sample_rate));
    json_object_set_new(j, "dpsgd_steps", json_integer(t->dp_steps));
}

static gf_dist dist = { .rank = 0, .size = 1, .local_size = 1 };

static int fail(const char *what, gf_status st)
{
    if (dist.size > 1) fprintf(stderr, "gf train (rank %d of %d): %s: %s\n", dist.rank, dist.size, what,
                               gf_last_error());
    else fprintf(stderr, "gf train: %s: %s\n", what, gf_last_error());
    return st == GF_ERR_ARG ? 2 : 1;
}

int cmd_train(int argc, char **argv)
{
    train_args a;
    if (parse_args(argc, argv, &a)) return 2;
    gf_status st = gf_dist_init(a.mpi, &dist);
    if (st) return fail("MPI", st);
    const int lead = dist.rank == 0;     /* rank 0 prints, evaluates and writes files */
    if (!a.have_threads && dist.local_size > 1) {
        a.threads = cli_default_threads() / dist.local_size;
        if (a.threads < 1) a.threads = 1;
    }
    cli_set_threads((int)a.threads);

    gf_trainer *t = NULL;
    gf_dataset train = {0}, test = {0};
    FILE *out = NULL;
    int rc = 0;
    int saved_schedule = 0;
    st = a.resume ? resume_run(&a, &t, &saved_schedule) : start_run(&a, &t);
    if (st) { rc = fail(a.resume ? "cannot resume" : "cannot build the run", st); goto done; }
    t->dist = &dist;
    const int lm = t->model->input_dtype == GF_DTYPE_I32;    /* a language model: token windows */
    if ((st = gf_dataset_open(a.dataset, &train, &test)) ||
        (lm && train.tokens && (st = gf_dataset_window(&train, (int)t->model->in_numel))) ||
        (lm && test.tokens && test.ntokens > t->model->in_numel &&
         (st = gf_dataset_window(&test, (int)t->model->in_numel))) ||
        (st = gf_trainer_check_data(t->model, &train, "training set")) ||
        (test.n && (st = gf_trainer_check_data(t->model, &test, "test set")))) {
        rc = fail("dataset", st);
        goto done;
    }
    if (lead) cli_print_data("train", a.dataset, &train, &test);
    if (lead && dist.size > 1)
        fprintf(stderr, "gf train: %d MPI ranks, %ld thread%s each, data parallel (rank 0 writes)\n", dist.size,
                (long)a.threads, a.threads == 1 ? "" : "s");
    if (!lead) gf_dataset_free(&test);       /* rank 0 alone evaluates */

    /* the cosine schedule spans the steps up to --epochs; a resumed run
     * continues the one its checkpoint saved */
    const int64_t accum = t->cfg.accum > 1 ? t->cfg.accum : 1;
    const int64_t run_steps = ((train.n + t->cfg.batch - 1) / t->cfg.batch + accum - 1) / accum * a.epochs;
    if (!saved_schedule || t->cfg.lr_schedule.kind != GF_LR_COSINE) t->cfg.lr_schedule.total = run_steps;
    else if (lead && run_steps > t->cfg.lr_schedule.total && t->step < run_steps)
        fprintf(stderr, "gf train: the cosine schedule saved in %s ends at step %lld; the steps after it, "
                "up to %lld, run at its final rate\n", a.resume, (long long)t->cfg.lr_schedule.total,
                (long long)run_steps);
    if ((st = gf_trainer_dist_check(t, &train))) { rc = fail("MPI ranks", st); goto done; }
    out = lead ? stdout : fopen("/dev/null", "w");
    if (!out) { rc = fail("cannot open /dev/null", GF_ERR_IO); goto done; }
    double allreduce = 0.0;
    double compute = 0.0, test_acc = -1.0, test_loss = 0.0, last_loss = 0.0;
    int64_t images = 0;
    if (t->epoch >= a.epochs)
        fprintf(out, "checkpoint already has %d epochs (--epochs %ld): nothing to train\n",
                t->epoch, a.epochs);
    while (t->epoch < a.epochs) {
        cli_progress p;
        cli_progress_begin(&p, out, t->epoch + 1, (int)a.epochs);
        gf_epoch_stats es;
        double t0 = gf_now();
        st = gf_trainer_epoch(t, &train, &es, lead ? cli_progress_update : NULL, &p);
        cli_progress_end(&p);
        if (st) { rc = fail("training failed", st); goto done; }
        compute += es.compute_s;
        allreduce += es.allreduce_s;
        images += es.images;
        last_loss = es.loss;
        if (test.n && (st = gf_trainer_evaluate(t, &test, &test_loss, &test_acc))) {
            rc = fail("evaluation failed", st);
            goto done;
        }
        if (lm)
            fprintf(out, "epoch %d/%ld  loss %.4f  ppl %.2f  test_loss %.4f  test_ppl %.2f  "
                    "%.0f tok/s  %.1fs\n", t->epoch, a.epochs, es.loss, exp(es.loss), test_loss,
                    test.n ? exp(test_loss) : NAN, es.images * t->model->in_numel / es.compute_s, gf_now() - t0);
        else if (test.n)
            fprintf(out, "epoch %d/%ld  loss %.4f  train_acc %.4f  test_loss %.4f  test_acc %.4f  "
                    "%.0f img/s  %.1fs\n", t->epoch, a.epochs, es.loss, es.accuracy, test_loss,
                    test_acc, es.images / es.compute_s, gf_now() - t0);
        else                            /* no test split: nothing to score */
            fprintf(out, "epoch %d/%ld  loss %.4f  train_acc %.4f  test_loss -  test_acc -  "
                    "%.0f img/s  %.1fs\n", t->epoch, a.epochs, es.loss, es.accuracy,
                    es.images / es.compute_s, gf_now() - t0);
        if (t->dp && (st = print_dp(out, t))) { rc = fail("privacy accounting failed", st); goto done; }
        fflush(out);
        if (lead && a.metrics && write_metrics(a.metrics, t->epoch, &es, test.n ? test_loss : NAN, test.n ? test_acc : NAN,
                                       gf_now() - t0)) {
            rc = 1;
            goto done;
        }
        if (lead && a.out && (st = gf_checkpoint_save(t, a.out, test_acc))) {
            rc = fail("cannot save the checkpoint", st);
            goto done;
        }
    }
    if (test_acc < 0 && test.n && (st = gf_trainer_evaluate(t, &test, &test_loss, &test_acc))) {
        rc = fail("evaluation failed", st);
        goto done;
    }
    if (lead && a.out && images == 0 && (st = gf_checkpoint_save(t, a.out, test_acc))) {
        rc = fail("cannot save the checkpoint", st);
        goto done;
    }

    if (lead && a.json) {
        int scored = test.n > 0 || (lm && test_acc >= 0);
        json_t *j = json_pack("{s:s, s:s, s:I, s:i, s:I, s:i, s:s, s:f, s:i, s:I, s:f, s:o, s:o, s:f, s:I, s:I, s:I}",
            "model", t->model->spec.canonical, "dataset", a.dataset,
            "params", (json_int_t)t->model->nparams, "epochs", t->epoch,
            "steps", (json_int_t)t->step, "batch", t->cfg.batch,
            "optim", gf_optim_type_name(t->optim.cfg.type), "lr", float_decimal(t->optim.cfg.lr),
            "threads", (int)a.threads, "seed", (json_int_t)t->cfg.seed,
            "train_loss", last_loss, "test_loss", scored ? json_real(test_loss) : json_null(),
            "test_accuracy", scored ? json_real(test_acc < 0 ? 0.0 : test_acc) : json_null(),
            "train_images_per_s", compute > 0 ? images / compute : 0.0,
            "train_images", (json_int_t)images, "train_samples", (json_int_t)train.n,
            "test_samples", (json_int_t)test.n);
        if (t->dp) json_add_dp(j, t);
        json_object_set_new(j, "ranks", json_integer(dist.size));
        json_object_set_new(j, "train_allreduce_s", json_real(allreduce));
        json_object_set_new(j, "backend", json_string(t->model->backend->name));
        json_add_blas(j);
        cli_print_json(j);
    }
done:
    if (out && out != stdout) fclose(out);
    /* an error on one rank ends them all: none waits on a stopped one */
    if (rc) gf_dist_abort(&dist, rc);
    gf_dataset_free(&train);
    gf_dataset_free(&test);
    gf_trainer_free(t);
    gf_dist_finalize(&dist);
    return rc;
}
