/* fed/site_budget: the site's privacy ledger. Epsilon from the ledger equals
 * the accountant's for the same total steps (one job at one rate) and the
 * RDP composition recomputed here (rounds at two rates, two jobs); the file
 * reads back to the same entries after a reopen; a failed write leaves the
 * ledger as it was; and every damaged file (truncated, empty, another
 * format or version, an out-of-range field) is an error naming the file and
 * what is wrong, never an empty ledger. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "fed/site_budget.h"
#include "privacy/accountant.h"

#define CHECK_REL(a, b, rel) CHECK_NEAR(a, b, (rel) * fabs((double)(b)))

static char dir[256], path[300];

static void write_file(const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fwrite(text, 1, len, f);
    fclose(f);
}

static char *read_all(size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *t = calloc(1, 1 << 16);
    *len = fread(t, 1, (1 << 16) - 1, f);
    fclose(f);
    return t;
}

/* epsilon of the RDP sum of two (q, sigma, steps) runs, recomputed from the accountant's pieces */
static double composed(double q1, double s1, int64_t n1, double q2, double s2, int64_t n2, double delta)
{
    int no;
    const double *orders = gf_rdp_default_orders(&no);
    double a[200], b[200], eps = NAN;
    gf_rdp_compute(q1, s1, n1, orders, no, a);
    gf_rdp_compute(q2, s2, n2, orders, no, b);
    for (int i = 0; i < no; i++) a[i] += b[i];
    gf_rdp_to_epsilon(orders, a, no, delta, &eps, NULL);
    return eps;
}

static void test_compose_and_reopen(void)
{
    gf_site_budget b;
    CHECK(gf_site_budget_open(dir, &b) == GF_OK);
    CHECK(b.n == 0 && b.path && access(b.path, F_OK) != 0);   /* nothing written before the first spend */
    double eps = -1;
    CHECK(gf_site_budget_epsilon(&b, NULL, 0, NULL, 1e-5, &eps) == GF_OK && eps == 0);

    const char *c1 = "0123456789abcdef0123456789abcdef", *c2 = "fedcba9876543210fedcba9876543210";
    CHECK(gf_site_budget_add(&b, c1, 1, 1.1, 0.025, 40) == GF_OK);
    CHECK(gf_site_budget_add(&b, c1, 1, 1.1, 0.025, 40) == GF_OK);   /* a second round at the same rate */
    double want;
    CHECK(gf_dp_epsilon(1.1, 0.025, 80, 1e-5, &want, NULL) == GF_OK);
    CHECK(gf_site_budget_epsilon(&b, c1, 1, NULL, 1e-5, &eps) == GF_OK);
    CHECK_REL(eps, want, 1e-12);
    CHECK(gf_site_budget_steps(&b, c1, 1) == 80);

    /* the same job id in another federation is another job; a round at another rate composes exactly */
    CHECK(gf_site_budget_add(&b, c2, 1, 2.0, 0.05, 30) == GF_OK);
    CHECK(gf_site_budget_add(&b, c1, 1, 0.9, 0.1, 10) == GF_OK);
    CHECK(gf_site_budget_epsilon(&b, c2, 1, NULL, 1e-5, &eps) == GF_OK);
    CHECK(gf_dp_epsilon(2.0, 0.05, 30, 1e-5, &want, NULL) == GF_OK);
    CHECK_REL(eps, want, 1e-12);
    CHECK(gf_site_budget_epsilon(&b, c1, 1, NULL, 1e-5, &eps) == GF_OK);
    CHECK_REL(eps, composed(0.025, 1.1, 80, 0.1, 0.9, 10, 1e-5), 1e-12);
    double e_a, e_b, total;
    gf_dp_epsilon(1.1, 0.025, 80, 1e-5, &e_a, NULL);
    gf_dp_epsilon(0.9, 0.1, 10, 1e-5, &e_b, NULL);
    CHECK(eps > e_a && eps > e_b && eps < e_a + e_b);   /* RDP composition: more than either, less than the sum */
    CHECK(gf_site_budget_epsilon(&b, NULL, 0, NULL, 1e-5, &total) == GF_OK && total > eps);
    CHECK(gf_site_budget_steps(&b, NULL, 0) == 120);

    /* what a task would spend, before it runs: the same as after adding it */
    gf_site_spend next = { .job = 2, .noise = 1.5, .q = 0.02, .steps = 100 };
    snprintf(next.coordinator, sizeof next.coordinator, "%s", c1);
    double ahead, after;
    CHECK(gf_site_budget_epsilon(&b, NULL, 0, &next, 1e-5, &ahead) == GF_OK);
    CHECK(gf_site_budget_add(&b, c1, 2, 1.5, 0.02, 100) == GF_OK);
    CHECK(gf_site_budget_epsilon(&b, NULL, 0, NULL, 1e-5, &after) == GF_OK);
    CHECK(ahead == after && after > total);

    /* one process per ledger: a second open is refused while this one holds it */
    gf_site_budget r;
    CHECK(gf_site_budget_open(dir, &r) == GF_ERR_ARG && strstr(gf_last_error(), "in use"));

    /* a write that fails leaves the ledger in memory (and the file) as it was */
    char *kept_path = b.path;
    b.path = "/nonexistent-folder/privacy-budget.json";
    int n = b.n;
    int64_t steps = gf_site_budget_steps(&b, NULL, 0);
    CHECK(gf_site_budget_add(&b, c1, 1, 1.1, 0.025, 40) != GF_OK);
    CHECK(gf_site_budget_add(&b, c1, 9, 1.1, 0.025, 40) != GF_OK);
    CHECK(b.n == n && gf_site_budget_steps(&b, NULL, 0) == steps);
    b.path = kept_path;

    /* a reopen reads the same ledger back, bit for bit */
    gf_site_spend kept[8];
    int nkept = b.n < 8 ? b.n : 8;
    memcpy(kept, b.e, sizeof kept[0] * (size_t)nkept);
    gf_site_budget_free(&b);
    CHECK(gf_site_budget_open(dir, &r) == GF_OK);
    CHECK(r.n == nkept);
    for (int i = 0; i < r.n && i < nkept; i++)
        CHECK(!strcmp(r.e[i].coordinator, kept[i].coordinator) && r.e[i].job == kept[i].job &&
              r.e[i].noise == kept[i].noise && r.e[i].q == kept[i].q && r.e[i].steps == kept[i].steps);
    double again;
    CHECK(gf_site_budget_epsilon(&r, NULL, 0, NULL, 1e-5, &again) == GF_OK && again == after);

    /* no noise: no guarantee */
    CHECK(gf_site_budget_add(&r, c1, 3, 0, 0.5, 1) == GF_OK);
    CHECK(gf_site_budget_epsilon(&r, c1, 3, NULL, 1e-5, &eps) == GF_OK && isinf(eps));
    /* bad spends are refused */
    CHECK(gf_site_budget_add(&r, "a/b", 1, 1, 0.5, 1) == GF_ERR_ARG);
    CHECK(gf_site_budget_add(&r, c1, 1, 1, 1.5, 1) == GF_ERR_ARG);
    CHECK(gf_site_budget_add(&r, c1, 0, 1, 0.5, 1) == GF_ERR_ARG);
    gf_site_budget_free(&r);
}

