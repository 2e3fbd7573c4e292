#!/usr/bin/python3
# gen_rdp_reference.py -- owns tests/data/rdp_reference.txt: the RDP of the
# subsampled Gaussian mechanism and the (epsilon, delta) it converts to,
# computed independently of src/privacy/accountant.c by numerical
# integration in arbitrary precision (Debian's python3-mpmath), for
# tests/test_accountant.c and tests/cli/dp_reference.sh to compare against.
#
# Run:   /usr/bin/python3 scripts/gen_rdp_reference.py [OUT]   (default: stdout)
# Deterministic: the same mpmath gives the same bytes.
#
# RDP (Mironov, Talwar and Zhang 2019, "Renyi Differential Privacy of the
# Sampled Gaussian Mechanism", Sec. 3): with mu0 = N(0, sigma^2), mu1 =
# N(1, sigma^2) and mu = (1 - q) mu0 + q mu1, one step has RDP at order alpha
#     eps(alpha) = log(A_alpha) / (alpha - 1),
#     A_alpha    = integral of mu0(z) (mu(z) / mu0(z))^alpha dz
# (A_alpha >= B_alpha for this mechanism, their Theorem 5), integrated here
# directly, for integer and fractional alpha alike; `steps` steps compose
# to steps * eps(alpha).
#
# (epsilon, delta): the conversion accountant.c uses (Balle et al. 2020,
# Thm 21, as Opacus and TensorFlow Privacy do now), minimised over Opacus's
# default orders 1.1, 1.2, ..., 10.9, 12, ..., 63:
#     epsilon = min_a  rdp(a) - (log(delta) + log(a)) / (a - 1) + log((a - 1) / a),
# clamped at 0; the best order is the a that attains it.
#
# Lines of the output ('#' starts a comment):
#   rdp SIGMA Q ALPHA VALUE                 one step's RDP at order ALPHA
#   eps SIGMA Q STEPS DELTA EPSILON ORDER   epsilon over the default orders
import sys

import mpmath as mp

mp.mp.dps = 40

ORDERS = [mp.mpf(10 + i) / 10 for i in range(1, 100)] + [mp.mpf(a) for a in range(12, 64)]
ORDER_TEXT = ["%g" % (1 + i / 10) for i in range(1, 100)] + [str(a) for a in range(12, 64)]

# (sigma, q, steps, delta): q = 1, sigma down to 0.5, small and large q, the
# published Opacus / TF Privacy settings and those of docs/privacy.md
EPS_CASES = [
    (1.5, 0.04, 2250, 1e-5),
    (1.3, 0.0025, 6000, 1e-5),
    (1.1, 0.01, 1000, 1e-5),
    (1.0, 0.01, 10000, 1e-5),
    (1.0, 0.1, 100, 1e-5),
    (1.0, 0.3, 100, 1e-5),
    (1.0, 1, 100, 1e-5),
    (1.0, 1, 3, 1e-5),
    (1.5, 1, 30, 1e-5),
    (0.915, 1, 30, 1e-5),
    (0.5, 1, 1, 1e-5),
    (0.5, 0.01, 100, 1e-5),
    (0.5, 0.001, 1000, 1e-6),
    (0.7, 0.05, 500, 1e-5),
    (0.8, 0.064, 16, 1e-6),
    (1.1, 0.064, 32, 1e-5),
    (2.0, 0.2, 50, 1e-5),
    (3.0, 0.5, 200, 1e-5),
    (4.0, 0.02, 100000, 1e-7),
    (0.6, 0.9, 10, 1e-3),
    (5.0, 1, 1000, 1e-5),
    (1.2, 0.005, 20000, 1e-8),
]

# (sigma, q, alpha) for one step's RDP, fractional and integer orders
RDP_CASES = [
    (2.0, 0.1, "5"), (1.1, 0.01, "4"), (1.1, 0.01, "4.5"), (0.5, 0.01, "1.1"),
    (0.5, 0.01, "2.7"), (0.5, 0.2, "8"), (1.0, 0.3, "1.5"), (1.0, 0.3, "32"),
    (0.8, 0.05, "10.9"), (3.0, 0.5, "63"), (1.5, 1, "2.3"), (0.7, 0.001, "6.6"),
]


