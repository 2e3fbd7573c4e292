/* The task message (fed/task.h): a task round-trips through its encoder and
 * decoder field for field (with and without DP-SGD and secure aggregation),
 * the wire form carries the values a reader expects (checked with jansson,
 * not with the codec), and malformed or hostile tasks are refused with a
 * message naming what is wrong: not JSON, duplicate or unknown keys, a
 * missing key, wrong types, out-of-range and huge numbers, a model spec
 * that does not parse, paths other than the round's, bad secure-aggregation
 * parameters. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "check.h"
#include "data/preprocess.h"
#include "fed/task.h"

static gf_fed_task sample(int secure, int dpsgd)
{
    gf_fed_task t = { .job = 12, .round = 3, .name = "mnist-fl", .tenant = "clinic", .site = "hospital-a",
                      .model = "mlp:784-8-10", .strategy = GF_STRAT_FEDPROX, .mu = 0.01, .seed = 7,
                      .deadline_in_s = 59.5 };
    t.local.epochs = 2;
    t.local.steps = -1;
    t.local.batch = 32;
    t.local.optim = gf_optim_defaults(GF_OPTIM_SGD, 0.05f);
    t.local.optim.momentum = 0.9f;
    if (dpsgd) t.local.dpsgd = (gf_dpsgd_config){ .enabled = 1, .clip = 1.0, .noise = 1.1, .delta = 1e-5 };
    gf_fed_task_set_paths(&t);
    if (secure) {
        t.secagg.enabled = 1;
        t.secagg.index = 2;
        t.secagg.pub = (gf_secround_public){ .p = { .n = 5, .k = 4, .t = 3, .d = 7951 }, .clip = 8.0,
                                             .max_weight = 100.0, .dp_clip = 0.5, .dp_noise_std = 0.25,
                                             .dp_count = 1, .dp_count_noise_std = 0.125 };
        snprintf(t.secagg.attempt, sizeof t.secagg.attempt, "0a1b2c3d");
    }
    return t;
}

static int same(const gf_fed_task *a, const gf_fed_task *b)
{
    return a->job == b->job && a->round == b->round && !strcmp(a->name, b->name) && !strcmp(a->tenant, b->tenant) &&
           !strcmp(a->site, b->site) && !strcmp(a->model, b->model) && a->strategy == b->strategy && a->mu == b->mu &&
           a->local.epochs == b->local.epochs && a->local.steps == b->local.steps && a->local.batch == b->local.batch &&
           !memcmp(&a->local.optim, &b->local.optim, sizeof a->local.optim) &&
           a->local.dpsgd.enabled == b->local.dpsgd.enabled && a->local.dpsgd.clip == b->local.dpsgd.clip &&
           a->local.dpsgd.noise == b->local.dpsgd.noise && a->local.dpsgd.delta == b->local.dpsgd.delta &&
           a->seed == b->seed && a->deadline_in_s == b->deadline_in_s && !strcmp(a->model_path, b->model_path) &&
           !strcmp(a->update_path, b->update_path) && a->secagg.enabled == b->secagg.enabled &&
           (!a->secagg.enabled ||
            (a->secagg.index == b->secagg.index && !strcmp(a->secagg.path, b->secagg.path) &&
             !strcmp(a->secagg.attempt, b->secagg.attempt) && a->secagg.pub.p.n == b->secagg.pub.p.n &&
             a->secagg.pub.p.k == b->secagg.pub.p.k && a->secagg.pub.p.t == b->secagg.pub.p.t &&
             a->secagg.pub.p.d == b->secagg.pub.p.d && a->secagg.pub.clip == b->secagg.pub.clip &&
             a->secagg.pub.max_weight == b->secagg.pub.max_weight && a->secagg.pub.dp_clip == b->secagg.pub.dp_clip &&
             a->secagg.pub.dp_noise_std == b->secagg.pub.dp_noise_std &&
             a->secagg.pub.dp_count == b->secagg.pub.dp_count &&
             a->secagg.pub.dp_count_noise_std == b->secagg.pub.dp_count_noise_std));
}

/* "evaluate": absent by default; when set it travels with its path and
 * "only"; an evaluation-only round cannot be a secure one; a wrong path,
 * a missing or non-boolean "only" and unknown keys are refused. */
