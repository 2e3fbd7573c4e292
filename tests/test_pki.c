/* TLS identities: provisioning layout and modes, certificate profiles,
 * verification against the CA (and not against another CA), real TLS 1.3
 * mutual-auth handshakes over a socketpair, add-site, revocation through the
 * CRL, and refusal to provision twice. */
#include "net/pki.h"

#include <dirent.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include "check.h"

static char base[64];

static const char *path(const char *a, const char *b)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, 512, "%s/%s%s%s", base, a, b ? "/" : "", b ? b : "");
    return p;
}

static int mode_of(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (int)(sb.st_mode & 0777) : -1;
}

static int exists(const char *p)
{
    struct stat sb;
    return lstat(p, &sb) == 0;
}

static char *slurp(const char *p)
{
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    char *s = calloc(1, 65536);
    if (s) fread(s, 1, 65535, f);
    fclose(f);
    return s;
}

static gnutls_x509_crt_t load_crt(const char *p)
{
    gnutls_datum_t d = {0};
    gnutls_x509_crt_t c = NULL;
    if (gnutls_load_file(p, &d) < 0) return NULL;
    if (gnutls_x509_crt_init(&c) < 0 || gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_PEM) < 0) {
        if (c) gnutls_x509_crt_deinit(c);
        c = NULL;
    }
    gnutls_free(d.data);
    return c;
}

static int cn_is(gnutls_x509_crt_t c, const char *want)
{
    char cn[128];
    size_t n = sizeof cn;
    return c && gnutls_x509_crt_get_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &n) >= 0 &&
           !strcmp(cn, want);
}

/* 1 if the certificate's extended key usage is exactly `oid`. */
static int eku_is(gnutls_x509_crt_t c, const char *oid)
{
    char buf[128];
    size_t n = sizeof buf;
    if (!c || gnutls_x509_crt_get_key_purpose_oid(c, 0, buf, &n, NULL) < 0 || strcmp(buf, oid)) return 0;
    n = sizeof buf;
    return gnutls_x509_crt_get_key_purpose_oid(c, 1, buf, &n, NULL) == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE;
}

static unsigned long serial_of(gnutls_x509_crt_t c)
{
    unsigned char b[32];
    size_t n = sizeof b;
    unsigned long v = 0;
    if (!c || gnutls_x509_crt_get_serial(c, b, &n) < 0) return 0;
    for (size_t i = 0; i < n; i++) v = v << 8 | b[i];
    return v;
}

/* 1 if `crt_file` verifies against the CA in `ca_file`. */
static int verifies(const char *ca_file, const char *crt_file)
{
    gnutls_x509_trust_list_t tl;
    gnutls_x509_crt_t c = load_crt(crt_file);
    unsigned status = 1;
    if (!c || gnutls_x509_trust_list_init(&tl, 0) < 0) return 0;
    int ok = gnutls_x509_trust_list_add_trust_file(tl, ca_file, NULL, GNUTLS_X509_FMT_PEM, 0, 0) == 1 &&
             gnutls_x509_trust_list_verify_crt(tl, &c, 1, 0, &status, NULL) >= 0 && status == 0;
    gnutls_x509_trust_list_deinit(tl, 1);
    gnutls_x509_crt_deinit(c);
    return ok;
}

static int has_tmp_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    if (!d) return 0;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp")) found = 1;
    closedir(d);
    return found;
}

#define CHECK_ERR(call, want_st, word) do { gf_status st_ = (call); \
    CHECK_MSG(st_ == (want_st) && strstr(gf_last_error(), word), "%s -> %d \"%s\" (want \"%s\")", \
              #call, st_, gf_last_error(), word); } while (0)

/* ---- handshakes ------------------------------------------------------------ */

typedef struct {
    int                              fd;
    gnutls_certificate_credentials_t creds;
    gf_pki_crl                      *crl;
    int                              no_ca_list;
    int                              hs, version;
    gf_status                        name_st, crl_st;
    char                             name[80];
} server_ctx;

static void *server_main(void *arg)
{
    server_ctx *x = arg;
    gnutls_session_t s;
    x->hs = GNUTLS_E_INTERNAL_ERROR;
    x->name_st = x->crl_st = GF_ERR_ARG;
    if (gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NO_SIGNAL) < 0) return NULL;
    if (gf_pki_session_setup(s, x->creds, NULL) == GF_OK) {
        if (x->no_ca_list) gnutls_certificate_send_x509_rdn_sequence(s, 1);
        gnutls_transport_set_int(s, x->fd);
        gnutls_handshake_set_timeout(s, 10000);
        int rc;
        do rc = gnutls_handshake(s); while (rc < 0 && !gnutls_error_is_fatal(rc));
        x->hs = rc;
        if (rc == 0) {
            x->version = gnutls_protocol_get_version(s);
            x->name_st = gf_pki_peer_name(s, x->name, sizeof x->name);
            x->crl_st = x->crl ? gf_pki_crl_check(x->crl, s) : GF_OK;
            const char *reply = x->name_st == GF_OK && x->crl_st == GF_OK ? "ok" : "no";
            gnutls_record_send(s, reply, 2);
            gnutls_bye(s, GNUTLS_SHUT_WR);
        }
    }
    gnutls_deinit(s);
    shutdown(x->fd, SHUT_RDWR);
    return NULL;
}

