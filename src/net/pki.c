/* TLS identities: owns the provisioning folder (CA, coordinator certificate,
 * site kits, CRL, ca/state.json), its atomic writes, and the certificate and
 * CRL profiles (all through GnuTLS). The session, peer-name and revocation
 * helpers are in pki_tls.c. See pki.h for the layout and the guarantees. */
#include "net/pki.h"
#include "net/pki_internal.h"
#include "core/fsutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gnutls/crypto.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define YEAR_S        (365LL * 24 * 3600)
#define CA_YEARS      10
#define LEAF_YEARS    2
#define CRL_YEARS     2          /* nextUpdate; informational, see pki.h */
#define SKEW_S        3600       /* validity starts this long before now */
#define MAX_FILE      (1 << 20)  /* PEM/JSON files we read are far smaller */
#define STATE_FORMAT  "gf-pki-1"
#define SERIAL_CA     1
#define SERIAL_COORD  2

typedef char gf_path[PATH_MAX];

gf_status pki_tls_err(int rc, const char *what)
{
    return gf_errorf(rc == GNUTLS_E_MEMORY_ERROR ? GF_ERR_NOMEM : GF_ERR_FORMAT,
                     "%s: %s", what, gnutls_strerror(rc));
}

/* out = a "/" b (b may be NULL); GF_ERR_ARG if it does not fit. */
static gf_status path_join(gf_path out, const char *a, const char *b)
{
    int n = b ? snprintf(out, sizeof(gf_path), "%s/%s", a, b) : snprintf(out, sizeof(gf_path), "%s", a);
    if (n < 0 || n >= (int)sizeof(gf_path)) return gf_errorf(GF_ERR_ARG, "path too long: %s/%s", a, b ? b : "");
    return GF_OK;
}

/* ---- files --------------------------------------------------------------- */

static gf_status make_dir(const char *path)
{
    if (mkdir(path, 0700) != 0) return gf_errorf(GF_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    return gf_fs_sync_parent(path);
}

/* Writes path atomically with `mode` (see core/fsutil.h). */
static gf_status write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    gf_fs_part part = { data, len };
    return gf_fs_write_atomic(path, &part, 1, mode);
}

/* Reads a whole (small) file into a malloc'ed datum; *id (if given) gets
 * the identity of the file read. */
gf_status pki_read_file_id(const char *path, gnutls_datum_t *out, struct stat *id)
{
    out->data = NULL;
    out->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return gf_errorf(GF_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > MAX_FILE) {
        close(fd);
        return gf_errorf(GF_ERR_FORMAT, "%s: not a regular file of at most %d bytes", path, MAX_FILE);
    }
    unsigned char *buf = malloc((size_t)sb.st_size + 1);
    if (!buf) { close(fd); return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", path); }
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got != (size_t)sb.st_size) { free(buf); return gf_errorf(GF_ERR_IO, "cannot read %s", path); }
    buf[got] = 0;
    out->data = buf;
    out->size = (unsigned)got;
    if (id) *id = sb;
    return GF_OK;
}

static gf_status read_file(const char *path, gnutls_datum_t *out)
{
    return pki_read_file_id(path, out, NULL);
}

static int rm_one(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb; (void)type; (void)ftw;
    remove(p);
    return 0;
}

/* Removes a temporary tree this file created (never follows links). */
static void rm_tree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- names and addresses ------------------------------------------------- */

gf_status gf_pki_check_name(const char *name)
{
    if (!name || !*name) return gf_errorf(GF_ERR_ARG, "site name is empty");
    size_t n = strlen(name);
    if (n > GF_PKI_NAME_MAX)
        return gf_errorf(GF_ERR_ARG, "site name \"%.20s...\" is %zu characters long (at most %d)",
                         name, n, GF_PKI_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return gf_errorf(GF_ERR_ARG, "site name \"%s\" has character '%c' at %zu: "
                             "use lowercase letters, digits and '-'", name, c, i + 1);
    }
    if (!strcmp(name, GF_PKI_COORDINATOR) || !strcmp(name, GF_PKI_OPERATOR))
        return gf_errorf(GF_ERR_ARG, "site name \"%s\" is reserved", name);
    return GF_OK;
}

typedef struct {
    char          host[256];      /* lowercase DNS name or IP text */
    int           port;
    unsigned char ip[16];
    size_t        iplen;          /* 0 for a DNS name */
    char          url[300];
} coord_addr;

static int dns_name_ok(const char *h)
{
    size_t n = strlen(h), label = 0;
    if (n == 0 || n > 253) return 0;
    for (size_t i = 0; i <= n; i++) {
        char c = h[i];
        if (c == '.' || c == 0) {
            if (label == 0 || label > 63 || h[i - 1] == '-') return 0;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && label > 0)) {
            label++;
        } else {
            return 0;
        }
    }
    return 1;
}

