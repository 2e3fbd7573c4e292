/* The routes of program jobs (program.h): a job submitted with its bundle
 * (POST /v1/jobs/bundle, a tar stream, bundle.h), its outputs (GET
 * /v1/jobs/ID/outputs lists the regular files under $GF_OUTPUT, GET
 * /v1/jobs/ID/outputs/NAME sends one), and the metrics lines it appended to
 * $GF_METRICS, in its status (the last ones, or those after a byte cursor,
 * ?metrics_after=, for a page that polls), and the last "step" of those lines
 * for the job list. Everything under the job's work folder was
 * written by the tenant's program: it is read without following links. */
#include "service/coordinator_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "service/bundle.h"
#include "service/program.h"

#define OUTPUTS_MAX      10000        /* files listed */
#define METRICS_MAX      2000         /* the lines in one status: the last ones, or the first after a cursor */
#define METRICS_LINE_MAX 4096
#define STEP_WINDOW      (16 << 10)   /* bytes at the file's end searched for the last step (job list) */
#define METRICS_TAIL     ((int64_t)4 << 20)   /* bytes of the file read for one status: its end, or after a cursor */

gf_status co_program_submit_bundle(gf_coordinator *c, const gf_http_request *req, const co_principal *who,
                                   gf_http_response *resp)
{
    char parent[PATH_MAX + 16], dir[PATH_MAX + 64], *spec = NULL;
    size_t n = 0;
    snprintf(parent, sizeof parent, "%.*s/jobs", PATH_MAX - 1, c->data_dir);
    gf_bundle_limits lim = { .max_bytes = c->cfg.max_bundle_bytes };
    gf_status st = gf_bundle_unpack(req->body, req->body_len, parent, &lim, dir, sizeof dir, &spec, &n);
    if (st == GF_ERR_ARG || st == GF_ERR_FORMAT) return co_refuse(resp, 400, st, "%s", gf_last_error());
    if (st) return st;
    st = co_submit_spec(c, spec, n, dir, who, resp);
    free(spec);
    gf_bundle_remove(dir);               /* a bundle no job took (moved away otherwise) */
    return st;
}

/* Regular files under the folder fd, as "PREFIXname" with their sizes. */
static void list_files(int fd, const char *prefix, json_t *arr, int depth)
{
    DIR *d = fdopendir(fd);
    if (!d) { close(fd); return; }
    struct dirent *e;
    while ((e = readdir(d)) && json_array_size(arr) < OUTPUTS_MAX) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW)) continue;
        char name[PATH_MAX];
        if (snprintf(name, sizeof name, "%s%s", prefix, e->d_name) >= (int)sizeof name) continue;
        if (S_ISREG(st.st_mode)) {
            json_array_append_new(arr, json_pack("{s:s,s:I}", "name", name, "size", (json_int_t)st.st_size));
        } else if (S_ISDIR(st.st_mode) && depth < 32) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) continue;
            strcat(name, "/");
            list_files(sub, name, arr, depth + 1);
        }
    }
    closedir(d);
}