typedef struct {
    server_ctx srv;
    int        client_hs;
    char       reply[3];      /* what the server said after its checks */
    char       peer[80];      /* the client's view of the server's name */
} hs_result;

/* One handshake: the coordinator of `dir` against a client holding
 * key/crt (NULL: no certificate) that trusts `ca` and expects `host`. */
static void handshake(const char *dir, const char *key, const char *crt, const char *ca, const char *host,
                      gf_pki_crl *crl, int no_ca_list, hs_result *r)
{
    char k[512], c[512], a[512];
    memset(r, 0, sizeof *r);
    r->client_hs = GNUTLS_E_INTERNAL_ERROR;
    snprintf(k, sizeof k, "%s/%s", dir, GF_PKI_COORD_KEY);
    snprintf(c, sizeof c, "%s/%s", dir, GF_PKI_COORD_CRT);
    snprintf(a, sizeof a, "%s/%s", dir, GF_PKI_COORD_CA);
    gnutls_certificate_credentials_t sc = NULL, cc = NULL;
    int sv[2];
    CHECK(gf_pki_creds_load(k, c, a, &sc) == GF_OK);
    CHECK(gf_pki_creds_load(key, crt, ca, &cc) == GF_OK);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    if (!sc || !cc) goto out;
    r->srv = (server_ctx){.fd = sv[0], .creds = sc, .crl = crl, .no_ca_list = no_ca_list};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, server_main, &r->srv) == 0);

    gnutls_session_t s;
    CHECK(gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL) >= 0);
    CHECK(gf_pki_session_setup(s, cc, host) == GF_OK);
    gnutls_transport_set_int(s, sv[1]);
    gnutls_handshake_set_timeout(s, 10000);
    int rc;
    do rc = gnutls_handshake(s); while (rc < 0 && !gnutls_error_is_fatal(rc));
    r->client_hs = rc;
    if (rc == 0) {
        if (gf_pki_peer_name(s, r->peer, sizeof r->peer) != GF_OK) r->peer[0] = 0;
        ssize_t n;
        do n = gnutls_record_recv(s, r->reply, 2); while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
        if (n != 2) r->reply[0] = 0;
        r->reply[2] = 0;
    }
    gnutls_deinit(s);
    shutdown(sv[1], SHUT_RDWR);
    pthread_join(t, NULL);
    if (getenv("GF_TEST_VERBOSE"))
        fprintf(stderr, "handshake %s: client \"%s\" server \"%s\" version %d name \"%s\" reply \"%s\"\n",
                crt ? crt : "(no certificate)", gnutls_strerror(r->client_hs), gnutls_strerror(r->srv.hs),
                r->srv.version, r->srv.name, r->reply);
    close(sv[0]);
    close(sv[1]);
out:
    if (sc) gnutls_certificate_free_credentials(sc);
    if (cc) gnutls_certificate_free_credentials(cc);
}

/* A site of provisioning `dir` connecting to the coordinator of `coord`. */
static void site_handshake(const char *coord, const char *dir, const char *site, const char *host,
                           gf_pki_crl *crl, hs_result *r)
{
    char k[512], c[512], a[512];
    snprintf(k, sizeof k, "%s/sites/%s/site.key", dir, site);
    snprintf(c, sizeof c, "%s/sites/%s/site.crt", dir, site);
    snprintf(a, sizeof a, "%s/%s", coord, GF_PKI_COORD_CA);   /* trusts the real coordinator */
    handshake(coord, k, c, a, host, crl, 0, r);
}