static gf_status parse_coordinator(const char *s, coord_addr *a)
{
    memset(a, 0, sizeof *a);
    a->port = GF_PKI_DEFAULT_PORT;
    if (!s || !*s) return gf_errorf(GF_ERR_ARG, "coordinator address is empty");
    const char *host = s, *port = NULL;
    size_t hl;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || (end[1] && end[1] != ':'))
            return gf_errorf(GF_ERR_ARG, "coordinator address \"%s\": expected [IPV6] or [IPV6]:PORT", s);
        host = s + 1;
        hl = (size_t)(end - host);
        if (end[1]) port = end + 2;
    } else {
        const char *c = strchr(s, ':');
        if (c && !strchr(c + 1, ':')) { hl = (size_t)(c - s); port = c + 1; }
        else hl = strlen(s);               /* no colon, or a bare IPv6 address */
    }
    if (hl == 0 || hl >= sizeof a->host)
        return gf_errorf(GF_ERR_ARG, "coordinator address \"%s\": bad host", s);
    for (size_t i = 0; i < hl; i++) {
        char c = host[i];
        a->host[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    if (port) {
        char *end;
        errno = 0;
        long p = strtol(port, &end, 10);
        if (!*port || *end || errno || p < 1 || p > 65535 || *port == '+' || *port == '-')
            return gf_errorf(GF_ERR_ARG, "coordinator address \"%s\": port \"%s\" is not 1..65535", s, port);
        a->port = (int)p;
    }
    int v6 = 0;
    if (inet_pton(AF_INET, a->host, a->ip) == 1) a->iplen = 4;
    else if (inet_pton(AF_INET6, a->host, a->ip) == 1) { a->iplen = 16; v6 = 1; }
    else if (s[0] == '[' || !dns_name_ok(a->host))
        return gf_errorf(GF_ERR_ARG, "coordinator address \"%s\": \"%s\" is neither a DNS name nor an "
                         "IP address", s, a->host);
    snprintf(a->url, sizeof a->url, "https://%s%s%s:%d/", v6 ? "[" : "", a->host, v6 ? "]" : "", a->port);
    return GF_OK;
}

/* A site named like a single-label coordinator host could match the host
 * name through its common name: refuse it. */
static gf_status check_site(const char *name, const char *host)
{
    gf_status st = gf_pki_check_name(name);
    if (st) return st;
    if (!strcmp(name, host))
        return gf_errorf(GF_ERR_ARG, "site name \"%s\" is the coordinator's host name", name);
    return GF_OK;
}

/* ---- keys, certificates, CRLs -------------------------------------------- */

/* Big-endian, minimal, positive DER integer bytes of v; returns the length. */
static size_t be_bytes(unsigned long long v, unsigned char out[9])
{
    unsigned char tmp[8];
    size_t n = 0;
    do { tmp[n++] = (unsigned char)(v & 0xff); v >>= 8; } while (v);
    size_t k = 0;
    if (tmp[n - 1] & 0x80) out[k++] = 0;
    while (n) out[k++] = tmp[--n];
    return k;
}

static gf_status key_new(gnutls_x509_privkey_t *key)
{
    int rc = gnutls_x509_privkey_init(key);
    if (rc < 0) return pki_tls_err(rc, "private key");
    rc = gnutls_x509_privkey_generate(*key, GNUTLS_PK_ECDSA,
                                      GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
    if (rc < 0) {
        gnutls_x509_privkey_deinit(*key);
        *key = NULL;
        return pki_tls_err(rc, "generating an ECDSA P-256 key");
    }
    return GF_OK;
}

typedef struct {
    const char          *cn;
    int                  ca;
    unsigned             usage;     /* GNUTLS_KEY_* */
    const char          *purpose;   /* extended key usage OID, or NULL */
    const coord_addr    *san;       /* subjectAltName, or NULL */
    unsigned long long   serial;
    int                  years;
} cert_spec;

/* Issues a certificate for `key`, signed by (issuer, ikey), or self-signed
 * when issuer is NULL. */
static gf_status cert_issue(const cert_spec *sp, gnutls_x509_privkey_t key, gnutls_x509_crt_t issuer,
                            gnutls_x509_privkey_t ikey, gnutls_x509_crt_t *out)
{
    gnutls_x509_crt_t c;
    int rc = gnutls_x509_crt_init(&c);
    if (rc < 0) return pki_tls_err(rc, "certificate");
    unsigned char serial[9], kid[64], akid[64];
    size_t slen = be_bytes(sp->serial, serial), klen = sizeof kid, alen = sizeof akid;
    unsigned crit;
    time_t now = time(NULL);
    const char *step = "version";
    if ((rc = gnutls_x509_crt_set_version(c, 3)) < 0) goto fail;
    step = "serial";
    if ((rc = gnutls_x509_crt_set_serial(c, serial, slen)) < 0) goto fail;
    step = "validity";
    if ((rc = gnutls_x509_crt_set_activation_time(c, now - SKEW_S)) < 0) goto fail;
    if ((rc = gnutls_x509_crt_set_expiration_time(c, now + sp->years * YEAR_S)) < 0) goto fail;
    step = "common name";
    if ((rc = gnutls_x509_crt_set_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0, sp->cn,
                                            (unsigned)strlen(sp->cn))) < 0) goto fail;
    step = "public key";
    if ((rc = gnutls_x509_crt_set_key(c, key)) < 0) goto fail;
    step = "basic constraints";
    if ((rc = gnutls_x509_crt_set_basic_constraints(c, sp->ca, sp->ca ? 0 : -1)) < 0) goto fail;
    step = "key usage";
    if ((rc = gnutls_x509_crt_set_key_usage(c, sp->usage)) < 0) goto fail;
    step = "extended key usage";
    if (sp->purpose && (rc = gnutls_x509_crt_set_key_purpose_oid(c, sp->purpose, 0)) < 0) goto fail;
    step = "subject alternative name";
    if (sp->san && sp->san->iplen &&
        (rc = gnutls_x509_crt_set_subject_alt_name(c, GNUTLS_SAN_IPADDRESS, sp->san->ip,
                                                   (unsigned)sp->san->iplen, GNUTLS_FSAN_SET)) < 0) goto fail;
    if (sp->san && !sp->san->iplen &&
        (rc = gnutls_x509_crt_set_subject_alt_name(c, GNUTLS_SAN_DNSNAME, sp->san->host,
                                                   (unsigned)strlen(sp->san->host), GNUTLS_FSAN_SET)) < 0) goto fail;
    step = "subject key id";
    if ((rc = gnutls_x509_crt_get_key_id(c, GNUTLS_KEYID_USE_SHA1, kid, &klen)) < 0) goto fail;
    if ((rc = gnutls_x509_crt_set_subject_key_id(c, kid, klen)) < 0) goto fail;
    step = "authority key id";
    if (issuer && (rc = gnutls_x509_crt_get_subject_key_id(issuer, akid, &alen, &crit)) < 0) goto fail;
    if ((rc = gnutls_x509_crt_set_authority_key_id(c, issuer ? akid : kid, issuer ? alen : klen)) < 0) goto fail;
    step = "signature";
    if ((rc = gnutls_x509_crt_sign2(c, issuer ? issuer : c, issuer ? ikey : key, GNUTLS_DIG_SHA256, 0)) < 0)
        goto fail;
    *out = c;
    return GF_OK;
fail:
    gnutls_x509_crt_deinit(c);
    return gf_errorf(rc == GNUTLS_E_MEMORY_ERROR ? GF_ERR_NOMEM : GF_ERR_FORMAT,
                     "certificate for \"%s\": %s: %s", sp->cn, step, gnutls_strerror(rc));
}

/* One revoked entry as kept in state.json. */
typedef struct { unsigned long long serial; long long time; } revoked_entry;

/* Signs a CRL listing `rev` and returns it as PEM (gnutls-allocated). */
static gf_status crl_make(gnutls_x509_crt_t ca, gnutls_x509_privkey_t cakey, const revoked_entry *rev,
                          int nrev, unsigned long long number, gnutls_datum_t *pem)
{
    gnutls_x509_crl_t crl;
    int rc = gnutls_x509_crl_init(&crl);
    if (rc < 0) return pki_tls_err(rc, "CRL");
    unsigned char b[9], akid[64];
    size_t alen = sizeof akid;
    unsigned crit;
    time_t now = time(NULL);
    if ((rc = gnutls_x509_crl_set_version(crl, 2)) < 0 ||
        (rc = gnutls_x509_crl_set_this_update(crl, now)) < 0 ||
        (rc = gnutls_x509_crl_set_next_update(crl, now + CRL_YEARS * YEAR_S)) < 0)
        goto fail;
    for (int i = 0; i < nrev; i++) {
        size_t n = be_bytes(rev[i].serial, b);
        if ((rc = gnutls_x509_crl_set_crt_serial(crl, b, n, (time_t)rev[i].time)) < 0) goto fail;
    }
    size_t n = be_bytes(number, b);
    if ((rc = gnutls_x509_crt_get_subject_key_id(ca, akid, &alen, &crit)) < 0 ||
        (rc = gnutls_x509_crl_set_authority_key_id(crl, akid, alen)) < 0 ||
        (rc = gnutls_x509_crl_set_number(crl, b, n)) < 0 ||
        (rc = gnutls_x509_crl_sign2(crl, ca, cakey, GNUTLS_DIG_SHA256, 0)) < 0 ||
        (rc = gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_PEM, pem)) < 0)
        goto fail;
    gnutls_x509_crl_deinit(crl);
    return GF_OK;
fail:
    gnutls_x509_crl_deinit(crl);
    return pki_tls_err(rc, "signing the CRL");
}

