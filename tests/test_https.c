/* The HTTPS transport: mutual TLS 1.3 between a libmicrohttpd server and a
 * libcurl client, identity and revocation checked per request, body limits,
 * a body with a zero-copy tail, keep-alive, refusal of foreign, missing,
 * revoked and expired certificates (also one that expires during a
 * kept-alive connection), the server's choice of cipher, garbage on the
 * socket, concurrent clients, deferred answers, new connections spread
 * over the event threads, and stop/start. */
#include "net/https_client.h"
#include "net/https_server.h"
#include "net/pki.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include "check.h"
#include "curl_get.h"

static char base[64], p1[128], p2[128];
static char url[128];

/* ---- the echo handler ------------------------------------------------------ */

static int tails_freed;
static void free_tail_counted(void *p)
{
    __atomic_add_fetch(&tails_freed, 1, __ATOMIC_RELAXED);
    free(p);
}

#define TAIL_LEN 100000

/* A deferred request, answered by a thread of its own after delay_ms. */
typedef struct { gf_https_later *later; int delay_ms; char text[32]; } later_job;

static void *answer_later(void *arg)
{
    later_job *l = arg;
    usleep((useconds_t)l->delay_ms * 1000);
    gf_http_response resp = { .status = 202, .content_type = "text/plain", .body = strdup(l->text) };
    resp.len = resp.body ? strlen(resp.body) : 0;
    resp.free_body = free;
    gf_https_answer(l->later, resp.body ? GF_OK : gf_errorf(GF_ERR_NOMEM, "out of memory"), &resp);
    free(l);
    return NULL;
}


static int deferred_count;        /* requests echo deferred so far */

static gf_status echo(void *ctx, const gf_http_request *req, gf_http_response *resp)
{
    if (!strcmp(req->path, "/fail")) return gf_errorf(GF_ERR_ARG, "round 7 is over");
    if (!strcmp(req->path, "/defer") || !strcmp(req->path, "/defer-now")) {
        /* answered later by another thread (?ms=N), or before the handler returns */
        const char *ms = gf_https_query(req, "ms"), *x = gf_https_query(req, "x");
        later_job *l = calloc(1, sizeof *l);
        if (!l) return gf_errorf(GF_ERR_NOMEM, "echo: out of memory");
        l->delay_ms = ms ? atoi(ms) : 0;
        snprintf(l->text, sizeof l->text, "later:%s", x ? x : "");
        l->later = gf_https_defer(req);
        __atomic_add_fetch(&deferred_count, 1, __ATOMIC_RELAXED);
        resp->status = 500, resp->body = "ignored", resp->len = 7;   /* a deferring handler's resp is not sent */
        if (!strcmp(req->path, "/defer-now")) {
            answer_later(l);
            return GF_OK;
        }
        pthread_t t;
        if (pthread_create(&t, NULL, answer_later, l)) {
            answer_later(l);
            return GF_OK;
        }
        pthread_detach(t);
        return GF_OK;
    }
    if (!strcmp(req->path, "/tail-unowned")) {     /* a tail behind a borrowed body: refused, the tail given back */
        resp->body = "head:", resp->len = 5;
        resp->tail = malloc(16), resp->tail_len = 16, resp->free_tail = free_tail_counted;
        return resp->tail ? GF_OK : gf_errorf(GF_ERR_NOMEM, "echo: out of memory");
    }
    if (!strcmp(req->path, "/tail") || !strcmp(req->path, "/tail-fail")) {
        /* an owned body and a tail (byte i: 7 i mod 256); "-fail" hands both over, then fails */
        uint8_t *t = malloc(TAIL_LEN);
        char *h = strdup("head:");
        for (int i = 0; t && i < TAIL_LEN; i++) t[i] = (uint8_t)(i * 7);
        resp->body = h, resp->len = 5, resp->free_body = free;
        resp->tail = t, resp->tail_len = TAIL_LEN, resp->free_tail = free_tail_counted;
        resp->content_type = "application/octet-stream";
        if (!t || !h) return gf_errorf(GF_ERR_NOMEM, "echo: out of memory");
        return strcmp(req->path, "/tail") ? gf_errorf(GF_ERR_ARG, "no tail today") : GF_OK;
    }
    if (!strcmp(req->path, "/text")) {
        resp->status = 201;
        resp->content_type = "text/plain";
        resp->body = "made";
        resp->len = 4;
        return GF_OK;
    }
    unsigned long sum = 0;
    for (size_t i = 0; i < req->body_len; i++) sum += req->body[i];
    const char *x = gf_https_query(req, "x");
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "peer", req->peer, "method", req->method, "path",
                          req->path, "len", (json_int_t)req->body_len, "sum", (json_int_t)sum, "x", x ? x : "");
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) return gf_errorf(GF_ERR_NOMEM, "echo: out of memory");
    resp->body = s;
    resp->len = strlen(s);
    resp->free_body = free;
    return GF_OK;
}

static int log_lines;
static void count_log(void *ctx, const char *line)
{
    __atomic_add_fetch(&log_lines, 1, __ATOMIC_RELAXED);
    if (getenv("GF_TEST_VERBOSE")) fprintf(stderr, "server: %s\n", line);
}

