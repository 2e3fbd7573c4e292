/* Audit log: concurrent appends (every seq once, chain valid), reopen and
 * continue, an independent SHA-256 of the documented bytes (and a known
 * answer), tampering (altered byte, removed, swapped, renumbered, re-hashed
 * and foreign entries) named by line, torn-tail repair, input validation,
 * entries appended together (all or none), the single-writer lock, and kill -9 of a writing process at random
 * moments, 20 times. */
#include "io/audit.h"

#include <errno.h>
#include <ftw.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "check.h"

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"
#define NTHREADS 4
#define PER_THREAD 25

static char base[64];

static const char *path(const char *name)
{
    static char buf[8][256];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, 256, "%s/%s", base, name);
    return p;
}

/* Whole file, NUL-terminated; *len gets its size. */
static char *slurp(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) { free(s); s = NULL; }
    fclose(f);
    if (s) s[n] = 0;
    if (len) *len = s ? (size_t)n : 0;
    return s;
}

static void spit(const char *p, const char *data, size_t len)
{
    FILE *f = fopen(p, "wb");
    if (!f) return;
    fwrite(data, 1, len, f);
    fclose(f);
}

/* Splits a log into at most max lines (each without '\n', in place). */
static int split_lines(char *s, char **lines, int max)
{
    int n = 0;
    for (char *p = s; *p && n < max;) {
        char *nl = strchr(p, '\n');
        lines[n++] = p;
        if (!nl) break;
        *nl = 0;
        p = nl + 1;
    }
    return n;
}

/* Joins lines back into a log file, each followed by '\n'. */
static void write_lines(const char *p, char **lines, int n)
{
    FILE *f = fopen(p, "wb");
    if (!f) return;
    for (int i = 0; i < n; i++) fprintf(f, "%s\n", lines[i]);
    fclose(f);
}

static long long file_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* SHA-256 hex of data, with GnuTLS directly (independent of audit.c). */
static void sha_hex(const void *data, size_t n, char hex[65])
{
    unsigned char d[32];
    gnutls_hash_fast(GNUTLS_DIG_SHA256, data, n, d);
    for (int i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", d[i]);
}

/* The documented hashed bytes of a parsed entry: {seq,time,actor,event,
 * detail,prev} compact, in order, ASCII-escaped. Caller frees. */
static char *hashed_bytes(json_t *e)
{
    json_t *o = json_object();
    const char *keys[] = {"seq", "time", "actor", "event", "detail", "prev"};
    for (int i = 0; i < 6; i++) json_object_set(o, keys[i], json_object_get(e, keys[i]));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(o);
    return s;
}

/* A syntactically perfect entry line with its own correct hash. */
static char *forge_line(uint64_t seq, const char *prev, const char *detail)
{
    char head[1024], hex[65];
    snprintf(head, sizeof head, "{\"seq\":%" PRIu64 ",\"time\":\"2025-01-01T00:00:00.000Z\",\"actor\":\"mallory\","
             "\"event\":\"forged\",\"detail\":%s,\"prev\":\"%s\"}", seq, detail, prev);
    sha_hex(head, strlen(head), hex);
    char *line = malloc(strlen(head) + 80);
    size_t n = strlen(head);
    memcpy(line, head, n - 1);
    sprintf(line + n - 1, ",\"hash\":\"%s\"}", hex);
    return line;
}

/* verify(p) must fail with GF_ERR_FORMAT and a message holding both words. */
static void expect_bad(const char *what, const char *p, const char *w1, const char *w2)
{
    gf_audit_summary sum;
    gf_status st = gf_audit_verify(p, &sum);
    const char *msg = gf_last_error();
    CHECK_MSG(st == GF_ERR_FORMAT && contains(msg, w1) && contains(msg, w2), "%s: status %d, message \"%s\"",
              what, (int)st, msg);
    if (st == GF_ERR_FORMAT) fprintf(stderr, "  %s -> %s\n", what, msg);
    /* opening for append refuses the same log and leaves it alone */
    long long before = file_size(p);
    gf_audit *a = NULL;
    CHECK_MSG(gf_audit_open(p, &a) == GF_ERR_FORMAT && a == NULL, "%s: open did not refuse", what);
    CHECK(file_size(p) == before);
    gf_audit_close(a);
}

/* ---- concurrent appends -------------------------------------------------- */

typedef struct { gf_audit *a; int t; uint64_t seqs[PER_THREAD]; int fails; } worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char d[64];
        snprintf(d, sizeof d, "{\"thread\":%d,\"i\":%d}", w->t, i);
        if (gf_audit_append(w->a, "site:hospital-a", "update.accepted", d, &w->seqs[i])) w->fails++;
    }
    return NULL;
}

