/* train/metrics_file: the one writer and reader of metrics JSON lines.
 * Appended objects read back equal and in order with the offsets where
 * each line ends; a torn last line (a crash mid-write) is left unread and
 * flagged, and is read once finished; malformed, non-object and over-long
 * lines are skipped and counted; the byte and line limits stop at whole
 * lines (a byte limit below one line's is raised to it, so every read
 * makes progress) and the cursor resumes exactly there (reading in small steps gives
 * what one read gives); a callback's stop is honoured; the tail offset is
 * the first line start in the last bytes; the writer refuses non-objects
 * and over-long lines, and after a torn line starts a new one. */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "train/metrics_file.h"

typedef struct { json_t *got; json_t *ends; int stop_after; } sink;

static int collect(json_t *o, int64_t end, void *ctx)
{
    sink *s = ctx;
    json_array_append(s->got, o);
    json_array_append_new(s->ends, json_integer(end));
    return s->stop_after && (int)json_array_size(s->got) >= s->stop_after;
}

static void raw_append(const char *path, const char *bytes)
{
    FILE *f = fopen(path, "a");
    fputs(bytes, f);
    fclose(f);
}

static gf_status read_all(const char *path, gf_metrics_cursor *c, sink *s)
{
    int fd = open(path, O_RDONLY);
    gf_status st = gf_metrics_file_read(fd, c, collect, s);
    close(fd);
    return st;
}

static sink sink_new(void) { return (sink){ json_array(), json_array(), 0 }; }
static void sink_free(sink *s) { json_decref(s->got); json_decref(s->ends); }

