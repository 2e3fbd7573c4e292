/* Program job specs (jobspec_program.h): the keys of "kind": "program",
 * parsed and validated, and their canonical JSON. */
#include "jobspec/jobspec_program.h"
#include "data/dataset_name.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gf_status bad_value(const char *path, const char *what, const json_t *v)
{
    char got[80];
    if (json_is_string(v)) snprintf(got, sizeof got, "\"%.40s%s\"", json_string_value(v),
                                    json_string_length(v) > 40 ? "..." : "");
    else if (json_is_integer(v)) snprintf(got, sizeof got, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) snprintf(got, sizeof got, "%g", json_real_value(v));
    else snprintf(got, sizeof got, "%s", json_is_object(v) ? "an object" : json_is_array(v) ? "an array" :
                  json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null");
    for (char *p = got; *p; p++)
        if ((unsigned char)*p < 0x20) *p = '?';
    return gf_errorf(GF_ERR_ARG, "%s: must be %s, got %s", path, what, got);
}

static gf_status only_keys(const json_t *o, const char *prefix, const char *const *known, const char *list,
                           const char *context)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++) ok = !strcmp(key, known[i]);
        if (!ok)
            return gf_errorf(GF_ERR_ARG, "%s%s%.64s: unknown key%s (known: %s)", prefix, *prefix ? "." : "", key,
                             context, list);
    }
    return GF_OK;
}

/* An integer in [lo, hi] (3.0 counts); absent leaves *out. */
static gf_status get_integer(const json_t *o, const char *key, long long lo, long long hi, long long *out)
{
    const json_t *v = json_object_get(o, key);
    if (!v) return GF_OK;
    double r = json_is_integer(v) ? (double)json_integer_value(v) : json_is_real(v) ? json_real_value(v) : NAN;
    if (!isfinite(r) || r != floor(r) || r < (double)lo || r > (double)hi) {
        char path[64], what[80];
        snprintf(path, sizeof path, "resources.%s", key);
        snprintf(what, sizeof what, "an integer in [%lld, %lld]", lo, hi);
        return bad_value(path, what, v);
    }
    *out = json_is_integer(v) ? (long long)json_integer_value(v) : (long long)r;
    return GF_OK;
}

static gf_status parse_command(const json_t *v, gf_program_spec *p)
{
    if (!v) return gf_errorf(GF_ERR_ARG, "command: required key missing");
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > GF_PROGRAM_ARGS_MAX)
        return bad_value("command", "an array of 1..256 strings (the program and its arguments; never a shell "
                         "string)", v);
    size_t n = json_array_size(v);
    if (!(p->argv = calloc(n + 1, sizeof *p->argv))) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_array_get(v, i);
        char path[32];
        snprintf(path, sizeof path, "command[%zu]", i);
        if (!json_is_string(a) || (i == 0 && json_string_length(a) == 0))
            return bad_value(path, i == 0 ? "a non-empty string" : "a string", a);
        if (json_string_length(a) > GF_PROGRAM_STR_MAX)
            return gf_errorf(GF_ERR_ARG, "%s: too long (%zu bytes; at most %d)", path, json_string_length(a),
                             GF_PROGRAM_STR_MAX);
        if (!(p->argv[i] = strdup(json_string_value(a)))) return gf_errorf(GF_ERR_NOMEM, "out of memory");
        p->argc = (int)i + 1;
    }
    return GF_OK;
}