/* Writes the PEM of a key (PKCS#8, 0600) or certificate (0644). */
static gf_status write_key(const char *path, gnutls_x509_privkey_t key)
{
    gnutls_datum_t d = {0};
    int rc = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &d);
    if (rc < 0) return pki_tls_err(rc, path);
    gf_status st = write_atomic(path, d.data, d.size, 0600);
    gnutls_memset(d.data, 0, d.size);
    gnutls_free(d.data);
    return st;
}

static gf_status write_crt(const char *path, gnutls_x509_crt_t crt)
{
    gnutls_datum_t d = {0};
    int rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d);
    if (rc < 0) return pki_tls_err(rc, path);
    gf_status st = write_atomic(path, d.data, d.size, 0644);
    gnutls_free(d.data);
    return st;
}

/* In folder `dir`: KEYNAME, CRTNAME for a new key certified as `sp`. */
static gf_status issue_into(const char *dir, const char *keyname, const char *crtname, const cert_spec *sp,
                            gnutls_x509_crt_t ca, gnutls_x509_privkey_t cakey)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gf_path p;
    gf_status st = key_new(&key);
    if (!st) st = cert_issue(sp, key, ca, cakey, &crt);
    if (!st) st = path_join(p, dir, keyname);
    if (!st) st = write_key(p, key);
    if (!st) st = path_join(p, dir, crtname);
    if (!st) st = write_crt(p, crt);
    if (crt) gnutls_x509_crt_deinit(crt);
    if (key) gnutls_x509_privkey_deinit(key);
    return st;
}

