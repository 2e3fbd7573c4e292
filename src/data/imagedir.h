/* Image folders: DIR holds one sub-folder per class, each holding PNG or
 * JPEG images (data/imagedir.c). Class ids follow the folders' names in
 * byte order (strcmp). Images become (c, h, w) float samples in [0, 1]. */
#ifndef GF_DATA_IMAGEDIR_H
#define GF_DATA_IMAGEDIR_H

#include "data/dataset.h"
#include "data/image.h"

#define GF_IMAGEDIR_MAX_FILES       1000000LL     /* images under one DIR, all classes together */
#define GF_IMAGEDIR_MAX_FILE_BYTES  (64LL << 20)  /* one image file on disk: 64 MiB */
#define GF_IMAGEDIR_MAX_TOTAL_BYTES (4LL << 30)   /* the decoded dataset, n * c * h * w floats: 4 GiB */

typedef struct {
    int64_t max_files;
    int64_t max_file_bytes;
    int64_t max_pixels;        /* width * height of one decoded image (before any resize) */
    int64_t max_total_bytes;
} gf_imagedir_limits;

/* The defaults above, and GF_IMAGE_MAX_PIXELS. */
gf_imagedir_limits gf_imagedir_limits_default(void);

typedef struct {
    int h, w;        /* 0, 0: every image must have the first image's size */
    int resize;      /* with h, w: 1 resizes every image to h x w (gf_image_resize), 0 requires that size */
    int channels;    /* 1 (gray), 3 (rgb), or 0: the first image's (gray or colour); a colour image
                        after a gray first one is then refused (give rgb or gray) */
} gf_imagedir_opts;

/* Class names in id order. */
typedef struct {
    int n;
    char **names;    /* (n) */
} gf_imagedir_classes;

void gf_imagedir_classes_free(gf_imagedir_classes *c);

/* Loads DIR into *out. known NULL: the classes are DIR's sub-folders and
 * are returned in *found (may be NULL). known given (a test folder): each
 * sub-folder must be one of known's names and takes its id, num_classes =
 * known->n. Symbolic links anywhere under DIR are refused (DIR itself may
 * be one); so are files directly in DIR, folders inside class folders,
 * anything not a regular file, empty class folders, and files that are not
 * PNG or JPEG. Names starting with '.' are skipped. Every error names the
 * file (DIR/CLASS/NAME). lim NULL: the defaults. */
gf_status gf_imagedir_load(const char *dir, const gf_imagedir_opts *opts, const gf_imagedir_limits *lim,
                           const gf_imagedir_classes *known, gf_imagedir_classes *found, gf_dataset *out);

/* The imagedir: dataset spec (the part after "imagedir:" in args):
 * DIR[,size=HxW][,gray|rgb][,test=DIR2|,test_fraction=F]; the class
 * mapping goes to gf_dataset_note(). */
gf_status gf_imagedir_open(const char *spec, const char *args, gf_dataset *train, gf_dataset *test);

#endif