static int env_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128 || (s[0] >= '0' && s[0] <= '9')) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return 0;
    }
    return 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static gf_status parse_env(const json_t *v, gf_program_spec *p)
{
    if (!v || json_is_null(v)) return GF_OK;
    if (!json_is_object(v) || json_object_size(v) > GF_PROGRAM_ENV_MAX)
        return bad_value("env", "an object of at most 64 NAME: \"value\" pairs", v);
    if (!(p->env = calloc(json_object_size(v) + 1, sizeof *p->env))) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    const char *name;
    json_t *val;
    json_object_foreach((json_t *)v, name, val) {
        if (!env_name_ok(name))
            return gf_errorf(GF_ERR_ARG, "env.%.64s: a variable name is 1..128 of [A-Za-z0-9_], not starting "
                             "with a digit", name);
        if (!strncmp(name, "LD_", 3))
            return gf_errorf(GF_ERR_ARG, "env.%s: the dynamic loader's variables (LD_*) are not accepted", name);
        if (!strcmp(name, "HOME") || !strncmp(name, "GF_", 3))
            return gf_errorf(GF_ERR_ARG, "env.%s: set by the facility (HOME=/job, GF_OUTPUT, GF_METRICS); "
                             "it cannot be overridden", name);
        static const char *const ranks[] = { "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                                             "MASTER_PORT", NULL };
        for (int k = 0; ranks[k]; k++)
            if (!strcmp(name, ranks[k]))
                return gf_errorf(GF_ERR_ARG, "env.%s: set by the facility for each process (resources.processes); "
                                 "it cannot be overridden", name);
        char path[160];
        snprintf(path, sizeof path, "env.%s", name);
        if (!json_is_string(val)) return bad_value(path, "a string", val);
        if (json_string_length(val) > GF_PROGRAM_STR_MAX)
            return gf_errorf(GF_ERR_ARG, "%s: too long (%zu bytes; at most %d)", path, json_string_length(val),
                             GF_PROGRAM_STR_MAX);
        size_t len = strlen(name) + 1 + json_string_length(val) + 1;
        char *e = malloc(len);
        if (!e) return gf_errorf(GF_ERR_NOMEM, "out of memory");
        snprintf(e, len, "%s=%s", name, json_string_value(val));
        p->env[p->nenv++] = e;
    }
    qsort(p->env, (size_t)p->nenv, sizeof *p->env, cmp_str);
    return GF_OK;
}

static gf_status parse_datasets(const json_t *v, gf_program_spec *p)
{
    if (!v || json_is_null(v)) return GF_OK;
    if (!json_is_array(v) || json_array_size(v) > GF_PROGRAM_DATASETS_MAX)
        return bad_value("datasets", "an array of at most 16 registered dataset names", v);
    size_t n = json_array_size(v);
    if (n && !(p->datasets = calloc(n, sizeof *p->datasets))) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *d = json_array_get(v, i);
        char path[32];
        snprintf(path, sizeof path, "datasets[%zu]", i);
        if (!json_is_string(d)) return bad_value(path, "a dataset name", d);
        if (gf_dataset_name_check(json_string_value(d))) {
            char msg[256];
            snprintf(msg, sizeof msg, "%s", gf_last_error());
            return gf_errorf(GF_ERR_ARG, "%s: %s", path, msg);
        }
        for (size_t k = 0; k < i; k++)
            if (!strcmp(p->datasets[k], json_string_value(d)))
                return gf_errorf(GF_ERR_ARG, "%s: duplicate dataset \"%s\" (also datasets[%zu])", path,
                                 json_string_value(d), k);
        snprintf(p->datasets[i], sizeof p->datasets[i], "%s", json_string_value(d));
        p->ndatasets = (int)i + 1;
    }
    return GF_OK;
}

static gf_status parse_resources(const json_t *o, gf_jobspec *out)
{
    static const char *const keys[] = { "cores", "gpus", "memory_mb", "time_limit_s", "processes", NULL };
    long long cores = 1, gpus = 0, mem = 2048, tl = 3600, procs = 1;
    gf_status st;
    if (o && !json_is_object(o)) return bad_value("resources", "an object", o);
    if (o && ((st = only_keys(o, "resources", keys, "cores, gpus, memory_mb, time_limit_s, processes", "")) ||
              (st = get_integer(o, "cores", 1, 1024, &cores)) ||
              (st = get_integer(o, "gpus", 0, 64, &gpus)) ||
              (st = get_integer(o, "memory_mb", 64, 1048576, &mem)) ||
              (st = get_integer(o, "time_limit_s", 1, 30 * 86400, &tl)) ||
              (st = get_integer(o, "processes", 1, 1024, &procs))))
        return st;
    if (procs > cores)
        return gf_errorf(GF_ERR_ARG, "resources.processes: %lld is more than resources.cores (%lld): each process "
                         "(rank) needs a core of its own", procs, cores);
    /* GPUs: which executor can give them is checked at submission (service/api.c) */
    out->resources.cores = (int)cores;
    out->resources.gpus = (int)gpus;
    out->resources.memory_mb = mem;
    out->resources.time_limit_s = tl;
    out->program->processes = (int)procs;
    out->resources.processes = (int)procs;
    return GF_OK;
}

