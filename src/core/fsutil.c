/* Atomic file writes and folder syncs (see fsutil.h). */
#include "core/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

gf_status gf_fs_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return gf_errorf(GF_ERR_IO, "cannot open directory %s to sync it: %s", dir, strerror(errno));
    gf_status st = GF_OK;
    if (fsync(fd) != 0 && errno != EINVAL)   /* some filesystems cannot sync dirs */
        st = gf_errorf(GF_ERR_IO, "cannot sync directory %s: %s", dir, strerror(errno));
    close(fd);
    return st;
}

gf_status gf_fs_sync_parent(const char *path)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return gf_errorf(GF_ERR_ARG, "path too long: %s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    return gf_fs_sync_dir(dir);
}

gf_status gf_fs_write_atomic(const char *path, const gf_fs_part *parts, int nparts, mode_t mode)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    if (n < 0 || n >= (int)sizeof tmp) return gf_errorf(GF_ERR_ARG, "path too long: %s", path);
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int fd = open(tmp, flags, mode);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)   /* left by a killed run with our pid */
        fd = open(tmp, flags, mode);
    if (fd < 0) return gf_errorf(GF_ERR_IO, "cannot write %s: cannot create %s: %s", path, tmp, strerror(errno));
    const char *step = NULL;
    int err = 0;
    for (int i = 0; i < nparts && !step; i++) {
        const char *p = parts[i].data;
        size_t len = parts[i].len;
        while (len > 0) {
            ssize_t w = write(fd, p, len);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) { step = "write"; err = w < 0 ? errno : ENOSPC; break; }
            p += w;
            len -= (size_t)w;
        }
    }
    if (!step && fsync(fd) != 0) { step = "fsync"; err = errno; }
    if (close(fd) != 0 && !step) { step = "close"; err = errno; }
    if (!step && rename(tmp, path) != 0) { step = "rename"; err = errno; }
    if (step) {
        unlink(tmp);
        return gf_errorf(GF_ERR_IO, "cannot write %s (%s of %s failed): %s", path, step, tmp,
                         strerror(err ? err : EIO));
    }
    return gf_fs_sync_parent(path);
}
