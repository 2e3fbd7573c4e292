/* Reading a whole data file into memory through zlib (raw or gzipped, told
 * apart from the content), under the readers' limits: only a regular file
 * within the file-size limit (gf_data_open), and at most max_inflated_bytes
 * once decompressed, counted as the bytes arrive so a gzip bomb stops at the
 * cap. Memory grows with the bytes actually read. Used by the genotype and
 * phenotype readers, whose files are read whole. */
#include "data/dataset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define SLURP_CHUNK (1 << 20)

gf_status gf_data_read_all(const char *path, const gf_data_limits *lim, char **buf_out, int64_t *len_out)
{
    *buf_out = NULL;
    *len_out = 0;
    gf_data_limits def = gf_data_limits_default();
    if (!lim) lim = &def;
    int fd = -1;
    gf_status st = gf_data_open(path, lim, &fd, NULL);
    if (st) return st;
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd);
        return gf_errorf(GF_ERR_NOMEM, "%s: cannot open: out of memory", path);
    }
    gzbuffer(f, 1 << 17);
    char *buf = NULL;
    int64_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < SLURP_CHUNK + 1) {   /* room for a chunk and the NUL */
            int64_t ncap = cap ? cap * 2 : SLURP_CHUNK + 1;
            if (ncap > lim->max_inflated_bytes + SLURP_CHUNK + 1) ncap = lim->max_inflated_bytes + SLURP_CHUNK + 1;
            char *nb = realloc(buf, (size_t)ncap);
            if (!nb) { st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory after %lld bytes", path, (long long)len); break; }
            buf = nb;
            cap = ncap;
        }
        int r = gzread(f, buf + len, SLURP_CHUNK);
        if (r > 0) {
            len += r;
            if (len > lim->max_inflated_bytes) {
                st = gf_errorf(GF_ERR_FORMAT, "%s: decompressed data exceeds the decompressed size limit of %lld bytes",
                               path, (long long)lim->max_inflated_bytes);
                break;
            }
            continue;
        }
        int err = Z_OK;
        const char *msg = gzerror(f, &err);
        const char *sep = msg && strncmp(msg, "<fd:", 4) == 0 ? strstr(msg, ">: ") : NULL;
        if (sep) msg = sep + 3;
        if (!msg) msg = "unknown zlib error";
        if (r < 0 || (err != Z_OK && err != Z_STREAM_END)) {
            if (err == Z_ERRNO) st = gf_errorf(GF_ERR_IO, "%s: read failed: %s", path, strerror(errno));
            else if (err == Z_MEM_ERROR) st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory while decompressing", path);
            else if (err == Z_BUF_ERROR) st = gf_errorf(GF_ERR_FORMAT, "%s: truncated gzip stream (%s)", path, msg);
            else st = gf_errorf(GF_ERR_FORMAT, "%s: corrupt gzip data (%s)", path, msg);
        }
        break;
    }
    gzclose(f);
    if (st) { free(buf); return st; }
    buf[len] = '\0';   /* cap > len always: one spare byte */
    *buf_out = buf;
    *len_out = len;
    return GF_OK;
}
