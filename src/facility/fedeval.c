/* A federated job's held-out evaluation as a child process (fedeval.h). */
#include "facility/fedeval.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "facility/proc.h"

#define OUT_MAX 65536   /* bytes of the child's stdout read back (its last line is the JSON) */

/* The accuracy in the last line of the child's stdout. */
static gf_status read_accuracy(const char *path, double *acc)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return gf_errorf(GF_ERR_IO, "the evaluation left no output");
    char buf[OUT_MAX + 1];
    off_t end = lseek(fd, 0, SEEK_END);
    off_t from = end > OUT_MAX ? end - OUT_MAX : 0;
    ssize_t n = end < 0 ? -1 : pread(fd, buf, (size_t)(end - from), from);
    close(fd);
    if (n <= 0) return gf_errorf(GF_ERR_IO, "the evaluation left no output");
    buf[n] = 0;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
    char *line = strrchr(buf, '\n');
    line = line ? line + 1 : buf;
    json_t *o = json_loads(line, 0, NULL);
    json_t *a = o ? json_object_get(o, "test_accuracy") : NULL;
    gf_status st = GF_OK;
    if (!json_is_number(a) || !(json_number_value(a) >= 0 && json_number_value(a) <= 1))
        st = gf_errorf(GF_ERR_FORMAT, "the evaluation printed no accuracy");
    else *acc = json_number_value(a);
    json_decref(o);
    return st;
}

gf_status gf_fedeval_run(const gf_fedeval_request *r, double *accuracy)
{
    *accuracy = NAN;
    char threads[16];
    snprintf(threads, sizeof threads, "%d", r->threads > 0 ? r->threads : 1);
    const char *argv[] = { r->gf_path, "eval", "--model-file", r->model_file, "--dataset", r->data_spec,
                           "--split", r->train_split ? "train" : "test", "--threads", threads, "--json", NULL };
    if (unlink(r->out_path) && errno != ENOENT)
        return gf_errorf(GF_ERR_IO, "cannot replace the evaluation's output file: %s", strerror(errno));
    gf_proc_spec ps = { .argv = argv, .stdout_path = r->out_path, .stderr_path = NULL,
                        .memory_mb = r->memory_mb, .time_limit_s = r->time_limit_s, .grace_s = 1.0 };
    gf_proc *p = NULL;
    gf_status st = gf_proc_start(&ps, &p);
    if (st) return gf_errorf(st, "cannot start the evaluation process");
    int ended = 0;
    st = gf_proc_wait(p, -1, &ended);
    gf_proc_usage u = {0};
    if (!st && ended) st = gf_proc_usage_of(p, &u);
    gf_proc_free(p);
    if (st || !ended) return gf_errorf(GF_ERR_IO, "the evaluation process could not be waited for");
    if (u.timed_out) return gf_errorf(GF_ERR_IO, "the evaluation ran past its time limit of %g s", r->time_limit_s);
    if (u.signal) return gf_errorf(GF_ERR_IO, "the evaluation process was killed by signal %d", u.signal);
    if (u.exit_code)
        return gf_errorf(GF_ERR_IO, "the evaluation failed (exit status %d): the eval set cannot be read as this "
                         "model's input; the operator can check it with gf eval", u.exit_code);
    return read_accuracy(r->out_path, accuracy);
}