/* Job and tenant names: 1..64 of [A-Za-z0-9._-], not "." or ".." (jobspec.h). */
static gf_status get_name(const json_t *root, const char *key, int required, char *dst)
{
    const json_t *v = json_object_get(root, key);
    if (!v) return required ? gf_errorf(GF_ERR_ARG, "%s: required key missing", key) : GF_OK;
    const char *what = "1..64 characters of A-Z a-z 0-9 . _ - (not \".\" or \"..\")";
    if (!json_is_string(v)) return bad_value(key, what, v);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    int ok = n >= 1 && n <= GF_JOBSPEC_NAME_MAX && strcmp(s, ".") && strcmp(s, "..");
    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
             s[i] == '.' || s[i] == '_' || s[i] == '-';
    if (!ok) return bad_value(key, what, v);
    memcpy(dst, s, n + 1);
    return GF_OK;
}

gf_status gf_jobspec_program_parse(const json_t *root, gf_jobspec *out)
{
    static const char *const keys[] = { "kind", "name", "tenant", "command", "env", "datasets", "resources", NULL };
    gf_status st = only_keys(root, "", keys, "kind, name, tenant, command, env, datasets, resources",
                             " for a program job");
    if (st) return st;
    out->kind = GF_JOB_PROGRAM;
    if ((st = get_name(root, "name", 1, out->name)) || (st = get_name(root, "tenant", 0, out->tenant))) return st;
    if (!(out->program = calloc(1, sizeof *out->program))) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    gf_program_spec *p = out->program;
    if ((st = parse_command(json_object_get(root, "command"), p)) ||
        (st = parse_env(json_object_get(root, "env"), p)) ||
        (st = parse_datasets(json_object_get(root, "datasets"), p)) ||
        (st = parse_resources(json_object_get(root, "resources"), out)))
        return st;
    return GF_OK;
}

gf_status gf_jobspec_program_json(const gf_jobspec *j, char **out)
{
    *out = NULL;
    const gf_program_spec *p = j->program;
    if (!p) return gf_errorf(GF_ERR_ARG, "gf_jobspec_to_json: a program spec without its program");
    json_t *root = json_object(), *cmd = json_array(), *env = json_object(), *ds = json_array();
    json_object_set_new(root, "kind", json_string("program"));
    json_object_set_new(root, "name", json_string(j->name));
    if (j->tenant[0]) json_object_set_new(root, "tenant", json_string(j->tenant));
    for (int i = 0; i < p->argc; i++) json_array_append_new(cmd, json_string(p->argv[i]));
    for (int i = 0; i < p->nenv; i++) {
        const char *eq = strchr(p->env[i], '=');
        char name[132];
        snprintf(name, sizeof name, "%.*s", (int)(eq - p->env[i]), p->env[i]);
        json_object_set_new(env, name, json_string(eq + 1));
    }
    for (int i = 0; i < p->ndatasets; i++) json_array_append_new(ds, json_string(p->datasets[i]));
    json_object_set_new(root, "command", cmd);
    json_object_set_new(root, "env", env);
    json_object_set_new(root, "datasets", ds);
    json_object_set_new(root, "resources", json_pack("{s:i,s:i,s:I,s:I,s:i}", "cores", j->resources.cores,
                        "gpus", j->resources.gpus, "memory_mb", (json_int_t)j->resources.memory_mb,
                        "time_limit_s", (json_int_t)j->resources.time_limit_s, "processes", p->processes));
    *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return *out ? GF_OK : gf_errorf(GF_ERR_NOMEM, "job spec: out of memory writing canonical JSON");
}

void gf_program_spec_free(gf_program_spec *p)
{
    if (!p) return;
    for (int i = 0; p->argv && p->argv[i]; i++) free(p->argv[i]);
    for (int i = 0; i < p->nenv; i++) free(p->env[i]);
    free(p->argv);
    free(p->env);
    free(p->datasets);
    free(p);
}
