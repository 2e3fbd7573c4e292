/* Fair-share priority (src/facility/fairshare.c): Slurm's classic worked
 * example (https://slurm.schedmd.com/classic_fair_share.html) with its
 * intermediate values; half-life decay; Fair Tree rankings worked out by hand
 * from https://slurm.schedmd.com/fair_tree.html (ties, zero usage, zero
 * shares, tied accounts merged); the Fair Tree ordering property on random
 * trees; the multifactor queue order and its tie-breaks; bad input. */
#include "check.h"
#include "core/rng.h"
#include "facility/fairshare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int add(gf_fs_tree *t, int parent, const char *name, gf_fs_kind kind, double shares)
{
    int id = -1;
    gf_status st = gf_fs_node_add(t, parent, name, kind, shares, &id);
    CHECK_MSG(st == GF_OK, "add %s: %s", name, gf_last_error());
    return id;
}

static int user(gf_fs_tree *t, int parent, const char *name, double shares, double usage)
{
    int id = add(t, parent, name, GF_FS_USER, shares);
    CHECK(gf_fs_node_set_usage(t, id, usage) == GF_OK);
    return id;
}

/* ---------------------------------------------------------------------------
 * Classic: the example of classic_fair_share.html. A (40) has B (30) and C
 * (10); D (60) has E (25) and F (35). User 1 in B, users 2 and 3 in C with one
 * share each, user 4 in E, user 5 in F. Usage as a fraction of the machine:
 * user 1 0.2, user 2 0.25, user 4 0.25 (the machine's total is 1: 0.3 of it
 * is charged to no one here, so the total is set explicitly). */

static void test_classic_example(void)
{
    gf_fs_tree *t;
    CHECK(gf_fs_tree_create(&t) == GF_OK);
    int A = add(t, GF_FS_ROOT, "A", GF_FS_ACCOUNT, 40);
    int D = add(t, GF_FS_ROOT, "D", GF_FS_ACCOUNT, 60);
    int B = add(t, A, "B", GF_FS_ACCOUNT, 30);
    int C = add(t, A, "C", GF_FS_ACCOUNT, 10);
    int E = add(t, D, "E", GF_FS_ACCOUNT, 25);
    int F = add(t, D, "F", GF_FS_ACCOUNT, 35);
    /* raw usage in core-seconds; the machine delivered 1000 */
    int u1 = user(t, B, "user1", 1, 200);
    int u2 = user(t, C, "user2", 1, 250);
    int u3 = user(t, C, "user3", 1, 0);
    int u4 = user(t, E, "user4", 1, 250);
    int u5 = user(t, F, "user5", 1, 0);
    CHECK(gf_fs_tree_set_total_usage(t, 1000) == GF_OK);
    CHECK(gf_fs_tree_size(t) == 12 && gf_fs_tree_users(t) == 5);

    gf_fs_result r[12];
    CHECK(gf_fs_classic(t, r) == GF_OK);

    /* normalized shares, as listed on the page */
    CHECK_NEAR(r[A].shares_norm, 0.4, 1e-12);
    CHECK_NEAR(r[B].shares_norm, 0.3, 1e-12);
    CHECK_NEAR(r[u1].shares_norm, 0.3, 1e-12);
    CHECK_NEAR(r[u2].shares_norm, 0.05, 1e-12);
    CHECK_NEAR(r[u3].shares_norm, 0.05, 1e-12);
    CHECK_NEAR(r[u4].shares_norm, 0.25, 1e-12);
    CHECK_NEAR(r[u5].shares_norm, 0.35, 1e-12);
    /* actual usage summed up the tree */
    CHECK_NEAR(r[C].usage_norm, 0.25, 1e-12);
    CHECK_NEAR(r[A].usage_norm, 0.45, 1e-12);
    CHECK_NEAR(r[GF_FS_ROOT].usage_raw, 700, 1e-9);
    /* effective usage: first tier = actual usage, then the page's values */
    CHECK_NEAR(r[A].usage_efctv, 0.45, 1e-12);
    CHECK_NEAR(r[D].usage_efctv, 0.25, 1e-12);
    CHECK_NEAR(r[B].usage_efctv, 0.3875, 1e-12);
    CHECK_NEAR(r[C].usage_efctv, 0.3, 1e-12);
    CHECK_NEAR(r[E].usage_efctv, 0.25, 1e-12);
    CHECK_NEAR(r[F].usage_efctv, 0.25 * 35.0 / 60.0, 1e-12);     /* 0.1458 */
    CHECK_NEAR(r[u1].usage_efctv, 0.3875, 1e-12);
    CHECK_NEAR(r[u2].usage_efctv, 0.275, 1e-12);
    CHECK_NEAR(r[u3].usage_efctv, 0.15, 1e-12);
    CHECK_NEAR(r[u4].usage_efctv, 0.25, 1e-12);
    CHECK_NEAR(r[u5].usage_efctv, 0.25 * 35.0 / 60.0, 1e-12);
    /* the fair-share factors the page gives, to its 6 decimals */
    CHECK_NEAR(r[u1].fs_factor, 0.408479, 1e-6);
    CHECK_NEAR(r[u2].fs_factor, 0.022097, 1e-6);
    CHECK_NEAR(r[u3].fs_factor, 0.125000, 1e-6);
    CHECK_NEAR(r[u4].fs_factor, 0.500000, 1e-6);
    CHECK_NEAR(r[u5].fs_factor, 0.749154, 1e-6);
    fprintf(stderr, "classic example: F = %.6f %.6f %.6f %.6f %.6f\n", r[u1].fs_factor, r[u2].fs_factor,
            r[u3].fs_factor, r[u4].fs_factor, r[u5].fs_factor);

    /* Uniform decay of every usage and of the total leaves normalized usage,
     * hence every factor, unchanged. */
    CHECK(gf_fs_tree_decay(t, 3 * 86400.0, 7 * 86400.0) == GF_OK);
    gf_fs_result r2[12];
    CHECK(gf_fs_classic(t, r2) == GF_OK);
    CHECK_NEAR(r2[u1].usage_raw, 200 * exp2(-3.0 / 7.0), 1e-9);
    for (int i = 1; i < 12; i++) CHECK_NEAR(r2[i].fs_factor, r[i].fs_factor, 1e-12);

    /* Without an explicit total, usage is normalised by the users' sum. */
    CHECK(gf_fs_tree_set_total_usage(t, 0) == GF_OK);
    CHECK(gf_fs_classic(t, r2) == GF_OK);
    CHECK_NEAR(r2[A].usage_norm + r2[D].usage_norm, 1.0, 1e-12);
    CHECK_NEAR(r2[u1].usage_norm, 200.0 / 700.0, 1e-12);
    gf_fs_tree_free(t);
}

