/* Program job specs (jobspec/jobspec_program.h): a full spec parses into
 * the fields written in it, defaults fill the rest, the canonical JSON is
 * the expected text (env sorted, every resource explicit) and reads back to
 * the same bytes; each bad spec is refused naming its JSON path. */
#include <stdio.h>
#include <string.h>
#include "check.h"
#include "jobspec/jobspec.h"
#include "jobspec/jobspec_program.h"

static void roundtrip(const char *json, const char *expected)
{
    gf_jobspec j, k;
    char *a = NULL, *b = NULL;
    CHECK_MSG(!gf_jobspec_parse(json, strlen(json), &j), "%s", gf_last_error());
    CHECK(!gf_jobspec_to_json(&j, &a));
    CHECK_MSG(a && !strcmp(a, expected), "got %s", a ? a : "(null)");
    CHECK(a && !gf_jobspec_parse(a, strlen(a), &k));
    CHECK(!gf_jobspec_to_json(&k, &b));
    CHECK(a && b && !strcmp(a, b));
    gf_jobspec_free(&j);
    gf_jobspec_free(&k);
    free(a);
    free(b);
}

static void refused(const char *json, const char *msg)
{
    gf_jobspec j;
    gf_status st = gf_jobspec_parse(json, strlen(json), &j);
    CHECK_MSG(st == GF_ERR_ARG, "accepted: %s", json);
    CHECK_MSG(strstr(gf_last_error(), msg), "%s: message \"%s\" lacks \"%s\"", json, gf_last_error(), msg);
    CHECK(j.program == NULL && j.name[0] == 0);     /* zeroed, nothing allocated */
}

