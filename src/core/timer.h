/* Time in seconds: monotonic (intervals) and Unix wall time (records). */
#ifndef GF_CORE_TIMER_H
#define GF_CORE_TIMER_H
double gf_now(void);        /* CLOCK_MONOTONIC */
double gf_wall_now(void);   /* CLOCK_REALTIME: seconds since 1970 UTC */
#endif