static void test_concurrent_and_reopen(void)
{
    const char *p = path("log.jsonl");
    gf_audit *a = NULL;
    CHECK(gf_audit_open(p, &a) == GF_OK && a);
    if (!a) return;
    struct stat sb;
    CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    worker w[NTHREADS];
    pthread_t th[NTHREADS];
    for (int t = 0; t < NTHREADS; t++) {
        w[t] = (worker){.a = a, .t = t};
        pthread_create(&th[t], NULL, work, &w[t]);
    }
    int seen[NTHREADS * PER_THREAD + 1] = {0}, fails = 0, once = 1;
    for (int t = 0; t < NTHREADS; t++) {
        pthread_join(th[t], NULL);
        fails += w[t].fails;
        for (int i = 0; i < PER_THREAD; i++)
            if (w[t].seqs[i] >= 1 && w[t].seqs[i] <= NTHREADS * PER_THREAD) seen[w[t].seqs[i]]++;
    }
    for (int s = 1; s <= NTHREADS * PER_THREAD; s++) once &= seen[s] == 1;
    CHECK(fails == 0);
    CHECK_MSG(once, "every seq 1..100 handed out exactly once");
    gf_audit_close(a);

    gf_audit_summary sum;
    CHECK_MSG(gf_audit_verify(p, &sum) == GF_OK, "%s", gf_last_error());
    CHECK(sum.entries == 100);

    /* reopen and continue */
    uint64_t seq = 0;
    CHECK(gf_audit_open(p, &a) == GF_OK);
    CHECK(gf_audit_append(a, "operator", "site.revoked", "{\"site\":\"b\",\"note\":\"caf\xc3\xa9 \\u2603\"}", &seq) == GF_OK);
    CHECK(seq == 101);
    gf_audit_close(a);
    CHECK_MSG(gf_audit_verify(p, &sum) == GF_OK, "%s", gf_last_error());
    CHECK(sum.entries == 101);

    /* every line's hash, recomputed here from the documented bytes */
    size_t len;
    char *s = slurp(p, &len), *lines[128];
    int n = s ? split_lines(s, lines, 128) : 0;
    CHECK(n == 101);
    char prev[65] = ZEROS;
    int all_ok = 1;
    for (int i = 0; i < n; i++) {
        json_t *e = json_loads(lines[i], 0, NULL);
        char *hb = e ? hashed_bytes(e) : NULL, hex[65] = "";
        if (hb) sha_hex(hb, strlen(hb), hex);
        const char *h = e ? json_string_value(json_object_get(e, "hash")) : NULL;
        const char *pv = e ? json_string_value(json_object_get(e, "prev")) : NULL;
        /* the written line is those bytes with ,"hash":"H" before the final '}' */
        size_t hl = hb ? strlen(hb) : 0;
        int ok = h && pv && !strcmp(hex, h) && !strcmp(pv, prev) &&
                 json_integer_value(json_object_get(e, "seq")) == i + 1 && strlen(lines[i]) == hl + 74 &&
                 !memcmp(lines[i], hb, hl - 1);
        if (ok) {
            char tail[80];
            snprintf(tail, sizeof tail, ",\"hash\":\"%s\"}", h);
            ok = !strcmp(lines[i] + hl - 1, tail);
        }
        if (!ok && all_ok) fprintf(stderr, "line %d does not match the documented format: %s\n", i + 1, lines[i]);
        all_ok &= ok;
        if (h) snprintf(prev, sizeof prev, "%s", h);
        free(hb);
        json_decref(e);
    }
    CHECK_MSG(all_ok, "independent hash check of every line");
    CHECK(!strcmp(sum.last_hash, prev));
    CHECK(contains(lines[100], "\"note\":\"caf\\u00") && contains(lines[100], "\\u2603"));   /* ASCII-escaped */
    for (size_t i = 0; i < len; i++) if ((unsigned char)s[i] > 0x7e) { all_ok = 0; break; }
    CHECK_MSG(all_ok, "log is pure ASCII");
    free(s);
}

