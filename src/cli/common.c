/* Thread setup, the heap policy of long-running commands, flag value
 * parsing and the progress bar of the gf CLI. */
#include "cli/cli.h"

#include <errno.h>
#include <jansson.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/timer.h"
#include "engine/blas_select.h"

void cli_set_threads(int threads)
{
    omp_set_num_threads(threads);
    gf_blas_set_threads(threads);
}

int cli_default_threads(void) { return omp_get_num_procs(); }

void cli_keep_heap(void)
{
#ifdef __GLIBC__
    /* glibc maps a block of 32 MiB or less fresh from the kernel (its
     * threshold adapts from 128 KiB up) and trims the heap's free top past
     * 128 KiB: a process that allocates and frees the same model-sized
     * buffers every round then zero-fills and faults them in again each time.
     * Fixed values keep such blocks in the heap once they have been used. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

int cli_parse_int(const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "gf: %s expects an integer in [%ld, %ld], got \"%s\"\n", flag, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_float(const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "gf: %s expects a number in [%g, %g], got \"%s\"\n", flag, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

void cli_print_json(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) : NULL;
    if (s) printf("%s\n", s);
    else fprintf(stderr, "gf: could not format the JSON summary\n");
    free(s);
    json_decref(j);
}

void cli_progress_begin(cli_progress *p, FILE *out, int epoch, int epochs)
{
    p->out = out;
    p->tty = isatty(fileno(out));
    p->epoch = epoch;
    p->epochs = epochs;
    p->started = p->last_draw = gf_now();
}

void cli_progress_update(void *ctx, int64_t done, int64_t total, double loss, double ips)
{
    cli_progress *p = ctx;
    if (!p->tty) return;
    double now = gf_now();
    if (done < total && now - p->last_draw < 0.1) return;
    p->last_draw = now;
    const int width = 30;
    int filled = (int)(width * done / total);
    double elapsed = now - p->started;
    double eta = done ? elapsed * (double)(total - done) / (double)done : 0.0;
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
    bar[width] = 0;
    fprintf(p->out, "\repoch %d/%d [%s] %3d%%  loss %.4f  %7.0f img/s  ETA %4.0fs ",
            p->epoch, p->epochs, bar, (int)(100 * done / total), loss, ips, eta);
    fflush(p->out);
}

void cli_progress_end(cli_progress *p)
{
    if (p->tty) { fputs("\r\033[K", p->out); fflush(p->out); }
}

void cli_log_line(const char *line)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%02d:%02d:%02d.%03ld %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, line);
}

void cli_split_source(const char *spec, char *out, size_t cap)
{
    const char *t = strstr(spec, ",test=");
    const char *f = strstr(spec, ",test_fraction=");
    if (t) snprintf(out, cap, "the file test=%.*s", (int)strcspn(t + 6, ","), t + 6);
    else if (f) snprintf(out, cap, "test_fraction=%.*s of the samples, a fixed draw", (int)strcspn(f + 15, ","), f + 15);
    else if (!strncmp(spec, "text:", 5) || !strncmp(spec, "tokens:", 7)) snprintf(out, cap, "the last 10%% of the tokens");
    else if (!strncmp(spec, "idx:", 4) || !strcmp(spec, "fashion-mnist")) snprintf(out, cap, "the t10k files");
    else snprintf(out, cap, "none");
}

void cli_print_data(const char *cmd, const char *spec, const gf_dataset *train, const gf_dataset *test)
{
    char src[600];
    cli_split_source(spec, src, sizeof src);
    if (*gf_dataset_note()) fprintf(stderr, "gf %s: dataset: %s\n", cmd, gf_dataset_note());
    int tok = train->tokens != NULL;
    if (!tok && test->n == 0 && !strcmp(src, "none"))
        fprintf(stderr, "gf %s: data: %lld training samples; no test split (give test=PATH or test_fraction=F "
                "in the dataset spec to hold samples out)\n", cmd, (long long)train->n);
    else
        fprintf(stderr, "gf %s: data: %lld training %s, %lld test %s (test split: %s)\n", cmd,
                (long long)(tok ? train->ntokens : train->n), tok ? "tokens" : "samples",
                (long long)(tok ? test->ntokens : test->n), tok ? "tokens" : "samples", src);
}
