/* Plain names: what a tenant, a dataset and other operator-given names may
 * be made of, so that they can stand in a path, a Slurm account or a log
 * line as they are. */
#ifndef GF_CORE_NAMES_H
#define GF_CORE_NAMES_H

#include <stddef.h>

/* 1 when s holds 1..max characters of [A-Za-z0-9._-] and is not "." or "..". */
int gf_name_is_plain(const char *s, size_t max);

#endif