/* ---------------------------------------------------------------------------
 * Decay */

static void test_decay(void)
{
    CHECK_NEAR(gf_fs_decay(100, 3600, 3600), 50, 1e-12);
    CHECK_NEAR(gf_fs_decay(100, 7200, 3600), 25, 1e-12);
    CHECK_NEAR(gf_fs_decay(100, 1800, 3600), 100 / sqrt(2.0), 1e-12);
    /* two steps equal one step of the summed time */
    CHECK_NEAR(gf_fs_decay(gf_fs_decay(80, 1000, 5000), 2500, 5000), gf_fs_decay(80, 3500, 5000), 1e-12);
    CHECK(gf_fs_decay(100, 3600, 0) == 100);      /* PriorityDecayHalfLife=0: no decay */
    CHECK(gf_fs_decay(100, 0, 3600) == 100);
    CHECK(gf_fs_decay(100, -5, 3600) == 100);

    gf_fs_tree *t;
    CHECK(gf_fs_tree_create(&t) == GF_OK);
    int a = add(t, GF_FS_ROOT, "a", GF_FS_ACCOUNT, 1);
    int u = user(t, a, "u", 1, 64);
    CHECK(gf_fs_tree_decay(t, 2 * 3600.0, 3600) == GF_OK);
    gf_fs_node_info info;
    CHECK(gf_fs_node_info_get(t, u, &info) == GF_OK);
    CHECK_NEAR(info.usage, 16, 1e-12);
    CHECK(gf_fs_node_info_get(t, a, &info) == GF_OK);
    CHECK_NEAR(info.usage, 16, 1e-12);
    CHECK(gf_fs_tree_decay(t, 3600, 0) == GF_OK);
    CHECK(gf_fs_node_info_get(t, u, &info) == GF_OK && info.usage == 16);
    CHECK(gf_fs_node_add_usage(t, u, 4) == GF_OK);
    CHECK(gf_fs_node_info_get(t, u, &info) == GF_OK && info.usage == 20);
    gf_fs_tree_free(t);
}