static gf_https_server *start(int port, int threads, size_t max_body)
{
    gf_https_config cfg = {.pki_dir = p1, .listen_host = "127.0.0.1", .port = port, .max_body = max_body,
                           .threads = threads, .handler = echo, .log = count_log};
    gf_https_server *s = NULL;
    gf_status st = gf_https_start(&cfg, &s);
    CHECK_MSG(st == GF_OK && s && gf_https_port(s) > 0, "start: %s", gf_last_error());
    if (s) snprintf(url, sizeof url, "https://127.0.0.1:%d/", gf_https_port(s));
    return s;
}

/* ---- client helpers -------------------------------------------------------- */

static gf_https_client *client(const char *kit)
{
    gf_https_client *c = NULL;
    CHECK_MSG(gf_https_client_open(kit, url, &c) == GF_OK, "open %s: %s", kit, gf_last_error());
    return c;
}

/* One request; returns the HTTP status (-1 on a transport error) and the
 * parsed JSON reply in *j (NULL when none). */
static int req(gf_https_client *c, const char *method, const char *path, const void *body, size_t len, json_t **j)
{
    int status = 0;
    char *resp = NULL;
    size_t rlen = 0;
    if (j) *j = NULL;
    if (!c) return -1;
    gf_status st = gf_https_request(c, method, path, body, len, &status, &resp, &rlen);
    if (st) return -1;
    if (j) *j = json_loadb(resp, rlen, 0, NULL);
    free(resp);
    return status;
}

static const char *jstr(json_t *j, const char *k)
{
    const char *s = json_string_value(json_object_get(j, k));
    return s ? s : "";
}

static long long jint(json_t *j, const char *k)
{
    return json_integer_value(json_object_get(j, k));
}

/* Plain curl: optional client key/cert, the coordinator's CA. */
static long raw_curl(const char *u, const char *key, const char *crt, CURLcode *rc_out, char *body, size_t cap)
{
    char ca[256];
    snprintf(ca, sizeof ca, "%s/%s", p1, GF_PKI_COORD_CA);
    return curl_get(u, ca, key, crt, rc_out, body, cap);
}

/* Chunked upload of `total` bytes without Content-Length. */
static long chunked_upload_slow(const char *site, size_t total, size_t piece, useconds_t delay, CURLcode *rc);
static long chunked_upload(const char *site, size_t total, CURLcode *rc)
{
    return chunked_upload_slow(site, total, 0, 0, rc);
}
typedef struct { size_t left, piece; useconds_t delay; } feeder;
static size_t feed(char *buf, size_t sz, size_t n, void *ud)
{
    feeder *f = ud;
    size_t k = sz * n < f->left ? sz * n : f->left;
    if (f->piece && k > f->piece) k = f->piece;
    if (f->delay && f->left) usleep(f->delay);
    memset(buf, 'z', k);
    f->left -= k;
    return k;
}

/* Chunked upload of `total` bytes, `piece` bytes at a time with `delay` us
 * before each (0, 0: as fast as possible). */
static long chunked_upload_slow(const char *site, size_t total, size_t piece, useconds_t delay, CURLcode *rc)
{
    char k[256], c[256], ca[256];
    snprintf(k, sizeof k, "%s/sites/%s/site.key", p1, site);
    snprintf(c, sizeof c, "%s/sites/%s/site.crt", p1, site);
    snprintf(ca, sizeof ca, "%s/%s", p1, GF_PKI_COORD_CA);
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    feeder f = {total, piece, delay};
    char body[512];
    curl_get_sink s = {body, 0, sizeof body};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    curl_easy_setopt(h, CURLOPT_SSLKEY, k);
    curl_easy_setopt(h, CURLOPT_SSLCERT, c);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, feed);
    curl_easy_setopt(h, CURLOPT_READDATA, &f);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_get_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    long code = 0;
    *rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    curl_slist_free_all(hd);
    return code;
}

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) { close(fd); fd = -1; }
    return fd;
}

static char kit_a[160], kit_b[160];

/* ---- the tests ------------------------------------------------------------- */

