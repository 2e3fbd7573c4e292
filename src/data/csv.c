/* CSV reader for tabular datasets: a header row of column names, then one
 * sample per line, every cell a finite number or a missing-value marker
 * (an empty cell, "?", "NA", "N/A", "NaN", "nan", "-nan", "NULL", "null",
 * "None", as pandas reads them), which becomes NaN in x. Owns gf_csv_load
 * and its checks (label column present and never missing, numeric cells,
 * no feature column missing in every row, equal row lengths, integer
 * labels, the limits on line length, columns and rows), each reported with
 * the file, line number and column number at fault, never with the text of
 * a cell or a header name (a mistaken path may name a secret file).
 * "\r\n" endings, a UTF-8 byte-order mark and blank lines are tolerated;
 * there is no quoting. */
#include "data/dataset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CSV_MAX_LABEL 1000000       /* largest accepted class id */
#define CSV_CHUNK     (1 << 16)     /* bytes per read() */

typedef struct {
    const char *path;
    const gf_data_limits *lim;
    int     fd;
    char   *buf;        /* (CSV_CHUNK) bytes read, not yet consumed: buf[pos..len) */
    size_t  pos, len;
    char   *line;       /* (line_cap) the current line, NUL-terminated */
    size_t  line_cap;
    int64_t bytes;      /* bytes read so far (the file may grow after fstat) */
    int64_t lineno;     /* 1-based number of the line in `line` */
    char  **names;      /* (ncols) header names, owned */
    int     ncols;
    char  **cells;      /* (ncols) pointers into `line` for the current row */
    float  *x;          /* (cap, ncols - 1) */
    int32_t *y;         /* (cap) */
    int64_t n, cap;
    unsigned char *present;   /* (ncols) 1 once a value (not missing) was seen in the column */
} csv_reader;

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) *--e = '\0';
    return s;
}

static int is_blank(const char *s)
{
    for (; *s; s++) if (*s != ' ' && *s != '\t') return 0;
    return 1;
}

/* Appends n bytes to the current line (length *len), growing the buffer
 * up to max_line_bytes + 2 (a final '\r' and the NUL). */
static gf_status line_append(csv_reader *r, const char *p, size_t n, size_t *len)
{
    size_t max = (size_t)r->lim->max_line_bytes;
    long long lineno = (long long)r->lineno + 1;
    if (*len + n > max + 1)             /* + 1: a final '\r' does not count */
        return gf_errorf(GF_ERR_FORMAT, "%s: line %lld is longer than the line length limit of %lld bytes",
                         r->path, lineno, (long long)r->lim->max_line_bytes);
    if (*len + n + 1 > r->line_cap) {
        size_t ncap = r->line_cap ? r->line_cap : 4096;
        while (ncap < *len + n + 1) ncap *= 2;
        if (ncap > max + 2) ncap = max + 2;
        char *nl = realloc(r->line, ncap);
        if (!nl) return gf_errorf(GF_ERR_NOMEM, "%s: line %lld: out of memory", r->path, lineno);
        r->line = nl;
        r->line_cap = ncap;
    }
    memcpy(r->line + *len, p, n);
    *len += n;
    return GF_OK;
}

/* Next line, without its "\n" / "\r\n". Returns 1 with a line, 0 at end of
 * file; errors (read failure, NUL byte, a line over the length limit, more
 * bytes than the file size limit) set *st. The line buffer never grows past
 * max_line_bytes + 2. */
static int next_line(csv_reader *r, gf_status *st)
{
    size_t len = 0;
    long long lineno = (long long)r->lineno + 1;
    int any = 0;                        /* bytes (or a newline) seen for this line */
    for (;;) {
        if (r->pos == r->len) {
            ssize_t got;
            do got = read(r->fd, r->buf, CSV_CHUNK); while (got < 0 && errno == EINTR);
            if (got < 0) {
                *st = gf_errorf(GF_ERR_IO, "%s: line %lld: read failed: %s", r->path, lineno, strerror(errno));
                return 0;
            }
            if (got == 0) break;        /* end of file */
            r->bytes += got;
            if (r->bytes > r->lim->max_file_bytes) {
                *st = gf_errorf(GF_ERR_FORMAT, "%s: line %lld: file grew past the file size limit of %lld bytes",
                                r->path, lineno, (long long)r->lim->max_file_bytes);
                return 0;
            }
            r->pos = 0;
            r->len = (size_t)got;
        }
        const char *p = r->buf + r->pos;
        size_t avail = r->len - r->pos;
        const char *nl = memchr(p, '\n', avail);
        size_t n = nl ? (size_t)(nl - p) : avail;
        any = 1;
        if (memchr(p, '\0', n)) {
            *st = gf_errorf(GF_ERR_FORMAT, "%s: line %lld: contains a NUL byte (not a text CSV file?)",
                            r->path, lineno);
            return 0;
        }
        if ((*st = line_append(r, p, n, &len))) return 0;
        r->pos += n + (nl != NULL);
        if (nl) break;
    }
    if (!any) return 0;
    if ((*st = line_append(r, "", 0, &len))) return 0;  /* a buffer even for an empty line */
    r->line[len] = '\0';
    if (len > 0 && r->line[len - 1] == '\r') r->line[--len] = '\0';
    if (len > (size_t)r->lim->max_line_bytes) {
        *st = gf_errorf(GF_ERR_FORMAT, "%s: line %lld is longer than the line length limit of %lld bytes",
                        r->path, lineno, (long long)r->lim->max_line_bytes);
        return 0;
    }
    r->lineno++;
    return 1;
}

