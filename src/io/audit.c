/* The audit log, a file format of its own (the coordinator writes it,
 * `gf audit verify` checks it): owns the hash-chained JSON-lines format
 * (see audit.h), the chain check shared by open and verify, the repair of
 * a torn final line, and durable appends (one write, then fdatasync) under
 * a mutex and flock. */
#include "io/audit.h"
#include "core/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HEX_LEN     64
#define SUFFIX_LEN  75        /* ,"hash":"<64 hex>"} */
#define TIME_LEN    24        /* YYYY-MM-DDTHH:MM:SS.mmmZ */
#define READ_CHUNK  (1 << 16)
#define JSON_FLAGS  (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII)

static const char ZERO_HASH[HEX_LEN + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";
static const char *const KEYS[] = {"seq", "time", "actor", "event", "detail", "prev", "hash"};
#define NKEYS (sizeof KEYS / sizeof KEYS[0])

struct gf_audit {
    pthread_mutex_t mu;
    int             fd;
    char           *path;
    uint64_t        seq;              /* the last entry's seq (0: empty) */
    char            last[HEX_LEN + 1];
    off_t           end;              /* file size after the last entry */
    int             broken;           /* a write or sync failed: refuse appends */
};

/* ---- small checks --------------------------------------------------------- */

static int is_hex64(const char *s)
{
    for (int i = 0; i < HEX_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return s[HEX_LEN] == 0;
}

static int digits(const char *s, int n, int lo, int hi)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
    }
    return v >= lo && v <= hi;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
static int time_ok(const char *t)
{
    return strlen(t) == TIME_LEN && digits(t, 4, 0, 9999) && t[4] == '-' && digits(t + 5, 2, 1, 12) &&
           t[7] == '-' && digits(t + 8, 2, 1, 31) && t[10] == 'T' && digits(t + 11, 2, 0, 23) &&
           t[13] == ':' && digits(t + 14, 2, 0, 59) && t[16] == ':' && digits(t + 17, 2, 0, 60) &&
           t[19] == '.' && digits(t + 20, 3, 0, 999) && t[23] == 'Z';
}

/* 1..GF_AUDIT_NAME_MAX bytes of printable ASCII without spaces; returns the
 * 1-based position of the first bad byte, -1 for a bad length, 0 if fine. */
static long name_bad(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > GF_AUDIT_NAME_MAX) return -1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) return (long)i + 1;
    return 0;
}

static gf_status check_name(const char *what, const char *s)
{
    if (!s) return gf_errorf(GF_ERR_ARG, "audit %s is missing", what);
    long bad = name_bad(s);
    if (bad < 0)
        return gf_errorf(GF_ERR_ARG, "audit %s must be 1..%d bytes long, got %zu", what, GF_AUDIT_NAME_MAX,
                         strlen(s));
    if (bad > 0)
        return gf_errorf(GF_ERR_ARG, "audit %s \"%.40s\" has byte 0x%02x at %ld: use printable ASCII "
                         "without spaces", what, s, (unsigned char)s[bad - 1], bad);
    return GF_OK;
}

static gf_status sha256_hex(const void *data, size_t len, char hex[HEX_LEN + 1])
{
    unsigned char d[32];
    int rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, d);
    if (rc < 0) return gf_errorf(GF_ERR_NOMEM, "SHA-256: %s", gnutls_strerror(rc));
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return GF_OK;
}

/* ---- reading and checking a log ------------------------------------------ */

typedef struct {
    const char *path;
    uint64_t    entries;
    char        last[HEX_LEN + 1];
    off_t       good_end;    /* offset just past the last complete line */
    size_t      torn;        /* bytes after it, without a '\n' */
    int         torn_ours;   /* they start like an entry (or are zeros from a lost write) */
} scan_state;

