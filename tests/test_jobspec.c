/* Job specs: the two examples, defaults of minimal specs, canonical
 * JSON round trips (equal struct, identical bytes), and bad specs, each with
 * its status and a message naming the JSON path. */
#include "jobspec/jobspec.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

static const char *FED_EXAMPLE =
    "{\"name\": \"fmnist-fedavg\", \"model\": \"cnn\", \"dataset\": \"fashion-mnist\",\n"
    " \"strategy\": {\"name\": \"fedavg\"}, \"rounds\": 50,\n"
    " \"sites\": \"all\", \"fraction\": 1.0, \"min_sites\": 10, \"round_deadline_s\": 600,\n"
    " \"local\": {\"epochs\": 1, \"steps\": null, \"batch\": 64,\n"
    "           \"optim\": {\"name\": \"sgd\", \"lr\": 0.05, \"momentum\": 0.9}},\n"
    " \"seed\": 1, \"eval\": \"fashion-mnist:test\"}";

static const char *CENTRAL_EXAMPLE =
    "{\"kind\": \"central\", \"name\": \"cnn-fmnist\", \"model\": \"cnn\", \"dataset\": \"fashion-mnist\",\n"
    " \"epochs\": 3, \"batch\": 64, \"optim\": {\"name\": \"adamw\", \"lr\": 0.001}, \"seed\": 1,\n"
    " \"resources\": {\"cores\": 1, \"gpus\": 0, \"memory_mb\": 2048, \"time_limit_s\": 3600}}";

#define CNN "seq:1x28x28-conv32k5p2-relu-maxpool2-conv64k5p2-relu-maxpool2-flatten-linear128-relu-linear10"

/* the minimal federated spec's fields, to build variants from */
#define M "\"name\":\"a\",\"model\":\"mlp:4-3\",\"dataset\":\"x.csv\""
#define MIN_FED "{" M ",\"rounds\":2,\"strategy\":{\"name\":\"fedavg\"}"
#define MIN_CENTRAL "{\"kind\":\"central\"," M

static gf_status parse(const char *json, gf_jobspec *j) { return gf_jobspec_parse(json, strlen(json), j); }

