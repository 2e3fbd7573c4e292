/* docs/jobspec.md against the parser (jobspec/jobspec.c), so that neither
 * drifts from the other:
 *  - every key of the doc's tables is a key the parser knows (setting it to
 *    a bad value is refused for its value, never as an unknown key);
 *  - at every object of a spec, the keys the parser knows (its "unknown key
 *    ... (known: ...)" answer to an injected key) are exactly the doc's;
 *  - every key the doc marks "(required)" is refused when it is missing;
 *  - every default the doc gives in backticks is what the canonical spec of
 *    a minimal spec holds at that path. */
#include "jobspec/jobspec.h"
#include "check.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOC_PATH "docs/jobspec.md"
#define MAX_ROWS 256

typedef struct {
    char path[96];       /* "local.optim.lr" */
    char def[64];        /* the default in backticks ("" when none) */
    int  required;
} doc_row;

typedef struct {
    const char *kind;    /* "federated", "central" or "statistics" */
    const char *full;    /* a valid spec with every object present */
    const char *minimal; /* the smallest valid spec */
    doc_row rows[MAX_ROWS];
    int n;
} doc_table;

static doc_table tables[] = {
    { "federated",
      "{\"name\":\"a\",\"model\":\"mlp:4-3\",\"strategy\":{\"name\":\"fedavg\"},\"rounds\":2,\"min_sites\":2,"
      "\"local\":{\"optim\":{},\"dp_sgd\":{\"clip\":1,\"noise\":1}},\"secure_aggregation\":{},"
      "\"dp\":{\"clip\":1,\"noise\":1,\"adaptive\":{}},\"preprocess\":{\"from\":1}}",
      "{\"name\":\"a\",\"model\":\"mlp:4-3\",\"strategy\":{\"name\":\"fedavg\"},\"rounds\":2}", {{{0}}}, 0 },
    { "central",
      "{\"kind\":\"central\",\"name\":\"a\",\"model\":\"mlp:4-3\",\"dataset\":\"d\",\"optim\":{},\"resources\":{}}",
      "{\"kind\":\"central\",\"name\":\"a\",\"model\":\"mlp:4-3\",\"dataset\":\"d\"}", {{{0}}}, 0 },
    { "statistics",
      "{\"kind\":\"statistics\",\"name\":\"a\",\"columns\":2,\"range\":[0,1],\"min_sites\":2,\"secure_aggregation\":{}}",
      "{\"kind\":\"statistics\",\"name\":\"a\",\"columns\":2}", {{{0}}}, 0 },
};
#define NTABLES (int)(sizeof tables / sizeof tables[0])

/* The text between the first pair of backticks in s (up to end), or "". */
static void first_code(const char *s, const char *end, char *out, size_t cap)
{
    out[0] = '\0';
    const char *a = memchr(s, '`', (size_t)(end - s));
    const char *b = a ? memchr(a + 1, '`', (size_t)(end - a - 1)) : NULL;
    if (!b || (size_t)(b - a - 1) >= cap) return;
    memcpy(out, a + 1, (size_t)(b - a - 1));
    out[b - a - 1] = '\0';
}

/* Reads the tables: rows "| `path` | type | range | default | meaning |"
 * after a "<!-- jobspec: KIND -->" line, until a line not starting with '|'. */
static int read_doc(void)
{
    FILE *f = fopen(DOC_PATH, "r");
    if (!f) { fprintf(stderr, "cannot open %s (run from the repository root)\n", DOC_PATH); return -1; }
    char line[2048];
    doc_table *t = NULL;
    while (fgets(line, sizeof line, f)) {
        char kind[32];
        if (sscanf(line, "<!-- jobspec: %31[a-z] -->", kind) == 1) {
            t = NULL;
            for (int i = 0; i < NTABLES; i++) if (!strcmp(tables[i].kind, kind)) t = &tables[i];
            CHECK_MSG(t, "unknown table kind %s in %s", kind, DOC_PATH);
            continue;
        }
        if (!t) continue;
        if (line[0] != '|') { if (t->n) t = NULL; continue; }
        if (strncmp(line, "| `", 3)) continue;          /* header and rule lines */
        const char *cell[6];
        int nc = 0;
        for (const char *p = line; *p && nc < 6; p++) if (*p == '|') cell[nc++] = p;
        if (nc < 6 || t->n == MAX_ROWS) { CHECK_MSG(0, "malformed row: %s", line); continue; }
        doc_row *r = &t->rows[t->n++];
        first_code(cell[0], cell[1], r->path, sizeof r->path);
        first_code(cell[3], cell[4], r->def, sizeof r->def);
        char d[256];
        snprintf(d, sizeof d, "%.*s", (int)(cell[4] - cell[3]), cell[3]);
        r->required = strstr(d, "(required)") != NULL;
    }
    fclose(f);
    return 0;
}

