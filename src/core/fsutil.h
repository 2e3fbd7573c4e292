/* Durable files: writing a file atomically (a temp file beside it, created
 * with its final mode, written, fsynced, renamed over the target, then the
 * folder fsynced) and syncing a folder so a new name survives a crash. The
 * one mechanism behind checkpoints, provisioning files and logs. */
#ifndef GF_CORE_FSUTIL_H
#define GF_CORE_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>
#include "core/error.h"

/* One piece of a file's contents. */
typedef struct { const void *data; size_t len; } gf_fs_part;

/* fsync a folder (filesystems that cannot sync folders are tolerated). */
gf_status gf_fs_sync_dir(const char *dir);
/* fsync the folder that holds `path`. */
gf_status gf_fs_sync_parent(const char *path);
/* Writes the parts, in order, as the whole new contents of `path`. The temp
 * file is created with `mode` from the start (O_EXCL), so a secret is never
 * readable by others, not even for a moment. On failure the temp file is
 * removed and `path` is as it was. */
gf_status gf_fs_write_atomic(const char *path, const gf_fs_part *parts, int nparts, mode_t mode);

#endif
