/* A site's own privacy ledger (see site_budget.h): read, add, compose. */
#include "fed/site_budget.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "core/fsutil.h"
#include "core/grow.h"
#include "privacy/accountant.h"

#define LEDGER_MAX_BYTES (64L << 20)   /* a ledger larger than this is not one the site wrote */

static int coord_ok(const char *c)
{
    size_t len = c ? strlen(c) : 0;
    if (len < 1 || len > GF_SITE_BUDGET_COORD_MAX) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((c[i] >= '0' && c[i] <= '9') || (c[i] >= 'a' && c[i] <= 'z') || c[i] == '-')) return 0;
    return 1;
}

static int spend_ok(double noise, double q, int64_t steps)
{
    return isfinite(noise) && noise >= 0 && isfinite(q) && q > 0 && q <= 1 && steps >= 0;
}

void gf_site_budget_free(gf_site_budget *b)
{
    if (b->path && b->lock_fd >= 0) close(b->lock_fd);   /* releases the lock */
    free(b->path);
    free(b->e);
    *b = (gf_site_budget){ 0 };
}

/* The entry of (coordinator, job, noise, q), appended (zero steps) when new; NULL: out of memory. */
static gf_site_spend *entry_of(gf_site_budget *b, const char *coordinator, int64_t job, double noise, double q)
{
    for (int i = 0; i < b->n; i++)
        if (b->e[i].job == job && b->e[i].noise == noise && b->e[i].q == q && !strcmp(b->e[i].coordinator, coordinator))
            return &b->e[i];
    gf_site_spend *e = gf_grow(b->e, b->n, &b->cap, sizeof *e);
    if (!e) return NULL;
    b->e = e;
    gf_site_spend *s = &b->e[b->n++];
    *s = (gf_site_spend){ .job = job, .noise = noise, .q = q };
    snprintf(s->coordinator, sizeof s->coordinator, "%s", coordinator);
    return s;
}

gf_status gf_site_budget_read(const char *path, gf_site_budget *b)
{
    *b = (gf_site_budget){ .lock_fd = -1 };
    FILE *f = fopen(path, "rb");
    if (!f) return gf_errorf(GF_ERR_IO, "privacy ledger %s: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0;
    gf_status st = GF_OK;
    if (fseek(f, 0, SEEK_END) || (len = (size_t)ftell(f), fseek(f, 0, SEEK_SET))) {
        st = gf_errorf(GF_ERR_IO, "privacy ledger %s: cannot size it", path);
    } else if ((long)len > LEDGER_MAX_BYTES) {
        st = gf_errorf(GF_ERR_FORMAT, "privacy ledger %s: %zu bytes, more than any ledger (%ld)", path, len,
                       LEDGER_MAX_BYTES);
    } else if (!(text = malloc(len + 1))) {
        st = gf_errorf(GF_ERR_NOMEM, "out of memory");
    } else if (fread(text, 1, len, f) != len) {
        st = gf_errorf(GF_ERR_IO, "privacy ledger %s: short read", path);
    }
    fclose(f);
    if (st) { free(text); return st; }
    text[len] = 0;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root) return gf_errorf(GF_ERR_FORMAT, "privacy ledger %s is not JSON (%s, line %d): corrupt or truncated; "
                                "the site will not start without it (restore it from a backup)", path, jerr.text,
                                jerr.line);
    const char *fmt = json_string_value(json_object_get(root, "format"));
    json_t *spends = json_object_get(root, "spends");
    if (!json_is_object(root) || !fmt || strcmp(fmt, GF_SITE_BUDGET_FORMAT)) {
        st = gf_errorf(GF_ERR_FORMAT, "privacy ledger %s: \"format\" is not \"%s\"", path, GF_SITE_BUDGET_FORMAT);
    } else if (json_integer_value(json_object_get(root, "version")) != 1 || !json_is_integer(json_object_get(root, "version"))) {
        st = gf_errorf(GF_ERR_FORMAT, "privacy ledger %s: \"version\" is not 1 (written by a newer gf?)", path);
    } else if (!json_is_array(spends)) {
        st = gf_errorf(GF_ERR_FORMAT, "privacy ledger %s: \"spends\" is not an array", path);
    }
    for (size_t i = 0; !st && i < json_array_size(spends); i++) {
        json_t *o = json_array_get(spends, i);
        const char *coord = json_string_value(json_object_get(o, "coordinator"));
        json_t *job = json_object_get(o, "job"), *noise = json_object_get(o, "noise"), *q = json_object_get(o, "q"),
               *steps = json_object_get(o, "steps");
        const char *bad = !json_is_object(o) ? "is not an object"
                        : !coord_ok(coord) ? "coordinator is not an id ([0-9a-z-], 1..64)"
                        : !json_is_integer(job) || json_integer_value(job) <= 0 ? "job is not an integer > 0"
                        : !json_is_number(noise) || !spend_ok(json_number_value(noise), 0.5, 0)
                            ? "noise is not a number >= 0"
                        : !json_is_number(q) || !spend_ok(0, json_number_value(q), 0) ? "q is not a number in (0, 1]"
                        : !json_is_integer(steps) || json_integer_value(steps) < 0 ? "steps is not an integer >= 0"
                        : NULL;
        if (bad) { st = gf_errorf(GF_ERR_FORMAT, "privacy ledger %s: spends[%zu]: %s", path, i, bad); break; }
        gf_site_spend *e = entry_of(b, coord, json_integer_value(job), json_number_value(noise), json_number_value(q));
        if (!e) { st = gf_errorf(GF_ERR_NOMEM, "out of memory"); break; }
        e->steps += json_integer_value(steps);
    }
    json_decref(root);
    if (st) gf_site_budget_free(b);
    return st;
}

