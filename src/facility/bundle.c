/* Job bundles: a tar stream checked entry by entry and unpacked into a new
 * folder (see bundle.h). */
#include "facility/bundle.h"

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

#define NAME_MAX_BYTES 1024

static void remove_at(int at, const char *name, int depth)
{
    struct stat st;
    if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW)) return;
    if (S_ISDIR(st.st_mode) && depth < 256) {
        int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d && fd >= 0) close(fd);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) remove_at(dirfd(d), e->d_name, depth + 1);
            closedir(d);
        }
        unlinkat(at, name, AT_REMOVEDIR);
    } else {
        unlinkat(at, name, 0);
    }
}

void gf_bundle_remove(const char *dir) { remove_at(AT_FDCWD, dir, 0); }

/* The entry's name, printable, for messages. */
static void shown(const char *name, char *out, size_t cap)
{
    size_t n = 0;
    for (; name[n] && n + 1 < cap && n < 200; n++) out[n] = (unsigned char)name[n] < 0x20 ? '?' : name[n];
    out[n] = 0;
}

/* Checks the path rules; the path below files/ into rel. */
static gf_status check_name(const char *name, char *rel, size_t cap)
{
    char s[256];
    shown(name, s, sizeof s);
    if (strlen(name) > NAME_MAX_BYTES) return gf_errorf(GF_ERR_ARG, "bundle: entry \"%s...\": name too long", s);
    if (name[0] == '/') return gf_errorf(GF_ERR_ARG, "bundle: entry \"%s\": absolute paths are not allowed", s);
    const char *p = name;
    while (!strncmp(p, "./", 2)) p += 2;
    if (strncmp(p, "files/", 6) && strcmp(p, "files"))
        return gf_errorf(GF_ERR_ARG, "bundle: entry \"%s\": outside files/ (a bundle is job.json, then files/...)", s);
    for (const char *c = p; *c;) {
        size_t n = strcspn(c, "/");
        if ((n == 2 && !strncmp(c, "..", 2)))
            return gf_errorf(GF_ERR_ARG, "bundle: entry \"%s\": \"..\" is not allowed in a path", s);
        c += n;
        while (*c == '/') c++;
    }
    p += strcmp(p, "files") ? 6 : 5;
    while (*p == '/') p++;
    snprintf(rel, cap, "%s", p);
    size_t n = strlen(rel);
    while (n && rel[n - 1] == '/') rel[--n] = 0;
    return GF_OK;
}

/* mkdir -p of rel's folders under root (fd), no link followed; *fd_out the
 * folder that holds the last component, *last its name. */
static gf_status walk_dirs(int root, char *rel, int make_last, int *fd_out, char **last)
{
    int fd = dup(root);
    if (fd < 0) return gf_errorf(GF_ERR_IO, "bundle: %s", strerror(errno));
    char *save = NULL, *part = strtok_r(rel, "/", &save);
    while (part) {
        char *next = strtok_r(NULL, "/", &save);
        if (!strcmp(part, ".")) { part = next; continue; }
        if (!next && !make_last) { *fd_out = fd; *last = part; return GF_OK; }
        if (mkdirat(fd, part, 0700) && errno != EEXIST) {
            close(fd);
            return gf_errorf(GF_ERR_IO, "bundle: cannot create folder %s: %s", part, strerror(errno));
        }
        int nfd = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        if (nfd < 0) return gf_errorf(GF_ERR_ARG, "bundle: \"%s\" is both a file and a folder", part);
        fd = nfd;
        part = next;
    }
    *fd_out = fd;
    *last = NULL;
    return GF_OK;
}

