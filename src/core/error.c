/* Thread-local error messages behind gf_status codes. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_message[1024];

gf_status gf_errorf(gf_status st, const char *fmt, ...)
{
    /* formatted aside first: the arguments may include gf_last_error() itself */
    char msg[sizeof last_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(last_message, msg, sizeof msg);
    return st;
}

const char *gf_last_error(void) { return last_message; }

const char *gf_status_name(gf_status st)
{
    switch (st) {
    case GF_OK: return "ok";
    case GF_ERR_ARG: return "invalid argument";
    case GF_ERR_IO: return "i/o error";
    case GF_ERR_FORMAT: return "format error";
    case GF_ERR_NOMEM: return "out of memory";
    case GF_ERR_MISMATCH: return "mismatch";
    case GF_ERR_NUMERIC: return "numeric error";
    }
    return "unknown error";
}
