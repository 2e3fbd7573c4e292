/* A metrics file: JSON lines, one object a line, only ever appended (a
 * central job's --metrics epochs, a program job's $GF_METRICS, a federated
 * job's per-site evaluation results). This is its one writer and its one
 * reader; the trainer, the coordinator's status answers and the per-site
 * records all go through them.
 *
 * The writer appends a whole line in one write() to an O_APPEND file, so a
 * reader sees half a line only after a crash mid-write. The reader reads
 * from a byte offset with a byte and a line limit and hands each object
 * line to a callback; blank lines are skipped, a line that is not one JSON
 * object (or longer than GF_METRICS_LINE_MAX) is skipped and counted as
 * malformed, and a last line without its newline is taken when it is a
 * whole object (nothing torn ends in its closing brace) and otherwise left
 * unread (flagged partial: still being written, or torn by a crash). The
 * returned offset is a cursor: the next read starts after the last line
 * taken. Errors name the file or descriptor, never bytes read from it. */
#ifndef GF_TRAIN_METRICS_FILE_H
#define GF_TRAIN_METRICS_FILE_H

#include <stdint.h>
#include <sys/types.h>
#include "core/error.h"

#define GF_METRICS_LINE_MAX 4096      /* bytes of one line with its newline */

struct json_t;

/* Appends obj (a JSON object) to path as one compact line, creating the
 * file with `mode`; fsync'd when `sync`. GF_ERR_ARG for a non-object or a
 * line longer than GF_METRICS_LINE_MAX. */
gf_status gf_metrics_file_append(const char *path, const struct json_t *obj, mode_t mode, int sync);

typedef struct {
    int64_t offset;      /* in: where to start (a line start); out: just after the last line taken */
    int64_t max_bytes;   /* in: read at most this many bytes past offset (GF_METRICS_LINE_MAX at least) */
    int64_t max_lines;   /* in: take at most this many non-blank lines (objects and malformed ones) */
    int whole_lines_only;/* in: leave a last line without its newline unread even when it parses
                            (its writer may still be appending; a cursor then stays at a line start) */
    int64_t objects;     /* out: objects handed to the callback */
    int64_t malformed;   /* out: lines skipped as not one JSON object */
    int partial;         /* out: the file ends in an unfinished line, left unread */
    int more;            /* out: stopped at a limit or by the callback (the file may go on) */
} gf_metrics_cursor;

/* Called with each object line (borrowed: json_incref to keep it) and the
 * offset just after it; nonzero stops the read after this line. */
typedef int (*gf_metrics_fn)(struct json_t *obj, int64_t end, void *ctx);

/* Reads fd (pread: its file position is untouched) from cur->offset as
 * above, resetting cur's out fields first. GF_ERR_IO when a read fails. */
gf_status gf_metrics_file_read(int fd, gf_metrics_cursor *cur, gf_metrics_fn fn, void *ctx);

/* The offset of the first line that starts in the last `bytes` bytes of
 * fd (0 when the file is no longer): where to read a huge file's tail. */
int64_t gf_metrics_file_tail(int fd, int64_t bytes);

#endif