static void test_basic(gf_https_client *a)
{
    json_t *j;
    int st = req(a, "GET", "/v1/hello?x=1&y=2", NULL, 0, &j);
    CHECK_MSG(st == 200, "GET -> %d (%s)", st, gf_last_error());
    CHECK(!strcmp(jstr(j, "peer"), "a") && !strcmp(jstr(j, "method"), "GET") && !strcmp(jstr(j, "path"), "/v1/hello") &&
          jint(j, "len") == 0 && !strcmp(jstr(j, "x"), "1"));
    json_decref(j);

    size_t n = 1 << 20;
    unsigned char *big = malloc(n);
    unsigned long sum = 0;
    for (size_t i = 0; i < n; i++) sum += big[i] = (unsigned char)(i * 7 + 3);
    st = req(a, "POST", "v1/update", big, n, &j);
    CHECK_MSG(st == 200, "POST -> %d (%s)", st, gf_last_error());
    CHECK(!strcmp(jstr(j, "peer"), "a") && !strcmp(jstr(j, "method"), "POST") && !strcmp(jstr(j, "path"), "/v1/update") &&
          jint(j, "len") == (long long)n && jint(j, "sum") == (long long)sum);
    json_decref(j);
    st = req(a, "PUT", "/v1/put", "abc", 3, &j);
    CHECK(st == 200 && !strcmp(jstr(j, "method"), "PUT") && jint(j, "len") == 3);
    json_decref(j);
    st = req(a, "DELETE", "/v1/x", NULL, 0, &j);
    CHECK(st == 200 && !strcmp(jstr(j, "method"), "DELETE"));
    json_decref(j);
    st = req(a, "POST", "/v1/empty", NULL, 0, &j);
    CHECK(st == 200 && !strcmp(jstr(j, "method"), "POST") && jint(j, "len") == 0);
    json_decref(j);

    /* handler errors and handler-chosen statuses */
    st = req(a, "GET", "/fail", NULL, 0, &j);
    CHECK(st == 400 && !strcmp(jstr(j, "error"), "round 7 is over"));
    json_decref(j);
    int status;
    char *body;
    size_t len;
    CHECK(gf_https_request(a, "GET", "/text", NULL, 0, &status, &body, &len) == GF_OK && status == 201 && len == 4 &&
          !strcmp(body, "made"));
    free(body);

    /* body limit: Content-Length over max_body -> 413 before the body is read */
    unsigned char *huge = calloc(3 << 20, 1);
    st = req(a, "POST", "/v1/update", huge, 3 << 20, &j);
    CHECK_MSG(st == 413 && strstr(jstr(j, "error"), "limit"), "oversized -> %d", st);
    json_decref(j);
    st = req(a, "POST", "/v1/update", huge, (2 << 20) + 1, &j);
    CHECK_MSG(st == 413, "max_body + 1 -> %d", st);
    json_decref(j);
    st = req(a, "POST", "/v1/update", huge, 2 << 20, &j);
    CHECK_MSG(st == 200 && jint(j, "len") == 2 << 20, "exactly max_body -> %d", st);
    json_decref(j);
    free(huge);
    /* without Content-Length: counted as it arrives, the connection is dropped */
    CURLcode rc;
    long code = chunked_upload("a", 5 << 20, &rc);
    CHECK_MSG(rc != CURLE_OK || code == 413, "chunked oversized -> curl %d, HTTP %ld", rc, code);
    code = chunked_upload("a", 100000, &rc);
    CHECK_MSG(rc == CURLE_OK && code == 200, "chunked small -> curl %d, HTTP %ld", rc, code);

    /* the client's own response limit */
    gf_https_client_set_max_response(a, 10);
    CHECK(gf_https_request(a, "GET", "/v1/hello", NULL, 0, &status, &body, &len) == GF_ERR_FORMAT &&
          strstr(gf_last_error(), "larger than 10"));
    gf_https_client_set_max_response(a, GF_HTTPS_DEFAULT_MAX_RESPONSE);
    free(big);
}

static void test_keepalive(void)
{
    gf_https_client *c = client(kit_a);
    int ok = 0;
    for (int i = 0; i < 50; i++) ok += req(c, "GET", "/v1/ping", NULL, 0, NULL) == 200;
    CHECK(ok == 50);
    CHECK_MSG(c && gf_https_client_connections(c) == 1, "%ld connections", c ? gf_https_client_connections(c) : -1);
    gf_https_client_close(c);
}

/* fd's local port when it is a connection to `port`, else -1. */
static int local_port_to(int fd, int port)
{
    struct sockaddr_in peer, self;
    socklen_t len = sizeof peer, slen = sizeof self;
    if (getpeername(fd, (struct sockaddr *)&peer, &len) || peer.sin_family != AF_INET ||
        ntohs(peer.sin_port) != port || getsockname(fd, (struct sockaddr *)&self, &slen))
        return -1;
    return ntohs(self.sin_port);
}

/* The local ports of this process's connections to `port`, into ports[]
 * (at most n); returns how many. */
static int ports_to(int port, int *ports, int n)
{
    int k = 0;
    for (int fd = 3; fd < 1024 && k < n; fd++)
        if ((ports[k] = local_port_to(fd, port)) >= 0) k++;
    return k;
}

/* The descriptor of the connection to `port` whose local port is not in
 * before[nb] (the one opened since), or -1. */
static int new_socket_to(int port, const int *before, int nb)
{
    for (int fd = 3; fd < 1024; fd++) {
        int p = local_port_to(fd, port), seen = 0;
        for (int i = 0; i < nb; i++) seen |= before[i] == p;
        if (p >= 0 && !seen) return fd;
    }
    return -1;
}

static int rcvbuf_of(int fd)
{
    int v = -1;
    socklen_t len = sizeof v;
    return fd < 0 || getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len) ? -1 : v;
}

/* A client told to expect big answers connects with room for one. */
static void test_expect_response(int port)
{
    int before[64], nb = ports_to(port, before, 64);
    gf_https_client *c = client(kit_a);
    gf_https_client_expect_response(c, 3 << 20);
    gf_https_client_expect_response(c, 1 << 20);          /* only grows */
    CHECK(req(c, "GET", "/v1/ping", NULL, 0, NULL) == 200);
    int big = rcvbuf_of(new_socket_to(port, before, nb));
    gf_https_client_close(c);
    nb = ports_to(port, before, 64);
    c = client(kit_a);                                     /* one not told: the kernel's default */
    CHECK(req(c, "GET", "/v1/ping", NULL, 0, NULL) == 200);
    int plain = rcvbuf_of(new_socket_to(port, before, nb));
    gf_https_client_close(c);
    CHECK_MSG(big >= (2 << 20) && plain > 0 && plain < big, "receive buffers: %d told, %d not", big, plain);
}