/* The object at dotted path in root ("" = root), or NULL. */
static json_t *at(json_t *root, const char *path)
{
    char buf[96];
    snprintf(buf, sizeof buf, "%.95s", path);
    json_t *o = root;
    for (char *tok = strtok(buf, "."); tok && o; tok = strtok(NULL, ".")) o = json_object_get(o, tok);
    return o;
}

static void split_path(const char *path, char *parent, size_t cap, const char **key)
{
    const char *dot = strrchr(path, '.');
    snprintf(parent, cap, "%.*s", dot ? (int)(dot - path) : 0, path);
    *key = dot ? dot + 1 : path;
}

/* Parses the spec j; returns the status, the message in msg. */
static gf_status try_spec(json_t *j, char *msg, size_t cap)
{
    char *text = json_dumps(j, JSON_COMPACT);
    gf_jobspec s;
    gf_status st = gf_jobspec_parse(text, strlen(text), &s);
    snprintf(msg, cap, "%s", st ? gf_last_error() : "");
    if (!st) gf_jobspec_free(&s);
    free(text);
    return st;
}

/* Every doc key is known to the parser: a bad value for it is refused for
 * its value (or the key is accepted), never as an unknown key. */
static void test_doc_keys_known(const doc_table *t)
{
    for (int i = 0; i < t->n; i++) {
        char parent[96], msg[1024], unknown[160];
        const char *key;
        split_path(t->rows[i].path, parent, sizeof parent, &key);
        json_t *root = json_loads(t->full, 0, NULL);
        json_t *obj = at(root, parent);
        CHECK_MSG(json_is_object(obj), "%s: %s has no object %s in the test's full spec", t->kind,
                  t->rows[i].path, parent);
        if (json_is_object(obj)) {
            json_object_set_new(obj, key, json_string("not-a-valid-value-zz"));
            try_spec(root, msg, sizeof msg);
            snprintf(unknown, sizeof unknown, "%s: unknown key", t->rows[i].path);
            CHECK_MSG(!strstr(msg, unknown), "%s: the doc's key %s is unknown to the parser: %s", t->kind,
                      t->rows[i].path, msg);
        }
        json_decref(root);
    }
}

/* At each object the doc describes, the parser's known keys equal the doc's. */
static void test_parser_keys_documented(const doc_table *t)
{
    char parents[MAX_ROWS][96];
    int np = 0;
    for (int i = 0; i < t->n; i++) {       /* "" and every path some row's parent */
        char parent[96];
        const char *key;
        split_path(t->rows[i].path, parent, sizeof parent, &key);
        int seen = 0;
        for (int k = 0; k < np; k++) seen |= !strcmp(parents[k], parent);
        if (!seen) snprintf(parents[np++], sizeof parents[0], "%s", parent);
    }
    for (int p = 0; p < np; p++) {
        json_t *root = json_loads(t->full, 0, NULL);
        json_t *obj = at(root, parents[p]);
        char msg[1024];
        if (!json_is_object(obj)) { CHECK_MSG(0, "%s: no object %s", t->kind, parents[p]); json_decref(root); continue; }
        json_object_set_new(obj, "zz_not_a_key", json_integer(1));
        gf_status st = try_spec(root, msg, sizeof msg);
        json_decref(root);
        const char *k = strstr(msg, "(known: ");
        CHECK_MSG(st == GF_ERR_ARG && strstr(msg, "zz_not_a_key: unknown key") && k, "%s: object \"%s\": %s",
                  t->kind, parents[p], msg);
        if (!k) continue;
        char list[512];
        snprintf(list, sizeof list, "%s", k + 8);
        char *close = strchr(list, ')');
        if (close) *close = '\0';
        int nparser = 0;
        for (char *tok = strtok(list, ", "); tok; tok = strtok(NULL, ", ")) {
            nparser++;
            char path[200];
            if (parents[p][0]) snprintf(path, sizeof path, "%.95s.%.95s", parents[p], tok);
            else snprintf(path, sizeof path, "%.95s", tok);
            int found = 0;
            for (int i = 0; i < t->n; i++) found |= !strcmp(t->rows[i].path, path);
            CHECK_MSG(found, "%s job: the parser takes %s, which %s does not document", t->kind, path, DOC_PATH);
        }
        int ndoc = 0;
        for (int i = 0; i < t->n; i++) {
            char parent[96];
            const char *key;
            split_path(t->rows[i].path, parent, sizeof parent, &key);
            ndoc += !strcmp(parent, parents[p]);
        }
        CHECK_MSG(ndoc == nparser, "%s job, object \"%s\": %d keys in the doc, %d in the parser", t->kind,
                  parents[p], ndoc, nparser);
    }
}