static void test_evaluate(void)
{
    for (int only = 0; only < 2; only++) {
        gf_fed_task t = sample(0, 0), back;
        t.evaluate.enabled = 1;
        t.evaluate.only = only;
        char *json = NULL;
        CHECK_MSG(gf_fed_task_encode(&t, &json) == GF_OK, "%s", gf_last_error());
        if (!json) continue;
        CHECK(strstr(json, only ? "\"evaluate\":{\"path\":\"/v1/jobs/12/rounds/3/eval\",\"only\":true}"
                                : "\"evaluate\":{\"path\":\"/v1/jobs/12/rounds/3/eval\",\"only\":false}") != NULL);
        CHECK(gf_fed_task_decode(json, strlen(json), &back) == GF_OK && back.evaluate.enabled &&
              back.evaluate.only == only && !strcmp(back.evaluate.path, "/v1/jobs/12/rounds/3/eval"));
        free(json);
    }
    gf_fed_task t = sample(0, 0), back;
    char *json = NULL;
    CHECK(gf_fed_task_encode(&t, &json) == GF_OK && json && !strstr(json, "evaluate"));
    CHECK(json && gf_fed_task_decode(json, strlen(json), &back) == GF_OK && !back.evaluate.enabled);
    free(json);
    t = sample(1, 0);
    t.evaluate.enabled = t.evaluate.only = 1;
    CHECK(gf_fed_task_encode(&t, &json) == GF_ERR_ARG && !json);
    const char *good = "{\"job\":12,\"name\":\"n\",\"tenant\":null,\"site\":\"s\",\"round\":3,"
        "\"model\":\"mlp:4-2\",\"strategy\":\"fedavg\",\"mu\":0,\"local\":{\"epochs\":1,\"steps\":null,"
        "\"batch\":8,\"optim\":{\"name\":\"sgd\",\"lr\":0.1,\"momentum\":0,\"weight_decay\":0,\"beta1\":0.9,"
        "\"beta2\":0.999,\"eps\":1e-8}},\"seed\":1,\"deadline_in_s\":5,\"model_path\":\"/v1/jobs/12/rounds/3/model\","
        "\"update_path\":\"/v1/jobs/12/rounds/3/update\",\"evaluate\":%s}";
    const char *bad[][2] = {
        { "{\"path\":\"/v1/jobs/12/rounds/4/eval\",\"only\":false}", "evaluate.path must be" },
        { "{\"path\":\"/v1/jobs/12/rounds/3/eval\"}", "evaluate.only is missing" },
        { "{\"path\":\"/v1/jobs/12/rounds/3/eval\",\"only\":1}", "evaluate.only must be true or false" },
        { "{\"path\":\"/v1/jobs/12/rounds/3/eval\",\"only\":true,\"x\":1}", "unknown key \"x\" in evaluate" },
        { "true", "evaluate must be an object" },
    };
    char text[2048];
    snprintf(text, sizeof text, good, "{\"path\":\"/v1/jobs/12/rounds/3/eval\",\"only\":true}");
    CHECK_MSG(gf_fed_task_decode(text, strlen(text), &back) == GF_OK && back.evaluate.only, "%s", gf_last_error());
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, good, bad[i][0]);
        gf_status st = gf_fed_task_decode(text, strlen(text), &back);
        CHECK_MSG(st == GF_ERR_FORMAT && strstr(gf_last_error(), bad[i][1]), "%s: %s", bad[i][0], gf_last_error());
    }
}

