/* Minimal test harness: CHECK macros that count failures and report the
 * location; each test binary ends with `return check_summary();`, which is
 * non-zero when any check failed. */
#ifndef GF_TESTS_CHECK_H
#define GF_TESTS_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_failures, check_count;

#define CHECK(cond) do { check_count++; if (!(cond)) { check_failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)

#define CHECK_MSG(cond, ...) do { check_count++; if (!(cond)) { check_failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

#define CHECK_NEAR(a, b, tol) do { double a_ = (a), b_ = (b); check_count++; \
    if (!(fabs(a_ - b_) <= (tol))) { check_failures++; \
    fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s=%.9g %s=%.9g tol=%g\n", \
            __FILE__, __LINE__, #a, a_, #b, b_, (double)(tol)); } } while (0)

static inline int check_summary(void)
{
    fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