static int accepted(const hs_result *r, const char *site)
{
    return r->client_hs == 0 && r->srv.hs == 0 && r->srv.version == GNUTLS_TLS1_3 &&
           r->srv.name_st == GF_OK && !strcmp(r->srv.name, site) && !strcmp(r->peer, GF_PKI_COORDINATOR) &&
           !strcmp(r->reply, "ok");
}

/* ---- the tests ------------------------------------------------------------- */

static void test_create(const char *d1)
{
    const char *sites[] = {"a", "b", "site-3"};
    CHECK_MSG(gf_pki_create(d1, "127.0.0.1:9443", sites, 3) == GF_OK, "%s", gf_last_error());
    CHECK(mode_of(d1) == 0700);
    const char *dirs[] = {"ca", "coordinator", "sites", "sites/a", "sites/b", "sites/site-3"};
    for (int i = 0; i < 6; i++) CHECK_MSG(mode_of(path("p1", dirs[i])) == 0700, "%s", dirs[i]);
    const char *keys[] = {GF_PKI_CA_KEY, GF_PKI_COORD_KEY, "sites/a/site.key", "sites/b/site.key",
                          "sites/site-3/site.key"};
    for (int i = 0; i < 5; i++) CHECK_MSG(mode_of(path("p1", keys[i])) == 0600, "%s", keys[i]);
    const char *pub[] = {GF_PKI_CA_CRT, GF_PKI_CA_CRL, GF_PKI_COORD_CRT, GF_PKI_COORD_CA, GF_PKI_COORD_CRL,
                         "sites/a/site.crt", "sites/a/ca.crt", "sites/a/coordinator.url"};
    for (int i = 0; i < 8; i++) CHECK_MSG(mode_of(path("p1", pub[i])) == 0644, "%s", pub[i]);
    CHECK(mode_of(path("p1", GF_PKI_STATE)) == 0600);
    CHECK(!has_tmp_entries(base) && !has_tmp_entries(path("p1", "sites")) && !has_tmp_entries(path("p1", "ca")));

    char *url = slurp(path("p1", "sites/b/coordinator.url"));
    CHECK(url && !strcmp(url, "https://127.0.0.1:9443/\n"));
    free(url);
    char *a = slurp(path("p1", GF_PKI_CA_CRT)), *b = slurp(path("p1", "sites/a/ca.crt"));
    CHECK(a && b && !strcmp(a, b));
    free(a);
    free(b);

    /* profiles */
    gnutls_x509_crt_t ca = load_crt(path("p1", GF_PKI_CA_CRT));
    gnutls_x509_crt_t co = load_crt(path("p1", GF_PKI_COORD_CRT));
    gnutls_x509_crt_t sa = load_crt(path("p1", "sites/a/site.crt"));
    gnutls_x509_crt_t s3 = load_crt(path("p1", "sites/site-3/site.crt"));
    CHECK(ca && co && sa && s3);
    if (!(ca && co && sa && s3)) return;
    unsigned crit = 0, usage = 0;
    CHECK(gnutls_x509_crt_get_ca_status(ca, &crit) == 1);
    CHECK(gnutls_x509_crt_get_ca_status(sa, &crit) == 0);
    CHECK(gnutls_x509_crt_get_key_usage(ca, &usage, &crit) >= 0 &&
          usage == (GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN));
    CHECK(gnutls_x509_crt_get_key_usage(co, &usage, &crit) >= 0 && usage == GNUTLS_KEY_DIGITAL_SIGNATURE);
    CHECK(gnutls_x509_crt_get_pk_algorithm(sa, NULL) == GNUTLS_PK_ECDSA);
    CHECK(cn_is(co, "coordinator") && cn_is(sa, "a") && cn_is(s3, "site-3"));
    CHECK(eku_is(co, GNUTLS_KP_TLS_WWW_SERVER));
    CHECK(eku_is(sa, GNUTLS_KP_TLS_WWW_CLIENT) && eku_is(s3, GNUTLS_KP_TLS_WWW_CLIENT));
    unsigned char ip[16];
    size_t n = sizeof ip;
    CHECK(gnutls_x509_crt_get_subject_alt_name(co, 0, ip, &n, NULL) == GNUTLS_SAN_IPADDRESS &&
          n == 4 && ip[0] == 127 && ip[3] == 1);
    CHECK(gnutls_x509_crt_check_hostname(co, "127.0.0.1"));
    CHECK(!gnutls_x509_crt_check_hostname(co, "127.0.0.2"));
    CHECK(serial_of(ca) == 1 && serial_of(co) == 2 && serial_of(sa) == 3 && serial_of(s3) == 5);
    unsigned char ski[64], aki[64];
    size_t skn = sizeof ski, akn = sizeof aki;
    CHECK(gnutls_x509_crt_get_subject_key_id(ca, ski, &skn, &crit) >= 0 &&
          gnutls_x509_crt_get_authority_key_id(sa, aki, &akn, &crit) >= 0 && skn == akn && !memcmp(ski, aki, skn));
    skn = sizeof ski;
    CHECK(gnutls_x509_crt_get_subject_key_id(sa, ski, &skn, &crit) >= 0 && skn == 20);
    time_t exp = gnutls_x509_crt_get_expiration_time(ca), now = time(NULL);
    CHECK(exp > now + 9 * 365 * 86400L && exp < now + 11 * 365 * 86400L);
    exp = gnutls_x509_crt_get_expiration_time(sa);
    CHECK(exp > now + 365 * 86400L && exp < now + 3 * 365 * 86400L);
    gnutls_x509_crt_deinit(ca);
    gnutls_x509_crt_deinit(co);
    gnutls_x509_crt_deinit(sa);
    gnutls_x509_crt_deinit(s3);

    CHECK(verifies(path("p1", GF_PKI_CA_CRT), path("p1", GF_PKI_COORD_CRT)));
    for (int i = 0; i < 3; i++) {
        char p[64];
        snprintf(p, sizeof p, "sites/%s/site.crt", sites[i]);
        CHECK_MSG(verifies(path("p1", GF_PKI_CA_CRT), path("p1", p)), "%s", p);
    }

    json_error_t je;
    json_t *st = json_load_file(path("p1", GF_PKI_STATE), 0, &je);
    CHECK(st && json_integer_value(json_object_get(st, "next_serial")) == 7 && json_integer_value(json_object_get(json_object_get(st, "issued"), "operator")) == 6 &&
          json_integer_value(json_object_get(json_object_get(st, "issued"), "b")) == 4 &&
          json_array_size(json_object_get(st, "revoked")) == 0);
    json_decref(st);
}

