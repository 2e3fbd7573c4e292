/* The site-side HTTPS client on libcurl (GnuTLS flavour): kit loading, one
 * reused easy handle per client, bounded response buffering and curl errors
 * turned into gf_status codes. See https_client.h. */
#include "net/https_client.h"
#include "net/pki.h"
#include "net/tcp_window.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

struct gf_https_client {
    CURL              *curl;
    struct curl_slist *headers;              /* small bodies: sent at once */
    struct curl_slist *headers_expect;       /* big bodies: only after "100 Continue" */
    char               errbuf[CURL_ERROR_SIZE];
    char              *base;                 /* ends with '/' */
    char              *url;                  /* scratch: base + path */
    size_t             url_cap;
    size_t             max_response;
    long               connects;
    size_t             expect;               /* answers of about this many bytes: room for one */
    /* response being received */
    char              *buf;
    size_t             len, cap;
    int                too_big;
};

/* Bodies above this wait for the server's "100 Continue" (one round trip). */
#define EXPECT_MIN ((size_t)64 << 10)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode       curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The kit's coordinator.url, first line, whitespace trimmed. */
static gf_status read_url(const char *kit, char **out)
{
    char path[PATH_MAX], line[1024];
    snprintf(path, sizeof path, "%s/%s", kit, GF_PKI_SITE_URL);
    FILE *f = fopen(path, "r");
    if (!f) return gf_errorf(GF_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    char *ok = fgets(line, sizeof line, f);
    fclose(f);
    if (!ok) return gf_errorf(GF_ERR_FORMAT, "%s: empty", path);
    line[strcspn(line, " \t\r\n")] = 0;
    if (!*line) return gf_errorf(GF_ERR_FORMAT, "%s: empty", path);
    if (!(*out = strdup(line))) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    return GF_OK;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    gf_https_client *c = userdata;
    size_t n = size * nmemb;
    if (n > c->max_response - c->len) { c->too_big = 1; return 0; }
    if (c->len == 0) {   /* reserve the announced size once, so big downloads are not re-copied */
        curl_off_t cl = -1;
        if (curl_easy_getinfo(c->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK && cl > 0) {
            if ((curl_off_t)c->max_response < cl) { c->too_big = 1; return 0; }
            if ((size_t)cl + 1 > c->cap) {
                char *p = realloc(c->buf, (size_t)cl + 1);
                if (!p) return 0;
                c->buf = p;
                c->cap = (size_t)cl + 1;
            }
        }
    }
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 16 << 10;
        while (cap < c->len + n + 1) cap *= 2;
        char *p = realloc(c->buf, cap);
        if (!p) return 0;
        c->buf = p;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, ptr, n);
    c->len += n;
    return n;
}

/* Each new connection's socket, before it connects. */
static int on_socket(void *userdata, curl_socket_t fd, curlsocktype purpose)
{
    gf_https_client *c = userdata;
    if (purpose == CURLSOCKTYPE_IPCXN && c->expect) gf_tcp_expect_receive(fd, c->expect);
    return CURL_SOCKOPT_OK;
}

/* 0, or -1 when out of memory (the list is kept as it was). */
static int add_header(struct curl_slist **list, const char *h)
{
    struct curl_slist *l = curl_slist_append(*list, h);
    if (!l) return -1;
    *list = l;
    return 0;
}

#define SET(opt, val) do { if ((rc = curl_easy_setopt(c->curl, opt, val)) != CURLE_OK) goto curl_fail; } while (0)

/* A client with a kit's certificate (kit_dir set) or with an API token
 * (kit_dir NULL, ca_file and base_url given). */
static gf_status client_open(const char *kit_dir, const char *ca_file, const char *base_url, const char *token,
                             gf_https_client **out)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) return gf_errorf(GF_ERR_IO, "libcurl: %s", curl_easy_strerror(curl_init_rc));
    curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    if (!v->ssl_version || strncmp(v->ssl_version, "GnuTLS", 6))
        return gf_errorf(GF_ERR_ARG, "libcurl uses %s, not GnuTLS", v->ssl_version ? v->ssl_version : "no TLS");
    gf_https_client *c = calloc(1, sizeof *c);
    if (!c) return gf_errorf(GF_ERR_NOMEM, "HTTPS client: out of memory");
    c->max_response = GF_HTTPS_DEFAULT_MAX_RESPONSE;
    char key[PATH_MAX], crt[PATH_MAX], ca[PATH_MAX], auth[128];
    if (kit_dir) {
        snprintf(key, sizeof key, "%s/%s", kit_dir, GF_PKI_SITE_KEY);
        snprintf(crt, sizeof crt, "%s/%s", kit_dir, GF_PKI_SITE_CRT);
        snprintf(ca, sizeof ca, "%s/%s", kit_dir, GF_PKI_SITE_CA);
    } else {
        snprintf(ca, sizeof ca, "%s", ca_file);
    }
    FILE *f;
    const char *kit_files[] = {key, crt, ca}, *token_files[] = {ca};
    const char *const *files = kit_dir ? kit_files : token_files;
    for (int i = 0; i < (kit_dir ? 3 : 1); i++) {
        if (!(f = fopen(files[i], "r"))) {
            gf_status st = gf_errorf(GF_ERR_IO, "cannot open %s: %s", files[i], strerror(errno));
            gf_https_client_close(c);
            return st;
        }
        fclose(f);
    }
    gf_status st = GF_OK;
    if (token && (strlen(token) > 100 || strpbrk(token, "\r\n")))
        st = gf_errorf(GF_ERR_ARG, "the API token is malformed");
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token ? token : "");
    if (st) {
    } else if (base_url) {
        if (!(c->base = strdup(base_url))) st = gf_errorf(GF_ERR_NOMEM, "out of memory");
    } else if (kit_dir) {
        st = read_url(kit_dir, &c->base);
    } else {
        st = gf_errorf(GF_ERR_ARG, "the coordinator's URL is required");
    }
    if (!st && strncmp(c->base, "https://", 8)) st = gf_errorf(GF_ERR_ARG, "coordinator URL \"%s\" is not https://", c->base);
    if (!st && c->base[strlen(c->base) - 1] != '/') {
        size_t n = strlen(c->base);
        char *p = realloc(c->base, n + 2);
        if (!p) st = gf_errorf(GF_ERR_NOMEM, "out of memory");
        else { c->base = p; p[n] = '/'; p[n + 1] = 0; }
    }
    if (!st && !(c->curl = curl_easy_init())) st = gf_errorf(GF_ERR_NOMEM, "curl_easy_init failed");
    if (!st && (add_header(&c->headers, "Content-Type: application/octet-stream") ||
                add_header(&c->headers, "Expect:") ||
                add_header(&c->headers_expect, "Content-Type: application/octet-stream") ||
                add_header(&c->headers_expect, "Expect: 100-continue") ||
                (token && (add_header(&c->headers, auth) || add_header(&c->headers_expect, auth)))))
        st = gf_errorf(GF_ERR_NOMEM, "out of memory");
    memset(auth, 0, sizeof auth);
    if (st) { gf_https_client_close(c); return st; }

    CURLcode rc;
    SET(CURLOPT_ERRORBUFFER, c->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);                 /* no SIGALRM timeouts, no SIGPIPE games */
    SET(CURLOPT_PROTOCOLS_STR, "https");
    SET(CURLOPT_SSLVERSION, (long)(CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3));
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_CAINFO, ca);
    SET(CURLOPT_CAPATH, NULL);                 /* the federation CA only, not the system store */
    if (kit_dir) {
        SET(CURLOPT_SSLCERT, crt);
        SET(CURLOPT_SSLCERTTYPE, "PEM");
        SET(CURLOPT_SSLKEY, key);
        SET(CURLOPT_SSLKEYTYPE, "PEM");
    }
    SET(CURLOPT_SSL_SESSIONID_CACHE, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_WRITEFUNCTION, on_data);
    SET(CURLOPT_WRITEDATA, c);
    SET(CURLOPT_USERAGENT, "gigafactory-site");
    SET(CURLOPT_SOCKOPTFUNCTION, on_socket);
    SET(CURLOPT_SOCKOPTDATA, c);
    *out = c;
    gf_https_client_set_timeouts(c, 10, 300);
    return GF_OK;