/* A known answer: the hash of a fixed entry, computed outside gf
 * (Python's hashlib over the documented bytes). */
static void test_known_answer(void)
{
    const char *p = path("kat.jsonl");
    gf_audit *a = NULL;
    uint64_t seq = 0;
    CHECK(gf_audit_open(p, &a) == GF_OK);
    CHECK(gf_audit_append_at(a, "2025-01-31T12:00:00.123Z", "operator", "test.kat", "{\"a\":1,\"b\":\"x\"}", &seq) == GF_OK);
    CHECK(seq == 1);
    gf_audit_close(a);
    char *s = slurp(p, NULL);
    const char *want = "{\"seq\":1,\"time\":\"2025-01-31T12:00:00.123Z\",\"actor\":\"operator\",\"event\":\"test.kat\","
                       "\"detail\":{\"a\":1,\"b\":\"x\"},\"prev\":\"" ZEROS "\","
                       "\"hash\":\"d82d2e2e64a7ec0f3a1a4f54f5ba46c77aa47fa4ed445b54fb5cdf6203e0949b\"}\n";
    CHECK_MSG(s && !strcmp(s, want), "got %s", s ? s : "(nothing)");
    free(s);
    gf_audit_summary sum;
    CHECK(gf_audit_verify(p, &sum) == GF_OK && sum.entries == 1 &&
          !strcmp(sum.last_hash, "d82d2e2e64a7ec0f3a1a4f54f5ba46c77aa47fa4ed445b54fb5cdf6203e0949b"));
    /* an empty log verifies */
    spit(path("empty.jsonl"), "", 0);
    CHECK(gf_audit_verify(path("empty.jsonl"), &sum) == GF_OK && sum.entries == 0 && !strcmp(sum.last_hash, ZEROS));
}

/* ---- tampering ----------------------------------------------------------- */