/* text must fail to open with GF_ERR_FORMAT and a message naming the file and `phrase` */
static void expect_bad(const char *text, size_t len, const char *phrase)
{
    write_file(text, len);
    gf_site_budget b;
    gf_status st = gf_site_budget_open(dir, &b);
    CHECK_MSG(st == GF_ERR_FORMAT, "status %d for \"%.60s\"", (int)st, text);
    CHECK_MSG(strstr(gf_last_error(), path) && strstr(gf_last_error(), phrase), "message \"%s\" lacks \"%s\"",
              gf_last_error(), phrase);
    CHECK(b.n == 0 && b.e == NULL && b.path == NULL);
}

static void expect_text(const char *text, const char *phrase) { expect_bad(text, strlen(text), phrase); }

static void test_damaged(void)
{
    size_t len = 0;
    char *good = read_all(&len);
    CHECK(good && len > 40);
    if (!good) return;
    expect_bad(good, len / 2, "not JSON");           /* truncated */
    expect_bad("", 0, "not JSON");                    /* empty */
    expect_text("{\"format\": \"other\", \"version\": 1, \"spends\": []}", "format");
    expect_text("{\"format\": \"gf-site-privacy-budget\", \"version\": 2, \"spends\": []}", "version");
    expect_text("{\"format\": \"gf-site-privacy-budget\", \"version\": 1}", "spends");
#define SPEND(body) "{\"format\": \"gf-site-privacy-budget\", \"version\": 1, \"spends\": [" body "]}"
    const char *fields[][2] = {
        { SPEND("{\"coordinator\": \"ab\", \"job\": 1, \"noise\": 1.0, \"q\": 0.1, \"steps\": -3}"), "steps" },
        { SPEND("{\"coordinator\": \"ab\", \"job\": 1, \"noise\": 1.0, \"q\": 1.5, \"steps\": 3}"), "q is not" },
        { SPEND("{\"coordinator\": \"ab\", \"job\": 1, \"noise\": -1, \"q\": 0.1, \"steps\": 3}"), "noise" },
        { SPEND("{\"coordinator\": \"ab\", \"noise\": 1.0, \"q\": 0.1, \"steps\": 3}"), "spends[0]: job" },
        { SPEND("{\"coordinator\": \"../x\", \"job\": 1, \"noise\": 1.0, \"q\": 0.1, \"steps\": 3}"), "coordinator" },
        { SPEND("{\"coordinator\": \"ab\", \"job\": 1, \"noise\": 1.0, \"q\": 0.1, \"steps\": 3}, 7"), "spends[1]" },
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) expect_text(fields[i][0], fields[i][1]);
    /* the good file still opens */
    write_file(good, len);
    gf_site_budget b;
    CHECK(gf_site_budget_open(dir, &b) == GF_OK && b.n == 5);
    gf_site_budget_free(&b);
    free(good);
    /* a state folder that is a file */
    CHECK(gf_site_budget_open(path, &b) != GF_OK);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/gf-test-budget-XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    snprintf(path, sizeof path, "%s/%s", dir, GF_SITE_BUDGET_FILE);
    test_compose_and_reopen();
    test_damaged();
    unlink(path);
    char lock[300];
    snprintf(lock, sizeof lock, "%s/lock", dir);
    unlink(lock);
    rmdir(dir);
    return check_summary();
}
