/* Test helper: speaking to an in-process coordinator as a site or the
 * operator through gf's own HTTPS client, and counting audit lines. */
#ifndef GF_TESTS_SITE_CLIENT_H
#define GF_TESTS_SITE_CLIENT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net/https_client.h"

/* The HTTP status (or -1 when the request failed); the body into *raw
 * (malloc'd, *raw_len bytes) when raw is not NULL. */
static int req(gf_https_client *c, const char *method, const char *path, const void *body, size_t len,
               char **raw, size_t *raw_len)
{
    int status = 0;
    char *resp = NULL;
    size_t n = 0;
    if (gf_https_request(c, method, path, body, len, &status, &resp, &n)) return -1;
    if (raw) { *raw = resp; *raw_len = n; } else free(resp);
    return status;
}

/* Lines of the file at path that contain needle (-1: cannot open). */
static int count_lines(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f)) n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

#endif
