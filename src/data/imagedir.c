/* The imagedir: dataset: a folder with one sub-folder per class of PNG or
 * JPEG images (data/imagedir.h). The walk never leaves DIR: DIR is opened
 * once, every entry below it is examined with fstatat(AT_SYMLINK_NOFOLLOW)
 * and opened with openat(O_NOFOLLOW) relative to its folder's descriptor,
 * so a symbolic link is refused, not followed, even if it appears between
 * the listing and the open. Limits: the number of image files (counted
 * while listing), the bytes of each file (gf_data_openat), the declared
 * pixels of each image (checked by the decoder before it allocates), and
 * the bytes of the decoded float dataset (checked before it is allocated).
 *
 * Pixels: 8-bit samples / 255 in (c, h, w) order. A colour image read as
 * gray is the BT.601 luma (0.299 R + 0.587 G + 0.114 B) / 255; a gray image
 * read as RGB repeats its one channel. With size=HxW an image of another
 * size is resized by gf_image_resize (area where an axis shrinks, bilinear
 * where it grows); without it every image must have the first image's size
 * (the first in class order, then file-name order). */
#include "data/imagedir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/genome.h"

gf_imagedir_limits gf_imagedir_limits_default(void)
{
    return (gf_imagedir_limits){
        .max_files = GF_IMAGEDIR_MAX_FILES,
        .max_file_bytes = GF_IMAGEDIR_MAX_FILE_BYTES,
        .max_pixels = GF_IMAGE_MAX_PIXELS,
        .max_total_bytes = GF_IMAGEDIR_MAX_TOTAL_BYTES,
    };
}

void gf_imagedir_classes_free(gf_imagedir_classes *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++) free(c->names[i]);
    free(c->names);
    memset(c, 0, sizeof *c);
}

typedef struct {
    char **v;
    int64_t n, cap;
} name_list;

static void names_free(name_list *l)
{
    for (int64_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int names_push(name_list *l, const char *s)
{
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->v, sizeof *v * (size_t)cap);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s))) return -1;
    l->n++;
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of the open folder dfd (shown in messages), sorted, without
 * names starting with '.'. want_dir: DIR's class folders; else a class
 * folder's image files, counted against *budget (files left to the limit). */
static gf_status list_dir(int dfd, const char *shown, int want_dir, int64_t *budget, int64_t max_files,
                          name_list *out)
{
    memset(out, 0, sizeof *out);
    int fd2 = dup(dfd);
    DIR *d = fd2 < 0 ? NULL : fdopendir(fd2);
    if (!d) {
        int e = errno;
        if (fd2 >= 0) close(fd2);
        return gf_errorf(GF_ERR_IO, "%s: cannot list the folder: %s", shown, strerror(e));
    }
    rewinddir(d);
    gf_status st = GF_OK;
    struct dirent *de;
    for (errno = 0; (de = readdir(d)); errno = 0) {
        const char *name = de->d_name;
        if (name[0] == '.') continue;
        struct stat sb;
        if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            st = gf_errorf(GF_ERR_IO, "%s/%s: cannot stat: %s", shown, name, strerror(errno));
            break;
        }
        if (S_ISLNK(sb.st_mode)) {
            st = gf_errorf(GF_ERR_IO, "%s/%s is a symbolic link: image folders may not hold symbolic links "
                           "(they could lead outside the folder)", shown, name);
            break;
        }
        if (want_dir && !S_ISDIR(sb.st_mode)) {
            st = gf_errorf(GF_ERR_FORMAT, "%s/%s is not a folder: an image folder holds one sub-folder per class "
                           "and nothing else", shown, name);
            break;
        }
        if (!want_dir && S_ISDIR(sb.st_mode)) {
            st = gf_errorf(GF_ERR_FORMAT, "%s/%s is a folder inside a class folder: a class folder holds only "
                           "image files", shown, name);
            break;
        }
        if (!want_dir && !S_ISREG(sb.st_mode)) {
            st = gf_errorf(GF_ERR_FORMAT, "%s/%s is not a regular file", shown, name);
            break;
        }
        if (!want_dir && --*budget < 0) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: more than %lld image files, the limit on the files of an image "
                           "folder", shown, (long long)max_files);
            break;
        }
        if (names_push(out, name)) {
            st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory listing the folder", shown);
            break;
        }
    }
    if (!st && errno) st = gf_errorf(GF_ERR_IO, "%s: cannot list the folder: %s", shown, strerror(errno));
    closedir(d);
    if (st) names_free(out);
    else if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof *out->v, name_cmp);
    return st;
}

