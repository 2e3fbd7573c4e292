/* privacy/accountant: the published values of TensorFlow Privacy and Opacus
 * (RDP of one order, three (epsilon, best order) pairs), the independent
 * reference of tests/data/rdp_reference.txt (RDP by numerical integration
 * of A_alpha and its epsilon, scripts/gen_rdp_reference.py), the q = 1
 * closed form, monotonicity in noise, steps and sample rate, gf_dp_noise
 * inverting gf_dp_epsilon, and rejected arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "privacy/accountant.h"

#define CHECK_REL(a, b, rel) CHECK_NEAR(a, b, (rel) * fabs((double)(b)))

static void check_error(gf_status st, gf_status want, const char *phrase)
{
    CHECK_MSG(st == want, "status %d, want %d (%s)", (int)st, (int)want, gf_last_error());
    CHECK_MSG(strstr(gf_last_error(), phrase) != NULL, "message \"%s\" lacks \"%s\"", gf_last_error(), phrase);
}

static void test_published(void)
{
    double alpha = 5, rdp, eps, order;
    CHECK(gf_rdp_compute(0.1, 2, 10, &alpha, 1, &rdp) == GF_OK);
    CHECK_REL(rdp, 0.0773697, 1e-6);

    CHECK(gf_dp_epsilon(1.5, 0.04, 2250, 1e-5, &eps, &order) == GF_OK);
    CHECK_REL(eps, 7.329111, 1e-6);
    CHECK_NEAR(order, 3.9, 1e-12);

    CHECK(gf_dp_epsilon(1.3, 150.0 / 60000.0, 15 * 400, 1e-5, &eps, &order) == GF_OK);
    CHECK_REL(eps, 0.724223, 1e-6);
    CHECK(order == 19);

    double orders[31], rdps[31];
    for (int i = 0; i < 31; i++) { orders[i] = i + 2; rdps[i] = 1.1; }
    CHECK(gf_rdp_to_epsilon(orders, rdps, 31, 1e-5, &eps, &order) == GF_OK);
    CHECK_REL(eps, 1.327838, 1e-6);
    CHECK(order == 32);
}

#ifndef RDP_REF_PATH
#define RDP_REF_PATH "tests/data/rdp_reference.txt"
#endif

/* Every line of the reference: one step's RDP at an order (integer or
 * fractional), and epsilon with its best order over the default orders. */
static void test_reference(void)
{
    FILE *f = fopen(RDP_REF_PATH, "r");
    CHECK_MSG(f != NULL, "cannot open %s", RDP_REF_PATH);
    if (!f) return;
    char line[256];
    int nrdp = 0, neps = 0, frac = 0, q1 = 0, small_sigma = 0;
    double worst_rdp = 0, worst_eps = 0;
    while (fgets(line, sizeof line, f)) {
        double sigma, q, alpha, want, delta, order;
        long long steps;
        char word[8];
        if (line[0] == '#' || sscanf(line, "%7s", word) != 1) continue;
        if (!strcmp(word, "rdp") && sscanf(line, "rdp %lf %lf %lf %lf", &sigma, &q, &alpha, &want) == 4) {
            double got = gf_rdp_subsampled_gaussian(q, sigma, alpha);
            double rel = fabs(got - want) / want;
            CHECK_MSG(rel < 1e-8, "RDP sigma %g q %g order %g: %.12g, reference %.12g", sigma, q, alpha, got, want);
            worst_rdp = fmax(worst_rdp, rel);
            nrdp++;
        } else if (!strcmp(word, "eps") &&
                   sscanf(line, "eps %lf %lf %lld %lf %lf %lf", &sigma, &q, &steps, &delta, &want, &order) == 6) {
            double got, got_order;
            CHECK(gf_dp_epsilon(sigma, q, steps, delta, &got, &got_order) == GF_OK);
            double rel = fabs(got - want) / want;
            CHECK_MSG(rel < 1e-9 && fabs(got_order - order) < 1e-9, "epsilon sigma %g q %g steps %lld delta %g: "
                      "%.12g at order %g, reference %.12g at %g", sigma, q, steps, delta, got, got_order, want, order);
            worst_eps = fmax(worst_eps, rel);
            neps++;
            frac += order != floor(order);
            q1 += q == 1;
            small_sigma += sigma <= 0.5;
        } else {
            CHECK_MSG(0, "%s: unreadable line \"%s\"", RDP_REF_PATH, line);
        }
    }
    fclose(f);
    /* the reference covers what it must: 20+ settings, fractional best
     * orders, q = 1, sigma down to 0.5 */
    CHECK_MSG(nrdp >= 10 && neps >= 20 && frac >= 5 && q1 >= 3 && small_sigma >= 3,
              "reference: %d RDP lines, %d epsilon lines (%d fractional orders, %d at q = 1, %d at sigma <= 0.5)",
              nrdp, neps, frac, q1, small_sigma);
    printf("  reference: %d RDP values (worst relative error %.1e), %d epsilons (%.1e)\n", nrdp, worst_rdp, neps,
           worst_eps);
}

