/* The files a registered dataset reads (dataset_files.h): its formats, what
 * a path is, its canonical form, its reader options' files, and the checks,
 * at registration and at every resolution, that nothing was swapped for a
 * link out of the registered place or for a special file. */
#include "data/dataset_files.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define TREE_MAX_DEPTH   4         /* imagedir: DIR/class/image; dicom: DIR/series/file */
#define TREE_MAX_ENTRIES 1000000   /* entries one check walks */

static const char *const IDX_FILES[] = { "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" };
static const char *const PLINK_EXT[] = { ".bed", ".bim", ".fam" };
static const char *const FORMATS[GF_DATASET_NFORMATS] = { "idx", "csv", "npz", "plink", "vcf", "nifti", "dicom",
                                                          "imagedir" };

const char *gf_dataset_format_name(gf_dataset_format f)
{
    return (int)f >= 0 && f < GF_DATASET_NFORMATS ? FORMATS[f] : "?";
}

gf_status gf_dataset_format_parse(const char *name, gf_dataset_format *out)
{
    for (int i = 0; name && i < GF_DATASET_NFORMATS; i++)
        if (!strcmp(name, FORMATS[i])) { *out = (gf_dataset_format)i; return GF_OK; }
    return gf_errorf(GF_ERR_ARG, "format \"%s\": one of idx, csv, npz, plink, vcf, nifti, dicom, imagedir",
                     name ? name : "");
}

static int has_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path), k = strlen(suffix);
    return n > k && !strcasecmp(path + n - k, suffix);
}

static int is_nifti_name(const char *p) { return has_suffix(p, ".nii") || has_suffix(p, ".nii.gz"); }
static int is_image_name(const char *p)
{
    return has_suffix(p, ".png") || has_suffix(p, ".jpg") || has_suffix(p, ".jpeg");
}

gf_status dsfile_canonical(const char *what, const char *p, char out[PATH_MAX])
{
    if (!p || !*p) return gf_errorf(GF_ERR_ARG, "%s: no path", what);
    if (!realpath(p, out)) return gf_errorf(GF_ERR_IO, "%s %s: %s", what, p, strerror(errno));
    if (strchr(out, ',')) return gf_errorf(GF_ERR_ARG, "%s %s: a path with ',' cannot be registered", what, out);
    return GF_OK;
}

/* path is still the registered canonical path and of the registered type */
static gf_status check_same(const char *registered, int want_dir)
{
    char now[PATH_MAX];
    struct stat sb;
    if (!realpath(registered, now) || strcmp(now, registered) || stat(now, &sb) ||
        (want_dir ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode)))
        return gf_errorf(GF_ERR_IO, "%s: not the %s registered (moved, replaced or a link)", registered,
                         want_dir ? "folder" : "regular file");
    return GF_OK;
}

/* Each IDX file present (raw or .gz) is a regular file inside dir. */
static gf_status check_idx_files(const char *dir)
{
    size_t dl = strlen(dir);
    for (size_t i = 0; i < sizeof IDX_FILES / sizeof IDX_FILES[0]; i++) {
        for (int gz = 0; gz < 2; gz++) {
            char p[PATH_MAX], real[PATH_MAX];
            struct stat sb;
            int n = snprintf(p, sizeof p, "%s/%s%s", dir, IDX_FILES[i], gz ? ".gz" : "");
            if (n < 0 || (size_t)n >= sizeof p) return gf_errorf(GF_ERR_IO, "%s: path too long", dir);
            if (lstat(p, &sb)) continue;                       /* this form is absent */
            if (!realpath(p, real) || strncmp(real, dir, dl) || real[dl] != '/' || stat(real, &sb) ||
                !S_ISREG(sb.st_mode))
                return gf_errorf(GF_ERR_IO, "%s: not a regular file inside %s", p, dir);
        }
    }
    return GF_OK;
}

static int idx_present(const char *dir)
{
    for (size_t i = 0; i < sizeof IDX_FILES / sizeof IDX_FILES[0]; i++)
        for (int gz = 0; gz < 2; gz++) {
            char p[PATH_MAX];
            struct stat sb;
            snprintf(p, sizeof p, "%s/%s%s", dir, IDX_FILES[i], gz ? ".gz" : "");
            if (!lstat(p, &sb)) return 1;
        }
    return 0;
}

/* Everything under dir (depth levels at most) is a folder, a regular file,
 * or a link whose target lies inside root and is one of those. */
