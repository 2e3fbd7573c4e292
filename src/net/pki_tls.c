/* TLS sessions between the coordinator and sites: credentials, session
 * setup (TLS 1.3, mutual certificates), the verified peer's name, and the
 * revocation list the coordinator re-reads without a restart. See pki.h. */
#include "net/pki.h"
#include "net/pki_internal.h"
#include "core/fsutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

/* ---- TLS sessions ---------------------------------------------------------- */

gf_status gf_pki_creds_load(const char *key_file, const char *crt_file, const char *ca_file,
                            gnutls_certificate_credentials_t *out)
{
    gnutls_certificate_credentials_t c;
    int rc = gnutls_certificate_allocate_credentials(&c);
    if (rc < 0) return pki_tls_err(rc, "TLS credentials");
    rc = gnutls_certificate_set_x509_trust_file(c, ca_file, GNUTLS_X509_FMT_PEM);
    if (rc <= 0) {
        gnutls_certificate_free_credentials(c);
        return gf_errorf(GF_ERR_FORMAT, "%s: no CA certificate loaded%s%s", ca_file, rc < 0 ? ": " : "",
                         rc < 0 ? gnutls_strerror(rc) : "");
    }
    if (key_file && crt_file &&
        (rc = gnutls_certificate_set_x509_key_file(c, crt_file, key_file, GNUTLS_X509_FMT_PEM)) < 0) {
        gnutls_certificate_free_credentials(c);
        return gf_errorf(GF_ERR_FORMAT, "%s + %s: %s", crt_file, key_file, gnutls_strerror(rc));
    }
    *out = c;
    return GF_OK;
}

static gnutls_typed_vdata_st want_client[] = {
    {GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0},
};

gf_status gf_pki_session_setup(gnutls_session_t s, gnutls_certificate_credentials_t creds, const char *host)
{
    const char *where;
    int rc = gnutls_priority_set_direct(s, GF_PKI_PRIORITY, &where);
    if (rc < 0) return pki_tls_err(rc, "TLS priority " GF_PKI_PRIORITY);
    if ((rc = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, creds)) < 0) return pki_tls_err(rc, "TLS credentials");
    if (!host) {
        gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
        gnutls_session_set_verify_cert2(s, want_client, 1, 0);
        return GF_OK;
    }
    unsigned char ip[16];
    if (inet_pton(AF_INET, host, ip) != 1 && inet_pton(AF_INET6, host, ip) != 1 &&
        (rc = gnutls_server_name_set(s, GNUTLS_NAME_DNS, host, strlen(host))) < 0)
        return pki_tls_err(rc, host);
    gnutls_session_set_verify_cert(s, host, 0);
    return GF_OK;
}

/* The peer's first certificate, parsed. */
static gf_status peer_crt(gnutls_session_t s, gnutls_x509_crt_t *out)
{
    unsigned n = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
    if (!certs || n == 0) return gf_errorf(GF_ERR_MISMATCH, "the peer sent no certificate");
    int rc = gnutls_x509_crt_init(out);
    if (rc < 0) return pki_tls_err(rc, "peer certificate");
    if ((rc = gnutls_x509_crt_import(*out, &certs[0], GNUTLS_X509_FMT_DER)) < 0) {
        gnutls_x509_crt_deinit(*out);
        return gf_errorf(GF_ERR_MISMATCH, "peer certificate: %s", gnutls_strerror(rc));
    }
    return GF_OK;
}

gf_status gf_pki_peer_expiry(gnutls_session_t s, time_t *not_after)
{
    gnutls_x509_crt_t crt;
    gf_status st = peer_crt(s, &crt);
    if (st) return st;
    *not_after = gnutls_x509_crt_get_expiration_time(crt);
    gnutls_x509_crt_deinit(crt);
    return *not_after == (time_t)-1 ? gf_errorf(GF_ERR_MISMATCH, "peer certificate has no expiry time") : GF_OK;
}

