/* The dashboard's static files, embedded at build time from web/ (scripts/embed-web.sh). */
#ifndef GF_SERVICE_WEB_ASSETS_H
#define GF_SERVICE_WEB_ASSETS_H
#include <stddef.h>

typedef struct { const char *path; const char *content_type; const unsigned char *data; size_t len; } gf_web_asset;

/* The embedded file served at `path` ("/", "/static/app.js", ...), NULL if none. */
const gf_web_asset *gf_web_asset_find(const char *path);

#endif