/* Splits `s` at commas into up to `max` cells; returns the number of cells
 * the line holds (which may exceed `max`; those are not stored). */
static int64_t split(char *s, char **cells, int max)
{
    int64_t k = 0;
    for (;;) {
        char *comma = strchr(s, ',');
        if (comma) *comma = '\0';
        if (k < max) cells[k] = s;
        k++;
        if (!comma) return k;
        s = comma + 1;
    }
}

static gf_status read_header(csv_reader *r)
{
    gf_status st = GF_OK;
    for (;;) {
        if (!next_line(r, &st)) {
            if (st) return st;
            return gf_errorf(GF_ERR_FORMAT, "%s: empty file (expected a header row of column names)", r->path);
        }
        char *s = r->line;
        if (r->lineno == 1 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB
            && (unsigned char)s[2] == 0xBF)
            s += 3;  /* UTF-8 byte-order mark */
        if (is_blank(s)) continue;
        int64_t k = split(s, NULL, 0);
        if (k > r->lim->max_columns)
            return gf_errorf(GF_ERR_FORMAT, "%s: line %lld: the header has %lld columns, more than the column limit of %lld",
                             r->path, (long long)r->lineno, (long long)k, (long long)r->lim->max_columns);
        r->ncols = (int)k;
        r->names = calloc((size_t)k, sizeof *r->names);
        r->cells = calloc((size_t)k, sizeof *r->cells);
        if (!r->names || !r->cells)
            return gf_errorf(GF_ERR_NOMEM, "%s: out of memory for %lld columns", r->path, (long long)k);
        /* split() wrote NULs over the commas: walk the cells again */
        char *p = s;
        for (int i = 0; i < r->ncols; i++) {
            char *name = trim(p);
            p += strlen(p) + 1;
            r->names[i] = strdup(name);
            if (!r->names[i]) return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", r->path);
        }
        return GF_OK;
    }
}

/* Whether a trimmed cell marks a missing value. */
static int is_missing(const char *t)
{
    static const char *const marks[] = { "", "?", "NA", "N/A", "NaN", "nan", "-nan", "NULL", "null", "None" };
    for (size_t i = 0; i < sizeof marks / sizeof *marks; i++)
        if (!strcmp(t, marks[i])) return 1;
    return 0;
}

/* Cells are named by position only ("line 12, column 3"): the text of a
 * cell or a header name is never put in a message. A missing value gives
 * NaN. */
static gf_status parse_cell(const csv_reader *r, int col, double *out)
{
    char *cell = r->cells[col];
    char *t = trim(cell);
    if (is_missing(t)) {
        *out = NAN;
        return GF_OK;
    }
    char *end;
    errno = 0;
    double v = strtod(t, &end);
    if (end == t || *end != '\0')
        return gf_errorf(GF_ERR_FORMAT, "%s: line %lld, column %d: not a number (cells must be plain decimal numbers, unquoted)",
                         r->path, (long long)r->lineno, col + 1);
    if (!isfinite(v) || !isfinite((float)v))
        return gf_errorf(GF_ERR_NUMERIC, "%s: line %lld, column %d: not a finite 32-bit float (NaN, infinite or beyond +-3.4e38)",
                         r->path, (long long)r->lineno, col + 1);
    *out = v;
    return GF_OK;
}