static int str_eq(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

static int optim_eq(const gf_optim_config *a, const gf_optim_config *b)
{
    return a->type == b->type && a->lr == b->lr && a->momentum == b->momentum &&
           a->weight_decay == b->weight_decay && a->beta1 == b->beta1 && a->beta2 == b->beta2 &&
           a->eps == b->eps;
}

static int strategy_eq(const gf_strategy_config *a, const gf_strategy_config *b)
{
    return a->type == b->type && a->server_lr == b->server_lr &&
           a->server_momentum == b->server_momentum && a->beta1 == b->beta1 &&
           a->beta2 == b->beta2 && a->tau == b->tau && a->mu == b->mu &&
           a->trim_ratio == b->trim_ratio && a->krum_f == b->krum_f &&
           a->multikrum_m == b->multikrum_m && a->scaffold_sites_total == b->scaffold_sites_total;
}

static int spec_eq(const gf_jobspec *a, const gf_jobspec *b)
{
    if (a->kind != b->kind || strcmp(a->name, b->name) || strcmp(a->model, b->model) ||
        strcmp(a->dataset, b->dataset) || a->seed != b->seed || !optim_eq(&a->optim, &b->optim) ||
        !strategy_eq(&a->strategy, &b->strategy) || a->rounds != b->rounds ||
        a->nsites != b->nsites || (!a->sites) != (!b->sites) || a->fraction != b->fraction ||
        a->min_sites != b->min_sites || a->round_deadline_s != b->round_deadline_s ||
        a->local.epochs != b->local.epochs || a->local.steps != b->local.steps ||
        a->local.batch != b->local.batch || a->local.lr_decay != b->local.lr_decay || a->local.dpsgd.enabled != b->local.dpsgd.enabled ||
        a->local.dpsgd.clip != b->local.dpsgd.clip || a->local.dpsgd.noise != b->local.dpsgd.noise ||
        a->local.dpsgd.delta != b->local.dpsgd.delta || strcmp(a->eval, b->eval) ||
        !str_eq(a->secure_aggregation_json, b->secure_aggregation_json) ||
        !str_eq(a->dp_json, b->dp_json) || a->epochs != b->epochs || a->batch != b->batch ||
        a->resources.cores != b->resources.cores || a->resources.gpus != b->resources.gpus ||
        a->resources.memory_mb != b->resources.memory_mb ||
        a->resources.time_limit_s != b->resources.time_limit_s || a->resources.processes != b->resources.processes)
        return 0;
    for (int i = 0; i < a->nsites; i++)
        if (strcmp(a->sites[i], b->sites[i])) return 0;
    return 1;
}

/* canonical JSON -> parse -> equal struct; serialize again -> same bytes. Returns the JSON. */
static char *round_trip(const gf_jobspec *j)
{
    char *s1 = NULL, *s2 = NULL;
    gf_jobspec k;
    CHECK(gf_jobspec_to_json(j, &s1) == GF_OK);
    if (!s1) return NULL;
    gf_status st = parse(s1, &k);
    CHECK_MSG(st == GF_OK, "%s\n  json: %s", gf_last_error(), s1);
    if (st) return s1;
    CHECK_MSG(spec_eq(j, &k), "re-parsed spec differs: %s", s1);
    CHECK(gf_jobspec_to_json(&k, &s2) == GF_OK);
    CHECK_MSG(s2 && !strcmp(s1, s2), "canonical JSON not stable:\n  %s\n  %s", s1, s2 ? s2 : "(null)");
    free(s2);
    gf_jobspec_free(&k);
    return s1;
}

static void test_federated_example(void)
{
    gf_jobspec j;
    gf_status st = parse(FED_EXAMPLE, &j);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (st) return;
    CHECK(j.kind == GF_JOB_FEDERATED);
    CHECK(!strcmp(j.name, "fmnist-fedavg"));
    CHECK(!strcmp(j.model, CNN));
    CHECK(!strcmp(j.dataset, "fashion-mnist"));
    CHECK(j.strategy.type == GF_STRAT_FEDAVG && j.strategy.server_lr == 1.0);
    CHECK(j.rounds == 50);
    CHECK(j.sites == NULL && j.nsites == 0);
    CHECK(j.fraction == 1.0 && j.min_sites == 10 && j.round_deadline_s == 600.0);
    CHECK(j.local.epochs == 1 && j.local.steps == -1 && j.local.batch == 64);
    CHECK(j.optim.type == GF_OPTIM_SGD && j.optim.lr == 0.05f && j.optim.momentum == 0.9f &&
          j.optim.weight_decay == 0.0f);
    CHECK(j.seed == 1);
    CHECK(!strcmp(j.eval, "fashion-mnist:test"));
    CHECK(j.secure_aggregation_json == NULL && j.dp_json == NULL);
    char *s = round_trip(&j);
    CHECK_MSG(s && !strcmp(s, "{\"kind\":\"federated\",\"name\":\"fmnist-fedavg\",\"model\":\"" CNN "\","
                         "\"dataset\":\"fashion-mnist\",\"strategy\":{\"name\":\"fedavg\",\"server_lr\":1.0},"
                         "\"rounds\":50,\"sites\":\"all\",\"fraction\":1.0,\"min_sites\":10,"
                         "\"round_deadline_s\":600.0,\"local\":{\"epochs\":1,\"steps\":null,\"batch\":64,\"lr_decay\":1.0,"
                         "\"optim\":{\"name\":\"sgd\",\"lr\":0.05,\"momentum\":0.9,\"weight_decay\":0.0},\"dp_sgd\":null},"
                         "\"seed\":1,\"eval\":\"fashion-mnist:test\",\"eval_every\":0,\"secure_aggregation\":null,\"dp\":null}"),
              "%s", s ? s : "(null)");
    free(s);
    gf_jobspec_free(&j);
    CHECK(j.sites == NULL && j.name[0] == '\0');
    gf_jobspec_free(&j);   /* twice is fine */
    gf_jobspec_free(NULL);
}

static void test_central_example(void)
{
    gf_jobspec j;
    gf_status st = parse(CENTRAL_EXAMPLE, &j);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (st) return;
    CHECK(j.kind == GF_JOB_CENTRAL);
    CHECK(!strcmp(j.name, "cnn-fmnist") && !strcmp(j.model, CNN) && !strcmp(j.dataset, "fashion-mnist"));
    CHECK(j.epochs == 3 && j.batch == 64 && j.seed == 1);
    CHECK(j.optim.type == GF_OPTIM_ADAMW && j.optim.lr == 0.001f && j.optim.weight_decay == 0.01f &&
          j.optim.beta1 == 0.9f && j.optim.beta2 == 0.999f);
    CHECK(j.resources.cores == 1 && j.resources.gpus == 0 && j.resources.memory_mb == 2048 &&
          j.resources.time_limit_s == 3600 && j.resources.processes == 1);
    char *s = round_trip(&j);
    CHECK_MSG(s && !strcmp(s, "{\"kind\":\"central\",\"name\":\"cnn-fmnist\",\"model\":\"" CNN "\","
                         "\"dataset\":\"fashion-mnist\",\"epochs\":3,\"batch\":64,"
                         "\"optim\":{\"name\":\"adamw\",\"lr\":0.001,\"weight_decay\":0.01},\"seed\":1,"
                         "\"resources\":{\"cores\":1,\"gpus\":0,\"memory_mb\":2048,\"time_limit_s\":3600,"
                         "\"processes\":1}}"),
              "%s", s ? s : "(null)");
    free(s);
    gf_jobspec_free(&j);
}

static void test_defaults(void)
{
    gf_jobspec j;
    gf_status st = parse(MIN_FED "}", &j);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(j.kind == GF_JOB_FEDERATED && !strcmp(j.name, "a"));
        CHECK(!strcmp(j.model, "seq:4-linear3"));
        CHECK(!strcmp(j.dataset, "x.csv") && j.rounds == 2);
        CHECK(j.strategy.type == GF_STRAT_FEDAVG && j.strategy.server_lr == 1.0);
        CHECK(j.sites == NULL && j.nsites == 0 && j.fraction == 1.0 && j.min_sites == 1);
        CHECK(j.round_deadline_s == 600.0);
        CHECK(j.local.epochs == 1 && j.local.steps == -1 && j.local.batch == 64 && j.local.lr_decay == 1.0);
        CHECK(j.optim.type == GF_OPTIM_SGD && j.optim.lr == 0.01f && j.optim.momentum == 0.0f &&
              j.optim.weight_decay == 0.0f);
        CHECK(j.seed == 1 && j.eval[0] == '\0');
        CHECK(!j.secure_aggregation_json && !j.dp_json);
        free(round_trip(&j));
        gf_jobspec_free(&j);
    }
    /* local.optim alone: adamw's default lr and weight decay */
    st = parse(MIN_FED ",\"local\":{\"optim\":{\"name\":\"adamw\"}}}", &j);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(j.optim.type == GF_OPTIM_ADAMW && j.optim.lr == 0.001f && j.optim.weight_decay == 0.01f);
        free(round_trip(&j));
        gf_jobspec_free(&j);
    }
    st = parse(MIN_CENTRAL "}", &j);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(j.kind == GF_JOB_CENTRAL && !strcmp(j.name, "a") && !strcmp(j.model, "seq:4-linear3"));
        CHECK(j.epochs == 1 && j.batch == 64 && j.seed == 1);
        CHECK(j.optim.type == GF_OPTIM_SGD && j.optim.lr == 0.01f && j.optim.momentum == 0.0f);
        CHECK(j.resources.cores == 1 && j.resources.gpus == 0 && j.resources.memory_mb == 2048 &&
              j.resources.time_limit_s == 3600);
        CHECK(j.sites == NULL && !j.secure_aggregation_json && !j.dp_json);
        free(round_trip(&j));
        gf_jobspec_free(&j);
    }
    st = parse(MIN_CENTRAL ",\"resources\":{\"cores\":4,\"processes\":2.0}}", &j);   /* 2 ranks of 2 threads */
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(j.resources.cores == 4 && j.resources.processes == 2);
        char *c = round_trip(&j);
        CHECK_MSG(c && strstr(c, "\"resources\":{\"cores\":4,") && strstr(c, "\"processes\":2}}"), "%s", c ? c : "(null)");
        free(c);
        gf_jobspec_free(&j);
    }
}