gf_status gf_bundle_unpack(const void *tar, size_t len, const char *parent, const gf_bundle_limits *lim,
                           char *dir, size_t cap, char **spec, size_t *spec_len)
{
    *spec = NULL;
    *spec_len = 0;
    dir[0] = 0;
    int64_t max_bytes = lim && lim->max_bytes > 0 ? lim->max_bytes : GF_BUNDLE_MAX_BYTES;
    int max_entries = lim && lim->max_entries > 0 ? lim->max_entries : GF_BUNDLE_MAX_ENTRIES;
    if (snprintf(dir, cap, "%s/.bundle-XXXXXX", parent) >= (int)cap) return gf_errorf(GF_ERR_ARG, "bundle: path too long");
    mkdir(parent, 0700);
    if (!mkdtemp(dir)) {
        int e = errno;
        dir[0] = 0;
        return gf_errorf(GF_ERR_IO, "bundle: cannot create a folder in %s: %s", parent, strerror(e));
    }
    int root = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct archive *a = archive_read_new();
    gf_status st = GF_OK;
    if (root < 0 || !a) { st = gf_errorf(GF_ERR_NOMEM, "bundle: cannot start reading"); goto done; }
    archive_read_support_format_tar(a);
    archive_read_support_filter_gzip(a);
    if (archive_read_open_memory(a, tar, len) != ARCHIVE_OK) {
        st = gf_errorf(GF_ERR_FORMAT, "bundle: not a tar archive: %s", archive_error_string(a));
        goto done;
    }
    int64_t total = 0;
    int entries = 0;
    char buf[65536];
    struct archive_entry *e;
    int r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        char s[256], rel[NAME_MAX_BYTES + 8];
        shown(name ? name : "", s, sizeof s);
        if (!name || !*name) { st = gf_errorf(GF_ERR_ARG, "bundle: an entry without a name"); goto done; }
        if (++entries > max_entries) {
            st = gf_errorf(GF_ERR_ARG, "bundle: more than %d entries", max_entries);
            goto done;
        }
        mode_t type = archive_entry_filetype(e);
        if (archive_entry_hardlink(e)) {
            st = gf_errorf(GF_ERR_ARG, "bundle: entry \"%s\": hard links are not allowed", s);
            goto done;
        }
        if (type == AE_IFLNK) { st = gf_errorf(GF_ERR_ARG, "bundle: entry \"%s\": symbolic links are not allowed", s); goto done; }
        if (type != AE_IFREG && type != AE_IFDIR) {
            st = gf_errorf(GF_ERR_ARG, "bundle: entry \"%s\": only regular files and folders are allowed (not devices, "
                           "FIFOs or sockets)", s);
            goto done;
        }
        if (entries == 1) {               /* job.json */
            const char *p = name;
            while (!strncmp(p, "./", 2)) p += 2;
            if (strcmp(p, "job.json") || type != AE_IFREG) {
                st = gf_errorf(GF_ERR_ARG, "bundle: the first entry must be job.json (the job spec), got \"%s\"", s);
                goto done;
            }
            if (archive_entry_size_is_set(e) && archive_entry_size(e) > GF_BUNDLE_SPEC_MAX) {
                st = gf_errorf(GF_ERR_ARG, "bundle: job.json is larger than %d bytes", GF_BUNDLE_SPEC_MAX);
                goto done;
            }
            size_t cap_spec = GF_BUNDLE_SPEC_MAX + 1, n = 0;
            char *js = malloc(cap_spec);
            if (!js) { st = gf_errorf(GF_ERR_NOMEM, "out of memory"); goto done; }
            ssize_t got;
            while ((got = archive_read_data(a, js + n, cap_spec - 1 - n)) > 0) {
                n += (size_t)got;
                if (n >= cap_spec - 1) break;
            }
            if (got < 0 || n > GF_BUNDLE_SPEC_MAX - 1) {
                free(js);
                st = got < 0 ? gf_errorf(GF_ERR_FORMAT, "bundle: job.json: %s", archive_error_string(a))
                             : gf_errorf(GF_ERR_ARG, "bundle: job.json is larger than %d bytes", GF_BUNDLE_SPEC_MAX);
                goto done;
            }
            js[n] = 0;
            *spec = js;
            *spec_len = n;
            continue;
        }
        if ((st = check_name(name, rel, sizeof rel))) goto done;
        if (!rel[0]) {
            if (type == AE_IFDIR) continue;      /* files/ itself */
            st = gf_errorf(GF_ERR_ARG, "bundle: entry \"%s\": files must be a folder", s);
            goto done;
        }
        int fd_dir = -1;
        char *last = NULL;
        if ((st = walk_dirs(root, rel, type == AE_IFDIR, &fd_dir, &last))) goto done;
        if (type == AE_IFDIR) { close(fd_dir); continue; }
        if (!last) {
            close(fd_dir);
            st = gf_errorf(GF_ERR_ARG, "bundle: entry \"%s\": not a file name", s);
            goto done;
        }
        mode_t mode = (archive_entry_perm(e) & 0100) ? 0700 : 0600;
        int fd = openat(fd_dir, last, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        int oe = errno;
        close(fd_dir);
        if (fd < 0) {
            st = oe == EEXIST ? gf_errorf(GF_ERR_ARG, "bundle: entry \"%s\": a duplicate", s)
                              : gf_errorf(GF_ERR_IO, "bundle: cannot create %s: %s", s, strerror(oe));
            goto done;
        }
        ssize_t got;
        while ((got = archive_read_data(a, buf, sizeof buf)) > 0) {
            total += got;
            if (total > max_bytes) {
                close(fd);
                st = gf_errorf(GF_ERR_ARG, "bundle: its files hold more than %lld bytes, the limit",
                               (long long)max_bytes);
                goto done;
            }
            for (ssize_t off = 0; off < got;) {
                ssize_t w = write(fd, buf + off, (size_t)(got - off));
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) {
                    int we = errno;
                    close(fd);
                    st = gf_errorf(GF_ERR_IO, "bundle: cannot write %s: %s", s, strerror(we));
                    goto done;
                }
                off += w;
            }
        }
        close(fd);
        if (got < 0) { st = gf_errorf(GF_ERR_FORMAT, "bundle: entry \"%s\": %s", s, archive_error_string(a)); goto done; }
    }
    if (r != ARCHIVE_EOF) {
        st = gf_errorf(GF_ERR_FORMAT, "bundle: corrupt tar archive: %s", archive_error_string(a));
        goto done;
    }
    if (!*spec) st = gf_errorf(GF_ERR_ARG, "bundle: empty; it must start with job.json (the job spec)");
done:
    if (a) archive_read_free(a);
    if (root >= 0) close(root);
    if (st) {
        free(*spec);
        *spec = NULL;
        *spec_len = 0;
        if (dir[0]) gf_bundle_remove(dir);
        dir[0] = 0;
    }
    return st;
}