static gf_status line_bad(const scan_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static gf_status line_bad(const scan_state *s, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return gf_errorf(GF_ERR_FORMAT, "%s: line %" PRIu64 ": %s", s->path, s->entries + 1, why);
}

/* Copies a key for a message: at most 32 bytes, non-printable bytes as '?'. */
static const char *shown(const char *k, char out[40])
{
    size_t i = 0;
    for (; k[i] && i < 32; i++) out[i] = (k[i] >= 0x20 && k[i] < 0x7f) ? k[i] : '?';
    out[i] = 0;
    return out;
}

/* The shape of one parsed line: keys in order and their types. */
static gf_status check_fields(const scan_state *s, json_t *j)
{
    if (!json_is_object(j)) return line_bad(s, "not a JSON object");
    size_t i = 0;
    char buf[40];
    for (void *it = json_object_iter(j); it; it = json_object_iter_next(j, it), i++)
        if (i >= NKEYS || strcmp(json_object_iter_key(it), KEYS[i]))
            return line_bad(s, "unexpected key \"%s\" (keys are seq,time,actor,event,detail,prev,hash "
                            "in this order)", shown(json_object_iter_key(it), buf));
    if (i < NKEYS) return line_bad(s, "key \"%s\" is missing", KEYS[i]);
    json_t *seq = json_object_get(j, "seq");
    if (!json_is_integer(seq) || json_integer_value(seq) < 1) return line_bad(s, "seq is not a positive integer");
    const char *t = json_string_value(json_object_get(j, "time"));
    if (!t || !time_ok(t)) return line_bad(s, "time is not a UTC time YYYY-MM-DDTHH:MM:SS.mmmZ");
    const char *actor = json_string_value(json_object_get(j, "actor"));
    if (!actor || name_bad(actor)) return line_bad(s, "actor is not 1..%d bytes of printable ASCII", GF_AUDIT_NAME_MAX);
    const char *event = json_string_value(json_object_get(j, "event"));
    if (!event || name_bad(event)) return line_bad(s, "event is not 1..%d bytes of printable ASCII", GF_AUDIT_NAME_MAX);
    if (!json_is_object(json_object_get(j, "detail"))) return line_bad(s, "detail is not a JSON object");
    const char *prev = json_string_value(json_object_get(j, "prev"));
    const char *hash = json_string_value(json_object_get(j, "hash"));
    if (!prev || !is_hex64(prev)) return line_bad(s, "prev is not 64 lowercase hex digits");
    if (!hash || !is_hex64(hash)) return line_bad(s, "hash is not 64 lowercase hex digits");
    return GF_OK;
}

/* Checks one complete line (without its '\n') against the chain so far. */
static gf_status check_line(scan_state *s, char *line, size_t len)
{
    if (len == 0) return line_bad(s, "empty line");
    json_error_t e;
    json_t *j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &e);
    if (!j) return line_bad(s, "not valid JSON: %s (column %d)", e.text, e.column);
    gf_status st = check_fields(s, j);
    if (st) { json_decref(j); return st; }
    const char *hash = json_string_value(json_object_get(j, "hash"));
    const char *prev = json_string_value(json_object_get(j, "prev"));
    json_int_t seq = json_integer_value(json_object_get(j, "seq"));
    if (len <= SUFFIX_LEN || memcmp(line + len - SUFFIX_LEN, ",\"hash\":\"", 9) ||
        memcmp(line + len - SUFFIX_LEN + 9, hash, HEX_LEN) || memcmp(line + len - 2, "\"}", 2)) {
        json_decref(j);
        return line_bad(s, "not in the compact form the log is written in (hash must end the line)");
    }
    /* the hashed bytes: the line without ,"hash":"..." but with its closing '}' */
    char hex[HEX_LEN + 1], save = line[len - SUFFIX_LEN];
    line[len - SUFFIX_LEN] = '}';
    st = sha256_hex(line, len - SUFFIX_LEN + 1, hex);
    line[len - SUFFIX_LEN] = save;
    if (!st && strcmp(hex, hash)) st = line_bad(s, "hash mismatch (entry altered)");
    if (!st && (uint64_t)seq != s->entries + 1)
        st = line_bad(s, "seq %" PRIu64 ", expected %" PRIu64 " (entry removed, duplicated or reordered)",
                      (uint64_t)seq, s->entries + 1);
    if (!st && strcmp(prev, s->last))
        st = s->entries == 0 ? line_bad(s, "prev is not 64 zeros (entries removed from the start?)")
                             : line_bad(s, "prev does not match line %" PRIu64 "'s hash (entry removed or "
                                        "reordered)", s->entries);
    if (!st) {
        memcpy(s->last, hash, HEX_LEN + 1);
        s->entries++;
    }
    json_decref(j);
    return st;
}

/* A torn final line is one our single write() left unfinished: it starts
 * like an entry, or it is all zero bytes (size extended, data lost). */