static void test_orders_and_edges(void)
{
    int n = 0;
    const double *o = gf_rdp_default_orders(&n);
    CHECK(n == 151);
    CHECK(o[0] == 1 + 1 / 10.0 && o[9] == 2 && o[98] == 1 + 99 / 10.0 && o[99] == 12 && o[150] == 63);
    for (int i = 1; i < n; i++) CHECK(o[i] > o[i - 1]);

    /* q = 1: no amplification, exactly steps * alpha / (2 sigma^2) */
    double alphas[3] = {1.5, 2, 32}, rdp[3];
    CHECK(gf_rdp_compute(1, 1.7, 123, alphas, 3, rdp) == GF_OK);
    for (int i = 0; i < 3; i++) CHECK(rdp[i] == 123 * (alphas[i] / (2 * 1.7 * 1.7)));
    CHECK(gf_rdp_subsampled_gaussian(0, 1, 2) == 0);
    CHECK(isinf(gf_rdp_subsampled_gaussian(0.1, 0, 2)));
    CHECK(isnan(gf_rdp_subsampled_gaussian(0.1, 1, 0.5)));
    /* fractional and integer orders agree near an integer */
    double r4 = gf_rdp_subsampled_gaussian(0.01, 1.1, 4);
    CHECK_REL(gf_rdp_subsampled_gaussian(0.01, 1.1, 4 + 1e-7), r4, 1e-5);
    CHECK_REL(gf_rdp_subsampled_gaussian(0.01, 1.1, 4 - 1e-7), r4, 1e-5);

    /* NaN entries and orders <= 1 are skipped; all-inf gives inf with no order */
    double ords[4] = {0.5, 1, 2, 3}, rr[4] = {0, 0, NAN, 1};
    double eps, order;
    CHECK(gf_rdp_to_epsilon(ords, rr, 4, 1e-5, &eps, &order) == GF_OK);
    CHECK(order == 3 && isfinite(eps));
    double inf2[2] = {INFINITY, INFINITY};
    CHECK(gf_rdp_to_epsilon(ords + 2, inf2, 2, 1e-5, &eps, &order) == GF_OK);
    CHECK(isinf(eps) && isnan(order));
}

static void test_monotone(void)
{
    double prev = INFINITY, eps;
    for (double s = 0.6; s < 8; s *= 1.3) {
        CHECK(gf_dp_epsilon(s, 0.01, 1000, 1e-5, &eps, NULL) == GF_OK);
        CHECK_MSG(eps < prev, "sigma %g: eps %g not below %g", s, eps, prev);
        prev = eps;
    }
    prev = 0;
    for (int64_t steps = 1; steps <= 100000; steps *= 10) {
        CHECK(gf_dp_epsilon(1.1, 0.01, steps, 1e-5, &eps, NULL) == GF_OK);
        CHECK_MSG(eps > prev, "steps %lld: eps %g not above %g", (long long)steps, eps, prev);
        prev = eps;
    }
    prev = 0;
    for (double q = 0.001; q <= 1; q *= 2.5) {
        CHECK(gf_dp_epsilon(1.1, q, 100, 1e-5, &eps, NULL) == GF_OK);
        CHECK_MSG(eps > prev, "q %g: eps %g not above %g", q, eps, prev);
        prev = eps;
    }
}