static void test_tamper(void)
{
    size_t len;
    char *good = slurp(path("log.jsonl"), &len);
    if (!good) { CHECK(0); return; }
    char *s, *lines[128];
    const char *t = path("tampered.jsonl");
    int n;

    /* one byte inside a detail */
    s = strdup(good);
    n = split_lines(s, lines, 128);
    char *d = strstr(lines[49], "\"i\":");
    if (d) d[4] = d[4] == '9' ? '8' : (char)(d[4] + 1);
    write_lines(t, lines, n);
    expect_bad("altered detail", t, "line 50:", "hash mismatch (entry altered)");
    free(s);

    /* a middle line deleted */
    s = strdup(good);
    n = split_lines(s, lines, 128);
    memmove(&lines[39], &lines[40], (size_t)(n - 40) * sizeof *lines);
    write_lines(t, lines, n - 1);
    expect_bad("deleted line", t, "line 40:", "seq 41, expected 40");
    free(s);

    /* two lines swapped */
    s = strdup(good);
    n = split_lines(s, lines, 128);
    char *tmp = lines[29];
    lines[29] = lines[30];
    lines[30] = tmp;
    write_lines(t, lines, n);
    expect_bad("swapped lines", t, "line 30:", "seq 31, expected 30");
    free(s);

    /* seq edited */
    s = strdup(good);
    n = split_lines(s, lines, 128);
    lines[19][8] = '1';   /* {"seq":20 -> {"seq":21 */
    write_lines(t, lines, n);
    expect_bad("edited seq", t, "line 20:", "hash mismatch");
    free(s);

    /* an entry rewritten with its own hash recomputed: the next prev breaks */
    s = strdup(good);
    n = split_lines(s, lines, 128);
    json_t *e = json_loads(lines[9], 0, NULL);
    const char *prev10 = json_string_value(json_object_get(e, "prev"));
    char *forged = forge_line(10, prev10, "{\"thread\":0,\"i\":99}");
    lines[9] = forged;
    write_lines(t, lines, n);
    expect_bad("re-hashed entry", t, "line 11:", "prev does not match line 10's hash");
    free(forged);
    json_decref(e);
    free(s);

    /* a line appended with a wrong prev (but a correct hash of its own) */
    s = strdup(good);
    n = split_lines(s, lines, 128);
    forged = forge_line((uint64_t)n + 1, ZEROS, "{}");
    lines[n] = forged;
    write_lines(t, lines, n + 1);
    char want[64];
    snprintf(want, sizeof want, "prev does not match line %d's hash", n);
    expect_bad("appended with wrong prev", t, "line 102:", want);
    free(forged);
    free(s);

    /* a first line whose prev is not zeros (entries cut from the front) */
    s = strdup(good);
    n = split_lines(s, lines, 128);
    forged = forge_line(1, "1111111111111111111111111111111111111111111111111111111111111111", "{}");
    lines[0] = forged;
    write_lines(t, lines, 1);
    expect_bad("front cut", t, "line 1:", "prev is not 64 zeros");
    free(forged);
    free(s);

    /* not JSON, extra key, hash not last, an empty line */
    spit(t, "hello world\n", 12);
    expect_bad("foreign file", t, "line 1:", "not valid JSON");
    s = strdup(good);
    n = split_lines(s, lines, 128);
    char extra[1024];
    snprintf(extra, sizeof extra, "{\"x\":1,%s", lines[0] + 1);
    lines[0] = extra;
    write_lines(t, lines, 2);
    expect_bad("extra key", t, "line 1:", "unexpected key \"x\"");
    free(s);
    s = strdup(good);
    n = split_lines(s, lines, 128);
    lines[1] = "";
    write_lines(t, lines, 3);
    expect_bad("empty line", t, "line 2:", "empty line");
    free(s);
    s = strdup(good);
    n = split_lines(s, lines, 128);
    snprintf(extra, sizeof extra, "%s ", lines[0]);   /* trailing space: not the written form */
    lines[0] = extra;
    write_lines(t, lines, 1);
    expect_bad("not compact", t, "line 1:", "compact form");
    free(s);

    /* a missing file */
    CHECK(gf_audit_verify(path("missing.jsonl"), NULL) == GF_ERR_IO && contains(gf_last_error(), "missing.jsonl"));
    free(good);
}

/* ---- torn tail ------------------------------------------------------------ */