/* ---------------------------------------------------------------------------
 * Fair Tree, case 1: zero usage, a user tie, zero shares.
 *
 *   root
 *   ├─ A  50 shares, usage 40: a1 (1 share, usage 30), a2 (1, 10)
 *   ├─ B  30 shares, usage 0:  b1 (1, 0), b2 (1, 0)
 *   ├─ C  20 shares, usage 60: c1 (1, 60)
 *   └─ D   0 shares, usage 0:  d1 (1, 0)
 *
 * Level FS under root (usage total 100, shares total 100):
 *   A: S .5, U .4 -> 1.25      B: S .3, U 0 -> infinity
 *   C: S .2, U .6 -> 0.333     D: S 0 -> 0 (no shares is lowest, even unused)
 * so the order is B, A, C, D. 6 users: rnt counts 6 down to 1.
 *   B: b1 and b2 both have U = 0 (B has no usage) and S .5 -> both infinity:
 *      b1 rank 6; b2 is tied with b1 and keeps rank 6 (rnt goes on to 4).
 *   A: a2 S .5, U .25 -> 2; a1 S .5, U .75 -> .667: a2 rank 4, a1 rank 3.
 *   C: c1 rank 2.
 *   D: d1 (S 1, U 0 -> infinity within D) rank 1.
 * fs_factor = rank / 6. */

static void test_fair_tree_case1(void)
{
    gf_fs_tree *t;
    CHECK(gf_fs_tree_create(&t) == GF_OK);
    int A = add(t, GF_FS_ROOT, "A", GF_FS_ACCOUNT, 50);
    int B = add(t, GF_FS_ROOT, "B", GF_FS_ACCOUNT, 30);
    int C = add(t, GF_FS_ROOT, "C", GF_FS_ACCOUNT, 20);
    int D = add(t, GF_FS_ROOT, "D", GF_FS_ACCOUNT, 0);
    int a1 = user(t, A, "a1", 1, 30);
    int a2 = user(t, A, "a2", 1, 10);
    int b1 = user(t, B, "b1", 1, 0);
    int b2 = user(t, B, "b2", 1, 0);
    int c1 = user(t, C, "c1", 1, 60);
    int d1 = user(t, D, "d1", 1, 0);
    int n = gf_fs_tree_size(t);
    gf_fs_result *r = malloc((size_t)n * sizeof *r);
    CHECK(gf_fs_fair_tree(t, r) == GF_OK);

    CHECK_NEAR(r[A].level_fs, 1.25, 1e-12);
    CHECK(isinf(r[B].level_fs) && r[B].level_fs > 0);
    CHECK_NEAR(r[C].level_fs, 0.2 / 0.6, 1e-12);
    CHECK(r[D].level_fs == 0);
    CHECK_NEAR(r[a1].level_fs, 0.5 / 0.75, 1e-12);
    CHECK_NEAR(r[a2].level_fs, 2.0, 1e-12);
    CHECK(isinf(r[d1].level_fs));
    CHECK_NEAR(r[a1].usage_efctv, 0.75, 1e-12);
    CHECK_NEAR(r[a1].shares_norm, 0.5, 1e-12);

    CHECK(r[b1].rank == 6 && r[b2].rank == 6);
    CHECK(r[a2].rank == 4 && r[a1].rank == 3);
    CHECK(r[c1].rank == 2 && r[d1].rank == 1);
    CHECK_NEAR(r[b1].fs_factor, 1.0, 1e-15);
    CHECK_NEAR(r[b2].fs_factor, 1.0, 1e-15);
    CHECK_NEAR(r[a2].fs_factor, 4.0 / 6, 1e-15);
    CHECK_NEAR(r[a1].fs_factor, 3.0 / 6, 1e-15);
    CHECK_NEAR(r[c1].fs_factor, 2.0 / 6, 1e-15);
    CHECK_NEAR(r[d1].fs_factor, 1.0 / 6, 1e-15);
    CHECK(r[A].fs_factor == 0 && r[A].rank == 0);
    fprintf(stderr, "fair tree case 1: b1 %.4f b2 %.4f a2 %.4f a1 %.4f c1 %.4f d1 %.4f\n", r[b1].fs_factor,
            r[b2].fs_factor, r[a2].fs_factor, r[a1].fs_factor, r[c1].fs_factor, r[d1].fs_factor);

    /* The property the page leads with: the users of the account that used
     * less relative to its shares (A: 1.25) rank above those of the account
     * that used more (C: 0.333), whatever their own usage. a1 used 30, c1 60;
     * give a1 far more than c1 within the same totals... */
    CHECK(gf_fs_node_set_usage(t, a1, 39) == GF_OK);
    CHECK(gf_fs_node_set_usage(t, a2, 1) == GF_OK);
    CHECK(gf_fs_fair_tree(t, r) == GF_OK);
    CHECK(r[a1].fs_factor > r[c1].fs_factor);
    CHECK(r[a2].fs_factor > r[a1].fs_factor);
    free(r);
    gf_fs_tree_free(t);
}