/* A site kit in folder `kit` (which exists). */
static gf_status kit_write(const char *kit, const char *name, unsigned long long serial, const char *url,
                           const gnutls_datum_t *ca_pem, gnutls_x509_crt_t ca, gnutls_x509_privkey_t cakey,
                           const uint8_t *sign_sk /* the CA's signing key, NULL: no signing key */)
{
    cert_spec sp = {name, 0, GNUTLS_KEY_DIGITAL_SIGNATURE, GNUTLS_KP_TLS_WWW_CLIENT, NULL, serial, LEAF_YEARS};
    gf_path p;
    char line[320];
    snprintf(line, sizeof line, "%s\n", url);
    gf_status st = issue_into(kit, GF_PKI_SITE_KEY, GF_PKI_SITE_CRT, &sp, ca, cakey);
    if (!st) st = path_join(p, kit, GF_PKI_SITE_CA);
    if (!st) st = write_atomic(p, ca_pem->data, ca_pem->size, 0644);
    if (!st) st = path_join(p, kit, GF_PKI_SITE_URL);
    if (!st) st = write_atomic(p, line, strlen(line), 0644);
    if (!st && sign_sk) st = pki_signing_kit_write(kit, name, sign_sk);
    return st;
}

/* ---- state.json ------------------------------------------------------------ */

static gf_status state_save(const char *dir, json_t *state)
{
    gf_path p;
    gf_status st = path_join(p, dir, GF_PKI_STATE);
    if (st) return st;
    char *s = json_dumps(state, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!s) return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", p);
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t) { free(s); return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", p); }
    t[n] = '\n';
    t[n + 1] = 0;
    st = write_atomic(p, t, n + 1, 0600);
    free(t);
    return st;
}

/* Loads and checks ca/state.json; the revoked list is copied into *rev
 * (malloc'ed) with its length in *nrev. */
