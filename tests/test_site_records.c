/* fed/site_records, kind site_dp: each site's own DP-SGD epsilon per job at the
 * coordinator. The latest report per site is kept (a later round replaces,
 * an earlier one does not), infinity reads back as null, NaN / negative
 * epsilons and deltas outside (0, 1) are refused and change nothing, the
 * records read back sorted by site with exactly the numbers written, a
 * site past GF_SITE_DP_MAX is refused while the kept ones still update, and
 * a job with no file (or a damaged one) reads back as an empty list.
 * Declines: the last per site, sorted, reasons cleaned and cut.
 * Evaluation results: each site's last report per round, means weighted
 * by samples over the sites that reported a metric, the after/limit
 * window, and a torn line (a crash) that loses no later report. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "fed/site_records.h"

static char dir[256];

/* The record of `site` in job's list, or NULL. */
static json_t *find(json_t *arr, const char *site)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
        if (!strcmp(json_string_value(json_object_get(e, "site")), site)) return e;
    return NULL;
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/gf-test-site-records-XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char sub[300], file[340];
    snprintf(sub, sizeof sub, "%s/artifacts", dir);
    mkdir(sub, 0700);
    snprintf(sub, sizeof sub, "%s/artifacts/job-7", dir);
    mkdir(sub, 0700);
    snprintf(file, sizeof file, "%s/site_dp.json", sub);

    json_t *a = gf_site_dp_json(dir, 7);           /* no file: empty */
    CHECK(json_is_array(a) && json_array_size(a) == 0);
    json_decref(a);

    const char *at = "2026-12-06T13:00:00Z";
    CHECK(gf_site_dp_record(dir, 7, "s1", 1, 1.25, 1e-5, at) == GF_OK);
    CHECK(gf_site_dp_record(dir, 7, "s0", 1, 0.5, 1e-5, at) == GF_OK);
    CHECK(gf_site_dp_record(dir, 7, "s0", 3, 2.550218, 1e-5, at) == GF_OK);   /* later: replaces */
    CHECK(gf_site_dp_record(dir, 7, "s0", 2, 1.9, 1e-5, at) == GF_OK);       /* earlier: kept as is */
    CHECK(gf_site_dp_record(dir, 7, "s2", 4, INFINITY, 1e-6, at) == GF_OK);  /* noise 0 */
    CHECK(gf_site_dp_record(dir, 7, "s1", 2, NAN, 1e-5, at) == GF_ERR_ARG);
    CHECK(gf_site_dp_record(dir, 7, "s1", 2, -0.1, 1e-5, at) == GF_ERR_ARG);
    CHECK(gf_site_dp_record(dir, 7, "s1", 2, 3.0, 0, at) == GF_ERR_ARG);
    CHECK(gf_site_dp_record(dir, 7, "s1", 2, 3.0, 1, at) == GF_ERR_ARG);

    a = gf_site_dp_json(dir, 7);
    CHECK(json_array_size(a) == 3);
    const char *order[] = { "s0", "s1", "s2" };
    for (size_t i = 0; i < 3 && i < json_array_size(a); i++)
        CHECK(!strcmp(json_string_value(json_object_get(json_array_get(a, i), "site")), order[i]));
    json_t *s0 = find(a, "s0"), *s1 = find(a, "s1"), *s2 = find(a, "s2");
    CHECK(s0 && json_integer_value(json_object_get(s0, "round")) == 3 &&
          json_real_value(json_object_get(s0, "epsilon")) == 2.550218 &&
          json_real_value(json_object_get(s0, "delta")) == 1e-5 &&
          !strcmp(json_string_value(json_object_get(s0, "at")), at));
    CHECK(s1 && json_integer_value(json_object_get(s1, "round")) == 1 &&
          json_real_value(json_object_get(s1, "epsilon")) == 1.25);
    CHECK(s2 && json_is_null(json_object_get(s2, "epsilon")) &&
          json_real_value(json_object_get(s2, "delta")) == 1e-6);
    json_decref(a);

    a = gf_site_dp_json(dir, 8);                   /* another job: nothing */
    CHECK(json_array_size(a) == 0);
    json_decref(a);

    /* the bound: a file of GF_SITE_DP_MAX sites (written here at once); one
     * more is refused, a kept one still updates */
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (!f) return check_summary();
    fputs("{\"s1\": {\"round\": 1, \"epsilon\": 1.25, \"delta\": 1e-05, \"at\": \"x\"}", f);
    for (int i = 1; i < GF_SITE_DP_MAX; i++)
        fprintf(f, ", \"t%04d\": {\"round\": 1, \"epsilon\": 1.0, \"delta\": 1e-05, \"at\": \"x\"}", i);
    fputs("}", f);
    fclose(f);
    CHECK(gf_site_dp_record(dir, 7, "zz-one-too-many", 1, 1.0, 1e-5, at) == GF_ERR_ARG);
    CHECK(gf_site_dp_record(dir, 7, "s1", 5, 4.0, 1e-5, at) == GF_OK);
    a = gf_site_dp_json(dir, 7);
    CHECK(json_array_size(a) == GF_SITE_DP_MAX && !find(a, "zz-one-too-many"));
    CHECK(json_real_value(json_object_get(find(a, "s1"), "epsilon")) == 4.0);
    json_decref(a);

    f = fopen(file, "w");                          /* damaged: reads back as empty */
    if (f) { fputs("{\"s0\": ", f); fclose(f); }
    a = gf_site_dp_json(dir, 7);
    CHECK(json_is_array(a) && json_array_size(a) == 0);
    json_decref(a);

    unlink(file);

    /* declines: the last per site, sorted by site, reasons cleaned */
    CHECK(gf_site_declines_record(dir, 7, "b", 1, "busy", at) == GF_OK);
    CHECK(gf_site_declines_record(dir, 7, "a", 2, "bad\x01" "byte \xff", at) == GF_OK);
    CHECK(gf_site_declines_record(dir, 7, "b", 1, "policy", "later") == GF_OK);   /* replaces, same round too */
    a = gf_site_declines_json(dir, 7);
    CHECK(json_array_size(a) == 2);
    json_t *da = json_array_get(a, 0), *db = json_array_get(a, 1);
    CHECK(!strcmp(json_string_value(json_object_get(da, "site")), "a") &&
          json_integer_value(json_object_get(da, "round")) == 2 &&
          !strcmp(json_string_value(json_object_get(da, "reason")), "bad?byte ?"));
    CHECK(!strcmp(json_string_value(json_object_get(db, "reason")), "policy") &&
          !strcmp(json_string_value(json_object_get(db, "at")), "later"));
    json_decref(a);
    char longr[600], kept[GF_SITE_DECLINE_REASON_MAX + 4];
    memset(longr, 'x', sizeof longr - 1);
    longr[sizeof longr - 1] = 0;
    gf_site_decline_clean(kept, sizeof kept, longr);
    CHECK(strlen(kept) == GF_SITE_DECLINE_REASON_MAX + 3 && !strcmp(kept + GF_SITE_DECLINE_REASON_MAX, "..."));
    snprintf(file, sizeof file, "%s/declines.json", sub);
    unlink(file);

    /* evaluation results: each site's last report per round, weighted means, after/limit, a torn line */
    gf_eval_report r1 = { 100, 0.5, 0.8, NAN, NAN, NAN }, r2 = { 300, 0.25, 0.9, 0.7, NAN, NAN };
    CHECK(gf_site_evals_add(dir, 7, 1, "s1", &r1) == GF_OK);
    CHECK(gf_site_evals_add(dir, 7, 1, "s0", &r1) == GF_OK);
    CHECK(gf_site_evals_add(dir, 7, 1, "s0", &r2) == GF_OK);      /* s0's last for round 1 */
    snprintf(file, sizeof file, "%s/site_eval.jsonl", sub);
    f = fopen(file, "a");                          /* a crash mid-write */
    if (f) { fputs("{\"round\":2,\"site\":\"s9\",\"sam", f); fclose(f); }
    CHECK(gf_site_evals_add(dir, 7, 2, "s1", &r1) == GF_OK);
    a = gf_site_evals_json(dir, 7, 0, 10);
    CHECK(json_array_size(a) == 2);
    json_t *e1 = json_array_get(a, 0), *w1 = json_object_get(e1, "weighted");
    CHECK(json_integer_value(json_object_get(e1, "round")) == 1 && json_array_size(json_object_get(e1, "sites")) == 2);
    CHECK(!strcmp(json_string_value(json_object_get(json_array_get(json_object_get(e1, "sites"), 0), "site")), "s0"));
    CHECK(json_integer_value(json_object_get(w1, "samples")) == 400 && json_integer_value(json_object_get(w1, "sites")) == 2);
    CHECK_NEAR(json_real_value(json_object_get(w1, "loss")), (300 * 0.25 + 100 * 0.5) / 400, 1e-12);
    CHECK_NEAR(json_real_value(json_object_get(w1, "auc")), 0.7, 1e-12);           /* s0 alone reported it */
    CHECK(json_is_null(json_object_get(w1, "sensitivity")));
    json_t *e2 = json_array_get(a, 1);
    CHECK(json_integer_value(json_object_get(e2, "round")) == 2 && json_array_size(json_object_get(e2, "sites")) == 1);
    json_decref(a);
    a = gf_site_evals_json(dir, 7, 0, 1);          /* the last round only */
    CHECK(json_array_size(a) == 1 && json_integer_value(json_object_get(json_array_get(a, 0), "round")) == 2);
    json_decref(a);
    a = gf_site_evals_json(dir, 7, 1, 10);         /* after round 1 */
    CHECK(json_array_size(a) == 1 && json_integer_value(json_object_get(json_array_get(a, 0), "round")) == 2);
    json_decref(a);
    unlink(file);
    rmdir(sub);
    snprintf(sub, sizeof sub, "%s/artifacts", dir);
    rmdir(sub);
    rmdir(dir);
    return check_summary();
}
