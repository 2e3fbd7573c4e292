/* Job bundles: the files a tenant sends with a program job, as one tar
 * stream (optionally gzip-compressed), read with libarchive:
 *
 *   job.json          the job spec, the first entry (at most 1 MiB)
 *   files/...         the bundle: regular files and folders only, which
 *                     become the job's /job (facility/program.h)
 *
 * Refused, with a message naming the entry, and nothing left behind: an
 * absolute path, a ".." component, a symbolic or hard link, a device, FIFO
 * or socket, a name outside files/ (other than job.json first), a
 * duplicate, more than max_entries entries or max_bytes bytes of file data
 * in all (counted while reading, whatever the headers claim), a corrupt
 * archive. Files are written with openat relative to the folders created
 * here (O_EXCL, O_NOFOLLOW): mode 0600, or 0700 when the entry is
 * executable by its owner; folders 0700; no owner, time or set-id bit is
 * taken from the archive. */
#ifndef GF_FACILITY_BUNDLE_H
#define GF_FACILITY_BUNDLE_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"

#define GF_BUNDLE_MAX_BYTES   ((int64_t)256 << 20)
#define GF_BUNDLE_MAX_ENTRIES 10000
#define GF_BUNDLE_SPEC_MAX    (1 << 20)

typedef struct {
    int64_t max_bytes;    /* 0: GF_BUNDLE_MAX_BYTES */
    int     max_entries;  /* 0: GF_BUNDLE_MAX_ENTRIES */
} gf_bundle_limits;

/* Unpacks len bytes of tar into a new folder parent/.bundle-XXXXXX (its
 * path into dir[cap]) and the spec into *spec (malloc'd, NUL-terminated,
 * *spec_len bytes). On error nothing is left: no folder, *spec NULL;
 * GF_ERR_ARG (or GF_ERR_FORMAT for a corrupt archive) with the reason, so
 * the caller answers 400; GF_ERR_IO / GF_ERR_NOMEM for the coordinator's
 * own failures. */
gf_status gf_bundle_unpack(const void *tar, size_t len, const char *parent, const gf_bundle_limits *lim,
                           char *dir, size_t cap, char **spec, size_t *spec_len);

/* Removes a folder tree (links not followed); for a bundle no job took. */
void gf_bundle_remove(const char *dir);

#endif