static void test_refusals(void)
{
    json_t *j;
    /* a kit of another provisioning: the server's certificate does not verify */
    char other[160];
    snprintf(other, sizeof other, "%s/sites/a", p2);
    gf_https_client *c = client(other);
    CHECK(req(c, "GET", "/v1/hello", NULL, 0, &j) == -1 && strstr(gf_last_error(), "127.0.0.1"));
    gf_https_client_close(c);

    /* a foreign site certificate presented to our server (trusting our CA): 403 */
    char hybrid[160], src[256], dst[256];
    snprintf(hybrid, sizeof hybrid, "%s/hybrid", base);
    CHECK(mkdir(hybrid, 0700) == 0);
    const char *from[] = {"sites/a/site.key", "sites/a/site.crt", NULL};
    for (int i = 0; i < 3; i++) {
        snprintf(src, sizeof src, "%s/%s", i < 2 ? p2 : p1, i < 2 ? from[i] : GF_PKI_COORD_CA);
        snprintf(dst, sizeof dst, "%s/%s", hybrid, i == 0 ? "site.key" : i == 1 ? "site.crt" : "ca.crt");
        CHECK(link(src, dst) == 0);
    }
    c = client(hybrid);
    int st = req(c, "GET", "/v1/hello", NULL, 0, &j);
    CHECK_MSG(st == 403 && strstr(jstr(j, "error"), "not trusted"), "foreign cert -> %d %s", st, jstr(j, "error"));
    json_decref(j);
    /* the refusal comes before the body is read */
    char *body = calloc(1, 1 << 20);
    st = req(c, "POST", "/v1/update", body, 1 << 20, &j);
    CHECK_MSG(st == 403, "foreign cert POST -> %d", st);
    json_decref(j);
    st = req(c, "POST", "/v1/update", body, 10000, &j);    /* small: drained, then refused */
    CHECK_MSG(st == 403 && strstr(jstr(j, "error"), "not trusted"), "foreign cert small POST -> %d", st);
    json_decref(j);
    free(body);
    gf_https_client_close(c);

    /* no client certificate: the handler sees an empty peer (token clients) */
    char out[512];
    CURLcode rc;
    long code = raw_curl(url, NULL, NULL, &rc, out, sizeof out);
    CHECK_MSG(rc == CURLE_OK && code == 200 && strstr(out, "\"peer\":\"\""),
              "no cert -> curl %d HTTP %ld %s", rc, code, out);
    /* the coordinator's own certificate (serverAuth, not clientAuth) */
    char ck[256], cc[256];
    snprintf(ck, sizeof ck, "%s/%s", p1, GF_PKI_COORD_KEY);
    snprintf(cc, sizeof cc, "%s/%s", p1, GF_PKI_COORD_CRT);
    code = raw_curl(url, ck, cc, &rc, out, sizeof out);
    CHECK_MSG(code != 200, "coordinator cert as client -> curl %d HTTP %ld %s", rc, code, out);
    /* plain HTTP to the TLS port */
    char plain[128];
    snprintf(plain, sizeof plain, "http://127.0.0.1:%d/v1/hello", atoi(strrchr(url, ':') + 1));
    code = raw_curl(plain, NULL, NULL, &rc, out, sizeof out);
    CHECK_MSG(rc != CURLE_OK || (code != 200 && !strstr(out, "peer")), "plain HTTP -> curl %d HTTP %ld", rc, code);
}

/* A body with a tail arrives as one, in order; the tail is given back once
 * sent, and also when the handler fails after handing it over, or hands it
 * over behind a body it does not give away (refused with 500: the server
 * could not keep that body until the tail is sent). */
static void test_tail(gf_https_client *a)
{
    int before = __atomic_load_n(&tails_freed, __ATOMIC_RELAXED), status = 0, bad = 0;
    char *resp = NULL;
    size_t n = 0;
    CHECK(gf_https_request(a, "GET", "/tail", NULL, 0, &status, &resp, &n) == GF_OK);
    CHECK_MSG(status == 200 && n == 5 + TAIL_LEN && resp && !memcmp(resp, "head:", 5), "tail -> %d, %zu bytes",
              status, n);
    for (size_t i = 0; resp && n == 5 + TAIL_LEN && i < TAIL_LEN; i++) bad += (uint8_t)resp[5 + i] != (uint8_t)(i * 7);
    CHECK_MSG(bad == 0, "%d tail bytes wrong", bad);
    free(resp);
    resp = NULL;
    CHECK(gf_https_request(a, "GET", "/tail-fail", NULL, 0, &status, &resp, &n) == GF_OK);
    CHECK_MSG(status == 400 && resp && strstr(resp, "no tail today"), "failed tail -> %d", status);
    free(resp);
    resp = NULL;
    CHECK(gf_https_request(a, "GET", "/tail-unowned", NULL, 0, &status, &resp, &n) == GF_OK);
    CHECK_MSG(status == 500 && resp && strstr(resp, "invalid HTTP status or body"), "unowned tail -> %d", status);
    free(resp);
    for (int i = 0; i < 1000 && __atomic_load_n(&tails_freed, __ATOMIC_RELAXED) < before + 3; i++) usleep(10000);
    CHECK_MSG(__atomic_load_n(&tails_freed, __ATOMIC_RELAXED) == before + 3, "%d tails given back, not 3",
              __atomic_load_n(&tails_freed, __ATOMIC_RELAXED) - before);
}

/* The AEAD a raw TLS 1.3 client offering `prio` gets from the server on
 * `port` (GNUTLS_CIPHER_UNKNOWN: no handshake). */
