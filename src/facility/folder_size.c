/* The disk space a folder tree takes (see folder_size.h). */
#include "facility/folder_size.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEPTH_MAX 256

/* Adds the tree under the open folder fd (consumed) to *sum; -1 when too deep. */
static int walk(int fd, int depth, int64_t stop_at, int64_t *sum)
{
    if (depth > DEPTH_MAX) { close(fd); return -1; }
    DIR *d = fdopendir(fd);
    if (!d) { close(fd); return 0; }
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d)) && !(stop_at > 0 && *sum > stop_at)) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW)) continue;   /* gone meanwhile */
        *sum += (int64_t)st.st_blocks * 512;
        if (!S_ISDIR(st.st_mode)) continue;
        int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0) rc = walk(sub, depth + 1, stop_at, sum);
    }
    closedir(d);
    return rc;
}

gf_status gf_folder_size(const char *path, int64_t stop_at, int64_t *bytes)
{
    *bytes = 0;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        int e = errno;
        if (fd >= 0) close(fd);
        return gf_errorf(GF_ERR_IO, "folder size: cannot open %s: %s", path, strerror(e));
    }
    *bytes = (int64_t)st.st_blocks * 512;
    if (walk(fd, 0, stop_at, bytes))
        return gf_errorf(GF_ERR_IO, "folder size: %s holds folders nested more than %d deep", path, DEPTH_MAX);
    return GF_OK;
}