static void test_variants(void)
{
    gf_jobspec j;
    /* strategy overrides, a site list, steps, secure_aggregation/dp kept as canonical JSON */
    gf_status st = parse("{\"kind\":\"federated\"," M ",\"rounds\":1e2,"
                         "\"strategy\":{\"tau\":0.001,\"name\":\"fedadam\",\"server_lr\":0.3,\"beta2\":0.999},"
                         "\"sites\":[\"hospital-a\",\"hospital_b\",\"c.3\"],\"fraction\":0.5,\"min_sites\":3,"
                         "\"round_deadline_s\":12.5,\"local\":{\"epochs\":2,\"steps\":100,\"batch\":32,\"lr_decay\":0.75,"
                         "\"optim\":{\"lr\":0.1,\"momentum\":0,\"weight_decay\":1e-4},"
                         "\"dp_sgd\":{\"noise\":1.1,\"clip\":2}},\"seed\":0,"
                         "\"eval\":null,\"eval_every\":0,\"secure_aggregation\":{\"t\":14,\"k\":20,\"clip\":4},"
                         "\"dp\":{\"noise\":1.1,\"clip\":1,\"epsilon\":8,\"adaptive\":{\"quantile\":0.7}}}", &j);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(j.rounds == 100);
        CHECK(j.strategy.type == GF_STRAT_FEDADAM && j.strategy.server_lr == 0.3 &&
              j.strategy.beta1 == 0.9 && j.strategy.beta2 == 0.999 && j.strategy.tau == 0.001);
        CHECK(j.nsites == 3 && !strcmp(j.sites[0], "hospital-a") && !strcmp(j.sites[2], "c.3"));
        CHECK(j.fraction == 0.5 && j.min_sites == 3 && j.round_deadline_s == 12.5);
        CHECK(j.local.epochs == 2 && j.local.steps == 100 && j.local.batch == 32 && j.local.lr_decay == 0.75);
        CHECK(j.optim.lr == 0.1f && j.optim.momentum == 0.0f && j.optim.weight_decay == 1e-4f);
        CHECK(j.seed == 0 && j.eval[0] == '\0');
        CHECK_MSG(j.secure_aggregation_json && !strcmp(j.secure_aggregation_json, "{\"clip\":4,\"k\":20,\"t\":14}"),
                  "%s", j.secure_aggregation_json ? j.secure_aggregation_json : "(null)");
        CHECK(j.secagg.enabled && j.secagg.k == 20 && j.secagg.t == 14 && j.secagg.clip == 4 &&
              j.secagg.max_weight == 1e5 && j.secagg.phase_timeout_s == 60);
        CHECK_MSG(j.dp_json && !strcmp(j.dp_json, "{\"adaptive\":{\"quantile\":0.69999999999999996},\"clip\":1,"
                                        "\"epsilon\":8,\"noise\":1.1000000000000001}"),
                  "%s", j.dp_json ? j.dp_json : "(null)");
        CHECK(j.dp.enabled && j.dp.clip == 1 && j.dp.noise == 1.1 && j.dp.delta == 1e-5 && j.dp.epsilon == 8);
        CHECK(j.dp.adaptive && j.dp.quantile == 0.7 && j.dp.clip_lr == 0.2 && j.dp.count_noise == 0);
        CHECK(j.local.dpsgd.enabled && j.local.dpsgd.clip == 2 && j.local.dpsgd.noise == 1.1 &&
              j.local.dpsgd.delta == 1e-5);
        char *s = round_trip(&j);
        CHECK_MSG(s && strstr(s, "\"strategy\":{\"name\":\"fedadam\",\"server_lr\":0.3,\"beta1\":0.9,"
                                 "\"beta2\":0.999,\"tau\":0.001}") &&
                  strstr(s, "\"sites\":[\"hospital-a\",\"hospital_b\",\"c.3\"]") &&
                  strstr(s, "\"steps\":100") && strstr(s, "\"weight_decay\":0.0001"),
                  "%s", s ? s : "(null)");
        free(s);
        gf_jobspec_free(&j);
    }
    /* every strategy parses with its defaults and round-trips; SCAFFOLD's N is left 0 */
    static const char *names[] = { "fedavg", "fedavgm", "fedprox", "fedadam", "fedyogi", "fedadagrad",
                                   "scaffold", "median", "trimmed_mean", "krum", "multikrum" };
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "{" M ",\"rounds\":2,\"strategy\":{\"name\":\"%s\"}}", names[i]);
        st = parse(buf, &j);
        CHECK_MSG(st == GF_OK, "%s: %s", names[i], gf_last_error());
        if (st) continue;
        gf_strategy_config d = gf_strategy_defaults(j.strategy.type);
        CHECK(strategy_eq(&j.strategy, &d) && j.strategy.scaffold_sites_total == 0);
        free(round_trip(&j));
        gf_jobspec_free(&j);
    }
    st = parse("{" M ",\"rounds\":2,\"strategy\":{\"name\":\"multikrum\",\"f\":2,\"m\":5.0}}", &j);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(j.strategy.krum_f == 2 && j.strategy.multikrum_m == 5);
        char *s = round_trip(&j);
        CHECK_MSG(s && strstr(s, "{\"name\":\"multikrum\",\"f\":2,\"m\":5}"), "%s", s ? s : "(null)");
        free(s);
        gf_jobspec_free(&j);
    }
    st = parse("{" M ",\"rounds\":2,\"strategy\":{\"name\":\"fedprox\",\"mu\":-0.0}}", &j);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(j.strategy.mu == 0.0 && !signbit(j.strategy.mu));
        gf_jobspec_free(&j);
    }
    /* len bounds the input: trailing bytes past len are not read */
    const char *txt = MIN_FED "}garbage";
    st = gf_jobspec_parse(txt, strlen(txt) - strlen("garbage"), &j);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    gf_jobspec_free(&j);
}

typedef struct {
    const char *json;
    gf_status st;
    const char *want1, *want2;   /* substrings of the message (want2 may be NULL) */
} bad_case;

