/* Program jobs at the CLI: gf submit SPEC --files DIR (the spec and DIR as
 * one tar stream, facility/bundle.h), gf submit --bundle TAR (a ready-made
 * one), gf download JOB --out DIR [--file NAME] (the job's outputs), and
 * the metrics lines in gf status. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "cli/fed.h"
#include "cli/program.h"
#include "core/fsutil.h"

#define BUNDLE_MAX ((size_t)256 << 20)

typedef struct { char *buf; size_t len, cap; int over; } membuf;

static la_ssize_t mem_write(struct archive *a, void *ctx, const void *data, size_t n)
{
    (void)a;
    membuf *m = ctx;
    if (m->len + n > BUNDLE_MAX + (1 << 20)) { m->over = 1; return -1; }
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 1 << 16;
        while (cap < m->len + n) cap *= 2;
        char *p = realloc(m->buf, cap);
        if (!p) return -1;
        m->buf = p;
        m->cap = cap;
    }
    memcpy(m->buf + m->len, data, n);
    m->len += n;
    return (la_ssize_t)n;
}

static int add_entry(struct archive *a, const char *name, mode_t type, mode_t perm, const void *data, size_t n)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    archive_entry_set_size(e, type == AE_IFREG ? (la_int64_t)n : 0);
    int r = archive_write_header(a, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK) return -1;
    if (type == AE_IFREG && n && archive_write_data(a, data, n) != (la_ssize_t)n) return -1;
    return 0;
}

/* Adds DIR/rel recursively as files/rel; 0 or -1 (message printed). */
static int add_tree(struct archive *a, const char *root, const char *rel, int depth)
{
    char path[PATH_MAX], name[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d) { fprintf(stderr, "gf submit: cannot read %s: %s\n", path, strerror(errno)); return -1; }
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char sub[PATH_MAX], full[PATH_MAX + 2];
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        snprintf(full, sizeof full, "%s/%s", root, sub);
        snprintf(name, sizeof name, "files/%s", sub);
        struct stat st;
        if (lstat(full, &st)) { fprintf(stderr, "gf submit: %s: %s\n", full, strerror(errno)); rc = -1; break; }
        if (S_ISLNK(st.st_mode)) {
            fprintf(stderr, "gf submit: %s is a symbolic link: a bundle holds regular files and folders only\n", full);
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            rc = depth > 32 ? -1 : add_entry(a, name, AE_IFDIR, 0700, NULL, 0);
            if (!rc) rc = add_tree(a, root, sub, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            if ((size_t)st.st_size > BUNDLE_MAX) {
                fprintf(stderr, "gf submit: %s is larger than the bundle limit\n", full);
                rc = -1;
                break;
            }
            FILE *f = fopen(full, "rb");
            char *data = malloc((size_t)st.st_size + 1);
            size_t n = f && data ? fread(data, 1, (size_t)st.st_size, f) : 0;
            if (f) fclose(f);
            if (!data || n != (size_t)st.st_size) { fprintf(stderr, "gf submit: cannot read %s\n", full); rc = -1; }
            else rc = add_entry(a, name, AE_IFREG, st.st_mode & 0700, data, n);
            free(data);
        } else {
            fprintf(stderr, "gf submit: %s is not a regular file or folder\n", full);
            rc = -1;
        }
    }
    closedir(d);
    return rc;
}

static int read_file(const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "gf submit: cannot open %s: %s\n", path, strerror(errno)); return -1; }
    char *b = malloc(max + 1);
    size_t n = b ? fread(b, 1, max + 1, f) : 0;
    fclose(f);
    if (!b || n > max) { fprintf(stderr, "gf submit: %s is too large\n", path); free(b); return -1; }
    *out = b;
    *len = n;
    return 0;
}

int cli_program_submit(const cli_api *a, const char *spec_path, const char *files_dir, const char *bundle, long *id)
{
    char *body = NULL;
    size_t len = 0;
    if (bundle) {
        if (read_file(bundle, BUNDLE_MAX + (2 << 20), &body, &len)) return 1;
    } else {
        char *spec;
        size_t n;
        if (read_file(spec_path, 1 << 20, &spec, &n)) return 1;
        membuf m = {0};
        struct archive *ar = archive_write_new();
        archive_write_set_format_pax_restricted(ar);
        archive_write_set_bytes_in_last_block(ar, 1);
        int rc = archive_write_open2(ar, &m, NULL, mem_write, NULL, NULL) != ARCHIVE_OK ||
                 add_entry(ar, "job.json", AE_IFREG, 0600, spec, n) || add_tree(ar, files_dir, "", 0);
        if (!rc) rc = archive_write_close(ar) != ARCHIVE_OK;
        if (rc && m.over) fprintf(stderr, "gf submit: %s holds more than the bundle limit\n", files_dir);
        else if (rc && archive_error_string(ar)) fprintf(stderr, "gf submit: bundle: %s\n", archive_error_string(ar));
        archive_write_free(ar);
        free(spec);
        if (rc) { free(m.buf); return 1; }
        body = m.buf;
        len = m.len;
    }
    char *resp;
    size_t rlen;
    int rc = cli_api_call("submit", a, "POST", "/v1/jobs/bundle", body, len, &resp, &rlen);
    free(body);
    if (rc) return 1;
    json_t *j = json_loads(resp, 0, NULL);
    *id = (long)json_integer_value(json_object_get(j, "id"));
    if (a->json) printf("%s\n", resp);
    else printf("%ld\n", *id);
    fflush(stdout);
    json_decref(j);
    free(resp);
    return 0;
}

