/* Shared pieces of the gf subcommands: entry points, thread setup, number
 * parsing and the per-epoch progress display. Only the CLI prints and exits. */
#ifndef GF_CLI_CLI_H
#define GF_CLI_CLI_H

#include <stdint.h>
#include <stdio.h>
#include "data/dataset.h"

int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_eval(int argc, char **argv);

/* Uses T threads for OpenMP loops and OpenBLAS (one pool). */
void cli_set_threads(int threads);
int  cli_default_threads(void);

/* For a process that runs round after round (gf site): blocks up to 32 MiB
 * stay in the heap after they are freed, instead of being unmapped and
 * faulted in again next round; the heap keeps up to 64 MiB free. */
void cli_keep_heap(void);

/* Strict number parsing for flag values; print the error and return -1 on failure. */
int cli_parse_int(const char *flag, const char *s, long lo, long hi, long *out);
int cli_parse_float(const char *flag, const char *s, double lo, double hi, double *out);

/* Prints a JSON object on one line of stdout (in key order, reals to 15
 * significant digits, so 3.9 prints as 3.9) and frees it. */
struct json_t;
void cli_print_json(struct json_t *j);

/* One line on stderr, prefixed with the UTC time of day (HH:MM:SS.mmm). */
void cli_log_line(const char *line);

/* Where a dataset spec's test split comes from, in words ("none" for a CSV
 * without test= or test_fraction=). */
void cli_split_source(const char *spec, char *out, size_t cap);
/* One line on stderr: the training and test counts and where the test
 * split came from (or that there is none). */
void cli_print_data(const char *cmd, const char *spec, const gf_dataset *train, const gf_dataset *test);

/* Progress of one epoch: a redrawn bar on a terminal, nothing otherwise. */
typedef struct {
    FILE  *out;
    int    tty;
    int    epoch, epochs;
    double started, last_draw;
} cli_progress;
void cli_progress_begin(cli_progress *p, FILE *out, int epoch, int epochs);
void cli_progress_update(void *ctx, int64_t done, int64_t total, double loss, double ips);
void cli_progress_end(cli_progress *p);

#endif