static const bad_case bad_cases[] = {
    /* unknown keys */
    { MIN_FED ",\"roundz\":3}", GF_ERR_ARG, "roundz: unknown key for a federated job", "known: kind, name" },
    { MIN_FED ",\"local\":{\"optim\":{\"name\":\"sgd\",\"betas\":1}}}", GF_ERR_ARG,
      "local.optim.betas: unknown key (known: name, lr, momentum, weight_decay)", NULL },
    { MIN_FED ",\"local\":{\"epoch\":1}}", GF_ERR_ARG, "local.epoch: unknown key", "epochs, steps, batch, lr_decay, optim" },
    { "{" M ",\"rounds\":2,\"strategy\":{\"name\":\"fedavg\",\"beta9\":1}}", GF_ERR_ARG,
      "strategy.beta9: unknown key (known: name, server_lr, momentum, beta1, beta2, tau, mu, trim_ratio, f, m)", NULL },
    /* wrong types */
    { "{" M ",\"rounds\":\"ten\",\"strategy\":{\"name\":\"fedavg\"}}", GF_ERR_ARG,
      "rounds: must be an integer in [1, 1000000], got \"ten\"", NULL },
    { MIN_FED ",\"local\":{\"optim\":{\"lr\":true}}}", GF_ERR_ARG, "local.optim.lr: must be a number > 0, got true", NULL },
    { MIN_FED ",\"local\":{\"optim\":{\"lr\":\"fast\"}}}", GF_ERR_ARG,
      "local.optim.lr: must be a number > 0, got \"fast\"", NULL },
    { "{" M ",\"rounds\":2,\"strategy\":[\"fedavg\"]}", GF_ERR_ARG, "strategy: must be an object, got an array", NULL },
    { MIN_FED ",\"local\":3}", GF_ERR_ARG, "local: must be an object, got 3", NULL },
    { MIN_FED ",\"fraction\":false}", GF_ERR_ARG, "fraction: must be a number in (0, 1], got false", NULL },
    { MIN_FED ",\"sites\":\"some\"}", GF_ERR_ARG, "sites: must be \"all\" or a non-empty array", "got \"some\"" },
    { MIN_FED ",\"sites\":[]}", GF_ERR_ARG, "sites: must be \"all\" or a non-empty array", "got an array" },
    { MIN_FED ",\"sites\":[\"x\",1]}", GF_ERR_ARG, "sites[1]: must be a non-empty string, got 1", NULL },
    { MIN_FED ",\"secure_aggregation\":[1]}", GF_ERR_ARG, "secure_aggregation: must be an object or null", "array" },
    { MIN_FED ",\"min_sites\":2,\"secure_aggregation\":{\"bits\":16}}", GF_ERR_ARG,
      "secure_aggregation.bits: unknown key", NULL },
    { MIN_FED ",\"min_sites\":2,\"secure_aggregation\":{\"k\":5}}", GF_ERR_ARG, "secure_aggregation.k: must be even", NULL },
    { MIN_FED ",\"min_sites\":2,\"secure_aggregation\":{\"k\":4,\"t\":2}}", GF_ERR_ARG, "secure_aggregation.t", "k/2 < t <= k" },
    { MIN_FED ",\"min_sites\":2,\"secure_aggregation\":{\"clip\":0}}", GF_ERR_ARG, "secure_aggregation.clip", NULL },
    { MIN_FED ",\"secure_aggregation\":{}}", GF_ERR_ARG, "secure_aggregation: needs min_sites >= 2", NULL },
    { MIN_FED ",\"local\":{\"dp_sgd\":{\"clip\":1}}}", GF_ERR_ARG, "local.dp_sgd", "noise" },
    { MIN_FED ",\"local\":{\"dp_sgd\":{\"clip\":0,\"noise\":1}}}", GF_ERR_ARG, "local.dp_sgd.clip", NULL },
    { MIN_FED ",\"local\":{\"dp_sgd\":{\"clip\":1,\"noise\":1,\"sigma\":2}}}", GF_ERR_ARG, "local.dp_sgd.sigma: unknown key", NULL },
    { MIN_FED ",\"dp\":{\"clip\":1,\"noise\":1,\"adaptive\":{\"rate\":1}}}", GF_ERR_ARG, "dp.adaptive.rate: unknown key", NULL },
    { MIN_FED ",\"dp\":{\"clip\":1,\"noise\":1,\"adaptive\":{\"quantile\":1}}}", GF_ERR_ARG, "dp.adaptive.quantile", NULL },
    { MIN_FED ",\"dp\":{\"clip\":1,\"noise\":0,\"adaptive\":{}}}", GF_ERR_ARG, "needs dp.noise > 0", NULL },
    { MIN_FED ",\"dp\":{\"clip\":1,\"noise\":2,\"adaptive\":{\"count_noise\":1}}}", GF_ERR_ARG,
      "dp.adaptive.count_noise: must exceed dp.noise / 2", NULL },
    { "{" M ",\"rounds\":2,\"min_sites\":3,\"strategy\":{\"name\":\"median\"},\"secure_aggregation\":{}}", GF_ERR_ARG,
      "secure_aggregation: strategy \"median\" cannot run on a masked sum", NULL },
    { MIN_FED ",\"dp\":\"on\"}", GF_ERR_ARG, "dp: must be an object or null, got \"on\"", NULL },
    { MIN_FED ",\"eval\":\"\"}", GF_ERR_ARG, "eval: must be null or a non-empty string", NULL },
    /* members never name files: datasets and eval sets are registry names */
    { "{\"kind\":\"central\",\"name\":\"a\",\"model\":\"mlp:4-3\",\"dataset\":\"csv:../../operator.token,label=zz\"}",
      GF_ERR_ARG, "dataset: a dataset name is made of [A-Za-z0-9._-]", NULL },
    { "{\"kind\":\"central\",\"name\":\"a\",\"model\":\"mlp:4-3\",\"dataset\":\"csv:/etc/passwd\"}",
      GF_ERR_ARG, "dataset: a dataset name", NULL },
    { "{\"kind\":\"central\",\"name\":\"a\",\"model\":\"mlp:4-3\",\"dataset\":\"..\"}",
      GF_ERR_ARG, "dataset: a dataset cannot be named \"..\"", NULL },
    { MIN_FED ",\"eval\":\"csv:state/operator.token,label=zz\"}", GF_ERR_ARG, "eval: a split is", NULL },
    { MIN_FED ",\"eval\":\"csv:/dev/zero,label=y\"}", GF_ERR_ARG, "eval: a split is", NULL },
    { MIN_FED ",\"eval\":\"idx:/tmp/d:test\"}", GF_ERR_ARG, "eval: a split is", NULL },
    { MIN_FED ",\"eval\":\"../d:test\"}", GF_ERR_ARG, "eval: a dataset name is made of", NULL },
    { MIN_FED ",\"model\":\"cnn\"}", GF_ERR_FORMAT, "duplicate", "line 1" },
    /* out of range */
    { MIN_FED ",\"fraction\":0}", GF_ERR_ARG, "fraction: must be a number in (0, 1], got 0", NULL },
    { MIN_FED ",\"fraction\":1.5}", GF_ERR_ARG, "fraction: must be a number in (0, 1], got 1.5", NULL },
    { MIN_FED ",\"min_sites\":0}", GF_ERR_ARG, "min_sites: must be an integer in [1, 1000000], got 0", NULL },
    { MIN_FED ",\"local\":{\"batch\":0}}", GF_ERR_ARG, "local.batch: must be an integer in [1, 65536], got 0", NULL },
    { MIN_FED ",\"local\":{\"optim\":{\"momentum\":1}}}", GF_ERR_ARG,
      "local.optim.momentum: must be a number in [0, 1), got 1", NULL },
    { MIN_FED ",\"local\":{\"optim\":{\"weight_decay\":-0.1}}}", GF_ERR_ARG, "local.optim.weight_decay: must be a number >= 0", NULL },
    { MIN_FED ",\"local\":{\"optim\":{\"lr\":1e-50}}}", GF_ERR_ARG, "local.optim.lr: must be a number > 0 as a 32-bit float", "1e-50" },
    { MIN_FED ",\"seed\":-1}", GF_ERR_ARG, "seed: must be an integer >= 0, got -1", NULL },
    { MIN_FED ",\"local\":{\"epochs\":3.5}}", GF_ERR_ARG, "local.epochs: must be an integer in [1, 1000000], got 3.5", NULL },
    { MIN_FED ",\"dp\":{\"clip\":1,\"noise\":1,\"sigma\":2}}", GF_ERR_ARG, "dp.sigma: unknown key", "clip, noise, delta, epsilon" },
    { MIN_FED ",\"dp\":{\"noise\":1}}", GF_ERR_ARG, "dp.clip", NULL },
    { "{" M ",\"rounds\":2,\"strategy\":{\"name\":\"krum\"},\"dp\":{\"clip\":1,\"noise\":1}}", GF_ERR_ARG,
      "strategy \"krum\" cannot take client-level DP", NULL },
    { MIN_FED ",\"dp\":{\"clip\":0,\"noise\":1}}", GF_ERR_ARG, "dp.clip: must be a number > 0", NULL },
    { MIN_FED ",\"dp\":{\"clip\":1,\"noise\":0,\"epsilon\":3}}", GF_ERR_ARG, "needs dp.noise > 0", NULL },
    { MIN_FED ",\"dp\":{\"clip\":1,\"noise\":1,\"delta\":1}}", GF_ERR_ARG, "dp.delta", NULL },
    { MIN_FED ",\"local\":{\"lr_decay\":0}}", GF_ERR_ARG, "local.lr_decay: must be a number in (0, 1], got 0", NULL },
    { MIN_FED ",\"local\":{\"lr_decay\":1.5}}", GF_ERR_ARG, "local.lr_decay: must be a number in (0, 1], got 1.5", NULL },
    { MIN_FED ",\"local\":{\"steps\":-1}}", GF_ERR_ARG, "local.steps: must be null or an integer in [0, 1000000000], got -1", NULL },
    { MIN_FED ",\"round_deadline_s\":0}", GF_ERR_ARG, "round_deadline_s: must be a number > 0, got 0", NULL },
    { "{" M ",\"rounds\":1e7,\"strategy\":{\"name\":\"fedavg\"}}", GF_ERR_ARG, "rounds: must be an integer in [1, 1000000]", NULL },
    { "{" M ",\"rounds\":0,\"strategy\":{\"name\":\"fedavg\"}}", GF_ERR_ARG, "rounds: must be an integer in [1, 1000000], got 0", NULL },
    { "{" M ",\"rounds\":2,\"strategy\":{\"name\":\"trimmed_mean\",\"trim_ratio\":0.5}}", GF_ERR_ARG,
      "strategy.trim_ratio: must be a number in [0, 0.5), got 0.5", NULL },
    { "{" M ",\"rounds\":2,\"strategy\":{\"name\":\"krum\",\"f\":-1}}", GF_ERR_ARG, "strategy.f: must be an integer in [0, 1000000], got -1", NULL },
    { "{" M ",\"rounds\":2,\"strategy\":{\"name\":\"fedadam\",\"tau\":0}}", GF_ERR_ARG, "strategy.tau: must be a number > 0, got 0", NULL },
    /* model spec */
    { "{\"name\":\"a\",\"model\":\"mlp:4\",\"dataset\":\"d\",\"rounds\":2,\"strategy\":{\"name\":\"fedavg\"}}",
      GF_ERR_ARG, "model: ", "at least two widths" },
    { "{\"name\":\"a\",\"model\":\"resnet\",\"dataset\":\"d\",\"rounds\":2,\"strategy\":{\"name\":\"fedavg\"}}",
      GF_ERR_ARG, "model: model spec \"resnet\" does not parse", NULL },
    { "{\"name\":\"a\",\"model\":7,\"dataset\":\"d\",\"rounds\":2,\"strategy\":{\"name\":\"fedavg\"}}",
      GF_ERR_ARG, "model: must be a model spec string, got 7", NULL },
    /* strategies */
    { "{" M ",\"rounds\":2,\"strategy\":{\"name\":\"fedfoo\"}}", GF_ERR_ARG, "strategy.name: must be one of fedavg", "got \"fedfoo\"" },
    { "{" M ",\"rounds\":2,\"strategy\":{\"name\":\"fedavg\",\"mu\":0.1}}", GF_ERR_ARG,
      "strategy.mu: applies to fedprox only (the strategy is fedavg)", NULL },
    { "{" M ",\"rounds\":2,\"strategy\":{\"name\":\"krum\",\"m\":3}}", GF_ERR_ARG, "strategy.m: applies to multikrum only", NULL },
    { "{" M ",\"rounds\":2,\"strategy\":{\"name\":\"fedadagrad\",\"beta2\":0.9}}", GF_ERR_ARG,
      "strategy.beta2: applies to fedadam and fedyogi only", NULL },
    { "{" M ",\"rounds\":2,\"strategy\":{\"name\":\"median\",\"server_lr\":1}}", GF_ERR_ARG,
      "strategy.server_lr: applies to fedavg, fedavgm", "(the strategy is median)" },
    { "{" M ",\"rounds\":2,\"strategy\":{\"mu\":1}}", GF_ERR_ARG, "strategy.name: required key missing", NULL },
    /* JSON itself */
    { "{\"name\":\"a\",\n \"rounds\": 2,\n \"model\": }", GF_ERR_FORMAT, "invalid JSON at line 3", "unexpected token" },
    { "{\"name\":\"a\",\"name\":\"b\"}", GF_ERR_FORMAT, "invalid JSON at line 1", "duplicate object key" },
    { "", GF_ERR_FORMAT, "invalid JSON", NULL },
    { MIN_FED ",\"fraction\":NaN}", GF_ERR_FORMAT, "invalid JSON", NULL },
    { MIN_FED ",\"fraction\":1e999}", GF_ERR_FORMAT, "invalid JSON", "overflow" },
    { MIN_FED "} {}", GF_ERR_FORMAT, "invalid JSON", "end of file expected" },
    { "[" MIN_FED "}]", GF_ERR_ARG, "top level must be an object, got an array", NULL },
    { "3", GF_ERR_ARG, "top level must be an object, got 3", NULL },
    /* missing keys */
    { "{" M ",\"strategy\":{\"name\":\"fedavg\"}}", GF_ERR_ARG, "rounds: required key missing", NULL },
    { "{" M ",\"rounds\":2}", GF_ERR_ARG, "strategy: required key missing", NULL },
    { "{\"model\":\"cnn\",\"dataset\":\"d\",\"rounds\":2,\"strategy\":{\"name\":\"fedavg\"}}", GF_ERR_ARG,
      "name: required key missing", NULL },
    { "{\"name\":\"a\",\"dataset\":\"d\",\"rounds\":2,\"strategy\":{\"name\":\"fedavg\"}}", GF_ERR_ARG,
      "model: required key missing", NULL },
    { "{\"kind\":\"central\",\"name\":\"a\",\"model\":\"cnn\"}", GF_ERR_ARG,
      "dataset: required key missing", NULL },
    { "{\"kind\":\"central\",\"name\":\"a\",\"model\":\"cnn\",\"dataset\":null}", GF_ERR_ARG,
      "dataset: must be a non-empty string, got null", NULL },
    { "{\"name\":\"a\",\"model\":\"cnn\",\"dataset\":\"\",\"rounds\":2,\"strategy\":{\"name\":\"fedavg\"}}", GF_ERR_ARG,
      "dataset: must be null or a non-empty string, got \"\"", NULL },
    /* names and sites */
    { "{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"model\":\"cnn\","
      "\"dataset\":\"d\",\"rounds\":2,\"strategy\":{\"name\":\"fedavg\"}}", GF_ERR_ARG,
      "name: too long (65 characters; at most 64)", NULL },
    { "{\"name\":\"my job\",\"model\":\"cnn\",\"dataset\":\"d\",\"rounds\":2,\"strategy\":{\"name\":\"fedavg\"}}",
      GF_ERR_ARG, "name: character 3 (byte 0x20) is not allowed", "got \"my job\"" },
    { "{\"name\":\"a/b\",\"model\":\"cnn\",\"dataset\":\"d\",\"rounds\":2,\"strategy\":{\"name\":\"fedavg\"}}",
      GF_ERR_ARG, "name: character 2 ('/') is not allowed", NULL },
    { "{\"name\":\"..\",\"model\":\"cnn\",\"dataset\":\"d\",\"rounds\":2,\"strategy\":{\"name\":\"fedavg\"}}",
      GF_ERR_ARG, "name: must not be \".\" or \"..\"", NULL },
    { MIN_FED ",\"sites\":[\"s1\",\"s2\",\"s3\",\"s2\",\"s1\"]}", GF_ERR_ARG,
      "sites[3]: duplicate site name \"s2\" (also sites[1])", NULL },
    { MIN_FED ",\"sites\":[\"ok\",\"b\\u00e4d\"]}", GF_ERR_ARG, "sites[1]: character 2 (byte 0xc3)", NULL },
    { MIN_FED ",\"sites\":[\"s1\",\"s2\"],\"min_sites\":3}", GF_ERR_ARG,
      "min_sites: must be at most the number of listed sites (2), got 3", NULL },
    /* optimizer */
    { MIN_FED ",\"local\":{\"optim\":{\"name\":\"adamw\",\"momentum\":0.9}}}", GF_ERR_ARG,
      "local.optim.momentum: applies to sgd only (the optimizer is adamw)", NULL },
    { MIN_FED ",\"local\":{\"optim\":{\"name\":\"adam\"}}}", GF_ERR_ARG,
      "local.optim.name: must be \"sgd\" or \"adamw\", got \"adam\"", NULL },
    /* kinds and central */
    { MIN_FED ",\"kind\":\"batch\"}", GF_ERR_ARG, "kind: must be \"federated\", \"central\", \"statistics\" or \"program\", got \"batch\"", NULL },
    { MIN_FED ",\"kind\":null}", GF_ERR_ARG, "kind: must be \"federated\", \"central\", \"statistics\" or \"program\", got null", NULL },
    { MIN_CENTRAL ",\"rounds\":3}", GF_ERR_ARG, "rounds: unknown key for a central job", "known: kind, name, model" },
    { MIN_CENTRAL ",\"epochs\":0}", GF_ERR_ARG, "epochs: must be an integer in [1, 1000000], got 0", NULL },
    { MIN_CENTRAL ",\"batch\":\"64\"}", GF_ERR_ARG, "batch: must be an integer in [1, 65536], got \"64\"", NULL },
    { MIN_CENTRAL ",\"optim\":{\"name\":\"adamw\",\"lr\":0}}", GF_ERR_ARG, "optim.lr: must be a number > 0, got 0", NULL },
    { MIN_CENTRAL ",\"resources\":{\"cores\":0}}", GF_ERR_ARG, "resources.cores: must be an integer in [1, 1024], got 0", NULL },
    { MIN_CENTRAL ",\"resources\":{\"gpus\":65}}", GF_ERR_ARG, "resources.gpus: must be an integer in [0, 64], got 65", NULL },
    { MIN_CENTRAL ",\"resources\":{\"memory_mb\":32}}", GF_ERR_ARG, "resources.memory_mb: must be an integer in [64, 1048576]", NULL },
    { MIN_CENTRAL ",\"resources\":{\"time_limit_s\":2592001}}", GF_ERR_ARG, "resources.time_limit_s: must be an integer in [1, 2592000]", NULL },
    { MIN_CENTRAL ",\"resources\":{\"disk_mb\":1}}", GF_ERR_ARG, "resources.disk_mb: unknown key", NULL },
    { MIN_CENTRAL ",\"resources\":{\"cores\":true}}", GF_ERR_ARG, "resources.cores: must be an integer in [1, 1024], got true", NULL },
    { MIN_CENTRAL ",\"resources\":{\"processes\":0}}", GF_ERR_ARG, "resources.processes: must be an integer in [1, 1024], got 0", NULL },
    { MIN_CENTRAL ",\"resources\":{\"processes\":1.5}}", GF_ERR_ARG, "resources.processes: must be an integer in [1, 1024], got 1.5", NULL },
    { MIN_CENTRAL ",\"resources\":{\"processes\":\"2\"}}", GF_ERR_ARG, "resources.processes: must be an integer in [1, 1024], got \"2\"", NULL },
    { MIN_CENTRAL ",\"resources\":{\"processes\":1025,\"cores\":1024}}", GF_ERR_ARG, "resources.processes: must be an integer in [1, 1024], got 1025", NULL },
    { MIN_CENTRAL ",\"resources\":{\"processes\":2}}", GF_ERR_ARG,
      "resources.processes: 2 is more than resources.cores (1): each process (rank) needs a core of its own", NULL },
    { MIN_CENTRAL ",\"resources\":{\"processes\":2,\"cores\":3}}", GF_ERR_ARG,
      "resources.cores: 3 is not a multiple of resources.processes (2)", NULL },
};