static void test_round_trip(void)
{
    for (int secure = 0; secure < 2; secure++)
        for (int dp = 0; dp < 2; dp++) {
            gf_fed_task t = sample(secure, dp), back;
            if (secure) t.tenant[0] = 0, t.local.steps = 40, t.strategy = GF_STRAT_FEDAVG, t.mu = 0;
            char *json = NULL;
            CHECK_MSG(gf_fed_task_encode(&t, &json) == GF_OK, "%s", gf_last_error());
            if (!json) continue;
            CHECK_MSG(gf_fed_task_decode(json, strlen(json), &back) == GF_OK, "%s", gf_last_error());
            CHECK_MSG(same(&t, &back), "round trip (secure %d, dp %d) differs: %s", secure, dp, json);
            /* the wire form, read without the codec */
            json_t *o = json_loads(json, 0, NULL);
            json_t *l = json_object_get(o, "local");
            CHECK(json_integer_value(json_object_get(o, "job")) == 12 &&
                  json_integer_value(json_object_get(o, "round")) == 3 &&
                  !strcmp(json_string_value(json_object_get(o, "update_path")), "/v1/jobs/12/rounds/3/update") &&
                  json_integer_value(json_object_get(l, "batch")) == 32);
            CHECK(secure ? json_is_null(json_object_get(o, "tenant")) && json_integer_value(json_object_get(l, "steps")) == 40
                         : !strcmp(json_string_value(json_object_get(o, "tenant")), "clinic") &&
                           json_is_null(json_object_get(l, "steps")) &&
                           !strcmp(json_string_value(json_object_get(o, "strategy")), "fedprox"));
            CHECK((json_object_get(l, "dp_sgd") != NULL) == dp);
            json_t *sa = json_object_get(o, "secure_aggregation");
            CHECK((sa != NULL) == secure);
            if (sa)
                CHECK(json_integer_value(json_object_get(sa, "d")) == 7951 && json_is_true(json_object_get(sa, "dp_count")) &&
                      !strcmp(json_string_value(json_object_get(sa, "path")), "/v1/jobs/12/rounds/3/secagg"));
            json_decref(o);
            free(json);
        }
}

/* The encoded sample task with `key` (a dotted path) set to the JSON text
 * `value` ("" deletes it), decoded: must fail naming `words`. */