static gf_status state_load(const char *dir, json_t **out, revoked_entry **rev, int *nrev)
{
    gf_path p;
    gf_status st = path_join(p, dir, GF_PKI_STATE);
    if (st) return st;
    struct stat sb;
    if (stat(p, &sb) != 0)
        return gf_errorf(GF_ERR_ARG, "%s is not provisioned (no %s: %s); run gf provision --out %s "
                         "--coordinator HOST first", dir, p, strerror(errno), dir);
    json_error_t je;
    json_t *s = json_load_file(p, 0, &je);
    if (!s) return gf_errorf(GF_ERR_FORMAT, "%s:%d: %s", p, je.line, je.text);
    const char *why = NULL;
    json_t *issued = json_object_get(s, "issued"), *revoked = json_object_get(s, "revoked");
    json_t *next = json_object_get(s, "next_serial"), *crln = json_object_get(s, "crl_number");
    json_t *coord = json_object_get(s, "coordinator");
    *rev = NULL;
    *nrev = 0;
    if (!json_is_string(json_object_get(s, "format")) ||
        strcmp(json_string_value(json_object_get(s, "format")), STATE_FORMAT))
        why = "format is not \"" STATE_FORMAT "\"";
    else if (!json_is_integer(next) || json_integer_value(next) < 3) why = "bad next_serial";
    else if (!json_is_integer(crln) || json_integer_value(crln) < 1) why = "bad crl_number";
    else if (!json_is_object(coord) || !json_is_string(json_object_get(coord, "host")) ||
             !json_is_string(json_object_get(coord, "url")))
        why = "bad coordinator";
    else if (!json_is_object(issued)) why = "issued is not an object";
    else if (!json_is_array(revoked)) why = "revoked is not an array";
    const char *k;
    json_t *v;
    if (!why) json_object_foreach(issued, k, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 2 || json_integer_value(v) >= json_integer_value(next))
            { why = "an issued serial is out of range"; break; }
    }
    size_t nr = why ? 0 : json_array_size(revoked);
    if (nr && !(*rev = malloc(nr * sizeof **rev))) { json_decref(s); return gf_errorf(GF_ERR_NOMEM, "%s: out of memory", p); }
    for (size_t i = 0; i < nr && !why; i++) {
        json_t *e = json_array_get(revoked, i);
        json_t *n = json_object_get(e, "name"), *sr = json_object_get(e, "serial"), *tm = json_object_get(e, "time");
        if (!json_is_string(n) || !json_is_integer(sr) || !json_is_integer(tm) ||
            !json_equal(json_object_get(issued, json_string_value(n)), sr))
            why = "a revoked entry does not match the issued list";
        else (*rev)[i] = (revoked_entry){(unsigned long long)json_integer_value(sr), (long long)json_integer_value(tm)};
    }
    if (why) {
        free(*rev);
        *rev = NULL;
        json_decref(s);
        return gf_errorf(GF_ERR_FORMAT, "%s: %s", p, why);
    }
    *nrev = (int)nr;
    *out = s;
    return GF_OK;
}

static int state_is_revoked(json_t *state, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(state, "revoked"), i, e)
        if (!strcmp(json_string_value(json_object_get(e, "name")), name)) return 1;
    return 0;
}

/* ---- loading the CA ------------------------------------------------------ */

gf_status pki_load_crt(const char *path, gnutls_x509_crt_t *out, gnutls_datum_t *pem_out)
{
    gnutls_datum_t d;
    gf_status st = read_file(path, &d);
    if (st) return st;
    int rc = gnutls_x509_crt_init(out);
    if (rc >= 0 && (rc = gnutls_x509_crt_import(*out, &d, GNUTLS_X509_FMT_PEM)) < 0) {
        gnutls_x509_crt_deinit(*out);
    }
    if (rc < 0) { free(d.data); *out = NULL; return pki_tls_err(rc, path); }
    if (pem_out) *pem_out = d;
    else free(d.data);
    return GF_OK;
}

typedef struct {
    gnutls_x509_crt_t     crt;
    gnutls_x509_privkey_t key;
    gnutls_datum_t        pem;    /* ca.crt as read, for the kits */
} ca_pair;

static void ca_free(ca_pair *ca)
{
    if (ca->crt) gnutls_x509_crt_deinit(ca->crt);
    if (ca->key) gnutls_x509_privkey_deinit(ca->key);
    free(ca->pem.data);
    memset(ca, 0, sizeof *ca);
}

static gf_status ca_load(const char *dir, ca_pair *ca)
{
    memset(ca, 0, sizeof *ca);
    gf_path p;
    gnutls_datum_t d;
    gf_status st = path_join(p, dir, GF_PKI_CA_CRT);
    if (!st) st = pki_load_crt(p, &ca->crt, &ca->pem);
    if (!st) st = path_join(p, dir, GF_PKI_CA_KEY);
    if (!st) st = read_file(p, &d);
    if (st) { ca_free(ca); return st; }
    int rc = gnutls_x509_privkey_init(&ca->key);
    if (rc >= 0) rc = gnutls_x509_privkey_import(ca->key, &d, GNUTLS_X509_FMT_PEM);
    gnutls_memset(d.data, 0, d.size);
    free(d.data);
    if (rc < 0) { st = pki_tls_err(rc, p); ca_free(ca); return st; }
    return GF_OK;
}

/* An exclusive lock on DIR/ca for the duration of add-site / revoke. */
static gf_status lock_ca(const char *dir, int *fd)
{
    gf_path p;
    gf_status st = path_join(p, dir, "ca");
    if (st) return st;
    *fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0)
        return gf_errorf(GF_ERR_ARG, "%s is not provisioned (cannot open %s: %s)", dir, p, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(*fd);
        *fd = -1;
        return gf_errorf(GF_ERR_IO, "cannot lock %s: %s", p,
                         e == EWOULDBLOCK ? "another gf provision is working on it" : strerror(e));
    }
    return GF_OK;
}

