/* CSV reader for tabular datasets: a header row of column names, then one
 * sample per line, every cell a finite number. Owns gf_csv_load and its
 * checks (label column present, numeric cells, equal row lengths, integer
 * labels), each reported with the file, line number and column at fault.
 * Lines may be of any length (getline); "\r\n" endings, a UTF-8 byte-order
 * mark and blank lines are tolerated; there is no quoting. */
#include "data/dataset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSV_MAX_LABEL 1000000       /* largest accepted class id */
#define CSV_SHOW_CELL 40            /* characters of a bad cell quoted in errors */

typedef struct {
    const char *path;
    FILE   *f;
    char   *line;       /* getline buffer */
    size_t  line_cap;
    int64_t lineno;     /* 1-based number of the line in `line` */
    char  **names;      /* (ncols) header names, owned */
    int     ncols;
    char  **cells;      /* (ncols) pointers into `line` for the current row */
    float  *x;          /* (cap, ncols - 1) */
    int32_t *y;         /* (cap) */
    int64_t n, cap;
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

/* Next line, without its "\n" / "\r\n". Returns 1 with a line, 0 at end of
 * file; errors (read failure, NUL byte) set *st. */
static int next_line(csv_reader *r, gf_status *st)
{
    errno = 0;
    ssize_t len = getline(&r->line, &r->line_cap, r->f);
    if (len < 0) {
        if (ferror(r->f)) {
            *st = errno == ENOMEM
                ? gf_errorf(GF_ERR_NOMEM, "%s:%lld: out of memory reading a line", r->path, (long long)r->lineno + 1)
                : gf_errorf(GF_ERR_IO, "%s: read failed: %s", r->path, strerror(errno));
        }
        return 0;
    }
    r->lineno++;
    if (memchr(r->line, '\0', (size_t)len)) {
        *st = gf_errorf(GF_ERR_FORMAT, "%s:%lld: contains a NUL byte (not a text CSV file?)",
                        r->path, (long long)r->lineno);
        return 0;
    }
    if (len > 0 && r->line[len - 1] == '\n') r->line[--len] = '\0';
    if (len > 0 && r->line[len - 1] == '\r') r->line[--len] = '\0';
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
        if (k > (1 << 24))
            return gf_errorf(GF_ERR_FORMAT, "%s:%lld: %lld columns is too many",
                             r->path, (long long)r->lineno, (long long)k);
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

/* "a, b, c" (shortened to fit) for error messages. */
static void list_columns(const csv_reader *r, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < r->ncols; i++) {
        int w = snprintf(buf + used, cap - used, "%s'%s'", i ? ", " : "", r->names[i]);
        if (w < 0 || (size_t)w >= cap - used) {
            if (cap > 5) strcpy(buf + (used < cap - 5 ? used : cap - 5), " ...");
            return;
        }
        used += (size_t)w;
    }
}

/* Quotes at most CSV_SHOW_CELL characters of a cell. */
static const char *shorten(const char *cell, char *buf, size_t cap)
{
    size_t len = strlen(cell);
    if (len <= CSV_SHOW_CELL) return cell;
    snprintf(buf, cap, "%.*s...", CSV_SHOW_CELL, cell);
    return buf;
}

static gf_status parse_cell(const csv_reader *r, int col, double *out)
{
    char *cell = r->cells[col];
    char *t = trim(cell);
    char shown[CSV_SHOW_CELL + 8];
    if (!*t)
        return gf_errorf(GF_ERR_FORMAT, "%s:%lld: column '%s': empty cell",
                         r->path, (long long)r->lineno, r->names[col]);
    char *end;
    errno = 0;
    double v = strtod(t, &end);
    if (end == t || *end != '\0')
        return gf_errorf(GF_ERR_FORMAT, "%s:%lld: column '%s': cannot parse '%s' as a number",
                         r->path, (long long)r->lineno, r->names[col],
                         shorten(t, shown, sizeof shown));
    if (!isfinite(v) || !isfinite((float)v))
        return gf_errorf(GF_ERR_NUMERIC, "%s:%lld: column '%s': '%s' is not a finite 32-bit float",
                         r->path, (long long)r->lineno, r->names[col],
                         shorten(t, shown, sizeof shown));
    *out = v;
    return GF_OK;
}

static gf_status read_rows(csv_reader *r, int label)
{
    gf_status st = GF_OK;
    int64_t dim = r->ncols - 1;
    while (next_line(r, &st)) {
        if (is_blank(r->line)) continue;
        int64_t k = split(r->line, r->cells, r->ncols);
        if (k != r->ncols)
            return gf_errorf(GF_ERR_FORMAT, "%s:%lld: ragged row: %lld cells, expected %d as in the header",
                             r->path, (long long)r->lineno, (long long)k, r->ncols);
        if (r->n == r->cap) {
            int64_t ncap = r->cap ? r->cap * 2 : 256;
            if ((uint64_t)ncap > SIZE_MAX / sizeof(float) / (uint64_t)dim)
                return gf_errorf(GF_ERR_NOMEM, "%s: too many rows", r->path);
            float *nx = realloc(r->x, (size_t)(ncap * dim) * sizeof *nx);
            if (!nx) return gf_errorf(GF_ERR_NOMEM, "%s: out of memory at line %lld", r->path, (long long)r->lineno);
            r->x = nx;
            int32_t *ny = realloc(r->y, (size_t)ncap * sizeof *ny);
            if (!ny) return gf_errorf(GF_ERR_NOMEM, "%s: out of memory at line %lld", r->path, (long long)r->lineno);
            r->y = ny;
            r->cap = ncap;
        }
        float *row = r->x + r->n * dim;
        int64_t j = 0;
        for (int i = 0; i < r->ncols; i++) {
            double v = 0;
            st = parse_cell(r, i, &v);
            if (st) return st;
            if (i != label) { row[j++] = (float)v; continue; }
            if (v < 0 || v != floor(v) || v > CSV_MAX_LABEL) {
                char shown[CSV_SHOW_CELL + 8];
                return gf_errorf(GF_ERR_FORMAT,
                                 "%s:%lld: label column '%s': %s is not a class id (an integer 0..%d)",
                                 r->path, (long long)r->lineno, r->names[i],
                                 shorten(trim(r->cells[i]), shown, sizeof shown), CSV_MAX_LABEL);
            }
            r->y[r->n] = (int32_t)v;
        }
        r->n++;
    }
    if (st) return st;
    if (r->n == 0)
        return gf_errorf(GF_ERR_FORMAT, "%s: no data rows after the header", r->path);
    return GF_OK;
}

gf_status gf_csv_load(const char *path, const char *label_col, gf_dataset *out)
{
    if (!out) return gf_errorf(GF_ERR_ARG, "gf_csv_load: no output dataset");
    memset(out, 0, sizeof *out);
    if (!path) return gf_errorf(GF_ERR_ARG, "gf_csv_load: no path");
    if (!label_col || !*label_col) return gf_errorf(GF_ERR_ARG, "%s: no label column named", path);

    csv_reader r = { .path = path };
    r.f = fopen(path, "r");
    if (!r.f) return gf_errorf(GF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));

    gf_status st = read_header(&r);
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
        char cols[512];
        list_columns(&r, cols, sizeof cols);
        st = gf_errorf(GF_ERR_ARG, "%s: no label column '%s'; the header has %d columns: %s",
                       path, label_col, r.ncols, cols);
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
    free(r.line);
    free(r.x);
    free(r.y);
    fclose(r.f);
    return st;
}