gf_status gf_site_budget_open(const char *dir, gf_site_budget *b)
{
    *b = (gf_site_budget){ .lock_fd = -1 };
    if (!dir) return GF_OK;
    if (mkdir(dir, 0700) && errno != EEXIST)
        return gf_errorf(GF_ERR_IO, "state folder %s: %s", dir, strerror(errno));
    size_t len = strlen(dir) + sizeof "/" GF_SITE_BUDGET_FILE;
    char *path = malloc(len);
    if (!path) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    snprintf(path, len, "%s/lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        gf_status e = gf_errorf(GF_ERR_IO, "state folder %s: cannot open its lock: %s", dir, strerror(errno));
        free(path);
        return e;
    }
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        gf_status e = errno == EWOULDBLOCK
            ? gf_errorf(GF_ERR_ARG, "state folder %s is in use by another gf site (each site process needs its own "
                        "--state)", dir)
            : gf_errorf(GF_ERR_IO, "state folder %s: lock: %s", dir, strerror(errno));
        close(fd);
        free(path);
        return e;
    }
    snprintf(path, len, "%s/%s", dir, GF_SITE_BUDGET_FILE);
    struct stat sb;
    gf_status st = GF_OK;
    if (stat(path, &sb)) {
        if (errno != ENOENT) st = gf_errorf(GF_ERR_IO, "privacy ledger %s: %s", path, strerror(errno));
    } else {
        st = gf_site_budget_read(path, b);
    }
    if (st) { close(fd); free(path); return st; }
    b->path = path;
    b->lock_fd = fd;
    return GF_OK;
}

static gf_status ledger_write(const gf_site_budget *b)
{
    json_t *arr = json_array(), *root = NULL;
    for (int i = 0; arr && i < b->n; i++)
        if (json_array_append_new(arr, json_pack("{s:s,s:I,s:f,s:f,s:I}", "coordinator", b->e[i].coordinator,
                                                 "job", (json_int_t)b->e[i].job, "noise", b->e[i].noise,
                                                 "q", b->e[i].q, "steps", (json_int_t)b->e[i].steps))) {
            json_decref(arr);
            arr = NULL;
        }
    if (arr) root = json_pack("{s:s,s:i,s:o}", "format", GF_SITE_BUDGET_FORMAT, "version", 1, "spends", arr);
    /* 17 significant digits: the doubles read back bit for bit */
    char *text = root ? json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(root);
    if (!text) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    gf_fs_part parts[2] = { { text, strlen(text) }, { "\n", 1 } };
    gf_status st = gf_fs_write_atomic(b->path, parts, 2, 0600);
    free(text);
    if (st) return gf_errorf(st, "privacy ledger %s: %s", b->path, gf_last_error());
    return GF_OK;
}

gf_status gf_site_budget_add(gf_site_budget *b, const char *coordinator, int64_t job, double noise, double q,
                             int64_t steps)
{
    if (!coord_ok(coordinator) || job <= 0 || !spend_ok(noise, q, steps))
        return gf_errorf(GF_ERR_ARG, "privacy ledger: bad spend (coordinator id, job %lld, noise %g, q %g, steps %lld)",
                         (long long)job, noise, q, (long long)steps);
    int n_before = b->n;
    gf_site_spend *e = entry_of(b, coordinator, job, noise, q);
    if (!e) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    e->steps += steps;
    gf_status st = b->path ? ledger_write(b) : GF_OK;
    if (st) {                              /* as it was: the file still says the old total */
        e->steps -= steps;
        b->n = n_before;
    }
    return st;
}

static int matches(const gf_site_spend *e, const char *coordinator, int64_t job)
{
    return (!coordinator || !strcmp(e->coordinator, coordinator)) && (!job || e->job == job);
}

int64_t gf_site_budget_steps(const gf_site_budget *b, const char *coordinator, int64_t job)
{
    int64_t n = 0;
    for (int i = 0; i < b->n; i++)
        if (matches(&b->e[i], coordinator, job)) n += b->e[i].steps;
    return n;
}

/* rdp (norders) += the RDP curve of e. */
static gf_status rdp_add(const gf_site_spend *e, const double *orders, int norders, double *rdp, double *tmp)
{
    if (e->steps == 0) return GF_OK;
    gf_status st = gf_rdp_compute(e->q, e->noise, e->steps, orders, norders, tmp);
    if (st) return st;
    for (int i = 0; i < norders; i++) rdp[i] += tmp[i];
    return GF_OK;
}

gf_status gf_site_budget_epsilon(const gf_site_budget *b, const char *coordinator, int64_t job,
                                 const gf_site_spend *extra, double delta, double *eps)
{
    if (!(delta > 0 && delta < 1)) return gf_errorf(GF_ERR_ARG, "privacy ledger: delta %g is not in (0, 1)", delta);
    int norders;
    const double *orders = gf_rdp_default_orders(&norders);
    double *rdp = calloc((size_t)norders * 2, sizeof(double));
    if (!rdp) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    double *tmp = rdp + norders;
    gf_status st = GF_OK;
    int64_t steps = 0;
    for (int i = 0; i < b->n && !st; i++)
        if (matches(&b->e[i], coordinator, job)) {
            st = rdp_add(&b->e[i], orders, norders, rdp, tmp);
            steps += b->e[i].steps;
        }
    if (!st && extra) {
        st = spend_ok(extra->noise, extra->q, extra->steps) ? rdp_add(extra, orders, norders, rdp, tmp)
                                                             : gf_errorf(GF_ERR_ARG, "privacy ledger: bad spend");
        steps += extra->steps;
    }
    if (!st && steps == 0) *eps = 0;
    else if (!st) st = gf_rdp_to_epsilon(orders, rdp, norders, delta, eps, NULL);
    free(rdp);
    return st;
}