/* ---- gf_pki_create --------------------------------------------------------- */

/* DIR must not exist, or be an empty folder. */
static gf_status check_target(const char *dir)
{
    struct stat sb;
    if (lstat(dir, &sb) != 0) {
        if (errno == ENOENT) return GF_OK;
        return gf_errorf(GF_ERR_IO, "cannot inspect %s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode)) return gf_errorf(GF_ERR_ARG, "%s exists and is not a folder", dir);
    gf_path p;
    gf_status st = path_join(p, dir, "ca");
    if (st) return st;
    if (lstat(p, &sb) == 0) return gf_errorf(GF_ERR_ARG, "%s is already provisioned (it holds ca/)", dir);
    DIR *d = opendir(dir);
    if (!d) return gf_errorf(GF_ERR_IO, "cannot read %s: %s", dir, strerror(errno));
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) { empty = 0; break; }
    closedir(d);
    if (!empty) return gf_errorf(GF_ERR_ARG, "%s exists and is not empty; give a new or empty folder", dir);
    return GF_OK;
}

/* Everything of gf_pki_create inside the fresh folder `root`. */
static gf_status create_in(const char *root, const coord_addr *addr, const char *const *sites, int nsites)
{
    ca_pair ca = {0};
    gnutls_datum_t crl = {0};
    json_t *state = NULL;
    gf_path p, q;
    unsigned char rnd[8];
    char cn[64];
    gf_status st = GF_OK;
    int rc = gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof rnd);
    if (rc < 0) return pki_tls_err(rc, "random CA name");
    snprintf(cn, sizeof cn, "gf-ca-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
             rnd[4], rnd[5], rnd[6], rnd[7]);
    cert_spec cas = {cn, 1, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN, NULL, NULL, SERIAL_CA, CA_YEARS};
    cert_spec cos = {GF_PKI_COORDINATOR, 0, GNUTLS_KEY_DIGITAL_SIGNATURE, GNUTLS_KP_TLS_WWW_SERVER, addr,
                     SERIAL_COORD, LEAF_YEARS};

    const char *dirs[] = {"ca", "coordinator", "sites", "operator"};
    for (int i = 0; i < 4 && !st; i++)
        if (!(st = path_join(p, root, dirs[i]))) st = make_dir(p);
    if (!st) st = key_new(&ca.key);
    if (!st) st = cert_issue(&cas, ca.key, NULL, NULL, &ca.crt);
    if (!st && (rc = gnutls_x509_crt_export2(ca.crt, GNUTLS_X509_FMT_PEM, &ca.pem)) < 0) st = pki_tls_err(rc, "CA");
    if (!st && !(st = path_join(p, root, GF_PKI_CA_KEY))) st = write_key(p, ca.key);
    if (!st && !(st = path_join(p, root, GF_PKI_CA_CRT))) st = write_atomic(p, ca.pem.data, ca.pem.size, 0644);
    if (!st && !(st = path_join(p, root, GF_PKI_COORD_CA))) st = write_atomic(p, ca.pem.data, ca.pem.size, 0644);
    if (!st && !(st = path_join(p, root, "coordinator")))
        st = issue_into(p, "coordinator.key", "coordinator.crt", &cos, ca.crt, ca.key);
    uint8_t sign_sk[GF_PKI_SIGN_SK_BYTES];
    if (!st) st = pki_signing_ca_make(root);
    if (!st) st = pki_signing_ca_load(root, sign_sk);
    if (!st) st = crl_make(ca.crt, ca.key, NULL, 0, 1, &crl);
    if (!st && !(st = path_join(p, root, GF_PKI_CA_CRL))) st = write_atomic(p, crl.data, crl.size, 0644);
    if (!st && !(st = path_join(p, root, GF_PKI_COORD_CRL))) st = write_atomic(p, crl.data, crl.size, 0644);

    json_t *issued = json_object();
    state = json_pack("{s:s, s:{s:s, s:i, s:s}, s:i, s:i, s:o, s:[]}", "format", STATE_FORMAT,
                      "coordinator", "host", addr->host, "port", addr->port, "url", addr->url,
                      "next_serial", SERIAL_COORD + 2 + nsites, "crl_number", 1, "issued", issued,
                      "revoked");
    if (!st && (!issued || !state || json_object_set_new(issued, GF_PKI_COORDINATOR, json_integer(SERIAL_COORD))))
        st = gf_errorf(GF_ERR_NOMEM, "state.json: out of memory");
    for (int i = 0; i < nsites && !st; i++) {
        if (!(st = path_join(q, root, "sites")) && !(st = path_join(p, q, sites[i])) && !(st = make_dir(p)))
            st = kit_write(p, sites[i], SERIAL_COORD + 1 + (unsigned)i, addr->url, &ca.pem, ca.crt, ca.key, sign_sk);
        if (!st && json_object_set_new(issued, sites[i], json_integer(SERIAL_COORD + 1 + i)))
            st = gf_errorf(GF_ERR_NOMEM, "state.json: out of memory");
    }
    /* the operator's kit: the same files as a site's, CN "operator" */
    unsigned op_serial = SERIAL_COORD + 1 + (unsigned)nsites;
    if (!st && !(st = path_join(p, root, "operator")))
        st = kit_write(p, GF_PKI_OPERATOR, op_serial, addr->url, &ca.pem, ca.crt, ca.key, NULL);
    if (!st && json_object_set_new(issued, GF_PKI_OPERATOR, json_integer(op_serial)))
        st = gf_errorf(GF_ERR_NOMEM, "state.json: out of memory");
    if (!st) st = state_save(root, state);   /* last: its presence marks a complete CA */
    json_decref(state);                      /* json_pack took `issued`, even on failure */
    gnutls_memset(sign_sk, 0, sizeof sign_sk);
    gnutls_free(crl.data);
    if (ca.pem.data) { gnutls_free(ca.pem.data); ca.pem.data = NULL; }
    ca_free(&ca);
    return st;
}