curl_fail:
    st = gf_errorf(GF_ERR_ARG, "libcurl option: %s", curl_easy_strerror(rc));
    gf_https_client_close(c);
    *out = NULL;
    return st;
}

gf_status gf_https_client_open(const char *kit_dir, const char *base_url, gf_https_client **out)
{
    return client_open(kit_dir, NULL, base_url, NULL, out);
}

gf_status gf_https_client_open_token(const char *ca_file, const char *base_url, const char *token,
                                     gf_https_client **out)
{
    if (!ca_file || !base_url || !token) {
        *out = NULL;
        return gf_errorf(GF_ERR_ARG, "a token client needs the CA file, the coordinator's URL and the token");
    }
    return client_open(NULL, ca_file, base_url, token, out);
}

void gf_https_client_set_timeouts(gf_https_client *c, long connect_s, long total_s)
{
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, connect_s > 0 ? connect_s : 0L);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, total_s > 0 ? total_s : 0L);
}

void gf_https_client_expect_response(gf_https_client *c, size_t bytes)
{
    if (bytes > c->expect) c->expect = bytes;   /* connections open from now on */
}

void gf_https_client_set_max_response(gf_https_client *c, size_t max)
{
    c->max_response = max;
}

long gf_https_client_connections(const gf_https_client *c)
{
    return c->connects;
}

