/* DICOM series through Debian's dcm2niix: a DICOM file or a folder of one
 * series is converted into a private temporary folder (dcm2niix run through
 * gf_spawn, no shell, its output to a log that is never quoted: it may name
 * patient data), the single NIfTI volume it writes is read by the NIfTI
 * reader (the messages name the DICOM source), and the folder is removed.
 * Decoding DICOM (transfer syntaxes, Rescale Slope/Intercept into
 * scl_slope/scl_inter, slice ordering) is dcm2niix's; the orientation is the
 * one dcm2niix gives NIfTI volumes, so rows run bottom to top relative to
 * the DICOM image (row r of the DICOM image is y = rows - 1 - r), the same
 * as a site that converted its DICOM to NIfTI with dcm2niix would have. */
#include "data/medimg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/spawn.h"

#define DCM2NIIX "/usr/bin/dcm2niix"
#define DCM_MEMORY_MB 8192        /* address-space limit of the converter */
#define DCM_TIMEOUT_S 600         /* the longest one conversion may take */

/* Removes the converter's folder: the files in dir/out, dir/out, dir/log, dir. */
static void remove_work(const char *dir)
{
    char p[512];
    snprintf(p, sizeof p, "%s/out", dir);
    DIR *d = opendir(p);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char f[1024];
            snprintf(f, sizeof f, "%s/%s", p, e->d_name);
            unlink(f);
        }
        closedir(d);
    }
    rmdir(p);
    snprintf(p, sizeof p, "%s/log", dir);
    unlink(p);
    rmdir(dir);
}

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

gf_status gf_dicom_read(const char *src, const gf_data_limits *lim, gf_volume *out)
{
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(src, &sb) != 0) return gf_errorf(GF_ERR_IO, "%s: cannot open: %s", src, strerror(errno));
    int is_dir = S_ISDIR(sb.st_mode);
    if (!is_dir && !S_ISREG(sb.st_mode))
        return gf_errorf(GF_ERR_IO, "%s: neither a DICOM file nor a folder of one series", src);
    if (access(DCM2NIIX, X_OK) != 0)
        return gf_errorf(GF_ERR_IO, "%s: reading DICOM needs Debian's dcm2niix (%s is missing)", src, DCM2NIIX);

    const char *tmp = getenv("TMPDIR");
    char dir[256], outdir[300], logpath[300];
    snprintf(dir, sizeof dir, "%s/gf_dicom_XXXXXX", tmp && *tmp && strlen(tmp) < 200 ? tmp : "/tmp");
    if (!mkdtemp(dir)) return gf_errorf(GF_ERR_IO, "%s: cannot make a temporary folder: %s", src, strerror(errno));
    snprintf(outdir, sizeof outdir, "%s/out", dir);
    snprintf(logpath, sizeof logpath, "%s/log", dir);
    gf_status st = GF_OK;
    int logfd = -1;
    char *buf = NULL;
    if (mkdir(outdir, 0700) != 0 ||
        (logfd = open(logpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        st = gf_errorf(GF_ERR_IO, "%s: cannot prepare the temporary folder: %s", src, strerror(errno));
        goto done;
    }
    /* -b n: no BIDS sidecar; -z n: plain .nii; -l o: values as stored;
     * a file: -s y (that file alone); a folder: -d 0 (not its subfolders) */
    char *argv[] = {"dcm2niix", "-b", "n", "-z", "n", "-l", "o", "-f", "gfvol", "-o", outdir,
                    is_dir ? "-d" : "-s", is_dir ? "0" : "y", (char *)src, NULL};
    gf_spawn_spec sp = { .path = DCM2NIIX, .argv = argv, .fd_in = -1, .fd_out = logfd, .fd_err = logfd,
                         .memory_mb = DCM_MEMORY_MB };
    pid_t pid;
    if ((st = gf_spawn(&sp, &pid, NULL))) goto done;
    /* wait, at most DCM_TIMEOUT_S: a file that makes the converter hang
     * must not hang the reader */
    int ws = 0, timed_out = 0;
    struct timespec t0, now, nap = { 0, 5 * 1000 * 1000 };
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t r = waitpid(pid, &ws, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (!timed_out && now.tv_sec - t0.tv_sec > DCM_TIMEOUT_S) {
            kill(pid, SIGKILL);
            timed_out = 1;
        }
        nanosleep(&nap, NULL);
    }
    if (timed_out) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: dcm2niix did not finish converting it within %d s", src, DCM_TIMEOUT_S);
        goto done;
    }
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: dcm2niix could not convert it (%s %d)", src,
                       WIFEXITED(ws) ? "exit status" : "signal", WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
        goto done;
    }
    /* exactly one volume */
    DIR *d = opendir(outdir);
    if (!d) { st = gf_errorf(GF_ERR_IO, "%s: cannot list the converted files: %s", src, strerror(errno)); goto done; }
    int count = 0;
    char found[600] = "";   /* outdir, "/", a file name */
    struct dirent *e;
    while ((e = readdir(d)))
        if (ends_with(e->d_name, ".nii")) {
            if (!count) snprintf(found, sizeof found, "%s/%s", outdir, e->d_name);
            count++;
        }
    closedir(d);
    if (count == 0) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: no DICOM image that dcm2niix can convert", src);
        goto done;
    }
    if (count > 1) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: holds %d series or image stacks; one sample is one series (put each "
                       "series in a folder of its own)", src, count);
        goto done;
    }
    int64_t len = 0;
    if ((st = gf_data_read_all(found, lim, &buf, &len))) goto done;
    st = gf_nifti_decode(buf, len, src, out);
done:
    free(buf);
    if (logfd >= 0) close(logfd);
    remove_work(dir);
    return st;
}