static gf_status read_rows(csv_reader *r, int label)
{
    gf_status st = GF_OK;
    int64_t dim = r->ncols - 1;
    int64_t present_cols = 0;
    unsigned char *present = r->present = calloc((size_t)r->ncols, 1);
    if (!present) return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", r->path);
    while (next_line(r, &st)) {
        if (is_blank(r->line)) continue;
        int64_t k = split(r->line, r->cells, r->ncols);
        if (k != r->ncols)
            return gf_errorf(GF_ERR_FORMAT, "%s: line %lld: ragged row: %lld cells, expected %d as in the header",
                             r->path, (long long)r->lineno, (long long)k, r->ncols);
        if (r->n >= r->lim->max_rows)
            return gf_errorf(GF_ERR_FORMAT, "%s: line %lld: more than the row limit of %lld data rows",
                             r->path, (long long)r->lineno, (long long)r->lim->max_rows);
        if (r->n == r->cap) {
            int64_t ncap = r->cap ? r->cap * 2 : 256;
            if (ncap > r->lim->max_rows) ncap = r->lim->max_rows;
            if ((uint64_t)ncap > SIZE_MAX / sizeof(float) / (uint64_t)dim)
                return gf_errorf(GF_ERR_NOMEM, "%s: line %lld: too many rows for memory", r->path, (long long)r->lineno);
            float *nx = realloc(r->x, (size_t)(ncap * dim) * sizeof *nx);
            if (!nx) return gf_errorf(GF_ERR_NOMEM, "%s: line %lld: out of memory", r->path, (long long)r->lineno);
            r->x = nx;
            int32_t *ny = realloc(r->y, (size_t)ncap * sizeof *ny);
            if (!ny) return gf_errorf(GF_ERR_NOMEM, "%s: line %lld: out of memory", r->path, (long long)r->lineno);
            r->y = ny;
            r->cap = ncap;
        }
        float *row = r->x + r->n * dim;
        int64_t j = 0;
        for (int i = 0; i < r->ncols; i++) {
            double v = 0;
            st = parse_cell(r, i, &v);
            if (st) return st;
            if (!isnan(v) && !present[i]) { present[i] = 1; present_cols++; }
            if (i != label) { row[j++] = (float)v; continue; }
            if (isnan(v))
                return gf_errorf(GF_ERR_FORMAT, "%s: line %lld, column %d (the label column): missing label "
                                 "(rows without a label cannot be used; remove them)",
                                 r->path, (long long)r->lineno, i + 1);
            if (v < 0 || v != floor(v) || v > CSV_MAX_LABEL)
                return gf_errorf(GF_ERR_FORMAT,
                                 "%s: line %lld, column %d (the label column): not a class id (an integer 0..%d)",
                                 r->path, (long long)r->lineno, i + 1, CSV_MAX_LABEL);
            r->y[r->n] = (int32_t)v;
        }
        r->n++;
    }
    if (!st && r->n == 0)
        st = gf_errorf(GF_ERR_FORMAT, "%s: no data rows after the header", r->path);
    for (int i = 0; !st && present_cols < r->ncols && i < r->ncols; i++)
        if (!present[i])
            st = gf_errorf(GF_ERR_FORMAT, "%s: column %d: every value is missing (%lld rows); drop the column",
                           r->path, i + 1, (long long)r->n);
    return st;
}

gf_status gf_csv_load(const char *path, const char *label_col, gf_dataset *out)
{
    return gf_csv_load_limited(path, label_col, NULL, out);
}

gf_status gf_csv_load_limited(const char *path, const char *label_col,
                              const gf_data_limits *lim, gf_dataset *out)
{
    if (!out) return gf_errorf(GF_ERR_ARG, "gf_csv_load: no output dataset");
    memset(out, 0, sizeof *out);
    if (!path) return gf_errorf(GF_ERR_ARG, "gf_csv_load: no path");
    if (!label_col || !*label_col) return gf_errorf(GF_ERR_ARG, "%s: no label column named", path);
    gf_data_limits def = gf_data_limits_default();
    if (!lim) lim = &def;

    csv_reader r = { .path = path, .lim = lim, .fd = -1 };
    gf_status st = gf_data_open(path, lim, &r.fd, NULL);
    if (st) return st;
    r.buf = malloc(CSV_CHUNK);
    if (!r.buf) {
        close(r.fd);
        return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", path);
    }

    st = read_header(&r);
    if (st) goto done;
    int label = -1;
    for (int i = 0; i < r.ncols; i++) {
        if (strcmp(r.names[i], label_col) != 0) continue;
        if (label >= 0) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: label column '%s' appears twice in the header (columns %d and %d)",
                           path, label_col, label + 1, i + 1);
            goto done;
        }
        label = i;
    }
    if (label < 0) {
        st = gf_errorf(GF_ERR_ARG, "%s: no label column named '%s' among the header's %d columns (line %lld)",
                       path, label_col, r.ncols, (long long)r.lineno);
        goto done;
    }
    if (r.ncols < 2) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: only the label column '%s', no feature columns", path, label_col);
        goto done;
    }
    st = read_rows(&r, label);
    if (st) goto done;

    int maxl = 0;
    for (int64_t i = 0; i < r.n; i++) if (r.y[i] > maxl) maxl = r.y[i];
    out->n = r.n;
    out->c = 1; out->h = 1; out->w = r.ncols - 1;
    out->dim = r.ncols - 1;
    out->num_classes = maxl + 1;
    out->x = r.x; r.x = NULL;
    out->y = r.y; r.y = NULL;
done:
    if (r.names) for (int i = 0; i < r.ncols; i++) free(r.names[i]);
    free(r.names);
    free(r.cells);
    free(r.present);
    free(r.line);
    free(r.x);
    free(r.y);
    free(r.buf);
    close(r.fd);
    return st;
}