/* ---------------------------------------------------------------------------
 * Fair Tree, case 2: a user tied with a sibling account, and two tied
 * sibling accounts whose children are merged.
 *
 *   root
 *   ├─ u0 (user) 1 share, usage 10
 *   ├─ P          1 share, usage 10: p1 (1, 10), p2 (1, 0)
 *   └─ Q          2 shares, usage 80
 *       ├─ Q1     1 share, usage 40: x (1, 30), y (1, 10)
 *       └─ Q2     1 share, usage 40: z (1, 40)
 *
 * Under root (shares 4, usage 100): u0 .25/.1 = 2.5, P .25/.1 = 2.5,
 * Q .5/.8 = .625. u0 and P tie; users sort before accounts, so u0 first.
 * 6 users.
 *   u0: rank 6 (rnt -> 5).
 *   P is tied with u0, so its first user takes u0's rank ("a user with the
 *   same Level Fairshare as a sibling account will receive the same rank as
 *   its highest ranked user"): p2 (.5/0 = infinity) rank 6 (rnt -> 4);
 *   p1 (.5/1 = .5) is not tied with p2: rank 4 (rnt -> 3).
 *   Q, not tied with P: Q1 and Q2 both .5/.5 = 1, tied accounts, so their
 *   children are merged and sorted together: y .5/.25 = 2, z 1/1 = 1,
 *   x .5/.75 = .667 -> y rank 3, z rank 2, x rank 1.
 * (Visiting Q1 and Q2 apart would give y 3, x 2, z 2: the merge matters.) */

static void test_fair_tree_case2(void)
{
    gf_fs_tree *t;
    CHECK(gf_fs_tree_create(&t) == GF_OK);
    int u0 = user(t, GF_FS_ROOT, "u0", 1, 10);
    int P = add(t, GF_FS_ROOT, "P", GF_FS_ACCOUNT, 1);
    int Q = add(t, GF_FS_ROOT, "Q", GF_FS_ACCOUNT, 2);
    int p1 = user(t, P, "p1", 1, 10);
    int p2 = user(t, P, "p2", 1, 0);
    int Q1 = add(t, Q, "Q1", GF_FS_ACCOUNT, 1);
    int Q2 = add(t, Q, "Q2", GF_FS_ACCOUNT, 1);
    int x = user(t, Q1, "x", 1, 30);
    int y = user(t, Q1, "y", 1, 10);
    int z = user(t, Q2, "z", 1, 40);
    int n = gf_fs_tree_size(t);
    gf_fs_result *r = malloc((size_t)n * sizeof *r);
    CHECK(gf_fs_fair_tree(t, r) == GF_OK);

    CHECK_NEAR(r[u0].level_fs, 2.5, 1e-12);
    CHECK(r[u0].level_fs == r[P].level_fs);
    CHECK_NEAR(r[Q].level_fs, 0.625, 1e-12);
    CHECK(r[Q1].level_fs == r[Q2].level_fs);
    CHECK(r[Q].usage_raw == 80);

    CHECK_MSG(r[u0].rank == 6 && r[p2].rank == 6 && r[p1].rank == 4, "u0 %d p2 %d p1 %d", r[u0].rank,
              r[p2].rank, r[p1].rank);
    CHECK_MSG(r[y].rank == 3 && r[z].rank == 2 && r[x].rank == 1, "y %d z %d x %d", r[y].rank, r[z].rank,
              r[x].rank);
    CHECK_NEAR(r[u0].fs_factor, 1.0, 1e-15);
    CHECK_NEAR(r[p2].fs_factor, 1.0, 1e-15);
    CHECK_NEAR(r[p1].fs_factor, 4.0 / 6, 1e-15);
    CHECK_NEAR(r[y].fs_factor, 0.5, 1e-15);
    CHECK_NEAR(r[z].fs_factor, 2.0 / 6, 1e-15);
    CHECK_NEAR(r[x].fs_factor, 1.0 / 6, 1e-15);
    fprintf(stderr, "fair tree case 2: u0 %.4f p2 %.4f p1 %.4f y %.4f z %.4f x %.4f\n", r[u0].fs_factor,
            r[p2].fs_factor, r[p1].fs_factor, r[y].fs_factor, r[z].fs_factor, r[x].fs_factor);
    free(r);
    gf_fs_tree_free(t);
}