static void expect_refused(const char *what, const char *key, const char *value, const char *words)
{
    gf_fed_task t = sample(1, 1), back;
    char *json = NULL;
    CHECK(gf_fed_task_encode(&t, &json) == GF_OK);
    json_t *o = json_loads(json, 0, NULL);
    free(json);
    char path[64];
    snprintf(path, sizeof path, "%s", key);
    json_t *parent = o;
    char *leaf = path, *dot;
    while ((dot = strchr(leaf, '.'))) {
        *dot = 0;
        parent = json_object_get(parent, leaf);
        leaf = dot + 1;
    }
    if (!*value) json_object_del(parent, leaf);
    else {
        json_t *v = json_loads(value, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        CHECK_MSG(v != NULL, "test value %s", value);
        json_object_set_new(parent, leaf, v);
    }
    json = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    gf_status st = gf_fed_task_decode(json, strlen(json), &back);
    CHECK_MSG(st == GF_ERR_FORMAT && strstr(gf_last_error(), words), "%s: status %d, message \"%s\" (want \"%s\")",
              what, st, gf_last_error(), words);
    CHECK(back.job == 0 && back.model[0] == 0);   /* nothing half-filled */
    free(json);
}

static void expect_text_refused(const char *what, const char *text, size_t len, const char *words)
{
    gf_fed_task back;
    gf_status st = gf_fed_task_decode(text, len, &back);
    CHECK_MSG(st == GF_ERR_FORMAT && strstr(gf_last_error(), words), "%s: status %d, message \"%s\"", what, st,
              gf_last_error());
}

static void test_refusals(void)
{
    expect_text_refused("empty", "", 0, "not JSON");
    expect_text_refused("not JSON", "{\"job\": ", 8, "not JSON");
    expect_text_refused("an array", "[1, 2]", 6, "not a JSON object");
    expect_text_refused("duplicate key", "{\"job\": 1, \"job\": 2}", 20, "duplicate");
    expect_text_refused("huge integer", "{\"job\": 123456789012345678901234567890}", 40, "not JSON");
    expect_text_refused("huge real", "{\"mu\": 1e999}", 13, "not JSON");
    char *big = malloc(GF_FED_TASK_MAX + 2);
    memset(big, ' ', GF_FED_TASK_MAX + 1);
    big[GF_FED_TASK_MAX + 1] = 0;
    expect_text_refused("too big", big, GF_FED_TASK_MAX + 1, "over the limit");
    free(big);

    expect_refused("unknown key", "extra", "1", "unknown key \"extra\"");
    expect_refused("unknown local key", "local.lr", "0.1", "unknown key \"lr\" in local");
    expect_refused("unknown secagg key", "secure_aggregation.seed", "\"00\"", "unknown key \"seed\" in secure_aggregation");
    expect_refused("missing job", "job", "", "job is missing");
    expect_refused("missing optim", "local.optim", "", "local.optim is missing");
    expect_refused("missing attempt", "secure_aggregation.attempt", "", "secure_aggregation.attempt is missing");
    expect_refused("job as string", "job", "\"12\"", "job must be an integer");
    expect_refused("job zero", "job", "0", "job must be an integer in [1,");
    expect_refused("job negative", "job", "-5", "job must be an integer");
    expect_refused("round real", "round", "3.0", "round must be an integer");
    expect_refused("name empty", "name", "\"\"", "name must be a string of 1 to 64");
    expect_refused("name long", "name", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", "name must be");
    expect_refused("name with NUL", "name", "\"a\\u0000b\"", "not JSON");
    expect_refused("tenant number", "tenant", "5", "tenant must be null or a string");
    expect_refused("site object", "site", "{}", "site must be a string");
    expect_refused("model bad", "model", "\"mlp:784-x-10\"", "task: model:");
    expect_refused("model number", "model", "784", "model must be a string");
    expect_refused("strategy unknown", "strategy", "\"fedmagic\"", "strategy must name a strategy");
    expect_refused("mu negative", "mu", "-0.5", "mu must be a finite number");
    expect_refused("mu string", "mu", "\"0.1\"", "mu must be a finite number");
    expect_refused("epochs zero", "local.epochs", "0", "local.epochs must be an integer in [1, 1000000]");
    expect_refused("epochs huge", "local.epochs", "9223372036854775807", "local.epochs must be an integer");
    expect_refused("batch huge", "local.batch", "1000000", "local.batch must be an integer in [1, 65536]");
    expect_refused("steps negative", "local.steps", "-1", "local.steps must be null or an integer");
    expect_refused("optim unknown", "local.optim.name", "\"lion\"", "local.optim.name must name an optimizer");
    expect_refused("lr zero", "local.optim.lr", "0", "local.optim.lr must be a finite number in (0,");
    expect_refused("lr over a float", "local.optim.lr", "1e300", "(as a float)");
    expect_refused("beta1 1 as a float", "local.optim.beta1", "0.99999997615814209", "(as a float)");
    expect_refused("momentum one", "local.optim.momentum", "1.0", "local.optim.momentum must be");
    expect_refused("dp_sgd not object", "local.dp_sgd", "true", "local.dp_sgd must be an object");
    expect_refused("dp_sgd clip zero", "local.dp_sgd.clip", "0", "local.dp_sgd.clip must be");
    expect_refused("dp_sgd delta one", "local.dp_sgd.delta", "1.5", "local.dp_sgd.delta must be");
    expect_refused("seed negative", "seed", "-1", "seed must be an integer in [0,");
    expect_refused("deadline huge", "deadline_in_s", "1e300", "deadline_in_s must be a finite number");
    expect_refused("model path elsewhere", "model_path", "\"https://evil.example/x\"",
                   "model_path must be \"/v1/jobs/12/rounds/3/model\"");
    expect_refused("update path other job", "update_path", "\"/v1/jobs/13/rounds/3/update\"", "update_path must be");
    expect_refused("secagg n one", "secure_aggregation.n", "1", "secure_aggregation.n must be an integer in [2,");
    expect_refused("secagg index out", "secure_aggregation.index", "5", "secure_aggregation.index must be an integer in [0, 4]");
    expect_refused("secagg t over n", "secure_aggregation.t", "6", "secure_aggregation.t must be");
    expect_refused("secagg d huge", "secure_aggregation.d", "9223372036854775807", "secure_aggregation.d must be");
    expect_refused("secagg clip zero", "secure_aggregation.clip", "0", "secure_aggregation.clip must be");
    expect_refused("secagg dp_count number", "secure_aggregation.dp_count", "1", "dp_count must be true or false");
    expect_refused("secagg attempt not hex", "secure_aggregation.attempt", "\"ZZ\"", "lowercase hexadecimal");
    expect_refused("secagg attempt long", "secure_aggregation.attempt", "\"0123456789abcdef0123456789\"",
                   "secure_aggregation.attempt must be a string of 1 to 23");
    expect_refused("secagg path", "secure_aggregation.path", "\"/v1/jobs/12/rounds/3/update\"",
                   "secure_aggregation.path must be");
    expect_refused("secagg not object", "secure_aggregation", "[]", "secure_aggregation must be an object");

    /* what the encoder would write but the site refuse, it refuses to write */
    gf_fed_task t = sample(0, 0);
    snprintf(t.model, sizeof t.model, "mlp:bad");
    char *json = NULL;
    CHECK(gf_fed_task_encode(&t, &json) == GF_ERR_ARG && !json && strstr(gf_last_error(), "would not decode"));
    t = sample(0, 0);
    t.local.batch = 0;
    CHECK(gf_fed_task_encode(&t, &json) == GF_ERR_ARG && !json && strstr(gf_last_error(), "local.batch"));
}

/* a statistics task: its plan travels exactly; a model beside it, or bad ranges, are refused */
static void test_statistics(void)
{
    gf_fed_task t = sample(1, 0), back;
    double ranges[6] = { 20, 90, 100.25, 600, -1e-3, 4 };
    t.model[0] = 0;
    t.stats = (gf_fedstats_config){ .enabled = 1, .columns = 3, .bins = 20, .classes = 2, .min_count = 12,
                                    .nranges = 3, .range = ranges };
    char *json = NULL;
    CHECK(gf_fed_task_encode(&t, &json) == GF_OK && json);
    CHECK(json && gf_fed_task_decode(json, strlen(json), &back) == GF_OK);
    CHECK(back.stats.enabled && back.stats.columns == 3 && back.stats.bins == 20 && back.stats.classes == 2 &&
          back.stats.min_count == 12 &&
          back.stats.nranges == 3 && back.stats.range && back.stats.range != ranges &&
          !memcmp(back.stats.range, ranges, sizeof ranges) && !back.model[0] && back.secagg.enabled);
    gf_fed_task_free(&back);
    free(json);
    snprintf(t.model, sizeof t.model, "mlp:784-8-10");
    CHECK(gf_fed_task_encode(&t, &json) == GF_ERR_ARG && strstr(gf_last_error(), "model"));
    t.model[0] = 0;
    ranges[1] = 10;                                    /* lo > hi */
    CHECK(gf_fed_task_encode(&t, &json) == GF_ERR_ARG && strstr(gf_last_error(), "range"));
    t.stats.enabled = 0;                               /* an empty model without statistics */
    CHECK(gf_fed_task_encode(&t, &json) == GF_ERR_ARG && strstr(gf_last_error(), "model"));
}

/* a task's preprocessing travels whole; a malformed one is refused */
static void test_preprocess(void)
{
    gf_fed_task t = sample(0, 0), back;
    char pp[] = "{\"columns\":2,\"drop\":[1],\"fill\":[54.5,null],\"center\":[0.25,0],\"scale\":[3,1],\"binarize\":1,\"onehot\":[]}";
    t.preprocess = pp;
    char *json = NULL;
    CHECK(gf_fed_task_encode(&t, &json) == GF_OK && json);
    CHECK(json && gf_fed_task_decode(json, strlen(json), &back) == GF_OK && back.preprocess);
    gf_preprocess p;
    CHECK(back.preprocess && gf_preprocess_from_json(back.preprocess, strlen(back.preprocess), &p) == GF_OK &&
          p.columns == 2 && p.kept == 1 && p.fill[0] == 54.5f && p.center[0] == 0.25f && p.scale[0] == 3 &&
          p.binarize && p.threshold == 1);
    gf_preprocess_free(&p);
    gf_fed_task_free(&back);
    free(json);
    char bad[] = "{\"columns\":2,\"drop\":[],\"fill\":[null,null],\"center\":[0,0],\"scale\":[0,1],\"binarize\":null,\"onehot\":[]}";
    t.preprocess = bad;
    CHECK(gf_fed_task_encode(&t, &json) == GF_ERR_ARG && strstr(gf_last_error(), "scale"));
}

/* The poll's answer with a model attached (task.h): the JSON, spaces to one
 * byte short of a multiple of 8, a NUL; split back at the first NUL with
 * the padding dropped. Without a model: the JSON alone, which splits to
 * itself. A NUL right at the end is an empty model (which the model's own
 * decoder refuses); one past the largest task is not looked for. */
static void test_answer(void)
{
    gf_fed_task t = sample(1, 0), back;
    char *json = NULL, *ans = NULL;
    size_t len = 0, tlen = 0, mlen = 0;
    const uint8_t *model = NULL;
    CHECK(gf_fed_task_encode(&t, &json) == GF_OK && json);
    size_t n = json ? strlen(json) : 0;
    CHECK(gf_fed_task_encode_answer(&t, 0, &ans, &len) == GF_OK && len == n && ans && !strcmp(ans, json));
    free(ans);
    CHECK(gf_fed_task_encode_answer(&t, 1, &ans, &len) == GF_OK && ans);
    int spaces = 1;
    for (size_t i = n; ans && i + 1 < len; i++) spaces &= ans[i] == ' ';
    CHECK_MSG(ans && len % 8 == 0 && len > n && len - n <= 8 && ans[len - 1] == 0 && spaces &&
              !memcmp(ans, json, n), "answer head: %zu bytes for %zu of JSON", len, n);
    /* with a model behind it */
    char *full = malloc(len + 24);
    if (ans && full) {
        memcpy(full, ans, len);
        for (int i = 0; i < 24; i++) full[len + (size_t)i] = (char)i;   /* the model's bytes: NULs among them */
        gf_fed_task_split(full, len + 24, &tlen, &model, &mlen);
        CHECK(tlen == n && model == (const uint8_t *)full + len && mlen == 24);
        CHECK(gf_fed_task_decode(full, tlen, &back) == GF_OK && back.job == t.job && back.round == t.round);
        gf_fed_task_free(&back);
        gf_fed_task_split(full, len, &tlen, &model, &mlen);           /* the NUL, then nothing */
        CHECK(tlen == n && model == (const uint8_t *)full + len && mlen == 0);
    }
    gf_fed_task_split(json, n, &tlen, &model, &mlen);
    CHECK(tlen == n && !model && mlen == 0);
    /* a NUL past the largest task is not looked for: all of it is the task (refused by its size) */
    size_t big = GF_FED_TASK_MAX + 100;
    char *far = malloc(big);
    if (far) {
        memset(far, ' ', big);
        far[GF_FED_TASK_MAX + 50] = 0;
        gf_fed_task_split(far, big, &tlen, &model, &mlen);
        CHECK(!model && mlen == 0 && tlen == big);
    }
    free(far);
    free(full);
    free(ans);
    free(json);
}

int main(void)
{
    test_preprocess();
    test_statistics();
    test_round_trip();
    test_evaluate();
    test_refusals();
    test_answer();
    return check_summary();
}