static gf_status set_url(gf_https_client *c, const char *path)
{
    while (*path == '/') path++;
    size_t need = strlen(c->base) + strlen(path) + 1;
    if (need > c->url_cap) {
        char *p = realloc(c->url, need);
        if (!p) return gf_errorf(GF_ERR_NOMEM, "out of memory");
        c->url = p;
        c->url_cap = need;
    }
    snprintf(c->url, need, "%s%s", c->base, path);
    return GF_OK;
}

gf_status gf_https_request(gf_https_client *c, const char *method, const char *path, const void *body, size_t len,
                           int *status, char **resp_body, size_t *resp_len)
{
    *status = 0;
    *resp_body = NULL;
    *resp_len = 0;
    if (!method || !*method || !path) return gf_errorf(GF_ERR_ARG, "HTTPS request: method and path are required");
    gf_status st = set_url(c, path);
    if (st) return st;
    CURLcode rc;
    int with_body = len > 0 || !strcmp(method, "POST") || !strcmp(method, "PUT");
    int is_head = !strcmp(method, "HEAD");
    const char *custom = !strcmp(method, with_body ? "POST" : "GET") || is_head ? NULL : method;
    SET(CURLOPT_URL, c->url);
    SET(CURLOPT_NOBODY, (long)is_head);
    if (with_body) {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        SET(CURLOPT_POSTFIELDS, len ? body : "");
    } else if (!is_head) {
        SET(CURLOPT_HTTPGET, 1L);
    }
    SET(CURLOPT_CUSTOMREQUEST, custom);
    /* a refusal (403, 413) of a big body comes back before the body is sent */
    SET(CURLOPT_HTTPHEADER, len > EXPECT_MIN ? c->headers_expect : c->headers);
    c->len = 0;
    c->too_big = 0;
    c->errbuf[0] = 0;
    rc = curl_easy_perform(c->curl);
    long n = 0;
    if (curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &n) == CURLE_OK) c->connects += n;
    if (rc != CURLE_OK) {
        if (c->too_big)
            return gf_errorf(GF_ERR_FORMAT, "%s %s: response larger than %zu bytes", method, c->url, c->max_response);
        return gf_errorf(rc == CURLE_OUT_OF_MEMORY ? GF_ERR_NOMEM : GF_ERR_IO, "%s %s: %s", method, c->url,
                         c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
    }
    long code = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
    if (!c->buf && !(c->buf = malloc(1)))
        return gf_errorf(GF_ERR_NOMEM, "%s %s: out of memory for the response", method, c->url);
    c->buf[c->len] = 0;                      /* on_data always leaves room for it */
    *status = (int)code;
    *resp_body = c->buf;                     /* handed over without a copy */
    c->buf = NULL;
    c->cap = 0;
    *resp_len = c->len;
    return GF_OK;
curl_fail:
    return gf_errorf(GF_ERR_ARG, "%s %s: libcurl option: %s", method, c->url, curl_easy_strerror(rc));
}

void gf_https_client_close(gf_https_client *c)
{
    if (!c) return;
    if (c->curl) curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->headers);
    curl_slist_free_all(c->headers_expect);
    free(c->base);
    free(c->url);
    free(c->buf);
    free(c);
}