static gf_status check_tree(const char *root, const char *dir, int depth, long *count)
{
    DIR *d = opendir(dir);
    if (!d) return gf_errorf(GF_ERR_IO, "%s: %s", dir, strerror(errno));
    size_t rl = strlen(root);
    gf_status e = GF_OK;
    struct dirent *de;
    while (!e && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (++*count > TREE_MAX_ENTRIES) {
            e = gf_errorf(GF_ERR_IO, "%s: more than %d entries", root, TREE_MAX_ENTRIES);
            break;
        }
        char p[PATH_MAX], real[PATH_MAX];
        struct stat sb;
        int n = snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (n < 0 || (size_t)n >= sizeof p) { e = gf_errorf(GF_ERR_IO, "%s: path too long", dir); break; }
        if (lstat(p, &sb)) { e = gf_errorf(GF_ERR_IO, "%s: %s", p, strerror(errno)); break; }
        if (S_ISLNK(sb.st_mode)) {
            if (!realpath(p, real) || strncmp(real, root, rl) || real[rl] != '/' || stat(real, &sb) ||
                !(S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode)))
                e = gf_errorf(GF_ERR_IO, "%s: a link out of %s (or to a special file)", p, root);
        } else if (S_ISDIR(sb.st_mode)) {
            if (depth > 1) e = check_tree(root, p, depth - 1, count);
        } else if (!S_ISREG(sb.st_mode)) {
            e = gf_errorf(GF_ERR_IO, "%s: neither a regular file nor a folder", p);
        }
    }
    closedir(d);
    return e;
}

/* A sub-folder of dir holds an image (a class folder of imagedir:). */
static int has_image_classes(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0, seen = 0;
    struct dirent *de;
    while (!found && seen < 1000 && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char p[PATH_MAX];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (lstat(p, &sb) || !S_ISDIR(sb.st_mode)) continue;
        seen++;
        DIR *c = opendir(p);
        struct dirent *ce;
        for (int k = 0; c && !found && k < 1000 && (ce = readdir(c)); k++) found = is_image_name(ce->d_name);
        if (c) closedir(c);
    }
    closedir(d);
    return found;
}

static int has_nifti_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    struct dirent *de;
    for (int k = 0; !found && k < 100000 && (de = readdir(d)); k++) found = is_nifti_name(de->d_name);
    closedir(d);
    return found;
}

/* Each of PREFIX.bed/.bim/.fam is present (raw or .gz) and each form present
 * is a regular file at its own canonical path. */
static gf_status check_plink(const char *prefix)
{
    for (int i = 0; i < 3; i++) {
        int present = 0;
        for (int gz = 0; gz < 2; gz++) {
            char p[PATH_MAX], real[PATH_MAX];
            struct stat sb;
            int n = snprintf(p, sizeof p, "%s%s%s", prefix, PLINK_EXT[i], gz ? ".gz" : "");
            if (n < 0 || (size_t)n >= sizeof p) return gf_errorf(GF_ERR_IO, "%s: path too long", prefix);
            if (lstat(p, &sb)) continue;
            present = 1;
            if (!realpath(p, real) || strcmp(real, p) || stat(real, &sb) || !S_ISREG(sb.st_mode))
                return gf_errorf(GF_ERR_IO, "%s: not a regular file (a link, or something else)", p);
        }
        if (!present) return gf_errorf(GF_ERR_IO, "plink prefix %s: no %s file", prefix, PLINK_EXT[i]);
    }
    return GF_OK;
}