gf_status co_program_outputs(gf_coordinator *c, const co_principal *who, int64_t id, const char *rest,
                             gf_http_response *resp)
{
    gf_store_job job;
    gf_status st = co_job_for(c, who, id, &job, resp);
    if (st) return st;
    int program = !strcmp(job.kind, "program");
    gf_store_job_free(&job);
    if (!program)
        return co_refuse(resp, 404, GF_ERR_ARG, "job %lld is not a program job: it has no outputs folder "
                         "(GET /v1/jobs/%lld/model)", (long long)id, (long long)id);
    char dir[PATH_MAX + 96];
    co_job_dir(c, id, dir, sizeof dir);
    if (!strcmp(rest, "outputs")) {
        json_t *arr = json_array();
        char work[PATH_MAX + 128];
        snprintf(work, sizeof work, "%s/%s", dir, GF_PROGRAM_WORK);
        int wfd = open(work, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int ofd = wfd >= 0 ? openat(wfd, "output", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
        if (wfd >= 0) close(wfd);
        if (ofd >= 0) list_files(ofd, "", arr, 0);
        return co_reply(resp, 200, json_pack("{s:I,s:o}", "id", (json_int_t)id, "files", arr));
    }
    const char *name = rest + strlen("outputs/");
    char rel[PATH_MAX];
    if (!*name || snprintf(rel, sizeof rel, "output/%s", name) >= (int)sizeof rel)
        return co_refuse(resp, 400, GF_ERR_ARG, "outputs: name a file under the job's output folder");
    int fd = gf_program_open_output(dir, rel);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            return co_refuse(resp, 404, GF_ERR_ARG, "job %lld has no output \"%.200s\"", (long long)id, name);
        if (e == ELOOP)
            return co_refuse(resp, 400, GF_ERR_ARG, "output \"%.200s\": a link; outputs are regular files", name);
        if (e == EINVAL)
            return co_refuse(resp, 400, GF_ERR_ARG, "output \"%.200s\": names are paths under the output folder, "
                             "without \".\" or \"..\"", name);
        return co_refuse(resp, 400, GF_ERR_ARG, "output \"%.200s\": not a regular file", name);
    }
    struct stat sb;
    fstat(fd, &sb);
    resp->status = 200;
    resp->content_type = "application/octet-stream";
    resp->has_fd = 1;                    /* streamed by the server, which closes fd */
    resp->fd = fd;
    resp->fd_offset = 0;
    resp->len = (size_t)sb.st_size;
    return GF_OK;
}

/* Reads the complete lines of f from byte `start` on (a line start) as
 * numbers-only records into arr: at most METRICS_MAX of them, the first ones
 * (forward) or the last ones (tail), and at most METRICS_TAIL bytes. A line
 * without its '\n' counts only once the program has ended (`ended`); until
 * then it may still be being written. Lines over METRICS_LINE_MAX bytes and
 * lines that are not JSON objects are skipped. Returns the byte offset just
 * after the last line taken or skipped (where reading goes on); *lines: the
 * records read. */
static int64_t metrics_read(FILE *f, int64_t start, int forward, int ended, json_t *arr, int64_t *lines)
{
    char line[METRICS_LINE_MAX];
    int64_t pos = start, next = start;
    int too_long = 0;
    *lines = 0;
    while ((!forward || pos - start < METRICS_TAIL) && fgets(line, sizeof line, f)) {
        int64_t n = (int64_t)ftello(f) - pos;     /* the bytes read: a NUL in a line does not end it */
        if (n <= 0 || n >= (int64_t)sizeof line) break;
        pos += n;
        int complete = line[n - 1] == '\n';
        if (!complete && !feof(f)) { too_long = 1; continue; }   /* a chunk of an over-long line */
        if (!complete && !ended) break;                         /* still being written */
        if (too_long) { too_long = 0; next = pos; continue; }    /* the last chunk of one */
        next = pos;
        json_t *e = json_loadb(line, (size_t)n, 0, NULL);
        if (!json_is_object(e)) { json_decref(e); continue; }    /* not a record */
        json_t *rec = json_object();                               /* numbers only */
        const char *k;
        json_t *v;
        json_object_foreach(e, k, v)
            if (json_is_number(v) && strlen(k) <= 64) json_object_set(rec, k, v);
        json_decref(e);
        (*lines)++;
        json_array_append_new(arr, rec);
        if (forward && json_array_size(arr) >= METRICS_MAX) break;
        if (!forward && json_array_size(arr) > METRICS_MAX) json_array_remove(arr, 0);
    }
    return next;
}

void co_program_status(gf_coordinator *c, const gf_store_job *job, int64_t after, json_t *out)
{
    json_t *arr = json_array();
    json_object_set_new(out, "metrics", arr);
    if (job->state == GF_STORE_JOB_QUEUED) return;
    char dir[PATH_MAX + 96];
    co_job_dir(c, job->id, dir, sizeof dir);
    int fd = gf_program_open_output(dir, "metrics.jsonl");
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!f) { if (fd >= 0) close(fd); return; }
    struct stat sb;
    int64_t size = fstat(fileno(f), &sb) ? 0 : (int64_t)sb.st_size, start = 0;
    /* a cursor from an earlier answer: the start of a line within the file's
     * last METRICS_TAIL bytes. One that does not fit (the file rewritten) or
     * lies further back (a reader far behind) reads as none: the last lines. */
    int forward = 0;
    if (after >= 0 && after <= size && size - after <= METRICS_TAIL &&
        (after == 0 || (!fseeko(f, (off_t)after - 1, SEEK_SET) && fgetc(f) == '\n'))) {
        forward = 1;
        start = after;
    }
    if (!forward && size > METRICS_TAIL) {           /* a huge file: its last lines only */
        fseeko(f, (off_t)(size - METRICS_TAIL), SEEK_SET);
        int ch;
        start = size - METRICS_TAIL;
        while ((ch = fgetc(f)) != EOF) { start++; if (ch == '\n') break; }
    } else {
        fseeko(f, (off_t)start, SEEK_SET);
    }
    int ended = job->state != GF_STORE_JOB_RUNNING;
    int64_t lines = 0, next = metrics_read(f, start, forward, ended, arr, &lines);
    fclose(f);
    json_object_set_new(out, "metrics_lines", json_integer(lines));   /* of the part read */
    json_object_set_new(out, "metrics_from", json_integer(start));    /* where that part starts (bytes) */
    json_object_set_new(out, "metrics_next", json_integer(next));     /* ?metrics_after= for the lines after */
}

json_t *co_program_last_step(gf_coordinator *c, const gf_store_job *job)
{
    if (job->state == GF_STORE_JOB_QUEUED) return json_null();
    char dir[PATH_MAX + 96];
    co_job_dir(c, job->id, dir, sizeof dir);
    int fd = gf_program_open_output(dir, "metrics.jsonl");
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb)) { if (fd >= 0) close(fd); return json_null(); }
    char *buf = malloc(STEP_WINDOW + 1);             /* the file's end: its last whole lines */
    off_t from = sb.st_size > (off_t)STEP_WINDOW ? sb.st_size - (off_t)STEP_WINDOW : 0;
    ssize_t n = buf ? pread(fd, buf, (size_t)(sb.st_size - from), from) : -1;
    close(fd);
    if (n <= 0) { free(buf); return json_null(); }
    buf[n] = 0;
    /* the last line that parses and has a numeric "step", back from the end */
    for (ssize_t end = n; end > 0;) {
        ssize_t b = end - 1;
        while (b > 0 && buf[b - 1] != '\n') b--;
        if (b == 0 && from > 0) break;               /* cut off by the window */
        json_t *e = json_loadb(buf + b, (size_t)(end - b), 0, NULL);
        json_t *s = json_object_get(e, "step");
        if (json_is_number(s)) { json_incref(s); json_decref(e); free(buf); return s; }
        json_decref(e);
        end = b;
    }
    free(buf);
    return json_null();
}