static void test_second_ca(const char *d1, const char *d2)
{
    const char *sites[] = {"a"};
    CHECK_MSG(gf_pki_create(d2, "Coord.Example.org", sites, 1) == GF_OK, "%s", gf_last_error());
    char *url = slurp(path("p2", "sites/a/coordinator.url"));
    CHECK(url && !strcmp(url, "https://coord.example.org:8443/\n"));
    free(url);
    gnutls_x509_crt_t co = load_crt(path("p2", GF_PKI_COORD_CRT));
    char san[256];
    size_t n = sizeof san;
    CHECK(co && gnutls_x509_crt_get_subject_alt_name(co, 0, san, &n, NULL) == GNUTLS_SAN_DNSNAME &&
          !strcmp(san, "coord.example.org"));
    if (co) gnutls_x509_crt_deinit(co);
    CHECK(verifies(path("p2", GF_PKI_CA_CRT), path("p2", "sites/a/site.crt")));
    CHECK(!verifies(path("p1", GF_PKI_CA_CRT), path("p2", "sites/a/site.crt")));
    CHECK(!verifies(path("p1", GF_PKI_CA_CRT), path("p2", GF_PKI_COORD_CRT)));
    CHECK(!verifies(path("p2", GF_PKI_CA_CRT), path("p1", "sites/a/site.crt")));
}