static gnutls_cipher_algorithm_t negotiated(int port, const char *prio)
{
    char ca[256];
    snprintf(ca, sizeof ca, "%s/%s", p1, GF_PKI_COORD_CA);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    gnutls_certificate_credentials_t cred = NULL;
    gnutls_session_t s = NULL;
    gnutls_cipher_algorithm_t got = GNUTLS_CIPHER_UNKNOWN;
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc = -1;
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        gnutls_certificate_allocate_credentials(&cred) >= 0 &&
        gnutls_certificate_set_x509_trust_file(cred, ca, GNUTLS_X509_FMT_PEM) > 0 &&
        gnutls_init(&s, GNUTLS_CLIENT) >= 0 && gnutls_priority_set_direct(s, prio, NULL) >= 0 &&
        gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred) >= 0) {
        gnutls_session_set_verify_cert(s, "127.0.0.1", 0);
        gnutls_transport_set_int(s, fd);
        do rc = gnutls_handshake(s); while (rc < 0 && !gnutls_error_is_fatal(rc));
        if (rc >= 0) got = gnutls_cipher_get(s);
    }
    if (s) gnutls_deinit(s);
    if (cred) gnutls_certificate_free_credentials(cred);
    if (fd >= 0) close(fd);
    return got;
}

/* The server's order decides: AES-128-GCM even for a client that lists
 * AES-256-GCM first (GnuTLS's own default order); a client with only
 * ChaCha20-Poly1305 still gets in; one with only AES-CCM does not. */
static void test_cipher_order(int port)
{
    gnutls_cipher_algorithm_t c = negotiated(port, "NORMAL:-VERS-ALL:+VERS-TLS1.3");
    CHECK_MSG(c == GNUTLS_CIPHER_AES_128_GCM, "default client order -> %s", gnutls_cipher_get_name(c));
    c = negotiated(port, "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305");
    CHECK_MSG(c == GNUTLS_CIPHER_AES_256_GCM, "AES-256 client -> %s", gnutls_cipher_get_name(c));
    c = negotiated(port, "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305");
    CHECK_MSG(c == GNUTLS_CIPHER_CHACHA20_POLY1305, "ChaCha20 client -> %s", gnutls_cipher_get_name(c));
    c = negotiated(port, "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-CCM");
    CHECK_MSG(c == GNUTLS_CIPHER_UNKNOWN, "AES-CCM client -> %s", gnutls_cipher_get_name(c));
}

static void test_revocation(gf_https_client *a)
{
    gf_https_client *b = client(kit_b);
    json_t *j;
    CHECK(req(b, "GET", "/v1/hello", NULL, 0, &j) == 200 && !strcmp(jstr(j, "peer"), "b"));
    json_decref(j);
    CHECK_MSG(gf_pki_revoke(p1, "b") == GF_OK, "%s", gf_last_error());
    int st = req(b, "GET", "/v1/hello", NULL, 0, &j);   /* same kept-alive connection */
    CHECK_MSG(st == 403 && strstr(jstr(j, "error"), "revoked"), "revoked b -> %d %s", st, jstr(j, "error"));
    json_decref(j);
    CHECK(req(a, "GET", "/v1/hello", NULL, 0, &j) == 200 && !strcmp(jstr(j, "peer"), "a"));
    json_decref(j);
    gf_https_client_close(b);
    b = client(kit_b);                                  /* a fresh connection too */
    CHECK(req(b, "GET", "/v1/hello", NULL, 0, NULL) == 403);
    gf_https_client_close(b);
}

/* Writes a site kit in dir whose certificate, issued by p1's CA to `name`
 * for client authentication, expires `seconds` from now; 0 on success. */
static int short_lived_kit(const char *dir, const char *name, int seconds, time_t *not_after)
{
    char path[256];
    gnutls_datum_t ca_pem = {0}, cakey_pem = {0}, out = {0};
    gnutls_x509_crt_t ca = NULL, crt = NULL;
    gnutls_x509_privkey_t cakey = NULL, key = NULL;
    time_t now = time(NULL);
    unsigned char serial[8] = {0x7e, 1, 2, 3, 4, 5, 6, 7};
    int rc = mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/ca/ca.crt", p1);
    rc = rc || gnutls_load_file(path, &ca_pem) < 0;
    snprintf(path, sizeof path, "%s/ca/ca.key", p1);
    rc = rc || gnutls_load_file(path, &cakey_pem) < 0;
    rc = rc || gnutls_x509_crt_init(&ca) < 0 || gnutls_x509_crt_import(ca, &ca_pem, GNUTLS_X509_FMT_PEM) < 0;
    rc = rc || gnutls_x509_privkey_init(&cakey) < 0 ||
         gnutls_x509_privkey_import(cakey, &cakey_pem, GNUTLS_X509_FMT_PEM) < 0;
    rc = rc || gnutls_x509_privkey_init(&key) < 0 ||
         gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0;
    rc = rc || gnutls_x509_crt_init(&crt) < 0 || gnutls_x509_crt_set_version(crt, 3) < 0 ||
         gnutls_x509_crt_set_serial(crt, serial, sizeof serial) < 0 ||
         gnutls_x509_crt_set_activation_time(crt, now - 60) < 0 ||
         gnutls_x509_crt_set_expiration_time(crt, *not_after = now + seconds) < 0 ||
         gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, name, (unsigned)strlen(name)) < 0 ||
         gnutls_x509_crt_set_key(crt, key) < 0 || gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0 ||
         gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
         gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0) < 0 ||
         gnutls_x509_crt_sign2(crt, ca, cakey, GNUTLS_DIG_SHA256, 0) < 0;
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, GF_PKI_SITE_CRT);
    rc = rc || gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out) < 0 || !(f = fopen(path, "w")) ||
         fwrite(out.data, 1, out.size, f) != out.size || fclose(f);
    gnutls_free(out.data);
    out.data = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, GF_PKI_SITE_KEY);
    rc = rc || gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &out) < 0 || !(f = fopen(path, "w")) ||
         fwrite(out.data, 1, out.size, f) != out.size || fclose(f);
    gnutls_free(out.data);
    char ca_src[256];
    snprintf(ca_src, sizeof ca_src, "%s/%s", kit_a, GF_PKI_SITE_CA);
    snprintf(path, sizeof path, "%s/%s", dir, GF_PKI_SITE_CA);
    rc = rc || link(ca_src, path) != 0;
    gnutls_free(ca_pem.data);
    gnutls_free(cakey_pem.data);
    gnutls_x509_crt_deinit(ca);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(cakey);
    gnutls_x509_privkey_deinit(key);
    return rc;
}

