/* The routes of program jobs (facility/program.h): a job submitted with its bundle
 * (POST /v1/jobs/bundle, a tar stream, facility/bundle.h), its outputs (GET
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
#include "facility/bundle.h"
#include "service/program.h"
#include "train/metrics_file.h"

#define OUTPUTS_MAX      10000        /* files listed */
#define METRICS_MAX      2000         /* the lines in one status: the last ones, or the first after a cursor */
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

/* Metrics lines into a status: numbers-only records, at most METRICS_MAX,
 * the first ones after a cursor (forward) or the last ones (tail). */
typedef struct { json_t *arr; int forward; } metrics_take;

static int metrics_one(json_t *e, int64_t end, void *ctx)
{
    (void)end;
    metrics_take *t = ctx;
    json_t *rec = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(e, k, v)
        if (json_is_number(v) && strlen(k) <= 64) json_object_set(rec, k, v);
    json_array_append_new(t->arr, rec);
    if (!t->forward && json_array_size(t->arr) > METRICS_MAX) json_array_remove(t->arr, 0);
    return t->forward && json_array_size(t->arr) >= METRICS_MAX;
}

void co_program_status(gf_coordinator *c, const gf_store_job *job, int64_t after, json_t *out)
{
    json_t *arr = json_array();
    json_object_set_new(out, "metrics", arr);
    if (job->state == GF_STORE_JOB_QUEUED) return;
    char dir[PATH_MAX + 96];
    co_job_dir(c, job->id, dir, sizeof dir);
    int fd = gf_program_open_output(dir, "metrics.jsonl");
    if (fd < 0) return;
    struct stat sb;
    int64_t size = fstat(fd, &sb) ? 0 : (int64_t)sb.st_size;
    /* a cursor from an earlier answer: the start of a line within the file's
     * last METRICS_TAIL bytes. One that does not fit (the file rewritten) or
     * lies further back (a reader far behind) reads as none: the last lines. */
    char before = 0;
    metrics_take t = { arr, after >= 0 && after <= size && size - after <= METRICS_TAIL &&
                            (after == 0 || (pread(fd, &before, 1, (off_t)after - 1) == 1 && before == '\n')) };
    /* while the program runs, a line counts once its newline is written */
    gf_metrics_cursor cur = { t.forward ? after : gf_metrics_file_tail(fd, METRICS_TAIL), METRICS_TAIL, INT64_MAX,
                              job->state == GF_STORE_JOB_RUNNING };
    const int64_t start = cur.offset;
    gf_metrics_file_read(fd, &cur, metrics_one, &t);
    close(fd);
    json_object_set_new(out, "metrics_lines", json_integer(cur.objects));   /* of the part read */
    json_object_set_new(out, "metrics_from", json_integer(start));         /* where that part starts (bytes) */
    json_object_set_new(out, "metrics_next", json_integer(cur.offset));    /* ?metrics_after= for the lines after */
}

static int step_one(json_t *e, int64_t end, void *last)
{
    (void)end;
    json_t *s = json_object_get(e, "step");
    if (json_is_number(s)) { json_decref(*(json_t **)last); *(json_t **)last = json_incref(s); }
    return 0;
}

json_t *co_program_last_step(gf_coordinator *c, const gf_store_job *job)
{
    if (job->state == GF_STORE_JOB_QUEUED) return json_null();
    char dir[PATH_MAX + 96];
    co_job_dir(c, job->id, dir, sizeof dir);
    int fd = gf_program_open_output(dir, "metrics.jsonl");
    if (fd < 0) return json_null();
    json_t *last = NULL;   /* the last numeric "step" in the file's last STEP_WINDOW bytes */
    gf_metrics_cursor cur = { gf_metrics_file_tail(fd, STEP_WINDOW), STEP_WINDOW, INT64_MAX };
    gf_metrics_file_read(fd, &cur, step_one, &last);
    close(fd);
    return last ? last : json_null();
}