gf_status dsfile_infer(const char *path, gf_dataset_format *out)
{
    struct stat sb;
    if (!path || !*path) return gf_errorf(GF_ERR_ARG, "path: no path");
    if (stat(path, &sb)) {
        for (int i = 0; i < 3; i++) {
            char p[PATH_MAX];
            int present = 0;
            for (int gz = 0; gz < 2; gz++) {
                snprintf(p, sizeof p, "%s%s%s", path, PLINK_EXT[i], gz ? ".gz" : "");
                present |= !stat(p, &sb);
            }
            if (!present) return gf_errorf(GF_ERR_IO, "path %s: %s (nor a PLINK prefix with .bed, .bim and .fam)",
                                          path, strerror(ENOENT));
        }
        *out = GF_DATASET_PLINK;
        return GF_OK;
    }
    if (S_ISDIR(sb.st_mode)) {
        if (idx_present(path)) *out = GF_DATASET_IDX;
        else if (has_image_classes(path)) *out = GF_DATASET_IMAGEDIR;
        else if (has_nifti_files(path)) *out = GF_DATASET_NIFTI;
        else return gf_errorf(GF_ERR_ARG, "path %s: a directory of neither IDX files, class sub-folders of images "
                              "nor NIfTI volumes; name its format with --format (dicom: a folder of DICOM data)", path);
        return GF_OK;
    }
    if (!S_ISREG(sb.st_mode))
        return gf_errorf(GF_ERR_ARG, "path %s: neither a directory nor a regular file", path);
    if (has_suffix(path, ".csv")) *out = GF_DATASET_CSV;
    else if (has_suffix(path, ".npz")) *out = GF_DATASET_NPZ;
    else if (has_suffix(path, ".vcf") || has_suffix(path, ".vcf.gz") || has_suffix(path, ".bcf")) *out = GF_DATASET_VCF;
    else if (is_nifti_name(path)) *out = GF_DATASET_NIFTI;
    else return gf_errorf(GF_ERR_ARG, "path %s: its format is not told by its name (.csv, .npz, .vcf, .vcf.gz, .bcf, "
                          ".nii, .nii.gz); name it with --format", path);
    return GF_OK;
}

/* 1: format f reads a folder at its path; 0: a regular file (nifti: by name) */
static int wants_dir(gf_dataset_format f, const char *path)
{
    return f == GF_DATASET_IDX || f == GF_DATASET_DICOM || f == GF_DATASET_IMAGEDIR ||
           (f == GF_DATASET_NIFTI && !is_nifti_name(path));
}

gf_status dsfile_place(gf_dataset_format f, const char *path, char real[PATH_MAX])
{
    gf_status e;
    if (f == GF_DATASET_PLINK) {
        if (!path || !*path) return gf_errorf(GF_ERR_ARG, "path: no path");
        const char *slash = strrchr(path, '/');
        const char *base = slash ? slash + 1 : path;
        char dir[PATH_MAX], rdir[PATH_MAX];
        if (!slash) snprintf(dir, sizeof dir, ".");
        else if (slash == path) snprintf(dir, sizeof dir, "/");
        else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
        if (!*base || !strcmp(base, ".") || !strcmp(base, "..") || strchr(base, ','))
            return gf_errorf(GF_ERR_ARG, "path %s: a PLINK prefix is a folder and a file name without its ending", path);
        if ((e = dsfile_canonical("path", dir, rdir))) return e;
        int n = snprintf(real, PATH_MAX, "%s%s%s", rdir, strcmp(rdir, "/") ? "/" : "", base);
        if (n < 0 || n >= PATH_MAX) return gf_errorf(GF_ERR_ARG, "path %s: too long", path);
        return check_plink(real);
    }
    if ((e = dsfile_canonical("path", path, real))) return e;
    struct stat sb;
    if (stat(real, &sb)) return gf_errorf(GF_ERR_IO, "path %s: %s", real, strerror(errno));
    int dir = wants_dir(f, real);
    if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode))
        return gf_errorf(GF_ERR_ARG, "path %s: neither a directory nor a regular file", real);
    if (dir && !S_ISDIR(sb.st_mode))
        return gf_errorf(GF_ERR_ARG, "path %s: %s data is a directory%s", real, gf_dataset_format_name(f),
                         f == GF_DATASET_NIFTI ? " or a .nii / .nii.gz file" : "");
    if (!dir && !S_ISREG(sb.st_mode))
        return gf_errorf(GF_ERR_ARG, "path %s: %s data is a regular file", real, gf_dataset_format_name(f));
    return GF_OK;
}

/* The option key of format f whose value names a file (NULL: none) and
 * whether that file is a folder. */
static const char *path_key(gf_dataset_format f, int *dir)
{
    *dir = f == GF_DATASET_IMAGEDIR;
    switch (f) {
    case GF_DATASET_PLINK: case GF_DATASET_VCF: return "pheno";
    case GF_DATASET_NIFTI: case GF_DATASET_DICOM: return "labels";
    case GF_DATASET_IMAGEDIR: return "test";
    default: return NULL;
    }
}

static int plain_word(const char *s, size_t n, int value)
{
    if (!n) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || c == '_' ||
                 (value && ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-'));
        if (!ok) return 0;
    }
    return 1;
}