/* A certificate is verified in full once per connection; later requests on
 * it check its expiry: one that expires while the connection is kept alive
 * is refused from then on, on that connection and on a new one. */
static void test_expiry_on_connection(void)
{
    char dir[160];
    time_t not_after = 0;
    snprintf(dir, sizeof dir, "%s/shortlived", base);
    CHECK_MSG(short_lived_kit(dir, "shortlived", 3, &not_after) == 0, "cannot write the short-lived kit");
    gf_https_client *c = client(dir);
    json_t *j;
    CHECK(req(c, "GET", "/v1/hello", NULL, 0, &j) == 200 && !strcmp(jstr(j, "peer"), "shortlived"));
    json_decref(j);
    CHECK(req(c, "GET", "/v1/hello", NULL, 0, &j) == 200);   /* within its validity: the connection's check */
    json_decref(j);
    while (time(NULL) <= not_after + 1) usleep(100000);
    long before = gf_https_client_connections(c);
    int st = req(c, "GET", "/v1/hello", NULL, 0, &j);        /* the same kept-alive connection */
    CHECK_MSG(st == 403 && strstr(jstr(j, "error"), "expired"), "expired on a kept connection -> %d %s", st,
              jstr(j, "error"));
    CHECK_MSG(gf_https_client_connections(c) == before, "the request was not on the kept-alive connection");
    json_decref(j);
    gf_https_client_close(c);
    c = client(dir);
    CHECK(req(c, "GET", "/v1/hello", NULL, 0, NULL) == 403);
    gf_https_client_close(c);
}

static void test_garbage(gf_https_client *a, int port)
{
    static const char junk[][64] = {"\x16\x03\x01\xff\xff garbage", "GET / HTTP/1.1\r\n\r\n", "\x00\x01\x02\x03",
                                     "\x16\x03\x03\x00\x05\x01\x00\x00\x01\x00"};
    for (int i = 0; i < 4; i++) {
        int fd = tcp_connect(port);
        CHECK(fd >= 0);
        if (fd < 0) continue;
        CHECK(send(fd, junk[i], sizeof junk[i], MSG_NOSIGNAL) > 0);
        if (i & 1) {   /* wait for the server to hang up */
            struct timeval tv = {5, 0};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            char buf[256];
            while (recv(fd, buf, sizeof buf, 0) > 0) {}
        }
        close(fd);
    }
    int fd = tcp_connect(port);        /* connect and hang up at once */
    if (fd >= 0) close(fd);
    /* a client that vanishes in the middle of a 2 MiB response */
    json_t *j;
    CHECK(req(a, "GET", "/v1/after-garbage", NULL, 0, &j) == 200 && !strcmp(jstr(j, "peer"), "a"));
    json_decref(j);
}

typedef struct { int ok; } worker;
static void *work(void *arg)
{
    worker *w = arg;
    gf_https_client *c = NULL;
    if (gf_https_client_open(kit_a, url, &c)) return NULL;
    char body[1000];
    memset(body, 'q', sizeof body);
    for (int i = 0; i < 20; i++) {
        json_t *j = NULL;
        int st = 0;
        char *r = NULL;
        size_t n = 0;
        if (gf_https_request(c, "POST", "/v1/c", body, sizeof body, &st, &r, &n) == GF_OK && st == 200 &&
            (j = json_loadb(r, n, 0, NULL)) && json_integer_value(json_object_get(j, "len")) == 1000)
            w->ok++;
        json_decref(j);
        free(r);
    }
    gf_https_client_close(c);
    return NULL;
}

/* Deferred answers: from another thread later, or from the handler's own
 * thread before it returns; many at once; the server's stop waits for them. */
static long get_text(const char *path, char *out, size_t cap)
{
    char u[256];
    snprintf(u, sizeof u, "%s%s", url, path + 1);
    char key[200], crt[200];
    snprintf(key, sizeof key, "%s/site.key", kit_a);
    snprintf(crt, sizeof crt, "%s/site.crt", kit_a);
    CURLcode rc;
    long code = raw_curl(u, key, crt, &rc, out, cap);
    return rc == CURLE_OK ? code : -1;
}

typedef struct { char path[64]; long code; char text[64]; } deferred_call;
static void *deferred_thread(void *arg)
{
    deferred_call *d = arg;
    d->code = get_text(d->path, d->text, sizeof d->text);
    return NULL;
}