/* Reads the whole regular file name inside cfd (shown as path). */
static gf_status read_file(int cfd, const char *name, const char *path, const gf_imagedir_limits *lim,
                           uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    gf_data_limits dl = gf_data_limits_default();
    dl.max_file_bytes = lim->max_file_bytes;
    int fd;
    int64_t size;
    gf_status st = gf_data_openat(cfd, name, path, &dl, &fd, &size);
    if (st) return st;
    if (size == 0) {
        close(fd);
        return gf_errorf(GF_ERR_FORMAT, "%s: an empty file, not an image", path);
    }
    uint8_t *b = malloc((size_t)size);
    if (!b) {
        close(fd);
        return gf_errorf(GF_ERR_NOMEM, "%s: out of memory for %lld bytes", path, (long long)size);
    }
    size_t got = 0;
    while (got < (size_t)size) {
        ssize_t r = read(fd, b + got, (size_t)size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            close(fd);
            free(b);
            return gf_errorf(GF_ERR_IO, "%s: read failed: %s", path, r < 0 ? strerror(e) : "the file shrank");
        }
        got += (size_t)r;
    }
    close(fd);
    *buf = b;
    *len = got;
    return GF_OK;
}

/* im (h, w, im->c) 8-bit -> dst (c, h, w) floats in [0, 1]. */
static void to_planes(const gf_image *im, int c, float *dst)
{
    int64_t hw = (int64_t)im->h * im->w;
    const uint8_t *p = im->px;
    for (int64_t i = 0; i < hw; i++, p += im->c) {
        if (c == im->c) {
            for (int ch = 0; ch < c; ch++) dst[ch * hw + i] = p[ch] / 255.0f;
        } else if (c == 1) {
            dst[i] = (0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]) / 255.0f;
        } else {
            for (int ch = 0; ch < c; ch++) dst[ch * hw + i] = p[0] / 255.0f;
        }
    }
}

/* Decodes one file into sample slot x (dim floats), fixing h, w, c and
 * allocating *out on the first image (then n and the limits are known). */
static gf_status load_one(int cfd, const char *name, const char *path, const gf_imagedir_opts *o,
                          const gf_imagedir_limits *lim, int64_t n, int64_t i, gf_dataset *out)
{
    uint8_t *buf;
    size_t len;
    gf_status st = read_file(cfd, name, path, lim, &buf, &len);
    if (st) return st;
    gf_image im;
    st = gf_image_decode(buf, len, path, lim->max_pixels, &im);
    free(buf);
    if (st) return st;
    if (i == 0) {
        out->h = o->h > 0 ? o->h : im.h;
        out->w = o->h > 0 ? o->w : im.w;
        out->c = o->channels ? o->channels : im.c;
        out->dim = (int64_t)out->c * out->h * out->w;
        double bytes = (double)n * (double)out->dim * sizeof(float);
        if (bytes > (double)lim->max_total_bytes) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: %lld images of %dx%dx%d need %.0f bytes as floats, more than the "
                           "limit of %lld bytes (give a smaller size=HxW)", path, (long long)n, out->c, out->h,
                           out->w, bytes, (long long)lim->max_total_bytes);
            goto done;
        }
        out->x = malloc(sizeof *out->x * (size_t)(n * out->dim));   /* (n, c, h, w) */
        out->y = malloc(sizeof *out->y * (size_t)n);                /* (n) */
        if (!out->x || !out->y) {
            st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory for %lld images", path, (long long)n);
            goto done;
        }
    }
    if (!o->channels && out->c == 1 && im.c == 3) {
        st = gf_errorf(GF_ERR_FORMAT, "%s is in colour but the first image is grayscale: add ,rgb (or ,gray) to "
                       "the dataset spec", path);
        goto done;
    }
    float *slot = out->x + i * out->dim;
    if (im.h == out->h && im.w == out->w) {
        to_planes(&im, out->c, slot);
    } else if (!o->resize) {
        st = gf_errorf(GF_ERR_FORMAT, "%s is %dx%d (height x width) but the images must be %dx%d (%s); add "
                       ",size=HxW to the dataset spec to resize every image", path, im.h, im.w, out->h, out->w,
                       o->h > 0 ? "the training images' size" : "the first image's size");
    } else {
        float *tmp = malloc(sizeof *tmp * (size_t)out->c * (size_t)im.h * (size_t)im.w);   /* (c, ih, iw) */
        if (!tmp) st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory for %dx%d pixels", path, im.h, im.w);
        else {
            to_planes(&im, out->c, tmp);
            st = gf_image_resize(tmp, out->c, im.h, im.w, slot, out->h, out->w);
            free(tmp);
        }
    }
