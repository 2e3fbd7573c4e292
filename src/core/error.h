/* Status codes and the thread-local error message that goes with them.
 * Library code never prints or exits: it returns a gf_status and, on failure,
 * leaves a human-readable message (naming the file, field or value at fault)
 * that the CLI prints. */
#ifndef GF_CORE_ERROR_H
#define GF_CORE_ERROR_H

typedef enum {
    GF_OK = 0,
    GF_ERR_ARG,         /* bad argument or spec from the caller */
    GF_ERR_IO,          /* open/read/write/rename failed */
    GF_ERR_FORMAT,      /* malformed file contents */
    GF_ERR_NOMEM,       /* allocation failed */
    GF_ERR_MISMATCH,    /* well-formed but does not fit (shape, model, dtype) */
    GF_ERR_NUMERIC,     /* NaN/Inf where finite values are required */
} gf_status;

/* Record a printf-style message for the current thread and return `st`. */
gf_status gf_errorf(gf_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The last message recorded on this thread ("" if none). */
const char *gf_last_error(void);

/* Short name of a status code ("format error", ...). */
const char *gf_status_name(gf_status st);

#endif