static void test_handshakes(const char *d1, const char *d2)
{
    hs_result r;
    site_handshake(d1, d1, "a", "127.0.0.1", NULL, &r);
    CHECK_MSG(accepted(&r, "a"), "client %d server %d v%d name \"%s\" (%s) peer \"%s\"", r.client_hs, r.srv.hs,
              r.srv.version, r.srv.name, r.srv.name_st ? gf_last_error() : "ok", r.peer);
    site_handshake(d1, d1, "site-3", "127.0.0.1", NULL, &r);
    CHECK(accepted(&r, "site-3"));

    /* a site of another CA: refused whether or not the server lists its CA */
    for (int no_list = 0; no_list < 2; no_list++) {
        char k[512], c[512];
        snprintf(k, sizeof k, "%s/sites/a/site.key", d2);
        snprintf(c, sizeof c, "%s/sites/a/site.crt", d2);
        handshake(d1, k, c, path("p1", GF_PKI_COORD_CA), "127.0.0.1", NULL, no_list, &r);
        CHECK_MSG(r.srv.hs < 0 && strcmp(r.reply, "ok"), "other CA (no CA list %d): server %d", no_list, r.srv.hs);
    }
    /* no certificate at all */
    handshake(d1, NULL, NULL, path("p1", GF_PKI_COORD_CA), "127.0.0.1", NULL, 0, &r);
    CHECK_MSG(r.srv.hs < 0 && strcmp(r.reply, "ok"), "no cert: server %d", r.srv.hs);
    /* the coordinator's own certificate is no client certificate (serverAuth only) */
    handshake(d1, path("p1", GF_PKI_COORD_KEY), path("p1", GF_PKI_COORD_CRT), path("p1", GF_PKI_COORD_CA),
              "127.0.0.1", NULL, 1, &r);
    CHECK_MSG(r.srv.hs < 0 && strcmp(r.reply, "ok"), "coordinator cert as client: server %d", r.srv.hs);
    /* the site refuses a server that does not carry the expected address */
    site_handshake(d1, d1, "a", "127.0.0.2", NULL, &r);
    CHECK(r.client_hs < 0 && strcmp(r.reply, "ok"));
    site_handshake(d1, d1, "a", "coord.example.org", NULL, &r);
    CHECK(r.client_hs < 0);
}

static void test_add_site(const char *d1, const char *d2)
{
    CHECK_MSG(gf_pki_add_site(d1, "new-site") == GF_OK, "%s", gf_last_error());
    CHECK(mode_of(path("p1", "sites/new-site")) == 0700 && mode_of(path("p1", "sites/new-site/site.key")) == 0600);
    CHECK(verifies(path("p1", GF_PKI_CA_CRT), path("p1", "sites/new-site/site.crt")));
    gnutls_x509_crt_t c = load_crt(path("p1", "sites/new-site/site.crt"));
    CHECK(cn_is(c, "new-site") && serial_of(c) == 7 && eku_is(c, GNUTLS_KP_TLS_WWW_CLIENT));
    if (c) gnutls_x509_crt_deinit(c);
    hs_result r;
    site_handshake(d1, d1, "new-site", "127.0.0.1", NULL, &r);
    CHECK(accepted(&r, "new-site"));

    char *before = slurp(path("p1", GF_PKI_STATE));
    CHECK_ERR(gf_pki_add_site(d1, "a"), GF_ERR_ARG, "already exists");
    CHECK_ERR(gf_pki_add_site(d1, "Bad_Name"), GF_ERR_ARG, "character 'B'");
    CHECK_ERR(gf_pki_add_site(d1, "coordinator"), GF_ERR_ARG, "reserved");
    CHECK_ERR(gf_pki_add_site(d1, ""), GF_ERR_ARG, "empty");
    CHECK_ERR(gf_pki_add_site(d1, "a.b"), GF_ERR_ARG, "character '.'");
    char longname[80];
    memset(longname, 'x', 65);
    longname[65] = 0;
    CHECK_ERR(gf_pki_add_site(d1, longname), GF_ERR_ARG, "at most 64");
    longname[64] = 0;
    CHECK_MSG(gf_pki_add_site(d1, longname) == GF_OK, "%s", gf_last_error());
    CHECK_ERR(gf_pki_add_site(path("nowhere", NULL), "x"), GF_ERR_ARG, "not provisioned");
    /* a stray folder not in state.json blocks the name, and nothing is half-written */
    CHECK(mkdir(path("p1", "sites/stray"), 0700) == 0);
    CHECK_ERR(gf_pki_add_site(d1, "stray"), GF_ERR_ARG, "does not list it");
    char *after = slurp(path("p1", GF_PKI_STATE));
    CHECK(before && after && strstr(after, longname) && !strstr(after, "stray"));
    CHECK(!has_tmp_entries(path("p1", "sites")) && !has_tmp_entries(path("p1", "ca")));
    free(before);
    free(after);
    rmdir(path("p1", "sites/stray"));
    (void)d2;
}