done:
    gf_image_free(&im);
    return st;
}

static int class_id(const gf_imagedir_classes *known, const char *name)
{
    for (int k = 0; k < known->n; k++)
        if (strcmp(known->names[k], name) == 0) return k;
    return -1;
}

gf_status gf_imagedir_load(const char *dir, const gf_imagedir_opts *opts, const gf_imagedir_limits *lim,
                           const gf_imagedir_classes *known, gf_imagedir_classes *found, gf_dataset *out)
{
    memset(out, 0, sizeof *out);
    if (found) memset(found, 0, sizeof *found);
    gf_imagedir_limits def = gf_imagedir_limits_default();
    if (!lim) lim = &def;
    gf_imagedir_opts no_opts = {0};
    if (!opts) opts = &no_opts;

    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return gf_errorf(GF_ERR_IO, "%s: cannot open the image folder: %s", dir, strerror(errno));
    name_list classes = {0};
    name_list *files = NULL;     /* (classes.n) */
    int *ids = NULL;             /* (classes.n) */
    char *path = NULL;
    int64_t budget = lim->max_files, n = 0, n_classes = 0;
    gf_status st = list_dir(dfd, dir, 1, &budget, lim->max_files, &classes);
    if (st) goto out;
    if (classes.n == 0) {
        st = gf_errorf(GF_ERR_FORMAT, "%s holds no class folders: an image folder holds one sub-folder per class, "
                       "each holding that class's PNG or JPEG images", dir);
        goto out;
    }
    if (classes.n > 1000000) {
        st = gf_errorf(GF_ERR_FORMAT, "%s: more than 1000000 class folders", dir);
        goto out;
    }
    n_classes = classes.n;
    files = calloc((size_t)classes.n, sizeof *files);
    ids = calloc((size_t)classes.n, sizeof *ids);
    size_t path_cap = strlen(dir) + 2 * 256 + 8;
    path = malloc(path_cap);
    if (!files || !ids || !path) {
        st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory", dir);
        goto out;
    }
    for (int64_t k = 0; k < classes.n; k++) {
        const char *cname = classes.v[k];
        snprintf(path, path_cap, "%s/%s", dir, cname);
        ids[k] = known ? class_id(known, cname) : (int)k;
        if (ids[k] < 0) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: no training class is named so (the training folder has %d class "
                           "folders)", path, known->n);
            goto out;
        }
        int cfd = openat(dfd, cname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (cfd < 0) {
            st = gf_errorf(GF_ERR_IO, "%s: cannot open the class folder: %s", path, strerror(errno));
            goto out;
        }
        st = list_dir(cfd, path, 0, &budget, lim->max_files, &files[k]);
        close(cfd);
        if (st) goto out;
        if (files[k].n == 0) {
            st = gf_errorf(GF_ERR_FORMAT, "%s: an empty class folder (no images)", path);
            goto out;
        }
        n += files[k].n;
    }

    int64_t i = 0;
    for (int64_t k = 0; k < classes.n && !st; k++) {
        const char *cname = classes.v[k];
        int cfd = openat(dfd, cname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (cfd < 0) {
            st = gf_errorf(GF_ERR_IO, "%s/%s: cannot open the class folder: %s", dir, cname, strerror(errno));
            break;
        }
        for (int64_t j = 0; j < files[k].n && !st; j++, i++) {
            snprintf(path, path_cap, "%s/%s/%s", dir, cname, files[k].v[j]);
            st = load_one(cfd, files[k].v[j], path, opts, lim, n, i, out);
            if (!st) out->y[i] = ids[k];
        }
        close(cfd);
    }
    if (st) goto out;
    out->n = n;
    out->num_classes = known ? known->n : (int)classes.n;
    if (found) {
        found->n = (int)classes.n;
        found->names = classes.v;
        classes.v = NULL;
        classes.n = 0;
    }
out:
    if (st) gf_dataset_free(out);
    if (files)
        for (int64_t k = 0; k < n_classes; k++) names_free(&files[k]);
    free(files);
    free(ids);
    free(path);
    names_free(&classes);
    close(dfd);
    return st;
}

/* size=HxW: each side 1..65535 */
static int parse_size(const char *s, int *h, int *w)
{
    char *end;
    errno = 0;
    long a = strtol(s, &end, 10);
    if (errno || end == s || *end != 'x' || a < 1 || a > 65535) return -1;
    const char *t = end + 1;
    long b = strtol(t, &end, 10);
    if (errno || end == t || *end || b < 1 || b > 65535) return -1;
    *h = (int)a;
    *w = (int)b;
    return 0;
}

/* The class mapping for gf_dataset_note(), "..." when it does not fit. */
static void set_note(const char *dir, const gf_dataset *train, const gf_dataset *test,
                     const gf_imagedir_classes *cl)
{
    char note[512];
    int len = snprintf(note, sizeof note, "imagedir:%s: %lld train and %lld test images of %dx%dx%d (c x h x w), "
                       "%d classes:", dir, (long long)train->n, (long long)test->n, train->c, train->h, train->w,
                       cl->n);
    for (int k = 0; k < cl->n && len < (int)sizeof note; k++) {
        char one[96];
        snprintf(one, sizeof one, " %d=%s", k, cl->names[k]);
        for (char *p = one; *p; p++)
            if ((unsigned char)*p < 32 || (unsigned char)*p == 127) *p = '?';
        if (len + (int)strlen(one) > (int)sizeof note - 5) {
            snprintf(note + len, sizeof note - (size_t)len, " ...");
            break;
        }
        len += snprintf(note + len, sizeof note - (size_t)len, "%s", one);
    }
    gf_dataset_note_set(note);
}

gf_status gf_imagedir_open(const char *spec, const char *args, gf_dataset *train, gf_dataset *test)
{
    char *copy = strdup(args);
    if (!copy) return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", spec);
    char *dir = copy, *test_dir = NULL, *frac_text = NULL;
    char *comma = strchr(copy, ',');
    if (comma) *comma = '\0';
    gf_imagedir_opts o = {0};
    gf_imagedir_classes cl = {0};
    gf_dataset all = {0};
    gf_status st = GF_OK;
    for (char *opt = comma ? comma + 1 : NULL; opt; ) {
        char *next = strchr(opt, ',');
        if (next) *next++ = '\0';
        if (strncmp(opt, "size=", 5) == 0 && !o.resize) {
            if (parse_size(opt + 5, &o.h, &o.w)) {
                st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': size must be HxW, each 1..65535 (e.g. size=64x64)",
                               spec);
                goto done;
            }
            o.resize = 1;
        } else if (strcmp(opt, "gray") == 0 && !o.channels) o.channels = 1;
        else if (strcmp(opt, "rgb") == 0 && !o.channels) o.channels = 3;
        else if (strncmp(opt, "test=", 5) == 0 && opt[5] && !test_dir) test_dir = opt + 5;
        else if (strncmp(opt, "test_fraction=", 14) == 0 && opt[14] && !frac_text) frac_text = opt + 14;
        else {
            st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': unknown, repeated or empty option '%s' (imagedir takes "
                           "size=HxW, gray or rgb, and test=DIR2 or test_fraction=F)", spec, opt);
            goto done;
        }
        opt = next;
    }
    if (!*dir) {
        st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': no folder; imagedir:DIR[,size=HxW][,gray|rgb]"
                       "[,test=DIR2|,test_fraction=F]", spec);
        goto done;
    }
    if ((int64_t)o.h * o.w > GF_IMAGE_MAX_PIXELS) {
        st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': size=%dx%d is more than %lld pixels", spec, o.h, o.w,
                       (long long)GF_IMAGE_MAX_PIXELS);
        goto done;
    }
    double frac = 0.0;
    if (frac_text) {
        char *end;
        errno = 0;
        frac = strtod(frac_text, &end);
        if (test_dir) {
            st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': give test=DIR2 or test_fraction=F, not both", spec);
            goto done;
        }
        if (errno || end == frac_text || *end || !(frac > 0.0 && frac < 1.0)) {
            st = gf_errorf(GF_ERR_ARG, "dataset spec '%s': test_fraction must be a number in (0, 1), got \"%s\"",
                           spec, frac_text);
            goto done;
        }
    }

    if (frac_text) {
        st = gf_imagedir_load(dir, &o, NULL, NULL, &cl, &all);
        if (!st) st = gf_dataset_split_fraction(&all, frac, 0, dir, train, test);
    } else {
        st = gf_imagedir_load(dir, &o, NULL, NULL, &cl, train);
        if (!st && test_dir) {
            /* the test folder: the training classes, size and channels */
            gf_imagedir_opts t = { .h = train->h, .w = train->w, .resize = o.resize, .channels = train->c };
            st = gf_imagedir_load(test_dir, &t, NULL, &cl, NULL, test);
        } else if (!st) {
            *test = (gf_dataset){ .c = train->c, .h = train->h, .w = train->w, .dim = train->dim,
                                  .num_classes = train->num_classes };
        }
    }
    if (!st) set_note(dir, train, test, &cl);
done:
    gf_dataset_free(&all);
    gf_imagedir_classes_free(&cl);
    free(copy);
    return st;
}