static int zeroed(const gf_jobspec *j)
{
    return !j->sites && !j->nsites && !j->secure_aggregation_json && !j->dp_json && !j->name[0] &&
           !j->model[0] && !j->rounds;
}

static void test_bad(void)
{
    int n = (int)(sizeof bad_cases / sizeof bad_cases[0]);
    for (int i = 0; i < n; i++) {
        const bad_case *c = &bad_cases[i];
        gf_jobspec j;
        gf_status st = parse(c->json, &j);
        const char *msg = gf_last_error();
        CHECK_MSG(st == c->st, "case %d: status %d, want %d (%s)\n  json: %s", i, (int)st, (int)c->st, msg, c->json);
        CHECK_MSG(strstr(msg, c->want1) && (!c->want2 || strstr(msg, c->want2)),
                  "case %d: message \"%s\" lacks \"%s\" / \"%s\"", i, msg, c->want1, c->want2 ? c->want2 : "");
        CHECK_MSG(zeroed(&j), "case %d: output not zeroed", i);
        if (st == GF_OK) gf_jobspec_free(&j);
    }
    fprintf(stderr, "%d bad specs checked\n", n);
}

/* The 1 MiB limit: exactly GF_JOBSPEC_MAX_BYTES parses, one byte more is GF_ERR_ARG. */
static void test_size_limit(void)
{
    const char *base = MIN_FED "}";
    size_t n = GF_JOBSPEC_MAX_BYTES + 1;
    char *buf = malloc(n);
    CHECK(buf != NULL);
    if (!buf) return;
    memset(buf, ' ', n);
    memcpy(buf, base, strlen(base));
    gf_jobspec j;
    gf_status st = gf_jobspec_parse(buf, n - 1, &j);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    gf_jobspec_free(&j);
    st = gf_jobspec_parse(buf, n, &j);
    CHECK(st == GF_ERR_ARG && strstr(gf_last_error(), "over the limit of 1048576 bytes"));
    CHECK(zeroed(&j));
    free(buf);

    /* a many-site list near the limit: duplicates found without quadratic work */
    int nsites = 100000;
    size_t cap = (size_t)nsites * 12 + 256;
    buf = malloc(cap);
    CHECK(buf != NULL);
    if (!buf) return;
    size_t len = (size_t)snprintf(buf, cap, "%s,\"sites\":[", MIN_FED);
    for (int i = 0; i < nsites; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s\"s%d\"", i ? "," : "", i == nsites - 1 ? 7 : i);
    len += (size_t)snprintf(buf + len, cap - len, "]}");
    st = gf_jobspec_parse(buf, len, &j);
    CHECK_MSG(st == GF_ERR_ARG && strstr(gf_last_error(), "sites[99999]: duplicate site name \"s7\" (also sites[7])"),
              "%s", gf_last_error());
    free(buf);
}

