/* The metrics file's writer (one O_APPEND write a line) and its bounded
 * line reader (see metrics_file.h). */
#include "train/metrics_file.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

gf_status gf_metrics_file_append(const char *path, const json_t *obj, mode_t mode, int sync)
{
    if (!json_is_object(obj)) return gf_errorf(GF_ERR_ARG, "metrics file %s: a line is one JSON object", path);
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t len = text ? strlen(text) : 0;
    char *line = text ? malloc(len + 2) : NULL;    /* [newline] text newline */
    if (line) memcpy(line, text, len + 1);
    free(text);
    if (!line) return gf_errorf(GF_ERR_NOMEM, "metrics file %s: out of memory", path);
    gf_status st = GF_OK;
    if (len + 1 > GF_METRICS_LINE_MAX) {
        st = gf_errorf(GF_ERR_ARG, "metrics file %s: a line of %zu bytes (at most %d)", path, len + 1,
                       GF_METRICS_LINE_MAX);
    } else {
        line[len++] = '\n';
        int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, mode);
        if (fd < 0 && errno == EACCES) fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd < 0) {
            st = gf_errorf(GF_ERR_IO, "cannot append to %s: %s", path, strerror(errno));
        } else {
            off_t size = lseek(fd, 0, SEEK_END);
            char lastc = '\n';              /* after a torn line (a crash), a newline first: the torn one stays alone */
            if (size > 0 && pread(fd, &lastc, 1, size - 1) == 1 && lastc != '\n') {
                memmove(line + 1, line, len);
                line[0] = '\n';
                len++;
            }
            ssize_t w = write(fd, line, len);
            if (w != (ssize_t)len || (sync && fsync(fd)))
                st = gf_errorf(GF_ERR_IO, "cannot append to %s: %s", path, w < 0 || w == (ssize_t)len ? strerror(errno)
                                                                                                         : "short write");
            if (close(fd) && !st) st = gf_errorf(GF_ERR_IO, "cannot append to %s: %s", path, strerror(errno));
        }
    }
    free(line);
    return st;
}

/* One line (without its newline, len > 0): to fn when an object. */
static int take(gf_metrics_cursor *cur, const char *s, size_t len, int64_t end, gf_metrics_fn fn, void *ctx)
{
    json_t *o = json_loadb(s, len, 0, NULL);     /* its error text quotes the line: not kept */
    int stop = 0;
    if (json_is_object(o)) { cur->objects++; stop = fn ? fn(o, end, ctx) : 0; }
    else cur->malformed++;
    json_decref(o);
    return stop;
}

static int blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

gf_status gf_metrics_file_read(int fd, gf_metrics_cursor *cur, gf_metrics_fn fn, void *ctx)
{
    enum { CAP = 16 * GF_METRICS_LINE_MAX };
    cur->objects = cur->malformed = 0;
    cur->partial = cur->more = 0;
    if (cur->offset < 0 || cur->max_bytes < 0 || cur->max_lines < 0)
        return gf_errorf(GF_ERR_ARG, "metrics file: negative offset or limit");
    char *buf = malloc(CAP);                 /* (CAP) bytes of the file from pos */
    if (!buf) return gf_errorf(GF_ERR_NOMEM, "metrics file: out of memory");
    int64_t pos = cur->offset, lines = 0;
    int64_t limit = pos + (cur->max_bytes > GF_METRICS_LINE_MAX ? cur->max_bytes : GF_METRICS_LINE_MAX);
    size_t have = 0;
    int eof = 0, skipping = 0;               /* skipping: inside a line over GF_METRICS_LINE_MAX */
    gf_status st = GF_OK;
    for (;;) {
        size_t start = 0;
        char *nl;
        int stop = 0;
        while (!stop && lines < cur->max_lines && (nl = memchr(buf + start, '\n', have - start))) {
            size_t len = (size_t)(nl - (buf + start));
            int64_t end = pos + (int64_t)(start + len + 1);
            if (skipping || len + 1 > GF_METRICS_LINE_MAX) { skipping = 0; cur->malformed++; lines++; }
            else if (!blank(buf + start, len)) { lines++; stop = take(cur, buf + start, len, end, fn, ctx); }
            start += len + 1;
            cur->offset = end;
        }
        if (stop || lines >= cur->max_lines) { cur->more = 1; break; }
        size_t rest = have - start;          /* an unfinished line */
        if (rest >= GF_METRICS_LINE_MAX) { skipping = 1; rest = 0; cur->offset = pos + (int64_t)have; }
        memmove(buf, buf + have - rest, rest);
        pos += (int64_t)(have - rest);
        have = rest;
        int64_t room = limit - (pos + (int64_t)have);
        if (!eof && room <= 0) { cur->more = 1; break; }
        if (eof) {                           /* the last line has no newline */
            if (skipping || (cur->whole_lines_only && have && !blank(buf, have))) cur->partial = 1;
            else if (have && !blank(buf, have)) {
                json_t *o = json_loadb(buf, have, 0, NULL);
                if (json_is_object(o)) {
                    cur->offset = pos + (int64_t)have;
                    cur->objects++;
                    if (fn) fn(o, cur->offset, ctx);
                } else {
                    cur->partial = 1;
                }
                json_decref(o);
            }
            break;
        }
        size_t want = CAP - have < (uint64_t)room ? CAP - have : (size_t)room;
        ssize_t r = pread(fd, buf + have, want, pos + (int64_t)have);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { st = gf_errorf(GF_ERR_IO, "metrics file (fd %d): read failed: %s", fd, strerror(errno)); break; }
        if (r == 0) eof = 1;
        have += (size_t)r;
    }
    free(buf);
    return st;
}

int64_t gf_metrics_file_tail(int fd, int64_t bytes)
{
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < 0 || bytes < 0 || size <= bytes) return 0;
    char buf[GF_METRICS_LINE_MAX];
    int64_t at = (int64_t)size - bytes - 1;  /* the byte before the tail: a newline means a line starts there */
    for (;;) {
        ssize_t r = pread(fd, buf, sizeof buf, at);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return (int64_t)size;
        char *nl = memchr(buf, '\n', (size_t)r);
        if (nl) return at + (nl - buf) + 1;
        at += r;
    }
}
