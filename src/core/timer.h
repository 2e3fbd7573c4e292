/* Monotonic wall-clock time in seconds. */
#ifndef GF_CORE_TIMER_H
#define GF_CORE_TIMER_H
double gf_now(void);
#endif
