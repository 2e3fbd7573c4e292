/* The disk space a folder tree takes: what the job-folder quota of the
 * local executor (service/executor_local.c) measures, as `du` does. */
#ifndef GF_FACILITY_FOLDER_SIZE_H
#define GF_FACILITY_FOLDER_SIZE_H

#include <stdint.h>
#include "core/error.h"

/* *bytes = the allocated size (st_blocks x 512) of path and everything
 * under it, links not followed (a link counts its own size), other file
 * systems counted too; hard links count once per name (an over-count, never
 * an under-count). Stops early, with *bytes > stop_at, once the sum passes
 * stop_at (0: no early stop). Entries that vanish while walking are
 * skipped. GF_ERR_IO when path itself cannot be read; nesting deeper than
 * 256 folders counts as GF_ERR_IO too. */
gf_status gf_folder_size(const char *path, int64_t stop_at, int64_t *bytes);

#endif
