/* The readers' limits and the one way a data file is opened under them:
 * open first, then fstat the descriptor that will be read (no window
 * between a check on the path and the open), refusing anything that is not
 * a regular file or is larger than the file-size limit. */
#include "data/dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

gf_data_limits gf_data_limits_default(void)
{
    return (gf_data_limits){
        .max_file_bytes = GF_DATA_MAX_FILE_BYTES,
        .max_line_bytes = GF_DATA_MAX_LINE_BYTES,
        .max_columns = GF_DATA_MAX_COLUMNS,
        .max_rows = GF_DATA_MAX_ROWS,
        .max_inflated_bytes = GF_DATA_MAX_INFLATED_BYTES,
    };
}

static const char *file_kind(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISSOCK(m)) return "a socket";
    return "a special file";
}

/* name relative to dirfd (AT_FDCWD: a plain path); path names it in messages;
 * flags: O_NOFOLLOW or 0. */
static gf_status data_open_at(int dirfd, const char *name, const char *path, int flags, const gf_data_limits *lim,
                              int *fd_out, int64_t *size_out)
{
    *fd_out = -1;
    if (size_out) *size_out = 0;
    gf_data_limits def = gf_data_limits_default();
    if (!lim) lim = &def;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer before we can refuse it */
    int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | flags);
    if (fd < 0 && errno == ELOOP && (flags & O_NOFOLLOW))
        return gf_errorf(GF_ERR_IO, "%s: is a symbolic link, which is not followed here", path);
    if (fd < 0) return gf_errorf(GF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return gf_errorf(GF_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return gf_errorf(GF_ERR_IO, "%s: not a regular file (it is %s); data files must be regular files",
                         path, file_kind(sb.st_mode));
    }
    if ((int64_t)sb.st_size > lim->max_file_bytes) {
        close(fd);
        return gf_errorf(GF_ERR_FORMAT, "%s: %lld bytes is more than the file size limit of %lld bytes",
                         path, (long long)sb.st_size, (long long)lim->max_file_bytes);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        return gf_errorf(GF_ERR_IO, "%s: cannot set blocking mode: %s", path, strerror(e));
    }
    *fd_out = fd;
    if (size_out) *size_out = (int64_t)sb.st_size;
    return GF_OK;
}

gf_status gf_data_open(const char *path, const gf_data_limits *lim, int *fd_out, int64_t *size_out)
{
    return data_open_at(AT_FDCWD, path, path, 0, lim, fd_out, size_out);
}

gf_status gf_data_openat(int dirfd, const char *name, const char *path, const gf_data_limits *lim, int *fd_out,
                         int64_t *size_out)
{
    return data_open_at(dirfd, name, path, O_NOFOLLOW, lim, fd_out, size_out);
}