static int torn_looks_ours(const char *p, size_t n)
{
    static const char head[] = "{\"seq\":";
    size_t h = n < sizeof head - 1 ? n : sizeof head - 1;
    if (!memcmp(p, head, h)) return 1;
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* Reads the whole log through fd (pread: the file offset is left alone),
 * checking each complete line. */
static gf_status scan_fd(int fd, scan_state *s)
{
    s->entries = 0;
    memcpy(s->last, ZERO_HASH, sizeof s->last);
    s->good_end = 0;
    s->torn = 0;
    s->torn_ours = 0;
    size_t cap = READ_CHUNK, len = 0;
    off_t off = 0;   /* file offset of buf[0] */
    char *buf = malloc(cap);
    if (!buf) return gf_errorf(GF_ERR_NOMEM, "%s: out of memory reading the audit log", s->path);
    gf_status st = GF_OK;
    for (;;) {
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory reading the audit log", s->path); break; }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = pread(fd, buf + len, cap - len, off + (off_t)len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { st = gf_errorf(GF_ERR_IO, "cannot read %s: %s", s->path, strerror(errno)); break; }
        if (r == 0) break;
        len += (size_t)r;
        size_t start = 0;
        char *nl;
        while (!st && (nl = memchr(buf + start, '\n', len - start))) {
            size_t n = (size_t)(nl - (buf + start));
            st = n > GF_AUDIT_LINE_MAX ? line_bad(s, "longer than %d bytes", GF_AUDIT_LINE_MAX)
                                       : check_line(s, buf + start, n);
            start += n + 1;
        }
        if (st) break;
        memmove(buf, buf + start, len - start);
        len -= start;
        off += (off_t)start;
        if (len > GF_AUDIT_LINE_MAX) { st = line_bad(s, "longer than %d bytes", GF_AUDIT_LINE_MAX); break; }
    }
    if (!st) {
        s->good_end = off;
        s->torn = len;
        s->torn_ours = len > 0 && torn_looks_ours(buf, len);
    }
    free(buf);
    return st;
}

static gf_status open_regular(const char *path, int fd)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0) return gf_errorf(GF_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return gf_errorf(GF_ERR_FORMAT, "%s: not a regular file", path);
    return GF_OK;
}

gf_status gf_audit_verify(const char *path, gf_audit_summary *out)
{
    if (out) { out->entries = 0; memcpy(out->last_hash, ZERO_HASH, sizeof out->last_hash); }
    if (!path || !*path) return gf_errorf(GF_ERR_ARG, "audit log path is empty");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return gf_errorf(GF_ERR_IO, "cannot open audit log %s: %s", path, strerror(errno));
    scan_state s = {.path = path};
    gf_status st = open_regular(path, fd);
    if (!st) st = scan_fd(fd, &s);
    close(fd);
    if (!st && s.torn)
        st = line_bad(&s, "incomplete final line (%zu bytes without a newline: a torn write; opening the "
                      "log for appending cuts it off)", s.torn);
    if (!st && out) { out->entries = s.entries; memcpy(out->last_hash, s.last, sizeof out->last_hash); }
    return st;
}

/* ---- appending ------------------------------------------------------------ */

#define NOW_BUF 48