/* A federated job's "dataset" is an optional label: absent and null both
 * give "" and the canonical form says null; parsing that again is equal. */
static void test_fed_dataset_optional(void)
{
    const char *specs[] = {
        "{\"name\":\"a\",\"model\":\"mlp:4-3\",\"rounds\":2,\"strategy\":{\"name\":\"fedavg\"}}",
        "{\"name\":\"a\",\"model\":\"mlp:4-3\",\"dataset\":null,\"rounds\":2,\"strategy\":{\"name\":\"fedavg\"}}",
    };
    for (int i = 0; i < 2; i++) {
        gf_jobspec j, k;
        gf_status st = parse(specs[i], &j);
        CHECK_MSG(st == GF_OK, "spec %d: %s", i, gf_last_error());
        if (st) continue;
        CHECK(j.dataset[0] == '\0');
        char *s = NULL;
        CHECK(gf_jobspec_to_json(&j, &s) == GF_OK && s);
        CHECK_MSG(s && strstr(s, ",\"dataset\":null,"), "%s", s ? s : "(null)");
        CHECK(s && gf_jobspec_parse(s, strlen(s), &k) == GF_OK && k.dataset[0] == '\0');
        gf_jobspec_free(&k);
        free(s);
        gf_jobspec_free(&j);
    }
}