static void test_torn_tail(void)
{
    size_t len;
    char *good = slurp(path("log.jsonl"), &len);
    if (!good) { CHECK(0); return; }
    const char *t = path("torn.jsonl");
    gf_audit_summary sum;
    gf_audit *a = NULL;

    /* half of a real line after the last complete one */
    char *last = good + len - 1;
    while (last > good && last[-1] != '\n') last--;
    size_t half = (size_t)(good + len - last) / 2;
    char *torn = malloc(len + half);
    memcpy(torn, good, len);
    memcpy(torn + len, last, half);
    spit(t, torn, len + half);
    CHECK(gf_audit_verify(t, &sum) == GF_ERR_FORMAT && contains(gf_last_error(), "line 102:") &&
          contains(gf_last_error(), "incomplete final line"));
    fprintf(stderr, "  torn tail -> %s\n", gf_last_error());
    CHECK_MSG(gf_audit_open(t, &a) == GF_OK, "%s", gf_last_error());
    uint64_t seq = 0;
    CHECK(a && gf_audit_append(a, "coordinator", "after.repair", NULL, &seq) == GF_OK && seq == 103);
    gf_audit_close(a);
    CHECK_MSG(gf_audit_verify(t, &sum) == GF_OK && sum.entries == 103, "%s", gf_last_error());
    char *s = slurp(t, NULL), *lines[128];
    CHECK(s && !memcmp(s, good, len));   /* the complete lines are untouched */
    int n = s ? split_lines(s, lines, 128) : 0;
    CHECK(n == 103);
    json_t *e = n == 103 ? json_loads(lines[101], 0, NULL) : NULL;
    char want_cut[32];
    snprintf(want_cut, sizeof want_cut, "%zu", half);
    CHECK(e && !strcmp(json_string_value(json_object_get(e, "event")), "audit.recovered") &&
          json_integer_value(json_object_get(json_object_get(e, "detail"), "cut_bytes")) == (json_int_t)half);
    json_decref(e);
    free(s);

    /* zero bytes at the end (size grew, data lost) are a torn tail too */
    memset(torn + len, 0, 40);
    spit(t, torn, len + 40);
    CHECK(gf_audit_open(t, &a) == GF_OK);
    gf_audit_close(a);
    CHECK(gf_audit_verify(t, &sum) == GF_OK && sum.entries == 102);

    /* a whole first line torn */
    spit(t, good, 30);
    CHECK(gf_audit_open(t, &a) == GF_OK);
    gf_audit_close(a);
    CHECK(gf_audit_verify(t, &sum) == GF_OK && sum.entries == 1);

    /* an unterminated tail that is not an entry: refused, left alone */
    memcpy(torn + len, "hello", 5);
    spit(t, torn, len + 5);
    CHECK(gf_audit_open(t, &a) == GF_ERR_FORMAT && contains(gf_last_error(), "does not start like an audit entry"));
    CHECK(file_size(t) == (long long)(len + 5));
    free(torn);
    free(good);
}

/* ---- inputs and the lock ---------------------------------------------------- */

static void expect_arg(gf_audit *a, const char *time_utc, const char *actor, const char *event, const char *detail,
                       const char *word)
{
    uint64_t seq = 77;
    gf_status st = gf_audit_append_at(a, time_utc, actor, event, detail, &seq);
    CHECK_MSG(st == GF_ERR_ARG && contains(gf_last_error(), word) && seq == 77, "want \"%s\": status %d, \"%s\"",
              word, (int)st, gf_last_error());
}