static void time_now(char out[NOW_BUF])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, NOW_BUF, "%.19s.%03uZ", day, (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

/* Serializes entry (seq, prev from a) into a malloc'ed line ending in '\n'. */
static gf_status entry_line(const gf_audit *a, const char *t, const char *actor, const char *event,
                            json_t *detail, char **line, size_t *len, char hash[HEX_LEN + 1])
{
    *line = NULL;
    json_t *o = json_object();
    char *s = NULL;
    gf_status st = GF_OK;
    if (!o || json_object_set_new(o, "seq", json_integer((json_int_t)(a->seq + 1))) ||
        json_object_set_new(o, "time", json_string(t)) || json_object_set_new(o, "actor", json_string(actor)) ||
        json_object_set_new(o, "event", json_string(event)) || json_object_set(o, "detail", detail) ||
        json_object_set_new(o, "prev", json_string(a->last)) || !(s = json_dumps(o, JSON_FLAGS)))
        st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory building an audit entry", a->path);
    json_decref(o);
    if (st) return st;
    size_t n = strlen(s);   /* ends in '}' */
    if ((st = sha256_hex(s, n, hash))) { free(s); return st; }
    if (n + SUFFIX_LEN - 1 > GF_AUDIT_LINE_MAX) {
        free(s);
        return gf_errorf(GF_ERR_ARG, "audit entry of %zu bytes is longer than %d", n + SUFFIX_LEN - 1,
                         GF_AUDIT_LINE_MAX);
    }
    char *l = malloc(n + SUFFIX_LEN + 1);
    if (!l) { free(s); return gf_errorf(GF_ERR_NOMEM, "%s: out of memory building an audit entry", a->path); }
    memcpy(l, s, n - 1);
    snprintf(l + n - 1, SUFFIX_LEN + 2, ",\"hash\":\"%s\"}\n", hash);
    free(s);
    *line = l;
    *len = n + SUFFIX_LEN;
    return GF_OK;
}

/* Writes entries [0, n) in one write() and one fdatasync: all or none. The
 * caller holds a->mu and has validated the input. */
static gf_status append_locked(gf_audit *a, const char *t, const gf_audit_entry *e, json_t *const *details, int n,
                               uint64_t *seq_out)
{
    if (a->broken)
        return gf_errorf(GF_ERR_IO, "%s: an earlier write to the audit log failed; reopen it", a->path);
    char now[NOW_BUF], hash[HEX_LEN + 1], last[HEX_LEN + 1];
    if (!t) { time_now(now); t = now; }
    uint64_t seq = a->seq;
    memcpy(last, a->last, sizeof last);
    char *buf = NULL;                   /* the lines, chained as they will be on disk */
    size_t len = 0;
    gf_status st = GF_OK;
    for (int i = 0; i < n && !st; i++) {
        char *line, *grown;
        size_t l = 0;
        if ((st = entry_line(a, t, e[i].actor, e[i].event, details[i], &line, &l, hash))) break;
        if (!(grown = realloc(buf, len + l))) {
            st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory building an audit entry", a->path);
        } else {
            memcpy(grown + len, line, l);
            buf = grown, len += l;
            a->seq++;                   /* the next line's seq and prev */
            memcpy(a->last, hash, sizeof a->last);
        }
        free(line);
    }
    size_t done = 0;
    errno = 0;
    while (!st && done < len) {         /* one write(); more only after a short write */
        ssize_t w = write(a->fd, buf + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += (size_t)w;
    }
    free(buf);
    if (!st && done < len) {
        int err = errno ? errno : EIO;
        if (ftruncate(a->fd, a->end) != 0) a->broken = 1;   /* cannot take the partial lines back */
        st = gf_errorf(GF_ERR_IO, "cannot append to audit log %s: %s", a->path, strerror(err));
    } else if (!st && fdatasync(a->fd) != 0) {
        a->broken = 1;   /* whether the entries are on disk is unknown: reopening decides */
        st = gf_errorf(GF_ERR_IO, "cannot sync audit log %s: %s", a->path, strerror(errno));
    }
    if (st) {
        a->seq = seq;
        memcpy(a->last, last, sizeof a->last);
        return st;
    }
    a->end += (off_t)len;
    if (seq_out) *seq_out = a->seq;
    return GF_OK;
}

/* The detail of an entry, checked: NULL text is {}. */
static gf_status detail_of(const gf_audit_entry *e, json_t **out)
{
    gf_status st = check_name("actor", e->actor);
    if (!st) st = check_name("event", e->event);
    if (st) return st;
    if (!e->detail_json) {
        if (!(*out = json_object())) return gf_errorf(GF_ERR_NOMEM, "out of memory building an audit entry");
        return GF_OK;
    }
    size_t n = strlen(e->detail_json);
    if (n > GF_AUDIT_DETAIL_MAX)
        return gf_errorf(GF_ERR_ARG, "audit detail is %zu bytes long (at most %d)", n, GF_AUDIT_DETAIL_MAX);
    json_error_t err;
    if (!(*out = json_loadb(e->detail_json, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err)))
        return gf_errorf(GF_ERR_ARG, "audit detail is not valid JSON: %s (line %d, column %d)", err.text, err.line,
                         err.column);
    if (!json_is_object(*out)) {
        json_decref(*out);
        return gf_errorf(GF_ERR_ARG, "audit detail must be a JSON object {...}");
    }
    return GF_OK;
}

static gf_status append_entries(gf_audit *a, const char *time_utc, const gf_audit_entry *e, int n, uint64_t *seq_out)
{
    if (!a) return gf_errorf(GF_ERR_ARG, "audit log handle is NULL");
    if (n < 1 || n > GF_AUDIT_BATCH_MAX || !e) return gf_errorf(GF_ERR_ARG, "audit: 1 to %d entries at once", GF_AUDIT_BATCH_MAX);
    if (time_utc && !time_ok(time_utc))
        return gf_errorf(GF_ERR_ARG, "audit time \"%.40s\" is not a UTC time YYYY-MM-DDTHH:MM:SS.mmmZ", time_utc);
    json_t *details[GF_AUDIT_BATCH_MAX];
    int k = 0;
    gf_status st = GF_OK;
    while (k < n && !(st = detail_of(&e[k], &details[k]))) k++;
    if (!st) {
        pthread_mutex_lock(&a->mu);
        st = append_locked(a, time_utc, e, details, n, seq_out);
        pthread_mutex_unlock(&a->mu);
    }
    while (k > 0) json_decref(details[--k]);
    return st;
}

gf_status gf_audit_append_at(gf_audit *a, const char *time_utc, const char *actor, const char *event,
                             const char *detail_json, uint64_t *seq_out)
{
    gf_audit_entry e = { actor, event, detail_json };
    return append_entries(a, time_utc, &e, 1, seq_out);
}

gf_status gf_audit_append(gf_audit *a, const char *actor, const char *event, const char *detail_json,
                          uint64_t *seq_out)
{
    return append_entries(a, NULL, &(gf_audit_entry){ actor, event, detail_json }, 1, seq_out);
}

gf_status gf_audit_append_many(gf_audit *a, const gf_audit_entry *e, int n, uint64_t *seq_out)
{
    return append_entries(a, NULL, e, n, seq_out);
}

/* ---- opening -------------------------------------------------------------- */

/* Cuts a torn final line and records that in the log. */
static gf_status repair_tail(gf_audit *a, const scan_state *s)
{
    if (!s->torn_ours)
        return gf_errorf(GF_ERR_FORMAT, "%s: line %" PRIu64 ": incomplete final line (%zu bytes without a "
                         "newline) that does not start like an audit entry; not cutting it",
                         a->path, s->entries + 1, s->torn);
    if (ftruncate(a->fd, s->good_end) != 0 || fsync(a->fd) != 0)
        return gf_errorf(GF_ERR_IO, "cannot cut the torn final line of %s: %s", a->path, strerror(errno));
    json_t *d = json_pack("{s:I, s:I, s:s}", "cut_bytes", (json_int_t)s->torn, "offset",
                          (json_int_t)s->good_end, "reason", "incomplete final line (torn write)");
    if (!d) return gf_errorf(GF_ERR_NOMEM, "out of memory building an audit entry");
    gf_status st = append_locked(a, NULL, &(gf_audit_entry){ "audit", "audit.recovered", NULL }, &d, 1, NULL);
    json_decref(d);
    return st;
}

gf_status gf_audit_open(const char *path, gf_audit **out)
{
    if (!out) return gf_errorf(GF_ERR_ARG, "gf_audit_open: out is NULL");
    *out = NULL;
    if (!path || !*path) return gf_errorf(GF_ERR_ARG, "audit log path is empty");
    gf_audit *a = calloc(1, sizeof *a);
    if (!a || !(a->path = strdup(path)) || pthread_mutex_init(&a->mu, NULL) != 0) {
        if (a) free(a->path);
        free(a);
        return gf_errorf(GF_ERR_NOMEM, "out of memory opening audit log %s", path);
    }
    int created = 1;
    a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (a->fd < 0 && errno == EEXIST) {
        created = 0;
        a->fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
    }
    gf_status st = GF_OK;
    if (a->fd < 0) st = gf_errorf(GF_ERR_IO, "cannot open audit log %s: %s", path, strerror(errno));
    if (!st) st = open_regular(path, a->fd);
    if (!st && flock(a->fd, LOCK_EX | LOCK_NB) != 0)
        st = errno == EWOULDBLOCK ? gf_errorf(GF_ERR_IO, "audit log %s is open in another process", path)
                                  : gf_errorf(GF_ERR_IO, "cannot lock audit log %s: %s", path, strerror(errno));
    if (!st && created && fsync(a->fd) != 0)
        st = gf_errorf(GF_ERR_IO, "cannot sync new audit log %s: %s", path, strerror(errno));
    if (!st && created) st = gf_fs_sync_parent(path);
    scan_state s = {.path = path};
    if (!st) st = scan_fd(a->fd, &s);
    if (!st) {
        a->seq = s.entries;
        memcpy(a->last, s.last, sizeof a->last);
        a->end = s.good_end;
        if (s.torn) st = repair_tail(a, &s);
    }
    if (st) { gf_audit_close(a); return st; }
    *out = a;
    return GF_OK;
}

void gf_audit_close(gf_audit *a)
{
    if (!a) return;
    if (a->fd >= 0) close(a->fd);
    pthread_mutex_destroy(&a->mu);
    free(a->path);
    free(a);
}