/* ---------------------------------------------------------------------------
 * Fair Tree on random trees (every account holds at least one user): for any
 * two users, at the level just below their first common ancestor, the one
 * whose ancestor there has the higher Level FS has the higher factor; equal
 * Level FS only allows equal-or-either. Each factor is rank / users. */

#define RT_MAX 64

static void test_fair_tree_property(void)
{
    gf_rng rng;
    gf_rng_seed(&rng, 7);
    int pairs = 0;
    for (int trial = 0; trial < 200; trial++) {
        gf_fs_tree *t;
        CHECK(gf_fs_tree_create(&t) == GF_OK);
        int accts[RT_MAX], na = 0;
        int n_top = 2 + (int)gf_rng_below(&rng, 3);
        char name[32];
        for (int i = 0; i < n_top; i++) {
            snprintf(name, sizeof name, "acct%d", i);
            accts[na++] = add(t, GF_FS_ROOT, name, GF_FS_ACCOUNT, 1 + (double)gf_rng_below(&rng, 5));
        }
        int n_sub = (int)gf_rng_below(&rng, 4);
        for (int i = 0; i < n_sub; i++) {
            snprintf(name, sizeof name, "sub%d", i);
            int parent = accts[gf_rng_below(&rng, (uint64_t)na)];
            accts[na++] = add(t, parent, name, GF_FS_ACCOUNT, 1 + (double)gf_rng_below(&rng, 5));
        }
        int users[RT_MAX], nu = 0;
        for (int a = 0; a < na; a++) {
            int k = 1 + (int)gf_rng_below(&rng, 3);
            for (int j = 0; j < k; j++) {
                snprintf(name, sizeof name, "u%d", nu);
                /* a quarter unused; usage in whole units makes exact ties possible */
                double use = gf_rng_below(&rng, 4) == 0 ? 0 : (double)gf_rng_below(&rng, 100);
                users[nu++] = user(t, accts[a], name, 1 + (double)gf_rng_below(&rng, 3), use);
            }
        }
        int n = gf_fs_tree_size(t);
        gf_fs_result r[2 * RT_MAX];
        gf_fs_node_info info[2 * RT_MAX];
        CHECK(gf_fs_fair_tree(t, r) == GF_OK);
        for (int i = 0; i < n; i++) CHECK(gf_fs_node_info_get(t, i, &info[i]) == GF_OK);
        for (int i = 0; i < nu; i++) {
            CHECK(r[users[i]].rank >= 1 && r[users[i]].rank <= nu);
            CHECK_NEAR(r[users[i]].fs_factor, (double)r[users[i]].rank / nu, 1e-15);
        }
        for (int i = 0; i < nu; i++)
            for (int j = 0; j < nu; j++) {
                if (i == j) continue;
                /* ancestor chains from the root down */
                int ci[8], cj[8], li = 0, lj = 0;
                for (int a = users[i]; a > 0; a = info[a].parent) ci[li++] = a;
                for (int a = users[j]; a > 0; a = info[a].parent) cj[lj++] = a;
                int k = 1;
                while (k <= li && k <= lj && ci[li - k] == cj[lj - k]) k++;
                double lfi = r[ci[li - k]].level_fs, lfj = r[cj[lj - k]].level_fs;
                if (lfi > lfj) {
                    pairs++;
                    CHECK_MSG(r[users[i]].fs_factor > r[users[j]].fs_factor, "trial %d: %s %g vs %s %g", trial,
                              info[users[i]].name, r[users[i]].fs_factor, info[users[j]].name,
                              r[users[j]].fs_factor);
                }
            }
        gf_fs_tree_free(t);
    }
    CHECK(pairs > 1000);
    fprintf(stderr, "fair tree property: %d ordered pairs checked\n", pairs);
}