static void test_inputs(void)
{
    const char *p = path("inputs.jsonl");
    gf_audit *a = NULL;
    CHECK(gf_audit_open(p, &a) == GF_OK);
    if (!a) return;
    char longname[200], *big = malloc(GF_AUDIT_DETAIL_MAX + 100);
    memset(longname, 'x', sizeof longname);
    longname[129] = 0;
    snprintf(big, 16, "{\"k\":\"");
    memset(big + 6, 'a', GF_AUDIT_DETAIL_MAX);
    strcpy(big + 6 + GF_AUDIT_DETAIL_MAX, "\"}");
    expect_arg(a, NULL, "", "x", NULL, "actor must be 1..128");
    expect_arg(a, NULL, NULL, "x", NULL, "actor is missing");
    expect_arg(a, NULL, longname, "x", NULL, "got 129");
    expect_arg(a, NULL, "site a", "x", NULL, "printable ASCII");
    expect_arg(a, NULL, "op\n", "x", NULL, "0x0a");
    expect_arg(a, NULL, "op", "", NULL, "event must be");
    expect_arg(a, NULL, "op", "caf\xc3\xa9", NULL, "printable");
    expect_arg(a, NULL, "op", "e", "{\"a\":", "not valid JSON");
    expect_arg(a, NULL, "op", "e", "[1,2]", "must be a JSON object");
    expect_arg(a, NULL, "op", "e", "\"str\"", "must be a JSON object");
    expect_arg(a, NULL, "op", "e", "{\"a\":1,\"a\":2}", "duplicate");
    expect_arg(a, NULL, "op", "e", big, "at most 65536");
    expect_arg(a, "2025-01-31 12:00:00", "op", "e", NULL, "YYYY-MM-DD");
    expect_arg(a, "2025-13-31T12:00:00.000Z", "op", "e", NULL, "YYYY-MM-DD");
    CHECK(gf_audit_append(NULL, "op", "e", NULL, NULL) == GF_ERR_ARG);
    CHECK(file_size(p) == 0);   /* nothing written */
    longname[128] = 0;
    big[GF_AUDIT_DETAIL_MAX - 4] = 0;
    strcat(big, "\"}");         /* exactly at the limit is fine */
    CHECK(gf_audit_append(a, longname, "e", big, NULL) == GF_OK);

    /* one writer at a time: a second open (even from this process) is refused */
    gf_audit *b = NULL;
    CHECK(gf_audit_open(p, &b) == GF_ERR_IO && b == NULL && contains(gf_last_error(), "another process"));
    gf_audit_close(a);
    CHECK(gf_audit_open(p, &b) == GF_OK);
    gf_audit_close(b);
    gf_audit_summary sum;
    CHECK(gf_audit_verify(p, &sum) == GF_OK && sum.entries == 1);
    CHECK(gf_audit_open("", &a) == GF_ERR_ARG);
    CHECK(gf_audit_open(base, &a) != GF_OK && a == NULL);   /* a folder */
    CHECK(gf_audit_verify(base, NULL) != GF_OK);
    free(big);
}

/* Entries appended together: one write, chained in order, and none of them
 * when one is bad. */
static void test_many(void)
{
    const char *p = path("many.jsonl");
    gf_audit *a = NULL;
    CHECK(gf_audit_open(p, &a) == GF_OK);
    if (!a) return;
    uint64_t seq = 0;
    CHECK(gf_audit_append(a, "coordinator", "first", NULL, &seq) == GF_OK && seq == 1);
    gf_audit_entry two[2] = { { "coordinator", "round.completed", "{\"round\":1}" },
                              { "coordinator", "round.opened", "{\"round\":2}" } };
    CHECK(gf_audit_append_many(a, two, 2, &seq) == GF_OK && seq == 3);
    long long size = file_size(p);
    gf_audit_entry bad[3] = { { "coordinator", "fine", NULL }, { "coordinator", "bad event", NULL },
                              { "coordinator", "fine.too", NULL } };
    seq = 77;
    CHECK_MSG(gf_audit_append_many(a, bad, 3, &seq) == GF_ERR_ARG && contains(gf_last_error(), "printable") &&
              seq == 77 && file_size(p) == size, "a batch with a bad entry: %s", gf_last_error());
    bad[1].detail_json = "{\"a\":";
    bad[1].event = "fine";
    CHECK(gf_audit_append_many(a, bad, 3, NULL) == GF_ERR_ARG && file_size(p) == size);
    CHECK(gf_audit_append_many(a, two, 0, NULL) == GF_ERR_ARG && gf_audit_append_many(a, NULL, 1, NULL) == GF_ERR_ARG);
    CHECK(gf_audit_append_many(a, two, GF_AUDIT_BATCH_MAX + 1, NULL) == GF_ERR_ARG);
    CHECK(gf_audit_append(a, "coordinator", "last", NULL, &seq) == GF_OK && seq == 4);   /* the chain goes on */
    gf_audit_close(a);
    gf_audit_summary sum;
    CHECK(gf_audit_verify(p, &sum) == GF_OK && sum.entries == 4);
    /* in order, each with its own seq (verify checked the chain of hashes) */
    size_t n = 0;
    char *text = slurp(p, &n);
    const char *c1 = text ? strstr(text, "\"seq\":2,") : NULL, *o2 = text ? strstr(text, "\"seq\":3,") : NULL;
    CHECK(c1 && o2 && c1 < o2 && strstr(c1, "round.completed") < o2 && strstr(o2, "round.opened"));
    free(text);
}

