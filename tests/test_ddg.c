/* The distributed discrete Gaussian's accountant (privacy/ddg.h) against
 * the independent reference tests/data/ddg_reference.txt
 * (scripts/gen_ddg_reference.py, 40-digit mpmath): the RDP bound of
 * Kairouz, Liu and Steinke's Proposition 14 to 1e-9 relative, epsilon over
 * rounds (through the accountant's RDP -> (epsilon, delta) conversion) to
 * 1e-9 with the same best order, and the bound at or above the exact Renyi
 * divergence of sums of discrete Gaussians, computed there by convolution. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "privacy/accountant.h"
#include "privacy/ddg.h"

#define REF "tests/data/ddg_reference.txt"

static double rel(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-300); }

int main(void)
{
    FILE *f = fopen(REF, "r");
    CHECK_MSG(f != NULL, "cannot open %s (run from the repository root)", REF);
    if (!f) return check_summary();
    char line[512];
    int nddg = 0, nexact = 0, neps = 0;
    int norders;
    const double *orders = gf_rdp_default_orders(&norders);
    while (fgets(line, sizeof line, f)) {
        double alpha, delta2, sigma2, want, shift, delta, order;
        long long d, rounds;
        int m;
        if (!strncmp(line, "ddg ", 4) &&
            sscanf(line + 4, "%lf %lf %lld %lf %d %lf", &alpha, &delta2, &d, &sigma2, &m, &want) == 6) {
            double got = gf_ddg_rdp(alpha, delta2, d, sigma2, m);
            CHECK_MSG(rel(got, want) <= 1e-9, "ddg alpha %g delta2 %g d %lld sigma2 %g m %d: %.15g, reference %.15g",
                      alpha, delta2, d, sigma2, m, got, want);
            /* the multiplier form is the second branch: never below the bound */
            double z = gf_ddg_multiplier(delta2, d, sigma2, m);
            CHECK(alpha / (2 * z * z) >= got * (1 - 1e-12));
            nddg++;
        } else if (!strncmp(line, "exact ", 6) &&
                   sscanf(line + 6, "%lf %lf %lf %d %lf", &alpha, &shift, &sigma2, &m, &want) == 5) {
            double got = gf_ddg_rdp(alpha, shift, 1, sigma2, m);
            CHECK_MSG(got >= want * (1 - 1e-12), "the bound %.15g is below the exact divergence %.15g (alpha %g, "
                      "shift %g, sigma2 %g, m %d)", got, want, alpha, shift, sigma2, m);
            nexact++;
        } else if (!strncmp(line, "eps ", 4) &&
                   sscanf(line + 4, "%lld %lf %lld %lf %d %lf %lf %lf", &rounds, &delta2, &d, &sigma2, &m, &delta,
                          &want, &order) == 8) {
            double rdp[200], eps = NAN, best = NAN;
            for (int i = 0; i < norders; i++) rdp[i] = (double)rounds * gf_ddg_rdp(orders[i], delta2, d, sigma2, m);
            CHECK(gf_rdp_to_epsilon(orders, rdp, norders, delta, &eps, &best) == GF_OK);
            CHECK_MSG(rel(eps, want) <= 1e-9 && fabs(best - order) < 1e-9, "eps rounds %lld delta2 %g d %lld sigma2 %g "
                      "m %d: %.12g at order %g, reference %.12g at %g", rounds, delta2, d, sigma2, m, eps, best, want,
                      order);
            neps++;
        }
    }
    fclose(f);
    CHECK_MSG(nddg >= 10 && nexact >= 10 && neps >= 6, "reference lines: %d ddg, %d exact, %d eps", nddg, nexact, neps);
    /* bad arguments */
    CHECK(isnan(gf_ddg_rdp(1.0, 1, 1, 1, 2)) && isnan(gf_ddg_rdp(2, 1, 0, 1, 2)) && isnan(gf_ddg_rdp(2, 1, 1, 0, 2)));
    CHECK(gf_ddg_multiplier(1, 1, 0, 3) == 0 && gf_ddg_multiplier(0, 1, 1, 3) == 0);
    /* m = 1: a single discrete Gaussian, tau = 0, exactly alpha delta^2 / (2 sigma^2) */
    CHECK(gf_ddg_tau(0.1, 1) == 0 && gf_ddg_rdp(3, 2, 5, 4, 1) == 3.0 * 4 / 8);
    fprintf(stderr, "  %d bounds, %d exact divergences, %d epsilons compared with %s\n", nddg, nexact, neps, REF);
    return check_summary();
}
