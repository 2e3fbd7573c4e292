#!/usr/bin/python3
# gen_ddg_reference.py -- owns tests/data/ddg_reference.txt: the RDP bound
# of the distributed discrete Gaussian that src/privacy/ddg.c uses, the
# (epsilon, delta) it converts to over rounds, and exact Renyi divergences
# of sums of discrete Gaussians that the bound must stay above, computed
# independently of the C code in arbitrary precision (Debian's
# python3-mpmath), for tests/test_ddg.c and tests/cli/ddg_reference.sh.
#
# Run:   /usr/bin/python3 scripts/gen_ddg_reference.py [OUT]   (default: stdout)
# Deterministic: the same mpmath gives the same bytes.
#
# The bound (Kairouz, Liu and Steinke 2021, Proposition 14): m sites each
# add N_Z(0, sigma2) to a d-dimensional integer vector whose L2 sensitivity
# is delta2; with s = delta2 / sqrt(m sigma2) and
# tau = 10 sum_{k=1}^{m-1} exp(-2 pi^2 sigma2 k / (k + 1)), the sum has RDP
# at order alpha at most
#     min(alpha/2 s^2 + tau d, alpha/2 (s + sqrt(d) tau)^2).
#
# The exact divergence (d = 1): the pmf of the sum of m independent
# N_Z(0, sigma2), by convolution of the normalised pmfs on |x| <= 40 sigma + 10
# (mass outside below e^-800), and
#     D_alpha(Z + delta || Z) = log(sum_x P(x - delta)^alpha P(x)^(1 - alpha)) / (alpha - 1).
#
# (epsilon, delta): the conversion of src/privacy/accountant.c (Balle et al.
# 2020), minimised over Opacus's default orders 1.1 ... 10.9, 12 ... 63.
#
# Lines of the output ('#' starts a comment):
#   ddg ALPHA DELTA2 D SIGMA2 M RDP                  the bound at one order
#   exact ALPHA SHIFT SIGMA2 M DIVERGENCE            the exact divergence, d = 1
#   eps ROUNDS DELTA2 D SIGMA2 M DELTA EPSILON ORDER  rounds of the bound, converted
import sys

import mpmath as mp

mp.mp.dps = 40

ORDERS = [mp.mpf(10 + i) / 10 for i in range(1, 100)] + [mp.mpf(a) for a in range(12, 64)]
ORDER_TEXT = ["%g" % (1 + i / 10) for i in range(1, 100)] + [str(a) for a in range(12, 64)]

# (alpha, delta2, d, sigma2, m): tau negligible (the planned rounds: sigma in the
# millions) and tau dominant (sigma2 below 1)
DDG_CASES = [
    ("2", "1", 1, "0.25", 2), ("2", "1", 1, "0.5", 3), ("5.5", "3", 10, "1", 4),
    ("1.1", "10", 100, "2", 3), ("32", "2", 1, "0.3", 10), ("8", "1", 1000, "0.6", 5),
    ("2", "1e8", 100000, "4e15", 11), ("63", "80000000", 1000000, "3e15", 51),
    ("3.7", "5", 7, "1.5", 2), ("10", "1", 1, "0.1", 1),
]

# (alpha, shift, sigma2, m) for the exact divergence
EXACT_CASES = [
    ("2", 1, "0.25", 2), ("2", 1, "0.5", 2), ("3.5", 1, "0.5", 3), ("8", 2, "1", 2),
    ("2", 1, "1", 1), ("2.5", 1, "1", 1), ("4", 3, "2", 3), ("1.5", 1, "0.3", 3),
    ("6", 1, "0.25", 3), ("2", 2, "2", 2),
]

# (rounds, delta2, d, sigma2, m, delta)
EPS_CASES = [
    (100, "1e8", 100000, "1e16", 6, 1e-5),      # multiplier ~2.45: Gaussian-like
    (30, "2e7", 1000, "4e14", 11, 1e-5),
    (1, "1", 1, "0.5", 2, 1e-5),
    (10, "2", 10, "1", 3, 1e-6),
    (50, "50", 100, "500", 4, 1e-5),
    (1000, "1e6", 10000, "1e12", 3, 1e-5),
]


def tau(sigma2, m):
    return 10 * mp.fsum(mp.exp(-2 * mp.pi ** 2 * sigma2 * k / (k + 1)) for k in range(1, m))


def bound(alpha, delta2, d, sigma2, m):
    alpha, delta2, sigma2 = mp.mpf(alpha), mp.mpf(delta2), mp.mpf(sigma2)
    s = delta2 / mp.sqrt(m * sigma2)
    t = tau(sigma2, m)
    return min(alpha / 2 * s ** 2 + t * d, alpha / 2 * (s + mp.sqrt(d) * t) ** 2)


def pmf_sum(sigma2, m):
    """{x: P(sum of m N_Z(0, sigma2) = x)}"""
    L = int(40 * mp.sqrt(sigma2)) + 10
    w = [mp.exp(-mp.mpf(x) ** 2 / (2 * sigma2)) for x in range(-L, L + 1)]
    z = mp.fsum(w)
    one = {x: w[x + L] / z for x in range(-L, L + 1)}
    acc = dict(one)
    for _ in range(m - 1):
        nxt = {}
        for a, pa in acc.items():
            for b, pb in one.items():
                nxt[a + b] = nxt.get(a + b, 0) + pa * pb
        acc = nxt
    return acc


def exact(alpha, shift, sigma2, m):
    alpha, sigma2 = mp.mpf(alpha), mp.mpf(sigma2)
    p = pmf_sum(sigma2, m)
    terms = [p[x - shift] ** alpha * p[x] ** (1 - alpha) for x in p if (x - shift) in p]
    return mp.log(mp.fsum(terms)) / (alpha - 1)


def epsilon(rounds, delta2, d, sigma2, m, delta):
    best, best_text = mp.inf, None
    ld = mp.log(mp.mpf(delta))
    for a, text in zip(ORDERS, ORDER_TEXT):
        e = rounds * bound(a, delta2, d, sigma2, m) - (ld + mp.log(a)) / (a - 1) + mp.log((a - 1) / a)
        if e < best:
            best, best_text = e, text
    return max(best, mp.mpf(0)), best_text


def main():
    out = open(sys.argv[1], "w") if len(sys.argv) > 1 else sys.stdout
    out.write("# The distributed discrete Gaussian's RDP bound (Kairouz, Liu, Steinke 2021, Prop. 14),\n"
              "# exact Renyi divergences of sums of discrete Gaussians, and epsilon over Opacus's\n"
              "# default orders; made by scripts/gen_ddg_reference.py (mpmath %s, %d digits). Do not edit.\n"
              % (mp.__version__, mp.mp.dps))
    for alpha, delta2, d, sigma2, m in DDG_CASES:
        out.write("ddg %s %s %d %s %d %s\n" % (alpha, delta2, d, sigma2, m, mp.nstr(bound(alpha, delta2, d, sigma2, m), 15)))
    for alpha, shift, sigma2, m in EXACT_CASES:
        out.write("exact %s %d %s %d %s\n" % (alpha, shift, sigma2, m, mp.nstr(exact(alpha, shift, sigma2, m), 15)))
    for rounds, delta2, d, sigma2, m, delta in EPS_CASES:
        e, order = epsilon(rounds, delta2, d, sigma2, m, delta)
        out.write("eps %d %s %d %s %d %s %s %s\n" % (rounds, delta2, d, sigma2, m, delta, mp.nstr(e, 15), order))
    out.close()


if __name__ == "__main__":
    main()