/* ---------------------------------------------------------------------------
 * Multifactor: priority = 1000 * age + 10000 * fairshare, PriorityMaxAge 7
 * days, fair-share factors from Fair Tree case 1 (b1 b2 1, a2 4/6, a1 3/6,
 * c1 2/6, d1 1/6).
 *   job 10  b1 submitted now          age 0   -> 10000
 *   job 15  b2 submitted 10 s from now age 0  -> 10000 (ties 10: later submit)
 *   job 9, 8 a2 submitted 7 days ago  age 1   -> 1000 + 6666.67 (tie: id 8 first)
 *   job 12  a1 submitted 3.5 days ago age .5  -> 500 + 5000
 *   job 11  c1 submitted 14 days ago  age 1   -> 1000 + 3333.33
 *   job 13  d1 submitted 1e6 s ago    age 1   -> 1000 + 1666.67
 *   job 14  d1 submitted 2e6 s ago    age 1   -> same (ties 13: earlier submit first) */

static void test_jobs_order(void)
{
    gf_fs_tree *t;
    CHECK(gf_fs_tree_create(&t) == GF_OK);
    int A = add(t, GF_FS_ROOT, "A", GF_FS_ACCOUNT, 50);
    int B = add(t, GF_FS_ROOT, "B", GF_FS_ACCOUNT, 30);
    int C = add(t, GF_FS_ROOT, "C", GF_FS_ACCOUNT, 20);
    int D = add(t, GF_FS_ROOT, "D", GF_FS_ACCOUNT, 0);
    int a1 = user(t, A, "a1", 1, 30);
    int a2 = user(t, A, "a2", 1, 10);
    int b1 = user(t, B, "b1", 1, 0);
    int b2 = user(t, B, "b2", 1, 0);
    int c1 = user(t, C, "c1", 1, 60);
    int d1 = user(t, D, "d1", 1, 0);
    gf_fs_result r[11];
    CHECK(gf_fs_tree_size(t) == 11);
    CHECK(gf_fs_fair_tree(t, r) == GF_OK);

    const double now = 1e7, day = 86400;
    gf_fs_weights w = { .w_age = 1000, .w_fairshare = 10000, .max_age_s = 7 * day };
    gf_fs_job jobs[] = {
        { 13, d1, now - 1e6 }, { 9, a2, now - 7 * day }, { 11, c1, now - 14 * day }, { 15, b2, now + 10 },
        { 12, a1, now - 3.5 * day }, { 8, a2, now - 7 * day }, { 14, d1, now - 2e6 }, { 10, b1, now },
    };
    const int n = (int)(sizeof jobs / sizeof jobs[0]);
    gf_fs_job_priority out[8];
    CHECK(gf_fs_jobs_order(t, r, &w, jobs, n, now, out) == GF_OK);
    const int64_t want[] = { 10, 15, 8, 9, 12, 11, 14, 13 };
    for (int i = 0; i < n; i++) CHECK_MSG(out[i].job_id == want[i], "position %d: job %lld, want %lld", i,
                                          (long long)out[i].job_id, (long long)want[i]);
    CHECK_NEAR(out[0].priority, 10000, 1e-9);
    CHECK(out[0].age_factor == 0 && out[1].age_factor == 0);
    CHECK_NEAR(out[2].priority, 1000 + 10000 * 4.0 / 6, 1e-9);
    CHECK(out[2].age_factor == 1 && out[2].fs_factor == r[a2].fs_factor);
    CHECK_NEAR(out[4].age_factor, 0.5, 1e-12);
    CHECK_NEAR(out[4].priority, 5500, 1e-9);
    CHECK_NEAR(out[5].priority, 1000 + 10000 * 2.0 / 6, 1e-9);
    CHECK(out[6].priority == out[7].priority && out[6].submit_time < out[7].submit_time);
    CHECK(out[6].user == d1);
    fprintf(stderr, "jobs order:");
    for (int i = 0; i < n; i++) fprintf(stderr, " %lld(%.2f)", (long long)out[i].job_id, out[i].priority);
    fputc('\n', stderr);

    CHECK_NEAR(gf_fs_age_factor(3600, 7200), 0.5, 1e-15);
    CHECK(gf_fs_age_factor(9000, 7200) == 1);
    CHECK(gf_fs_age_factor(-1, 7200) == 0);
    CHECK(gf_fs_age_factor(5, 0) == 1);

    /* bad input */
    gf_fs_job bad = { 1, A, now };
    CHECK(gf_fs_jobs_order(t, r, &w, &bad, 1, now, out) == GF_ERR_ARG);
    CHECK(strstr(gf_last_error(), "not a user") != NULL);
    bad.user = 99;
    CHECK(gf_fs_jobs_order(t, r, &w, &bad, 1, now, out) == GF_ERR_ARG);
    bad.user = b1;
    bad.submit_time = NAN;
    CHECK(gf_fs_jobs_order(t, r, &w, &bad, 1, now, out) == GF_ERR_ARG);
    gf_fs_weights wneg = { .w_age = -1, .w_fairshare = 1, .max_age_s = 1 };
    bad.submit_time = now;
    CHECK(gf_fs_jobs_order(t, r, &wneg, &bad, 1, now, out) == GF_ERR_ARG);
    CHECK(gf_fs_jobs_order(t, r, &w, &bad, -1, now, out) == GF_ERR_ARG);
    CHECK(gf_fs_jobs_order(t, r, &w, NULL, 0, now, NULL) == GF_OK);
    gf_fs_tree_free(t);
}