gf_status dsfile_options(gf_dataset_format f, const char *options, char *out, size_t cap)
{
    out[0] = 0;
    if (!options || !*options) return GF_OK;
    if (f < GF_DATASET_PLINK)
        return gf_errorf(GF_ERR_ARG, "options are for plink, vcf, nifti, dicom and imagedir data (%s takes --label "
                         "and --test)", gf_dataset_format_name(f));
    if (strlen(options) >= GF_DATASET_OPTIONS_MAX) return gf_errorf(GF_ERR_ARG, "options: too long");
    int pdir;
    const char *pk = path_key(f, &pdir);
    size_t used = 0;
    char seen[GF_DATASET_OPTIONS_MAX] = ",";
    for (const char *o = options; *o;) {
        const char *end = strchr(o, ',');
        size_t n = end ? (size_t)(end - o) : strlen(o);
        const char *eq = memchr(o, '=', n);
        size_t kl = eq ? (size_t)(eq - o) : n;
        char key[64], val[PATH_MAX];
        if (!plain_word(o, kl, 0) || kl >= sizeof key)
            return gf_errorf(GF_ERR_ARG, "options: \"%.*s\" is not KEY=VALUE or a word (a-z, _)", (int)n, o);
        memcpy(key, o, kl);
        key[kl] = 0;
        char probe[80];
        snprintf(probe, sizeof probe, ",%s,", key);
        if (strstr(seen, probe)) return gf_errorf(GF_ERR_ARG, "options: %s given twice", key);
        strncat(seen, key, sizeof seen - strlen(seen) - 2);
        strcat(seen, ",");
        const char *v = eq ? eq + 1 : NULL;
        size_t vl = eq ? n - kl - 1 : 0;
        if (v && pk && !strcmp(key, pk)) {
            char given[PATH_MAX];
            struct stat sb;
            if (vl >= sizeof given) return gf_errorf(GF_ERR_ARG, "options: %s= too long", key);
            memcpy(given, v, vl);
            given[vl] = 0;
            gf_status e = dsfile_canonical(key, given, val);
            if (e) return e;
            if (stat(val, &sb) || (pdir ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode)))
                return gf_errorf(GF_ERR_ARG, "%s %s: not a %s", key, val, pdir ? "directory" : "regular file");
        } else if (v) {
            if (!plain_word(v, vl, 1))
                return gf_errorf(GF_ERR_ARG, "options: %s's value is made of [A-Za-z0-9._-]%s", key,
                                 pk ? " (only the file option is a path)" : "");
            snprintf(val, sizeof val, "%.*s", (int)vl, v);
        }
        int w = snprintf(out + used, cap - used, "%s%s%s%s", used ? "," : "", key, v ? "=" : "", v ? val : "");
        if (w < 0 || (size_t)w >= cap - used) return gf_errorf(GF_ERR_ARG, "options: too long once made canonical");
        used += (size_t)w;
        o += n + (end ? 1 : 0);
        if (end && !*o) return gf_errorf(GF_ERR_ARG, "options: an empty option at the end");
    }
    return GF_OK;
}

/* Each file named in the registered options is still the registered one. */
static gf_status check_option_files(gf_dataset_format f, const char *options)
{
    int pdir;
    const char *pk = path_key(f, &pdir);
    if (!pk || !options[0]) return GF_OK;
    char buf[GF_DATASET_OPTIONS_MAX], *save = NULL;
    snprintf(buf, sizeof buf, "%s", options);
    size_t kl = strlen(pk);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strncmp(t, pk, kl) || t[kl] != '=') continue;
        gf_status e = check_same(t + kl + 1, pdir);
        long count = 0;
        if (!e && pdir) e = check_tree(t + kl + 1, t + kl + 1, TREE_MAX_DEPTH, &count);
        if (e) return e;
    }
    return GF_OK;
}

gf_status dsfile_check(gf_dataset_format f, const char *path, const char *test_path, const char *options)
{
    gf_status e;
    long count = 0;
    if (f == GF_DATASET_PLINK) e = check_plink(path);
    else e = check_same(path, wants_dir(f, path));
    if (!e && test_path[0]) e = check_same(test_path, 0);
    if (!e && f == GF_DATASET_IDX) e = check_idx_files(path);
    if (!e && f > GF_DATASET_IDX && wants_dir(f, path))
        e = check_tree(path, path, TREE_MAX_DEPTH, &count);
    if (!e) e = check_option_files(f, options);
    return e;
}