/* ---- kill -9 -------------------------------------------------------------------- */

/* Child: appends until killed, reporting each durable seq on the pipe. */
static void writer_child(const char *p, int wfd, int round)
{
    gf_audit *a;
    if (gf_audit_open(p, &a)) _exit(3);
    for (int i = 0;; i++) {
        char d[96];
        uint64_t seq;
        snprintf(d, sizeof d, "{\"round\":%d,\"i\":%d,\"pad\":\"%040d\"}", round, i, i);
        if (gf_audit_append(a, "coordinator", "crash.test", d, &seq)) _exit(4);
        if (write(wfd, &seq, sizeof seq) != (ssize_t)sizeof seq) _exit(5);
    }
}

static void test_kill9(void)
{
    const char *p = path("crash.jsonl");
    unsigned rs = (unsigned)time(NULL);
    int ok_rounds = 0, repaired = 0;
    uint64_t before = 0;
    for (int round = 0; round < 20; round++) {
        int pfd[2];
        if (pipe(pfd) != 0) { CHECK(0); return; }
        pid_t pid = fork();
        if (pid == 0) { close(pfd[0]); writer_child(p, pfd[1], round); }
        close(pfd[1]);
        uint64_t seq, durable = 0;
        if (read(pfd[0], &durable, sizeof durable) != (ssize_t)sizeof durable) durable = 0;   /* it is writing */
        struct timespec ts = {0, (long)(5 + rand_r(&rs) % 30) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        while (read(pfd[0], &seq, sizeof seq) == (ssize_t)sizeof seq) durable = seq;
        close(pfd[0]);
        int killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        CHECK_MSG(killed, "round %d: child ended with status %d", round, status);

        gf_audit_summary sum;
        int torn = gf_audit_verify(p, &sum) != GF_OK;
        gf_audit *a = NULL;
        gf_status st = gf_audit_open(p, &a);   /* repairs a torn tail, if any */
        CHECK_MSG(st == GF_OK, "round %d: %s", round, gf_last_error());
        gf_audit_close(a);
        st = gf_audit_verify(p, &sum);
        CHECK_MSG(st == GF_OK, "round %d: %s", round, gf_last_error());
        /* every reported append is there; at most one more (written, not yet
         * reported) plus the recovery entry */
        CHECK_MSG(sum.entries >= durable && sum.entries <= durable + 2 && durable > before,
                  "round %d: %" PRIu64 " entries, %" PRIu64 " reported durable (before: %" PRIu64 ")", round,
                  sum.entries, durable, before);
        before = sum.entries;
        repaired += torn;
        ok_rounds += st == GF_OK && killed;
    }
    CHECK(ok_rounds == 20);
    fprintf(stderr, "kill -9: 20 rounds, %" PRIu64 " entries, %d torn tails repaired\n", before, repaired);
}

static int rm_one(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb; (void)type; (void)ftw;
    remove(p);
    return 0;
}

int main(void)
{
    snprintf(base, sizeof base, "/tmp/gf-audit-XXXXXX");
    if (!mkdtemp(base)) { perror("mkdtemp"); return 1; }
    test_concurrent_and_reopen();
    test_known_answer();
    test_tamper();
    test_torn_tail();
    test_inputs();
    test_many();
    test_kill9();
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return check_summary();
}