/* ---------------------------------------------------------------------------
 * Bad input leaves the tree as it was, with a message that names the fault. */

static void test_errors(void)
{
    CHECK(gf_fs_tree_create(NULL) == GF_ERR_ARG);
    gf_fs_tree *t;
    CHECK(gf_fs_tree_create(&t) == GF_OK);
    int id = -1;
    int a = add(t, GF_FS_ROOT, "acct", GF_FS_ACCOUNT, 10);
    int u = user(t, a, "alice", 1, 5);

    CHECK(gf_fs_node_add(t, GF_FS_ROOT, "neg", GF_FS_ACCOUNT, -1, &id) == GF_ERR_ARG);
    CHECK(strstr(gf_last_error(), "neg") && strstr(gf_last_error(), "shares"));
    CHECK(gf_fs_node_add(t, GF_FS_ROOT, "nan", GF_FS_ACCOUNT, NAN, &id) == GF_ERR_ARG);
    CHECK(gf_fs_node_add(t, 42, "orphan", GF_FS_USER, 1, &id) == GF_ERR_ARG);
    CHECK(strstr(gf_last_error(), "42") != NULL);
    CHECK(gf_fs_node_add(t, -1, "orphan", GF_FS_USER, 1, &id) == GF_ERR_ARG);
    CHECK(gf_fs_node_add(t, u, "under_user", GF_FS_USER, 1, &id) == GF_ERR_ARG);
    CHECK(strstr(gf_last_error(), "alice") != NULL);
    CHECK(gf_fs_node_add(t, a, "alice", GF_FS_USER, 1, &id) == GF_ERR_ARG);   /* duplicate sibling */
    CHECK(gf_fs_node_add(t, a, "", GF_FS_USER, 1, &id) == GF_ERR_ARG);
    char longname[GF_FS_NAME_MAX + 1];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    CHECK(gf_fs_node_add(t, a, longname, GF_FS_USER, 1, &id) == GF_ERR_ARG);
    CHECK(gf_fs_node_add(t, a, "k", (gf_fs_kind)7, 1, &id) == GF_ERR_ARG);
    CHECK(gf_fs_node_add(t, a, NULL, GF_FS_USER, 1, &id) == GF_ERR_ARG);
    CHECK(gf_fs_tree_size(t) == 3 && gf_fs_tree_users(t) == 1);

    /* the same user name under another account is another association */
    int b = add(t, GF_FS_ROOT, "other", GF_FS_ACCOUNT, 1);
    int u2 = add(t, b, "alice", GF_FS_USER, 1);
    CHECK(u2 != u && gf_fs_tree_users(t) == 2);
    CHECK(gf_fs_node_find(t, b, "alice", &id) == GF_OK && id == u2);
    CHECK(gf_fs_node_find(t, a, "alice", &id) == GF_OK && id == u);
    CHECK(gf_fs_node_find(t, a, "bob", &id) == GF_ERR_ARG);

    CHECK(gf_fs_node_set_usage(t, a, 1) == GF_ERR_ARG);        /* accounts carry no usage */
    CHECK(strstr(gf_last_error(), "account") != NULL);
    CHECK(gf_fs_node_set_usage(t, u, -1) == GF_ERR_ARG);
    CHECK(gf_fs_node_set_usage(t, u, INFINITY) == GF_ERR_ARG);
    CHECK(gf_fs_node_set_usage(t, 99, 1) == GF_ERR_ARG);
    CHECK(gf_fs_node_add_usage(t, u, -6) == GF_ERR_ARG);
    CHECK(gf_fs_node_add_usage(t, u, NAN) == GF_ERR_ARG);
    gf_fs_node_info info;
    CHECK(gf_fs_node_info_get(t, u, &info) == GF_OK && info.usage == 5);
    CHECK(strcmp(info.name, "alice") == 0 && info.parent == a && info.kind == GF_FS_USER && info.shares == 1);
    CHECK(gf_fs_node_info_get(t, GF_FS_ROOT, &info) == GF_OK && info.n_children == 2 && info.parent == -1);
    CHECK(gf_fs_node_info_get(t, 99, &info) == GF_ERR_ARG);

    CHECK(gf_fs_tree_set_total_usage(t, -3) == GF_ERR_ARG);
    CHECK(gf_fs_tree_decay(t, -1, 3600) == GF_ERR_ARG);
    CHECK(gf_fs_tree_decay(t, NAN, 3600) == GF_ERR_ARG);
    CHECK(gf_fs_tree_decay(t, 1, -3600) == GF_ERR_ARG);
    CHECK(gf_fs_node_info_get(t, u, &info) == GF_OK && info.usage == 5);
    CHECK(gf_fs_classic(t, NULL) == GF_ERR_ARG);
    CHECK(gf_fs_fair_tree(NULL, NULL) == GF_ERR_ARG);

    /* zero shares everywhere below an account: S = 0, factors 0 (classic),
     * Level FS 0 (fair tree); no usage at all: nothing divides by zero */
    int z = add(t, GF_FS_ROOT, "zero", GF_FS_ACCOUNT, 0);
    int zu = add(t, z, "zu", GF_FS_USER, 0);
    gf_fs_result r[8];
    CHECK(gf_fs_tree_size(t) <= 8);
    CHECK(gf_fs_classic(t, r) == GF_OK);
    CHECK(r[zu].shares_norm == 0 && r[zu].fs_factor == 0);
    CHECK(gf_fs_fair_tree(t, r) == GF_OK);
    CHECK(r[zu].level_fs == 0 && r[zu].rank == 1);
    CHECK(gf_fs_node_set_usage(t, u, 0) == GF_OK);
    CHECK(gf_fs_classic(t, r) == GF_OK);
    for (int i = 1; i < gf_fs_tree_size(t); i++) CHECK(isfinite(r[i].fs_factor));
    gf_fs_tree_free(t);

    /* a tree with no users */
    CHECK(gf_fs_tree_create(&t) == GF_OK);
    add(t, GF_FS_ROOT, "empty", GF_FS_ACCOUNT, 1);
    CHECK(gf_fs_fair_tree(t, r) == GF_OK && gf_fs_classic(t, r) == GF_OK);
    gf_fs_tree_free(t);
    gf_fs_tree_free(NULL);
}

int main(void)
{
    test_classic_example();
    test_decay();
    test_fair_tree_case1();
    test_fair_tree_case2();
    test_fair_tree_property();
    test_jobs_order();
    test_errors();
    return check_summary();
}