/* kind statistics: defaults, both forms of ranges, canonical round trip, bad specs */
static void test_statistics(void)
{
    gf_jobspec j;
    const char *a = "{\"kind\":\"statistics\",\"name\":\"st\",\"columns\":3,\"range\":[0,1.5]}";
    gf_status st = parse(a, &j);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(j.kind == GF_JOB_STATISTICS && j.stats.enabled && j.stats.columns == 3 && j.stats.classes == 2 &&
              j.stats.bins == 20 && j.stats.min_count == 10 && j.stats.nranges == 1 && j.stats.range[1] == 1.5 &&
              j.rounds == 1 && j.min_sites == 1 && !j.secagg.enabled);
        char *s1 = NULL;
        CHECK(gf_jobspec_to_json(&j, &s1) == GF_OK && s1 && strstr(s1, "\"kind\":\"statistics\"") &&
              strstr(s1, "\"range\":[0.0,1.5]"));
        gf_jobspec k;
        CHECK(s1 && parse(s1, &k) == GF_OK);
        char *s2 = NULL;
        CHECK(gf_jobspec_to_json(&k, &s2) == GF_OK && s1 && s2 && !strcmp(s1, s2));
        gf_fedspec fs;
        CHECK(gf_jobspec_fedspec(&k, &fs) == GF_OK && fs.stats.enabled && fs.stats.range != j.stats.range &&
              fs.stats.range[1] == 1.5);
        gf_fedspec_free(&fs);
        free(s1); free(s2);
        gf_jobspec_free(&k);
        gf_jobspec_free(&j);
    }
    const char *b = "{\"kind\":\"statistics\",\"name\":\"st\",\"columns\":2,\"ranges\":[[0,1],[-5,5]],"
                    "\"bins\":4,\"classes\":3,\"min_count\":5,\"min_sites\":2,\"secure_aggregation\":{}}";
    st = parse(b, &j);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(j.stats.nranges == 2 && j.stats.range[2] == -5 && j.stats.bins == 4 && j.secagg.enabled &&
              j.secagg.clip == 1e6);
        char *s1 = NULL;
        CHECK(gf_jobspec_to_json(&j, &s1) == GF_OK && s1 && strstr(s1, "\"ranges\":[[0.0,1.0],[-5.0,5.0]]"));
        gf_jobspec k;
        CHECK(s1 && parse(s1, &k) == GF_OK && k.stats.nranges == 2 && k.secagg.clip == 1e6);
        gf_jobspec_free(&k);
        free(s1);
        gf_jobspec_free(&j);
    }
    const char *pp = "{\"name\":\"f\",\"model\":\"mlp:4-2\",\"dataset\":\"d\",\"strategy\":{\"name\":\"fedavg\"},"
                     "\"rounds\":1,\"preprocess\":{\"from\":3,\"impute\":\"median\",\"standardize\":true,\"drop\":[0],"
                     "\"binarize\":{\"threshold\":1},\"onehot\":[{\"column\":2,\"categories\":[3,6,7]}]}}";
    st = parse(pp, &j);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        const gf_preprocess_config *c = &j.preprocess.cfg;
        CHECK(j.preprocess.enabled && j.preprocess.from == 3 && c->impute == GF_IMPUTE_MEDIAN && c->standardize &&
              c->ndrop == 1 && c->drop[0] == 0 && c->binarize && c->threshold == 1 && c->nonehot == 1 &&
              c->onehot_column[0] == 2 && c->onehot_off[1] == 3 && c->onehot_cats[2] == 7);
        char *s1 = NULL;
        gf_jobspec k;
        CHECK(gf_jobspec_to_json(&j, &s1) == GF_OK && s1 && strstr(s1, "\"preprocess\":{") && parse(s1, &k) == GF_OK &&
              k.preprocess.cfg.nonehot == 1);
        gf_jobspec_free(&k);
        free(s1);
        gf_jobspec_free(&j);
    }
    static const struct { const char *json, *want; } bad[] = {
        { "{\"name\":\"f\",\"model\":\"mlp:4-2\",\"dataset\":\"d\",\"strategy\":{\"name\":\"fedavg\"},\"rounds\":1,"
          "\"preprocess\":{\"impute\":\"mean\"}}", "preprocess.from: required" },
        { "{\"name\":\"f\",\"model\":\"mlp:4-2\",\"dataset\":\"d\",\"strategy\":{\"name\":\"fedavg\"},\"rounds\":1,"
          "\"preprocess\":{\"from\":1,\"impute\":\"mode\"}}", "preprocess.impute" },
        { "{\"name\":\"f\",\"model\":\"mlp:4-2\",\"dataset\":\"d\",\"strategy\":{\"name\":\"fedavg\"},\"rounds\":1,"
          "\"preprocess\":{\"from\":1,\"onehot\":[{\"column\":1,\"categories\":[]}]}}", "categories" },
        { "{\"kind\":\"statistics\",\"name\":\"st\"}", "columns: required" },
        { "{\"kind\":\"statistics\",\"name\":\"st\",\"columns\":2,\"bins\":3}", "bins: histograms need" },
        { "{\"kind\":\"statistics\",\"name\":\"st\",\"columns\":2,\"ranges\":[[0,1]]}", "ranges: must be" },
        { "{\"kind\":\"statistics\",\"name\":\"st\",\"columns\":2,\"range\":[1,1]}", "range: must be [lo, hi]" },
        { "{\"kind\":\"statistics\",\"name\":\"st\",\"columns\":2,\"range\":[0,1],\"ranges\":[[0,1],[0,1]]}",
          "not both" },
        { "{\"kind\":\"statistics\",\"name\":\"st\",\"columns\":2,\"model\":\"cnn\"}", "model: unknown key" },
        { "{\"kind\":\"statistics\",\"name\":\"st\",\"columns\":2,\"min_count\":0}", "min_count" },
        { "{\"kind\":\"statistics\",\"name\":\"st\",\"columns\":2,\"secure_aggregation\":{}}", "min_sites >= 2" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        st = parse(bad[i].json, &j);
        CHECK_MSG(st == GF_ERR_ARG && strstr(gf_last_error(), bad[i].want), "case %zu: %s", i, gf_last_error());
    }
}

int main(void)
{
    test_fed_dataset_optional();
    test_statistics();
    test_federated_example();
    test_central_example();
    test_defaults();
    test_variants();
    test_bad();
    test_size_limit();
    return check_summary();
}