int main(void)
{
    const char *full = "{\"kind\":\"program\",\"name\":\"torch-1\",\"tenant\":\"acme\","
                       "\"command\":[\"/usr/bin/python3\",\"train.py\",\"--lr\",\"0.1\",\"\"],"
                       "\"env\":{\"ZETA\":\"z\",\"ALPHA\":\"a=b\",\"PATH\":\"/job/bin:/usr/bin\"},"
                       "\"datasets\":[\"fashion-mnist\",\"cifar.small\"],"
                       "\"resources\":{\"cores\":2,\"memory_mb\":4096.0,\"time_limit_s\":600,\"processes\":1}}";
    gf_jobspec j;
    CHECK_MSG(!gf_jobspec_parse(full, strlen(full), &j), "%s", gf_last_error());
    CHECK(j.kind == GF_JOB_PROGRAM && !strcmp(j.name, "torch-1") && !strcmp(j.tenant, "acme"));
    CHECK(j.program && j.program->argc == 5 && !strcmp(j.program->argv[3], "0.1") && !strcmp(j.program->argv[4], "") &&
          j.program->argv[5] == NULL);
    CHECK(j.program && j.program->nenv == 3 && !strcmp(j.program->env[0], "ALPHA=a=b") &&
          !strcmp(j.program->env[1], "PATH=/job/bin:/usr/bin") && !strcmp(j.program->env[2], "ZETA=z"));
    CHECK(j.program && j.program->ndatasets == 2 && !strcmp(j.program->datasets[1], "cifar.small"));
    CHECK(j.resources.cores == 2 && j.resources.gpus == 0 && j.resources.memory_mb == 4096 &&
          j.resources.time_limit_s == 600 && j.program && j.program->processes == 1);
    gf_jobspec_free(&j);
    CHECK(j.program == NULL);
    roundtrip(full, "{\"kind\":\"program\",\"name\":\"torch-1\",\"tenant\":\"acme\","
                    "\"command\":[\"/usr/bin/python3\",\"train.py\",\"--lr\",\"0.1\",\"\"],"
                    "\"env\":{\"ALPHA\":\"a=b\",\"PATH\":\"/job/bin:/usr/bin\",\"ZETA\":\"z\"},"
                    "\"datasets\":[\"fashion-mnist\",\"cifar.small\"],"
                    "\"resources\":{\"cores\":2,\"gpus\":0,\"memory_mb\":4096,\"time_limit_s\":600,\"processes\":1}}");
    roundtrip("{\"kind\":\"program\",\"name\":\"d\",\"command\":[\"x\"],\"resources\":{\"cores\":4,\"processes\":4}}",
              "{\"kind\":\"program\",\"name\":\"d\",\"command\":[\"x\"],\"env\":{},\"datasets\":[],"
              "\"resources\":{\"cores\":4,\"gpus\":0,\"memory_mb\":2048,\"time_limit_s\":3600,\"processes\":4}}");
    roundtrip("{\"kind\":\"program\",\"name\":\"t\",\"command\":[\"true\"]}",
              "{\"kind\":\"program\",\"name\":\"t\",\"command\":[\"true\"],\"env\":{},\"datasets\":[],"
              "\"resources\":{\"cores\":1,\"gpus\":0,\"memory_mb\":2048,\"time_limit_s\":3600,\"processes\":1}}");
    roundtrip("{\"kind\":\"program\",\"name\":\"q\",\"command\":[\"a\\\"b\\\\c\\n\"]}",
              "{\"kind\":\"program\",\"name\":\"q\",\"command\":[\"a\\\"b\\\\c\\n\"],\"env\":{},\"datasets\":[],"
              "\"resources\":{\"cores\":1,\"gpus\":0,\"memory_mb\":2048,\"time_limit_s\":3600,\"processes\":1}}");

#define P(x) "{\"kind\":\"program\",\"name\":\"t\"," x "}"
    refused("{\"kind\":\"program\",\"command\":[\"true\"]}", "name: required key missing");
    refused(P("\"command\":[\"true\"],\"tenant\":\"a/b\""), "tenant: must be");
    refused("{\"kind\":\"program\",\"name\":\"..\",\"command\":[\"true\"]}", "name: must be");
    refused(P("\"model\":\"cnn\",\"command\":[\"true\"]"), "model: unknown key for a program job");
    refused(P("\"env\":{}"), "command: required key missing");
    refused(P("\"command\":\"python3 train.py\""), "never a shell string");
    refused(P("\"command\":[]"), "command: must be an array");
    refused(P("\"command\":[\"\"]"), "command[0]: must be a non-empty string");
    refused(P("\"command\":[\"a\",3]"), "command[1]: must be a string, got 3");
    refused(P("\"command\":[\"a\"],\"env\":[\"X=1\"]"), "env: must be an object");
    refused(P("\"command\":[\"a\"],\"env\":{\"LD_PRELOAD\":\"/job/x.so\"}"), "env.LD_PRELOAD: the dynamic loader");
    refused(P("\"command\":[\"a\"],\"env\":{\"LD_LIBRARY_PATH\":\"/job\"}"), "env.LD_LIBRARY_PATH");
    refused(P("\"command\":[\"a\"],\"env\":{\"HOME\":\"/\"}"), "env.HOME: set by the facility");
    refused(P("\"command\":[\"a\"],\"env\":{\"GF_OUTPUT\":\"/\"}"), "env.GF_OUTPUT: set by the facility");
    refused(P("\"command\":[\"a\"],\"env\":{\"A B\":\"1\"}"), "env.A B: a variable name");
    refused(P("\"command\":[\"a\"],\"env\":{\"1X\":\"1\"}"), "env.1X: a variable name");
    refused(P("\"command\":[\"a\"],\"env\":{\"X\":1}"), "env.X: must be a string, got 1");
    refused(P("\"command\":[\"a\"],\"datasets\":[\"../etc\"]"), "datasets[0]:");
    refused(P("\"command\":[\"a\"],\"datasets\":[\"x\",\"y\",\"x\"]"), "datasets[2]: duplicate dataset \"x\" (also datasets[0])");
    refused(P("\"command\":[\"a\"],\"resources\":{\"processes\":2}"),
            "resources.processes: 2 is more than resources.cores (1)");
    refused(P("\"command\":[\"a\"],\"resources\":{\"cores\":3,\"processes\":4}"),
            "resources.processes: 4 is more than resources.cores (3)");
    refused(P("\"command\":[\"a\"],\"env\":{\"WORLD_SIZE\":\"2\"}"), "env.WORLD_SIZE: set by the facility");
    refused(P("\"command\":[\"a\"],\"env\":{\"MASTER_PORT\":\"1\"}"), "env.MASTER_PORT: set by the facility");
    /* processes > 1 and gpus > 0 parse; which executor gives GPUs is checked at submission (api.c) */
    roundtrip(P("\"command\":[\"a\"],\"resources\":{\"processes\":2,\"cores\":2,\"gpus\":1}"),
              P("\"command\":[\"a\"],\"env\":{},\"datasets\":[],"
                "\"resources\":{\"cores\":2,\"gpus\":1,\"memory_mb\":2048,\"time_limit_s\":3600,\"processes\":2}"));
    refused(P("\"command\":[\"a\"],\"resources\":{\"processes\":0}"), "resources.processes: must be an integer in [1, 1024], got 0");
    refused(P("\"command\":[\"a\"],\"resources\":{\"cores\":0}"), "resources.cores: must be an integer in [1, 1024], got 0");
    refused(P("\"command\":[\"a\"],\"resources\":{\"memory_mb\":1.5}"), "resources.memory_mb: must be an integer");
    refused(P("\"command\":[\"a\"],\"resources\":{\"time_limit_s\":true}"), "resources.time_limit_s: must be an integer");
    refused(P("\"command\":[\"a\"],\"resources\":{\"network\":true}"), "resources.network: unknown key");
    return check_summary();
}