static void test_revoke(const char *d1)
{
    gf_pki_crl *crl = NULL;
    char floor_file[PATH_MAX];   /* the coordinator's record of the highest CRL number in force */
    snprintf(floor_file, sizeof floor_file, "%s", path("p1", "crl.number"));
    CHECK_MSG(gf_pki_crl_load(path("p1", GF_PKI_COORD_CRL), path("p1", GF_PKI_COORD_CA), floor_file, &crl) == GF_OK, "%s",
              gf_last_error());
    if (!crl) return;
    CHECK_ERR(gf_pki_crl_load(path("p1", GF_PKI_COORD_CRL), path("p2", GF_PKI_COORD_CA), NULL, &(gf_pki_crl *){0}),
              GF_ERR_FORMAT, "not signed by the CA");
    gnutls_x509_crt_t b = load_crt(path("p1", "sites/b/site.crt")), a = load_crt(path("p1", "sites/a/site.crt"));
    CHECK(a && b && gf_pki_crl_check_crt(crl, b) == GF_OK);
    hs_result r;
    site_handshake(d1, d1, "b", "127.0.0.1", crl, &r);
    CHECK(accepted(&r, "b") && r.srv.crl_st == GF_OK);

    CHECK_MSG(gf_pki_revoke(d1, "b") == GF_OK, "%s", gf_last_error());
    /* the CRL lists b's serial (4), is signed by the CA, same in both copies */
    gnutls_datum_t d = {0};
    gnutls_x509_crl_t x = NULL;
    CHECK(gnutls_load_file(path("p1", GF_PKI_CA_CRL), &d) >= 0);
    if (gnutls_x509_crl_init(&x) < 0) { CHECK(!"gnutls_x509_crl_init"); return; }
    CHECK(gnutls_x509_crl_import(x, &d, GNUTLS_X509_FMT_PEM) >= 0);
    unsigned char sn[16];
    size_t sl = sizeof sn;
    time_t t;
    CHECK(gnutls_x509_crl_get_crt_count(x) == 1);
    CHECK(gnutls_x509_crl_get_crt_serial(x, 0, sn, &sl, &t) >= 0 && sl == 1 && sn[0] == 4);
    CHECK(gnutls_x509_crl_get_next_update(x) > gnutls_x509_crl_get_this_update(x));
    gnutls_x509_crt_t ca = load_crt(path("p1", GF_PKI_CA_CRT));
    unsigned vs = 1;
    CHECK(ca && gnutls_x509_crl_verify(x, &ca, 1, 0, &vs) >= 0 && vs == 0);
    unsigned char num[16];
    size_t nl = sizeof num;
    unsigned crit;
    CHECK(gnutls_x509_crl_get_number(x, num, &nl, &crit) >= 0 && nl == 1 && num[0] == 2);
    if (ca) gnutls_x509_crt_deinit(ca);
    gnutls_x509_crl_deinit(x);
    gnutls_free(d.data);
    char *c1 = slurp(path("p1", GF_PKI_CA_CRL)), *c2 = slurp(path("p1", GF_PKI_COORD_CRL));
    CHECK(c1 && c2 && !strcmp(c1, c2));
    free(c1);
    free(c2);
    CHECK(mode_of(path("p1", GF_PKI_COORD_CRL)) == 0644);

    /* the coordinator picks up the new CRL without a restart */
    CHECK(gf_pki_crl_check_crt(crl, b) == GF_OK);          /* not yet refreshed */
    CHECK(gf_pki_crl_refresh(crl) == GF_OK);
    CHECK_ERR(gf_pki_crl_check_crt(crl, b), GF_ERR_MISMATCH, "\"b\" (serial 04) is revoked");
    CHECK(gf_pki_crl_check_crt(crl, a) == GF_OK);
    const char *others[] = {"sites/site-3/site.crt", "sites/new-site/site.crt", GF_PKI_COORD_CRT};
    for (int i = 0; i < 3; i++) {
        gnutls_x509_crt_t o = load_crt(path("p1", others[i]));
        CHECK_MSG(o && gf_pki_crl_check_crt(crl, o) == GF_OK, "%s", others[i]);
        if (o) gnutls_x509_crt_deinit(o);
    }
    site_handshake(d1, d1, "b", "127.0.0.1", crl, &r);
    CHECK(r.srv.hs == 0 && r.srv.crl_st == GF_ERR_MISMATCH && !strcmp(r.reply, "no"));
    site_handshake(d1, d1, "a", "127.0.0.1", crl, &r);
    CHECK(accepted(&r, "a") && r.srv.crl_st == GF_OK);

    CHECK_ERR(gf_pki_revoke(d1, "zz"), GF_ERR_ARG, "no site \"zz\"");
    CHECK_ERR(gf_pki_revoke(d1, "b"), GF_ERR_ARG, "already revoked");
    CHECK_ERR(gf_pki_revoke(d1, "coordinator"), GF_ERR_ARG, "reserved");
    CHECK_ERR(gf_pki_add_site(d1, "b"), GF_ERR_ARG, "revoked");

    /* a second revocation keeps the first */
    char *older = slurp(path("p1", GF_PKI_COORD_CRL));     /* CRL number 2: revokes b only */
    CHECK(gf_pki_revoke(d1, "site-3") == GF_OK);
    CHECK(gf_pki_crl_refresh(crl) == GF_OK);
    CHECK(gf_pki_crl_check_crt(crl, b) == GF_ERR_MISMATCH && gf_pki_crl_check_crt(crl, a) == GF_OK);
    gnutls_x509_crt_t s3 = load_crt(path("p1", "sites/site-3/site.crt"));
    CHECK(s3 && gf_pki_crl_check_crt(crl, s3) == GF_ERR_MISMATCH);
    /* an older CRL (validly signed) copied back must not un-revoke site-3 */
    if (older) {
        char *newer = slurp(path("p1", GF_PKI_COORD_CRL));
        FILE *f = fopen(path("p1", GF_PKI_COORD_CRL), "w");
        CHECK(f && fputs(older, f) >= 0 && fclose(f) == 0);
        CHECK_ERR(gf_pki_crl_refresh(crl), GF_ERR_MISMATCH, "CRL number 2 is older than the 3 in force");
        CHECK(s3 && gf_pki_crl_check_crt(crl, s3) == GF_ERR_MISMATCH);
        /* nor after a restart: the floor file remembers number 3 */
        char *fl = slurp(floor_file);
        CHECK(fl && !strcmp(fl, "3\n"));
        free(fl);
        gf_pki_crl *fresh = NULL;
        CHECK_ERR(gf_pki_crl_load(path("p1", GF_PKI_COORD_CRL), path("p1", GF_PKI_COORD_CA), floor_file, &fresh),
                  GF_ERR_MISMATCH, "CRL number 2 is older than the 3 last in force");
        CHECK(fresh == NULL);
        /* without a floor file there is nothing to compare against */
        CHECK(gf_pki_crl_load(path("p1", GF_PKI_COORD_CRL), path("p1", GF_PKI_COORD_CA), NULL, &fresh) == GF_OK);
        gf_pki_crl_free(fresh);
        fresh = NULL;
        /* a damaged floor file stops the start instead of being reset */
        FILE *ff = fopen(floor_file, "w");
        CHECK(ff && fputs("x3\n", ff) >= 0 && fclose(ff) == 0);
        CHECK_ERR(gf_pki_crl_load(path("p1", GF_PKI_COORD_CRL), path("p1", GF_PKI_COORD_CA), floor_file, &fresh),
                  GF_ERR_FORMAT, "not a CRL number");
        ff = fopen(floor_file, "w");
        CHECK(ff && fputs("3\n", ff) >= 0 && fclose(ff) == 0);
        f = fopen(path("p1", GF_PKI_COORD_CRL), "w");      /* the newer one back */
        CHECK(f && newer && fputs(newer, f) >= 0 && fclose(f) == 0);
        CHECK(gf_pki_crl_refresh(crl) == GF_OK && s3 && gf_pki_crl_check_crt(crl, s3) == GF_ERR_MISMATCH);
        free(newer);
        free(older);
    } else {
        CHECK(!"could not read the CRL");
    }
    if (s3) gnutls_x509_crt_deinit(s3);
    json_error_t je;
    json_t *st = json_load_file(path("p1", GF_PKI_STATE), 0, &je);
    CHECK(st && json_array_size(json_object_get(st, "revoked")) == 2 &&
          json_integer_value(json_object_get(st, "crl_number")) == 3);
    json_decref(st);
    /* a broken CRL file leaves the old list in force */
    FILE *f = fopen(path("p1", GF_PKI_COORD_CRL), "w");
    if (f) { fputs("garbage\n", f); fclose(f); }
    CHECK(gf_pki_crl_refresh(crl) != GF_OK);
    CHECK(gf_pki_crl_check_crt(crl, b) == GF_ERR_MISMATCH);
    if (a) gnutls_x509_crt_deinit(a);
    if (b) gnutls_x509_crt_deinit(b);
    gf_pki_crl_free(crl);
}