static void test_noise(void)
{
    double sigma = 0, eps, order;
    CHECK(gf_dp_noise(7.329111, 1e-5, 0.04, 2250, &sigma) == GF_OK);
    CHECK_NEAR(sigma, 1.5, 1e-3);
    CHECK(gf_dp_epsilon(sigma, 0.04, 2250, 1e-5, &eps, &order) == GF_OK);
    CHECK(eps <= 7.329111);
    CHECK(gf_dp_epsilon(sigma * (1 - 1e-6), 0.04, 2250, 1e-5, &eps, NULL) == GF_OK);
    CHECK(eps > 7.329111);

    double targets[4] = {0.5, 1, 3, 20};
    for (int i = 0; i < 4; i++) {
        CHECK(gf_dp_noise(targets[i], 1e-5, 150.0 / 60000.0, 6000, &sigma) == GF_OK);
        CHECK(gf_dp_epsilon(sigma, 150.0 / 60000.0, 6000, 1e-5, &eps, NULL) == GF_OK);
        CHECK_MSG(eps <= targets[i] && eps > targets[i] * (1 - 1e-4), "target %g: sigma %g eps %g",
                  targets[i], sigma, eps);
    }
    /* q = 1, one step: a large epsilon needs little noise */
    CHECK(gf_dp_noise(50, 1e-5, 1, 1, &sigma) == GF_OK);
    CHECK(sigma > 0 && sigma < 1);
}

static void test_bad_args(void)
{
    double eps, sigma, alpha = 2, rdp;
    check_error(gf_dp_epsilon(1, 0, 10, 1e-5, &eps, NULL), GF_ERR_ARG, "sample rate");
    check_error(gf_dp_epsilon(1, 1.5, 10, 1e-5, &eps, NULL), GF_ERR_ARG, "sample rate");
    check_error(gf_dp_epsilon(1, 0.1, 0, 1e-5, &eps, NULL), GF_ERR_ARG, "steps");
    check_error(gf_dp_epsilon(1, 0.1, 10, 0, &eps, NULL), GF_ERR_ARG, "delta");
    check_error(gf_dp_epsilon(1, 0.1, 10, 1, &eps, NULL), GF_ERR_ARG, "delta");
    check_error(gf_dp_epsilon(0, 0.1, 10, 1e-5, &eps, NULL), GF_ERR_ARG, "noise multiplier");
    check_error(gf_dp_epsilon(NAN, 0.1, 10, 1e-5, &eps, NULL), GF_ERR_ARG, "noise multiplier");
    check_error(gf_dp_noise(0, 1e-5, 0.1, 10, &sigma), GF_ERR_ARG, "target epsilon");
    check_error(gf_dp_noise(-1, 1e-5, 0.1, 10, &sigma), GF_ERR_ARG, "target epsilon");
    check_error(gf_dp_noise(1, 1e-5, 0.1, -3, &sigma), GF_ERR_ARG, "steps");
    check_error(gf_dp_noise(0.05, 1e-5, 0.04, 2250, &sigma), GF_ERR_MISMATCH, "out of reach");
    check_error(gf_rdp_compute(0.1, 1, 10, &alpha, 0, &rdp), GF_ERR_ARG, "order");
    alpha = 1;
    check_error(gf_rdp_compute(0.1, 1, 10, &alpha, 1, &rdp), GF_ERR_ARG, "orders must be > 1");
    alpha = 2;
    check_error(gf_rdp_compute(0.1, -1, 10, &alpha, 1, &rdp), GF_ERR_ARG, "noise multiplier");
    double neg = -0.5;
    check_error(gf_rdp_to_epsilon(&alpha, &neg, 1, 1e-5, &eps, NULL), GF_ERR_ARG, "negative");
    check_error(gf_rdp_to_epsilon(&alpha, &rdp, 1, 2, &eps, NULL), GF_ERR_ARG, "delta");
}

int main(void)
{
    test_published();
    test_reference();
    test_orders_and_edges();
    test_monotone();
    test_noise();
    test_bad_args();
    return check_summary();
}
