/* The coordinator's audit log: an append-only, hash-chained JSON-lines file.
 *
 * Each line is one compact JSON object, keys in this order:
 *
 *   {"seq":1,"time":"2025-01-31T12:00:00.123Z","actor":"site:hospital-a",
 *    "event":"update.rejected","detail":{...},"prev":"000...0","hash":"9f2c..."}
 *
 *   seq     1, 2, 3, ... (line n holds seq n)
 *   time    UTC, RFC 3339 with milliseconds: YYYY-MM-DDTHH:MM:SS.mmmZ
 *   actor   who acted ("site:hospital-a", "operator", "coordinator")
 *   event   what happened, a short token ("update.rejected")
 *   detail  a JSON object (may be {})
 *   prev    the previous line's "hash"; 64 zeros on line 1
 *   hash    lowercase hex SHA-256 of the line's bytes without the hash
 *           member: the object {seq,time,actor,event,detail,prev} written by
 *           jansson with JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII.
 *           The line on disk is exactly those bytes with their final '}'
 *           replaced by ,"hash":"<64 hex>"} and followed by '\n'; so the
 *           hashed bytes are the line minus its last 75 bytes, plus '}'.
 *
 * Durability: an append is one write() of the whole line (or lines), then
 * fdatasync; when gf_audit_append returns GF_OK the entry survives a crash. A kill -9
 * or power loss mid-write can leave only an incomplete last line (no '\n');
 * gf_audit_open cuts it off and appends an "audit.recovered" entry whose
 * detail records the number of bytes cut ({"cut_bytes":N,...}). Any other
 * damage (an altered, removed, reordered or foreign line) is GF_ERR_FORMAT
 * and the log is not touched.
 *
 * One process appends at a time (an exclusive flock(2) on the file, held
 * until gf_audit_close); within it, any number of threads may append to the
 * same gf_audit. gf_audit_verify only reads and takes no lock. */
#ifndef GF_IO_AUDIT_H
#define GF_IO_AUDIT_H

#include <stdint.h>
#include "core/error.h"

#define GF_AUDIT_NAME_MAX    128          /* actor and event: 1..128 bytes of printable ASCII */
#define GF_AUDIT_DETAIL_MAX  (64 * 1024)  /* detail JSON text given to append */
#define GF_AUDIT_LINE_MAX    (1 << 20)    /* longest line a log may hold */

typedef struct gf_audit gf_audit;

/* Opens the log at path for appending, creating it (mode 0600) if missing.
 * Verifies the whole chain first; repairs a torn final line as described
 * above. GF_ERR_FORMAT (naming the first bad line) for any other damage,
 * GF_ERR_IO when the file cannot be read, locked or repaired. */
gf_status gf_audit_open(const char *path, gf_audit **out);

/* Appends one entry stamped with the current time. actor and event: 1..128
 * bytes of printable ASCII without spaces; detail_json: the text of a JSON
 * object (at most GF_AUDIT_DETAIL_MAX bytes) or NULL for {}. Bad input is
 * GF_ERR_ARG and writes nothing. *seq_out (if given) gets the entry's seq.
 * After a failed write or sync the handle refuses further appends
 * (GF_ERR_IO): reopen the log. Thread-safe. */
gf_status gf_audit_append(gf_audit *a, const char *actor, const char *event, const char *detail_json,
                          uint64_t *seq_out);

/* The same with an explicit time "YYYY-MM-DDTHH:MM:SS.mmmZ" (NULL: now). */
gf_status gf_audit_append_at(gf_audit *a, const char *time_utc, const char *actor, const char *event,
                             const char *detail_json, uint64_t *seq_out);

/* Entries that belong together (a round's end and the next one's start),
 * appended with one write() and one fdatasync: all of them or, on any
 * error, none. Each is checked as by gf_audit_append; 1 to
 * GF_AUDIT_BATCH_MAX at once; *seq_out gets the last one's seq. */
typedef struct {
    const char *actor, *event, *detail_json;
} gf_audit_entry;
#define GF_AUDIT_BATCH_MAX 32
gf_status gf_audit_append_many(gf_audit *a, const gf_audit_entry *e, int n, uint64_t *seq_out);

/* Releases the lock and the handle (NULL is fine). */
void gf_audit_close(gf_audit *a);

typedef struct {
    uint64_t entries;        /* lines (= the last seq) */
    char     last_hash[65];  /* the last line's hash; 64 zeros when empty */
} gf_audit_summary;

/* Checks a log without changing it: every line parses, has the keys above in
 * order, seq runs 1..n, each prev is the previous hash and each hash matches
 * its line. GF_ERR_FORMAT with "PATH: line N: why" for the first bad line
 * ("line 7: hash mismatch (entry altered)", "line 3: seq 5, expected 3 ...",
 * "line 12: prev does not match line 11's hash ..."); a torn final line is
 * reported too (gf_audit_open repairs it; while a writer is appending, the
 * line being written may show as one). out (if given) gets the totals. */
gf_status gf_audit_verify(const char *path, gf_audit_summary *out);

#endif