gf_status gf_pki_peer_name(gnutls_session_t s, char *name, size_t size)
{
    gnutls_x509_crt_t crt;
    gf_status st = peer_crt(s, &crt);
    if (st) return st;
    char cn[GF_PKI_NAME_MAX + 2];
    size_t len = sizeof cn;
    int rc = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &len);
    gnutls_x509_crt_deinit(crt);
    if (rc < 0) return gf_errorf(GF_ERR_MISMATCH, "peer certificate has no usable common name: %s", gnutls_strerror(rc));
    int coord = !strcmp(cn, GF_PKI_COORDINATOR);
    if (!coord && strcmp(cn, GF_PKI_OPERATOR) && gf_pki_check_name(cn))
        return gf_errorf(GF_ERR_MISMATCH, "peer certificate's common name is not a site name: %s", gf_last_error());
    gnutls_typed_vdata_st vd = {GNUTLS_DT_KEY_PURPOSE_OID,
                                (unsigned char *)(coord ? GNUTLS_KP_TLS_WWW_SERVER : GNUTLS_KP_TLS_WWW_CLIENT), 0};
    unsigned status = 0;
    rc = gnutls_certificate_verify_peers(s, &vd, 1, &status);
    if (rc < 0) return gf_errorf(GF_ERR_MISMATCH, "peer \"%s\": cannot verify: %s", cn, gnutls_strerror(rc));
    if (status) {
        gnutls_datum_t msg = {0};
        int ok = gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &msg, 0) >= 0;
        st = gf_errorf(GF_ERR_MISMATCH, "peer \"%s\" is not trusted: %s", cn, ok ? (char *)msg.data : "verification failed");
        gnutls_free(msg.data);
        return st;
    }
    if (strlen(cn) >= size) return gf_errorf(GF_ERR_ARG, "peer name \"%s\" does not fit in %zu bytes", cn, size);
    memcpy(name, cn, strlen(cn) + 1);
    return GF_OK;
}

/* ---- revocation ------------------------------------------------------------ */

struct gf_pki_crl {
    char             *file;
    char             *floor_file; /* where the highest crlNumber in force is kept, or NULL */
    gnutls_x509_crt_t ca;
    gnutls_x509_crl_t crl;
    struct stat       seen;      /* identity of the file last loaded */
    uint64_t          number;    /* its crlNumber: a later file must not go back */
    uint64_t          generation;   /* loads so far (gf_pki_crl_generation) */
};

/* The CRL's crlNumber (RFC 5280 5.2.3; gf provision writes one), as an
 * integer of at most 8 bytes. */
static gf_status crl_number(const char *file, gnutls_x509_crl_t crl, uint64_t *out)
{
    unsigned char b[20];
    size_t n = sizeof b;
    unsigned crit = 0;
    if (gnutls_x509_crl_get_number(crl, b, &n, &crit) < 0 || n == 0 || n > 8)
        return gf_errorf(GF_ERR_FORMAT, "%s: no usable CRL number (gf provision writes one)", file);
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v = v << 8 | b[i];
    *out = v;
    return GF_OK;
}

/* Reads and verifies the CRL file; `seen` gets the identity of what was read. */
static gf_status crl_read(const char *file, gnutls_x509_crt_t ca, gnutls_x509_crl_t *out, struct stat *seen,
                          uint64_t *number)
{
    gnutls_datum_t d;
    gf_status st = pki_read_file_id(file, &d, seen);
    if (st) return st;
    gnutls_x509_crl_t crl;
    unsigned status = 0;
    int rc = gnutls_x509_crl_init(&crl);
    if (rc < 0) { free(d.data); return pki_tls_err(rc, file); }
    rc = gnutls_x509_crl_import(crl, &d, GNUTLS_X509_FMT_PEM);
    free(d.data);
    if (rc >= 0) rc = gnutls_x509_crl_verify(crl, &ca, 1, 0, &status);
    if (rc < 0 || status) {
        gnutls_x509_crl_deinit(crl);
        return gf_errorf(GF_ERR_FORMAT, "%s: %s", file, rc < 0 ? gnutls_strerror(rc) : "not signed by the CA");
    }
    time_t next = gnutls_x509_crl_get_next_update(crl);
    st = GF_OK;
    if (next != (time_t)-1 && next < time(NULL))       /* a stale list may miss later revocations */
        st = gf_errorf(GF_ERR_FORMAT, "%s: out of date (its nextUpdate has passed): re-sign it with gf provision", file);
    if (!st) st = crl_number(file, crl, number);
    if (st) { gnutls_x509_crl_deinit(crl); return st; }
    *out = crl;
    return GF_OK;
}

/* The crlNumber last in force, from the floor file (0 when there is none yet). */
static gf_status crl_floor_read(const char *floor_file, uint64_t *out)
{
    *out = 0;
    if (!floor_file) return GF_OK;
    FILE *f = fopen(floor_file, "r");
    if (!f) return errno == ENOENT ? GF_OK : gf_errorf(GF_ERR_IO, "cannot read %s: %s", floor_file, strerror(errno));
    char line[32] = "";
    char *end = NULL;
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    unsigned long long v = ok ? strtoull(line, &end, 10) : 0;
    if (!ok || end == line || (*end != '\n' && *end != 0) || line[0] == '-')
        return gf_errorf(GF_ERR_FORMAT, "%s: not a CRL number (remove it only if the CRL in force is the newest)", floor_file);
    *out = v;
    return GF_OK;
}