gf_status gf_pki_create(const char *dir, const char *coordinator, const char *const *sites, int nsites)
{
    if (!dir || !*dir) return gf_errorf(GF_ERR_ARG, "provisioning folder is empty");
    if (nsites < 0 || (nsites > 0 && !sites)) return gf_errorf(GF_ERR_ARG, "bad site list");
    coord_addr addr;
    gf_status st = parse_coordinator(coordinator, &addr);
    if (st) return st;
    for (int i = 0; i < nsites; i++) {
        if ((st = check_site(sites[i], addr.host))) return st;
        for (int j = 0; j < i; j++)
            if (!strcmp(sites[i], sites[j])) return gf_errorf(GF_ERR_ARG, "site \"%s\" is listed twice", sites[i]);
    }
    gf_path target, tmp;
    if ((st = path_join(target, dir, NULL))) return st;
    size_t n = strlen(target);
    while (n > 1 && target[n - 1] == '/') target[--n] = 0;
    if ((st = check_target(target))) return st;
    int k = snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", target);
    if (k < 0 || k >= (int)sizeof tmp) return gf_errorf(GF_ERR_ARG, "path too long: %s", dir);
    if (!mkdtemp(tmp)) return gf_errorf(GF_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));

    st = create_in(tmp, &addr, sites, nsites);
    if (!st && rename(tmp, target) != 0)     /* replaces an empty folder, fails on anything else */
        st = gf_errorf(GF_ERR_IO, "cannot move %s to %s: %s", tmp, target, strerror(errno));
    if (st) { rm_tree(tmp); return st; }
    return gf_fs_sync_parent(target);
}

/* ---- gf_pki_add_site ------------------------------------------------------- */

static gf_status add_locked(const char *dir, const char *name)
{
    json_t *state = NULL;
    revoked_entry *rev = NULL;
    int nrev;
    gf_status st = state_load(dir, &state, &rev, &nrev);
    free(rev);
    if (st) return st;
    ca_pair ca = {0};
    gf_path sites, kit, tmp;
    const char *host = json_string_value(json_object_get(json_object_get(state, "coordinator"), "host"));
    const char *url = json_string_value(json_object_get(json_object_get(state, "coordinator"), "url"));
    json_t *issued = json_object_get(state, "issued"), *next = json_object_get(state, "next_serial");
    json_int_t serial = json_integer_value(next);
    struct stat sb;
    uint8_t sign_sk[GF_PKI_SIGN_SK_BYTES];
    int tmp_made = 0;
    if ((st = check_site(name, host))) goto done;
    if (json_object_get(issued, name)) {
        st = gf_errorf(GF_ERR_ARG, "site \"%s\" already exists in %s (serial %lld%s); names are never reused",
                       name, dir, (long long)json_integer_value(json_object_get(issued, name)),
                       state_is_revoked(state, name) ? ", revoked" : "");
        goto done;
    }
    if ((st = path_join(sites, dir, "sites")) || (st = path_join(kit, sites, name))) goto done;
    if (lstat(kit, &sb) == 0) {
        st = gf_errorf(GF_ERR_ARG, "%s exists but %s does not list it; move it away first", kit, GF_PKI_STATE);
        goto done;
    }
    int k = snprintf(tmp, sizeof tmp, "%s/.%s.tmp-XXXXXX", sites, name);
    if (k < 0 || k >= (int)sizeof tmp) { st = gf_errorf(GF_ERR_ARG, "path too long: %s", sites); goto done; }
    if (!mkdtemp(tmp)) { st = gf_errorf(GF_ERR_IO, "cannot create %s: %s", tmp, strerror(errno)); goto done; }
    tmp_made = 1;
    if ((st = ca_load(dir, &ca))) goto done;
    if ((st = pki_signing_ca_load(dir, sign_sk))) goto done;
    if ((st = kit_write(tmp, name, (unsigned long long)serial, url, &ca.pem, ca.crt, ca.key, sign_sk))) goto done;

    /* Record the serial first, then move the kit into place; undo the record if the move fails. */
    json_t *old = json_deep_copy(state);
    if (!old || json_object_set_new(issued, name, json_integer(serial)) ||
        json_integer_set(next, serial + 1)) {
        json_decref(old);
        st = gf_errorf(GF_ERR_NOMEM, "state.json: out of memory");
        goto done;
    }
    if (!(st = state_save(dir, state))) {
        if (rename(tmp, kit) != 0) {
            st = gf_errorf(GF_ERR_IO, "cannot move %s to %s: %s", tmp, kit, strerror(errno));
            state_save(dir, old);
        } else {
            tmp_made = 0;
            st = gf_fs_sync_dir(sites);
        }
    }
    json_decref(old);
done:
    gnutls_memset(sign_sk, 0, sizeof sign_sk);
    if (tmp_made) rm_tree(tmp);
    ca_free(&ca);
    json_decref(state);
    return st;
}