static void test_deferred(void)
{
    char text[64];
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    long code = get_text("/defer?ms=300&x=1", text, sizeof text);
    gettimeofday(&t1, NULL);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_usec - t0.tv_usec) / 1e3;
    CHECK_MSG(code == 202 && !strcmp(text, "later:1") && ms >= 290, "deferred -> %ld \"%s\" after %.0f ms", code, text, ms);
    code = get_text("/defer-now?x=2", text, sizeof text);
    CHECK_MSG(code == 202 && !strcmp(text, "later:2"), "answered before the handler returned -> %ld \"%s\"", code, text);
    /* 12 at once: more than the idle handler threads kept, each answered */
    enum { N = 12 };
    deferred_call calls[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        snprintf(calls[i].path, sizeof calls[i].path, "/defer?ms=%d&x=%d", 50 * (i % 4), i);
        pthread_create(&th[i], NULL, deferred_thread, &calls[i]);
    }
    int good = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        char want[32];
        snprintf(want, sizeof want, "later:%d", i);
        good += calls[i].code == 202 && !strcmp(calls[i].text, want);
    }
    CHECK_MSG(good == N, "%d of %d concurrent deferred requests answered", good, N);
}

/* The server's stop waits for a deferred request's answer (whether the
 * answer still reaches the client before the connection closes is not
 * promised). */
static void test_stop_waits_for_deferred(void)
{
    gf_https_server *s = start(0, 2, 1 << 20);
    deferred_call call = { .path = "/defer?ms=600&x=stop" };
    pthread_t t;
    int before = __atomic_load_n(&deferred_count, __ATOMIC_RELAXED);
    pthread_create(&t, NULL, deferred_thread, &call);
    for (int i = 0; i < 2000 && __atomic_load_n(&deferred_count, __ATOMIC_RELAXED) == before; i++)
        usleep(5 * 1000);               /* until the request is in, deferred (not a guess at how long that takes) */
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    gf_https_stop(s);
    gettimeofday(&t1, NULL);
    pthread_join(t, NULL);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_usec - t0.tv_usec) / 1e3;
    CHECK_MSG((call.code == 202 || call.code == -1) && ms >= 250,
              "stop with a deferred request: %ld \"%s\", stop took %.0f ms", call.code, call.text, ms);
}

/* New connections go to the event thread that serves the fewest: 4 kept-
 * alive connections on a pool of 2 are 2 and 2 (the admission callback
 * runs on the connection's event thread), one after the other and all at
 * once. With libmicrohttpd's own accept, whichever thread woke first took
 * each one. */
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t seen_thread[16];
static void *seen_conn[16];
static int nseen;
static void admit_seen(void *ctx, const gf_http_request *req, gf_http_admission *a)
{
    pthread_mutex_lock(&seen_mu);
    int k = 0;
    while (k < nseen && seen_conn[k] != req->conn) k++;
    if (k == nseen && nseen < 16) seen_conn[nseen] = req->conn, seen_thread[nseen++] = pthread_self();
    pthread_mutex_unlock(&seen_mu);
    a->max_body = 1 << 20;
    a->authenticated = 1;
}

typedef struct { gf_https_client *c; int status; } spread_call;
static void *spread_thread(void *arg)
{
    spread_call *sc = arg;
    sc->status = req(sc->c, "GET", "/v1/spread", NULL, 0, NULL);
    return NULL;
}

static void test_spread(void)
{
    gf_https_config cfg = {.pki_dir = p1, .listen_host = "127.0.0.1", .max_body = 1 << 20, .threads = 2,
                           .handler = echo, .admit = admit_seen, .log = count_log};
    gf_https_server *s = NULL;
    CHECK(gf_https_start(&cfg, &s) == GF_OK);
    if (!s) return;
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", gf_https_port(s));
    for (int round = 0; round < 4; round++) {      /* connections closed in between: counted down again */
        pthread_mutex_lock(&seen_mu);
        nseen = 0;
        pthread_mutex_unlock(&seen_mu);
        gf_https_client *c[4];
        if (round < 3) {                           /* one after the other */
            for (int i = 0; i < 4; i++) {
                c[i] = client(kit_a);
                CHECK(req(c[i], "GET", "/v1/spread", NULL, 0, NULL) == 200);
            }
        } else {                                   /* all at once: accepted in one burst */
            spread_call sc[4];
            pthread_t th[4];
            for (int i = 0; i < 4; i++) {
                sc[i] = (spread_call){ client(kit_a), 0 };
                pthread_create(&th[i], NULL, spread_thread, &sc[i]);
            }
            for (int i = 0; i < 4; i++) {
                pthread_join(th[i], NULL);
                c[i] = sc[i].c;
                CHECK(sc[i].status == 200);
            }
        }
        for (int i = 0; i < 4; i++) CHECK(req(c[i], "GET", "/v1/spread-again", NULL, 0, NULL) == 200);
        pthread_mutex_lock(&seen_mu);
        int same = 0, n = nseen;
        for (int i = 1; i < n; i++) same += pthread_equal(seen_thread[i], seen_thread[0]);
        pthread_mutex_unlock(&seen_mu);
        CHECK_MSG(n == 4 && same == 1, "round %d: %d connections, %d more on the first one's event thread "
                  "(want 4 and 1: two per thread)", round, n, same);
        for (int i = 0; i < 4; i++) gf_https_client_close(c[i]);
        usleep(100 * 1000);                        /* their close is seen by the server */
    }
    gf_https_stop(s);
}