/* Records `number` as the floor, atomically, when it is above the old one. */
static gf_status crl_floor_write(const char *floor_file, uint64_t number, uint64_t old)
{
    if (!floor_file || number <= old) return GF_OK;
    char text[32];
    int n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)number);
    return gf_fs_write_atomic(floor_file, &(gf_fs_part){ text, (size_t)n }, 1, 0600);
}

gf_status gf_pki_crl_load(const char *crl_file, const char *ca_file, const char *floor_file, gf_pki_crl **out)
{
    gf_pki_crl *c = calloc(1, sizeof *c);
    if (!c || !(c->file = strdup(crl_file)) || (floor_file && !(c->floor_file = strdup(floor_file)))) {
        if (c) free(c->file);
        free(c);
        return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", crl_file);
    }
    uint64_t floor = 0;
    gf_status st = pki_load_crt(ca_file, &c->ca, NULL);
    if (!st) st = crl_read(crl_file, c->ca, &c->crl, &c->seen, &c->number);
    if (!st) st = crl_floor_read(floor_file, &floor);
    if (!st && c->number < floor)   /* an older list copied back while the coordinator was down */
        st = gf_errorf(GF_ERR_MISMATCH, "%s: CRL number %llu is older than the %llu last in force (%s)", crl_file,
                       (unsigned long long)c->number, (unsigned long long)floor, floor_file);
    if (!st) st = crl_floor_write(floor_file, c->number, floor);
    if (st) { gf_pki_crl_free(c); return st; }
    *out = c;
    return GF_OK;
}

gf_status gf_pki_crl_refresh(gf_pki_crl *c)
{
    struct stat sb;
    if (stat(c->file, &sb) != 0) return gf_errorf(GF_ERR_IO, "cannot stat %s: %s", c->file, strerror(errno));
    if (sb.st_ino == c->seen.st_ino && sb.st_dev == c->seen.st_dev && sb.st_size == c->seen.st_size &&
        sb.st_mtim.tv_sec == c->seen.st_mtim.tv_sec && sb.st_mtim.tv_nsec == c->seen.st_mtim.tv_nsec)
        return GF_OK;
    gnutls_x509_crl_t crl;
    struct stat seen;
    uint64_t number = 0;
    gf_status st = crl_read(c->file, c->ca, &crl, &seen, &number);
    if (st) return st;
    if (number < c->number) {   /* an older list copied back would un-revoke sites */
        gnutls_x509_crl_deinit(crl);
        return gf_errorf(GF_ERR_MISMATCH, "%s: CRL number %llu is older than the %llu in force; kept the newer one",
                         c->file, (unsigned long long)number, (unsigned long long)c->number);
    }
    gnutls_x509_crl_deinit(c->crl);
    c->crl = crl;
    c->seen = seen;
    c->generation++;
    const uint64_t old = c->number;
    c->number = number;
    return crl_floor_write(c->floor_file, number, old);   /* the new list stays in force either way */
}

uint64_t gf_pki_crl_generation(const gf_pki_crl *c) { return c->generation; }

gf_status gf_pki_crl_check_crt(const gf_pki_crl *c, gnutls_x509_crt_t crt)
{
    int rc = gnutls_x509_crt_check_revocation(crt, (gnutls_x509_crl_t *)&c->crl, 1);
    if (rc == 0) return GF_OK;
    char cn[GF_PKI_NAME_MAX + 2] = "?";
    unsigned char serial[40];
    size_t len = sizeof cn, slen = sizeof serial;
    char hex[2 * sizeof serial + 1] = "?";
    gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &len);
    if (gnutls_x509_crt_get_serial(crt, serial, &slen) >= 0)
        for (size_t i = 0; i < slen; i++) snprintf(hex + 2 * i, 3, "%02x", serial[i]);
    if (rc < 0) return gf_errorf(GF_ERR_FORMAT, "checking \"%s\" against %s: %s", cn, c->file, gnutls_strerror(rc));
    return gf_errorf(GF_ERR_MISMATCH, "certificate of \"%s\" (serial %s) is revoked", cn, hex);
}

gf_status gf_pki_crl_check(const gf_pki_crl *c, gnutls_session_t s)
{
    gnutls_x509_crt_t crt;
    gf_status st = peer_crt(s, &crt);
    if (st) return st;
    st = gf_pki_crl_check_crt(c, crt);
    gnutls_x509_crt_deinit(crt);
    return st;
}

void gf_pki_crl_free(gf_pki_crl *c)
{
    if (!c) return;
    if (c->crl) gnutls_x509_crl_deinit(c->crl);
    if (c->ca) gnutls_x509_crt_deinit(c->ca);
    free(c->file);
    free(c->floor_file);
    free(c);
}