int main(void)
{
    char dir[] = "/tmp/gf-test-metrics-file-XXXXXX", path[300];
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);

    /* round trip: three objects, equal and in order; ends are the line ends */
    json_t *want = json_array();
    for (int i = 0; i < 3; i++) {
        json_t *o = json_pack("{s:i,s:f,s:o,s:s}", "epoch", i + 1, "loss", 0.5 / (i + 1), "acc", json_null(), "tag", "x\"y");
        CHECK(gf_metrics_file_append(path, o, 0600, i == 1) == GF_OK);
        json_array_append_new(want, o);
    }
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    gf_metrics_cursor c = { 0, 1 << 20, 1000 };
    sink s = sink_new();
    CHECK(read_all(path, &c, &s) == GF_OK);
    CHECK(json_equal(s.got, want));
    CHECK(c.objects == 3 && c.malformed == 0 && !c.partial && !c.more);
    CHECK(c.offset == sb.st_size);
    {   /* each end is just after a '\n' in the file, the last one the file's size */
        FILE *f = fopen(path, "r");
        char text[4096];
        size_t n = fread(text, 1, sizeof text, f);
        fclose(f);
        int64_t ends[3], k = 0;
        for (size_t i = 0; i < n && k < 3; i++) if (text[i] == '\n') ends[k++] = (int64_t)i + 1;
        CHECK(k == 3);
        for (int i = 0; i < 3; i++) CHECK(json_integer_value(json_array_get(s.ends, i)) == ends[i]);
    }
    sink_free(&s);
    int64_t whole = (int64_t)sb.st_size;

    /* a torn last line: left unread and flagged; finished later, it is read from the cursor */
    raw_append(path, "{\"epoch\":4,\"lo");
    c = (gf_metrics_cursor){ 0, 1 << 20, 1000 };
    s = sink_new();
    CHECK(read_all(path, &c, &s) == GF_OK);
    CHECK(c.objects == 3 && c.partial == 1 && c.malformed == 0 && c.offset == whole);
    sink_free(&s);
    raw_append(path, "ss\":0.1}\n");
    s = sink_new();
    CHECK(read_all(path, &c, &s) == GF_OK);
    CHECK(c.objects == 1 && !c.partial && json_integer_value(json_object_get(json_array_get(s.got, 0), "epoch")) == 4);
    sink_free(&s);
    /* a last line without its newline that is a whole object is taken, unless
     * whole lines only are asked for (its writer may still be appending) */
    raw_append(path, "{\"epoch\":5}");
    gf_metrics_cursor w = c;
    w.whole_lines_only = 1;
    const int64_t at = c.offset;
    s = sink_new();
    CHECK(read_all(path, &w, &s) == GF_OK);
    CHECK(w.objects == 0 && w.partial == 1 && w.offset == at && json_array_size(s.got) == 0);
    sink_free(&s);
    s = sink_new();
    CHECK(read_all(path, &c, &s) == GF_OK);
    CHECK(c.objects == 1 && !c.partial && json_integer_value(json_object_get(json_array_get(s.got, 0), "epoch")) == 5);
    sink_free(&s);

    /* malformed lines: not JSON, an array, a number, an over-long object; blank lines are not counted */
    raw_append(path, "\nnot json at all\n[1,2]\n  \n42\n");
    char *big = malloc(GF_METRICS_LINE_MAX + 64);
    memset(big, ' ', GF_METRICS_LINE_MAX + 62);
    big[0] = '{'; big[GF_METRICS_LINE_MAX + 60] = '}'; big[GF_METRICS_LINE_MAX + 61] = '\n'; big[GF_METRICS_LINE_MAX + 62] = 0;
    raw_append(path, big);
    raw_append(path, "{\"epoch\":6}\n");
    s = sink_new();
    CHECK(read_all(path, &c, &s) == GF_OK);
    CHECK(c.objects == 1 && c.malformed == 4 && !c.partial);
    CHECK(json_integer_value(json_object_get(json_array_get(s.got, 0), "epoch")) == 6);
    sink_free(&s);
    stat(path, &sb);
    CHECK(c.offset == sb.st_size);

    /* the whole file at once: epochs 1..6 with 4 malformed lines */
    c = (gf_metrics_cursor){ 0, 1 << 20, 1000 };
    s = sink_new();
    CHECK(read_all(path, &c, &s) == GF_OK);
    CHECK(c.objects == 6 && c.malformed == 4);
    json_t *all = json_deep_copy(s.got);
    sink_free(&s);

    /* the line limit: 2 lines a step; stepping with the cursor gives the same objects */
    for (int step = 1; step <= 3; step++) {
        int64_t bytes = step == 3 ? 100 : 1 << 20;          /* step 3: a byte limit (raised to one line's) */
        c = (gf_metrics_cursor){ 0, bytes, step == 3 ? 1000 : step };
        s = sink_new();
        int reads = 0, bad = 0;
        for (;;) {
            int64_t before = c.offset;
            CHECK(read_all(path, &c, &s) == GF_OK);
            reads++;
            bad += (int)c.malformed;
            if (step < 3) CHECK(c.objects + c.malformed <= step);
            if (!c.more || reads > 10000) break;
            if (c.offset == before && step == 3) { CHECK(0); break; }   /* no progress */
        }
        CHECK(json_equal(s.got, all));
        CHECK(bad == 4);
        CHECK(reads >= 3);
        sink_free(&s);
    }
    /* a byte limit inside a line: nothing taken from it, the cursor stays at its start */
    int64_t big_start = whole + (int64_t)strlen("{\"epoch\":4,\"lo" "ss\":0.1}\n{\"epoch\":5}\nnot json at all\n[1,2]\n  \n42\n");
    c = (gf_metrics_cursor){ 0, GF_METRICS_LINE_MAX, 1000 };
    s = sink_new();
    CHECK(read_all(path, &c, &s) == GF_OK);
    CHECK(c.objects == 5 && c.malformed == 3 && c.offset == big_start && c.more == 1 && !c.partial);
    sink_free(&s);

    /* a callback's stop: after the second object, the cursor just after it */
    c = (gf_metrics_cursor){ 0, 1 << 20, 1000 };
    s = sink_new();
    s.stop_after = 2;
    CHECK(read_all(path, &c, &s) == GF_OK);
    CHECK(c.objects == 2 && c.more == 1 && c.offset == json_integer_value(json_array_get(s.ends, 1)));
    sink_free(&s);

    /* the tail: the first line start in the last N bytes */
    int fd = open(path, O_RDONLY);
    stat(path, &sb);
    CHECK(gf_metrics_file_tail(fd, sb.st_size + 5) == 0);
    CHECK(gf_metrics_file_tail(fd, 12) == sb.st_size - 12);         /* {"epoch":6}\n is 12 bytes: a line start */
    CHECK(gf_metrics_file_tail(fd, 13) == sb.st_size - 12);
    CHECK(gf_metrics_file_tail(fd, 5) == sb.st_size);
    close(fd);

    /* the writer after a torn line (a crash): the torn bytes stay a malformed line of their own */
    char torn[300];
    snprintf(torn, sizeof torn, "%s/torn.jsonl", dir);
    raw_append(torn, "{\"epoch\":1}\n{\"epoch\":2,\"tr");
    json_t *e3 = json_pack("{s:i}", "epoch", 3);
    CHECK(gf_metrics_file_append(torn, e3, 0600, 1) == GF_OK);
    c = (gf_metrics_cursor){ 0, 1 << 20, 1000 };
    s = sink_new();
    CHECK(read_all(torn, &c, &s) == GF_OK);
    CHECK(c.objects == 2 && c.malformed == 1 && !c.partial);
    CHECK(json_equal(json_array_get(s.got, 1), e3));
    sink_free(&s);
    json_decref(e3);
    unlink(torn);

    /* the writer refuses what the reader would skip */
    json_t *arr = json_array();
    CHECK(gf_metrics_file_append(path, arr, 0600, 0) == GF_ERR_ARG);
    json_t *huge = json_pack("{s:s}", "k", big + 1);
    CHECK(gf_metrics_file_append(path, huge, 0600, 0) == GF_ERR_ARG);
    CHECK(strstr(gf_last_error(), "bytes") != NULL);
    char nowhere[400];
    snprintf(nowhere, sizeof nowhere, "%s/no/such/dir/m.jsonl", dir);
    json_t *ok = json_pack("{s:i}", "a", 1);
    CHECK(gf_metrics_file_append(nowhere, ok, 0600, 0) == GF_ERR_IO);
    /* a bad descriptor is an I/O error, not a crash; its message names no file bytes */
    c = (gf_metrics_cursor){ 0, 100, 10 };
    CHECK(gf_metrics_file_read(-1, &c, NULL, NULL) == GF_ERR_IO);
    stat(path, &sb);
    CHECK(sb.st_size == whole + (int64_t)strlen("ss\":0.1}\n{\"epoch\":5}\nnot json at all\n[1,2]\n  \n42\n") +
                            (int64_t)strlen("{\"epoch\":4,\"lo") + (int64_t)strlen(big) + 12);

    json_decref(arr); json_decref(huge); json_decref(ok); json_decref(all); json_decref(want);
    free(big);
    unlink(path);
    rmdir(dir);
    return check_summary();
}