static void test_refuse(const char *d1)
{
    const char *sites[] = {"x"};
    char *before = slurp(path("p1", GF_PKI_STATE));
    char *ca_before = slurp(path("p1", GF_PKI_CA_KEY));
    CHECK_ERR(gf_pki_create(d1, "127.0.0.1", sites, 1), GF_ERR_ARG, "already provisioned");
    char d1slash[512];
    snprintf(d1slash, sizeof d1slash, "%s/", d1);
    CHECK_ERR(gf_pki_create(d1slash, "127.0.0.1", sites, 1), GF_ERR_ARG, "already provisioned");
    char *after = slurp(path("p1", GF_PKI_STATE)), *ca_after = slurp(path("p1", GF_PKI_CA_KEY));
    CHECK(before && after && !strcmp(before, after) && ca_before && ca_after && !strcmp(ca_before, ca_after));
    CHECK(!exists(path("p1", "sites/x")) && !has_tmp_entries(base));
    free(before);
    free(after);
    free(ca_before);
    free(ca_after);

    /* bad arguments: nothing is created */
    const char *dup[] = {"a", "a"}, *res[] = {"coordinator"}, *bad[] = {"ok", "Not-OK"}, *host[] = {"gf"};
    CHECK_ERR(gf_pki_create(path("p3", NULL), "h", dup, 2), GF_ERR_ARG, "twice");
    CHECK_ERR(gf_pki_create(path("p3", NULL), "h", res, 1), GF_ERR_ARG, "reserved");
    CHECK_ERR(gf_pki_create(path("p3", NULL), "h", bad, 2), GF_ERR_ARG, "Not-OK");
    CHECK_ERR(gf_pki_create(path("p3", NULL), "gf:9000", host, 1), GF_ERR_ARG, "host name");
    CHECK_ERR(gf_pki_create(path("p3", NULL), "h:0", NULL, 0), GF_ERR_ARG, "port");
    CHECK_ERR(gf_pki_create(path("p3", NULL), "h:99999", NULL, 0), GF_ERR_ARG, "port");
    CHECK_ERR(gf_pki_create(path("p3", NULL), "bad host!", NULL, 0), GF_ERR_ARG, "neither");
    CHECK_ERR(gf_pki_create(path("p3", NULL), "", NULL, 0), GF_ERR_ARG, "empty");
    CHECK_ERR(gf_pki_create(path("nodir", "p3"), "h", NULL, 0), GF_ERR_IO, "nodir");
    CHECK(!exists(path("p3", NULL)) && !has_tmp_entries(base));

    /* a non-empty folder without a CA is refused; an empty one is used */
    CHECK(mkdir(path("p4", NULL), 0755) == 0 && mkdir(path("p4", "junk"), 0755) == 0);
    CHECK_ERR(gf_pki_create(path("p4", NULL), "h", NULL, 0), GF_ERR_ARG, "not empty");
    rmdir(path("p4", "junk"));
    CHECK_MSG(gf_pki_create(path("p4", NULL), "[::1]:7000", NULL, 0) == GF_OK, "%s", gf_last_error());
    CHECK(mode_of(path("p4", NULL)) == 0700 && exists(path("p4", GF_PKI_STATE)));
    gnutls_x509_crt_t co = load_crt(path("p4", GF_PKI_COORD_CRT));
    CHECK(co && gnutls_x509_crt_check_hostname(co, "::1"));
    if (co) gnutls_x509_crt_deinit(co);
    CHECK(gf_pki_add_site(path("p4", NULL), "late") == GF_OK);
    char *url = slurp(path("p4", "sites/late/coordinator.url"));
    CHECK(url && !strcmp(url, "https://[::1]:7000/\n"));
    free(url);
}

static int rm_one(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    return remove(p);
}

int main(void)
{
    umask(022);
    gnutls_global_init();
    snprintf(base, sizeof base, "/tmp/gf-pki-XXXXXX");
    if (!mkdtemp(base)) { perror("mkdtemp"); return 1; }
    alarm(300);
    char d1[128], d2[128];
    snprintf(d1, sizeof d1, "%s/p1", base);
    snprintf(d2, sizeof d2, "%s/p2", base);

    CHECK(gf_pki_check_name("a") == GF_OK && gf_pki_check_name("0-x") == GF_OK);
    test_create(d1);
    test_second_ca(d1, d2);
    test_handshakes(d1, d2);
    test_add_site(d1, d2);
    test_revoke(d1);
    test_refuse(d1);

    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    gnutls_global_deinit();
    return check_summary();
}