gf_status gf_pki_add_site(const char *dir, const char *name)
{
    if (!dir || !*dir) return gf_errorf(GF_ERR_ARG, "provisioning folder is empty");
    gf_status st = gf_pki_check_name(name);
    if (st) return st;
    int fd;
    if ((st = lock_ca(dir, &fd))) return st;
    st = add_locked(dir, name);
    close(fd);
    return st;
}

/* ---- gf_pki_revoke --------------------------------------------------------- */

static gf_status revoke_locked(const char *dir, const char *name)
{
    json_t *state = NULL;
    revoked_entry *rev = NULL, *all = NULL;
    int nrev = 0;
    gf_status st = state_load(dir, &state, &rev, &nrev);
    if (st) return st;
    ca_pair ca = {0};
    gnutls_datum_t crl = {0};
    gf_path p;
    json_t *serial = json_object_get(json_object_get(state, "issued"), name);
    json_t *crln = json_object_get(state, "crl_number");
    long long now = (long long)time(NULL);
    if (!serial) { st = gf_errorf(GF_ERR_ARG, "no site \"%s\" in %s", name, dir); goto done; }
    if (state_is_revoked(state, name)) { st = gf_errorf(GF_ERR_ARG, "site \"%s\" is already revoked", name); goto done; }
    if (!(all = malloc(((size_t)nrev + 1) * sizeof *all))) { st = gf_errorf(GF_ERR_NOMEM, "out of memory"); goto done; }
    if (nrev) memcpy(all, rev, (size_t)nrev * sizeof *all);
    all[nrev] = (revoked_entry){(unsigned long long)json_integer_value(serial), now};
    if ((st = ca_load(dir, &ca))) goto done;
    if ((st = crl_make(ca.crt, ca.key, all, nrev + 1, (unsigned long long)json_integer_value(crln) + 1, &crl)))
        goto done;
    /* The CRLs first: if we die before the state, a rerun revokes again. */
    if ((st = path_join(p, dir, GF_PKI_CA_CRL)) || (st = write_atomic(p, crl.data, crl.size, 0644))) goto done;
    if ((st = path_join(p, dir, GF_PKI_COORD_CRL)) || (st = write_atomic(p, crl.data, crl.size, 0644))) goto done;
    json_t *e = json_pack("{s:s, s:O, s:I}", "name", name, "serial", serial, "time", (json_int_t)now);
    if (!e || json_array_append_new(json_object_get(state, "revoked"), e) ||
        json_integer_set(crln, json_integer_value(crln) + 1)) {
        st = gf_errorf(GF_ERR_NOMEM, "state.json: out of memory");
        goto done;
    }
    st = state_save(dir, state);
done:
    gnutls_free(crl.data);
    ca_free(&ca);
    free(all);
    free(rev);
    json_decref(state);
    return st;
}

gf_status gf_pki_revoke(const char *dir, const char *name)
{
    if (!dir || !*dir) return gf_errorf(GF_ERR_ARG, "provisioning folder is empty");
    gf_status st = gf_pki_check_name(name);
    if (st) return st;
    int fd;
    if ((st = lock_ca(dir, &fd))) return st;
    st = revoke_locked(dir, name);
    close(fd);
    return st;
}