def nodes(sigma, q, h):
    """(log of h * mu0(z), log(mu(z) / mu0(z))) at z = lo, lo + h, ..., hi.

    The integrand mu0 (mu / mu0)^alpha is a mixture of Gaussian bumps of
    width sigma centred between 0 and alpha (<= 63): [-14 sigma, 63 + 14
    sigma] holds all of it but e^-98 of each bump. It is analytic in the
    strip |Im z| < pi sigma^2 (mu / mu0 vanishes only off it), so the
    trapezoid rule with step h converges like exp(-2 pi^2 sigma^2 / h)."""
    lo, hi = -14 * sigma, 63 + 14 * sigma
    n = int(mp.ceil((hi - lo) / h))
    s2 = sigma * sigma
    log_norm = -mp.log(sigma) - mp.log(2 * mp.pi) / 2 + mp.log(h)
    out = []
    for i in range(n + 1):
        z = lo + i * h
        out.append((log_norm - z * z / (2 * s2), mp.log((1 - q) + q * mp.exp((2 * z - 1) / (2 * s2)))))
    return out


def log_a(grid, alpha):
    """log A_alpha: the trapezoid sum of mu0 (mu / mu0)^alpha over the grid."""
    terms = [l0 + alpha * lr for l0, lr in grid]
    m = max(terms)
    return m + mp.log(mp.fsum(mp.exp(t - m) for t in terms))


class Rdp:
    """One step's RDP at any order for (sigma, q), on a grid of step sigma / 10,
    checked against the grid of twice the step (they must agree to 1e-25)."""

    def __init__(self, sigma, q):
        self.sigma, self.q = mp.mpf(str(sigma)), mp.mpf(str(q))   # the decimal as written
        self.fine = nodes(self.sigma, self.q, self.sigma / 10)
        self.coarse = self.fine[::2]      # step sigma / 5: the same sum, half the nodes

    def __call__(self, alpha):
        alpha = mp.mpf(str(alpha)) if not isinstance(alpha, mp.mpf) else alpha
        a, b = log_a(self.fine, alpha), log_a(self.coarse, alpha) + mp.log(2)
        if abs(a - b) > mp.mpf(10) ** -25 * max(1, abs(a)):
            raise SystemExit("integration did not converge at sigma %s q %s alpha %s: %s vs %s"
                             % (self.sigma, self.q, alpha, a, b))
        return a / (alpha - 1)


def rdp(sigma, q, alpha):
    return Rdp(sigma, q)(alpha)


def epsilon(sigma, q, steps, delta):
    one = Rdp(sigma, q)
    best, best_text = mp.inf, None
    ld = mp.log(mp.mpf(delta))
    for a, text in zip(ORDERS, ORDER_TEXT):
        e = steps * one(a) - (ld + mp.log(a)) / (a - 1) + mp.log((a - 1) / a)
        if e < best:
            best, best_text = e, text
    return max(best, mp.mpf(0)), best_text


def main():
    out = open(sys.argv[1], "w") if len(sys.argv) > 1 else sys.stdout
    out.write("# RDP of the subsampled Gaussian by numerical integration of A_alpha (Mironov,\n"
              "# Talwar, Zhang 2019) and its (epsilon, delta) over Opacus's default orders;\n"
              "# made by scripts/gen_rdp_reference.py (mpmath %s, %d digits). Do not edit.\n"
              % (mp.__version__, mp.mp.dps))
    for sigma, q, alpha in RDP_CASES:
        out.write("rdp %s %s %s %s\n" % (sigma, q, alpha, mp.nstr(rdp(sigma, q, alpha), 12)))
    for sigma, q, steps, delta in EPS_CASES:
        e, order = epsilon(sigma, q, steps, delta)
        out.write("eps %s %s %d %s %s %s\n" % (sigma, q, steps, delta, mp.nstr(e, 12), order))
    out.close()


if __name__ == "__main__":
    main()