/* Keys marked required are refused when missing from the full spec. */
static void test_required(const doc_table *t)
{
    int n = 0;
    for (int i = 0; i < t->n; i++) {
        if (!t->rows[i].required) continue;
        n++;
        char parent[96], msg[1024], want[160];
        const char *key;
        split_path(t->rows[i].path, parent, sizeof parent, &key);
        json_t *root = json_loads(t->full, 0, NULL);
        json_t *obj = at(root, parent);
        if (!strcmp(t->rows[i].path, "kind")) {   /* without it a spec is federated: central keys are unknown */
            json_object_del(obj, key);
            try_spec(root, msg, sizeof msg);
            CHECK_MSG(strstr(msg, "unknown key for a federated job"), "%s: without kind: %s", t->kind, msg);
        } else {
            json_object_del(obj, key);
            gf_status st = try_spec(root, msg, sizeof msg);
            snprintf(want, sizeof want, "%s: required key missing", t->rows[i].path);
            CHECK_MSG(st == GF_ERR_ARG && strstr(msg, want), "%s: %s documented as required: %s", t->kind,
                      t->rows[i].path, st ? msg : "accepted without it");
        }
        json_decref(root);
    }
    CHECK_MSG(n >= 3, "%s: only %d required keys found in the doc", t->kind, n);
}

/* Defaults in backticks are the canonical spec's values for a minimal spec. */
static void test_defaults(const doc_table *t)
{
    gf_jobspec s;
    char *canon = NULL;
    gf_status st = gf_jobspec_parse(t->minimal, strlen(t->minimal), &s);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (st) return;
    CHECK(gf_jobspec_to_json(&s, &canon) == GF_OK);
    gf_jobspec_free(&s);
    json_t *root = canon ? json_loads(canon, 0, NULL) : NULL;
    int n = 0;
    for (int i = 0; root && i < t->n; i++) {
        if (!t->rows[i].def[0]) continue;
        n++;
        json_t *want = json_loads(t->rows[i].def, JSON_DECODE_ANY, NULL);
        json_t *got = at(root, t->rows[i].path);
        int eq = want && got && (json_is_number(want) && json_is_number(got)
                                     ? json_number_value(want) == json_number_value(got)
                                     : json_equal(want, got));
        char *g = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
        CHECK_MSG(eq, "%s: %s documented default %s, the canonical spec holds %s", t->kind, t->rows[i].path,
                  t->rows[i].def, g ? g : "nothing");
        free(g);
        json_decref(want);
    }
    CHECK_MSG(n >= 6, "%s: only %d defaults checked", t->kind, n);
    json_decref(root);
    free(canon);
}

int main(void)
{
    if (read_doc()) return 1;
    for (int i = 0; i < NTABLES; i++) {
        CHECK_MSG(tables[i].n >= 10, "%s: %d rows read from %s", tables[i].kind, tables[i].n, DOC_PATH);
        test_doc_keys_known(&tables[i]);
        test_parser_keys_documented(&tables[i]);
        test_required(&tables[i]);
        test_defaults(&tables[i]);
    }
    return check_summary();
}