/* A name the coordinator listed: a relative path without "." or ".."
 * components (checked here too: the answer is not trusted with our files). */
static int safe_name(const char *s)
{
    if (!*s || *s == '/' || strlen(s) >= PATH_MAX / 2) return 0;
    for (const char *c = s; *c;) {
        size_t n = strcspn(c, "/");
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && !strncmp(c, "..", 2))) return 0;
        c += n;
        if (*c == '/') c++;
    }
    return 1;
}

static int fetch_one(const cli_api *a, long id, const char *name, const char *out_dir)
{
    if (!safe_name(name)) { fprintf(stderr, "gf download: refusing output name \"%s\"\n", name); return 1; }
    char path[PATH_MAX * 3 + 64], dst[PATH_MAX * 2];
    int n = snprintf(path, sizeof path, "/v1/jobs/%ld/outputs/", id);
    for (const unsigned char *c = (const unsigned char *)name; *c && n < (int)sizeof path - 4; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || strchr("/._-~", *c))
            path[n++] = (char)*c;
        else
            n += snprintf(path + n, sizeof path - (size_t)n, "%%%02X", *c);
    }
    path[n] = 0;
    snprintf(dst, sizeof dst, "%s/%s", out_dir, name);
    for (char *s = dst + strlen(out_dir) + 1; (s = strchr(s, '/')); s++) {   /* its folders */
        *s = 0;
        if (mkdir(dst, 0755) && errno != EEXIST) { fprintf(stderr, "gf download: cannot create %s: %s\n", dst, strerror(errno)); return 1; }
        *s = '/';
    }
    char *resp;
    size_t len;
    if (cli_api_call("download", a, "GET", path, NULL, 0, &resp, &len)) return 1;
    gf_fs_part part = { resp, len };
    gf_status st = gf_fs_write_atomic(dst, &part, 1, 0644);
    free(resp);
    if (st) { fprintf(stderr, "gf download: %s\n", gf_last_error()); return 1; }
    printf("saved %zu bytes to %s\n", len, dst);
    return 0;
}

int cli_program_download(const cli_api *a, long id, const char *file)
{
    if (mkdir(a->out, 0755) && errno != EEXIST) {
        fprintf(stderr, "gf download: cannot create %s: %s\n", a->out, strerror(errno));
        return 1;
    }
    if (file) return fetch_one(a, id, file, a->out);
    char path[64], *resp;
    size_t len;
    snprintf(path, sizeof path, "/v1/jobs/%ld/outputs", id);
    if (cli_api_call("download", a, "GET", path, NULL, 0, &resp, &len)) return 1;
    json_t *j = json_loads(resp, 0, NULL);
    free(resp);
    size_t i;
    json_t *f;
    int rc = 0;
    json_array_foreach(json_object_get(j, "files"), i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        if (name && (rc = fetch_one(a, id, name, a->out))) break;
    }
    if (!rc && !json_array_size(json_object_get(j, "files"))) printf("job %ld has no outputs (yet)\n", id);
    json_decref(j);
    return rc;
}

void cli_program_status_print(long id, json_t *j)
{
    printf("job %ld \"%s\" (program, tenant %s): %s (%s)\n", id, json_string_value(json_object_get(j, "name")),
           json_is_string(json_object_get(j, "tenant")) ? json_string_value(json_object_get(j, "tenant")) : "-",
           json_string_value(json_object_get(j, "state")), json_string_value(json_object_get(j, "reason")));
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(j, "metrics"), i, m) {
        printf("  metrics");
        const char *k;
        json_t *v;
        json_object_foreach(m, k, v) printf("  %s %.6g", k, json_number_value(v));
        printf("\n");
    }
    json_t *u = json_object_get(j, "usage");
    if (json_is_object(u))
        printf("  usage: %.1f core-s, %.1f cpu-s, peak %.0f MiB, wall %.1f s\n",
               json_number_value(json_object_get(u, "core_s")), json_number_value(json_object_get(u, "cpu_s")),
               json_number_value(json_object_get(u, "peak_mem_mb")), json_number_value(json_object_get(u, "wall_s")));
}
