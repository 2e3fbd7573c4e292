/* Token streams for language models: a text file read as bytes (one token
 * per byte, V = 256) and llm.c's .bin token files (a 256-int32 header:
 * magic 20240520, version 1, count; then count uint16 ids); and the window
 * that turns a stream into (T inputs, T next-token targets) samples. Files
 * are opened through gf_data_open (regular files within the size limit). */
#include "data/dataset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LLMC_MAGIC   20240520
#define LLMC_HEADER  256          /* int32 entries */

/* Reads the whole of fd (size bytes) into a new buffer. */
static gf_status read_all(const char *path, int fd, int64_t size, unsigned char **out)
{
    unsigned char *buf = malloc((size_t)(size ? size : 1));
    if (!buf) return gf_errorf(GF_ERR_NOMEM, "%s: out of memory for %lld bytes", path, (long long)size);
    int64_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, (size_t)(size - got > (1 << 30) ? (1 << 30) : size - got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            free(buf);
            return gf_errorf(GF_ERR_IO, "%s: %s after %lld of %lld bytes", path,
                             r < 0 ? strerror(errno) : "file shrank", (long long)got, (long long)size);
        }
        got += r;
    }
    *out = buf;
    return GF_OK;
}

static gf_status load_file(const char *path, const gf_data_limits *lim, unsigned char **buf, int64_t *size)
{
    gf_data_limits def = gf_data_limits_default();
    int fd;
    gf_status st = gf_data_open(path, lim ? lim : &def, &fd, size);
    if (st) return st;
    st = read_all(path, fd, *size, buf);
    close(fd);
    return st;
}

gf_status gf_text_load(const char *path, const gf_data_limits *lim, gf_dataset *out)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf;
    int64_t size;
    gf_status st = load_file(path, lim, &buf, &size);
    if (st) return st;
    if (size == 0) { free(buf); return gf_errorf(GF_ERR_FORMAT, "%s: empty file: no text to train on", path); }
    out->tokens = malloc(sizeof(int32_t) * (size_t)size);   /* (ntokens) */
    if (!out->tokens) { free(buf); return gf_errorf(GF_ERR_NOMEM, "%s: out of memory for %lld tokens", path, (long long)size); }
    for (int64_t i = 0; i < size; i++) out->tokens[i] = buf[i];
    free(buf);
    out->ntokens = size;
    out->num_classes = 256;
    return GF_OK;
}

static int32_t le32(const unsigned char *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

gf_status gf_tokens_load(const char *path, const gf_data_limits *lim, gf_dataset *out)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf;
    int64_t size;
    gf_status st = load_file(path, lim, &buf, &size);
    if (st) return st;
    const int64_t hdr = 4 * LLMC_HEADER;
    if (size == 0) st = gf_errorf(GF_ERR_FORMAT, "%s: empty file (a token file starts with a %lld-byte header)",
                                  path, (long long)hdr);
    else if (size < hdr)
        st = gf_errorf(GF_ERR_FORMAT, "%s: truncated header: %lld bytes, a token file's header is %lld",
                       path, (long long)size, (long long)hdr);
    else if (le32(buf) != LLMC_MAGIC)
        st = gf_errorf(GF_ERR_FORMAT, "%s: not a token file (magic %d, expected %d)", path, le32(buf), LLMC_MAGIC);
    else if (le32(buf + 4) != 1)
        st = gf_errorf(GF_ERR_FORMAT, "%s: token file version %d is not supported (1: uint16 tokens)",
                       path, le32(buf + 4));
    else if (le32(buf + 8) <= 0)
        st = gf_errorf(GF_ERR_FORMAT, "%s: the header counts %d tokens: nothing to train on", path, le32(buf + 8));
    else if (size != hdr + 2 * (int64_t)le32(buf + 8))
        st = gf_errorf(GF_ERR_FORMAT, "%s: the header counts %d tokens (%lld bytes) but %lld bytes follow it",
                       path, le32(buf + 8), 2 * (long long)le32(buf + 8), (long long)(size - hdr));
    if (st) { free(buf); return st; }
    const int64_t n = le32(buf + 8);
    if (!(out->tokens = malloc(sizeof(int32_t) * (size_t)n))) {
        free(buf);
        return gf_errorf(GF_ERR_NOMEM, "%s: out of memory for %lld tokens", path, (long long)n);
    }
    int32_t max = 0;
    for (int64_t i = 0; i < n; i++) {
        const unsigned char *p = buf + hdr + 2 * i;
        out->tokens[i] = (int32_t)(p[0] | p[1] << 8);
        if (out->tokens[i] > max) max = out->tokens[i];
    }
    free(buf);
    out->ntokens = n;
    out->num_classes = max + 1;
    return GF_OK;
}

gf_status gf_dataset_window(gf_dataset *d, int T)
{
    if (!d->tokens) return gf_errorf(GF_ERR_ARG, "not a token dataset (a language model needs text: or tokens: data)");
    if (T < 1 || d->ntokens < (int64_t)T + 1)
        return gf_errorf(GF_ERR_ARG, "%lld tokens are fewer than one sample of context %d plus its next token",
                         (long long)d->ntokens, T);
    d->n = (d->ntokens - 1) / T;
    d->c = d->h = 1;
    d->w = T;
    d->dim = T;
    return GF_OK;
}