static void test_concurrent(void)
{
    pthread_t t[6];
    worker w[6] = {{0}};
    for (int i = 0; i < 6; i++) CHECK(pthread_create(&t[i], NULL, work, &w[i]) == 0);
    int ok = 0;
    for (int i = 0; i < 6; i++) { pthread_join(t[i], NULL); ok += w[i].ok; }
    CHECK_MSG(ok == 120, "%d of 120 concurrent requests", ok);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    return remove(p);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(base, sizeof base, "/tmp/gf-https-XXXXXX");
    if (!mkdtemp(base)) { perror("mkdtemp"); return 1; }
    snprintf(p1, sizeof p1, "%s/p1", base);
    snprintf(p2, sizeof p2, "%s/p2", base);
    snprintf(kit_a, sizeof kit_a, "%s/sites/a", p1);
    snprintf(kit_b, sizeof kit_b, "%s/sites/b", p1);
    const char *sites[] = {"a", "b"};
    CHECK_MSG(gf_pki_create(p1, "127.0.0.1", sites, 2) == GF_OK, "%s", gf_last_error());
    CHECK_MSG(gf_pki_create(p2, "127.0.0.1", sites, 1) == GF_OK, "%s", gf_last_error());

    /* bad configurations */
    gf_https_server *s = NULL;
    gf_https_config bad = {.pki_dir = base, .handler = echo};
    CHECK(gf_https_start(&bad, &s) == GF_ERR_IO && strstr(gf_last_error(), "coordinator.key") && !s);
    bad.pki_dir = p1;
    bad.handler = NULL;
    CHECK(gf_https_start(&bad, &s) == GF_ERR_ARG && !s);

    s = start(0, 0, 2 << 20);
    int port = gf_https_port(s);
    gf_https_client *a = client(kit_a);
    /* the kit's own URL names port 8443: opening without an override reads it */
    gf_https_client *k = NULL;
    CHECK(gf_https_client_open(kit_a, NULL, &k) == GF_OK);
    gf_https_client_close(k);
    CHECK(gf_https_client_open(base, NULL, &k) == GF_ERR_IO && !k);
    CHECK(gf_https_client_open(kit_a, "http://127.0.0.1:1/", &k) == GF_ERR_ARG && !k);

    test_basic(a);
    test_tail(a);
    test_keepalive();
    test_expect_response(port);
    test_refusals();
    test_cipher_order(port);
    test_revocation(a);
    test_expiry_on_connection();
    test_garbage(a, port);
    test_concurrent();
    test_deferred();
    CHECK(__atomic_load_n(&log_lines, __ATOMIC_RELAXED) > 0);

    /* stop: the client gets a transport error; start again on the same port */
    gf_https_stop(s);
    int status;
    char *body;
    size_t len;
    CHECK(gf_https_request(a, "GET", "/v1/hello", NULL, 0, &status, &body, &len) == GF_ERR_IO &&
          strstr(gf_last_error(), "127.0.0.1"));
    s = start(port, 0, 2 << 20);
    CHECK(gf_https_port(s) == port);
    json_t *j;
    CHECK(req(a, "GET", "/v1/again", NULL, 0, &j) == 200 && !strcmp(jstr(j, "path"), "/v1/again"));
    json_decref(j);
    gf_https_stop(s);

    /* one body slot and a 1 s body deadline: a trickling upload is cut off and
     * the slot goes to the next one */
    {
        gf_https_config cfg = {.pki_dir = p1, .listen_host = "127.0.0.1", .max_body = 2 << 20,
                               .body_slots = 1, .body_timeout_s = 1, .handler = echo, .log = count_log};
        CHECK(gf_https_start(&cfg, &s) == GF_OK);
        snprintf(url, sizeof url, "https://127.0.0.1:%d/", gf_https_port(s));
        int before = __atomic_load_n(&log_lines, __ATOMIC_RELAXED);
        CURLcode rc;
        long code = chunked_upload_slow("a", 40000, 1000, 100000, &rc);    /* 4 s of trickle */
        CHECK_MSG(rc != CURLE_OK && code != 200, "trickling upload -> curl %d HTTP %ld", rc, code);
        CHECK(__atomic_load_n(&log_lines, __ATOMIC_RELAXED) > before);
        code = chunked_upload("a", 100000, &rc);
        CHECK_MSG(rc == CURLE_OK && code == 200, "next upload -> curl %d HTTP %ld", rc, code);
        gf_https_stop(s);
    }

    /* a thread pool instead of a thread per connection */
    s = start(0, 2, 100000);
    gf_https_client_close(a);
    a = client(kit_a);
    CHECK(req(a, "GET", "/v1/pool", NULL, 0, &j) == 200 && !strcmp(jstr(j, "peer"), "a"));
    json_decref(j);
    /* a body small enough that curl sends it at once (no Expect: 100-continue) */
    char *mid = calloc(1, 300000);
    int st = req(a, "POST", "/v1/update", mid, 300000, &j);
    CHECK_MSG(st == 413 && strstr(jstr(j, "error"), "limit"), "300 kB over a 100 kB limit -> %d", st);
    json_decref(j);
    free(mid);
    CHECK(req(a, "GET", "/v1/pool", NULL, 0, NULL) == 200);
    test_keepalive();
    test_concurrent();
    test_deferred();
    gf_https_client_close(a);
    gf_https_stop(s);
    test_stop_waits_for_deferred();
    test_spread();

    nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    curl_global_cleanup();
    return check_summary();
}
